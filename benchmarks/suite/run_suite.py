#!/usr/bin/env python3
"""Runs an end-to-end benchmark suite and writes its results:

  python3 benchmarks/suite/run_suite.py [benchmarks/suite/default.yaml] [--out benchmarks/results/suite]
                                        [--no-peers] [--only NAME]

For every case (see default.yaml): trains the config at each rank count through
launch/mpirun.sh (validation every epoch), then runs the case's peer, if any, on
the split recforge prepared (its own virtual environment under
$RECFORGE_BENCH_DIR, created from PyPI once). Writes to --out:
  results.json         every number, with machine, date, commit and command
  README.md            the table (seconds per epoch, quality, peer, ratios)
  time_to_quality.svg  metric against wall-clock seconds, one curve per case and rank count
  epoch_time.svg       median seconds per epoch, recforge and peers
  scaling.svg          speed-up of an epoch from 1 rank to N
Cases whose data files are missing under RECFORGE_DATA_DIR are skipped and listed.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECFORGE = os.path.join(ROOT, "build", "bin", "recforge")


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def sh(command, env=None, **kwargs):
    """Runs a command; on failure prints its output tail and exits."""
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kwargs)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stdout[-3000:]}")
    return proc.stdout


def read_run(run_dir, metric):
    records = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
    epochs = [r["values"]["seconds"] for r in records if r["split"] == "epoch" and "seconds" in r["values"]]
    # Evaluations during training (of the test split for data without a validation split).
    curve = [(r["wall_time"], r["values"][metric]) for r in records
             if r["split"] in ("valid", "test") and metric in r["values"]]
    final = None
    eval_path = os.path.join(run_dir, "eval.json")
    if os.path.exists(eval_path):
        final = json.load(open(eval_path)).get(metric)
    if final is None and curve:
        final = curve[-1][1]
    return {"seconds_per_epoch": statistics.median(epochs) if epochs else None, "epochs": len(epochs),
            "metric": final, "curve": curve}


def machine_name():
    """Cores and CPU model (timings on one machine type compare with each other only)."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.machine())
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{os.cpu_count()} cores of an {cpu} ({vector}), no GPU"


def set_args(settings):
    """{key: value} -> ["--set", "key=value", ...]"""
    text = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # YAML's true/false, not Python's
    return [a for key, value in settings.items() for a in ("--set", f"{key}={text(value)}")]


def run_recforge(case, ranks, work, threads):
    name = f"{slug(case['name'])}-np{ranks}"
    sets = {"run.name": name, "run.output_dir": os.path.join(work, "runs"), "run.log_level": "warn",
            "train.eval_every": 1, **case.get("set", {})}
    command = ["bash", "launch/mpirun.sh", "-np", str(ranks), RECFORGE, "train", case["config"]] + set_args(sets)
    subprocess.run(["rm", "-rf", os.path.join(work, "runs", name)])
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, threads // ranks)), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")
    start = time.time()
    sh(command, env=env)
    result = read_run(os.path.join(work, "runs", name), case["metric"])
    result.update(ranks=ranks, wall_seconds=time.time() - start, command=" ".join(shlex.quote(c) for c in command))
    return result


def peer_python(peer, work):
    packages = sorted(peer["packages"])
    venv = os.path.join(work, "venv-" + hashlib.sha256(" ".join(packages).encode()).hexdigest()[:10])
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"  creating {venv} ({', '.join(packages)}) from PyPI", flush=True)
        sh([sys.executable, "-m", "venv", venv])
        sh([python, "-m", "pip", "install", "-q"] + shlex.split(peer.get("pip_args", "")) + packages)
    return python


def run_peer(case, work, threads):
    peer = case["peer"]
    out = sh([RECFORGE, "data", "prepare", case["config"]] + set_args(case.get("set", {})))
    cache = re.search(r"^cache (\S+)", out, re.M).group(1)
    python = peer_python(peer, work)
    command = [python, peer["script"], cache] + shlex.split(peer.get("args", ""))
    start = time.time()
    out = sh(command, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    reported = json.loads(out.strip().splitlines()[-1])
    seconds = reported[peer["seconds"]]
    return {"name": peer["name"], "seconds_per_epoch": statistics.median(seconds) if isinstance(seconds, list) else seconds,
            "metric": reported[peer["metric"]], "wall_seconds": time.time() - start,
            "command": " ".join(shlex.quote(c) for c in command)}


def write_table(results, skipped, meta, out):
    lines = [f"# Benchmark suite: {meta['suite']}", "",
             f"{meta['date']}, commit {meta['commit']}, {meta['machine']}; command `{meta['command']}`.",
             "Seconds per epoch are medians over the run's epochs; the ratio is the peer's seconds over recforge's "
             "at 1 rank (same threads).", "",
             "| case | ranks | s/epoch | metric | value | wall s | peer | peer s/epoch | peer value | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for run in r["runs"]:
            peer = r.get("peer") if run["ranks"] == 1 else None
            spe = run["seconds_per_epoch"]
            peer_cells = "| | | |"
            if peer:
                peer_cells = (f"{peer['name']} | {peer['seconds_per_epoch']:.3f} | {peer['metric']:.4f} | "
                              f"{peer['seconds_per_epoch'] / spe:.2f}x |")
            lines.append(f"| {r['name']} | {run['ranks']} | {spe:.3f} | {r['metric']} | {run['metric']:.4f} | "
                         f"{run['wall_seconds']:.0f} | {peer_cells}")
    if skipped:
        lines += ["", "Skipped (data missing under RECFORGE_DATA_DIR): " + ", ".join(skipped) + "."]
    table = lines[2:]
    lines += ["", "![time to quality](time_to_quality.svg)", "![epoch time](epoch_time.svg)",
              "![scaling](scaling.svg)", ""]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))
    return table


