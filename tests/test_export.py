"""python -m autograder export: the final grades once written answers are graded by hand.

A small class is graded; one learner's written answer gets points through nbgrader's Gradebook
API (what formgrader does); the export shows them, grades.csv (written before) does not, and
nbgrader's own ``nbgrader export`` agrees with every score. Bad input gets a clear error and
writes nothing.
"""

import csv
import html
import re
import shutil
import subprocess
import sys

import pytest

from autograder.building.course import nbgrader_env
from autograder.demo import classroom
from autograder.grading import sanitize
from autograder.grading.grade import grade

pytestmark = pytest.mark.slow

ASSIGNMENT = "04-lstm"
WRITTEN = "lstm_q_memo_state"  # a hand-graded written answer of lesson 04 (3 points)
HAND_POINTS = 2.5
NAMES = {"ann": ("Ann", "Lee", "ann.lee@example.edu"), "bob": ("Bob", "=HYPERLINK(1)", "bob@example.edu")}


COMMENT = "Good: you name the forget gate. <script>alert('x')</script> Say what f_t = 1 keeps."


def _page_text(path):
    """The text a browser shows of a feedback page (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _scores(path):
    return {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
            for r in _rows(path)}


def _export(out):
    return subprocess.run([sys.executable, "-m", "autograder", "export", str(out)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A graded class of two; the export before and after ann's written answer got HAND_POINTS."""
    root = tmp_path_factory.mktemp("export")
    templates = classroom.Templates(root / "templates")
    subs = root / "subs"
    subs.mkdir()
    ann = templates.learner(subs / "ann")
    classroom.write_answers(ann, {WRITTEN: "The words describe $s_t = f_t s_{t-1} + I_t a_t$ (Gers, 2000)."})
    bob = templates.learner(subs / "bob")
    classroom.replace_function(bob / "rnnkit" / "lstm.py", "new_state", classroom.MEMO_NEW_STATE)
    out = root / "out"
    grade(subs, out, assignments=[ASSIGNMENT], jobs=2, seed=515151, progress=False)
    classroom.name_students(out / "course", NAMES)
    grades_csv = (out / "grades.csv").read_text()

    before = _export(out)
    final_before = (out / "final-grades.csv").read_text()
    page_before = _page_text(out / "feedback" / "ann" / f"{ASSIGNMENT}.html")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        cell = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, "ann")
        assert cell.needs_manual_grade  # ann wrote an answer: formgrader lists it
        cell.manual_score = HAND_POINTS  # as formgrader's grade API does
        cell.needs_manual_grade = False
        comment = gb.find_comment(WRITTEN, ASSIGNMENT, ASSIGNMENT, "ann")
        comment.manual_comment = COMMENT
        gb.db.commit()
    after = _export(out)
    nbgrader_csv = out / "nbgrader-export.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(nbgrader_csv)],
                   cwd=out / "course", env=nbgrader_env(), check=True, capture_output=True, timeout=300)
    return {"out": out, "grades_csv": grades_csv, "before": before, "final_before": final_before,
            "after": after, "nbgrader_csv": nbgrader_csv, "page_before": page_before}


def test_before_hand_grading_the_final_grades_are_grades_csv_and_the_answer_is_listed(graded):
    assert graded["before"].returncode == 0, graded["before"].stderr
    assert graded["final_before"] == graded["grades_csv"]
    assert "1 written answers are not graded yet" in graded["before"].stdout
    assert "ann 04-lstm: 1" in graded["before"].stdout
    assert "bob 04-lstm" not in graded["before"].stdout  # bob left the answer cell as released


