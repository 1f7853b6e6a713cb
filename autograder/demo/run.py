"""python -m autograder demo: release, simulate a small class, grade it, print the gradebook.

The class (``autograder.demo.classroom.demo_class``): a perfect learner (the answer key),
one with the memo's LSTM state update, one with PyTorch's GRU mix, an untouched stub,
one who patches numpy so that every comparison agrees, and one whose code ends the
process. Some of them answer written questions, which formgrader then lists for grading by
hand; the learners have names in the gradebook. Everything is written under --out
(default: a new temporary folder, kept): ``release/`` (the learner folder),
``submissions/`` (the class) and ``graded/`` (``python -m autograder grade``'s output:
grades.csv, results.csv, feedback/, course/).
"""

import csv
import shlex
import sys
import tempfile
from pathlib import Path

from autograder.demo.classroom import DEMO_NAMES, Templates, demo_class, name_students
from autograder.grading.grade import GradingError, grade


def run(args):
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
        batch = grade(out / "submissions", out / "graded", jobs=args.jobs, progress=not args.quiet,
                      assignments=args.assignments)
    except GradingError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    name_students(out / "graded" / "course", {s: n for s, n in DEMO_NAMES.items() if s in described})
    print()
    print(gradebook_table(out / "graded" / "grades.csv", described))
    print()
    print(batch.summary())
    print("\nWhat each learner did:")
    for student, what in described.items():
        first, last, _email = DEMO_NAMES.get(student, ("", "", ""))
        print(f"  {student:14s} {first + ' ' + last:16s} {what}")
    print(f"\nPer-check messages: {out / 'graded' / 'results.csv'}")
    print(f"Feedback pages:     {out / 'graded' / 'feedback'}/<student>/<assignment>.html")
    print(f"nbgrader course:    {out / 'graded' / 'course'} (formgrader, nbgrader export)")
    print_formgrader_steps(out / "graded")
    return 0


def print_formgrader_steps(graded):
    """How to open formgrader on the graded course, then export: commands to paste in a shell."""
    course_bin = Path(sys.executable).parent  # the environment that graded: nbgrader and the course's checks
    print("\nGrade the written answers in formgrader (the course environment's bin/ first on PATH):")
    print(f"  export PATH={shlex.quote(str(course_bin))}:$PATH")
    print(f"  cd {shlex.quote(str(graded / 'course'))} && jupyter lab")
    print("  then, in JupyterLab's menu: Nbgrader › Formgrader.")
    print('  The banner "The exchange directory … does not exist" is harmless here: grading with')
    print("  `python -m autograder grade` uses no exchange.")
    print("Then the final grades, with feedback pages refreshed from the gradebook:")
    print(f"  python -m autograder export {shlex.quote(str(graded))}")


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
