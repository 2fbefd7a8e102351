#!/usr/bin/env python3
"""RELIABILITY I1, generated: mutants of every config key.

The references are the shipped *_tiny configs resolved with every default
(`recforge config show`); together they hold every key the schema documents
(`recforge config keys`, the source of each key's type, default and range).
For each key of a reference:
  deleted       the key (with its block) removed
  typo          its name with one letter changed
  duplicated    the key (with its block) given twice
  wrong_type    a value of another type (a section given a scalar)
  out_of_range  just outside the documented bounds, choices, item ranges or list
                lengths, where documented
  non_finite    nan, for numbers
  nested        moved one level deeper, under a key of its own name
  extra         (sections) an unknown key added
Each mutant either loads with the documented default (a deleted optional key)
or fails with exit code 2 and a message giving file:line and the key's path;
typos get a did-you-mean naming the original. Base keys are mutated in the first
reference, model and eval keys in every one.

Then, through mpirun -np 2 `recforge train` (RF_FAULT delays the job abort so
that every rank is heard): one rejected mutant of each kind gives the same
decision on both ranks and exit 2; and two ranks started with configs that differ
in one value stop at the config hash check, before any data is read.

Usage: config_mutation_test.py RECFORGE [--every N] [--no-mpirun]  (N: run every Nth mutant)
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIRED = {"model.type", "eval.type"}  # a plugin section names its plugin
KEY_ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+?) \| `(.*?)` \| (.*) \|$")
YAML_LINE = re.compile(r"^( *)([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$")


class Key:
    def __init__(self, path, type_, default, description):
        self.path, self.type, self.default, self.description = path, type_, default, description


def documented_keys(recforge):
    """{(plugin section, plugin type) or None: {path: Key}} from `config keys`."""
    text = subprocess.run([recforge, "config", "keys"], capture_output=True, text=True, check=True).stdout
    tables, current = {None: {}}, None
    for line in text.splitlines():
        heading = re.match(r"^### (\w+)\.type: (\w+)$", line)
        if heading:
            current = (heading.group(1), heading.group(2))
            tables[current] = {}
            continue
        row = KEY_ROW.match(line)
        if row:
            tables[current][row.group(1)] = Key(row.group(1), row.group(2), row.group(3), row.group(4))
    assert len(tables[None]) > 50 and len(tables) > 5, f"`config keys` parsed into too little: {list(tables)}"
    return tables


class Entry:
    """One key of a block-style yaml: its dotted path, 0-based line, indent,
    name, scalar value (None for a section) and the end of its block."""

    def __init__(self, path, line, indent, name, value):
        self.path, self.line, self.indent, self.name, self.value, self.end = path, line, indent, name, value, None

    @property
    def parent(self):
        return self.path.rpartition(".")[0]


def entries_of(text):
    lines, entries, stack = text.split("\n"), [], []
    for n, line in enumerate(lines):
        m = YAML_LINE.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1].indent >= indent:
            stack.pop().end = n
        path = ".".join([e.name for e in stack] + [m.group(2)])
        entry = Entry(path, n, indent, m.group(2), m.group(3))
        entries.append(entry)
        stack.append(entry)
    last = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
    for entry in stack:
        entry.end = last
    return lines, entries


def normalised(value):
    value = (value or "").strip()
    if value in ("(none)", "(see type)", "~", "null"):  # a plugin section given no type is absent
        return "~"
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    try:
        return repr(float(value))
    except ValueError:
        return value


class Mutant:
    def __init__(self, kind, entry, lines, error_lines=(), needles=(), default_check=None):
        self.kind, self.entry, self.text = kind, entry, "\n".join(lines) + "\n"
        self.error_lines, self.needles, self.default_check = error_lines, needles, default_check
        self.file = None


RANGES = ((r"an integer in \[(-?\d+), (-?\d+)\]", int), (r"an integer >= (-?\d+)", int),
          (r"a number in \[([-\d.e+]+), ([-\d.e+]+)\]", float), (r"a number >= ([-\d.e+]+)", float))


def range_of(description):
    """The documented bounds ([low] or [low, high]) of a value or of each list
    item, or None."""
    for pattern, cast in RANGES:
        m = re.search(pattern, description)
        if m:
            return [cast(g) for g in m.groups()]
    return None


def bounds_of(key):
    """Values just outside what the description documents (range, choices,
    list item range, number of items), or []."""
    d = key.description
    bounds = range_of(d)
    outside = [] if bounds is None else [bounds[0] - 1] + [b + 1 for b in bounds[1:]]
    outside = [repr(v) if isinstance(v, float) else str(v) for v in outside]
    if key.type.startswith("list of"):
        out = [f"[{v}]" for v in outside]
        m = re.search(r"(\d+) to (\d+) items", d)
        if m:
            valid = str(bounds[0]) if bounds else "1"
            out.append("[" + ", ".join([valid] * (int(m.group(2)) + 1)) + "]")
            if int(m.group(1)) > 0:
                out.append("[]")
        return out
    if outside:
        return outside
    if re.search(r"\(one of: [^)]*\)", d):
        return ["not_a_choice"]
    return []


WRONG_TYPE = {"int": "abc", "float": "abc", "bool": "maybe", "string": "[1, 2]",
              "list of strings": "x", "list of ints": "x"}


def typo_of(name, taken):
    middle = len(name) // 2
    for letter in "etaoinsrhlxqz":
        candidate = name[:middle] + letter + name[middle + 1:]
        if candidate != name and candidate not in taken:
            return candidate
    raise AssertionError(f"no typo for {name}")


def mutants_of(lines, entries, key_of, base_keys_too):
    out = []
    by_parent = {}
    for e in entries:
        by_parent.setdefault(e.parent, set()).add(e.name)
    for e in entries:
        if not base_keys_too and not e.path.startswith(("model", "eval")):
            continue
        key = key_of(e)
        block = lines[e.line:e.end]
        before, after = lines[:e.line], lines[e.end:]
        line = e.line + 1  # 1-based, as in messages
        pad = " " * e.indent
        section = e.value is None or key.type == "section"  # `eval: ~` is an empty section

        out.append(Mutant("deleted", e, before + after, default_check=key))
        typo = typo_of(e.name, by_parent[e.parent])
        typo_path = f"{e.parent}.{typo}" if e.parent else typo
        out.append(Mutant("typo", e, before + [lines[e.line].replace(e.name, typo, 1)] + lines[e.line + 1:],
                          [line], [f"unknown key '{typo_path}'", f"did you mean '{e.name}'"]))
        out.append(Mutant("duplicated", e, before + block + block + after, [e.end + 1],
                          [f"duplicate key '{e.path}'"]))
        assert section or key.type in WRONG_TYPE, f"{e.path}: undocumented or unknown type {key.type}"
        wrong = "5" if section else WRONG_TYPE[key.type]
        out.append(Mutant("wrong_type", e, before + [f"{pad}{e.name}: {wrong}"] + after, [line], [e.path]))
        if not section:
            for value in bounds_of(key):
                out.append(Mutant("out_of_range", e, before + [f"{pad}{e.name}: {value}"] + lines[e.line + 1:],
                                  [line], [e.path]))
            if key.type == "float":
                out.append(Mutant("non_finite", e, before + [f"{pad}{e.name}: nan"] + lines[e.line + 1:],
                                  [line], [e.path]))
        out.append(Mutant("nested", e, before + [f"{pad}{e.name}:"] + ["  " + b for b in block] + after,
                          [line, line + 1], [e.path]))
        if e.value is None:
            out.append(Mutant("extra", e, before + [lines[e.line], f"{pad}  unexpected_key: 1"] + lines[e.line + 1:],
                              [line + 1], [f"unknown key '{e.path}.unexpected_key'"]))
    return out


def run_show(recforge, path):
    return subprocess.run([recforge, "config", "show", path], capture_output=True, text=True, timeout=60)


def verdict(mutant, proc, key_of_path):
    """None when the mutant got what it should, else why not."""
    e = mutant.entry
    if mutant.kind == "deleted":
        if e.path in REQUIRED:
            ok = proc.returncode == 2 and f"section '{e.parent}' needs a 'type' key" in proc.stderr
            return None if ok else f"exit {proc.returncode}: {proc.stderr.strip()}"
        if proc.returncode != 0:
            return f"exit {proc.returncode} for an optional key: {proc.stderr.strip()}"
        _, resolved = entries_of(proc.stdout)
        for r in resolved:
            if r.value is None or not (r.path == e.path or r.path.startswith(e.path + ".")):
                continue
            key = key_of_path(r.path)
            if normalised(r.value) != normalised(key.default):
                return f"{r.path} resolved to {r.value}, documented default {key.default}"
        return None
    if proc.returncode != 2:
        return f"exit {proc.returncode} (want 2): {proc.stderr.strip() or 'accepted'}"
    message = proc.stderr
    if not any(f"{mutant.file}:{line}:" in message for line in mutant.error_lines):
        return f"no {mutant.file}:{'|'.join(map(str, mutant.error_lines))}: in {message.strip()}"
    missing = [n for n in mutant.needles if n not in message]
    return f"missing {missing} in {message.strip()}" if missing else None


def key_lookup(tables, entries):
    """Maps a resolved entry to its documented Key (plugin keys by the
    section's type in this reference)."""
    plugin = {e.path.split(".")[0]: e.value for e in entries if e.path in REQUIRED}

    def by_path(path):
        section = path.split(".")[0]
        if section in plugin:
            if path == section:
                return Key(path, "section", "(see type)", "")
            if path == f"{section}.type":
                types = sorted(t for s, t in filter(None, tables) if s == section)
                return Key(path, "string", "(none)", f"(one of: {', '.join(types)})")
            return tables[(section, plugin[section])][path]
        return tables[None].get(path) or Key(path, "section", "(see keys)", "")

    return by_path


def mpi_env():
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_btl_vader_single_copy_mechanism="none",
                RF_FAULT="delay:phase=job_abort:ms=4000")  # both ranks report before the first abort, even under ASan


