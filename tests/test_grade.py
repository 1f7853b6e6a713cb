"""python -m autograder grade: intake, notebook repair, feedback scrubbing (fast) and a
small class end to end through nbgrader (slow)."""

import csv
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.checks.registry import CHECKS, LESSONS
from autograder.demo import classroom
from autograder.grading import feedback, submissions

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- intake (fast)


def _course(folder, text="x = 1\n"):
    (folder / "rnnkit").mkdir(parents=True)
    (folder / "rnnkit" / "__init__.py").write_text(text)
    (folder / "lessons").mkdir()
    (folder / "lessons" / "04-lstm.ipynb").write_text("{}")
    return folder


def test_folder_is_copied_without_links_and_original_untouched(tmp_path):
    subs = tmp_path / "subs"
    learner = _course(subs / "ada")
    (learner / "rnnkit" / "lstm.py").symlink_to(REPO / "rnnkit" / "lstm.py")
    (learner / "rnnkit" / "__pycache__").mkdir()
    (learner / "rnnkit" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    taken = submissions.collect(subs, tmp_path / "work")
    assert [s.student_id for s in taken] == ["ada"]
    copy = taken[0].folder
    assert copy == tmp_path / "work" / "ada"
    assert (copy / "rnnkit" / "__init__.py").read_text() == "x = 1\n"
    assert not (copy / "rnnkit" / "lstm.py").exists()
    assert not (copy / "rnnkit" / "__pycache__").exists()
    assert any("symbolic link" in n for n in taken[0].notes)
    assert (learner / "rnnkit" / "lstm.py").is_symlink()  # the original keeps what it had


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_zip_with_and_without_top_folder(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    _zip(subs / "bea.zip", {"my-course/rnnkit/__init__.py": "b = 1\n", "my-course/lessons/a.ipynb": "{}",
                            "__MACOSX/my-course/._x": "junk"})
    _zip(subs / "cy.zip", {"rnnkit/__init__.py": "c = 1\n", "lessons/a.ipynb": "{}"})
    taken = {s.student_id: s for s in submissions.collect(subs, tmp_path / "work")}
    assert (taken["bea"].folder / "rnnkit" / "__init__.py").read_text() == "b = 1\n"
    assert (taken["cy"].folder / "rnnkit" / "__init__.py").read_text() == "c = 1\n"
    assert not list((tmp_path / "work").rglob("__MACOSX"))


def test_zip_slip_and_links_in_zips_are_refused(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    with zipfile.ZipFile(subs / "eve.zip", "w") as zf:
        zf.writestr("rnnkit/__init__.py", "e = 1\n")
        zf.writestr("../../../escaped.py", "bad\n")
        zf.writestr("/abs-escaped.py", "bad\n")
        zf.writestr("rnnkit/..\\..\\win-escaped.py", "bad\n")
        link = zipfile.ZipInfo("rnnkit/lstm.py")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, str(REPO / "rnnkit" / "lstm.py"))
    (taken,) = submissions.collect(subs, tmp_path / "work" / "inner")
    assert taken.folder is not None
    assert sorted(p.name for p in (taken.folder / "rnnkit").iterdir()) == ["__init__.py"]
    assert not list(tmp_path.rglob("*escaped.py"))
    assert len([n for n in taken.notes if "unsafe path" in n]) == 3
    assert any("symbolic link" in n for n in taken.notes)


def test_bad_submissions_get_a_reason(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "dan.zip").write_bytes(b"PK\x03\x04 not really a zip")
    _course(subs / "fay")
    _zip(subs / "fay.zip", {"rnnkit/__init__.py": ""})
    (subs / "gus").mkdir()
    (subs / "gus" / "notes.txt").write_text("no course here")
    _course(subs / "bad name!")
    (subs / "readme.txt").write_text("not a submission")
    taken = {s.student_id: s for s in submissions.collect(subs, tmp_path / "work")}
    assert set(taken) == {"dan", "fay", "gus", "bad name!"}
    assert all(s.folder is None and s.problem for s in taken.values())
    assert "zip" in taken["dan"].problem
    assert "both a folder and a zip" in taken["fay"].problem
    assert "rnnkit/" in taken["gus"].problem
    assert "student id" in taken["bad name!"].problem


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_BYTES", 1 << 20)
    subs = tmp_path / "subs"
    subs.mkdir()
    with zipfile.ZipFile(subs / "zed.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rnnkit/__init__.py", "")
        zf.writestr("rnnkit/big.bin", bytes(4 << 20))  # 4 MB of zeros, a few kB zipped
    (taken,) = submissions.collect(subs, tmp_path / "work")
    assert taken.folder is None and "more than" in taken.problem
    assert not (tmp_path / "work" / "zed").exists()


def test_nested_course_folder_is_found(tmp_path):
    _course(tmp_path / "a" / "b")
    assert submissions.find_course_root(tmp_path) == tmp_path / "a" / "b"


# --------------------------------------------------------------------------- notebooks (fast)


def _nb(cells, minor=5):
    return {"nbformat": 4, "nbformat_minor": minor, "metadata": {}, "cells": cells}


def _graded(grade_id, source, cell_id):
    return {"cell_type": "code", "id": cell_id, "source": source, "outputs": [], "execution_count": 3,
            "metadata": {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True, "points": 1,
                                      "solution": False, "schema_version": 3}}}


def test_split_cell_is_joined_and_copies_lose_grading(tmp_path):
    nb = _nb([_graded("check_a", "check(", "c1"), _graded("check_a", '"a")', "c1"),
              {"cell_type": "markdown", "id": "m1", "source": "text", "metadata": {}},
              _graded("check_a", 'check("a")', "c1")])
    notes = submissions.repair_notebook(nb)
    grade_ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in nb["cells"]]
    assert grade_ids == ["check_a", None, None]
    assert nb["cells"][0]["source"] == 'check(\n"a")'
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids)
    assert nb["cells"][0]["execution_count"] == 3  # saved outputs and counts are kept, shown inert
    assert notes


