"""LightGCN in PyTorch (CPU) on the split recforge prepared, for the
side-by-side benchmark (benchmarks/lightgcn/lightgcn_bench.sh).

The paper's model as its official code writes it: one embedding table of users
and items, the symmetric-normalised adjacency as a torch sparse tensor,
K propagations with torch.sparse.mm, the mean of the layers; BPR with one
uniformly drawn non-positive negative per positive and L2 reg / 2 on the
batch's layer-0 embeddings divided by the batch size; Adam. Times each epoch
(propagation per batch, as the official code), then evaluates Recall@20 by full
ranking with training items masked. Prints one JSON line.
"""
import argparse
import json
import time

import h5py
import numpy as np
import torch


def load(path):
    with h5py.File(path, "r") as f:
        users = len(f["ids/users"]) if "ids/users" in f else len(f["ids/users.offsets"]) - 1
        items = len(f["ids/items"]) if "ids/items" in f else len(f["ids/items.offsets"]) - 1
        return users, items, f["train/user"][:], f["train/item"][:], f["test/user"][:], f["test/item"][:]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--reg", type=float, default=1e-4)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0: all)")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n_users, n_items, tu, ti, eu, ei = load(a.cache)
    pairs = np.unique(tu.astype(np.int64) * n_items + ti)
    pu, pi = pairs // n_items, pairs % n_items
    nodes = n_users + n_items
    rows = np.concatenate([pu, n_users + pi])
    cols = np.concatenate([n_users + pi, pu])
    degree = np.bincount(rows, minlength=nodes).astype(np.float64)
    vals = 1.0 / np.sqrt(degree[rows] * degree[cols])
    graph = torch.sparse_coo_tensor(np.vstack([rows, cols]), vals.astype(np.float32), (nodes, nodes)).coalesce().to_sparse_csr()
    emb = torch.nn.Parameter(torch.randn(nodes, a.dim) * 0.1)
    opt = torch.optim.Adam([emb], lr=a.lr)

    def propagate(e0):
        layer, total = e0, e0
        for _ in range(a.layers):
            layer = graph @ layer
            total = total + layer
        return total / (a.layers + 1)

    seconds, steps_done = [], 0
    for _ in range(a.epochs):
        start = time.perf_counter()
        order = rng.permutation(len(tu))
        neg = rng.integers(0, n_items, size=len(tu))
        bad = np.isin(tu.astype(np.int64) * n_items + neg, pairs)
        while bad.any():
            neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
            bad = np.isin(tu.astype(np.int64) * n_items + neg, pairs)
        steps = 0
        for b in range(0, len(tu), a.batch):
            idx = order[b:b + a.batch]
            u = torch.from_numpy(tu[idx].astype(np.int64))
            i = torch.from_numpy(n_users + ti[idx].astype(np.int64))
            j = torch.from_numpy(n_users + neg[idx].astype(np.int64))
            e = propagate(emb)
            margin = (e[u] * e[i]).sum(1) - (e[u] * e[j]).sum(1)
            reg = 0.5 * (emb[u].pow(2).sum() + emb[i].pow(2).sum() + emb[j].pow(2).sum()) / len(idx)
            loss = torch.nn.functional.softplus(-margin).mean() + a.reg * reg
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if a.max_steps and steps >= a.max_steps:
                break
        seconds.append((time.perf_counter() - start) / steps)
        steps_done = steps
    with torch.no_grad():
        e = propagate(emb)
        users_e, items_e = e[:n_users], e[n_users:]
        test_users = np.unique(eu)
        relevant = {}
        for u, i in zip(eu, ei):
            relevant.setdefault(int(u), set()).add(int(i))
        seen = {}
        for u, i in zip(tu, ti):
            seen.setdefault(int(u), []).append(int(i))
        recall = []
        for start in range(0, len(test_users), 1024):
            block = test_users[start:start + 1024]
            scores = users_e[torch.from_numpy(block.astype(np.int64))] @ items_e.T
            for r, u in enumerate(block):
                scores[r, seen.get(int(u), [])] = -float("inf")
            top = torch.topk(scores, 20, dim=1).indices.numpy()
            for r, u in enumerate(block):
                rel = relevant[int(u)]
                recall.append(len(rel & set(top[r].tolist())) / len(rel))
    print(json.dumps({"seconds_per_step": seconds, "steps": steps_done, "batch": a.batch,
                      "recall@20": float(np.mean(recall))}))


if __name__ == "__main__":
    main()