def rank_decisions(output):
    """{rank: message} from the ranks' error lines."""
    return {int(m.group(1)): m.group(2) for m in
            re.finditer(r"\[rank (\d+)/2\] \[error\] rank \d+: (config error: .*)", output)}


def check_under_mpirun(recforge, samples, work):
    failures = []
    for mutant in samples:
        proc = subprocess.run(["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", recforge, "train",
                               mutant.file], capture_output=True, text=True, env=mpi_env(), timeout=120)
        output = proc.stdout + proc.stderr
        decisions = rank_decisions(output)
        if proc.returncode != 2 or sorted(decisions) != [0, 1] or decisions[0] != decisions[1] or \
                mutant.file not in decisions[0]:
            failures.append(f"mpirun {mutant.kind} {mutant.entry.path}: exit {proc.returncode}, "
                            f"decisions {decisions}\n{output[-1500:]}")
    # Ranks started with different configs (MPMD): the hash check stops both,
    # in order (every rank decided it alike: no MPI_Abort).
    base = open(samples[0].source).read()
    configs = []
    for epochs in (2, 3):
        path = os.path.join(work, f"epochs{epochs}.yaml")
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^(  epochs: ).*$", rf"\g<1>{epochs}", base))
        configs.append(path)
    runs = os.path.join(work, "runs")  # not the source tree's runs/ (the working directory)
    proc = subprocess.run(["mpirun", "-np", "1", "--oversubscribe", "--bind-to", "none", recforge, "train", configs[0],
                           "--set", f"run.output_dir={runs}", ":", "-np", "1", recforge, "train", configs[1],
                           "--set", f"run.output_dir={runs}"],
                          capture_output=True, text=True, env=mpi_env(), timeout=120)
    output = proc.stdout + proc.stderr
    decisions = rank_decisions(output)
    want = "train.epochs: 2 on rank 0, 3 on rank 1"
    if proc.returncode != 2 or sorted(decisions) != [0, 1] or any(want not in d for d in decisions.values()) \
            or "prepar" in output.lower() or glob.glob(os.path.join(runs, "*", "metrics.jsonl")) \
            or "MPI_ABORT was invoked" in output:
        failures.append(f"different configs: exit {proc.returncode}, decisions {decisions}\n{output[-1500:]}")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("recforge")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--no-mpirun", action="store_true", help="a build without MPI: skip the two-rank checks")
    args = parser.parse_args()
    recforge = os.path.abspath(args.recforge)
    tables = documented_keys(recforge)
    work = tempfile.mkdtemp(prefix="recforge-mutants-")
    try:
        mutants, covered = [], set()
        references = sorted(glob.glob(os.path.join(ROOT, "configs", "*_tiny.yaml")))
        for n, reference in enumerate(references):
            resolved = run_show(recforge, reference)
            assert resolved.returncode == 0, f"{reference}: {resolved.stderr}"
            lines, entries = entries_of(resolved.stdout)
            by_path = key_lookup(tables, entries)
            for m in mutants_of(lines, entries, lambda e: by_path(e.path), base_keys_too=(n == 0)):
                m.key_of_path, m.source = by_path, reference
                mutants.append(m)
            covered |= {e.path for e in entries}
        documented = set(tables[None]) | {p for k, t in tables.items() if k and k[1] != "popularity" for p in t}
        uncovered = sorted(p for p in documented if p not in covered and p not in ("model", "eval"))
        assert not uncovered, f"documented keys in no reference: {uncovered}"

        chosen = mutants[::args.every]
        for i, m in enumerate(chosen):
            m.file = os.path.join(work, f"mutant{i}.yaml")
            with open(m.file, "w") as f:
                f.write(m.text)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda m: run_show(recforge, m.file), chosen))

        failures, counts = [], {}
        for m, proc in zip(chosen, results):
            why = verdict(m, proc, m.key_of_path)
            tally = counts.setdefault(m.kind, [0, 0])
            tally[0] += 1
            tally[1] += why is None
            if why:
                failures.append(f"{m.kind} {m.entry.path} ({os.path.basename(m.source)}): {why}")
        for kind, (total, passed) in counts.items():
            print(f"{kind:13s} {passed}/{total}")

        samples = []
        for kind in ("typo", "duplicated", "wrong_type", "out_of_range", "non_finite", "nested", "extra"):
            rejected = [m for m, p in zip(chosen, results) if m.kind == kind and p.returncode == 2]
            if rejected:
                samples.append(rejected[len(rejected) // 2])
        if not args.no_mpirun:
            failures += check_under_mpirun(recforge, samples, work)
            print(f"mpirun: {len(samples)} mutants and one pair of different configs, decisions on both ranks")

        total = sum(t for t, _ in counts.values())
        passed = sum(p for _, p in counts.values())
        mpi_checks = 0 if args.no_mpirun else len(samples) + 1
        mpi_failed = len(failures) - (total - passed)
        print(f"RELIABILITY I1 trials={total + mpi_checks} passed={passed + mpi_checks - mpi_failed} "
              f"mutants={total} keys={len(covered)} mpirun_checks={mpi_checks}")
        for f in failures[:30]:
            print("FAIL", f)
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
