#!/usr/bin/env python3
"""Write .deb files from the [package.metadata.deb] tables of workspace crates.

Reads the subset of cargo-deb's keys this project uses (name, maintainer, copyright, section,
priority, depends with `$auto`, extended-description, assets, conf-files, maintainer-scripts)
and refuses any other key, so a key cargo-deb would honour is never silently ignored here.
Asset sources under `target/release/` come from Cargo's target directory (or --target-dir);
other sources are relative to the crate. `$auto` becomes the packages owning the shared
libraries the ELF files link (readelf NEEDED -> ldd -> dpkg -S), at least at their installed
upstream version, all looked up in --root (a Kea release series' Debian root, default `/`).

A crate whose `depends` names `kea-dhcp4-server` is a Kea hook: a hook binary is bound to the
exact Kea release it was built against (Kea loads it only if its version() equals Kea's own
KEA_HOOKS_VERSION, and Kea's library sonames change with every release). Such a package needs
--kea-series SERIES (e.g. 2.6): it is named `<name>-<SERIES>` (Provides, Conflicts and
Replaces `<name>`: one of them at a time), its version says the Kea release
(`0.1.0-1+kea2.6.3`), and its `kea-dhcp4-server` entries become that release, the one
installed in --root: `kea-dhcp4-server (>= 2.6.3), kea-dhcp4-server (<< 2.6.4~)`.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

KNOWN_KEYS = {
    "name", "maintainer", "copyright", "section", "priority", "depends",
    "extended-description", "assets", "conf-files", "maintainer-scripts",
    "provides", "conflicts", "replaces",
}
KEA_SERVER = "kea-dhcp4-server"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


ROOT = "/"


def in_root(cmd):
    """cmd as run in ROOT (chroot there unless it is `/`)."""
    return cmd if ROOT == "/" else ["chroot", ROOT, *cmd]


def die(msg):
    print(f"debbuild: {msg}", file=sys.stderr)
    sys.exit(1)


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def resolved_libs(path):
    """soname -> path as the dynamic loader of ROOT resolves it for this file (ldd)."""
    libs = {}
    if ROOT == "/":
        out = run(["ldd", path])
    else:
        tmp = tempfile.mkdtemp(prefix="debbuild-", dir=os.path.join(ROOT, "tmp"))
        try:
            shutil.copyfile(path, os.path.join(tmp, "elf"))
            os.chmod(os.path.join(tmp, "elf"), 0o755)
            out = run(in_root(["ldd", os.path.join("/", os.path.relpath(tmp, ROOT), "elf")]))
        finally:
            shutil.rmtree(tmp)
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
        m = re.match(r"\s*(/\S+) \(0x", line)
        if m:  # the dynamic loader itself
            libs[os.path.basename(m.group(1))] = m.group(1)
    return libs


def owner_of(path):
    real = os.path.realpath(path)
    cands = [path, real]
    for p in list(cands):
        if p.startswith("/usr/"):
            cands.append(p[4:])
        else:
            cands.append("/usr" + p)
    for c in cands:
        r = subprocess.run(in_root(["dpkg-query", "-S", c]), capture_output=True, text=True)
        if r.returncode == 0:
            for line in r.stdout.splitlines():
                # "pkg[:arch][, pkg2]: path"; skip "diversion by PKG from/to: path".
                if not line.startswith("diversion "):
                    return line.split(":")[0].split(",")[0].strip()
    return None


def installed_upstream(pkg):
    """The upstream part of pkg's version installed in ROOT (no epoch, no Debian revision)."""
    r = subprocess.run(in_root(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg]),
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("install ok installed "):
        die(f"{pkg} is not installed in {ROOT}")
    ver = r.stdout.split()[-1]
    ver = ver.split(":", 1)[-1]
    return re.sub(r"-[^-]*$", "", ver) if "-" in ver else ver


