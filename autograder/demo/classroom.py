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


def demo_class(folder, templates):
    """The demo's six learners in ``folder`` (SUBS layout); returns {student_id: description}."""
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
    return described
