"""What grading reads from and adds to nbgrader's gradebook (through nbgrader's Gradebook API)."""

from __future__ import annotations

import json
from pathlib import Path

from nbgrader.api import Comment, Grade, Gradebook, MissingEntry

from autograder.checks.registry import checks_for

RECORDS = ".grading-records"  # in the course: <student>/<assignment>.json, the trusted outcomes


def open_gradebook(course):
    return Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}")


def add_students(course, students):
    """Make sure every student id has a gradebook entry (names, if any, are kept)."""
    with open_gradebook(course) as gb:
        for student in students:
            gb.update_or_create_student(student)


def hand_entered(course):
    """How many scores, extra credits and comments were entered by hand in the course's gradebook."""
    db = Path(course) / "gradebook.db"
    if not db.is_file():
        return 0
    with open_gradebook(course) as gb:
        by_hand = (Grade.manual_score.isnot(None)) | (Grade.extra_credit.isnot(None))
        grades = gb.db.query(Grade).filter(by_hand)
        comments = gb.db.query(Comment).filter(Comment.manual_comment.isnot(None))
        return grades.count() + comments.count()


def read_grades(course, pairs):
    """The gradebook's totals and per-check scores of graded (student, assignment) pairs.

    Inputs:
    - course: the nbgrader course directory
    - pairs: iterable of (student, assignment)

    Returns:
    - graded: {(student, assignment): (score, max_score)}, the gradebook's totals (hand-entered
      points included), for every pair the gradebook holds;
    - results: rows (student, assignment, check_id, score, max_score, message) for each check,
      the message from the trusted record in course/RECORDS.
    """
    graded, results = {}, []
    course = Path(course)
    with open_gradebook(course) as gb:
        for student, assignment in pairs:
            try:
                sub = gb.find_submission(assignment, student)
                nb = gb.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                continue
            graded[(student, assignment)] = (float(sub.score), float(sub.max_score))
            try:
                record_file = course / RECORDS / student / f"{assignment}.json"
                record = json.loads(record_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                record = {}
            scores = {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
            for spec in checks_for(assignment):
                if spec.grade_id in scores:
                    score, max_score = scores[spec.grade_id]
                    message = (record.get(spec.check_id) or {}).get("message", "")
                    results.append((student, assignment, spec.check_id, score, max_score, message))
    return graded, results
