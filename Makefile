# The README's two commands: `make demo` (the main job) and `make test`. Both install what
# they need first (scripts/setup.sh is idempotent).
CARGO ?= cargo

.PHONY: setup build demo test bench bench-hook bench-tftp bench-storm fmt clippy

setup:
	./scripts/setup.sh

build: setup
	$(CARGO) build --workspace --bins
	$(CARGO) build -p kea-hook

demo: build
	./scripts/demo.sh

# The hook's integration tests load target/debug/libdhcp_cisco_tftp.so into a real Kea,
# so build it before running them.
test: build
	$(CARGO) test --workspace --no-fail-fast
	@if ls tests/deploy/test_*.py >/dev/null 2>&1; then .venv/bin/pytest -q tests/deploy; fi

# Benchmarks print ratios against the peers measured in the same run (not timed tests).
bench: bench-hook bench-tftp

bench-hook: setup
	./kea-hook/bench/run.sh --exchanges 2000

bench-tftp: setup
	./tftp-sidecar/bench/run.sh

bench-storm: setup
	./scripts/bench-storm.sh

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets
