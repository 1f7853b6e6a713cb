"""python -m autograder export OUT: the final grades, once the written answers are graded by hand.

OUT is the folder ``python -m autograder grade SUBS --out OUT`` wrote. Its ``grades.csv``
holds the scores as grading left them: package checks only, the written answers still at 0.
The instructor then grades those answers in formgrader, which writes to the gradebook
``OUT/course/gradebook.db``. This command reads the gradebook back, through nbgrader's own
Gradebook API, for every (student, assignment) of ``grades.csv`` and writes:

- ``OUT/final-grades.csv``: student_id, assignment, score, max_score (the columns of
  grades.csv), with the points given by hand included, as nbgrader counts them (hand
  scores replace automatic ones, extra credit is added: the score formgrader shows);
- ``OUT/final-grades-lms.csv``: one row per learner, ready to upload to a learning
  management system's gradebook: student_id, last_name, first_name, email, one column per
  assignment (its points, headed "<assignment> (max N)"; empty when it was not graded),
  total, max_total and percent (an assignment not graded counts 0 of its maximum).

It also refreshes every pair's feedback page from the gradebook, so the learner sees the
final score and the instructor's points and comments on written answers:
``OUT/feedback/<student>/<assignment>.html`` and the copy ``nbgrader release_feedback``
sends (``OUT/course/feedback/<student>/<assignment>/``), through the same
``autograder.grading.feedback.write_feedback`` grading uses (same sanitising, same inert
check, same search for hidden material: a page that would show any is not written).

Written answers that are not graded yet are listed (they count as 0); nothing else is
written and grades.csv is left as it is. Exit status 0 when the tables and pages were
written, 1 when OUT is not a graded folder, its gradebook does not match grades.csv, or a
feedback page could not be refreshed (the tables are written all the same).
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.grading import gradebook

FINAL = "final-grades.csv"
LMS = "final-grades-lms.csv"
GRADES_COLUMNS = ["student_id", "assignment", "score", "max_score"]


class ExportError(RuntimeError):
    """OUT cannot be exported; the message says what to do."""


@dataclass
class FinalGrade:
    """One (student, assignment) as the gradebook has it now."""

    student: str
    assignment: str
    score: float
    max_score: float
    ungraded_answers: int  # written answers still waiting for a hand grade (counted as 0)


@dataclass
class Learner:
    student: str
    first_name: str
    last_name: str
    email: str




def run(args):
    try:
        grades, learners = read_final_grades(args.out)
        written = write_tables(Path(args.out), grades, learners)
    except ExportError as err:
        print(f"export: {err}", file=sys.stderr)
        return 1
    pending = [g for g in grades if g.ungraded_answers]
    print(f"Final grades of {len(learners)} learners, {len(grades)} (student, assignment) pairs:")
    for path in written:
        print(f"  {path}")
    failed = refresh_feedback(Path(args.out), grades)
    print(f"Feedback pages refreshed: {len(grades) - len(failed)} of {len(grades)} "
          f"(in {Path(args.out) / 'feedback'} and {Path(args.out) / 'course' / 'feedback'})")
    for g, reason in failed:
        print(f"export: the feedback page of {g.student} {g.assignment} was not refreshed "
              f"(the earlier one stays): {reason}", file=sys.stderr)
    if pending:
        total = sum(g.ungraded_answers for g in pending)
        print(f"\n{total} written answers are not graded yet (counted as 0); grade them in formgrader "
              "and export again:")
        for g in pending:
            print(f"  {g.student} {g.assignment}: {g.ungraded_answers}")
    return 1 if failed else 0


def refresh_feedback(out, grades):
    """Write the feedback page of every pair again, from the gradebook as it is now.

    Inputs:
    - out: the folder ``python -m autograder grade`` wrote (Path)
    - grades: list of FinalGrade (the pairs to refresh)

    Returns:
    - list of (FinalGrade, reason) for the pages not written (each one's earlier page stays)
    """
    from autograder.grading import feedback
    from autograder.grading.grade import feedback_forbidden

    course = out / "course"
    forbidden = feedback_forbidden(course)
    failed = []
    for g in grades:
        autograded = course / "autograded" / g.student / g.assignment / f"{g.assignment}.ipynb"
        if not autograded.is_file():
            failed.append((g, f"no autograded notebook at {autograded}"))
            continue
        try:
            outcome = feedback.write_feedback(course, g.student, g.assignment, out / "feedback", forbidden)
        except Exception as err:  # noqa: BLE001 - reported for this page, the others go on
            outcome = f"{type(err).__name__}: {err}"
        if outcome != "ok":
            failed.append((g, outcome))
    return failed


def read_final_grades(out):
    """The current grades of every (student, assignment) in OUT/grades.csv, from OUT's gradebook.

    Inputs:
    - out: the folder ``python -m autograder grade`` wrote (holding grades.csv and course/)

    Returns:
    - grades: list of FinalGrade, in the order of grades.csv
    - learners: {student_id: Learner} (names and emails as the gradebook has them)

    Raises ExportError, saying what to do, when ``out`` is not such a folder or its gradebook
    lacks a pair that grades.csv lists.
    """
    out = Path(out)
    pairs = _graded_pairs(out)
    db = out / "course" / "gradebook.db"
    if not db.is_file():
        raise ExportError(f"no gradebook at {db}: grades.csv is there but not the course directory "
                          "that grading wrote; export needs the whole --out folder of `grade`")
    from nbgrader.api import MissingEntry

    grades, learners, missing = [], {}, []
    with gradebook.open_gradebook(out / "course") as gb:
        for student, assignment in pairs:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                missing.append(f"{student} {assignment}")
                continue
            ungraded = sum(1 for nb in sub.notebooks for g in nb.grades
                           if g.needs_manual_grade and g.manual_score is None)
            grades.append(FinalGrade(student, assignment, float(sub.score), float(sub.max_score), ungraded))
            if student not in learners:
                who = sub.student
                names = (who.first_name or "", who.last_name or "", who.email or "")
                learners[student] = Learner(student, *names)
    if missing:
        raise ExportError(f"the gradebook {db} has no submission for {len(missing)} pairs of grades.csv "
                          f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}): was the course "
                          "directory replaced after grading? Grade again with `python -m autograder grade`")
    return grades, learners


def _graded_pairs(out):
    if not out.is_dir():
        raise ExportError(f"{out} is not a folder: give the --out folder of `python -m autograder grade`")
    grades_csv = out / "grades.csv"
    if not grades_csv.is_file():
        if (out / "gradebook.db").is_file() and (out / "nbgrader_config.py").is_file():
            raise ExportError(f"{out} is the nbgrader course directory; give the folder that holds it and "
                              f"grades.csv: python -m autograder export {out.parent}")
        raise ExportError(f"no grades.csv in {out}: give the --out folder of `python -m autograder grade` "
                          "(run grade first)")
    with open(grades_csv, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != GRADES_COLUMNS:
            raise ExportError(f"{grades_csv} does not start with the columns {', '.join(GRADES_COLUMNS)} "
                              "(it was not written by `python -m autograder grade`)")
        return [(row[0], row[1]) for row in reader if len(row) == len(GRADES_COLUMNS)]


def write_tables(out, grades, learners):
    """Write OUT/final-grades.csv and OUT/final-grades-lms.csv (each replaced whole); returns their paths."""
    final = _write(out / FINAL, GRADES_COLUMNS,
                   [(g.student, g.assignment, _num(g.score), _num(g.max_score)) for g in grades])
    header, rows = lms_table(grades, learners)
    lms = _write(out / LMS, header, rows)
    return [final, lms]


def lms_table(grades, learners):
    """One row per learner (header, rows): names, the points of each assignment, total, max_total, percent."""
    assignments = sorted({g.assignment for g in grades})
    max_of = {a: max(g.max_score for g in grades if g.assignment == a) for a in assignments}
    score_of = {(g.student, g.assignment): g.score for g in grades}
    header = ["student_id", "last_name", "first_name", "email"]
    header += [f"{a} (max {_num(max_of[a])})" for a in assignments] + ["total", "max_total", "percent"]
    max_total = sum(max_of.values())
    rows = []
    for student in sorted(learners):
        who = learners[student]
        scores = [score_of.get((student, a)) for a in assignments]
        total = sum(s for s in scores if s is not None)
        percent = f"{100 * total / max_total:.1f}" if max_total else ""
        rows.append([student] + [_text_cell(v) for v in (who.last_name, who.first_name, who.email)]
                    + ["" if s is None else _num(s) for s in scores]
                    + [_num(total), _num(max_total), percent])
    return header, rows


def _write(path, header, rows):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


def _text_cell(value):
    """Text a spreadsheet will not read as a formula (a name starting with = + - @ is kept as text)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _num(x):
    return f"{float(x or 0):g}"
