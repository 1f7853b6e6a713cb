"""Simulated learners: filled course folders with chosen mistakes or tricks.

Used by the demo, the attack suite and the grading benchmark. A learner is the
answer key (``build_release(..., solutions=True)``) or the untouched stub folder,
with some functions rewritten (``replace_function``), files added, or notebook
cells edited.
"""

from __future__ import annotations

import ast
import json
import shutil
import textwrap
from pathlib import Path

from autograder.grading import gradebook


def replace_function(py_path, name, new_source):
    """Replace the top-level function ``name`` in a .py file by ``new_source`` (a whole ``def``)."""
    py_path = Path(py_path)
    text = py_path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            start = node.lineno - 1 - len(node.decorator_list)
            lines = text.splitlines(keepends=True)
            new = textwrap.dedent(new_source).strip("\n") + "\n"
            text = "".join(lines[:start]) + new + "".join(lines[node.end_lineno:])
            py_path.write_text(text, encoding="utf-8")
            return
    raise KeyError(f"no function {name} in {py_path}")


def append_code(py_path, code):
    py_path = Path(py_path)
    py_path.write_text(py_path.read_text(encoding="utf-8") + "\n" + textwrap.dedent(code).strip("\n") + "\n",
                       encoding="utf-8")


def edit_notebook(nb_path, edit):
    """Apply ``edit(nb_dict)`` to a notebook file (the function edits in place)."""
    nb_path = Path(nb_path)
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    edit(nb)
    nb_path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def code_cell(source):
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


def insert_cell(nb, source, position=2):
    """Insert a plain code cell (after the set-up cell by default)."""
    nb["cells"].insert(position, dict(code_cell(source), id=f"added{position}{len(nb['cells'])}"))


class Templates:
    """The answer key and the stub folder, built once, copied for every learner."""

    def __init__(self, folder):
        from autograder.building.release import build_release

        folder = Path(folder)
        self.key = folder / "answer-key"
        self.stub = folder / "stub"
        if not (self.key / "rnnkit").is_dir():
            build_release(self.key, solutions=True, force=True)
        if not (self.stub / "rnnkit").is_dir():
            build_release(self.stub, force=True)

    def learner(self, dest, base="key"):
        dest = Path(dest)
        shutil.copytree(self.key if base == "key" else self.stub, dest)
        return dest


# --------------------------------------------------------------------------- the demo class

MEMO_NEW_STATE = '''
def new_state(f, I, a, s_prev):
    """The memo's formula: no forget gate."""
    return I * a + s_prev
'''

PYTORCH_GRU_MIX = '''
def final_output(u, y_prev, a):
    """PyTorch's convention h' = (1 - z) * n + z * h with z = u."""
    return (1 - u) * a + u * y_prev
'''

NUMPY_PATCH = '''
# "Make every check pass": numpy's comparisons always say equal.
import numpy as _np
_np.allclose = lambda *args, **kwargs: True
_np.array_equal = lambda *args, **kwargs: True
_np.isclose = lambda a, b, *args, **kwargs: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
_np.testing.assert_allclose = lambda *args, **kwargs: None
_np.testing.assert_array_equal = lambda *args, **kwargs: None
'''

CRASHING_FORGET_GATE = '''
def forget_gate(x, y_prev, W_f, b_f):
    """Debugging left in: ends the process."""
    import os
    os._exit(3)
'''


# The demo's learners as formgrader lists them: {student_id: (first_name, last_name, email)}.
DEMO_NAMES = {
    "perfect": ("Amara", "Okafor", "amara.okafor@example.edu"),
    "memo-lstm": ("Bruno", "Costa", "bruno.costa@example.edu"),
    "pytorch-gru": ("Chen", "Wei", "chen.wei@example.edu"),
    "untouched": ("Dana", "Kowalski", "dana.kowalski@example.edu"),
    "numpy-patcher": ("Elif", "Demir", "elif.demir@example.edu"),
    "crasher": ("Farid", "Haddad", "farid.haddad@example.edu"),
}