def test_hand_points_reach_the_final_grades_and_not_grades_csv(graded):
    out = graded["out"]
    assert graded["after"].returncode == 0, graded["after"].stderr
    assert "not graded yet" not in graded["after"].stdout
    earlier = _scores(out / "grades.csv")
    final = _scores(out / "final-grades.csv")
    assert (out / "grades.csv").read_text() == graded["grades_csv"]  # export never rewrites it
    assert set(final) == set(earlier) == {("ann", ASSIGNMENT), ("bob", ASSIGNMENT)}
    assert final[("ann", ASSIGNMENT)] == (earlier[("ann", ASSIGNMENT)][0] + HAND_POINTS,
                                          earlier[("ann", ASSIGNMENT)][1])
    assert final[("bob", ASSIGNMENT)] == earlier[("bob", ASSIGNMENT)]
    assert [list(r) for r in _rows(out / "final-grades.csv")][0] == ["student_id", "assignment", "score",
                                                                      "max_score"]
    # nbgrader's own export of the same gradebook agrees (it also lists lessons nobody submitted, as 0)
    nbgrader_scores = {(r["student_id"], r["assignment"]): float(r["score"])
                       for r in _rows(graded["nbgrader_csv"])}
    assert {k: nbgrader_scores[k] for k in final} == {k: v[0] for k, v in final.items()}


def test_export_refreshes_the_feedback_pages_with_the_hand_points_and_comment(graded):
    out = graded["out"]
    earlier_score, max_score = _scores(out / "grades.csv")[("ann", ASSIGNMENT)]
    assert f"Score so far: {earlier_score:g} of {max_score:g} points." in graded["page_before"]
    assert "Written answers still to be graded by hand: 1." in graded["page_before"]
    assert COMMENT not in graded["page_before"]
    pages = [out / "feedback" / "ann" / f"{ASSIGNMENT}.html",
             out / "course" / "feedback" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.html"]
    for page in pages:
        text = _page_text(page)
        assert f"Score: {earlier_score + HAND_POINTS:g} of {max_score:g} points." in text
        assert "still to be graded" not in text
        assert f"Graded by hand: {HAND_POINTS:g} of 3 points." in text
        assert COMMENT in text  # shown as text: the instructor's <script> is escaped, not run
        raw = page.read_text(encoding="utf-8")
        assert "<script>alert" not in raw
        assert sanitize.inert_problems(raw) == []
    assert "Feedback pages refreshed: 2 of 2" in graded["after"].stdout


def test_the_lms_table_has_one_row_per_learner_with_names_and_totals(graded):
    out = graded["out"]
    final = _scores(out / "final-grades.csv")
    rows = _rows(out / "final-grades-lms.csv")
    assert [r["student_id"] for r in rows] == ["ann", "bob"]
    ann, bob = rows
    assert (ann["first_name"], ann["last_name"], ann["email"]) == NAMES["ann"]
    assert bob["last_name"] == "'=HYPERLINK(1)"  # a spreadsheet shows it as text, never runs it
    score, max_score = final[("ann", ASSIGNMENT)]
    column = f"{ASSIGNMENT} (max {max_score:g})"
    assert float(ann[column]) == score
    assert float(ann["total"]) == score and float(ann["max_total"]) == max_score
    assert ann["percent"] == f"{100 * score / max_score:.1f}"


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("missing", "is not a folder"),
        ("empty", "no grades.csv"),
        ("course", "is the nbgrader course directory"),
        ("no gradebook", "no gradebook at"),
        ("foreign csv", "does not start with the columns"),
        ("unknown pair", "has no submission for 1 pairs"),
    ],
)
def test_bad_input_gets_a_clear_error_and_nothing_is_written(graded, tmp_path, case, says):
    out = graded["out"]
    target = tmp_path / "out"
    if case == "empty":
        target.mkdir()
    elif case == "course":
        target = out / "course"
    elif case == "no gradebook":
        target.mkdir()
        shutil.copyfile(out / "grades.csv", target / "grades.csv")
    elif case == "foreign csv":
        target.mkdir()
        (target / "grades.csv").write_text("name,points\nann,3\n")
    elif case == "unknown pair":
        shutil.copytree(out, target, ignore=shutil.ignore_patterns("final-grades*"))
        with open(target / "grades.csv", "a", newline="") as f:
            csv.writer(f).writerow(["carol", ASSIGNMENT, "3", "17"])
    proc = _export(target)
    assert proc.returncode == 1
    assert proc.stderr.startswith("export: ") and says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    if target.is_dir():
        assert not list(target.glob("final-grades*")), case
