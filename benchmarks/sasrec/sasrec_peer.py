"""SASRec in PyTorch (CPU) on the split recforge prepared, for the side-by-side
benchmark (benchmarks/sasrec/sasrec_bench.sh).

The same architecture as plugins/sasrec (Kang & McAuley 2018, as
framework/src/nn/layers.cpp builds it): x = E[item] sqrt(d) + P[position],
dropout, padding rows zeroed; `blocks` pre-norm blocks, each
  h = x + Out(causal attention(Q(LN(x)), K(x), V(x)))   (dropout on the weights)
  y = h + dropout(W2 dropout(relu(W1 LN(h))))
with padding rows zeroed after it; a final LayerNorm (every LayerNorm eps 1e-8).
Item embeddings (row 0: padding) are shared by input and prediction; embeddings
and positions N(0, 0.02), Linear layers with bias (but the keys': it cancels
in the softmax) and PyTorch's default initialisation (U(+-1/sqrt(in)), as recforge's). Loss: BCE of h_t . E[s_(t+1)]
(label 1) and h_t . E[j] (label 0) for one uniformly drawn non-positive j per
position, summed over non-padding positions and divided by their number; Adam
(0.9, 0.98). A batch is `batch` users, all users an epoch.

Times each epoch (shuffle and negative sampling included), then evaluates the
paper's protocol: each held-out (test) interaction ranked among 100 negatives
the user has in neither train nor test, the user's vector being the last
position's output over their training sequence (latest max_len items). With
--candidates recforge (the default) the negatives are recforge's own draws
(Philox 4x32-10 of (run seed, held-out row), as plugins/ranking draws them), so
both sides rank against the same candidates; --candidates numpy draws its own.
Ties follow recforge: a negative with an equal score and a smaller item id
ranks above the positive. Prints one JSON line.
"""
import argparse
import json
import math
import statistics
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def load(path):
    with h5py.File(path, "r") as f:
        users = len(f["ids/users"]) if "ids/users" in f else len(f["ids/users.offsets"]) - 1
        items = len(f["ids/items"]) if "ids/items" in f else len(f["ids/items.offsets"]) - 1
        return users, items, f["train/user"][:], f["train/item"][:], f["test/user"][:], f["test/item"][:]


# Philox 4x32-10 as framework/include/recforge/core/philox.hpp writes it: word i
# of stream (seed, stream_id) is word i % 4 of the block function of counter
# (i / 4, stream_id) under key seed. Vectorised over indices (uint64 arithmetic).
M32 = np.uint64(0xFFFFFFFF)


def philox_words(seed, stream, index):
    index = np.asarray(index, dtype=np.uint64)
    block = index >> np.uint64(2)
    x0, x1 = block & M32, block >> np.uint64(32)
    x2 = np.full_like(block, stream & 0xFFFFFFFF)
    x3 = np.full_like(block, stream >> 32)
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * x0
        p1 = np.uint64(0xCD9E8D57) * x2
        x0, x1, x2, x3 = ((p1 >> np.uint64(32)) ^ x1 ^ np.uint64(k0), p1 & M32,
                          (p0 >> np.uint64(32)) ^ x3 ^ np.uint64(k1), p0 & M32)
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.choose((index & np.uint64(3)).astype(np.int64), [x0, x1, x2, x3])


# Random123's first known answer (counter 0, key 0), as tests/core/philox_test.cpp.
assert int(philox_words(0, 0, [0])[0]) == 0x6627E8D5 and int(philox_words(0, 0, [3])[0]) == 0x9B00DBD8


def excluded_items(n_users, tu, ti, eu, ei):
    """Per user, the items no negative may be: train and test items."""
    excluded = [set() for _ in range(n_users)]
    for u, i in zip(np.concatenate([tu, eu]).tolist(), np.concatenate([ti, ei]).tolist()):
        excluded[u].add(i)
    return excluded


def recforge_candidates(seed, eu, ei, excluded, n_items, negatives):
    """plugins/ranking's sampled candidates: row r = [held-out item, `negatives`
    draws philox_below(seed, kEvalNegatives stream, (r << 20) + k, items), each
    redrawn (up to 1000 tries) while the user has it in train or test]."""
    stream = 6 << 32  # rng_stream(RngPurpose::kEvalNegatives)
    out = np.empty((len(eu), negatives + 1), dtype=np.int64)
    for r, (u, i) in enumerate(zip(eu, ei)):
        base, draws, used = r << 20, np.empty(0, dtype=np.int64), 0
        seen = excluded[int(u)]
        out[r, 0] = i
        for j in range(1, negatives + 1):
            for _ in range(1000):
                if used == len(draws):  # draw the next chunk of the row's stream
                    idx = np.arange(base + len(draws), base + len(draws) + 4 * negatives, dtype=np.uint64)
                    more = (philox_words(seed, stream, idx) * np.uint64(n_items)) >> np.uint64(32)
                    draws = np.concatenate([draws, more.astype(np.int64)])
                item = int(draws[used])
                used += 1
                if item not in seen:
                    break
            out[r, j] = item
    return out


