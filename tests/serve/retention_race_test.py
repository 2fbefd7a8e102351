#!/usr/bin/env python3
"""Retention deletes the version the server is loading (RELIABILITY S3), 20 targeted trials.

  retention_race_test.py <recforge binary>

The server runs with RF_FAULT=delay at a phase of the verified load, so each
load pauses there for 400 ms; the test waits for the pause (the server logs
it), deletes the version being loaded, and publishes a newer one. Ten trials
pause before the checkpoint's bytes are read (the load must fail cleanly:
the version is refused and the newer one served) and ten after (the load
completes from what it read: the deleted version is served, then the newer
one). Clients send requests throughout: none may fail, and the versions they
see never go backwards. Exits 77 when the binary has no fault injection.
"""
import json
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from serving_fixture import publish_copy, train_tiny_als

failures = []
DELAY_MS = 1500  # long enough for this script to see the pause and delete the version on a loaded machine


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def get_json(base, path):
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except OSError as e:
        return -1, {"error": str(e)}


def wait_for_line(lines, pattern, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.time()))
        except queue.Empty:
            break
        if re.search(pattern, line):
            return line
    return None


def run_phase(recforge, ckpt, source, phase, first_step, trials):
    env = dict(os.environ, RF_FAULT=f"delay:phase={phase}:ms={DELAY_MS}")
    server = subprocess.Popen([recforge, "serve", "--port", "0", "--model-dir", ckpt, "--poll-ms", "50"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = queue.Queue()
    log = []

    def drain():
        for line in server.stdout:
            log.append(line)
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    started = wait_for_line(lines, r" on (http://[\d.]+:\d+)", 20)
    if started is None:
        server.kill()
        sys.exit("the server did not start:\n" + "".join(log))
    if not any("RF_FAULT: injecting 'delay'" in line for line in log):
        server.kill()
        print("skipped: this recforge is built without fault injection (RECFORGE_FAULT_INJECTION)")
        sys.exit(77)
    base = re.search(r" on (http://[\d.]+:\d+)", started).group(1)

    stop = threading.Event()
    seen = []  # per client: (status, version)

    def client(seed):
        rng = random.Random(seed)
        mine = []
        seen.append(mine)
        while not stop.is_set():
            status, body = get_json(base, f"/v1/recommend?user={rng.randrange(1, 200)}&k=5")
            mine.append((status, body.get("version", "")))

    clients = [threading.Thread(target=client, args=(s,)) for s in range(3)]
    for t in clients:
        t.start()

    passed = 0
    step = first_step
    for trial in range(trials):
        while not lines.empty():  # the pause of the previous trial's newer version is not this one's
            lines.get_nowait()
        doomed = publish_copy(ckpt, source, step)
        paused = wait_for_line(lines, rf"RF_FAULT: injecting 'delay' .* phase {phase}", 5)
        shutil.rmtree(doomed)  # retention, while the server is inside the load
        newer = f"step-{step + 1:010d}"
        publish_copy(ckpt, source, step + 1)
        deadline = time.time() + 5
        while time.time() < deadline and get_json(base, "/v1/health")[1].get("version") != newer:
            time.sleep(0.02)
        reached = get_json(base, "/v1/health")[1].get("version") == newer
        text = "".join(log)
        # (A vanished file is not final: "could not load", tried again later.)
        refused = re.search(rf"(refused|could not load) checkpoint version step-{step:010d}", text) is not None
        served = f"/step-{step:010d} (step {step})" in text
        # Before the bytes are read, the file is gone: refused. After, the load
        # completes from memory: the deleted version is served for a moment.
        expected = (refused and not served) if phase == "load_before_data" else (served and not refused)
        ok = paused is not None and reached and expected
        check(ok, f"{phase} trial {trial}: paused={paused is not None} reached {newer}={reached} "
                  f"refused={refused} served={served}")
        passed += ok
        shutil.rmtree(os.path.join(ckpt, newer))  # keep the directory small; the server keeps serving from memory
        step += 2

    stop.set()
    for t in clients:
        t.join()
    total = sum(len(r) for r in seen)
    bad = [s for r in seen for s, _ in r if s != 200]
    check(total > 50 and not bad, f"{phase}: {len(bad)} of {total} requests failed ({bad[:5]})")
    for r in seen:
        versions = [v for _, v in r]
        check(versions == sorted(versions), f"{phase}: a client saw the served version go backwards")
    server.terminate()
    check(server.wait(timeout=10) == 0, f"{phase}: the server did not exit 0 on SIGTERM")
    print(f"{phase}: {passed} of {trials} trials as expected, {total} requests, {len(bad)} failed")
    return passed


def main():
    recforge = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="recforge-race-")
    try:
        ckpt = train_tiny_als(recforge, work, 2)
        # The source of every copy lives outside the directory the server watches.
        source = os.path.join(work, "source")
        shutil.copytree(os.path.join(ckpt, "step-0000000002"), source)
        passed = run_phase(recforge, ckpt, source, "load_before_data", 100, 10)
        passed += run_phase(recforge, ckpt, source, "load_after_data", 200, 10)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"RELIABILITY S3 trials=20 passed={passed}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("ok: retention deleting the version being loaded, 20 trials")


if __name__ == "__main__":
    main()