def kea_release(series):
    """The Kea release installed in ROOT (e.g. 2.6.3), which must be of the given series."""
    upstream = installed_upstream(KEA_SERVER)
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", upstream)
    if not m:
        die(f"cannot read a Kea release from {KEA_SERVER} {upstream} in {ROOT}")
    if f"{m.group(1)}.{m.group(2)}" != series:
        die(f"{ROOT} has Kea {upstream}, not of the {series} series")
    return m.group(0), f"{m.group(1)}.{m.group(2)}.{int(m.group(3)) + 1}"


def auto_depends(elf_files, self_name):
    deps = {}
    for f in elf_files:
        libs = resolved_libs(f)
        dyn = run(["readelf", "-d", f])
        for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
            path = libs.get(soname)
            if not path:
                die(f"{f}: cannot resolve {soname} (ldd)")
            pkg = owner_of(path)
            if not pkg:
                die(f"{f}: no package owns {path}")
            if pkg == self_name:
                continue
            deps[pkg] = installed_upstream(pkg)
    return [f"{p} (>= {v})" for p, v in sorted(deps.items())]


def build(pkg, target_dir, out, arch, kea_series=None):
    meta = (pkg.get("metadata") or {}).get("deb")
    if not meta:
        die(f"{pkg['name']}: no [package.metadata.deb]")
    unknown = set(meta) - KNOWN_KEYS
    if unknown:
        die(f"{pkg['name']}: [package.metadata.deb] keys not supported here: {sorted(unknown)}")
    crate_dir = os.path.dirname(pkg["manifest_path"])
    base = meta.get("name", pkg["name"])
    name = base
    version = pkg["version"] + "-1"
    listed = [d.strip() for d in meta.get("depends", "").split(",") if d.strip()]
    relations = {k: [d.strip() for d in meta.get(k, "").split(",") if d.strip()]
                 for k in ("provides", "conflicts", "replaces")}
    is_hook = any(re.match(re.escape(KEA_SERVER) + r"(\s|\(|$)", d) for d in listed)
    if is_hook:
        if not kea_series:
            die(f"{base} depends on {KEA_SERVER}: say which Kea series it is for (--kea-series)")
        release, following = kea_release(kea_series)
        name = f"{base}-{kea_series}"
        version += f"+kea{release}"
        kea_deps = [f"{KEA_SERVER} (>= {release})", f"{KEA_SERVER} (<< {following}~)"]
        depends_in = []
        for d in listed:
            if re.match(re.escape(KEA_SERVER) + r"(\s|\(|$)", d):
                depends_in += [k for k in kea_deps if k not in depends_in]
            else:
                depends_in.append(d)
        listed = depends_in
        for k in ("provides", "conflicts", "replaces"):
            relations[k].append(base)
    elif kea_series:
        die(f"{base} is not a Kea hook package (no {KEA_SERVER} in depends): no --kea-series")
    targets = {t["name"].replace("-", "_") for t in pkg["targets"]}
    targets |= {t["name"] for t in pkg["targets"]}

    stage = os.path.join(out, ".stage", name)
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(os.path.join(stage, "DEBIAN"))
    elf = []
    for src, dest, mode in meta["assets"]:
        # The documentation directory is named after the package.
        dest = re.sub(r"^/?usr/share/doc/" + re.escape(base) + "/", f"usr/share/doc/{name}/", dest)
        if src.startswith("target/release/"):
            path = os.path.join(target_dir, src[len("target/release/"):])
            stem = os.path.basename(src)
            stem = re.sub(r"^lib(.*)\.so$", r"\1", stem)
            if not os.path.exists(path) and stem not in targets:
                # e.g. a binary the crate does not have yet: say so, leave it out.
                print(f"debbuild: {name}: skipping {src} ({stem} is not a target of "
                      f"{pkg['name']})", file=sys.stderr)
                continue
        else:
            path = os.path.normpath(os.path.join(crate_dir, src))
        if not os.path.isfile(path):
            die(f"{name}: asset {src} not found at {path} (build first)")
        dst = os.path.join(stage, dest.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(path, dst)
        if is_elf(dst):
            subprocess.run(["strip", "--strip-debug", dst], check=True)
            elf.append(dst)
        os.chmod(dst, int(mode, 8))
    doc = os.path.join(stage, "usr/share/doc", name)
    os.makedirs(doc, exist_ok=True)
    with open(os.path.join(doc, "copyright"), "w") as f:
        f.write("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                f"Upstream-Name: {name}\n\nFiles: *\n"
                f"Copyright: {meta.get('copyright', 'see upstream')}\n"
                f"License: {pkg.get('license') or 'see upstream'}\n")
    os.chmod(os.path.join(doc, "copyright"), 0o644)

    depends = []
    for d in listed:
        depends += auto_depends(elf, name) if d == "$auto" else [d]
    size_kb = 0
    md5 = []
    for root, _dirs, files in os.walk(stage):
        if os.path.relpath(root, stage).split(os.sep)[0] == "DEBIAN":
            continue
        for fn in sorted(files):
            p = os.path.join(root, fn)
            size_kb += (os.path.getsize(p) + 1023) // 1024
            with open(p, "rb") as f:
                md5.append(f"{hashlib.md5(f.read()).hexdigest()}  {os.path.relpath(p, stage)}")
    desc = pkg.get("description") or name
    long = meta.get("extended-description", "").strip()
    body = "".join(
        f" {line}\n" for line in textwrap.wrap(" ".join(long.split()), 76)) if long else ""
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
               f"Maintainer: {meta['maintainer']}\nInstalled-Size: {size_kb}\n"
               + (f"Depends: {', '.join(depends)}\n" if depends else "")
               + "".join(f"{k.capitalize()}: {', '.join(v)}\n"
                         for k, v in relations.items() if v)
               + f"Section: {meta.get('section', 'misc')}\n"
               f"Priority: {meta.get('priority', 'optional')}\n"
               + (f"Homepage: {pkg['homepage']}\n" if pkg.get("homepage") else "")
               + f"Description: {desc}\n{body}")
    dbn = os.path.join(stage, "DEBIAN")
    with open(os.path.join(dbn, "control"), "w") as f:
        f.write(control)
    with open(os.path.join(dbn, "md5sums"), "w") as f:
        f.write("\n".join(md5) + "\n")
    if meta.get("conf-files"):
        with open(os.path.join(dbn, "conffiles"), "w") as f:
            f.write("".join(c + "\n" for c in meta["conf-files"]))
    if meta.get("maintainer-scripts"):
        sdir = os.path.normpath(os.path.join(crate_dir, meta["maintainer-scripts"]))
        for s in ("preinst", "postinst", "prerm", "postrm"):
            if os.path.exists(os.path.join(sdir, s)):
                shutil.copyfile(os.path.join(sdir, s), os.path.join(dbn, s))
                os.chmod(os.path.join(dbn, s), 0o755)
    for root, dirs, _files in os.walk(stage):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    deb = os.path.join(out, f"{name}_{version}_{arch}.deb")
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, deb])
    shutil.rmtree(stage)
    return deb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="target/debian")
    ap.add_argument("--target-dir", help="where the built binaries are (default: Cargo's "
                    "target directory's release/)")
    ap.add_argument("--kea-series", help="the Kea release series a hook package is for (2.6)")
    ap.add_argument("--root", default="/", help="the root whose packages $auto and the Kea "
                    "release are read from (the series' Debian root; default /)")
    ap.add_argument("crates", nargs="+")
    a = ap.parse_args()
    global ROOT
    ROOT = os.path.abspath(a.root)
    md = json.loads(run(["cargo", "metadata", "--no-deps", "--format-version", "1"]))
    pkgs = {p["name"]: p for p in md["packages"]}
    arch = run(["dpkg", "--print-architecture"]).strip()
    os.makedirs(a.out, exist_ok=True)
    for c in a.crates:
        if c not in pkgs:
            die(f"no crate {c} in the workspace")
        target_dir = a.target_dir or os.path.join(md["target_directory"], "release")
        print(os.path.abspath(build(pkgs[c], target_dir, a.out, arch, a.kea_series)))


if __name__ == "__main__":
    main()
