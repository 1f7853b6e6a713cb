"""Re-running grade keeps what the instructor entered, and grades again only what changed.

Read and written through nbgrader's Gradebook API, as formgrader does.
"""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from autograder.demo import classroom
from autograder.grading.grade import STATE, GradingError, grade

pytestmark = pytest.mark.slow

ASSIGNMENT = "04-lstm"
WRITTEN = "lstm_q_memo_state"  # a hand-graded written answer of lesson 04 (3 points)
FORGET_GATE_STUB = "def forget_gate(x, y_prev, W_f, b_f):\n    raise NotImplementedError()\n"


def _db(out):
    return f"sqlite:///{out / 'course' / 'gradebook.db'}"


def _grades(out):
    with open(out / "grades.csv", newline="") as f:
        return {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}


def _hand_grade(out, student, points, comment):
    from nbgrader.api import Gradebook

    with Gradebook(_db(out)) as gb:
        grade_row = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, student)
        grade_row.manual_score = points
        gb.find_comment(WRITTEN, ASSIGNMENT, ASSIGNMENT, student).manual_comment = comment
        gb.db.commit()


def _gradebook_totals(out):
    from nbgrader.api import Gradebook

    with Gradebook(_db(out)) as gb:
        return {(s, ASSIGNMENT): float(gb.find_submission(ASSIGNMENT, s).score) for s in ("ann", "bob")}


def _hand_entered(out, student):
    from nbgrader.api import Gradebook

    with Gradebook(_db(out)) as gb:
        grade_row = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, student)
        comment = gb.find_comment(WRITTEN, ASSIGNMENT, ASSIGNMENT, student)
        return grade_row.manual_score, comment.manual_comment


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("regrade")
    templates = classroom.Templates(root / "templates")
    subs = root / "subs"
    subs.mkdir()
    templates.learner(subs / "ann")
    bob = templates.learner(subs / "bob")
    classroom.replace_function(bob / "rnnkit" / "lstm.py", "forget_gate", FORGET_GATE_STUB)
    out = root / "out"
    batch = grade(subs, out, assignments=[ASSIGNMENT], jobs=2, seed=424242, progress=False)
    return {"root": root, "subs": subs, "out": out, "batch": batch, "templates": templates}


def test_a_rerun_keeps_hand_entered_scores_and_grades_nothing_unchanged(first_run):
    out, subs = first_run["out"], first_run["subs"]
    assert first_run["batch"].regraded == 2
    before = _grades(out)
    _hand_grade(out, "ann", 1.5, "Right idea; say why the state grows.")

    again = grade(subs, out, assignments=[ASSIGNMENT], jobs=2, progress=False)
    assert (again.regraded, again.kept) == (0, 2)
    assert _hand_entered(out, "ann") == (1.5, "Right idea; say why the state grows.")
    after = _grades(out)
    assert after[("ann", ASSIGNMENT)] == before[("ann", ASSIGNMENT)] + 1.5
    assert after[("bob", ASSIGNMENT)] == before[("bob", ASSIGNMENT)]

    # nbgrader's own export agrees with grades.csv, hand-entered points included
    from autograder.building.course import nbgrader_env

    export = out / "export.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(export)], cwd=out / "course",
                   env=nbgrader_env(), check=True, capture_output=True)
    with open(export, newline="") as f:
        exported = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    assert {k: exported[k] for k in after} == after  # export also lists unsubmitted lessons as 0


def test_a_changed_submission_alone_is_graded_again_and_keeps_hand_scores(first_run):
    out, subs = first_run["out"], first_run["subs"]
    _hand_grade(out, "bob", 2.0, "Good.")
    _hand_grade(out, "ann", 1.5, "Right idea; say why the state grows.")
    before = _gradebook_totals(out)
    # bob writes forget_gate after all: a late, changed submission
    shutil.copyfile(first_run["templates"].key / "rnnkit" / "lstm.py", subs / "bob" / "rnnkit" / "lstm.py")
    again = grade(subs, out, assignments=[ASSIGNMENT], jobs=2, progress=False)
    assert (again.regraded, again.kept) == (1, 1)
    after = _grades(out)
    assert after[("bob", ASSIGNMENT)] == before[("bob", ASSIGNMENT)] + 1  # forget_gate's point
    assert after[("ann", ASSIGNMENT)] == before[("ann", ASSIGNMENT)]
    assert _hand_entered(out, "bob") == (2.0, "Good.")
    assert _hand_entered(out, "ann") == (1.5, "Right idea; say why the state grows.")


def test_a_course_of_another_version_with_hand_scores_is_refused_not_wiped(first_run):
    out, subs = first_run["out"], first_run["subs"]
    _hand_grade(out, "ann", 1.5, "kept")
    state_path = out / "course" / STATE
    state = json.loads(state_path.read_text())
    state["fingerprint"] = "an older course"
    state_path.write_text(json.dumps(state))
    db_before = (out / "course" / "gradebook.db").read_bytes()
    with pytest.raises(GradingError, match="--rebuild-course"):
        grade(subs, out, assignments=[ASSIGNMENT], progress=False)
    assert (out / "course" / "gradebook.db").read_bytes() == db_before
    assert _hand_entered(out, "ann") == (1.5, "kept")
    # the command line says the same and exits 1
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
                           "--assignments", ASSIGNMENT, "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 1 and "--rebuild-course" in proc.stderr
    assert _hand_entered(out, "ann") == (1.5, "kept")
