"""What the PyTorch peers (benchmarks/*/*_peer.py) share with recforge so that
both sides are judged on the same data and the same candidates:

  load                 the split recforge prepared (its HDF5 dataset cache)
  recforge_candidates  plugins/ranking's sampled-protocol negatives, drawn with
                       recforge's Philox 4x32-10 streams (the same lists on both sides)
  numpy_candidates     the peer's own draws (to see the sampling noise)
  sampled_ranks        rank of the held-out item among its candidates with
                       recforge's tie rule
"""
import sys

import h5py
import numpy as np


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
    """Per user, the items no negative may be: train and test items. (With a
    validation split recforge also excludes its items when scoring the test
    split; the peers' configs have none, and load() reads train and test only.)"""
    excluded = [set() for _ in range(n_users)]
    for u, i in zip(np.concatenate([tu, eu]).tolist(), np.concatenate([ti, ei]).tolist()):
        excluded[u].add(i)
    return excluded


def recforge_candidates(seed, eu, ei, excluded, n_items, negatives):
    """plugins/ranking's sampled candidates: row r = [held-out item, `negatives`
    draws philox_below(seed, kEvalNegatives stream, (r << 32) + k, items), each
    redrawn (up to 1000 tries) while the user has it in train or test]."""
    stream = 6 << 32  # rng_stream(RngPurpose::kEvalNegatives)
    out = np.empty((len(eu), negatives + 1), dtype=np.int64)
    for r, (u, i) in enumerate(zip(eu, ei)):
        base, draws, used = r << 32, np.empty(0, dtype=np.int64), 0
        seen = excluded[int(u)]
        out[r, 0] = i
        left = None  # the user's unknown items, listed only when rejection keeps failing
        for j in range(1, negatives + 1):
            item = -1
            for _ in range(1000):
                if used == len(draws):  # draw the next chunk of the row's stream
                    idx = np.arange(base + len(draws), base + len(draws) + 4 * negatives, dtype=np.uint64)
                    more = (philox_words(seed, stream, idx) * np.uint64(n_items)) >> np.uint64(32)
                    draws = np.concatenate([draws, more.astype(np.int64)])
                drawn = int(draws[used])
                used += 1
                if drawn not in seen:
                    item = drawn
                    break
            if item < 0:  # uniform over the unknown items, with the row's next counter
                if left is None:
                    left = [k for k in range(n_items) if k not in seen]
                if not left:
                    sys.exit(f"user {int(u)} has every item in training or held out: no negative can be drawn")
                word = philox_words(seed, stream, np.array([base + used], dtype=np.uint64))[0]
                item = left[int((word * np.uint64(len(left))) >> np.uint64(32))]
                used += 1  # (draws[k] is counter base + k: the next draw follows this one)
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



def draw_candidates(kind, seed, n_users, tu, ti, eu, ei, n_items, negatives):
    """[held-out item, `negatives` negatives] per test row; kind: recforge or numpy."""
    draw = recforge_candidates if kind == "recforge" else numpy_candidates
    return draw(seed, eu, ei, excluded_items(n_users, tu, ti, eu, ei), n_items, negatives)


def sampled_ranks(scores, cand):
    """scores[r, j]: the model's score of cand[r, j]; column 0 is the held-out
    item. Rank = 1 + the negatives with a higher score, or an equal one and a
    smaller item id (recforge's rule, plugins/ranking)."""
    s, c = np.asarray(scores), np.asarray(cand)
    above = (s[:, 1:] > s[:, :1]) | ((s[:, 1:] == s[:, :1]) & (c[:, 1:] < c[:, :1]))
    return 1 + above.sum(axis=1)


def hit_and_ndcg(rank, k=10):
    hit = rank <= k
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(rank + 1), 0.0).mean())
