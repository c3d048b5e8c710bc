# The README's two commands: `make demo` (the main job) and `make test`. Both install what
# they need first (scripts/setup.sh is idempotent).
CARGO ?= cargo

.PHONY: setup build demo test test-kea-series bench bench-hook bench-tftp bench-http bench-storm fmt clippy

# The Kea release series besides the host's (scripts/kea-series.sh): each runs from a Debian
# root (scripts/kea-root.sh, cached in /var/cache/cisco-tftp/kea-roots), with the hook built
# inside it (scripts/build-hook.sh). `make test KEA_TEST_SERIES=3.0` tests one.
KEA_TEST_SERIES ?= $(shell bash -c '. scripts/kea-series.sh && kea_root_series')

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
	$(MAKE) test-kea-series
	@if ls tests/deploy/test_*.py >/dev/null 2>&1; then .venv/bin/pytest -q tests/deploy; fi

# Every Kea-facing test (the tests crate: hook on the wire, sites, option 66, reloads, config
# errors, commands, statistics, end-to-end boots) again on each other series' real Kea.
test-kea-series: build
	@failed=""; for s in $(KEA_TEST_SERIES); do \
	  echo "== Kea $$s: building the hook in its root, then the tests crate against it"; \
	  ./scripts/build-hook.sh $$s >/dev/null && \
	  KEA_SERIES=$$s $(CARGO) test -p cisco-tftp-tests --no-fail-fast || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "tests failed on Kea$$failed"; exit 1; fi

# Benchmarks print ratios against the peers measured in the same run (not timed tests).
bench: bench-hook bench-tftp bench-http

# The hook's benchmark on every Kea release series (each against its peers on the same Kea, in
# the same run); `make bench-hook KEA_BENCH_SERIES=3.0` runs one.
KEA_BENCH_SERIES ?= $(shell bash -c '. scripts/kea-series.sh && kea_all_series')

bench-hook: setup
	@failed=""; for s in $(KEA_BENCH_SERIES); do \
	  echo "== Kea $$s"; \
	  ./kea-hook/bench/run.sh --series $$s --exchanges 2000 || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "bench-hook failed on Kea$$failed"; exit 1; fi

bench-tftp: setup
	./tftp-sidecar/bench/run.sh

# The sidecar's HTTP file listener against nginx serving the same directory (issue 10).
bench-http: setup
	./tftp-sidecar/bench/http_run.py

bench-storm: setup
	./scripts/bench-storm.sh

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets
