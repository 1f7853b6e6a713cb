"""End to end through nbgrader's real commands, as an instructor and two learners would run them.

generate (python -m autograder course) -> release_assignment to a temporary exchange -> each
learner fetch_assignment, works, submit -> collect -> autograde -> export -> generate_feedback
-> release_feedback -> fetch_feedback. A learner who filled in the answer key scores full marks on
every check cell; a learner who submitted the untouched stubs scores 0; so does a learner whose
rnnkit patches numpy and the notebook's check: nbgrader's own autograde (what formgrader's button
runs) uses the course's trusted pipeline, runs no notebook and runs learner code only sandboxed.

nbgrader takes the learner's name from the operating system account. Both learners here are
simulated under one account, so their nbgrader commands run with that lookup replaced by a name
given in the environment (the only thing changed; the commands are nbgrader's own).
"""

import csv
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import regions
from autograder.building import course, release
from autograder.checks.registry import CHECKS, LESSONS

pytestmark = pytest.mark.slow

# The lesson with the most checks exercises the most of the pipeline.
ASSIGNMENT = max((lesson.assignment for lesson in LESSONS),
                 key=lambda a: sum(1 for c in CHECKS if c.lesson == a))
LEARNER_SHIM = (
    "import os, sys\n"
    "import nbgrader.utils\n"
    "nbgrader.utils.get_osusername = lambda: os.environ['E2E_LEARNER']\n"
    "from nbgrader.apps.nbgraderapp import main\n"
    "sys.argv = ['nbgrader'] + sys.argv[1:]\n"
    "main()\n"
)


def _as_learner(name, home, *args):
    env = course.nbgrader_env()
    env.update(E2E_LEARNER=name, HOME=str(home))
    proc = subprocess.run([sys.executable, "-c", LEARNER_SHIM, *map(str, args)], cwd=home, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name}: nbgrader {args}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    root = course.build_course(tmp / "course")
    key = release.build_release(tmp / "key", solutions=True)
    exchange = tmp / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o777)
    ex = f"--Exchange.root={exchange}"
    course.nbgrader("release_assignment", ASSIGNMENT, ex, cwd=root)

    learners = {"kim_key": True, "sam_stub": False, "pat_patcher": False}
    homes = {}
    for name, fills_in in learners.items():
        home = tmp / "home" / name
        home.mkdir(parents=True)
        homes[name] = home
        _as_learner(name, home, "fetch_assignment", ASSIGNMENT, "--course", course.COURSE_ID, ex)
        fetched = home / ASSIGNMENT
        assert (fetched / f"{ASSIGNMENT}.ipynb").is_file()
        if fills_in:
            for rel in course.graded_files(ASSIGNMENT):
                shutil.copyfile(key / rel, fetched / rel)
        if name == "pat_patcher":
            with open(fetched / "rnnkit" / "lstm.py", "a") as f:
                f.write(PATCHER.format(marker=tmp / "patcher-ran-here"))
        _as_learner(name, home, "submit", ASSIGNMENT, "--course", course.COURSE_ID, ex)

    course.nbgrader("collect", ASSIGNMENT, ex, cwd=root)
    course.nbgrader("autograde", ASSIGNMENT, cwd=root)
    course.nbgrader("export", cwd=root)
    course.nbgrader("generate_feedback", ASSIGNMENT, cwd=root)
    course.nbgrader("release_feedback", ASSIGNMENT, ex, cwd=root)
    for name, home in homes.items():
        _as_learner(name, home, "fetch_feedback", ASSIGNMENT, "--course", course.COURSE_ID, ex)
    return {"root": root, "key": key, "homes": homes, "learners": learners, "tmp": tmp}


# Appended to the learner's rnnkit/lstm.py: what a learner who wrote nothing tried on nbgrader's own
# autograde (it scored full marks and ran as the instructor, unsandboxed).
PATCHER = """
import numpy, builtins
open({marker!r}, "w").write("learner code ran outside the sandbox")
numpy.allclose = lambda *a, **k: True
builtins.check = lambda *a, **k: print("All cases pass.")
"""


