"""The chart's two images, built with podman from packaging/docker/*.Dockerfile on a Debian base
made by debootstrap (no registry pull), and kept between runs.

- Base: `debootstrap --variant=minbase SUITE` (the suite that ships the Kea series), cached in
  /var/cache/cisco-tftp/podman-base/SUITE and imported as localhost/cisco-tftp-pods/debian:SUITE.
- Kea image: kea-dhcp4.Dockerfile on that base with the series' hook .deb (apt installs
  Debian's kea-dhcp4-server of that suite, inside the build, from Debian's mirror).
- Sidecar image: tftp-sidecar.Dockerfile with the same base as build stage and runtime (the
  distroless runtime is a registry image).
Each image carries a label with the hash of its inputs (Dockerfile, base image id, the files
inside the .deb): a run whose inputs hash the same reuses the image.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "packaging" / "docker"
BASE_CACHE = Path("/var/cache/cisco-tftp/podman-base")
MIRROR = "http://deb.debian.org/debian"
REPOSITORY = "localhost/cisco-tftp-pods"
LABEL = "cisco-tftp.inputs"
PODMAN = ["podman", "--runtime", "/usr/sbin/runc", "--cgroup-manager", "cgroupfs"]
# This machine's hard limits are below podman's defaults (shared/reference/deploy.md).
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
SUITE = {"2.2": "bookworm", "2.6": "trixie", "3.0": "sid"}


def podman(*args, check=True, timeout=900, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def _label(image: str) -> str | None:
    r = podman("image", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', image, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def _image_id(image: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def deb_content_hash(deb: Path) -> str:
    """The files a .deb installs (names, modes, contents), not its timestamps: an unchanged
    binary packed again hashes the same."""
    tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True,
                               check=True).stdout
    h = hashlib.sha256()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
        for m in sorted(t.getmembers(), key=lambda m: m.name):
            h.update(f"{m.name}\0{m.mode:o}\0{m.type!r}\0{m.linkname}\0".encode())
            if m.isfile():
                h.update(hashlib.sha256(t.extractfile(m).read()).digest())
    ctrl = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, check=True).stdout
    h.update(ctrl)
    return h.hexdigest()


def base_image(suite: str) -> str:
    """localhost/cisco-tftp-pods/debian:SUITE from a cached debootstrap root."""
    image = f"{REPOSITORY}/debian:{suite}"
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    root, stamp_file = BASE_CACHE / suite, BASE_CACHE / f"{suite}.stamp"
    want = hashlib.sha256(f"{suite} {MIRROR} minbase".encode()).hexdigest()
    with open(BASE_CACHE / f"{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root.is_dir() and stamp_file.exists() and stamp_file.read_text() == want):
            shutil.rmtree(root, ignore_errors=True)
            partial = BASE_CACHE / f"{suite}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            subprocess.run(["debootstrap", "--variant=minbase", suite, str(partial), MIRROR],
                           check=True, capture_output=True, timeout=1800)
            # A frozen mirror snapshot of sid can be past its Release file's Valid-Until date.
            (partial / "etc/apt/apt.conf.d/99no-check-valid-until").write_text(
                'Acquire::Check-Valid-Until "false";\n')
            shutil.rmtree(partial / "var/cache/apt/archives", ignore_errors=True)
            (partial / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
            partial.rename(root)
            stamp_file.write_text(want)
        if _label(image) != want:
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            subprocess.run([*PODMAN, "import", "-q",
                            "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "--change", f"LABEL {LABEL}={want}", "-", image],
                           stdin=tar.stdout, check=True, capture_output=True, timeout=600)
            tar.wait()
    return image


def _build(image: str, dockerfile: Path, deb: Path, build_args: dict[str, str]) -> tuple[str, bool]:
    """Builds `image` unless it exists with the same inputs; (image, whether it was built)."""
    h = hashlib.sha256()
    h.update(dockerfile.read_bytes())
    for k, v in sorted(build_args.items()):
        h.update(f"{k}={v}\0".encode())
        if k.endswith("BASE") or k == "RUNTIME":
            h.update(_image_id(v).encode())
    h.update(deb_content_hash(deb).encode())
    want = h.hexdigest()
    if _label(image) == want:
        return image, False
    with tempfile.TemporaryDirectory(prefix="cisco-tftp-pods-ctx-") as ctx:
        shutil.copy(deb, Path(ctx) / deb.name)
        args = [a for k, v in build_args.items() for a in ("--build-arg", f"{k}={v}")]
        podman("build", "-q", "--network", "host", *ULIMITS, *args, "--label", f"{LABEL}={want}",
               "-f", str(dockerfile), "-t", image, ctx, timeout=1800)
    return image, True


def kea_image(series: str, hook_deb: Path) -> tuple[str, bool]:
    base = base_image(SUITE[series])
    return _build(f"{REPOSITORY}/kea-dhcp4:0.1.0-kea{series}", DOCKER / "kea-dhcp4.Dockerfile",
                  hook_deb, {"BASE": base, "KEA_SERIES": series})


def sidecar_image(series: str, sidecar_deb: Path) -> tuple[str, bool]:
    base = base_image(SUITE[series])
    return _build(f"{REPOSITORY}/tftp-sidecar:0.1.0", DOCKER / "tftp-sidecar.Dockerfile", sidecar_deb,
                  {"BUILD_BASE": base, "RUNTIME": base, "SIDECAR_DEB": sidecar_deb.name})
