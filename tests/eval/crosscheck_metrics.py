"""Independent NumPy implementation of recforge's ranking metrics.

Reads what tests/eval/ranking_dump wrote, recomputes the masked top-K from the
raw scores (ties: smaller item id first) and every metric from the definitions
in plugins/ranking/README.md, and compares with recforge's values (1e-6).
"""
import json
import math
import sys

import numpy as np


def main(directory):
    scores = np.loadtxt(f"{directory}/scores.txt", dtype=np.float64).astype(np.float32)
    users, items = scores.shape
    train = [[int(x) for x in line.split()] for line in open(f"{directory}/train.txt")]
    relevant = []
    for line in open(f"{directory}/relevant.txt"):
        pairs = [p.split(":") for p in line.split()]
        relevant.append({int(i): float(g) for i, g in pairs})
    self_info = np.loadtxt(f"{directory}/self_info.txt")
    ours = json.load(open(f"{directory}/ours.json"))
    theirs_topk = np.loadtxt(f"{directory}/topk.txt", dtype=np.int64).reshape(users, -1)
    kmax = theirs_topk.shape[1]

    # Masked top-K, ordered by (score descending, item id ascending).
    ranked = np.full((users, kmax), -1, dtype=np.int64)
    for u in range(users):
        row = scores[u].copy()
        row[train[u]] = -np.inf
        order = np.lexsort((np.arange(items), -row))
        order = [i for i in order if np.isfinite(row[i])][:kmax]
        ranked[u, : len(order)] = order
    if not np.array_equal(ranked, theirs_topk):
        bad = np.argwhere(ranked != theirs_topk)[0]
        sys.exit(f"top-K differs first at user {bad[0]} position {bad[1]}: numpy {ranked[bad[0]]} vs recforge {theirs_topk[bad[0]]}")

    worst = 0.0
    for variant, values in ours.items():
        graded = variant == "graded"
        for name, value in values.items():
            metric, k = name.split("@")
            k = int(k)
            per_user = []
            for u in range(users):
                rel = relevant[u]
                top = [i for i in ranked[u, :k] if i >= 0]
                hits = [i in rel for i in top]
                gain = [(2.0 ** rel[i] - 1.0) if graded else 1.0 for i in top if i in rel]
                if metric == "hit_rate":
                    v = 1.0 if any(hits) else 0.0
                elif metric == "precision":
                    v = sum(hits) / k
                elif metric == "recall":
                    denominator = min(len(rel), k) if variant == "binary_min_k" else len(rel)
                    v = sum(hits) / denominator if denominator else 0.0
                elif metric == "ndcg":
                    dcg = sum(((2.0 ** rel[i] - 1.0) if graded else 1.0) / math.log2(p + 2) for p, i in enumerate(top) if i in rel)
                    ideal = sorted(((2.0 ** g - 1.0) if graded else 1.0 for g in rel.values()), reverse=True)[:k]
                    idcg = sum(g / math.log2(p + 2) for p, g in enumerate(ideal))
                    v = dcg / idcg if idcg > 0 else 0.0
                elif metric == "map":
                    found, total = 0, 0.0
                    for p, h in enumerate(hits):
                        if h:
                            found += 1
                            total += found / (p + 1)
                    denominator = min(len(rel), k)
                    v = total / denominator if denominator else 0.0
                elif metric == "mrr":
                    v = next((1.0 / (p + 1) for p, h in enumerate(hits) if h), 0.0)
                elif metric == "novelty":
                    if not top:
                        continue  # averaged over the users who have a list
                    v = float(np.mean([self_info[i] for i in top]))
                else:
                    sys.exit(f"unknown metric {metric}")
                per_user.append(v)
            expected = float(np.mean(per_user))
            worst = max(worst, abs(expected - value))
            if abs(expected - value) > 1e-6:
                sys.exit(f"{variant} {name}: numpy {expected:.10f} vs recforge {value:.10f}")
    print(f"all metrics agree with the NumPy implementation (max |diff| {worst:.2e})")


if __name__ == "__main__":
    main(sys.argv[1])