def test_non_json_notebook_is_reported(tmp_path):
    path = tmp_path / "x.ipynb"
    path.write_text('{"cells": [ oops')
    with pytest.raises(submissions.IntakeError, match="not valid JSON"):
        submissions.read_notebook(path)
    path.write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    with pytest.raises(submissions.IntakeError):
        submissions.read_notebook(path)


# --------------------------------------------------------------------------- feedback (fast)


@pytest.mark.parametrize("score", [0.0, 0.5, 1.5, 2.0])
def test_check_cell_outputs_make_nbgrader_record_the_trusted_score(score):
    # nbgrader's own rule (utils.determine_grade) reads the score back from the outputs we write
    import nbformat
    from nbgrader.utils import determine_grade

    from autograder.grading.nbpre import check_outputs

    cell = nbformat.from_dict(_graded("check_lstm_new_state", 'check("lstm.new_state")', "c1"))
    cell.metadata.nbgrader.points = 2
    cell.outputs = check_outputs(score, 2.0, "a message")
    assert determine_grade(cell) == (score, 2.0)
    assert "Graded outside the notebook: " in cell.outputs[0].text


def test_hidden_lines_are_found_by_the_page_scan(tmp_path):
    hidden = "assert abs(secret_value - 0.318273) < 1e-6"
    source = f"x = 1\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS\n"
    assert feedback.hidden_lines(source) == [hidden]
    assert feedback.strip_hidden(source) == ("x = 1\n", True)
    page = tmp_path / "page.html"
    page.write_text("<pre><span>assert</span> abs(secret_value - 0.318273) &lt; 1e-6</pre>")
    assert feedback.scan_feedback(page, [hidden]) == [hidden]
    page.write_text("<pre>all fine</pre>")
    assert feedback.scan_feedback(page, [hidden]) == []


def test_help_documents_the_outputs():
    out = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for name in ["grades.csv", "results.csv", "ungradable.csv", "notes.csv", "feedback/", "--jobs"]:
        assert name in out


# --------------------------------------------------------------------------- end to end (slow)

