#!/usr/bin/env python3
"""Runs the reliability tests of ../shared/RELIABILITY.md with their full trial
counts and writes tests/RELIABILITY.md from what they reported.

  tests/reliability/run.py [--build build] [--quick] [--fuzz-seconds 600] [--only F1,C2]
                           [--out tests/RELIABILITY.md]

Every case is a command (a test script, a filtered GoogleTest binary, a fuzzer
run). A case passes when its command exits 0. Trial counts come from the
`RELIABILITY <ID> trials=N passed=M` lines the scripts print, from GoogleTest's
count of tests run, or from the seconds a fuzzer ran. IDs without a case are
listed as not implemented. --quick runs a few trials per case (a smoke test of
this script); the table then says so in its header.
"""
import argparse
import datetime
import os
import random
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The IDs of ../shared/RELIABILITY.md, in its order, with a short name.
IDS = [
    ("F1", "kill rank 1 at a random step, restart, bit-identical"),
    ("F2", "kill rank 0 by SIGKILL / SIGSEGV / abort / exit, bit-identical"),
    ("F3", "negative controls of resume (no optimizer / position / older version)"),
    ("F4", "kill rank 0 inside a checkpoint save, at each phase"),
    ("F5", "SIGKILL the publishing writer at random moments"),
    ("F6", "stuck rank: the watchdog ends the job, naming it"),
    ("F7", "rank desync detected and named"),
    ("F8", "graceful stop on SIGUSR1: exit 0, checkpoint committed"),
    ("F9", "restart wrapper gives up after N restarts"),
    ("F10", "allocation failure on one rank: job down quickly"),
    ("F11", "disk full during a save: error, previous versions intact"),
    ("F12", "two runs with one seed are byte-identical"),
    ("C1", "corrupt bytes / truncation / missing files rejected"),
    ("C2", "format versions, wrong shapes and models refused"),
    ("C3", "ranks resuming from different checkpoints refused"),
    ("C4", "retention keeps exactly the policy's versions"),
    ("C5", "no / empty / used checkpoint directory per resume policy"),
    ("S1", "hot reload while a trainer publishes"),
    ("S2", "a bad version is refused, the old one keeps serving"),
    ("S3", "retention deleting the version being loaded"),
    ("S4", "TSan on the reload path"),
    ("N1", "NaN in the loss, a gradient or a parameter: both ranks stop at that step"),
    ("N2", "silent divergence (bit flip) caught by the fingerprint"),
    ("N3", "a NaN reaches every rank through MAX/MIN"),
    ("I1", "config mutations: typos, duplicates, wrong types"),
    ("I2", "config parser fuzzing"),
    ("I3", "ratings parser table of bad lines"),
    ("I4", "ratings parser fuzzing"),
    ("I5", "chunked reading equals sequential reading"),
    ("X1", "hash checked before the HDF5 parser sees a file"),
    ("X2", "HDF5 checkpoint reader fuzzing"),
    ("X3", "external links, soft links, unknown filters refused"),
    ("X4", "path traversal on the API and the repository scan"),
    ("X5", "HTTP limits: body size, framing lies, interactions, unknown ids, idle and slow clients"),
    ("X6", "HTTP request handling fuzzing"),
    ("X7", "reload needs the token; server runs unprivileged"),
    ("soak", "issue 11: 60 s loopback soak (wrk), hot reloads, garbage mixed in"),
]

# What of each pass figure the tests do not (yet) show: printed beside the result.
GAPS = {
    "F3": "the variants are RF_RESTORE_SKIP switches of a fault-injection build, not separate builds",
    "F4": "rank 0 only (rank 1 writes no checkpoint); 'mid-marker update' is the LATEST write after the rename",
    "F6": "the NCCL watchdog path (ncclCommAbort) needs a GPU; the communicator's set-up, `recforge preflight` and the job's end are watched too (ctest mpi.train_stuck_comm_setup, mpi.preflight_stuck_rank, mpi.train_stuck_at_job_end); a stalled heartbeat directory does not stop the deadline (Watchdog.AStalledHeartbeatDirectoryDoesNotStopTheDeadline); a checkpoint write longer than the watchdog timeout waits under comm.io_timeout (mpi.train_slow_checkpoint_write)",
    "F10": "the ulimit -v case allocates at step S through RF_FAULT=alloc (steady-state training does not grow)",
    "F11": "the read-only case runs as uid 65534 (setpriv as root, else a user namespace; skipped with neither)",
    "C2": "only format version 1 exists, so no N-1 migration yet",
    "C4": "kill during garbage collection covered by F4's retention phase",
    "S1": "final version checked within 1 s of its publication in ctest (measured ~40 ms, 2 polls = 100 ms)",
    "S4": "OpenMP at one thread in the TSan server (libgomp is not instrumented)",
    "N1": "parameters are poisoned in a row the step used (detected at that step) or before a save (refused); "
          "a dormant corrupted row is found at the next fingerprint check, not at the step it appeared; "
          "finite gradients whose exchanged sum overflows stop that step too (huge_grad)",
    "I1": "out-of-range mutants only where `config keys` documents a range, choices, item range or list length",
    "X3": "no filter-plugin test: the reader refuses every filter but fletcher32 and plugin loading is off",
    "X4": "the sentinel check covers the repository scan and load in-process; the HTTP API names no paths at all",
    "X5": "the address-space bound is 4 GiB (the CUDA libraries linked in reserve 1.5 GiB before the first request)",
    "X7": "unprivileged through setpriv (uid 65534) when ctest runs as root; as the test's own user otherwise",
}