def update_readme(table_lines):
    """Puts the table and the time-to-quality plot between the README's suite markers."""
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    begin, end = "<!-- suite:begin -->", "<!-- suite:end -->"
    if begin not in text or end not in text:
        return
    block = "\n".join([begin] + table_lines + ["", "![time to quality](benchmarks/results/suite/time_to_quality.svg)",
                                                end])
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    with open(path, "w") as f:
        f.write(text)


def plot(results, out):
    try:
        import matplotlib
    except ImportError:  # the results and the table are kept; only the pictures are missing
        print(f"plots not drawn: {sys.executable} cannot import matplotlib (Debian: apt-get install "
              "python3-matplotlib, then run the suite with /usr/bin/python3)", flush=True)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})

    fig, axes = plt.subplots(1, max(1, len(results)), figsize=(3.2 * max(1, len(results)), 2.8), squeeze=False)
    for ax, r in zip(axes[0], results):
        for run in r["runs"]:
            if run["curve"]:
                xs, ys = zip(*run["curve"])
                ax.plot(xs, ys, marker="o", markersize=3, label=f"{run['ranks']} rank{'s' if run['ranks'] > 1 else ''}")
        ax.set_title(r["name"], fontsize=9)
        ax.set_xlabel("seconds")
        ax.set_ylabel(r["metric"])
        ax.legend(fontsize=7)
    fig.suptitle("Evaluation metric during training (validation split, else test) against wall-clock time")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "time_to_quality.svg"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    names = [r["name"] for r in results]
    ours = [next(run["seconds_per_epoch"] for run in r["runs"] if run["ranks"] == min(x["ranks"] for x in r["runs"]))
            for r in results]
    peers = [r["peer"]["seconds_per_epoch"] if r.get("peer") else 0 for r in results]
    ys = range(len(results))
    ax.barh([y + 0.2 for y in ys], ours, height=0.4, label="recforge")
    ax.barh([y - 0.2 for y in ys], peers, height=0.4, label="peer")
    ax.set_yticks(list(ys), names)
    ax.set_xlabel("seconds per epoch (median, 1 rank, 2 threads)")
    ax.invert_yaxis()
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "epoch_time.svg"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.8, 2.8))
    for r in results:
        base = next((run for run in r["runs"] if run["ranks"] == 1), None)
        if base and len(r["runs"]) > 1:
            ranks = [run["ranks"] for run in r["runs"]]
            ax.plot(ranks, [base["seconds_per_epoch"] / run["seconds_per_epoch"] for run in r["runs"]], marker="o",
                    label=r["name"])
    ax.set_xlabel("MPI ranks (2 cores in all)")
    ax.set_ylabel("epoch speed-up over 1 rank")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling.svg"))
    plt.close(fig)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="?", default=os.path.join(ROOT, "benchmarks", "suite", "default.yaml"))
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "suite"))
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()
    if not os.path.exists(RECFORGE):
        sys.exit("build first: bash launch/build.sh")
    suite = yaml.safe_load(open(args.suite))
    threads = int(suite.get("threads", 2))
    work = os.environ.get("RECFORGE_BENCH_DIR", "/tmp/recforge-bench-suite")
    data_dir = os.environ.get("RECFORGE_DATA_DIR", "")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    results, skipped = [], []
    for case in suite["cases"]:
        if args.only and args.only not in case["name"]:
            continue
        missing = [n for n in case.get("needs", []) if not (data_dir and os.path.exists(os.path.join(data_dir, n)))]
        if missing:
            skipped.append(case["name"])
            print(f"{case['name']}: skipped (needs {', '.join(missing)} under RECFORGE_DATA_DIR)")
            continue
        result = {"name": case["name"], "config": case["config"], "metric": case["metric"], "runs": []}
        for ranks in case.get("ranks", [1]):
            run = run_recforge(case, ranks, work, threads)
            print(f"{case['name']} np{ranks}: {run['seconds_per_epoch']:.3f} s/epoch, {case['metric']} "
                  f"{run['metric']:.4f} ({run['wall_seconds']:.0f} s)", flush=True)
            result["runs"].append(run)
        if case.get("peer") and not args.no_peers:
            result["peer"] = run_peer(case, work, threads)
            p = result["peer"]
            print(f"{case['name']} peer {p['name']}: {p['seconds_per_epoch']:.3f} s/epoch, metric {p['metric']:.4f}",
                  flush=True)
        results.append(result)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    meta = {"suite": os.path.relpath(args.suite, ROOT), "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit.stdout.strip(), "machine": machine_name(),
            "command": "python3 " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
            "total_seconds": round(time.time() - started)}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "skipped": skipped}, f, indent=1)
    table = write_table(results, skipped, meta, args.out)
    plotted = plot(results, args.out)
    if os.path.abspath(args.out) == os.path.join(ROOT, "benchmarks", "results", "suite"):
        update_readme(table)
    print(f"wrote {os.path.relpath(args.out, ROOT)}/ (README.md, results.json{', 3 plots' if plotted else ''}) "
          f"in {meta['total_seconds']} s")


if __name__ == "__main__":
    main()
