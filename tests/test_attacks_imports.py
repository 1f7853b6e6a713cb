"""A learner module that does not import, and a checker patched to hide an input mutation,
graded through the real sandbox (autograder.grading.checkrun.run_submission_checks).

Each attack is compared with a baseline: the same submission without the attack. The
answer key for everything the attack should not touch is the baseline's own scores.
"""

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import executor
from autograder.grading import checkrun, sandbox
from autograder.specs.cases import make_cases

REPO = Path(__file__).resolve().parents[1]
SEED = 20240611
CHECK_IDS = ["rnn.rnn_step", "lstm.forget_gate", "lstm.new_state", "lstm.lstm_step", "gru.reset_gate",
             "gru.gru_step"]
GRU = [c for c in CHECK_IDS if c.startswith("gru.")]
OTHERS = [c for c in CHECK_IDS if not c.startswith("gru.")]
# Short limits: a stalled import is noticed after IDLE seconds without a finished check.
IDLE = 3
LIMITS = sandbox.Limits(wall_seconds=40, idle_seconds=IDLE, cpu_seconds=30)


def learner(tmp_path, name, edits=()):
    """A learner folder: the reference rnnkit with ``edits`` [(file, old, new)] applied."""
    course = tmp_path / name
    shutil.copytree(REPO / "rnnkit", course / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, old, new in edits:
        path = course / "rnnkit" / rel
        text = path.read_text()
        assert text.count(old) >= 1, (rel, old)
        path.write_text(text.replace(old, new, 1))
    return course


def grade(course, check_ids=CHECK_IDS, limits=LIMITS):
    started = time.monotonic()
    outcomes, runs = checkrun.run_submission_checks(course, make_cases(SEED, check_ids=check_ids), check_ids,
                                                    limits)
    return outcomes, runs, time.monotonic() - started


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    outcomes, runs, _ = grade(learner(tmp_path_factory.mktemp("base"), "baseline"))
    assert len(runs) == 2  # one run for the published cases, one for the hidden ones
    assert all(o.score == o.max_score > 0 for o in outcomes.values()), outcomes
    return outcomes


def scores(outcomes, check_ids):
    return {c: outcomes[c].score for c in check_ids}


def assert_gru_lost_alone(outcomes, baseline, course, why):
    assert scores(outcomes, OTHERS) == scores(baseline, OTHERS)
    for check_id in GRU:
        message = outcomes[check_id].message
        assert outcomes[check_id].score == 0, message
        assert message.startswith("rnnkit/gru.py could not be imported: "), message
        assert why in message, message
        assert "Fix that file" in message
        assert str(course) not in message and "/tmp" not in message and "/sub" not in message, message


# ---- a module that does not import ------------------------------------------------------------------


@pytest.mark.slow
def test_syntax_error_in_gru_costs_only_gru_and_names_the_line(tmp_path, baseline):
    course = learner(tmp_path, "syntax", [("gru.py", "def reset_gate(", "def reset_gate(:")])
    lines = (course / "rnnkit" / "gru.py").read_text().splitlines()
    line = 1 + next(i for i, text in enumerate(lines) if "def reset_gate(:" in text)
    outcomes, runs, _ = grade(course)
    assert_gru_lost_alone(outcomes, baseline, course,
                          f"SyntaxError: invalid syntax (rnnkit/gru.py, line {line})")
    assert len(runs) == 2  # one run for the published cases, one for the hidden ones


def test_exception_at_module_level_names_file_and_line(tmp_path, baseline):
    course = learner(tmp_path, "raises", [("gru.py", "import numpy as np\n",
                                           "import numpy as np\nraise RuntimeError('half-written')\n")])
    lines = (course / "rnnkit" / "gru.py").read_text().splitlines()
    line = 1 + lines.index("raise RuntimeError('half-written')")
    outcomes, _, _ = grade(course)
    assert_gru_lost_alone(outcomes, baseline, course,
                          f"RuntimeError: half-written (rnnkit/gru.py, line {line}, in <module>)")


@pytest.mark.slow
@pytest.mark.parametrize("stopper, why", [
    ("import os\nos._exit(0)\n", "importing it ended the Python process (exit status 0)"),
    ("while True:\n    pass\n", "importing it did not finish within the time limit"),
], ids=["os._exit", "endless loop"])
def test_import_that_kills_or_stalls_costs_only_gru_at_once(tmp_path, baseline, stopper, why):
    course = learner(tmp_path, "stop", [("gru.py", "import numpy as np\n", "import numpy as np\n" + stopper)])
    outcomes, runs, seconds = grade(course)
    assert_gru_lost_alone(outcomes, baseline, course, why)
    # One sandbox run: every gru check is settled by the one import that died, not one per restart.
    assert len(runs) == 2  # one run for the published cases, one for the hidden ones
    assert seconds < LIMITS.wall_seconds


@pytest.mark.parametrize("gru_edit, why", [
    (("import numpy as np\n", "import numpy as np\nimport os\nos._exit(0)\n"), "ended the Python process"),
    (("def reset_gate(", "def reset_gate(:"), "SyntaxError: invalid syntax (rnnkit/gru.py, line "),
], ids=["os._exit", "syntax error"])
def test_modules_importing_the_broken_one_go_with_it_in_one_run(tmp_path, baseline, gru_edit, why):
    # lstm.py imports gru.py, which does not import: lstm's checks are lost with gru's, at once;
    # rnn's are untouched.
    course = learner(tmp_path, "dep", [
        ("gru.py", *gru_edit),
        ("lstm.py", "import numpy as np\n", "import numpy as np\n\nfrom . import gru  # noqa: F401\n"),
    ])
    outcomes, runs, _ = grade(course)
    assert outcomes["rnn.rnn_step"].score == baseline["rnn.rnn_step"].score
    for check_id in CHECK_IDS[1:]:
        message = outcomes[check_id].message
        assert outcomes[check_id].score == 0, message
        own = f"rnnkit/{check_id.split('.')[0]}.py"
        assert message.startswith(own), message
        assert "rnnkit/gru.py" in message and why in message, message
    message = outcomes["lstm.forget_gate"].message
    assert "rnnkit/lstm.py imports rnnkit/gru.py, which could not be imported" in message, message
    assert len(runs) == 2  # one run for the published cases, one for the hidden ones


@pytest.mark.slow
@pytest.mark.parametrize("init", [
    "raise RuntimeError('the package is broken')\n",
    "import os\nos._exit(0)\n",
    "from .gru import not_there\n",
], ids=["raises", "os._exit", "bad import"])
def test_a_broken_init_costs_nothing(tmp_path, baseline, init):
    course = learner(tmp_path, "init", [("__init__.py", '"""', init + '"""')])
    outcomes, runs, _ = grade(course)
    assert scores(outcomes, CHECK_IDS) == scores(baseline, CHECK_IDS)
    assert len(runs) == 2  # one run for the published cases, one for the hidden ones


def test_stale_import_marker_is_not_blamed(tmp_path):
    # A marker left by a run that died importing gru does not make the next run blame gru.
    out = tmp_path / "out"
    out.mkdir()
    (out / "_importing.json").write_text(json.dumps({"module": "gru", "chain": [], "check": None}))
    assert checkrun._import_stall(out, ["gru.reset_gate"], "ended") != {}
    assert not (out / "_importing.json").exists()
    assert checkrun._import_stall(out, ["gru.reset_gate"], "ended") == {}


# ---- read-only inputs -------------------------------------------------------------------------------------


def test_inputs_are_immutable_views():
    a = executor.frozen((np.arange(6.0).reshape(2, 3), [np.ones(2)]))
    for arr in (a[0], a[0][0], a[1][0]):
        with pytest.raises(ValueError, match="read-only"):
            arr += 1
        with pytest.raises(ValueError):
            arr.setflags(write=True)
    with pytest.raises(ValueError, match="read-only"):
        a[1].append(np.zeros(2))
    grown = a[1] + [1]  # a new list from an input list is an ordinary one
    assert isinstance(a[1], list) and type(grown) is list and len(grown) == 2


IN_PLACE = ("lstm.py", "    return f * s_prev + I * a\n",
            "    s_prev *= f\n    s_prev += I * a\n    return s_prev.copy()\n")
# Learner code run when lstm.py is imported: it patches the checker so that in-place changes
# are not seen (the comparison cleared, inputs handed over as writable copies).
PATCH = '''
import sys as _sys
for _name in ("rnncheck.executor", "autograder.checks.executor"):
    _ex = _sys.modules.get(_name)
    if _ex is None:
        continue
    _run = _ex.run_case

    def _quiet_run(pkg, case, _run=_run, **kw):
        result = _run(pkg, case, **kw)
        result["modified"] = []
        return result

    _ex.run_case = _quiet_run
    _ex.frozen = _ex._copy_args
    _ex.frozen_case = lambda case: case
'''


@pytest.mark.slow
def test_in_place_change_of_an_input_fails_and_names_it(tmp_path, baseline):
    course = learner(tmp_path, "inplace", [IN_PLACE])
    outcomes, _, _ = grade(course)
    # lstm_step runs the learner's own new_state (it is not in its replay table): it fails too.
    others = [c for c in CHECK_IDS if c not in ("lstm.new_state", "lstm.lstm_step")]
    assert scores(outcomes, others) == scores(baseline, others)
    message = outcomes["lstm.new_state"].message
    assert outcomes["lstm.new_state"].score < outcomes["lstm.new_state"].max_score
    assert "your function modifies its input in place (`s_prev`)" in message, message
    assert "in-place modification" in message


@pytest.mark.slow
def test_a_patched_checker_gains_nothing(tmp_path, baseline):
    plain = grade(learner(tmp_path, "plain", [IN_PLACE]))[0]
    patched = grade(learner(tmp_path, "patched", [IN_PLACE, ("lstm.py", "import numpy as np\n",
                                                              "import numpy as np\n" + PATCH)]))[0]
    assert scores(patched, CHECK_IDS) == scores(plain, CHECK_IDS)
    assert patched["lstm.new_state"].score < baseline["lstm.new_state"].score