def gtest(binary, pattern, mpi=0):
    command = [os.path.join("{build}", "tests", binary), f"--gtest_filter={pattern}"]
    if mpi:
        command = ["mpirun", "-np", str(mpi), "--oversubscribe", "--bind-to", "none"] + command
    return command


def script(path, *args):
    return ["bash", os.path.join(ROOT, path), "{recforge}"] + [str(a) for a in args]


def cases(quick, fuzz_seconds):
    n = (lambda full, small=2: small) if quick else (lambda full, small=2: full)
    fuzz = str(fuzz_seconds)
    return [
        (["F1"], script("tests/checkpoint/kill_resume_test.sh", n(20), 1, "kill")),
        (["F2"], script("tests/checkpoint/kill_resume_test.sh", n(80, 4), 0, "kill", "segv", "abort", "exit")),
        (["F3"], gtest("checkpoint/checkpoint_resume_test", "Resume.NegativeControlsDiffer")),
        (["F3"], ["env", "NEGATIVE=optimizer"] + script("tests/checkpoint/kill_resume_test.sh", n(10), 1, "kill")),
        (["F3"], ["env", "NEGATIVE=position"] + script("tests/checkpoint/kill_resume_test.sh", n(10), 1, "kill")),
        (["F3"], ["env", "NEGATIVE=latest"] + script("tests/checkpoint/kill_resume_test.sh", n(10), 1, "kill")),
        (["F4"], script("tests/checkpoint/kill_resume_test.sh", n(60, 6), 0, "kill@checkpoint_mid_data",
                        "kill@checkpoint_after_data", "kill@checkpoint_before_rename",
                        "kill@checkpoint_before_dir_fsync", "kill@checkpoint_after_rename",
                        "kill@retention_after_rename")),
        (["F5"], script("tests/reliability/publish_kill_test.sh", n(20))),
        (["F6"], script("tests/train/faults_test.sh", "stop", n(5, 1))),
        (["F7"], script("tests/train/faults_test.sh", "desync", n(10))),
        (["F7"], gtest("comm/comm_mpi_test", "Collectives.DesyncCheckNamesTheDisagreeingRanks", mpi=2)),
        (["F8"], script("tests/train/faults_test.sh", "sigusr1", n(10))),
        (["F8"], script("tests/train/faults_test.sh", "sigterm", n(5))),
        (["F9"], script("tests/reliability/restart_test.sh")),
        (["F10"], script("tests/train/faults_test.sh", "oom", n(10))),
        (["F10"], script("tests/train/faults_test.sh", "oom_limit", n(10))),
        (["F11"], script("tests/reliability/disk_full_test.sh")),
        (["F12"], script("tests/reliability/determinism_test.sh")),
        (["C1"], gtest("checkpoint/checkpoint_file_test", "CheckpointFile.CorruptBytesNeverCrashTheReader")),
        (["C1"], gtest("checkpoint/checkpoint_repository_test", "Repository.RandomCorruptionIsRefusedNamingTheFileAndTheCheck")),
        (["C1", "X1"], gtest("checkpoint/checkpoint_repository_test",
                             "Repository.NamesTheCheckThatFailed:Repository.FallsBackPastACorruptLatestVersion")),
        (["X1"], gtest("checkpoint/checkpoint_hash_before_parse_test", "HashBeforeParse.*")),
        (["C2"], gtest("checkpoint/checkpoint_golden_test", "*")),
        (["C2"], gtest("checkpoint/checkpoint_file_test",
                       "CheckpointFile.RefusesANewerFormatVersion:CheckpointFile.RefusesFilesThatAreNotCheckpoints:"
                       "CheckpointFile.RoundTripsEveryField:CheckpointFile.RefusesInconsistentServingTables")),
        (["C2", "C5"], gtest("checkpoint/checkpoint_resume_test",
                             "Resume.ADifferentModelIsRefused:Resume.FreshStartIntoAUsedDirectoryIsRefused")),
        (["C2"], gtest("checkpoint/checkpoint_repository_test", "Repository.RefusesAManifestFromANewerRecforge")),
        (["C3"], script("tests/reliability/cross_rank_resume_test.sh")),
        (["C4"], gtest("checkpoint/checkpoint_repository_test",
                       "Repository.RetentionKeepsExactlyThePolicysVersions:Repository.IgnoresAndCleansUpWhatCrashedWritersLeft")),
        (["S1", "S2", "S3", "X4", "X5", "X7"], ["/usr/bin/python3", os.path.join(ROOT, "tests/serve/serve_test.py"), "{recforge}"]),
        (["X5"], ["/usr/bin/python3", os.path.join(ROOT, "tests/serve/http_limits_test.py"), "{recforge}"]),
        (["S3"], ["/usr/bin/python3", os.path.join(ROOT, "tests/serve/retention_race_test.py"), "{recforge}"]),
        (["X7"], ["/usr/bin/python3", os.path.join(ROOT, "tests/serve/least_privilege_test.py"), "{recforge}"]),
        (["S4"], script("tests/reliability/tsan_serve_test.sh")),
        (["soak"], ["/usr/bin/python3", os.path.join(ROOT, "tests/serve/soak_test.py"), "{recforge}", "60"]),
        (["X4"], gtest("checkpoint/checkpoint_repository_test",
                       "Repository.NeverFollowsASymlinkedVersion:Repository.VersionNamesAreStrict")),
        (["N1"], script("tests/train/faults_test.sh", "nan", n(20))),
        (["N1"], script("tests/train/faults_test.sh", "nan_grad", n(20))),
        (["N1"], script("tests/train/faults_test.sh", "huge_grad", n(20))),
        (["N1"], script("tests/train/faults_test.sh", "nan_param", n(20))),
        (["N1"], script("tests/train/faults_test.sh", "late_stop", n(3))),
        (["N1"], script("tests/train/faults_test.sh", "skip", n(20))),
        (["N1"], script("tests/train/faults_test.sh", "clean", 1)),
        (["N1"], gtest("checkpoint/checkpoint_resume_test", "NonFinite.*")),
        (["N2"], script("tests/train/faults_test.sh", "flip", n(20))),
        (["N3"], gtest("comm/comm_mpi_test", "Collectives.NanOnOneRankIsSeenByAllThroughMaxAndMin", mpi=2)),
        (["N3"], gtest("comm/comm_mpi_test", "Collectives.NanOnOneRankIsSeenByAllThroughMaxAndMin", mpi=3)),
        (["I1"], gtest("config/config_test", "Schema.*:YamlLoader.*:JobConfig.*")),
        (["I1"], ["/usr/bin/python3", os.path.join(ROOT, "tests/config/config_mutation_test.py"), "{recforge}"]),
        (["I3"], gtest("data/data_test", "Table/BadInput.*:ReaderTest.*")),
        (["I5"], gtest("data/data_test", "ReaderTest.Chunked*:ReaderTest.TheFirstErrorIsReportedWhateverTheChunking")),
        (["X3"], gtest("checkpoint/checkpoint_file_test", "CheckpointFile.RefusesSoftAndExternalLinks:"
                       "CheckpointFile.NeverOpensWhatAnExternalLinkNames:CheckpointFile.RefusesASoftLinkLoop")),
        (["I4"], ["bash", os.path.join(ROOT, "launch/fuzz.sh"), fuzz, "ratings"]),
        (["I2"], ["bash", os.path.join(ROOT, "launch/fuzz.sh"), fuzz, "config"]),
        (["X2"], ["bash", os.path.join(ROOT, "launch/fuzz.sh"), fuzz, "checkpoint"]),
        (["X6"], ["bash", os.path.join(ROOT, "launch/fuzz.sh"), fuzz, "http"]),
    ]