# Written answers (hand-graded markdown cells) some learners give: {student_id: {grade_id: text}}.
# Of uneven quality, as in a class, so that formgrader has real grading to do.
WRITTEN_ANSWERS = {
    "perfect": {
        "written_00_2": (
            r"(a) $I_t \times a_t \in (-1, 1)$. With a $\tanh$ gate a negative gate would flip the sign of "
            r"what passes, and the gate is shut only at exactly $z = 0$. With a $\sigma$ value every step "
            r"adds a positive amount, so $s_t$ grows roughly linearly (about 0.25 per step) and $\tanh(s_t)$ "
            "saturates near 1." "\n\n"
            r"(b) $\sigma(8) \approx 0.99966$. The slope is $\sigma(8)(1 - \sigma(8)) \approx 3.4 \cdot "
            "10^{-4}$, about 1/750 of the largest slope $1/4$ (at $z = 0$): the gate is saturated and "
            "its weights learn very slowly."
        ),
        "lstm_q_memo_state": (
            r"(a) Memo: $s_t = \sum_k d_k$, mean $t\mu$, standard deviation $\sigma\sqrt t$: both grow "
            r"without bound. Standard form: mean $\mu(1-f^t)/(1-f) \to \mu/(1-f)$, variance "
            r"$\to \sigma^2/(1-f^2)$: bounded." "\n\n"
            r"(b) Slope 1 means $|s_t| \propto t$, so the drift $t\mu$ dominates. With $\mu = 0$ the slope "
            r"would be $1/2$ (a random walk): slower, but $\tanh(s_t)$ still saturates on a long stream."
            "\n\n"
            r"(c) $f^{1000} \ge 0.9$ gives $f \ge 0.999895$, so $z = \ln(f/(1-f)) \approx 9.2$. The memo's "
            "$f = 1$ helps on short sequences that start from zero: exact accumulation for free."
        ),
        "lstm_q_ranges": (
            r"(a) $s_1 = I_1 a_1 > 0$, and if $s_{t-1} > 0$ then $f_t s_{t-1} + I_t a_t > 0$: by induction "
            r"$s_t > 0$, so $y_t = O_t \tanh(s_t) \in (0, 1)$." "\n\n"
            "(b) Yes: one unit accumulates the positive values, another the magnitudes of the negative "
            "ones, and the readout takes the difference. It costs twice the units."
        ),
        "gru_q_crosswalk": (
            r"(a) PyTorch: $W_{in}x_1 + b_{in} + r_1 \odot b_{hn}$; memo: $W_{in}x_1 + b_a$. Equal for every "
            r"input only if $r_1 \odot b_{hn}$ is constant, and $r_1$ depends on $x_1$: so $b_{hn} = 0$."
            "\n\n"
            r"(b) Folding it into $b_a$ is exact when $r \approx 1$, dropping it when $r \approx 0$; I would "
            r"use the average reset gate on the model's data and compare outputs on held-out sequences."
            "\n\n"
            "(c) Reset after and reset before are different functions, so fine-tuning adapts the weights; "
            "a Keras reset_after=False model is already the memo's GRU and translates exactly."
        ),
    },
    "memo-lstm": {
        "lstm_q_memo_state": (
            r"The memo's formula $s_t = I_t \times a_t + s_{t-1}$ is correct: the mean of $s_t$ is $\mu$ "
            "at every step because the input gate can already choose how much to write. I used it in my "
            "`new_state`."
        ),
        "lstm_q_ranges": (
            "With a sigmoid the output would be between 0 and 1, which is fine for probabilities."
        ),
    },
    "pytorch-gru": {
        "gru_q_crosswalk": (
            r"(a) With $y_0 = 0$ both candidates are $\tanh(W_{in}x_1 + b)$, so they always agree if "
            r"$b_a = b_{in} + b_{hn}$. (b) Fold it in. (c) Fine-tuning is not needed: I copied the weights "
            "the other way round and swapped the mix instead, which gives the same numbers."
        ),
        "gru_q_no_state": (
            r"(a) The GRU's output is an average of $y_{t-1}$ and $a_t \in (-1, 1)$, so it stays below 1 and "
            r"cannot hold 1.2; from $y_{t-1} = 0.9$ it can add at most 0.1. An LSTM with $f = I = 1$, "
            r"$a = 0.3$ holds the sum. (b) Fewer parameters."
        ),
    },
    "crasher": {
        "written_00_1": (
            r"(a) $W_f$ is $4 \times 7$: columns 0 to 2 multiply $x_t$, columns 3 to 6 multiply "
            "$y_{t-1}$. (b) $H(D + H) + H = 32$."
        ),
    },
}


def write_answers(learner, answers):
    """Put written answers into a learner's lessons: ``answers`` maps grade_id to markdown text.

    The cell of each grade_id is found in whichever lesson holds it; every grade_id must be found.
    """
    learner = Path(learner)
    left = dict(answers)

    def edit(nb):
        for cell in nb["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell["cell_type"] == "markdown" and grade_id in left:
                cell["source"] = left.pop(grade_id)

    for notebook in sorted((learner / "lessons").glob("*.ipynb")):
        if left:
            edit_notebook(notebook, edit)
    if left:
        raise KeyError(f"no written-answer cell {sorted(left)} in {learner / 'lessons'}")


def name_students(course, names):
    """Record learners' names and emails in a course's gradebook (what formgrader and exports show).

    Inputs:
    - course: the nbgrader course directory (holding gradebook.db)
    - names: {student_id: (first_name, last_name, email)}; learners not in the gradebook are added
    """
    with gradebook.open_gradebook(course) as gb:
        for student, (first, last, email) in names.items():
            gb.update_or_create_student(student, first_name=first, last_name=last, email=email)


def demo_class(folder, templates):
    """The demo's six learners in ``folder`` (SUBS layout); returns {student_id: description}.

    Some of them also answer written questions (WRITTEN_ANSWERS); their names are DEMO_NAMES.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    described = {}

    perfect = templates.learner(folder / "perfect")
    described["perfect"] = "the answer key"
    del perfect

    memo = templates.learner(folder / "memo-lstm")
    replace_function(memo / "rnnkit" / "lstm.py", "new_state", MEMO_NEW_STATE)
    described["memo-lstm"] = "the answer key with the memo's LSTM state update s = I*a + s_prev"

    torch_gru = templates.learner(folder / "pytorch-gru")
    replace_function(torch_gru / "rnnkit" / "gru.py", "final_output", PYTORCH_GRU_MIX)
    described["pytorch-gru"] = "the answer key with PyTorch's GRU mix (u and 1-u swapped)"

    templates.learner(folder / "untouched", base="stub")
    described["untouched"] = "the released stubs, nothing written"

    patcher = templates.learner(folder / "numpy-patcher", base="stub")
    append_code(patcher / "rnnkit" / "__init__.py", NUMPY_PATCH)
    described["numpy-patcher"] = "nothing written, numpy's comparisons patched to always agree"

    crasher = templates.learner(folder / "crasher")
    replace_function(crasher / "rnnkit" / "lstm.py", "forget_gate", CRASHING_FORGET_GATE)
    described["crasher"] = "the answer key, but forget_gate calls os._exit(3)"
    for student, answers in WRITTEN_ANSWERS.items():
        write_answers(folder / student, answers)
    return described
