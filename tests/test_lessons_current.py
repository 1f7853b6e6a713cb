"""lessons/ is what `make lessons` makes from solutions/, and holds no solution text."""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import paths, regions
from autograder.building import lessons
from autograder.building.setup_cell import SETUP_CELL, SETUP_GRADE_ID
from autograder.checks.registry import CHECKS, LESSONS

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
LESSON_FILES = sorted((REPO / "lessons").glob("*.ipynb"))
SOLUTION_FILES = sorted(SOLUTIONS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def rendered():
    return {name: nbformat.reads(text, as_version=4) for name, text in lessons.render_lessons().items()}


@pytest.mark.slow
def test_committed_lessons_are_current():
    proc = subprocess.run([sys.executable, "-m", "autograder", "lessons", "--check"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_check_fails_and_names_make_lessons_when_stale(tmp_path, monkeypatch):
    out = tmp_path / "lessons"
    lessons.write_lessons(out)
    first = sorted(out.glob("*.ipynb"))[0]
    nb = json.loads(first.read_text())
    nb["cells"][0]["source"] = "edited by hand\n"
    first.write_text(json.dumps(nb))
    (out / "99-extra.ipynb").write_text("{}")
    assert lessons.stale_lessons(out) == sorted([first.name, "99-extra.ipynb"])
    monkeypatch.setattr(paths, "LESSONS", out)
    proc_rc = lessons.run(type("Args", (), {"check": True})())
    assert proc_rc == 1


@pytest.mark.slow
def test_stale_message_says_run_make_lessons(tmp_path):
    # Through the command line, on a copy of the repository layout with one lesson edited.
    out = tmp_path / "lessons"
    lessons.write_lessons(out)
    code = ("import sys; from pathlib import Path; from autograder import paths; "
            f"paths.LESSONS = Path({str(out)!r}); "
            "from autograder.cli import main; sys.exit(main(['lessons', '--check']))")
    target = sorted(out.glob("*.ipynb"))[-1]
    target.write_text(target.read_text().replace('"cells": [', '"cells": [ ', 1) + " ")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "make lessons" in proc.stderr


@pytest.mark.slow
def test_rendering_is_deterministic(tmp_path):
    snapshot = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, snapshot)
    assert lessons.render_lessons(snapshot) == lessons.render_lessons(snapshot)


def test_one_lesson_per_registry_lesson():
    assert [p.stem for p in LESSON_FILES] == sorted(lesson.assignment for lesson in LESSONS)
    assert [p.stem for p in SOLUTION_FILES] == sorted(lesson.assignment for lesson in LESSONS)


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_lesson_keeps_cell_ids_and_check_cells(path, rendered):
    lesson = rendered[path.name]
    source = nbformat.read(SOLUTIONS / path.name, as_version=4)
    assert [c.id for c in lesson.cells] == [c.id for c in source.cells]
    assert len({c.id for c in lesson.cells}) == len(lesson.cells)
    checks = {c.grade_id: c for c in CHECKS if c.lesson == path.stem}
    for cell in lesson.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in checks:
            spec = checks[meta["grade_id"]]
            assert cell.source == f'check("{spec.check_id}")'
            assert meta["locked"] and meta["grade"] and meta["points"] == spec.points
            assert "checksum" in meta  # what nbgrader's autograde compares against


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.stem)
def test_committed_lesson_has_no_markers(path):
    text = path.read_text()
    for marker in regions.MARKERS:
        assert marker not in text, f"{path.name} holds {marker!r}"


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_lesson_has_no_model_answers_and_no_outputs(path, rendered):
    lesson = rendered[path.name]
    source = nbformat.read(SOLUTIONS / path.name, as_version=4)
    for mine, theirs in zip(lesson.cells, source.cells, strict=True):
        if mine.cell_type == "code":
            assert mine.outputs == [] and mine.execution_count is None
        if theirs.metadata.get("nbgrader", {}).get("solution") and "BEGIN SOLUTION" not in theirs.source:
            # A written answer cell: the model answer is replaced by nbgrader's text stub.
            assert mine.source in ("YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()")


def test_model_answer_in_a_lesson_is_refused(tmp_path):
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    path = sorted((tmp_path / "solutions").glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    answer = "The distinctive model answer: forty-two gates, all of them open."
    nb.cells.append(nbformat.v4.new_markdown_cell(answer, metadata={"nbgrader": {
        "grade": True, "grade_id": "written_leak", "locked": False, "points": 1,
        "schema_version": 3, "solution": True, "task": False}}))
    # The same text in an ordinary cell would carry it to the learner.
    nb.cells.append(nbformat.v4.new_markdown_cell("Recall: " + answer))
    nbformat.write(nb, path)
    with pytest.raises(lessons.LessonError, match="forty-two gates"):
        lessons.render_lessons(tmp_path / "solutions")


def test_hidden_test_region_is_removed(tmp_path):
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    path = sorted((tmp_path / "solutions").glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "assert True\n### BEGIN HIDDEN TESTS\nassert secret_value_xyz == 7\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "grade_id": "hidden_demo", "locked": True, "points": 1,
                               "schema_version": 3, "solution": False, "task": False}}))
    nbformat.write(nb, path)
    text = lessons.render_lessons(tmp_path / "solutions")[path.name]
    assert "assert True" in text
    assert "secret_value_xyz" not in text and "HIDDEN TESTS" not in text


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_first_code_cell_is_the_canonical_set_up_cell(path, rendered):
    for nb in (nbformat.read(path, as_version=4), rendered[path.name]):
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.source == SETUP_CELL
        meta = first.metadata["nbgrader"]
        assert meta["grade_id"] == SETUP_GRADE_ID and meta["locked"] and not meta["solution"]


