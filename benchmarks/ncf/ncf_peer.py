"""NeuMF in PyTorch (CPU) on the split recforge prepared, for the side-by-side
benchmark (benchmarks/ncf/ncf_bench.sh).

The same architecture as plugins/ncf (He et al. 2017): GMF embeddings of f
columns, MLP embeddings of f 2^(L-1) columns, a ReLU tower 2^L f -> ... -> f,
one output unit over [GMF vector, tower output]; embeddings N(0, 0.01), Linear
layers with PyTorch's default initialisation; BCE with logits on each positive
and `negatives` uniformly drawn non-positive items, fresh every epoch; Adam.
Times each epoch (negative sampling included), then evaluates HR@10/NDCG@10 of
the held-out item among 99 sampled negatives (the paper's protocol; with
--candidates recforge, the default, the very negatives recforge draws, so both
sides rank against the same lists, and recforge's tie rule) and Recall@10 by
full ranking (training items masked). Prints one JSON line.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "peers"))
from recforge_eval import draw_candidates, hit_and_ndcg, load, sampled_ranks  # noqa: E402


class NeuMF(nn.Module):
    def __init__(self, users, items, factors, layers, sparse):
        super().__init__()
        width = factors * 2 ** (layers - 1)
        self.gmf_users = nn.Embedding(users, factors, sparse=sparse)
        self.gmf_items = nn.Embedding(items, factors, sparse=sparse)
        self.mlp_users = nn.Embedding(users, width, sparse=sparse)
        self.mlp_items = nn.Embedding(items, width, sparse=sparse)
        for e in (self.gmf_users, self.gmf_items, self.mlp_users, self.mlp_items):
            nn.init.normal_(e.weight, std=0.01)
        tower = []
        for l in range(layers, 0, -1):
            tower += [nn.Linear(factors * 2 ** l, factors * 2 ** (l - 1)), nn.ReLU()]
        self.tower = nn.Sequential(*tower)
        self.predict = nn.Linear(2 * factors, 1)

    def forward(self, u, i):
        gmf = self.gmf_users(u) * self.gmf_items(i)
        mlp = self.tower(torch.cat([self.mlp_users(u), self.mlp_items(i)], dim=1))
        return self.predict(torch.cat([gmf, mlp], dim=1)).squeeze(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("--factors", type=int, default=8)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--negatives", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42, help="torch/numpy seed; also recforge's run.seed for --candidates recforge")
    p.add_argument("--eval-negatives", type=int, default=99, help="sampled negatives per held-out item at evaluation")
    p.add_argument("--candidates", choices=["recforge", "numpy"], default="recforge",
                   help="recforge: the evaluation negatives recforge draws (the same lists on both sides); "
                        "numpy: its own draws")
    p.add_argument("--no-full-ranking", action="store_true", help="skip full-ranking Recall@10 (large catalogs)")
    p.add_argument("--optimizer", choices=["adam", "lazy_adam"], default="adam",
                   help="adam: dense Adam on every parameter (embedding rows keep moving by momentum); "
                        "lazy_adam: SparseAdam on the embeddings (only a batch's rows change, as in recforge), "
                        "Adam on the rest")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n_users, n_items, tu, ti, eu, ei = load(a.cache)
    positives = [set() for _ in range(n_users)]
    for u, i in zip(tu, ti):
        positives[u].add(i)
    positive_keys = np.unique(tu.astype(np.int64) * n_items + ti)
    lazy = a.optimizer == "lazy_adam"
    model = NeuMF(n_users, n_items, a.factors, a.layers, lazy)
    embeddings = [m.weight for m in (model.gmf_users, model.gmf_items, model.mlp_users, model.mlp_items)]
    dense = [q for q in model.parameters() if all(q is not e for e in embeddings)]
    optimizers = ([torch.optim.SparseAdam(embeddings, lr=a.lr), torch.optim.Adam(dense, lr=a.lr)] if lazy
                  else [torch.optim.Adam(model.parameters(), lr=a.lr)])
    loss_fn = nn.BCEWithLogitsLoss()
    per = 1 + a.negatives
    seconds = []
    for _ in range(a.epochs):
        start = time.perf_counter()
        # Vectorised draws, redrawing training positives (as recforge's sampler does).
        neg = rng.integers(0, n_items, size=(len(tu), a.negatives))
        bad = np.isin(tu[:, None].astype(np.int64) * n_items + neg, positive_keys)
        while bad.any():
            neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
            bad = np.isin(tu[:, None].astype(np.int64) * n_items + neg, positive_keys)
        users = torch.from_numpy(np.repeat(tu, per).astype(np.int64))
        items = torch.from_numpy(np.concatenate([ti[:, None], neg], axis=1).reshape(-1).astype(np.int64))
        labels = torch.from_numpy(np.tile(np.r_[1.0, np.zeros(a.negatives)], len(tu)).astype(np.float32))
        order = torch.from_numpy(rng.permutation(len(tu)))
        for b in range(0, len(tu), a.batch):
            rows = order[b:b + a.batch]
            idx = (rows[:, None] * per + torch.arange(per)).reshape(-1)
            for opt in optimizers:
                opt.zero_grad()
            loss = loss_fn(model(users[idx], items[idx]), labels[idx])
            loss.backward()
            for opt in optimizers:
                opt.step()
        seconds.append(time.perf_counter() - start)

    model.eval()
    with torch.no_grad():
        cand = draw_candidates(a.candidates, a.seed, n_users, tu, ti, eu, ei, n_items, a.eval_negatives)
        scores = model(torch.from_numpy(np.repeat(eu.astype(np.int64), cand.shape[1])),
                       torch.from_numpy(cand.reshape(-1))).numpy().reshape(cand.shape)
        hr, ndcg = hit_and_ndcg(sampled_ranks(scores, cand))
        recall = []
        all_items = torch.arange(n_items)
        for u, i in ([] if a.no_full_ranking else zip(eu, ei)):
            s = model(torch.full((n_items,), int(u)), all_items).numpy()
            s[list(positives[u])] = -np.inf
            top = np.argpartition(-s, 10)[:10]
            recall.append(i in top)
    print(json.dumps({"seconds_per_epoch": seconds, "examples": len(tu) * per, "hr@10": hr, "ndcg@10": ndcg,
                      "candidates": a.candidates, "optimizer": a.optimizer, "recall@10_full": float(np.mean(recall)) if recall else None}))


if __name__ == "__main__":
    main()