SEED = 7318530717958647


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    from autograder.grading.grade import grade

    root = tmp_path_factory.mktemp("class")
    templates = classroom.Templates(root / "templates")
    subs = root / "subs"
    subs.mkdir()
    templates.learner(subs / "perfect")
    memo = templates.learner(subs / "memo")
    classroom.replace_function(memo / "rnnkit" / "lstm.py", "new_state", classroom.MEMO_NEW_STATE)
    torch_gru = templates.learner(subs / "torchgru")
    classroom.replace_function(torch_gru / "rnnkit" / "gru.py", "final_output", classroom.PYTORCH_GRU_MIX)
    templates.learner(subs / "stub", base="stub")
    with zipfile.ZipFile(subs / "zipped.zip", "w") as zf:
        for path in templates.key.rglob("*"):
            if path.is_file():
                zf.write(path, f"course/{path.relative_to(templates.key)}")
    out = root / "out"
    batch = grade(subs, out, jobs=2, seed=SEED, progress=False)
    return {"out": out, "batch": batch, "root": root}


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_tables_have_the_contract_columns(graded_class):
    out = graded_class["out"]
    with open(out / "grades.csv") as f:
        assert f.readline().strip() == "student_id,assignment,score,max_score"
    with open(out / "results.csv") as f:
        assert f.readline().strip() == "student_id,assignment,test_id,score,max_score,message"
    grades = _rows(out / "grades.csv")
    students = {r["student_id"] for r in grades}
    assert students == {"perfect", "memo", "torchgru", "stub", "zipped"}
    assert len(grades) == 5 * len(LESSONS)
    assert _rows(out / "ungradable.csv") == []


@pytest.mark.slow
def test_scores_follow_the_code(graded_class):
    results = _rows(graded_class["out"] / "results.csv")
    by = {(r["student_id"], r["test_id"]): r for r in results}
    for spec in CHECKS:
        perfect = by[("perfect", spec.check_id)]
        assert float(perfect["score"]) == float(perfect["max_score"]) == spec.points, spec.check_id
        assert by[("zipped", spec.check_id)]["score"] == perfect["score"]
        assert float(by[("stub", spec.check_id)]["score"]) == 0
        assert "not written" in by[("stub", spec.check_id)]["message"]
    memo = by[("memo", "lstm.new_state")]
    assert float(memo["score"]) == 0 and "forget" in memo["message"].lower()
    torch = by[("torchgru", "gru.final_output")]
    assert float(torch["score"]) == 0
    assert re.search(r"pytorch|swapped|1 ?- ?u", torch["message"], re.I)
    # outside the module with the mistake (whose step function composes the wrong piece), nothing changes
    for (student, check_id), row in by.items():
        if student == "memo" and not check_id.startswith("lstm.") or student == "torchgru" and \
                not check_id.startswith("gru."):
            assert row["score"] == by[("perfect", check_id)]["score"], (student, check_id)
    assert float(by[("memo", "lstm.forget_gate")]["score"]) == 1


@pytest.mark.slow
def test_nbgrader_export_agrees_with_grades_csv(graded_class):
    out = graded_class["out"]
    from autograder.building.course import nbgrader_env

    export = out / "export.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(export)], cwd=out / "course",
                   env=nbgrader_env(), check=True, capture_output=True)
    exported = {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
                for r in _rows(export)}
    ours = {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
            for r in _rows(out / "grades.csv")}
    assert exported == ours


@pytest.mark.slow
def test_gradebook_check_cells_hold_the_trusted_scores(graded_class):
    from nbgrader.api import Gradebook

    out = graded_class["out"]
    results = {(r["student_id"], r["test_id"]): float(r["score"]) for r in _rows(out / "results.csv")}
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        for spec in CHECKS:
            for student in ("perfect", "memo", "stub"):
                grade = gb.find_grade(spec.grade_id, spec.lesson, spec.lesson, student)
                assert grade.score == results[(student, spec.check_id)]


