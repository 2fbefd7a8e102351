"""What the serving tests share: a tiny trained checkpoint directory and
versions published into it the way the trainer publishes them."""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request


def sanitizer_of(binary):
    """'asan' or 'tsan' when `binary` carries a sanitizer runtime (linked in
    statically by clang, or as a library), else None."""
    with open(binary, "rb") as f:
        image = f.read()
    libraries = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return next((name for name in ("asan", "tsan") if f"__{name}_init".encode() in image or f"lib{name}" in libraries),
                None)


def train_tiny_als(recforge, work, epochs, *settings):
    """Trains configs/als_tiny.yaml into `work`; returns its checkpoint directory."""
    args = [recforge, "train", "configs/als_tiny.yaml", "--set", f"run.output_dir={work}",
            "--set", f"train.epochs={epochs}"]
    for setting in settings:
        args += ["--set", setting]
    train = subprocess.run(args, capture_output=True, text=True)
    if train.returncode != 0:
        sys.exit(f"training failed: {train.stderr[-800:]}")
    return os.path.join(work, "als_tiny", "checkpoints")


def publish_copy(ckpt, source, step, corrupt=False):
    """Publishes a copy of version directory `source` as step `step`: a
    temporary directory renamed into place, its manifest naming the step.
    With `corrupt`, four bytes in the middle of its checkpoint.h5 change (the
    manifest's hash no longer matches). Returns the version's path."""
    temp = os.path.join(ckpt, f".tmp-test-{step}")
    shutil.copytree(source, temp)
    if corrupt:
        with open(os.path.join(temp, "checkpoint.h5"), "r+b") as f:
            f.seek(os.path.getsize(f.name) // 2)
            f.write(b"\xde\xad\xbe\xef")
    manifest_path = os.path.join(temp, "MANIFEST.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    manifest["step"] = step
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    final = os.path.join(ckpt, f"step-{step:010d}")
    os.rename(temp, final)
    return final


def start_server(recforge, args, env=None):
    """Starts `recforge serve` on a free port; returns (process, base URL) or
    (None, output) when it exits before listening."""
    proc = subprocess.Popen([recforge, "serve", "--port", "0"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    while True:  # log lines come first; the address line says it listens
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            return None, "".join(lines)
        lines.append(line)
        match = re.search(r" on (http://[\d.]+:\d+)", line)
        if match:
            # Keep draining the server's output (a full pipe would block it); kept for sanitizer reports.
            proc.output = lines
            threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True).start()
            return proc, match.group(1)


def request(base, path, method="GET", body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
