"""One house style across the lessons: locked prose, one question numbering, a time estimate
and a "What to remember" box in every lesson."""

import re
from pathlib import Path

import nbformat
import pytest

from autograder.checks.registry import LESSONS

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
NOTEBOOKS = sorted(SOLUTIONS.glob("*.ipynb"))
QUESTION = re.compile(r"\*\*Question ([0-9.]+) \((\d+(?:\.\d+)?) points?\)\.\*\*")


def _source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _is_answer_cell(cell):
    meta = cell.metadata.get("nbgrader", {})
    return meta.get("solution") is True and meta.get("grade") is True


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request):
    return request.param.stem, nbformat.read(request.param, as_version=4)


def test_every_lesson_has_a_notebook():
    assert [p.stem for p in NOTEBOOKS] == [lesson.assignment for lesson in LESSONS]


def test_every_prose_cell_is_locked(notebook):
    # An unlocked prose cell can be deleted or rewritten in the learner's copy, and nbgrader then
    # cannot tell the learner's text from the lesson's.
    name, nb = notebook
    unlocked = [i for i, cell in enumerate(nb.cells)
                if cell.cell_type == "markdown" and not _is_answer_cell(cell)
                and not cell.metadata.get("nbgrader", {}).get("locked")]
    assert unlocked == [], f"{name}: markdown cells {unlocked} are not locked"


def test_questions_are_numbered_by_lesson_and_points_agree(notebook):
    name, nb = notebook
    lesson = int(name.split("-")[0])
    numbers, cells = [], nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        text = _source(cell)
        if re.search(r"\*\*Question\b", text):
            found = QUESTION.findall(text)
            assert found, f"{name} cell {i}: a question not written as '**Question {lesson}.k (P points).**'"
            for number, points in found:
                numbers.append(number)
                answer = next((c for c in cells[i + 1:] if _is_answer_cell(c)), None)
                assert answer is not None, f"{name}: question {number} has no answer cell after it"
                assert float(answer.metadata["nbgrader"]["points"]) == float(points), (
                    f"{name}: question {number} says {points} points, its answer cell gives "
                    f"{answer.metadata['nbgrader']['points']}")
    expected = [f"{lesson}.{k}" for k in range(1, len(numbers) + 1)]
    assert numbers == expected, f"{name}: questions numbered {numbers}, expected {expected}"


def test_every_lesson_says_its_time_and_what_to_remember(notebook):
    name, nb = notebook
    text = "\n".join(_source(c) for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"\*Time: about \d+ minutes", text), f"{name}: no '*Time: about N minutes' line"
    assert "## What to remember" in text and 'class="alert alert-block alert-info"' in text, (
        f"{name}: no 'What to remember' box")