@pytest.mark.slow
def test_feedback_shows_no_seed_or_hidden_expected_values(graded_class):
    from autograder.specs.cases import make_cases
    from rnnkit import lstm

    out = graded_class["out"]
    pages = sorted((out / "feedback").rglob("*.html"))
    assert len(pages) == 5 * len(LESSONS)
    hidden_values = set()
    for case in make_cases(SEED, check_ids=["lstm.new_state"]):
        if not case.visible:
            expected = lstm.new_state(*case.args)
            hidden_values |= {f"{float(v):.6g}" for v in np.ravel(expected)}
    hidden_values = {v for v in hidden_values if len(v.lstrip("-")) >= 6}
    assert hidden_values
    texts = {p: p.read_text(encoding="utf-8") for p in pages}
    memo_results = " ".join(r["message"] for r in _rows(out / "results.csv") if r["student_id"] == "memo")
    for page, text in texts.items():
        assert str(SEED) not in text, page
        assert "HIDDEN TESTS" not in text
    memo_page = texts[out / "feedback" / "memo" / "04-lstm.html"]
    assert "Graded outside the notebook: 0 / 2 points." in memo_page
    assert not [v for v in hidden_values if v in memo_page or v in memo_results]


@pytest.mark.slow
def test_progress_and_summary(graded_class):
    summary = graded_class["batch"].summary()
    assert f"Graded {5 * len(LESSONS)}" in summary and "0 ungradable" in summary


# --------------------------------------------------------------------------- sandboxed checks (fast-ish)


@pytest.mark.slow
@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_crashing_function_costs_only_its_own_check(tmp_path, exit_code):
    from autograder.grading import checkrun, sandbox
    from autograder.specs.cases import make_cases

    templates = classroom.Templates(tmp_path / "templates")
    learner = templates.learner(tmp_path / "learner")
    crash = f"def forget_gate(x, y_prev, W_f, b_f):\n    import os\n    os._exit({exit_code})\n"
    classroom.replace_function(learner / "rnnkit" / "lstm.py", "forget_gate", crash)
    check_ids = [c.check_id for c in CHECKS if c.lesson == "04-lstm"]
    outcomes, runs = checkrun.run_submission_checks(learner, make_cases(11, check_ids=check_ids),
                                                    limits=sandbox.Limits(idle_seconds=20))
    assert len(runs) == 3  # the crash, a fresh sandbox for the rest, then the hidden cases
    assert outcomes["lstm.forget_gate"].score == 0
    assert f"exit status {exit_code}" in outcomes["lstm.forget_gate"].message
    for check_id in check_ids[1:]:
        assert outcomes[check_id].score == outcomes[check_id].max_score > 0, check_id


# --------------------------------------------------------------------------- the grader's own failures


def test_without_bubblewrap_grade_refuses_unless_allowed(tmp_path, monkeypatch):
    from autograder.grading import grade as grade_mod
    from autograder.grading import sandbox

    monkeypatch.setattr(sandbox, "bubblewrap_available", lambda: False)
    (tmp_path / "subs").mkdir()
    with pytest.raises(grade_mod.GradingError, match="--allow-unsandboxed"):
        grade_mod.grade(tmp_path / "subs", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert grade_mod._decide_sandbox(allow_unsandboxed=True).startswith("plain subprocess")


@pytest.mark.slow
def test_an_internal_error_is_logged_never_blamed_on_the_learner(tmp_path, monkeypatch):
    from autograder.grading.grade import grade

    templates = classroom.Templates(tmp_path / "templates")
    subs = tmp_path / "subs"
    subs.mkdir()
    templates.learner(subs / "ann")

    # The judge runs in grade's check processes and nbgrader's workers: break it in every Python
    # started from here (the sandbox runs python -I -S and never sees this).
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import autograder.specs.judge\n"
        "def _broken(*args, **kwargs):\n"
        "    raise ZeroDivisionError('a bug in the judge')\n"
        "autograder.specs.judge.judge_results = _broken\n")
    monkeypatch.setenv("PYTHONPATH", str(inject))
    batch = grade(subs, tmp_path / "out", assignments=["02-basic-rnn"], seed=SEED, progress=False)
    assert batch.internal_errors >= 1
    log = (tmp_path / "out" / "logs" / "internal-errors.log").read_text()
    assert "ZeroDivisionError" in log and "a bug in the judge" in log
    # no grade the learner did not earn: ungradable, with a reason that does not blame them
    assert batch.graded == {}
    (reason,) = [r for s, a, r in batch.ungradable if (s, a) == ("ann", "02-basic-rnn")]
    assert "not your doing" in reason and "ZeroDivision" not in reason
    assert "internal-errors.log" in batch.summary()