def _check_cells():
    return [c for c in CHECKS if c.lesson == ASSIGNMENT]


def test_collected_submissions_hold_the_learners_work(run):
    for name, fills_in in run["learners"].items():
        if name == "pat_patcher":
            continue
        folder = run["root"] / "submitted" / name / ASSIGNMENT
        for rel in course.graded_files(ASSIGNMENT):
            origin = run["key"] / rel if fills_in else run["root"] / "release" / ASSIGNMENT / rel
            assert (folder / rel).read_text() == origin.read_text()
        # autograde keeps only the notebook next to the grades: nothing of source/ (reference code of
        # earlier lessons) can reach the learner through generate_feedback
        graded = run["root"] / "autograded" / name / ASSIGNMENT
        assert sorted(p.name for p in graded.iterdir()) == \
            [f"{ASSIGNMENT}.ipynb", "submission_secret.txt", "timestamp.txt"]


def test_check_cells_score_full_marks_for_the_key_and_zero_for_stubs(run):
    root = run["root"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course.COURSE_ID) as gb:
        for name, fills_in in run["learners"].items():
            for spec in _check_cells():
                grade = gb.find_grade(spec.grade_id, ASSIGNMENT, ASSIGNMENT, name)
                assert grade.max_score == spec.points
                assert grade.auto_score == (spec.points if fills_in else 0), (name, spec.check_id)


def test_export_totals(run):
    with open(run["root"] / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == ASSIGNMENT}
    assert set(rows) == set(run["learners"])
    # Every autograded cell of the lesson is a check cell (written answers are graded by hand).
    lesson = nbformat.read(run["root"] / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    graded = [c for c in lesson.cells if c.metadata.get("nbgrader", {}).get("grade")]
    auto = [c for c in graded if c.cell_type == "code" and not c.metadata["nbgrader"].get("solution")]
    auto_ids = sorted(c.metadata["nbgrader"]["grade_id"] for c in auto)
    assert auto_ids == sorted(s.grade_id for s in _check_cells())
    full = sum(s.points for s in _check_cells())
    assert float(rows["kim_key"]["raw_score"]) == full
    assert float(rows["sam_stub"]["raw_score"]) == 0
    assert float(rows["pat_patcher"]["raw_score"]) == 0
    total = sum(c.metadata["nbgrader"]["points"] for c in graded)
    assert float(rows["kim_key"]["max_score"]) == total


def test_feedback_reaches_the_learners_and_shows_no_hidden_text(run):
    for name, home in run["homes"].items():
        html_files = list((run["root"] / "feedback" / name / ASSIGNMENT).glob("*.html"))
        assert [p.name for p in html_files] == [f"{ASSIGNMENT}.html"]
        fetched = list((home / ASSIGNMENT / "feedback").rglob(f"{ASSIGNMENT}.html"))
        assert len(fetched) == 1
        assert [p.name for p in (home / ASSIGNMENT / "feedback").rglob("*")
                if p.is_file() and not p.name.endswith(".txt")] == [f"{ASSIGNMENT}.html"]
        text = fetched[0].read_text()
        for marker in regions.MARKERS:
            assert marker not in text
        if name != "kim_key":
            assert "0 / 1 points" in text
            if name == "sam_stub":
                assert "not written yet" in text
            else:  # its import-time code patches builtins (refused as such) and writes a file (fails)
                assert "builds or loads code at run time" in text or "could not be imported" in text
        # The autograded notebook behind it: check cells fail exactly for the stub learner.
        graded = nbformat.read(run["root"] / "autograded" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
        check_ids = {s.grade_id for s in _check_cells()}
        for cell in graded.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in check_ids:
                errors = [o for o in cell.outputs if o.output_type == "error"]
                assert bool(errors) == (not run["learners"][name]), (name, cell.source, errors)


def test_learner_code_never_ran_outside_the_sandbox(run):
    assert not (run["tmp"] / "patcher-ran-here").exists()
