"""SASRec in PyTorch (CPU) on the split recforge prepared, for the side-by-side
benchmark (benchmarks/sasrec/sasrec_bench.sh).

The same architecture as plugins/sasrec (Kang & McAuley 2018, as
framework/src/nn/layers.cpp builds it): x = E[item] sqrt(d) + P[position],
dropout, padding rows zeroed; `blocks` pre-norm blocks, each
  h = x + Out(causal attention(Q(LN(x)), K(x), V(x)))   (dropout on the weights;
                                                         padding keys masked, as the paper's code)
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
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "peers"))
from recforge_eval import draw_candidates, load, sampled_ranks  # noqa: E402


class Block(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention_norm = nn.LayerNorm(dim, eps=1e-8)
        self.q, self.v, self.out = (nn.Linear(dim, dim) for _ in range(3))
        self.k = nn.Linear(dim, dim, bias=False)  # a key bias cancels in the softmax (as recforge)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.ffn1, self.ffn2 = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x, real):  # real: (b, l), the positions holding an item
        b, l, d = x.shape
        p = self.dropout if self.training else 0.0

        def split(t):  # (b, l, d) -> (b, heads, l, d / heads)
            return t.view(b, l, self.heads, d // self.heads).transpose(1, 2)

        # An item attends to itself and the items before it, not to padding; a
        # padding row (never read) keeps the causal mask, so its softmax has keys.
        causal = torch.ones(l, l, dtype=torch.bool, device=x.device).tril()
        allowed = causal & (real[:, None, :] | ~real[:, :, None])
        # Queries from the normalised input, keys and values from the input itself.
        a = F.scaled_dot_product_attention(split(self.q(self.attention_norm(x))), split(self.k(x)), split(self.v(x)),
                                           attn_mask=allowed[:, None], dropout_p=p)
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
        real = ids != 0
        keep = real.unsqueeze(-1).to(torch.float32)
        x = self.items(ids) * math.sqrt(self.dim) + self.positions
        x = F.dropout(x, self.dropout, self.training) * keep
        for block in self.blocks:
            x = block(x, real) * keep
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
    """Rank of column 0 of each candidate row for user eu[r] (recforge's tie rule)."""
    model.eval()
    out = np.empty(len(eu), dtype=np.int64)
    with torch.no_grad():
        for b in range(0, len(eu), 256):
            rows = slice(b, b + 256)
            vec = model(torch.from_numpy(history[eu[rows].astype(np.int64)]))[:, -1, :]
            c = torch.from_numpy(cand[rows])
            out[rows] = sampled_ranks((model.items(c + 1) * vec[:, None, :]).sum(-1).numpy(), cand[rows])
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
    cand = draw_candidates(a.candidates, a.seed, n_users, tu, ti, eu, ei, n_items, a.negatives)
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
