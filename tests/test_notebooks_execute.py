"""Every notebook runs top to bottom, in the three places it lives.

- solutions/ against the reference package: no error, nothing on stderr (under nbgrader any stderr
  output, a warning included, scores a cell 0);
- the learner's release (stubbed rnnkit): runs to the end; each check cell fails with its message
  (an AssertionError naming the function) and no other cell errors: experiments wait for the
  learner's functions instead of crashing;
- the answer key: every check cell passes (the set-up and check cells are run).

Driven by the registry and the notebooks found, not by their teaching content. Each test records
its execution time (``record_property("seconds", ...)``; see the JUnit XML or ``--durations``).
"""

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.building import release
from autograder.building.setup_cell import SETUP_CELL
from autograder.checks.registry import CHECKS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SOLUTION_FILES = sorted((REPO / "solutions").glob("*.ipynb"))
CHECK_BY_GRADE_ID = {c.grade_id: c for c in CHECKS}
CELL_TIMEOUT = 600


def execute(path, cwd, keep=None):
    """Run a notebook with its kernel in cwd; returns (executed notebook, seconds).

    keep: optional keep(cell) -> bool selecting the cells to run (the others are dropped).
    """
    nb = nbformat.read(path, as_version=4)
    if keep is not None:
        nb.cells = [c for c in nb.cells if keep(c)]
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def _errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _stderr(cell):
    return [o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]


def _check_spec(cell):
    return CHECK_BY_GRADE_ID.get(cell.metadata.get("nbgrader", {}).get("grade_id"))


def _where(path, i, cell):
    return f"{path.name} cell {i} ({cell.get('id')}): {cell.source[:80]!r}"


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory):
    return release.build_release(tmp_path_factory.mktemp("learner") / "course")


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory):
    return release.build_release(tmp_path_factory.mktemp("key") / "course", solutions=True)


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_solution_notebook_runs_clean_against_the_reference(path, record_property):
    nb, seconds = execute(path, path.parent)
    record_property("seconds", round(seconds, 1))
    problems = []
    for i, cell in enumerate(nb.cells):
        for err in _errors(cell):
            problems.append(f"{_where(path, i, cell)} raised {err.ename}: {err.evalue[:300]}")
        for text in _stderr(cell):
            problems.append(f"{_where(path, i, cell)} wrote to stderr: {text[:300]!r}")
    assert not problems, "\n".join(problems)
    # The check cells passed and said so on stdout.
    for cell in nb.cells:
        if _check_spec(cell):
            assert any(o.output_type == "stream" and o.name == "stdout" for o in cell.outputs)


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_learner_notebook_on_stubs_fails_only_in_check_cells(path, stubbed, record_property):
    lesson = stubbed / "lessons" / path.name
    nb, seconds = execute(lesson, lesson.parent)
    record_property("seconds", round(seconds, 1))
    problems, checked = [], 0
    for i, cell in enumerate(nb.cells):
        spec = _check_spec(cell)
        errors = _errors(cell)
        if spec is None:
            problems += [f"{_where(lesson, i, cell)} raised {e.ename}: {e.evalue[:300]}" for e in errors]
            continue
        checked += 1
        if not errors:
            problems.append(f"{_where(lesson, i, cell)}: the check passed against a stub")
        elif errors[0].ename != "AssertionError" or spec.function not in errors[0].evalue:
            problems.append(f"{_where(lesson, i, cell)}: expected the check's AssertionError naming "
                            f"{spec.function}, got {errors[0].ename}: {errors[0].evalue[:300]}")
    assert not problems, "\n".join(problems)
    assert checked == sum(1 for c in CHECKS if c.lesson == path.stem)


@pytest.mark.parametrize("path", SOLUTION_FILES, ids=lambda p: p.stem)
def test_learner_notebook_on_the_answer_key_passes_every_check(path, answer_key, record_property):
    # The set-up cell and the check cells only: the experiments against the reference already ran
    # (clean) in the solutions test, and they are what takes the time.
    lesson = answer_key / "lessons" / path.name
    nb, seconds = execute(lesson, lesson.parent, keep=lambda c: c.source == SETUP_CELL or _check_spec(c))
    assert sum(1 for c in nb.cells if _check_spec(c)) == sum(1 for c in CHECKS if c.lesson == path.stem)
    record_property("seconds", round(seconds, 1))
    problems = []
    for i, cell in enumerate(nb.cells):
        for err in _errors(cell):
            problems.append(f"{_where(lesson, i, cell)} raised {err.ename}: {err.evalue[:300]}")
        if _check_spec(cell) and _stderr(cell):
            problems.append(f"{_where(lesson, i, cell)} wrote to stderr (nbgrader would score it 0)")
    assert not problems, "\n".join(problems)


def _notebook_exercise(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("solution") is True and meta.get("grade") is False


WITH_NOTEBOOK_EXERCISES = [p for p in SOLUTION_FILES
                           if any(_notebook_exercise(c) for c in nbformat.read(p, as_version=4).cells)]


@pytest.mark.parametrize("path", WITH_NOTEBOOK_EXERCISES, ids=lambda p: p.stem)
def test_an_unwritten_notebook_exercise_stops_no_experiment(path, answer_key):
    # A learner who has written every rnnkit function but not yet a lesson's own (ungraded) notebook
    # exercise: Run All must reach the end, each cell that needs the exercise saying so, not raising.
    lesson = answer_key / "lessons" / path.name
    nb, _ = execute(lesson, lesson.parent)
    assert any(_notebook_exercise(c) and "NotImplementedError" in c.source for c in nb.cells)
    problems = [f"{_where(lesson, i, cell)} raised {err.ename}: {err.evalue[:300]}"
                for i, cell in enumerate(nb.cells) for err in _errors(cell)]
    assert not problems, "\n".join(problems)