def run_case(ids, command, build, log):
    command = [c.format(build=build, recforge=os.path.join(build, "bin", "recforge")) for c in command]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none",
               RECFORGE_TEST_SEED=str(random.randrange(1, 32768)))
    start = time.time()
    proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    seconds = time.time() - start
    shown = " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in command)
    log.write(f"=== {' '.join(ids)}: {shown} (seed {env['RECFORGE_TEST_SEED']}, exit {proc.returncode}, "
              f"{seconds:.0f} s)\n{proc.stdout}\n")
    log.flush()
    out = proc.stdout
    reported = {}
    for m in re.finditer(r"^RELIABILITY (\w+) (.*)$", out, re.M):
        reported[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split())
    gtests = re.search(r"\[  PASSED  \] (\d+) tests?", out)
    failed_gtests = re.search(r"\[  FAILED  \] (\d+) tests?", out)
    results = {}
    for i in ids:
        r = reported.get(i, {})
        if "seconds" in r:
            trials = f"{r['seconds']} s"
            passed = "0 crashes" if proc.returncode == 0 else "crashed"
            if "crashes_in_libhdf5" in r:
                passed = f"{r['crashes_in_recforge']} crashes in recforge, {r['crashes_in_libhdf5']} in libhdf5"
                if r.get("hung") == "1":
                    passed += " (cut short: a fork child hung, stopped by timeout(1))"
        elif "trials" in r:
            trials, passed = int(r["trials"]), int(r["passed"])
        elif gtests or failed_gtests:
            ok = int(gtests.group(1)) if gtests else 0
            trials, passed = ok + (int(failed_gtests.group(1)) if failed_gtests else 0), ok
        else:
            trials, passed = 1, 1 if proc.returncode == 0 else 0
        results[i] = (shown, trials, passed, proc.returncode == 0, seconds)
    return results


