#!/usr/bin/env python3
"""Loopback soak test of `recforge serve` (issue 11, "Server"):

  soak_test.py RECFORGE [seconds, default 60]

Trains the tiny ALS config, serves it, and for the given time runs at once:
  - wrk sending valid recommendations for known users (every answer must be 200),
  - wrk sending garbage: malformed k, oversized ids, unknown endpoints, a body
    over --max-body, unknown users (4xx or the popularity fallback expected),
  - a trainer resuming the run and publishing a version every few steps (hot reloads).
Passes when the server never stops answering (no socket errors on the valid
stream), no valid request fails, the server reloaded while under load, its
resident memory after the warm-up quarter grows by less than 25 % (and 64 MiB),
and it exits 0 on SIGTERM.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import h5py

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, flush=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def wrk(base, script, seconds, connections):
    return subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, base],
                          capture_output=True, text=True)


def wrk_numbers(output):
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return requests, [int(x) for x in socket.groups()] if socket else [0, 0, 0, 0], int(non2xx.group(1)) if non2xx else 0


def main():
    if shutil.which("wrk") is None:
        print("wrk not installed: skipped")
        sys.exit(77)
    recforge = os.path.abspath(sys.argv[1])
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    work = tempfile.mkdtemp(prefix="recforge-soak-")
    server = None
    try:
        config = "configs/als_tiny.yaml"
        common = ["--set", f"run.output_dir={work}", "--set", "checkpoint.keep_last=2", "--set", "run.log_level=warn"]
        train = subprocess.run([recforge, "train", config, "--set", "train.epochs=2"] + common,
                               capture_output=True, text=True)
        if train.returncode != 0:
            sys.exit("training failed: " + train.stderr[-800:])
        ckpt = os.path.join(work, "als_tiny", "checkpoints")
        newest = sorted(v for v in os.listdir(ckpt) if v.startswith("step-"))[-1]
        with h5py.File(os.path.join(ckpt, newest, "checkpoint.h5"), "r") as f:
            users = [int(u) for u in f["ids/users"][:50]]

        server = subprocess.Popen([recforge, "serve", "--model-dir", ckpt, "--port", "0", "--poll-ms", "100",
                                   "--threads", "4", "--max-body", "4096", "--max-interactions", "20"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        base = None
        for line in server.stdout:
            m = re.search(r" on (http://[\d.]+:\d+)", line)
            if m:
                base = m.group(1)
                break
        if base is None:
            sys.exit("the server did not start")
        log = []
        threading.Thread(target=lambda: [log.append(l) for l in server.stdout], daemon=True).start()

        with open(os.path.join(work, "valid.lua"), "w") as f:
            f.write("users = {" + ",".join(map(str, users)) + "}\n"
                    "request = function()\n"
                    "  return wrk.format('GET', '/v1/recommend?user=' .. users[math.random(#users)] .. '&k=10')\n"
                    "end\n")
        with open(os.path.join(work, "garbage.lua"), "w") as f:
            f.write("n = 0\n"
                    "big = string.rep('x', 8000)\n"
                    "request = function()\n"
                    "  n = n + 1\n"
                    "  local r = n % 7\n"
                    "  if r == 0 then return wrk.format('GET', '/v1/recommend?user=1&k=abc') end\n"
                    "  if r == 1 then return wrk.format('GET', '/v1/recommend?user=' .. string.rep('9', 300)) end\n"
                    "  if r == 2 then return wrk.format('GET', '/v1/nothing/' .. n) end\n"
                    "  if r == 3 then return wrk.format('POST', '/v1/recommend', nil, big) end\n"
                    "  if r == 4 then return wrk.format('POST', '/v1/recommend', nil, '{\"items\": [[1]]') end\n"
                    "  if r == 5 then return wrk.format('GET', '/v1/recommend?user=no-such-user&k=1000000') end\n"
                    "  return wrk.format('GET', '/v1/similar?item=' .. n)\n"
                    "end\n")

        pid = server.pid
        samples = []
        stop = threading.Event()

        def sample_memory():
            while not stop.is_set():
                samples.append((time.time(), rss_kib(pid)))
                time.sleep(0.5)

        def publish():  # resume the run, publishing a version every 5 steps
            epochs = 2
            while not stop.is_set():
                epochs += 3
                subprocess.run([recforge, "train", config, "--set", f"train.epochs={epochs}",
                                "--set", "checkpoint.every_steps=5"] + common, capture_output=True)

        threads = [threading.Thread(target=sample_memory), threading.Thread(target=publish)]
        results = {}

        def load(name, script, connections):
            results[name] = wrk(base, os.path.join(work, script), seconds, connections)

        threads += [threading.Thread(target=load, args=("valid", "valid.lua", 4)),
                    threading.Thread(target=load, args=("garbage", "garbage.lua", 4))]
        start = time.time()
        for t in threads:
            t.start()
        for t in threads[2:]:
            t.join()
        stop.set()
        for t in threads[:2]:
            t.join()

        valid, garbage = wrk_numbers(results["valid"].stdout), wrk_numbers(results["garbage"].stdout)
        print(f"valid: {valid[0]} requests, socket errors {valid[1]}, non-2xx {valid[2]}")
        print(f"garbage: {garbage[0]} requests, socket errors {garbage[1]}, non-2xx {garbage[2]}")
        check(valid[0] > 100, f"only {valid[0]} valid requests in {seconds} s")
        check(valid[2] == 0, f"{valid[2]} valid requests failed")
        check(sum(valid[1]) == 0, f"socket errors on the valid stream: {valid[1]}")
        check(garbage[0] > 100 and garbage[2] > 0, "the garbage stream did not run")
        reloads = sum("serving " in line and "in place of" in line for line in log)
        check(reloads >= 2, f"only {reloads} hot reloads under load")
        after_warmup = [kib for t, kib in samples if t - start >= seconds / 4]
        if after_warmup:
            growth = max(after_warmup) - after_warmup[0]
            print(f"memory: {after_warmup[0] / 1024:.1f} MiB after the warm-up, peak {max(after_warmup) / 1024:.1f} MiB, "
                  f"{reloads} reloads")
            check(growth < min(0.25 * after_warmup[0], 64 * 1024), f"resident memory grew by {growth / 1024:.1f} MiB")
        check(server.poll() is None, "the server died under load")
        server.terminate()
        code = server.wait(timeout=10)
        check(code == 0, f"the server exited with {code} on SIGTERM")
        server = None
    finally:
        if server:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print(f"ok: {seconds} s soak, no failed valid request, memory stable")
    print("RELIABILITY soak trials=1 passed=1")


if __name__ == "__main__":
    main()
