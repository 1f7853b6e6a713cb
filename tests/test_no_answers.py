"""No learner-visible file holds a graded answer before its lesson, in any form.

The leak guard (autograder/building/guard.py) searches for the reference's own text;
these tests search by behaviour (tests/answer_search.py): every function a learner can see,
in the package, the checks and the notebooks, is run on every graded function's published
cases (and on the sequence functions' cases on the real cells), with the other graded
functions answered from the key. One that gives the expected output everywhere holds the
answer, whatever its form. What it cannot see: a helper that takes the weights in another
layout (a Keras kernel) and computes inline; those are kept out by the lessons' own rule of
running the learner's function on converted weights, and reviewed by reading.
"""

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.building import course, release
from autograder.checks.registry import CHECKS, CHECKS_BY_ID, LESSONS

SEARCH = Path(__file__).resolve().parent / "answer_search.py"
ORDER = {lesson.assignment: i for i, lesson in enumerate(LESSONS)}
# Graded functions that are one equation, taught as such: the LSTM's input activation is the
# basic RNN's step (lesson 4 says so), and every sigmoid gate of the LSTM is the GRU's reset and
# update gate. Once an earlier lesson's answer is released with a later assignment, it is also
# the later one's; nothing a learner could not write from the lesson before.
SIGMOID_GATES = {"lstm.forget_gate", "lstm.input_gate", "lstm.output_gate"}
SAME_EQUATION = {
    "lstm.input_activation": {"rnn.rnn_step"},
    "gru.reset_gate": SIGMOID_GATES,
    "gru.update_gate": SIGMOID_GATES,
}


def derived_cases(path):
    """The sequence functions on the real cells, computed by the reference: the cases on which a
    helper specialised to one cell (an RNN-only unroll taking xs, s0, W, b) shows itself."""
    import numpy as np

    import rnnkit

    rng = np.random.default_rng(7)
    items = []
    for name in ("rnn", "lstm", "gru"):
        cell = rnnkit.CELLS[name]
        T, B, D, H = 5, 3, 2, 4
        xs = rng.normal(size=(T, B, D))
        params = cell.init_params(D, H, rng)
        state0 = tuple(rng.normal(size=(B, H)) * 0.5 for _ in cell.zero_state(B, H))
        ys, state = rnnkit.unroll(cell, xs, state0, params)
        items.append({"check": "sequence.unroll", "cell": name, "xs": xs, "state0": list(state0),
                      "params": params._asdict(), "want": (ys, state)})
        layers = [params, cell.init_params(H, 3, rng)]
        states0 = [state0, tuple(np.zeros((B, 3)) for _ in state0)]
        ys, states = rnnkit.stacked_forward(cell, xs, states0, layers)
        items.append({"check": "multilayer.stacked_forward", "cell": name, "xs": xs, "state0": list(state0),
                      "params": params._asdict(), "states0": [list(s) for s in states0],
                      "layer_params": [p._asdict() for p in layers], "want": (ys, states)})
    with open(path, "wb") as f:
        pickle.dump(items, f)
    return path