def row_line(i, name, got):
    gap = GAPS.get(i, "")
    if not got:
        return f"| {i} | {name} | — | 0 | — | **not implemented** | {gap} |"
    ran = "<br>".join(f"`{shown}`" for shown, *_ in got)
    trials = "<br>".join(str(t) for _, t, *_ in got)
    passed = "<br>".join(str(p) for _, _, p, *_ in got)
    outcome = "pass" if all(ok for *_, ok, _ in got) else "**FAIL**"
    return f"| {i} | {name} | {ran} | {trials} | {passed} | {outcome} | {gap} |"


def merge_rows(path, rows, started, source):
    """--only with --merge: replaces the rows of the IDs that ran in an existing table."""
    lines = open(path).read().split("\n")
    names = dict(IDS)
    for n, line in enumerate(lines):
        m = re.match(r"^\| (\w+) \|", line)
        if m and m.group(1) in rows:
            lines[n] = row_line(m.group(1), names[m.group(1)], rows[m.group(1)])
    note = (f"- rows re-run on {started:%Y-%m-%d %H:%M} UTC at commit {source} (`--only ... --merge`): "
            f"{', '.join(sorted(rows))}")
    at = next(n for n, line in enumerate(lines) if line.startswith("| ID |")) - 1
    lines.insert(at, note)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def source_state():
    """The commit the tests run from, and whether tracked files differ from it."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return commit + (" (with local changes)" if dirty else "")


def write_table(path, rows, args, started, source):
    lines = [
        "# Reliability tests: results",
        "",
        "Generated by `tests/reliability/run.py` (do not edit by hand): each ID of",
        "`../shared/RELIABILITY.md`, the tests that ran for it, how many trials, and the outcome.",
        "",
        f"- run: {started:%Y-%m-%d %H:%M} UTC, commit {source} when it started, "
        f"{os.cpu_count()} cores, no GPU" + (", **quick mode (reduced trials)**" if args.quick else ""),
        f"- command: `python3 tests/reliability/run.py{' --quick' if args.quick else ''} "
        f"--fuzz-seconds {args.fuzz_seconds}`",
        "- fuzzers: libFuzzer + ASan + UBSan (`launch/fuzz.sh`); the pass figure asks for 600 s each",
        "",
        "| ID | Test | Ran | Trials | Passed | Outcome | Not covered |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, name in IDS:
        lines.append(row_line(i, name, rows.get(i, [])))
    lines += ["", "Logs of the last run: `build/reliability.log`.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--quick", action="store_true", help="a few trials per case")
    parser.add_argument("--fuzz-seconds", type=int, default=600)
    parser.add_argument("--only", default="", help="comma-separated IDs (the table is not written unless --merge)")
    parser.add_argument("--merge", action="store_true", help="with --only: replace those IDs' rows in --out")
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "RELIABILITY.md"))
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(build, "bin", "recforge")):
        sys.exit(f"no {build}/bin/recforge: build first (bash launch/build.sh)")
    only = set(filter(None, args.only.split(",")))
    started = datetime.datetime.utcnow()
    source = source_state()
    rows = {}
    failed = 0
    with open(os.path.join(build, "reliability.log"), "w") as log:
        for ids, command in cases(args.quick, args.fuzz_seconds):
            if only and not only & set(ids):
                continue
            results = run_case(ids, command, build, log)
            for i, result in results.items():
                rows.setdefault(i, []).append(result)
                shown, trials, passed, ok, seconds = result
                print(f"{i:4} {'pass' if ok else 'FAIL'} {trials} trials, {passed} passed ({seconds:.0f} s): {shown}",
                      flush=True)
                failed += not ok
    if not only:
        write_table(args.out, rows, args, started, source)
        print(f"wrote {os.path.relpath(args.out, ROOT)}")
    elif args.merge and os.path.exists(args.out):
        merge_rows(args.out, rows, started, source)
        print(f"updated {', '.join(sorted(rows))} in {os.path.relpath(args.out, ROOT)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
