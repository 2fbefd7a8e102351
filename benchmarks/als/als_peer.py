"""The `implicit` package's CPU ALS on the split recforge prepared, for the side
by side benchmark (benchmarks/als/als_bench.sh).

Reads the dataset cache (HDF5, layout in framework/README.md), fits implicit's
AlternatingLeastSquares with conjugate gradient and the given hyper-parameters,
times each iteration, and evaluates Recall/NDCG@K on the test split with the
definitions of plugins/ranking/README.md (training items masked, ties to the
smaller item id). Prints one JSON line.
"""
import argparse
import json
import h5py
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


def load(path):
    with h5py.File(path, "r") as f:
        users = len(f["ids/users"]) if "ids/users" in f else len(f["ids/users.offsets"]) - 1
        items = len(f["ids/items"]) if "ids/items" in f else len(f["ids/items.offsets"]) - 1
        train = sp.csr_matrix((np.ones(len(f["train/user"]), dtype=np.float32), (f["train/user"][:], f["train/item"][:])),
                              shape=(users, items))
        train.sum_duplicates()
        train.data[:] = 1.0
        test_user, test_item = f["test/user"][:], f["test/item"][:]
    return train, test_user, test_item


def evaluate(user_factors, item_factors, train, test_user, test_item, k):
    test = sp.csr_matrix((np.ones(len(test_user)), (test_user, test_item)), shape=train.shape)
    test.sum_duplicates()
    users = np.unique(test_user)
    recall, ndcg = [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for start in range(0, len(users), 2048):
        block = users[start:start + 2048]
        scores = user_factors[block] @ item_factors.T
        for row, u in enumerate(block):
            scores[row, train.indices[train.indptr[u]:train.indptr[u + 1]]] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        for row, u in enumerate(block):
            candidates = top[row]
            order = np.lexsort((candidates, -scores[row, candidates]))
            ranked = candidates[order]
            relevant = set(test.indices[test.indptr[u]:test.indptr[u + 1]].tolist())
            hits = np.array([i in relevant for i in ranked], dtype=np.float64)
            recall.append(hits.sum() / len(relevant))
            ideal = discounts[:min(len(relevant), k)].sum()
            ndcg.append((hits * discounts).sum() / ideal)
    return float(np.mean(recall)), float(np.mean(ndcg))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cache")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--reg", type=float, default=0.01)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--cg-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()
    from implicit.cpu.als import AlternatingLeastSquares

    train, test_user, test_item = load(args.cache)
    # implicit's own advice: its solver threads are OpenMP, BLAS (only for YtY) single-threaded.
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(factors=args.factors, regularization=args.reg, alpha=args.alpha,
                                        iterations=args.iterations, use_cg=True, num_threads=args.threads,
                                        random_state=42, calculate_training_loss=False)
        model.cg_steps = args.cg_steps  # an attribute, not a constructor argument, in implicit 0.7
        times = []
        model.fit(train, show_progress=False, callback=lambda iteration, elapsed, loss: times.append(elapsed))
        recall, ndcg = evaluate(model.user_factors, model.item_factors, train, test_user, test_item, args.k)
    print(json.dumps({"seconds_per_iteration": times, "recall": recall, "ndcg": ndcg}))


if __name__ == "__main__":
    main()
