"""Grading throughput: seconds per learner for the whole course.

    python benchmarks/bench_grading.py [--learners 30] [--repeats 3] [--jobs 2]

Builds a class of simulated learners (the demo's mix: answer key, memo LSTM, PyTorch
GRU mix, untouched stub, numpy patcher, crasher, repeated to --learners), grades
it with ``autograder.grading.grade.grade`` for every assignment into a fresh OUT each time,
and prints a markdown table: seconds per learner (total wall time / learners, median
over repeats), the same without the fixed cost of building the nbgrader course, and
the phases of the last run. Then it grades the same class again into the last OUT
(nothing changed: the re-run cost) and once more with one learner's file changed (a
late submission). The target is at most 3 s per learner without the course build,
with --jobs 2 on a 2-core machine, for a class of 30.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_class(folder, n, templates):
    from autograder.demo.classroom import demo_class

    base = folder / "base"
    demo_class(base, templates)
    names = sorted(p.name for p in base.iterdir())
    subs = folder / "subs"
    subs.mkdir()
    for i in range(n):
        name = names[i % len(names)]
        shutil.copytree(base / name, subs / f"{name}-{i:02d}")
    return subs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[2])
    parser.add_argument("--assignments", nargs="*", help="default: the whole course")
    args = parser.parse_args(argv)

    from autograder.building.course import nbgrader_env
    from autograder.demo.classroom import Templates
    from autograder.grading.grade import grade

    os.environ["PATH"] = nbgrader_env()["PATH"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        templates = Templates(tmp / "templates")
        subs = build_class(tmp, args.learners, templates)
        for jobs in args.jobs:
            per_learner, marginal, phases = [], [], []
            for r in range(args.repeats):
                out = tmp / f"out-{jobs}-{r}"
                started = time.monotonic()
                batch = grade(subs, out, jobs=jobs, assignments=args.assignments, progress=False)
                total = time.monotonic() - started
                per_learner.append(total / args.learners)
                marginal.append((total - batch.timings.get("course", 0.0)) / args.learners)
                phases.append(batch.timings)
                print(f"jobs={jobs} repeat={r}: {total:.1f} s, {len(batch.graded)} graded, "
                      f"{len(batch.ungradable)} ungradable, phases "
                      + ", ".join(f"{k} {v:.1f}s" for k, v in batch.timings.items()), flush=True)
            rows.append((jobs, statistics.median(per_learner), statistics.median(marginal), phases[-1]))
        rerun = {}
        if rows and hasattr(batch, "kept"):  # re-runs into the last OUT (this project's grade keeps it)
            started = time.monotonic()
            grade(subs, out, jobs=args.jobs[-1], assignments=args.assignments, progress=False)
            rerun["nothing changed"] = time.monotonic() - started
            late = sorted(subs.iterdir())[0] / "rnnkit" / "lstm.py"
            late.write_text(late.read_text() + "\n# edited after the deadline\n")
            started = time.monotonic()
            batch = grade(subs, out, jobs=args.jobs[-1], assignments=args.assignments, progress=False)
            seconds = time.monotonic() - started
            rerun[f"one learner changed ({batch.regraded} notebooks graded again)"] = seconds
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    scope = "all assignments" if not args.assignments else ", ".join(args.assignments)
    print(f"Grading {args.learners} learners, {scope}, {os.cpu_count()} cores, "
          f"load average {load:.1f} at the end")
    print()
    print("| --jobs | s per learner (median) | without course build | phases of the last run (s) |")
    print("|---:|---:|---:|---|")
    for jobs, median, without, timings in rows:
        phase_text = ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
        print(f"| {jobs} | {median:.1f} | {without:.1f} | {phase_text} |")
    if rerun:
        print()
        print("| re-run of the whole class into the same OUT | seconds |")
        print("|---|---:|")
        for what, seconds in rerun.items():
            print(f"| {what} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