def search(folder, key, *notebook_dirs):
    derived = derived_cases(Path(folder).parent / "derived-cases.pkl")
    proc = subprocess.run(
        [sys.executable, str(SEARCH), str(folder), "--notebooks", *(notebook_dirs or ("lessons", ".")),
         "--derived", str(derived), "--key", str(key)],
        capture_output=True, text=True, cwd=folder, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def learner_release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("learner") / "course"
    release.build_release(folder)
    return folder


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key") / "course"
    release.build_release(folder, solutions=True)
    return folder


class Planted(str):
    """Where the last planted cell is ("lessons/NN.ipynb cell K"), with the search's findings."""

    findings: list


def planted(learner_release, answer_key, tmp_path, lesson, cells):
    """Search a copy of the learner's folder with ``cells`` appended to one lesson."""
    folder = tmp_path / "course"
    shutil.copytree(learner_release, folder)
    path = folder / "lessons" / f"{lesson}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    nbformat.write(nb, path)
    where = Planted(f"lessons/{lesson}.ipynb cell {len(nb.cells) - 1}")
    where.findings = search(folder, answer_key, "lessons")["findings"]
    return where


@pytest.mark.slow
def test_the_search_finds_every_reference_answer_in_the_answer_key(answer_key):
    # The baseline: in the answer key every graded function is its own answer, so a search that
    # misses one (a fixture it cannot read, arguments it cannot pass, outputs it compares wrongly)
    # fails here before it can pass the learner's folder for the wrong reason.
    result = search(answer_key, answer_key, "lessons")
    found = [(f["check"], f["candidate"]) for f in result["findings"]]
    missing = [c.check_id for c in CHECKS
               if (c.check_id, f"rnnkit/{c.module}.py:{c.function}") not in found]
    assert missing == []


@pytest.mark.slow
def test_the_search_finds_a_helper_written_in_another_form(learner_release, answer_key, tmp_path):
    # A notebook helper that unrolls a cell column by column, never calling unroll: the
    # answer of sequence.unroll in another loop. The search must see it.
    found = planted(learner_release, answer_key, tmp_path, "02-basic-rnn", [
        "def run_cell(cell, xs, state0, params):\n"
        "    ys, state = [], state0\n"
        "    for x in xs:\n"
        "        y, state = cell.step(x, state, params)\n"
        "        ys.append(y)\n"
        "    return np.stack(ys), state\n",
    ])
    assert {"check": "sequence.unroll", "candidate": f"{found}:run_cell"} in found.findings


@pytest.mark.slow
def test_the_search_finds_a_helper_specialised_to_one_cell(learner_release, answer_key, tmp_path):
    # An RNN-only unroll taking (xs, s0, W, b) around the learner's own rnn_step: no graded
    # signature, and rnn_step is a stub in the learner's folder, but on the real-cell cases, with
    # the state and parameters spread out and rnn_step answered, it is the unroll answer.
    found = planted(learner_release, answer_key, tmp_path, "03-multilayer", [
        "from rnnkit.rnn import rnn_step",
        "def run_rnn(xs, s0, W, b):\n"
        "    states, s = [], s0\n"
        "    for x in xs:\n"
        "        s = rnn_step(x, s, W, b)\n"
        "        states.append(s)\n"
        "    return np.stack(states)\n",
    ])
    assert {"check": "sequence.unroll", "candidate": f"{found}:run_rnn"} in found.findings


@pytest.mark.slow
def test_the_learner_release_holds_no_answer_in_any_form(learner_release, answer_key):
    result = search(learner_release, answer_key, "lessons")
    assert len(result["candidates"]) > 50, "the search saw too few functions to mean anything"
    assert result["findings"] == [], (
        "these learner-visible functions compute a graded function's answer: "
        + "; ".join(f"{f['candidate']} -> {f['check']}" for f in result["findings"])
    )


def test_the_answer_key_alone_ships_the_fast_path(learner_release, answer_key):
    # rnnkit/fast.py fuses every cell's forward and backward pass: the lesson-6 answers.
    assert not (learner_release / "rnnkit" / "fast.py").exists()
    assert (answer_key / "rnnkit" / "fast.py").exists()


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    return course.build_course(tmp_path_factory.mktemp("course") / "rnn-course")


@pytest.mark.slow
def test_no_assignment_releases_an_answer_before_its_lesson(course_dir, answer_key):
    # An assignment may show the answers of earlier lessons (their deadlines have passed),
    # never those of its own lesson or a later one.
    early = []
    for lesson in LESSONS:
        folder = course_dir / "release" / lesson.assignment
        result = search(folder, answer_key, ".")
        for f in result["findings"]:
            same = {f"rnnkit/{c.replace('.', '.py:')}" for c in SAME_EQUATION.get(f["check"], ())}
            due = ORDER[CHECKS_BY_ID[f["check"]].lesson] >= ORDER[lesson.assignment]
            if due and f["candidate"] not in same:
                early.append(f"{lesson.assignment}: {f['candidate']} -> {f['check']}")
    assert early == []
