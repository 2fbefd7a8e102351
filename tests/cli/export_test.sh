#!/usr/bin/env bash
# `recforge export` end to end: an ALS run on the tiny preset, exported from
# its run directory; NumPy reads the .npy files and they equal the newest
# checkpoint's /serving embeddings as h5py reads them, the id files match the
# checkpoint's id maps row for row, export.json names that version. Then the
# errors: an existing output, a directory without checkpoints, a missing one,
# and a model without dot-product embeddings (NeuMF); none leaves anything behind.
#   export_test.sh <recforge binary>
set -uo pipefail
bin=${1:?recforge binary}
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/testing/job_test_env.sh
source tests/testing/job_test_env.sh export

"$bin" train configs/als_tiny.yaml --set run.output_dir="$work" >"$work/out" 2>&1 || fail "training"
"$bin" export "$work/als_tiny" -o "$work/exported" >"$work/out" 2>&1 || fail "export"
grep -q "^exported step-" "$work/out" || fail "no summary line"
/usr/bin/python3 - "$work/als_tiny/checkpoints" "$work/exported" <<'PY' || exit 1
import json, os, sys
import h5py, numpy as np
ckpt_dir, out = sys.argv[1], sys.argv[2]
version = open(os.path.join(ckpt_dir, "LATEST")).read().strip()
summary = json.load(open(os.path.join(out, "export.json")))
assert summary["version"] == version, (summary, version)
assert sorted(os.listdir(out)) == ["export.json", "item_embeddings.npy", "items.txt", "user_embeddings.npy", "users.txt"]
with h5py.File(os.path.join(ckpt_dir, version, "checkpoint.h5"), "r") as f:
    for side in ("user", "item"):
        exported = np.load(os.path.join(out, f"{side}_embeddings.npy"))
        stored = f[f"/serving/{side}_embeddings"][...]
        assert exported.dtype == np.float32 and exported.shape == stored.shape, (side, exported.shape, stored.shape)
        assert np.array_equal(exported, stored), side
        ids = open(os.path.join(out, f"{side}s.txt")).read().split("\n")[:-1]
        assert len(ids) == exported.shape[0] == summary[f"{side}s"], (side, len(ids), exported.shape)
        assert ids == [str(i) for i in f[f"/ids/{side}s"][...]], side
    assert summary["dim"] == 16 and summary["model"] == "als" and summary["item_bias_columns"] == 0
print("ok: embeddings, ids and summary match", version)
PY

"$bin" export "$work/als_tiny/checkpoints" -o "$work/nested/again/" >"$work/out" 2>&1 || fail "export to dir/"
cmp "$work/exported/item_embeddings.npy" "$work/nested/again/item_embeddings.npy" || fail "a second export differs"
expect_error 2 "already exists; export writes a new directory" "$bin" export "$work/als_tiny" -o "$work/exported"
mkdir -p "$work/empty"
expect_error 2 "has no loadable checkpoint version" "$bin" export "$work/empty" -o "$work/none"
expect_error 2 "checkpoint directory '$work/nope' does not exist" "$bin" export "$work/nope" -o "$work/none"
# NeuMF scores with its MLP: there are no embeddings whose dot product ranks.
"$bin" train configs/ncf_tiny.yaml --set run.output_dir="$work" --set train.epochs=1 >"$work/out" 2>&1 ||
  fail "NCF training"
expect_error 1 "model stores no user and item embeddings to export" "$bin" export "$work/ncf_tiny" -o "$work/none"
[ ! -e "$work/none" ] && [ -z "$(find "$work" -maxdepth 1 -name '*.tmp-*')" ] || fail "a failed export left files behind"
echo "ok: export round trip and its errors"
