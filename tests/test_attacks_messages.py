"""What a learner's own error text can carry into the feedback: nothing of a hidden case.

An error raised on a hidden case is the learner's text: it can quote the hidden inputs or the
reference values a composed function is handed from the replay table. Against a baseline (the
same error on a visible case, whose values are published anyway), the hidden case's message
keeps the error's type and place and drops its text.
"""

import re

import numpy as np

from autograder.checks.compare import judge_case
from autograder.specs.cases import make_cases


def _cases(check_id):
    cases = make_cases(987654321, check_ids=[check_id])
    return [c for c in cases if c.visible], [c for c in cases if not c.visible]


def _leaky_error(values):
    numbers = ", ".join(f"{v:.9f}" for v in np.ravel(values)[:8])
    return f"ValueError: LEAK [{numbers}] (rnnkit/lstm.py, line 42, in lstm_step)"


def test_a_hidden_case_error_shows_type_and_place_but_not_its_text():
    visible, hidden = _cases("lstm.lstm_step")
    case = hidden[0]
    leaked = np.concatenate([np.ravel(v) for v in case.args[:2]])  # hidden inputs x, y_prev
    verdict = judge_case(case, {"error": _leaky_error(leaked)}, None, [], "float64")
    assert "ValueError" in verdict.message and "rnnkit/lstm.py, in lstm_step" in verdict.message
    assert "LEAK" not in verdict.message
    assert not re.search(r"\d\.\d{6}", verdict.message)
    # baseline: on a visible case the learner's own message is shown (it helps, and leaks nothing)
    baseline = judge_case(visible[0], {"error": _leaky_error(leaked)}, None, [], "float64")
    assert "LEAK" in baseline.message


def test_replayed_reference_values_do_not_reach_the_message():
    # lstm_step is handed the reference gates of each hidden case from its replay table
    _visible, hidden = _cases("lstm.lstm_step")
    case = next(c for c in hidden if c.replay)
    replayed = np.concatenate([np.ravel(result) for _fn, _args, result in case.replay
                               if isinstance(result, np.ndarray)])
    verdict = judge_case(case, {"error": _leaky_error(replayed)}, None, [], "float64")
    for value in replayed[:8]:
        assert f"{value:.9f}" not in verdict.message


def test_an_error_quoting_the_sandbox_mounts_shows_no_host_path(tmp_path):
    # learner code can read /proc/self/mountinfo in the sandbox and raise it as its error text
    import shutil
    import sys
    from pathlib import Path

    from autograder.demo import classroom
    from autograder.grading import checkrun, sandbox

    repo = Path(__file__).resolve().parents[1]
    learner = tmp_path / "learner"
    shutil.copytree(repo / "rnnkit", learner / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    classroom.replace_function(learner / "rnnkit" / "lstm.py", "forget_gate",
                               "def forget_gate(x, y_prev, W_f, b_f):\n"
                               "    import os, sys\n"
                               "    try:\n"
                               "        mounts = open('/proc/self/mountinfo').read()\n"
                               "    except OSError as e:\n"
                               "        mounts = 'no mountinfo: ' + type(e).__name__\n"
                               "    where = [mounts[:300], sys.executable, *sys.path, __file__]\n"
                               "    raise ValueError(' '.join(where))\n")
    ids = ["lstm.forget_gate"]
    outcomes, _runs = checkrun.run_submission_checks(learner, make_cases(5, check_ids=ids), ids,
                                                     sandbox.Limits(idle_seconds=20), work_dir=tmp_path)
    message = outcomes["lstm.forget_gate"].message
    assert "ValueError" in message and outcomes["lstm.forget_gate"].score == 0
    assert "no mountinfo" in message  # the sandbox has no /proc, whose mountinfo names every host folder
    assert "<grader folder>" in message  # the interpreter's own folder is scrubbed
    for host in (str(repo), sys.prefix, sys.base_prefix, str(tmp_path)):
        assert host not in message, host


def test_names_the_learner_chose_do_not_reach_a_hidden_case_message():
    # exception classes, function names and result type names are the learner's text too
    _visible, hidden = _cases("lstm.forget_gate")
    case = hidden[0]
    data = "L06231ebf3ad9c0e1"
    for error in (f"E{data}: boom (rnnkit/lstm.py, line 3, in forget_gate)",
                  f"NotImplementedError: (rnnkit/lstm.py, line 3, in {data})",
                  f"ValueError: x (rnnkit/{data}.py, line 3, in forget_gate)"):
        verdict = judge_case(case, {"error": error}, None, [], "float64")
        assert data not in verdict.message, verdict.message
    from autograder.checks.casefile import Leaf, Other, Seq

    want = np.zeros((3, 4))
    for got in (Other(f"K{data}"), Leaf("ndarray", np.zeros((0, 61231, 3))),
                Seq("tuple", [Leaf("ndarray", want)], f"N{data}", (f"f{data}",)),
                Leaf("ndarray", np.full((3, 4), 0.5))):
        verdict = judge_case(case, {"output": got, "aliased": [f"{data} shares"]}, want, [], "float64")
        assert data not in verdict.message and "61231" not in verdict.message and "0.5" not in verdict.message