def test_repeated_grade_id_is_refused(tmp_path):
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    path = tmp_path / "solutions" / f"{CHECKS[0].lesson}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == CHECKS[0].grade_id)
    twin = nbformat.from_dict(json.loads(json.dumps(cell)))
    twin["id"] = "twin-of-check"  # what JupyterLab's split cell leaves: a new id, the same grade_id
    nb.cells.append(twin)
    nbformat.write(nb, path)
    with pytest.raises(lessons.LessonError, match=f"repeated grade_id: {CHECKS[0].grade_id}"):
        lessons.render_lessons(tmp_path / "solutions")


# ---- what JupyterLab needs: Run All goes past a failing check, and an unedited lesson is unchanged ----

def _check_cells(nb):
    grade_ids = {c.grade_id for c in CHECKS}
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in grade_ids]


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_every_check_cell_is_tagged_raises_exception(path, rendered):
    """nbclient and JupyterLab's Run All go on past a failing cell tagged raises-exception. Both the
    lesson and the instructor notebook (what nbgrader's course releases) carry the tag."""
    for nb in (nbformat.read(path, as_version=4), rendered[path.name]):
        cells = _check_cells(nb)
        assert len(cells) == sum(1 for c in CHECKS if c.lesson == path.stem)
        graded_code = [c for c in nb.cells
                       if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
        for cell in cells + graded_code:
            assert "raises-exception" in cell.metadata.get("tags", []), cell.source


@pytest.fixture(scope="module")
def kernel_reports():
    """(kernelspec, language_info) as JupyterLab writes them: the kernelspec the server lists for the
    notebook's kernel, and the language_info a started kernel returns in its kernel_info_reply."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import start_new_kernel

    name = "python3"
    spec = KernelSpecManager().get_kernel_spec(name)
    km, kc = start_new_kernel(kernel_name=name)
    try:
        reply = kc.kernel_info(reply=True, timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    kernelspec = {"display_name": spec.display_name, "language": spec.language, "name": name}
    return kernelspec, reply["content"]["language_info"]


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_lessons_carry_the_metadata_jupyterlab_writes(path, rendered, kernel_reports):
    """JupyterLab sets kernelspec and language_info when the kernel starts: the same values, and
    an unedited lesson closes without asking to save (the browser test sees its tab stay clean)."""
    kernelspec, language_info = kernel_reports
    committed = nbformat.read(REPO / "lessons" / path.name, as_version=4)
    for nb in (committed, rendered[path.name], nbformat.read(path, as_version=4)):
        assert nb.metadata.get("kernelspec") == kernelspec
        assert nb.metadata.get("language_info") == language_info


@pytest.fixture(scope="module")
def learner_folder(tmp_path_factory):
    from autograder.building import release

    return release.build_release(tmp_path_factory.mktemp("learner") / "course")


@pytest.mark.slow
def test_nbclient_runs_a_lesson_past_its_failing_check(learner_folder):
    """Without allow_errors (JupyterLab's Run All behaves the same): the tag alone lets the run
    go on, and the failing check cell still holds its error."""
    from nbclient import NotebookClient

    lesson = learner_folder / "lessons" / "02-basic-rnn.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(lesson.parent)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a cell after the failing check did not run"
    (check_cell,) = _check_cells(nb)
    errors = [o for o in check_cell.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError"


@pytest.mark.slow
def test_validate_fails_the_tagged_check_and_shows_its_message_first(learner_folder):
    """nbgrader's Validate (the learner's button) runs the lesson: the check on a stub fails, and the
    error it shows starts with the check's message, not with the checks' code."""
    from nbgrader.validator import Validator

    lesson = learner_folder / "lessons" / "02-basic-rnn.ipynb"
    result = Validator().validate(str(lesson))
    failed = {entry["source"]: entry["error"] for entry in result.get("failed", [])}
    error = failed.get('check("rnn.rnn_step")')
    assert error is not None, result
    # Validate hands the traceback over with its colours as HTML spans (ansi2html).
    text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"\x1b\[[0-9;]*m", "", error)))
    first = text.strip().splitlines()[0]
    assert first == "AssertionError: rnn.rnn_step: 0 of 11 cases pass.", error
    assert "Traceback" not in error


@pytest.mark.slow
def test_a_lesson_whose_set_up_cell_drifted_is_refused_by_name(tmp_path):
    import shutil

    solutions = tmp_path / "solutions"
    shutil.copytree(paths.SOLUTIONS, solutions)
    target = solutions / "03-multilayer.ipynb"
    nb = nbformat.read(target, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source = setup.source.replace("show_setup(COURSE_DIR)", "print('no set-up report')")
    nbformat.write(nb, target)
    with pytest.raises(lessons.LessonError, match="03-multilayer.ipynb: its first code cell is not"):
        lessons.render_lessons(solutions)
