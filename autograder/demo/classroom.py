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
            "(a) A gate multiplies a value by a factor that should lie between 0 (block) and 1 (let "
            r"through): $\sigma$ maps to $(0, 1)$. A value written into the state may push it either way, "
            r"so it needs a signed range: $\tanh$ maps to $(-1, 1)$." "\n\n"
            r"(b) $\sigma(8) \approx 0.99966$. The slope is $\sigma(8)(1 - \sigma(8)) \approx 3.4 \cdot "
            "10^{-4}$, about 1/750 of the largest slope $1/4$ (at $z = 0$): the gate is saturated and "
            "its weights learn very slowly."
        ),
        "lstm_q_memo_state": (
            r"(a) The words describe $s_t = f_t \odot s_{t-1} + I_t \odot a_t$, the forget-gate LSTM of "
            r"Gers, Schmidhuber and Cummins (2000). The formula $s_t = I_t \times a_t + s_{t-1}$ is the "
            r"original LSTM of Hochreiter and Schmidhuber (1997), which had no forget gate." "\n\n"
            "(b) In section 5 the memo's state keeps adding $I_t a_t$ and grows roughly linearly "
            r"with $t$, so $\tanh(s_t)$ saturates and the output stops reacting to new inputs. With "
            "the forget gate the state stays bounded because every step multiplies it by $f_t < 1$."
        ),
        "lstm_q_ranges": (
            "The gates scale things, so they need $(0, 1)$: the sigmoid. The input activation is "
            "the content written into the state and must be able to decrease it as well as increase "
            r"it, hence $\tanh$ with range $(-1, 1)$. With a sigmoid the cell could only ever add "
            "positive amounts, and the state would drift upwards."
        ),
        "gru_q_crosswalk": (
            r"(a) PyTorch mixes $h' = (1 - z) \odot n + z \odot h$: its $z$ plays the part of $1 - u$. "
            r"Since $1 - \sigma(v) = \sigma(-v)$, copying $-W_{iz}, -W_{hz}$ into $W_u$ and "
            r"$-(b_{iz} + b_{hz})$ into $b_u$ makes the mix agree exactly." "\n\n"
            r"(b) PyTorch applies the reset gate after the product, $r \odot (W_{hn} h + b_{hn})$, the "
            r"memo before it, $W_a [x, r \odot y]$. Once $h \neq 0$ these are different functions of $h$, "
            "and no choice of weights makes them equal for every input."
        ),
    },
    "memo-lstm": {
        "lstm_q_memo_state": (
            r"The memo's formula $s_t = I_t \times a_t + s_{t-1}$ is correct: the forget gate is not "
            "needed because the input gate can already choose how much to write. I used it in my "
            "`new_state`."
        ),
        "lstm_q_ranges": "Sigmoid for gates because they are probabilities, tanh because it is centred.",
    },
    "pytorch-gru": {
        "gru_q_crosswalk": (
            r"PyTorch writes $h' = (1 - z) \odot n + z \odot h$, so its $z$ is $1 - u$. I copied the "
            "weights the other way round and swapped the mix instead, which should give the same "
            "numbers."
        ),
        "gru_q_no_state": (
            "An LSTM can keep something in its state without showing it in the output (the output "
            "gate hides it), and it can forget and write independently. The GRU saves one gate and "
            "the separate state."
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
