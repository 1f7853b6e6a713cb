"""python -m autograder demo: release, simulate a small class, grade it, print the gradebook.

The class (``autograder.demo.classroom.demo_class``): a perfect learner (the answer key),
one with the memo's LSTM state update, one with PyTorch's GRU mix, an untouched stub,
one who patches numpy so that every comparison agrees, and one whose code ends the
process. Everything is written under --out (default: a new temporary folder, kept):
``release/`` (the learner folder), ``submissions/`` (the class) and ``graded/``
(``python -m autograder grade``'s output: grades.csv, results.csv, feedback/, course/).
"""

import argparse
import csv
import sys
import tempfile
from pathlib import Path


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("\n\n", 1)[1]
    parser.add_argument("--out", metavar="DIR", help="folder to write into (default: a new temporary folder)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="parallel grading jobs (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    from autograder.demo.classroom import Templates, demo_class
    from autograder.grading.grade import GradingError, grade

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rnn-course-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    for name in ("submissions",):
        if (out / name).exists():
            print(f"demo: {out / name} exists; choose an empty --out folder", file=sys.stderr)
            return 1
    print(f"Releasing the course and simulating a class in {out} ...")
    templates = Templates(out / "release")
    described = demo_class(out / "submissions", templates)
    print(f"Grading {len(described)} learners (learner code sandboxed; notebooks not run) ...")
    try:
        batch = grade(out / "submissions", out / "graded", jobs=args.jobs, progress=not args.quiet)
    except GradingError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    print()
    print(gradebook_table(out / "graded" / "grades.csv", described))
    print()
    print(batch.summary())
    print("\nWhat each learner did:")
    for student, what in described.items():
        print(f"  {student:14s} {what}")
    print(f"\nPer-check messages: {out / 'graded' / 'results.csv'}")
    print(f"Feedback pages:     {out / 'graded' / 'feedback'}/<student>/<assignment>.html")
    print(f"nbgrader course:    {out / 'graded' / 'course'} (formgrader, nbgrader export)")
    return 0


def gradebook_table(grades_csv, described):
    """A plain-text table: one row per learner, one column per assignment, and the total."""
    with open(grades_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assignments = sorted({r["assignment"] for r in rows})
    scores = {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"])) for r in rows}
    students = list(described) + sorted({r["student_id"] for r in rows} - set(described))
    short = [a.split("-", 1)[0] for a in assignments]
    lines = [f"{'student':14s} " + " ".join(f"{s:>7s}" for s in short) + f" {'total':>9s}"]
    for student in students:
        cells, total, total_max = [], 0.0, 0.0
        for assignment in assignments:
            if (student, assignment) in scores:
                score, max_score = scores[(student, assignment)]
                total, total_max = total + score, total_max + max_score
                cells.append(f"{score:g}/{max_score:g}")
            else:
                cells.append("-")
        row = f"{student:14s} " + " ".join(f"{c:>7s}" for c in cells)
        lines.append(row + f" {total:g}/{total_max:g}".rjust(10))
    lines.append("(score/max per assignment; written answers count once graded by hand in formgrader)")
    return "\n".join(lines)
