#!/usr/bin/env python3
"""Reads recforge checkpoints with h5py, outside recforge (tests and scripts).

  checkpoint_tool.py layout DIR         check the newest version against the documented
                                        layout (framework/README.md, "Checkpoint format")
  checkpoint_tool.py same-params [--ignore-step] A B
                                        the newest versions of A and B hold bit-identical
                                        parameters and optimizer state (at the same step)
  checkpoint_tool.py latest DIR         print the newest version's path
  checkpoint_tool.py verify DIR         every committed version: files match MANIFEST.json
                                        (size, SHA-256), every dataset reads and holds only
                                        finite floats; prints the number of versions and
                                        the newest step
"""
import hashlib
import json
import os
import re
import sys

import h5py
import numpy as np

VERSION = re.compile(r"^step-\d{10}$")


def newest(directory):
    versions = sorted(v for v in os.listdir(directory)
                      if VERSION.match(v) and os.path.isfile(os.path.join(directory, v, "MANIFEST.json")))
    if not versions:
        sys.exit(f"no committed version in {directory}")
    return os.path.join(directory, versions[-1])


def text(value):
    """Strings are fixed-length UTF-8 attributes: h5py returns them as bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def check_layout(directory):
    version = newest(directory)
    manifest = json.load(open(os.path.join(version, "MANIFEST.json")))
    path = os.path.join(version, "checkpoint.h5")
    data = open(path, "rb").read()
    entry = manifest["files"]["checkpoint.h5"]
    if entry["bytes"] != len(data) or entry["sha256"] != hashlib.sha256(data).hexdigest():
        fail(f"{path}: size or SHA-256 differs from MANIFEST.json")
    if manifest["format"] != "recforge-checkpoint-manifest" or manifest["step"] != int(version[-10:]):
        fail(f"{version}: manifest format or step")
    with h5py.File(path, "r") as f:
        attrs = f.attrs
        model_type = text(attrs["model_type"])
        for name in ["format", "format_version", "model_type", "recforge_version", "git_revision", "created",
                     "world_size", "seed", "dataset_name", "dataset_fingerprint", "config"]:
            if name not in attrs:
                fail(f"root attribute {name} missing")
        if text(attrs["format"]) != "recforge-checkpoint" or attrs["format_version"] != manifest["format_version"]:
            fail("format attributes")
        if text(attrs["model_type"]) != manifest["model_type"]:
            fail("model_type differs between the file and the manifest")
        users = f["ids/users"] if "ids/users" in f else f["ids/users.offsets"]
        n_users = len(users) if "ids/users" in f else len(users) - 1
        n_items = len(f["ids/items"]) if "ids/items" in f else len(f["ids/items.offsets"]) - 1
        for name, dataset in f["params"].items():
            if dataset.dtype != np.float32 or text(dataset.attrs["kind"]) not in ("dense", "embedding"):
                fail(f"/params/{name}: dtype {dataset.dtype}, kind {dataset.attrs.get('kind')}")
            if dataset.chunks is None or not dataset.fletcher32:
                fail(f"/params/{name} is not chunked with Fletcher32")
            if not np.all(np.isfinite(dataset[...])):
                fail(f"/params/{name} holds non-finite values")
        for group in ["data", "rng", "train"]:
            if group not in f:
                fail(f"/{group} missing")
        for name in ["epoch", "step_in_epoch", "global_step"]:
            if name not in f["data"].attrs:
                fail(f"/data@{name} missing")
        if f["data"].attrs["global_step"] != manifest["step"]:
            fail("/data@global_step differs from the manifest's step")
        seen_offsets = f["serving/seen/offsets"][...]
        seen_items = f["serving/seen/items"][...]
        popularity = f["serving/item_popularity"][...]
        if len(seen_offsets) != n_users + 1 or seen_offsets[-1] != len(seen_items) or np.any(np.diff(seen_offsets) < 0):
            fail("/serving/seen is not a CSR index over the users")
        if len(popularity) != n_items or popularity.sum() != len(seen_items):
            fail("/serving/item_popularity does not count the training interactions")
        if text(f["serving"].attrs["scorer"]) == "dot":
            u, i = f["serving/user_embeddings"], f["serving/item_embeddings"]
            if u.shape[0] != n_users or i.shape[0] != n_items or u.shape[1] != i.shape[1]:
                fail(f"serving embeddings {u.shape} and {i.shape}")
        metrics = dict(f["metrics"].attrs)
        for name, value in manifest["metrics"].items():
            if abs(metrics[name] - value) > 1e-12:
                fail(f"metric {name}: {metrics[name]} in the file, {value} in the manifest")
    print(f"ok: {path} ({model_type}, {n_users} users, {n_items} items, step {manifest['step']})")


def same_params(a, b, ignore_step=False):
    pa, pb = os.path.join(newest(a), "checkpoint.h5"), os.path.join(newest(b), "checkpoint.h5")
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        names = []
        fa.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) and
                      name.split("/")[0] in ("params", "optimizer") else None)
        if not names:
            fail(f"{pa} has no parameters")
        for name in names:
            if name not in fb:
                fail(f"{pb} lacks {name}")
            x, y = fa[name][...], fb[name][...]
            if x.shape != y.shape or x.tobytes() != y.tobytes():
                diff = np.max(np.abs(x.astype(np.float64) - y.astype(np.float64))) if x.shape == y.shape else "shape"
                fail(f"{name} differs between {pa} and {pb} (max |diff| {diff})")
        if not ignore_step and fa["data"].attrs["global_step"] != fb["data"].attrs["global_step"]:
            fail("the final steps differ")
    print(f"identical: {len(names)} arrays of {pa} and {pb}")


def verify(directory):
    versions = sorted(v for v in os.listdir(directory)
                      if VERSION.match(v) and os.path.isfile(os.path.join(directory, v, "MANIFEST.json")))
    if not versions:
        fail(f"no committed version in {directory}")
    for v in versions:
        version = os.path.join(directory, v)
        manifest = json.load(open(os.path.join(version, "MANIFEST.json")))
        for name, entry in manifest["files"].items():
            data = open(os.path.join(version, name), "rb").read()
            if entry["bytes"] != len(data) or entry["sha256"] != hashlib.sha256(data).hexdigest():
                fail(f"{version}/{name}: size or SHA-256 differs from MANIFEST.json")
        with h5py.File(os.path.join(version, "checkpoint.h5"), "r") as f:
            bad = []
            f.visititems(lambda name, obj: bad.append(name) if isinstance(obj, h5py.Dataset) and
                         obj.dtype.kind == "f" and not np.all(np.isfinite(obj[...])) else None)
            if bad:
                fail(f"{version}: non-finite values in {', '.join(bad)}")
            if f["data"].attrs["global_step"] != manifest["step"]:
                fail(f"{version}: the file's step differs from the manifest's")
    print(f"verified {len(versions)} versions, newest {versions[-1]}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "layout" and len(sys.argv) == 3:
        check_layout(sys.argv[2])
    elif command == "same-params" and len(sys.argv) == 4:
        same_params(sys.argv[2], sys.argv[3])
    elif command == "same-params" and len(sys.argv) == 5 and sys.argv[2] == "--ignore-step":
        same_params(sys.argv[3], sys.argv[4], ignore_step=True)
    elif command == "latest" and len(sys.argv) == 3:
        print(newest(sys.argv[2]))
    elif command == "verify" and len(sys.argv) == 3:
        verify(sys.argv[2])
    else:
        sys.exit(__doc__)
