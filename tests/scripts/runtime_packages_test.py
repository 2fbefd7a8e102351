#!/usr/bin/env python3
"""The runtime stage of a docker/Dockerfile.* installs every package the
built binaries load.

    runtime_packages_test.py [--cuda] <Dockerfile> <ELF file>...

Each shared library an ELF file names (DT_NEEDED) is mapped to the Debian
package that owns it (dpkg -S); that package must be in the stage's
`apt-get install` list, be pulled in by one there (Depends, Pre-Depends), or
be part of the base image (Priority: required). Libraries no package owns
(the build tree's, the CUDA toolkit's) are not checked that way; with --cuda
(Dockerfile.cuda), each CUDA library must come from the NVIDIA package that
carries it, listed in the stage. Skips (exit 77) unless this machine runs the
Debian release the Dockerfile's runtime stage starts from, since package
names differ between releases.
"""
import re
import subprocess
import sys


def stage_packages(dockerfile, stage="runtime"):
    """Packages `apt-get install` lists in the stage named `stage`."""
    text = open(dockerfile).read().replace("\\\n", " ")
    stages = re.split(r"(?m)^FROM\s+", text)
    body = next((s for s in stages if re.match(rf"\S+\s+AS\s+{stage}\b", s, re.I)), None)
    if body is None:
        sys.exit(f"{dockerfile}: no stage named {stage}")
    base = body.split()[0]
    packages = []
    # A stage built FROM an earlier stage: its base is that stage's.
    earlier = next((s for s in stages if re.match(rf"\S+\s+AS\s+{re.escape(base)}\b", s, re.I)), None)
    if earlier is not None:
        base, inherited = stage_packages(dockerfile, base)
        packages += inherited
    for command in re.findall(r"apt-get install ([^&;\n]*)", body):
        packages += [w.split("=", 1)[0] for w in command.split() if not w.startswith("-")]  # pkg=version: pkg
    return base, packages


def debian_release():
    fields = dict(line.rstrip("\n").split("=", 1) for line in open("/etc/os-release") if "=" in line)
    return fields.get("ID"), fields.get("VERSION_ID", "").strip('"')


def needed_libraries(elf):
    """{soname: path} of what `elf` names directly, resolved as the loader would."""
    dynamic = subprocess.run(["readelf", "-d", elf], capture_output=True, text=True, check=True).stdout
    names = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    resolved = {}
    for line in subprocess.run(["ldd", elf], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m and m.group(2) != "not":  # "=> not found": left unresolved
            resolved[m.group(1)] = m.group(2)
        elif m := re.match(r"\s*(/\S+) \(", line):  # the loader itself: a path, no arrow
            resolved[m.group(1).rsplit("/", 1)[1]] = m.group(1)
    return {n: resolved.get(n) for n in names}


def owner(path):
    """The package owning `path` (tried with and without /usr: usrmerge), or None."""
    candidates = [path]
    if path.startswith("/usr/"):
        candidates.append(path[len("/usr"):])
    else:
        candidates.append("/usr" + path)
    for candidate in candidates:
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":")[0].strip()
    return None


def installed(fields):
    out = subprocess.run(["dpkg-query", "-W", "-f", fields], capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def closure(roots):
    """Installed packages reachable from `roots` through Depends and Pre-Depends."""
    depends = {}
    for name, deps, pre in installed("${Package}\t${Depends}\t${Pre-Depends}\n"):
        alternatives = [a for d in f"{deps},{pre}".split(",") if d.strip() for a in d.split("|")]
        depends[name] = [re.sub(r"[:\s(].*", "", a.strip()) for a in alternatives]
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += depends.get(p, [])
    return seen


# NVIDIA's Debian 12 packages of the CUDA 13.0 libraries recforge links.
CUDA_PACKAGES = {
    "libcudart.so.13": "cuda-cudart-13-0",
    "libcublas.so.13": "libcublas-13-0",
    "libcublasLt.so.13": "libcublas-13-0",
    "libcusparse.so.12": "libcusparse-13-0",
    "libnccl.so.2": "libnccl2",
}


def main():
    args = sys.argv[1:]
    cuda = args[:1] == ["--cuda"]
    dockerfile, elves = (args[1], args[2:]) if cuda else (args[0], args[1:])
    base, packages = stage_packages(dockerfile)
    distro, version = debian_release()
    wanted = re.match(r"debian:(\d+)", base)
    if not wanted or distro != "debian" or version != wanted.group(1):
        print(f"skipped: {dockerfile}'s runtime stage is {base}; this machine runs {distro} {version}")
        return 77
    required = [name for name, priority in installed("${Package}\t${Priority}\n") if priority == "required"]
    available = closure(packages + required)
    missing = {}
    for elf in elves:
        for soname, path in needed_libraries(elf).items():
            if cuda and soname in CUDA_PACKAGES:
                if CUDA_PACKAGES[soname] not in packages:
                    missing.setdefault(CUDA_PACKAGES[soname], []).append(f"{soname} of {elf}")
                continue
            if path is None:
                missing.setdefault(f"(unresolved {soname})", []).append(elf)
                continue
            package = owner(path)
            if package is not None and package not in available:
                missing.setdefault(package, []).append(f"{soname} of {elf}")
    for package, users in sorted(missing.items()):
        print(f"FAIL: {dockerfile}'s runtime stage lacks {package} (for {', '.join(sorted(set(users)))})")
    if missing:
        return 1
    print(f"ok: {len(packages)} packages in {dockerfile}'s runtime stage cover every library of {len(elves)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
