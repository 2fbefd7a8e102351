"""The PyTorch peers are judged on recforge's own sampled candidates
(benchmarks/peers/recforge_eval.py redraws them with recforge's Philox streams).
Here a popularity model, whose scores the peer side can recompute from the
dataset cache, is evaluated by `recforge evaluate` on the sampled protocol and
by the peer code on the same cache: every metric agrees. The peer's own numpy
draws must disagree, or this check could not tell the two apart.
    peer_candidates_test.py <build dir>/bin/recforge
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "peers"))
import recforge_eval  # noqa: E402

SEED, NEGATIVES, CUTOFFS = 7, 20, (1, 5, 10, 21)


def run(*args):
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def metrics_of(ranks):
    out = {}
    for k in CUTOFFS:
        hit = ranks <= k
        out[f"hit_rate@{k}"] = hit.mean()
        out[f"ndcg@{k}"] = np.where(hit, 1.0 / np.log2(ranks + 1), 0.0).mean()
        out[f"mrr@{k}"] = np.where(hit, 1.0 / ranks, 0.0).mean()
    return out


def main():
    recforge = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="recforge-peer-candidates.") as work:
        config = pathlib.Path(work) / "popularity.yaml"
        config.write_text(f"""run: {{name: peer, output_dir: {work}/runs, seed: {SEED}, log_level: warn}}
data:
  format: synthetic
  synthetic: {{preset: tiny}}
  split: {{method: leave_one_out}}
  cache: true
  cache_dir: {work}/cache
model: {{type: popularity, count: interactions}}
train: {{epochs: 1}}
""")
        cache = re.search(r"^cache (\S+)", run(recforge, "data", "prepare", str(config)), re.M).group(1)
        run(recforge, "train", str(config))
        report = pathlib.Path(work) / "metrics.json"
        run(recforge, "evaluate", f"{work}/runs/peer", "--set", "eval.protocol=sampled",
            "--set", f"eval.sampled_negatives={NEGATIVES}", "--set", f"eval.k=[{','.join(map(str, CUTOFFS))}]",
            "-o", str(report))
        measured = json.loads(report.read_text())["metrics"]

        users, items, tu, ti, eu, ei = recforge_eval.load(cache)
        popularity = np.bincount(ti, minlength=items).astype(np.float32)  # count: interactions
        expected = {}
        for kind in ("recforge", "numpy"):
            candidates = recforge_eval.draw_candidates(kind, SEED, users, tu, ti, eu, ei, items, NEGATIVES)
            expected[kind] = metrics_of(recforge_eval.sampled_ranks(popularity[candidates], candidates))

    # recforge sums metrics in fixed point (2^-32 a unit): far below one row's 1/200.
    differ = [f"{m}: recforge {measured[m]:.9f}, peer {v:.9f}" for m, v in expected["recforge"].items()
              if abs(measured[m] - v) > 1e-7]
    if differ:
        sys.exit("FAIL: the peers' recforge candidates are not recforge's:\n  " + "\n  ".join(differ))
    if all(abs(expected["numpy"][m] - v) <= 1e-7 for m, v in expected["recforge"].items()):
        sys.exit("FAIL: numpy's own draws give the same metrics, so this check cannot tell candidates apart")
    print(f"ok: {len(eu)} held-out rows, {NEGATIVES} negatives each: "
          f"{len(expected['recforge'])} metrics agree with recforge's sampled evaluation")


if __name__ == "__main__":
    main()
