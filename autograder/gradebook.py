"""Trusted scores into nbgrader's gradebook, and totals back out, with nbgrader's API.

The gradebook of a grading run is created fresh by ``build_course``; nobody has
graded anything by hand when autograde finishes. Any manual score, extra credit
or comment present then was written by code running in a learner's kernel (it
can reach ``gradebook.db``), so ``write_check_scores`` clears those for the
submission and sets each check cell's ``auto_score`` to the trusted score.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SubmissionSummary:
    score: float
    max_score: float
    auto_cells: list  # (grade_id, score, max_score) of auto-graded code cells, in notebook order


def write_check_scores(db_url, student, assignment, scores, notebook=None, zero_others=False):
    """Write the trusted check scores of one submitted notebook.

    Inputs:
    - db_url: gradebook URL (sqlite:///.../gradebook.db)
    - student, assignment: ids; notebook defaults to the assignment name
    - scores: dict grade_id -> (score, max_score, message)
    - zero_others: set every other auto-graded cell to 0 (the notebook was recorded without running)
    Returns the list of grade ids that had no grade row (a check cell the notebook lacks).
    """
    from nbgrader.api import Gradebook, MissingEntry

    notebook = notebook or assignment
    missing = []
    with Gradebook(db_url) as gb:
        submitted = gb.find_submission_notebook(notebook, assignment, student)
        for grade in submitted.grades:
            grade.manual_score = None
            grade.extra_credit = None
            if zero_others and grade.auto_score is not None and grade.name not in scores:
                grade.auto_score = 0.0
        for comment in submitted.comments:
            comment.manual_comment = None
        for grade_id, (score, max_score, _message) in scores.items():
            try:
                grade = gb.find_grade(grade_id, notebook, assignment, student)
            except MissingEntry:
                missing.append(grade_id)
                continue
            grade.auto_score = float(min(max(score, 0.0), max_score))
            grade.manual_score = None
            grade.needs_manual_grade = False
        gb.db.commit()
    return missing


def read_submission(db_url, student, assignment, notebook=None):
    """Totals of one submitted assignment as the gradebook (and ``nbgrader export``) sees them."""
    from nbgrader.api import Gradebook

    notebook = notebook or assignment
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        nb = gb.find_submission_notebook(notebook, assignment, student)
        cells = []
        for grade in nb.grades:
            cell = grade.cell
            if getattr(cell, "cell_type", None) == "code" and grade.auto_score is not None:
                cells.append((grade.name, float(grade.score), float(grade.max_score)))
        return SubmissionSummary(float(sub.score), float(sub.max_score), cells)
