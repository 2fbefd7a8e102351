#!/usr/bin/env python3
"""`recforge serve` over real HTTP on loopback.

  serve_test.py <recforge binary>

Trains the tiny ALS config, starts the server on a free port and checks every
endpoint against numbers computed here from the checkpoint with h5py/NumPy,
every bad input's status and message, and hot reload: client threads send
requests while a training run publishes 100 new versions (retention deleting
old ones as it goes), then a corrupt version and a good one are published. No
request may fail, versions seen by a client never go backwards, the corrupt
version is refused and the good one served (RELIABILITY.md S1-S3).
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import h5py
import numpy as np

from serving_fixture import publish_copy, request, sanitizer_of, start_server, train_tiny_als

TOKEN = "test-token-0123456789abcdef"
failures = []
SANITIZED = False  # a sanitizer build (set by main): slower, so a few bounds are wider


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def get_json(base, path, method="GET", body=None, headers=None):
    status, text = request(base, path, method, body, headers)
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, {"raw": text}


def newest_version(ckpt):
    return sorted(v for v in os.listdir(ckpt) if re.match(r"^step-\d{10}$", v))[-1]


def load_checkpoint(ckpt):
    with h5py.File(os.path.join(ckpt, newest_version(ckpt), "checkpoint.h5"), "r") as f:
        return {
            "users": f["ids/users"][...], "items": f["ids/items"][...],
            "U": f["serving/user_embeddings"][...], "V": f["serving/item_embeddings"][...],
            "offsets": f["serving/seen/offsets"][...], "seen": f["serving/seen/items"][...],
            "popularity": f["serving/item_popularity"][...],
        }


def expected_top(scores, k, exclude=()):
    scores = scores.astype(np.float64).copy()
    scores[list(exclude)] = -np.inf
    order = np.lexsort((np.arange(len(scores)), -scores))  # score desc, then id asc
    return [int(i) for i in order[:k]]


def endpoint_checks(base, c):
    status, body = get_json(base, "/v1/health")
    check(status == 200 and body.get("status") == "ok", f"health: {status} {body}")
    status, model = get_json(base, "/v1/model")
    check(status == 200 and model["model_type"] == "als" and model["users"] == len(c["users"]) and
          model["items"] == len(c["items"]) and model["fold_in"] and "recall@10" in model["metrics"],
          f"model: {status} {model}")

    items = c["items"]
    for dense in [0, 7, 123]:
        user = int(c["users"][dense])
        seen = set(c["seen"][c["offsets"][dense]:c["offsets"][dense + 1]].tolist())
        status, body = get_json(base, f"/v1/recommend?user={user}&k=5")
        got = [int(i["item"]) for i in body.get("items", [])]
        want = [int(items[i]) for i in expected_top(c["V"] @ c["U"][dense], 5, seen)]
        check(status == 200 and body["source"] == "model" and got == want, f"recommend user {user}: {got} != {want}")
        check(not (set(got) & {int(items[i]) for i in seen}), f"recommend user {user} returned a training item")
        status, body = get_json(base, f"/v1/recommend?user={user}&k=5&exclude_seen=false")
        want = [int(items[i]) for i in expected_top(c["V"] @ c["U"][dense], 5)]
        check([int(i["item"]) for i in body["items"]] == want, f"exclude_seen=false for {user}")

    status, body = get_json(base, "/v1/recommend?user=no-such-user&k=4")
    want = [int(items[i]) for i in expected_top(c["popularity"].astype(np.float64), 4)]
    check(status == 200 and body["source"] == "popularity" and [int(i["item"]) for i in body["items"]] == want,
          f"unknown user: {status} {body}")

    posted = [int(items[3]), int(items[10]), int(items[42])]
    status, body = get_json(base, "/v1/recommend", "POST", json.dumps({"items": posted, "k": 6}))
    got = [int(i["item"]) for i in body.get("items", [])]
    check(status == 200 and body["source"] == "fold_in" and len(got) == 6 and not set(got) & set(posted),
          f"fold-in: {status} {body}")
    status, body = get_json(base, "/v1/recommend", "POST",
                            json.dumps({"interactions": [{"item": posted[0], "value": 2.5}], "k": 2}))
    check(status == 200 and body["source"] == "fold_in", f"fold-in with values: {status} {body}")

    item = int(items[5])
    norms = np.linalg.norm(c["V"], axis=1)
    cosine = (c["V"] @ c["V"][5]) / np.maximum(norms * norms[5], 1e-30)
    status, body = get_json(base, f"/v1/similar?item={item}&k=3")
    want = [int(items[i]) for i in expected_top(cosine, 3, {5})]
    check(status == 200 and [int(i["item"]) for i in body["items"]] == want, f"similar: {body} != {want}")

    bad = [
        ("GET", "/v1/recommend", None, 400, "missing parameter user"),
        ("GET", "/v1/recommend?user=1&k=0", None, 400, "k must be an integer in [1, 100]"),
        ("GET", "/v1/recommend?user=1&k=abc", None, 400, "k must be an integer"),
        ("GET", "/v1/recommend?user=1&k=101", None, 400, "k must be an integer"),
        ("GET", "/v1/recommend?user=1&k=5x", None, 400, "k must be an integer"),
        ("GET", "/v1/recommend?user=1&exclude_seen=maybe", None, 400, "exclude_seen must be true or false"),
        ("GET", "/v1/recommend?user=" + "9" * 300, None, 400, "user id must be 1 to 256 characters"),
        ("GET", "/v1/similar?item=999999999", None, 404, "unknown item '999999999'"),
        ("GET", "/v1/similar", None, 400, "missing parameter item"),
        ("POST", "/v1/recommend", "{not json", 400, "the body is not JSON"),
        ("POST", "/v1/recommend", "[1, 2]", 400, "the body must be a JSON object"),
        ("POST", "/v1/recommend", json.dumps({"items": [int(items[0])] * 21}), 413, "at most 20 interactions"),
        ("POST", "/v1/recommend", json.dumps({"items": [123456789]}), 404, "unknown item '123456789'"),
        ("POST", "/v1/recommend", json.dumps({"items": [[1]]}), 400, "item ids must be strings or integers"),
        ("POST", "/v1/recommend", json.dumps({"interactions": [{"item": int(items[0]), "value": "x"}]}), 400,
         "value must be a number"),
        ("POST", "/v1/recommend", json.dumps({"k": 1000}), 400, "k must be an integer"),
        # 2^64 - 1 parses as unsigned: it was wrapped to the id -1.
        ("POST", "/v1/recommend", '{"user": 18446744073709551615}', 400,
         "user id 18446744073709551615 is outside the 64-bit integer range"),
        # 1e39 is a finite double but an infinite float in the model.
        ("POST", "/v1/recommend", json.dumps({"interactions": [{"item": int(items[0]), "value": 1e39}]}), 400,
         "an interaction's value must be a finite 32-bit float"),
        # A misspelt or repeated field is refused, never dropped (the client
        # would get k=10 for "top_k": 5 without a word).
        ("GET", "/v1/recommend?user=1&topk=5", None, 400,
         "unknown parameter 'topk' (GET /v1/recommend takes user, k, exclude_seen, approximate)"),
        ("GET", "/v1/recommend?user=1&k=5&k=6", None, 400, "parameter k given more than once"),
        ("GET", "/v1/similar?item=1&user=2", None, 400, "unknown parameter 'user' (GET /v1/similar takes item, k)"),
        ("POST", "/v1/recommend?user=1", "{}", 400, "unknown parameter 'user' (POST /v1/recommend takes none"),
        ("POST", "/v1/recommend", json.dumps({"user": "1", "top_k": 5}), 400,
         "unknown field 'top_k' in the request (fields: user, k, approximate, items, interactions)"),
        ("POST", "/v1/recommend", json.dumps({"interactions": [{"item": int(items[0]), "weight": 2}]}), 400,
         "unknown field 'weight' in an interaction (fields: item, value)"),
        ("POST", "/v1/recommend", '{"k": 5, "user": "1", "k": 6}', 400, "field 'k' appears twice in one object"),
        ("POST", "/v1/recommend", '{"interactions": [{"item": 1, "item": 2}]}', 400,
         "field 'item' appears twice in one object"),
        ("POST", "/v1/recommend", "x" * 5000, 413, "request body too large"),
        ("GET", "/v1/nothing", None, 404, "no such endpoint"),
        ("GET", "/v1/../../etc/passwd", None, 404, "no such endpoint"),
        # X4: traversal in every spelling reaches no file (the API names no paths at all).
        ("GET", "/v1/%2e%2e/%2e%2e/etc/passwd", None, 404, "no such endpoint"),
        ("GET", "/v1/..%2f..%2fetc%2fpasswd", None, 404, "no such endpoint"),
        ("GET", "/v1/recommend?user=..%2f..%2fetc%2fpasswd", None, 200, "popularity"),
        ("GET", "/v1/similar?item=%2e%2e%2f", None, 404, "unknown item"),
        ("GET", "/v1/similar?item=a%00b", None, 404, "unknown item"),
        ("GET", "/" + "a" * 1023, None, 404, "no such endpoint"),
        ("GET", "/" + "a" * 4096, None, 414, "the path is longer than 1024 characters"),
        ("PUT", "/v1/recommend", "{}", 405, "takes GET or POST"),
        ("GET", "/v1/reload", None, 405, "takes POST only"),
        ("POST", "/v1/reload", "", 401, "needs Authorization"),
    ]
    for method, path, body, want_status, want_text in bad:
        status, text = request(base, path, method, body)
        check(status == want_status and want_text in text, f"{method} {path[:60]}: {status} {text.strip()[:200]}")
        if status >= 400:
            try:
                check("error" in json.loads(text), f"{method} {path[:60]}: error body is not JSON with 'error'")
            except json.JSONDecodeError:
                check(False, f"{method} {path[:60]}: error body is not JSON: {text[:100]}")
    status, _ = get_json(base, "/v1/reload", "POST", "", {"Authorization": "Bearer wrong-token-0000000000"})
    check(status == 403, f"reload with a wrong token: {status}")
    status, body = get_json(base, "/v1/reload", "POST", "", {"Authorization": "Bearer " + TOKEN})
    check(status == 200 and "version" in body, f"reload with the token: {status} {body}")
    status, text = request(base, "/metrics")
    check(status == 200 and 'recforge_requests_total{endpoint="recommend",code="200"}' in text and
          "recforge_request_seconds_bucket" in text and "recforge_model_step" in text, "metrics text")


def metric(base, name):
    return int(re.search(rf"^{name} (\d+)$", request(base, "/metrics")[1], re.M).group(1))


def hot_reload_checks(base, recforge, config, run_dir, ckpt, users, clients=4):
    queries_before = metric(base, "recforge_exact_queries_total")
    stop = threading.Event()
    results = []  # per thread: list of (status, version)

    def client(seed):
        rng = random.Random(seed)
        mine = []
        results.append(mine)
        while not stop.is_set():
            status, body = get_json(base, f"/v1/recommend?user={rng.choice(users)}&k=10")
            mine.append((status, body.get("version", "")))

    threads = [threading.Thread(target=client, args=(s,)) for s in range(clients)]
    for t in threads:
        t.start()
    # keep_last 1: the writer deletes the version the server may be loading (RELIABILITY S3).
    writer = subprocess.run([recforge, "train", config, "--resume", run_dir, "--set", "train.epochs=103",
                             "--set", "checkpoint.keep_last=1", "--set", "run.log_level=warn"],
                            capture_output=True, text=True)
    check(writer.returncode == 0, f"the writer failed: {writer.stderr[-500:]}")
    final = newest_version(ckpt)
    check(final == "step-0000000103", f"the writer's last version is {final}, not step-0000000103")
    # From the final version's publication (its manifest is written last, then
    # the directory renamed into place) to the server answering with it: a
    # poll (50 ms) and a load. Checked against 1 s, not 2 polls: ctest runs
    # this beside other tests on 2 cores; the clock here also counts the
    # writer's last evaluation and exit, longer under a sanitizer (3 s).
    written = os.path.getmtime(os.path.join(ckpt, final, "MANIFEST.json"))
    while time.time() < written + 10 and get_json(base, "/v1/health")[1].get("version") != final:
        time.sleep(0.005)
    lag = time.time() - written
    check(get_json(base, "/v1/health")[1].get("version") == final and lag < (3 if SANITIZED else 1),
          f"the server reached {final} only {lag:.2f} s after it was published")

    # A corrupt version, then a good one (a copy of the newest under a later step).
    source = os.path.join(ckpt, final)
    # Polled, not slept on: the watcher must try 900 (counted as refused)
    # before 901 appears, or it would only ever see 901.
    def reload_failures():
        return int(re.search(r"recforge_reload_failures_total (\d+)", request(base, "/metrics")[1]).group(1))

    failures_before = reload_failures()
    for step, corrupt in [(900, True), (901, False)]:
        publish_copy(ckpt, source, step, corrupt)
        want = final if corrupt else f"step-{step:010d}"
        deadline = time.time() + 10
        while time.time() < deadline:
            if (reload_failures() > failures_before) if corrupt else \
                    (get_json(base, "/v1/health")[1].get("version") == want):
                break
            time.sleep(0.02)
        version = get_json(base, "/v1/health")[1].get("version")
        check(version == want, f"after publishing a {'corrupt' if corrupt else 'good'} version: serving {version}")
    stop.set()
    for t in threads:
        t.join()
    total = sum(len(r) for r in results)
    bad = [s for r in results for s, _ in r if s != 200]
    check(total > 100 and not bad, f"{len(bad)} of {total} requests failed during reloads ({bad[:5]})")
    for r in results:
        versions = [v for _, v in r]
        check(versions == sorted(versions), "a client saw the served version go backwards")
    served = sorted({v for r in results for _, v in r})
    _, text = request(base, "/metrics")
    failures_total = int(re.search(r"recforge_reload_failures_total (\d+)", text).group(1))
    check(failures_total >= 1, "the corrupt version was not counted as failed")
    refused = metric(base, "recforge_refused_versions_total")
    check(refused == 1 and get_json(base, "/v1/model")[1].get("refused_versions") == 1,
          f"the corrupt version, and only it, is refused: {refused}")
    # Every version's exact queries count: the clients' known users were scored
    # on versions since replaced (the counters went back to 0 at each reload).
    queries = metric(base, "recforge_exact_queries_total") - queries_before
    check(queries >= total, f"recforge_exact_queries_total grew by {queries} over {total} exact requests")
    print(f"hot reload: {total} requests, 0 failed, {len(served)} versions served, "
          f"{failures_total} version(s) refused; the last one served {lag * 1000:.0f} ms after it was published")


def stop_server(proc):
    proc.terminate()
    try:
        code = proc.wait(timeout=10)
        check(code == 0, f"the server exited with {code} on SIGTERM")
    except subprocess.TimeoutExpired:
        proc.kill()
        check(False, "the server did not stop on SIGTERM")


def max_k_and_stop_checks(recforge, ckpt, users):
    """--max-k bounds a request without k too (the default 10 went past it);
    SIGTERM while the first version loads ends the server within the grace
    period (the load ran to its end, then the server listened for 5 s)."""
    server, base = start_server(recforge, ["--model-dir", ckpt, "--max-k", "3"])
    check(server is not None, f"the server with --max-k 3 did not start: {base}")
    if server is None:
        return
    status, body = get_json(base, f"/v1/recommend?user={users[0]}")
    check(status == 200 and len(body["items"]) == 3, f"--max-k 3 without k: {status} {body}")
    status, body = get_json(base, "/v1/recommend", "POST", json.dumps({"user": users[0]}))
    check(status == 200 and len(body["items"]) == 3, f"--max-k 3, POST without k: {status} {body}")
    stop_server(server)

    env = dict(os.environ, RF_FAULT="delay:phase=load_before_data:ms=30000")
    proc = subprocess.Popen([recforge, "serve", "--port", "0", "--model-dir", ckpt], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    time.sleep(1.5)  # inside the (delayed) first load
    start = time.time()
    proc.terminate()
    try:
        code = proc.wait(timeout=15)
        seconds = time.time() - start
        output = proc.stdout.read()
        check(code == 0 and seconds < 8, f"SIGTERM during the first load: exit {code} after {seconds:.1f} s\n{output}")
        check("serving" not in output.split("RF_FAULT")[-1], f"it served after SIGTERM:\n{output}")
        print(f"SIGTERM during a 30 s version load: exit {code} after {seconds:.1f} s")
    except subprocess.TimeoutExpired:
        proc.kill()
        check(False, "the server did not stop within 15 s of SIGTERM during a version load")


def ann_checks(recforge, ckpt, users):
    """--ann: the HNSW answers agree with the exact ones (recall@10 >= 0.9 on
    this small catalog), or the option is refused with its reason when recforge
    was built without Faiss."""
    proc, base = start_server(recforge, ["--model-dir", ckpt, "--ann", "--ann-ef-search", "64"])
    if proc is None:
        check("approximate search needs Faiss" in base, "--ann without Faiss: unclear refusal: " + base[-300:])
        print("ann: recforge was built without Faiss (refusal checked)")
        return
    try:
        # X7: without --admin-token the reload endpoint does not exist.
        status, text = request(base, "/v1/reload", "POST", "", {"Authorization": "Bearer " + TOKEN})
        check(status == 404, f"reload without --admin-token answered {status}: {text[:200]}")
        _, model = get_json(base, "/v1/model")
        check(model.get("ann") is True, f"/v1/model does not report the ANN index: {model}")
        hits = total = 0
        for u in users:
            _, approx = get_json(base, f"/v1/recommend?user={u}&k=10")
            _, exact = get_json(base, f"/v1/recommend?user={u}&k=10&approximate=false")
            a = {i["item"] for i in approx["items"]}
            e = [i["item"] for i in exact["items"]]
            check(len(approx["items"]) == len(e), f"user {u}: ANN gave {len(approx['items'])} items, exact {len(e)}")
            hits += sum(1 for i in e if i in a)
            total += len(e)
        recall = hits / max(total, 1)
        check(recall >= 0.9, f"ANN recall@10 vs exact is {recall:.3f} (< 0.9)")
        print(f"ann: recall@10 vs exact {recall:.3f} over {len(users)} users")
    finally:
        stop_server(proc)


def sasrec_checks(recforge, work):
    """Next-item inference for a posted history: the server builds the SASRec
    model from its checkpoint and encodes the history (time order matters).
    The server is given the run directory, not its checkpoints/."""
    train = subprocess.run([recforge, "train", "configs/sasrec_tiny.yaml", "--set", f"run.output_dir={work}",
                            "--set", "train.epochs=2"], capture_output=True, text=True)
    if train.returncode != 0:
        sys.exit(f"sasrec training failed: {train.stderr[-800:]}")
    ckpt = os.path.join(work, "sasrec_tiny", "checkpoints")
    # Named by its run directory: the server serves the run's checkpoints/.
    proc, base = start_server(recforge, ["--model-dir", os.path.join(work, "sasrec_tiny"), "--poll-ms", "1000"])
    if proc is None:
        sys.exit("the server did not start on the SASRec checkpoint:\n" + base)
    try:
        with h5py.File(os.path.join(ckpt, newest_version(ckpt), "checkpoint.h5"), "r") as f:
            items = [int(x) for x in f["ids/items"][:]]
        status, model = get_json(base, "/v1/model")
        check(status == 200 and model["model_type"] == "sasrec" and model["fold_in"], f"sasrec model: {model}")
        history = [items[3], items[10], items[42], items[7]]
        status, forward = get_json(base, "/v1/recommend", "POST", json.dumps({"items": history, "k": 20}))
        got = [int(i["item"]) for i in forward.get("items", [])]
        check(status == 200 and forward["source"] == "fold_in" and len(got) == 20 and not set(got) & set(history),
              f"sasrec next items: {status} {forward}")
        status, backward = get_json(base, "/v1/recommend", "POST", json.dumps({"items": history[::-1], "k": 20}))
        check(status == 200 and [i["score"] for i in backward["items"]] != [i["score"] for i in forward["items"]],
              "sasrec: the order of the posted history does not change the scores")
    finally:
        stop_server(proc)


def no_fold_in_checks(recforge, work):
    """A model without fold-in (MF): a known user who posts items is answered
    from their trained embedding without the posted and training items
    (source model); an unknown one gets popularity."""
    train = subprocess.run([recforge, "train", "configs/mf_tiny.yaml", "--set", f"run.output_dir={work}",
                            "--set", "train.epochs=1"], capture_output=True, text=True)
    if train.returncode != 0:
        sys.exit(f"mf training failed: {train.stderr[-800:]}")
    ckpt = os.path.join(work, "mf_tiny", "checkpoints")
    proc, base = start_server(recforge, ["--model-dir", ckpt])
    if proc is None:
        sys.exit("the server did not start on the MF checkpoint:\n" + base)
    try:
        c = load_checkpoint(ckpt)
        users, items = [int(x) for x in c["users"]], [int(x) for x in c["items"]]
        scores = c["V"].astype(np.float64) @ c["U"][0].astype(np.float64)
        offsets, seen = c["offsets"], c["seen"]
        status, model = get_json(base, "/v1/model")
        check(status == 200 and model["model_type"] == "mf" and not model["fold_in"], f"mf model: {model}")
        posted = [int(i) for i in expected_top(scores, 3)]  # the user's best items: left out now
        exclude = set(int(i) for i in seen[offsets[0]:offsets[1]]) | set(posted)
        want = [items[i] for i in expected_top(scores, 5, exclude)]
        status, body = get_json(base, "/v1/recommend", "POST",
                                json.dumps({"user": users[0], "items": [items[i] for i in posted], "k": 5}))
        got = [int(i["item"]) for i in body.get("items", [])]
        check(status == 200 and body["source"] == "model" and got == want,
              f"mf: a known user with posted items: {status} {body}, expected model {want}")
        status, body = get_json(base, "/v1/recommend", "POST",
                                json.dumps({"user": "nobody", "items": [items[posted[0]]], "k": 5}))
        check(status == 200 and body["source"] == "popularity", f"mf: an unknown user with items: {status} {body}")
    finally:
        stop_server(proc)


def long_id_checks(recforge, work):
    """Ids longer than the server's 256-character default (URLs, say) that the
    training data had: the server returns them and takes them back."""
    rng = random.Random(5)
    url = "https://example.org/" + "x" * 300 + "/item-{}"
    path = os.path.join(work, "long_ids.csv")
    with open(path, "w") as f:
        f.write("user,item\n")
        for u in range(60):
            for i in rng.sample(range(40), 12):
                f.write(f"u{u},{url.format(i)}\n")
    train = subprocess.run([recforge, "train", "configs/als_tiny.yaml", "--set", f"run.output_dir={work}",
                            "--set", "run.name=long_ids", "--set", "data.format=csv", "--set", f"data.path={path}", "--set", "data.id_type=string", "--set", "data.split.method=random",
                            "--set", "train.epochs=2"], capture_output=True, text=True)
    if train.returncode != 0:
        sys.exit(f"long-id training failed: {train.stderr[-800:]}")
    proc, base = start_server(recforge, ["--model-dir", os.path.join(work, "long_ids")])
    if proc is None:
        sys.exit("the server did not start on the long-id checkpoint:\n" + base)
    try:
        status, body = get_json(base, "/v1/recommend?user=u3&k=3")
        returned = [i["item"] for i in body.get("items", [])]
        check(status == 200 and len(returned) == 3 and all(len(i) > 256 for i in returned),
              f"long ids: recommend: {status} {body}")
        status, similar = get_json(base, "/v1/similar?item=" + urllib.parse.quote(returned[0], safe="") + "&k=2")
        check(status == 200 and len(similar.get("items", [])) == 2, f"long ids: similar to a returned id: {status} {similar}")
        status, posted = get_json(base, "/v1/recommend", "POST", json.dumps({"items": returned[:2], "k": 3}))
        check(status == 200 and posted.get("source") == "fold_in", f"long ids: posted back: {status} {posted}")
        status, _ = get_json(base, "/v1/similar?item=" + "y" * 2000)
        check(status == 400, f"an id longer than any the version holds: {status}")
    finally:
        stop_server(proc)


def main():
    """serve_test.py RECFORGE [--server RECFORGE_UNDER_TSAN]: with --server, that
    binary serves (8 request threads, 8 clients during the hot reloads) while
    RECFORGE trains, and any ThreadSanitizer report in its output fails the test
    (RELIABILITY S4); the ANN and SASRec checks are skipped then."""
    recforge = os.path.abspath(sys.argv[1])
    server_binary = os.path.abspath(sys.argv[3]) if len(sys.argv) == 4 and sys.argv[2] == "--server" else recforge
    global SANITIZED
    SANITIZED = sanitizer_of(recforge) is not None
    sanitized = server_binary != recforge
    work = tempfile.mkdtemp(prefix="recforge-serve-")
    server = None
    try:
        config = "configs/als_tiny.yaml"
        ckpt = train_tiny_als(recforge, work, 3, "checkpoint.keep_last=2")
        run_dir = os.path.join(work, "als_tiny")
        env = dict(os.environ, RECFORGE_ADMIN_TOKEN=TOKEN)
        if sanitized:
            # libgomp is not instrumented: TSan cannot see its barriers and would
            # report every OpenMP region. One OpenMP thread keeps the server's own
            # threads (HTTP workers, reload watcher, score batcher) under check.
            env["OMP_NUM_THREADS"] = "1"
        server, base = start_server(server_binary, ["--model-dir", ckpt, "--poll-ms", "50", "--max-k", "100",
                                               "--max-interactions", "20", "--max-body", "4096", "--threads", "8"],
                                    env=env)
        if server is None:
            sys.exit("the server did not start:\n" + base)
        c = load_checkpoint(ckpt)
        endpoint_checks(base, c)
        hot_reload_checks(base, recforge, config, run_dir, ckpt, [int(u) for u in c["users"]],
                          clients=8 if sanitized else 4)
        stop_server(server)
        if sanitized:
            reports = sum("WARNING: ThreadSanitizer" in line for line in server.output)
            text = "".join(server.output)
            check(reports == 0, f"{reports} ThreadSanitizer report(s) from the server; the first:\n" +
                  text[text.find("WARNING: ThreadSanitizer"):][:6000])
            print(f"RELIABILITY S4 trials=1 passed={int(reports == 0)}")
        server = None
        if not sanitized:
            max_k_and_stop_checks(recforge, ckpt, [int(u) for u in c["users"]])
            ann_checks(recforge, ckpt, [int(u) for u in c["users"]][:100])
            sasrec_checks(recforge, work)
            no_fold_in_checks(recforge, work)
            long_id_checks(recforge, work)
    finally:
        if server:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("ok: every endpoint, every bad input, hot reload under load" +
          (" under ThreadSanitizer" if sanitized else ", ANN vs exact, SASRec next items"))


if __name__ == "__main__":
    main()
