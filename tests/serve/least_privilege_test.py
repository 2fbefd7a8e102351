#!/usr/bin/env python3
"""RELIABILITY X7, outside Docker: `recforge serve` as an unprivileged user
(uid 65534 through setpriv when the test runs as root, else the test's own
user) over a read-only checkpoint directory holding a crashed writer's
leftover.

Checks: the server runs under that uid and answers; the same identity gets
EACCES (or EROFS) creating a file in the directory and in a version,
renaming or deleting a version; the server never needed to write (the
leftover is still there, nothing changed in the directory); a version the
trainer (root) publishes into the read-only directory is picked up; without
--admin-token there is no reload endpoint, and with one a request without the
token gets 401 and a wrong one 403.

Usage: least_privilege_test.py RECFORGE   (exit 77: skipped)
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

from serving_fixture import publish_copy, request, train_tiny_als

NOBODY = 65534
TOKEN = "least-privilege-token-0123456789"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL", message)


def as_server_user(argv):
    return (["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + argv) if os.getuid() == 0 \
        else argv


def launch(recforge, ckpt, env=None):
    """`recforge serve` as the server user (setpriv execs it: the pid is the
    server's); returns (process, base URL or None), its output drained."""
    proc = subprocess.Popen(as_server_user([recforge, "serve", "--port", "0", "--model-dir", ckpt, "--poll-ms", "50"]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if " on http://" in line:
            threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True).start()
            return proc, line.split(" on ")[-1].split()[0]
    print("the server did not start:\n" + "".join(lines))
    return proc, None


def make_read_only(path):
    for root, dirs, files in os.walk(path):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        os.chmod(root, 0o555)


def snapshot(path):
    return sorted((os.path.relpath(os.path.join(r, n), path), os.lstat(os.path.join(r, n)).st_mtime_ns)
                  for r, ds, fs in os.walk(path) for n in ds + fs)


WRITE_PROBE = r"""
import errno, os, sys
ckpt, version = sys.argv[1], sys.argv[2]
attempts = [
    ("create a file in the directory", lambda: open(os.path.join(ckpt, "probe"), "w")),
    ("create a file in a version", lambda: open(os.path.join(version, "probe"), "w")),
    ("overwrite a version's checkpoint", lambda: open(os.path.join(version, "checkpoint.h5"), "r+b")),
    ("rename a version", lambda: os.rename(version, version + "-moved")),
    ("delete a version's manifest", lambda: os.unlink(os.path.join(version, "MANIFEST.json"))),
    ("create a directory", lambda: os.mkdir(os.path.join(ckpt, "step-0000009999"))),
]
for what, attempt in attempts:
    try:
        attempt()
        print(f"ALLOWED {what}")
    except OSError as e:
        print(f"{errno.errorcode.get(e.errno, e.errno)} {what}")
"""


def main():
    recforge = os.path.abspath(sys.argv[1])
    if os.getuid() == 0 and shutil.which("setpriv") is None:
        print("skip: running as root without setpriv to drop privileges")
        return 77
    work = tempfile.mkdtemp(prefix="recforge-x7-")
    os.chmod(work, 0o755)  # the unprivileged server must reach the directory
    server = None
    try:
        ckpt = train_tiny_als(recforge, work, 2, "checkpoint.keep_last=3")
        newest = sorted(v for v in os.listdir(ckpt) if v.startswith("step-"))[-1]
        os.makedirs(os.path.join(ckpt, ".tmp-crashed-writer"))  # what a killed trainer leaves
        make_read_only(ckpt)
        before = snapshot(ckpt)

        server, base = launch(recforge, ckpt)
        if base is None:
            return 1
        uid = next(int(l.split()[1]) for l in open(f"/proc/{server.pid}/status") if l.startswith("Uid:"))
        check(uid != 0, f"the server runs as uid {uid}")
        status, body = request(base, "/v1/health")
        check(status == 200 and newest in body, f"health as uid {uid}: {status} {body[:200]}")
        status, body = request(base, "/v1/recommend?user=1&k=3")
        check(status == 200, f"recommend: {status} {body[:200]}")

        probe = subprocess.run(as_server_user(["/usr/bin/python3", "-c", WRITE_PROBE, ckpt,
                                               os.path.join(ckpt, newest)]), capture_output=True, text=True)
        outcomes = probe.stdout.strip().splitlines()
        check(len(outcomes) == 6 and all(o.split()[0] in ("EACCES", "EROFS") for o in outcomes),
              f"as uid {uid}, writes to the checkpoint directory: {outcomes} {probe.stderr[-300:]}")

        # The trainer (this process) publishes; the read-only server reloads.
        os.chmod(ckpt, 0o755)
        published = publish_copy(ckpt, os.path.join(ckpt, newest), 999)
        make_read_only(published)
        os.chmod(ckpt, 0o555)
        deadline = time.time() + 10
        while time.time() < deadline and "step-0000000999" not in request(base, "/v1/health")[1]:
            time.sleep(0.05)
        check("step-0000000999" in request(base, "/v1/health")[1], "the read-only server did not load step 999")
        after = [e for e in snapshot(ckpt) if not e[0].startswith("step-0000000999")]
        check(after == before, "the server changed the checkpoint directory")
        check(os.path.isdir(os.path.join(ckpt, ".tmp-crashed-writer")), "the leftover was removed by the server")

        status, _ = request(base, "/v1/reload", "POST", "")
        check(status in (404, 405), f"reload without --admin-token configured: {status}")
        server.terminate()
        check(server.wait(timeout=10) == 0, "the server did not exit 0 on SIGTERM")
        server = None

        # With a token: 401 without it, 403 with a wrong one.
        server, base = launch(recforge, ckpt, dict(os.environ, RECFORGE_ADMIN_TOKEN=TOKEN))
        check(base is not None, "the server with a token did not start")
        if base:
            check(request(base, "/v1/reload", "POST", "")[0] == 401, "reload without the token")
            check(request(base, "/v1/reload", "POST", "", {"Authorization": "Bearer wrong"})[0] == 403,
                  "reload with a wrong token")
            status, body = request(base, "/v1/reload", "POST", "", {"Authorization": "Bearer " + TOKEN})
            check(status == 200, f"reload with the token: {status} {body[:200]}")
        print("as uid", uid, "; ".join(outcomes))
        print(f"RELIABILITY X7 trials=1 passed={int(not failures)} uid={uid} write_attempts={len(outcomes)}")
        return 1 if failures else 0
    finally:
        if server is not None:
            server.kill()
        for root, dirs, files in os.walk(work):
            os.chmod(root, stat.S_IRWXU)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