def numpy_candidates(seed, eu, ei, excluded, n_items, negatives):
    rng = np.random.default_rng(seed)
    out = np.empty((len(eu), negatives + 1), dtype=np.int64)
    for r, (u, i) in enumerate(zip(eu, ei)):
        out[r, 0] = i
        seen = excluded[int(u)]
        for j in range(1, negatives + 1):
            item = int(rng.integers(0, n_items))
            while item in seen:
                item = int(rng.integers(0, n_items))
            out[r, j] = item
    return out


class Block(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention_norm = nn.LayerNorm(dim, eps=1e-8)
        self.q, self.v, self.out = (nn.Linear(dim, dim) for _ in range(3))
        self.k = nn.Linear(dim, dim, bias=False)  # a key bias cancels in the softmax (as recforge)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.ffn1, self.ffn2 = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, l, d = x.shape
        p = self.dropout if self.training else 0.0

        def split(t):  # (b, l, d) -> (b, heads, l, d / heads)
            return t.view(b, l, self.heads, d // self.heads).transpose(1, 2)

        # Queries from the normalised input, keys and values from the input itself.
        a = F.scaled_dot_product_attention(split(self.q(self.attention_norm(x))), split(self.k(x)), split(self.v(x)),
                                           dropout_p=p, is_causal=True)
        h = x + self.out(a.transpose(1, 2).reshape(b, l, d))
        f = self.ffn2(F.dropout(F.relu(self.ffn1(self.ffn_norm(h))), p, self.training))
        return h + F.dropout(f, p, self.training)


class SasRec(nn.Module):
    def __init__(self, items, dim, blocks, heads, max_len, dropout, sparse):
        super().__init__()
        self.dim, self.dropout = dim, dropout
        self.items = nn.Embedding(items + 1, dim, sparse=sparse)  # row 0: padding
        nn.init.normal_(self.items.weight, std=0.02)
        self.positions = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(blocks))
        self.final_norm = nn.LayerNorm(dim, eps=1e-8)

    def forward(self, ids):  # (b, L) padded item ids -> (b, L, d)
        keep = (ids != 0).unsqueeze(-1).to(torch.float32)
        x = self.items(ids) * math.sqrt(self.dim) + self.positions
        x = F.dropout(x, self.dropout, self.training) * keep
        for block in self.blocks:
            x = block(x) * keep
        return self.final_norm(x)


def sequences(n_users, tu, ti, L):
    """Per user: training inputs seq[t] + 1 and targets seq[t + 1] + 1 (the latest
    L pairs), and the latest L items for evaluation; right-aligned, 0-padded."""
    # Rows are in (user, time) order: a stable sort by user keeps each user's order.
    order = np.argsort(tu, kind="stable")
    tu, ti = tu[order], ti[order]
    starts = np.searchsorted(tu, np.arange(n_users + 1))
    inputs = np.zeros((n_users, L), dtype=np.int64)
    targets = np.zeros((n_users, L), dtype=np.int64)
    history = np.zeros((n_users, L), dtype=np.int64)
    for u in range(n_users):
        seq = ti[starts[u]:starts[u + 1]].astype(np.int64) + 1
        pairs = min(L, len(seq) - 1)
        if pairs > 0:
            inputs[u, L - pairs:] = seq[len(seq) - 1 - pairs:-1]
            targets[u, L - pairs:] = seq[len(seq) - pairs:]
        n = min(L, len(seq))
        if n > 0:
            history[u, L - n:] = seq[len(seq) - n:]
    return inputs, targets, history


def ranks(model, history, eu, cand):
    """Rank of column 0 of each candidate row for user eu[r]: 1 + the negatives
    with a higher score, or an equal one and a smaller item id (recforge's rule)."""
    model.eval()
    out = np.empty(len(eu), dtype=np.int64)
    with torch.no_grad():
        for b in range(0, len(eu), 256):
            rows = slice(b, b + 256)
            vec = model(torch.from_numpy(history[eu[rows].astype(np.int64)]))[:, -1, :]
            c = torch.from_numpy(cand[rows])
            s = (model.items(c + 1) * vec[:, None, :]).sum(-1)
            above = (s[:, 1:] > s[:, :1]) | ((s[:, 1:] == s[:, :1]) & (c[:, 1:] < c[:, :1]))
            out[rows] = 1 + above.sum(1).numpy()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cache")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--max-len", type=int, default=200)
    p.add_argument("--dim", type=int, default=50)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--heads", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0: all)")
    p.add_argument("--seed", type=int, default=42,
                   help="torch/numpy seed; also recforge's run.seed for --candidates recforge")
    p.add_argument("--negatives", type=int, default=100, help="sampled negatives per held-out item at evaluation")
    p.add_argument("--candidates", choices=["recforge", "numpy"], default="recforge",
                   help="recforge: the evaluation negatives recforge draws (the same lists on both sides); "
                        "numpy: its own draws")
    p.add_argument("--optimizer", choices=["adam", "lazy_adam"], default="adam",
                   help="adam: dense Adam on every parameter; lazy_adam: SparseAdam on the item embeddings (only a "
                        "batch's rows change, as in recforge), Adam on the rest")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n_users, n_items, tu, ti, eu, ei = load(a.cache)
    L = a.max_len

    tu, ti = tu.astype(np.int64), ti.astype(np.int64)
    inputs, targets, history = sequences(n_users, tu, ti, L)
    positive_keys = np.unique(tu * n_items + ti)

    lazy = a.optimizer == "lazy_adam"
    model = SasRec(n_items, a.dim, a.blocks, a.heads, L, a.dropout, lazy)
    betas = (0.9, 0.98)
    dense = [q for q in model.parameters() if q is not model.items.weight]
    optimizers = ([torch.optim.SparseAdam([model.items.weight], lr=a.lr, betas=betas),
                   torch.optim.Adam(dense, lr=a.lr, betas=betas)] if lazy
                  else [torch.optim.Adam(model.parameters(), lr=a.lr, betas=betas)])

    seconds, trained, losses, steps = [], 0, [], 0
    for _ in range(a.epochs):
        model.train()
        start = time.perf_counter()
        perm = rng.permutation(n_users)
        steps, trained, loss_sum, positions = 0, 0, 0.0, 0
        for b in range(0, n_users, a.batch):
            users = perm[b:b + a.batch]
            # One uniform non-positive negative per position, redrawing training positives.
            neg = rng.integers(0, n_items, size=(len(users), L))
            keys = users[:, None] * n_items + neg
            bad = np.isin(keys, positive_keys)
            while bad.any():
                neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
                bad = np.isin(users[:, None] * n_items + neg, positive_keys)
            inp = torch.from_numpy(inputs[users])
            tgt = torch.from_numpy(targets[users])
            h = model(inp)
            pos_logits = (h * model.items(tgt)).sum(-1)
            neg_logits = (h * model.items(torch.from_numpy(neg + 1))).sum(-1)
            weight = (tgt != 0).to(torch.float32)
            count = int(weight.sum())
            loss = ((F.softplus(-pos_logits) + F.softplus(neg_logits)) * weight).sum() / max(1, count)
            for opt in optimizers:
                opt.zero_grad()
            loss.backward()
            for opt in optimizers:
                opt.step()
            loss_sum += loss.item() * count
            positions += count
            steps += 1
            trained += len(users)
            if a.max_steps and steps >= a.max_steps:
                break
        seconds.append(time.perf_counter() - start)
        losses.append(loss_sum / max(1, positions))

    # Evaluation: candidates are [held-out item, negatives...] per test row.
    draw = recforge_candidates if a.candidates == "recforge" else numpy_candidates
    cand = draw(a.seed, eu, ei, excluded_items(n_users, tu, ti, eu, ei), n_items, a.negatives)
    rank = ranks(model, history, eu, cand)
    hit = rank <= 10
    ndcg = np.where(hit, 1.0 / np.log2(rank + 1), 0.0)
    print(json.dumps({"seconds_per_epoch": seconds, "sequences_per_epoch": trained, "steps_per_epoch": steps,
                      "sequences_per_s": trained / statistics.median(seconds) if seconds else None,
                      "loss_per_epoch": losses, "hr@10": float(hit.mean()) if len(hit) else None,
                      "ndcg@10": float(ndcg.mean()) if len(hit) else None,
                      "eval_rows": int(len(eu)), "candidates": a.candidates, "optimizer": a.optimizer,
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
