"""The checks library: cases, executor, comparison and messages, judge, notebook API.

Oracles: centred differences for gradients, hand-written small values, and the
reference package itself only where the question is "does the pipeline give the
reference full marks"."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_mutations import load_package, unload

import rnnkit
from autograder.checks import casefile, compare, executor, notebook
from autograder.checks.casefile import Case, Leaf, Seq
from autograder.checks.probe import ProbeCell
from autograder.checks.registry import CHECKS, CHECKS_BY_ID
from autograder.specs import SPECS, calibrate
from autograder.specs.cases import check_cases, make_cases
from autograder.specs.gru import gru_backward_with_slips, gru_step_with_slips
from autograder.specs.judge import expectations, grade_in_process, judge, judge_results
from autograder.specs.lstm import lstm_backward_with_slips, lstm_step_with_slips
from autograder.specs.rnn import rnn_backward_with_slips

REPO = pathlib.Path(__file__).resolve().parents[1]
CHECKS_DIR = REPO / "autograder" / "checks"


def numerical_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


# ---- the probe cell and the mistake formulas are right where no mistake is switched on ----------


def test_probe_cell_backward_matches_numerical_gradients():
    rng = np.random.default_rng(0)
    cell = ProbeCell()
    B, D, H = 2, 3, 4
    x, h, c = rng.normal(size=(B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    p = cell.init_params(D, H, rng)
    dy, dh1, dc1 = rng.normal(size=(B, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        y, (h2, c2) = cell.step(x, (h, c), p)
        return np.sum(y * dy) + np.sum(h2 * dh1) + np.sum(c2 * dc1)

    dx, (dh, dc), grads = cell.step_backward(x, (h, c), p, dy, (dh1, dc1))
    for got, arr in [(dx, x), (dh, h), (dc, c), (grads.A, p.A), (grads.C, p.C), (grads.b, p.b)]:
        np.testing.assert_allclose(got, numerical_grad(loss, arr), rtol=1e-6, atol=1e-8)


def test_mistake_formulas_without_a_mistake_are_the_true_gradients():
    rng = np.random.default_rng(1)
    B, D, H = 2, 3, 2
    x, y_prev, s_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    lp = rnnkit.LSTM.init_params(D, H, rng)
    gp = rnnkit.GRU.init_params(D, H, rng)
    dy, ds = rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def lstm_loss():
        y, s = lstm_step_with_slips(x, y_prev, s_prev, lp)
        return np.sum(y * dy) + np.sum(s * ds)

    dx, dyp, dsp, grads = lstm_backward_with_slips(x, y_prev, s_prev, lp, dy, ds)
    np.testing.assert_allclose(dx, numerical_grad(lstm_loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dyp, numerical_grad(lstm_loss, y_prev), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dsp, numerical_grad(lstm_loss, s_prev), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads.W_f, numerical_grad(lstm_loss, lp.W_f), rtol=1e-6, atol=1e-8)

    def gru_loss():
        return np.sum(gru_step_with_slips(x, y_prev, gp) * dy)

    dx, dyp, grads = gru_backward_with_slips(x, y_prev, gp, dy)
    np.testing.assert_allclose(dx, numerical_grad(gru_loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dyp, numerical_grad(gru_loss, y_prev), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads.W_a, numerical_grad(gru_loss, gp.W_a), rtol=1e-6, atol=1e-8)

    W, b = rng.normal(size=(H, D + H)), rng.normal(size=H)

    def rnn_loss():
        return np.sum(np.tanh(np.concatenate([x, s_prev], -1) @ W.T + b) * ds)

    dx, dsp, dW, db = rnn_backward_with_slips(x, s_prev, W, b, ds)
    np.testing.assert_allclose(dW, numerical_grad(rnn_loss, W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dsp, numerical_grad(rnn_loss, s_prev), rtol=1e-6, atol=1e-8)


def test_every_check_has_mistakes_and_term_isolation():
    for spec in CHECKS:
        assert len(SPECS[spec.check_id].mistakes) >= 3, spec.check_id
        assert SPECS[spec.check_id].terms, spec.check_id


def test_memo_named_mistakes_are_recognised_by_name():
    names = " | ".join(m.name for spec in SPECS.values() for m in spec.mistakes)
    for needed in [
        "forget-less",
        "tanh instead of sigmoid",
        "sign slip",
        "missing bias",
        "[y_prev, x] order",
        "O*s without tanh",
        "old state used where the new belongs",
        "PyTorch's mix",
        "reset gate applied after the product",
        "reset gate not applied",
        "gate parameters swapped",
        "missing tanh derivative",
        "no gradient path",
    ]:
        assert needed in names, needed


# ---- cases -------------------------------------------------------------------------------------


def test_cases_are_deterministic_and_hidden_ones_depend_on_the_seed():
    a = make_cases(5, check_ids=["lstm.forget_gate"])
    b = make_cases(5, check_ids=["lstm.forget_gate"])
    c = make_cases(6, check_ids=["lstm.forget_gate"])
    for x, y in zip(a, b, strict=True):
        assert x.case_id == y.case_id and all(
            np.array_equal(u, v) for u, v in zip(x.args, y.args, strict=True)
        )
    visible_a = [x for x in a if x.visible]
    visible_c = [x for x in c if x.visible]
    assert all(np.array_equal(x.args[0], y.args[0]) for x, y in zip(visible_a, visible_c, strict=True))
    hidden_a = [x for x in a if not x.visible]
    hidden_c = [x for x in c if not x.visible]
    assert not np.array_equal(hidden_a[0].args[0], hidden_c[0].args[0])


def test_case_kinds_cover_the_invariants():
    cases = make_cases(3, check_ids=["lstm.forget_gate"])
    labels = " | ".join(c.label for c in cases)
    for kind in [
        "B = 1",
        "D = H",
        "unbatched",
        "|50|",
        "float32",
        "only the bias",
        "only W's x block",
        "only W's y_prev block",
    ]:
        assert kind in labels, kind
    big = next(c for c in cases if "pre-activations up to |50|" in c.label and c.group == "edges")
    x, y_prev, W, b = big.args
    z = np.concatenate([x, y_prev], -1) @ W.T + b
    assert 45 < np.max(np.abs(z)) <= 50 + 1e-9
    f32 = [c for c in cases if c.group == "float32"]
    assert f32 and all(a.dtype == np.float32 for c in f32 for a in c.args)
    assert any(c.args[0].shape[-1] != c.args[1].shape[-1] for c in cases if c.group == "values")


def test_term_isolation_zeroes_the_other_terms():
    case = next(c for c in check_cases("lstm.input_gate") if c.label.startswith("only the bias"))
    x, y_prev, W, b = case.args
    assert not W.any() and b.any()
    case = next(c for c in check_cases("lstm.input_gate") if c.label.startswith("only W's x block"))
    x, y_prev, W, b = case.args
    D = x.shape[-1]
    assert W[:, :D].any() and not W[:, D:].any() and not b.any()


# ---- comparison and messages ----------------------------------------------------------------------


def _case(visible=True, group="values", check_id="lstm.new_state"):
    return Case("v00" if visible else "h00", check_id, "random inputs", group, visible, ())


def test_value_message_names_index_and_both_values():
    want = np.array([[0.5, 0.25], [0.125, 1.0]])
    got = want.copy()
    got[1, 0] = 0.75
    v = compare.judge_case(_case(), {"output": Leaf("ndarray", got)}, want, [], "float64")
    assert not v.ok
    assert "s[1, 0] is 0.75 but should be 0.125" in v.message


def test_hidden_case_message_shows_neither_the_expected_nor_the_learners_value():
    # the learner's value could carry a hidden input out of the sandbox
    want = np.array([[0.123456, 0.654321]])
    got = np.array([[0.9, 0.654321]])
    v = compare.judge_case(_case(visible=False), {"output": Leaf("ndarray", got)}, want, [], "float64")
    assert not v.ok and "hidden case" in v.message
    assert "0.123456" not in v.message and "0.9" not in v.message
    assert "the values are not what the reference gives" in v.message


def test_recognised_mistake_is_named():
    f, I, a, s_prev = (np.full((1, 2), v) for v in (0.5, 0.5, 0.4, 1.0))
    want = f * s_prev + I * a
    memo = I * a + s_prev
    v = compare.judge_case(
        _case(),
        {"output": Leaf("ndarray", memo)},
        want,
        [("the memo's forget-less state update", "hint", memo)],
        "float64",
    )
    assert "known mistake: the memo's forget-less state update" in v.message


def test_dtype_list_nan_shape_and_structure_problems():
    want = np.zeros((2, 2))
    v = compare.judge_case(
        _case(group="float32"), {"output": Leaf("ndarray", np.zeros((2, 2)))}, want, [], "float32"
    )
    assert not v.ok and "dtype float64" in v.message
    as_list = Seq("list", [Seq("list", [Leaf("float", np.asarray(0.0))] * 2)] * 2)
    v = compare.judge_case(_case(), {"output": as_list}, want, [], "float64")
    assert v.ok and v.hygiene_ok is False and "not a plain numpy.ndarray" in v.message
    v = compare.judge_case(_case(), {"output": Leaf("ndarray", np.full((2, 2), np.nan))}, want, [], "float64")
    assert not v.ok and "finite" in v.message
    v = compare.judge_case(_case(), {"output": Leaf("ndarray", np.zeros(4))}, want, [], "float64")
    assert not v.ok and "shape (4,)" in v.message
    v = compare.judge_case(
        _case(check_id="lstm.lstm_step"),
        {"output": Leaf("ndarray", np.zeros((2, 2)))},
        (want, want),
        [],
        "float64",
    )
    assert not v.ok and "2 values" in v.message


def test_tolerances_pass_rounding_and_fail_small_real_differences():
    want = np.array([0.3, -2.0, 1e-20])
    t64, t32 = compare.TOLERANCES["float64"], compare.TOLERANCES["float32"]
    assert not compare.diff_arrays(want, want * (1 + 1e-12), t64)[0].any()
    assert compare.diff_arrays(want, want + 1e-4, t64)[0].any()
    as32 = want.astype(np.float32).astype(np.float64)
    assert not compare.diff_arrays(want, as32, t32)[0].any()
    assert compare.diff_arrays(want, want + 1e-2, t32)[0].any()


def test_scoring_rule():
    def verdict(group, ok=True, hygiene=True):
        return compare.Verdict("x", group, ok, hygiene, "" if ok and hygiene else f"{group} broke")

    all_ok = [verdict(g) for g in ("values", "terms", "edges", "float32")]
    assert compare.score_check("c", 3, all_ok).score == 3
    only_f32 = all_ok[:3] + [verdict("float32", ok=False)]
    out = compare.score_check("c", 5, only_f32)
    assert out.score == 4.0 and "float32 broke" in out.message
    values_broken = [verdict("values", ok=False)] + all_ok[1:]
    assert compare.score_check("c", 3, values_broken).score == 0
    hygiene = all_ok[:3] + [verdict("float32", hygiene=False)]
    assert compare.score_check("c", 5, hygiene).score == 4.0


def test_calibration_margins():
    rows = {
        c: calibrate.measure(c, range(3))
        for c in ["lstm.forget_gate", "gru.gru_step_backward", "sequence.bptt", "lstm.new_state"]
    }
    t64, t32 = compare.TOLERANCES["float64"], compare.TOLERANCES["float32"]
    for r in rows.values():
        assert r["correct64"] < t64.atol / 100
        assert r["correct32"] < t32.atol / 5
        assert r["mistake"] > 1000 * t32.rtol


# ---- executor --------------------------------------------------------------------------------------


@pytest.fixture
def pkg_with(tmp_path):
    made = []

    def make(check_id, body):
        pkg = load_package(tmp_path, check_id, body)
        made.append(pkg)
        return pkg

    yield make
    for pkg in made:
        unload(pkg)


def test_executor_reports_modification_aliasing_errors_and_keeps_cases_intact(pkg_with):
    case = check_cases("lstm.new_state")[0]
    before = [a.copy() for a in case.args]
    # Inputs are read-only: the in-place change raises numpy's error, naming the input.
    pkg = pkg_with("lstm.new_state", "s_prev *= f\ns_prev += I * a\nreturn s_prev\n")
    r = executor.run_case(pkg, case)
    assert r["error"].startswith("ValueError") and "read-only" in r["error"] and r["modified"] == ["s_prev"]
    assert all(np.array_equal(a, b) for a, b in zip(case.args, before, strict=True))
    pkg = pkg_with("lstm.new_state", "return a\n")
    r = executor.run_case(pkg, case)
    assert r["aliased"] and r["error"] is None and not r["modified"]
    pkg = pkg_with("lstm.new_state", "raise NotImplementedError()\n")
    r = executor.run_case(pkg, case)
    assert r["error"].startswith("NotImplementedError") and "new_state" in r["error"]


def test_learner_warnings_are_captured_not_raised(pkg_with):
    pkg = pkg_with("lstm.final_output", "np.exp(np.array([1000.0]))\nreturn O * tanh(s)\n")
    r = executor.run_case(pkg, check_cases("lstm.final_output")[0])
    assert r["error"] is None and any("overflow" in w for w in r["warnings"])


def test_composition_is_graded_apart_from_the_gates(pkg_with):
    pkg = pkg_with("lstm.forget_gate", "return tanh(np.concatenate([x, y_prev], axis=-1) @ W_f.T + b_f)\n")
    cases = make_cases(2, check_ids=["lstm.lstm_step", "lstm.forget_gate"])
    out = grade_in_process(pkg, 2, cases=cases)
    assert out["lstm.forget_gate"].score == 0
    assert out["lstm.lstm_step"].score == out["lstm.lstm_step"].max_score


def _write_course(tmp_path, name, edits=None):
    course = tmp_path / name
    shutil.copytree(REPO / "rnnkit", course / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, (old, new) in (edits or {}).items():
        path = course / "rnnkit" / rel
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return course


SANDBOX_RUNNER = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if path is None and name.split(".")[0] in ("rnnkit", "autograder", "torch"):
                raise ImportError("blocked: " + name)
    sys.meta_path.insert(0, Block())
    sys.path.insert(0, sys.argv[1])
    from rnncheck.executor import main
    sys.exit(main(sys.argv[2:]))
""")


def run_sandboxed_executor(tmp_path, course, cases):
    grader = tmp_path / "grader"
    if not grader.exists():
        shutil.copytree(CHECKS_DIR, grader / "rnncheck", ignore=shutil.ignore_patterns("__pycache__"))
    io_in, io_out = tmp_path / "in", tmp_path / f"out-{course.name}"
    casefile.write_cases(cases, io_in)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-s",
            "-c",
            SANDBOX_RUNNER,
            str(grader),
            "--course",
            str(course),
            "--cases",
            str(io_in),
            "--out",
            str(io_out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    return proc, io_out


def test_executor_command_without_the_reference_importable(tmp_path):
    cases = make_cases(11, lesson="04-lstm")
    expected = expectations(cases)
    good = _write_course(tmp_path, "good")
    memo = _write_course(
        tmp_path, "memo", {"lstm.py": ("    return f * s_prev + I * a\n", "    return I * a + s_prev\n")}
    )
    proc, out = run_sandboxed_executor(tmp_path, good, cases)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "_import.json").read_text())["file"].startswith(str(good))
    outcomes = judge(cases, out, expected)
    assert all(o.score == o.max_score for o in outcomes.values()), outcomes
    proc, out = run_sandboxed_executor(tmp_path, memo, cases)
    assert proc.returncode == 0, proc.stderr
    outcomes = judge(cases, out, expected)
    assert outcomes["lstm.new_state"].score == 0 and "forget-less" in outcomes["lstm.new_state"].message
    assert outcomes["lstm.forget_gate"].score == outcomes["lstm.forget_gate"].max_score
    # lstm_step runs that new_state: its message puts the fault there (diagnostics through the result file)
    assert "The fault is in your `new_state`, not in `lstm_step`" in outcomes["lstm.lstm_step"].message


def test_executor_command_without_rnnkit_exits_3(tmp_path):
    (tmp_path / "empty").mkdir()
    proc, out = run_sandboxed_executor(
        tmp_path, tmp_path / "empty", make_cases(1, check_ids=["rnn.rnn_step"])
    )
    assert proc.returncode == 3 and "error" in json.loads((out / "_import.json").read_text())


def test_broken_module_costs_only_its_checks(tmp_path):
    course = _write_course(tmp_path, "broken", {"gru.py": ("def reset_gate(", "def reset_gate(:")})
    pkg, error = executor.load_rnnkit(course)
    try:
        assert error and "SyntaxError" in error
        cases = make_cases(4, check_ids=["rnn.rnn_step", "gru.reset_gate"])
        out = grade_in_process(pkg, 4, cases=cases)
        assert out["rnn.rnn_step"].score == out["rnn.rnn_step"].max_score
        assert out["gru.reset_gate"].score == 0 and "could not be imported" in out["gru.reset_gate"].message
    finally:
        for k in [k for k in sys.modules if k == "rnnkit" or k.startswith("rnnkit.")]:
            del sys.modules[k]
        import importlib

        importlib.import_module("rnnkit")


# ---- judge robustness --------------------------------------------------------------------------------


def test_judge_scores_missing_and_malformed_results_zero(tmp_path):
    cases = make_cases(9, check_ids=["rnn.rnn_step", "lstm.forget_gate", "gru.reset_gate"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "lstm.forget_gate.npz").write_bytes(b"not a zip at all")
    np.save(out / "gru.reset_gate.npz", np.array([object()], dtype=object), allow_pickle=True)
    outcomes = judge(cases, out)
    assert set(outcomes) == {"rnn.rnn_step", "lstm.forget_gate", "gru.reset_gate"}
    for o in outcomes.values():
        assert o.score == 0 and "No result was recorded" in o.message


def test_judge_ignores_results_claiming_another_check(tmp_path):
    cases = make_cases(9, check_ids=["rnn.rnn_step", "lstm.forget_gate"])
    results = executor.run_cases(rnnkit, [c for c in cases if c.check_id == "rnn.rnn_step"])
    casefile.write_results("rnn.rnn_step", results, tmp_path)
    (tmp_path / "rnn.rnn_step.npz").rename(tmp_path / "lstm.forget_gate.npz")
    assert judge(cases, tmp_path)["lstm.forget_gate"].score == 0


def test_judge_results_on_reference_give_full_marks_with_registry_points():
    cases = make_cases(21, lesson="05-gru")
    results = {}
    for case in cases:
        results.setdefault(case.check_id, {})[case.case_id] = executor.run_case(rnnkit, case)
    outcomes = judge_results(cases, results)
    assert list(outcomes) == [c.check_id for c in CHECKS if c.lesson == "05-gru"]
    for check_id, o in outcomes.items():
        assert o.score == o.max_score == CHECKS_BY_ID[check_id].points


# ---- notebook API and the shipped package -------------------------------------------------------------


def test_check_prints_a_pass_line_on_stdout_only(capsys):
    notebook.check("gru.final_output")
    captured = capsys.readouterr()
    assert "gru.final_output: all" in captured.out and captured.err == ""


def test_check_raises_with_the_mistake_name(pkg_with, monkeypatch, capsys):
    pkg = pkg_with("gru.final_output", "return u * y_prev + (1 - u) * a\n")
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    with pytest.raises(AssertionError) as info:
        notebook.check("gru.final_output")
    assert "PyTorch's mix" in str(info.value) and "but should be" in str(info.value)
    assert capsys.readouterr().err == ""


def test_an_interrupt_stops_check_instead_of_moving_to_the_next_case(pkg_with, monkeypatch):
    # A learner stopping an endless loop (or nbgrader's cell timeout) sends KeyboardInterrupt:
    # check() must stop there, not carry on through the remaining cases.
    calls = []
    pkg = pkg_with("gru.final_output", "calls.append(1)\nraise KeyboardInterrupt\n")
    monkeypatch.setattr(pkg.gru, "calls", calls, raising=False)
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    with pytest.raises(KeyboardInterrupt):
        notebook.check("gru.final_output")
    assert len(calls) == 1


def test_unknown_check_id():
    with pytest.raises(AssertionError, match="no check called"):
        notebook.check("lstm.nonsense")


def test_ready_on_stub_and_on_written_code(pkg_with, monkeypatch, capsys):
    assert notebook.ready("lstm.lstm_step", "gru.gru_step") is True
    pkg = pkg_with("lstm.forget_gate", "raise NotImplementedError()\n")
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    assert notebook.ready("lstm.lstm_step") is False
    out = capsys.readouterr().out
    assert "`lstm_step`" in out and "forget_gate" in out and "not written yet" in out


def test_ready_passing_refuses_a_wrong_gate_and_names_it(pkg_with, monkeypatch, capsys):
    # An experiment that trains on the learner's code: a forget gate with the wrong sign runs
    # (so plain ready() says yes) but fails its check, and lstm_step's own check passes (it feeds
    # lstm_step the reference's gates). ready(passing=True) must say no and name forget_gate.
    needs = ("lstm.lstm_step", "lstm.lstm_step_backward")
    assert notebook.ready(*needs, passing=True) is True  # the baseline: the reference passes
    wrong = "return sigmoid(-(np.concatenate([x, y_prev], axis=-1) @ W_f.T + b_f))\n"
    monkeypatch.setitem(sys.modules, "rnnkit", pkg_with("lstm.forget_gate", wrong))
    assert notebook.ready(*needs) is True
    capsys.readouterr()
    assert notebook.ready(*needs, passing=True) is False
    out = capsys.readouterr().out
    assert "`forget_gate` (rnnkit/lstm.py, lesson 4)" in out and "`lstm_step`" not in out


def test_show_setup_warns_when_rnnkit_is_not_the_course_copy(tmp_path, capsys):
    notebook.show_setup(REPO)
    assert "WARNING" not in capsys.readouterr().out
    notebook.show_setup(tmp_path)
    out = capsys.readouterr().out
    assert "WARNING" in out and str(tmp_path) in out


def test_shipped_package_has_no_reference_code_and_imports_alone(tmp_path):
    for path in CHECKS_DIR.glob("*.py"):
        text = path.read_text()
        assert "import rnnkit" not in text and "from rnnkit" not in text, path.name
        assert "BEGIN SOLUTION" not in text, path.name
        assert "import autograder" not in text and "from autograder" not in text, path.name
    shutil.copytree(CHECKS_DIR, tmp_path / "rnncheck", ignore=shutil.ignore_patterns("__pycache__"))
    code = SANDBOX_RUNNER.split("sys.path.insert")[0] + textwrap.dedent("""
        sys.path.insert(0, sys.argv[1])
        import rnncheck, rnncheck.executor, rnncheck.compare, rnncheck.casefile
        print(sorted(rnncheck.__all__))
    """)
    proc = subprocess.run(
        [sys.executable, "-s", "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "check" in proc.stdout and "ready" in proc.stdout


def test_result_files_accept_only_plain_result_nodes(tmp_path):
    store = casefile._Store()
    meta = {
        "version": casefile.FORMAT_VERSION,
        "check_id": "rnn.rnn_step",
        "cases": {"v00": {"error": None, "output": {"cell": "probe"}, "modified": [], "aliased": []}},
    }
    casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
    assert casefile.read_results("rnn.rnn_step", tmp_path) is None
    meta["cases"]["v00"]["output"] = {"leaf": "ndarray", "a": store.put(np.ones((2, 2)))}
    casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
    got = casefile.read_results("rnn.rnn_step", tmp_path)["v00"]["output"]
    assert isinstance(got, Leaf) and got.value.shape == (2, 2)
    meta["cases"]["v00"]["diagnostics"] = [None, {"leaf": "ndarray", "a": store.put(np.zeros(3))}]
    casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
    got = casefile.read_results("rnn.rnn_step", tmp_path)["v00"]["diagnostics"]
    assert got[0] is None and isinstance(got[1], Leaf) and got[1].value.shape == (3,)
    meta["cases"]["v00"]["diagnostics"] = [{"cell": "probe"}]
    casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
    assert casefile.read_results("rnn.rnn_step", tmp_path) is None
    del meta["cases"]["v00"]["diagnostics"]
    meta["cases"]["v00"]["output"] = {
        "leaf": "ndarray",
        "a": {"dt": "<f8", "off": 2, "shape": [10**6, 10**6]},
    }
    casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
    assert casefile.read_results("rnn.rnn_step", tmp_path) is None


def test_check_moves_learner_stderr_to_stdout(pkg_with, monkeypatch, capsys):
    body = "import sys\nsys.stderr.write('debug\\n')\nreturn (1 - u) * y_prev + u * a\n"
    pkg = pkg_with("gru.final_output", body)
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    notebook.check("gru.final_output")
    captured = capsys.readouterr()
    assert captured.err == "" and "debug" in captured.out and "all" in captured.out


def test_replay_tables_never_hold_the_answer_of_their_case():
    """The sandbox can read the case file: no replayed result may be (part of) the expected output."""

    def leaves(value):
        if isinstance(value, (tuple, list)):
            for v in value:
                yield from leaves(v)
        elif isinstance(value, np.ndarray):
            yield value

    cases = make_cases(8)
    expected = expectations(cases)
    replayed = 0
    for case in cases:
        want = [a for a in leaves(expected[(case.check_id, case.case_id)][0]) if np.any(a != 0)]
        # what the executor calls learner functions with to blame a callee is in the case file too
        shown = [result for _, _, result in case.replay] + [args for _, args, _ in case.diagnose]
        for result in shown:
            for r in leaves(result):
                replayed += 1
                tol = compare.TOLERANCES[compare.case_dtype(case)]
                leak = any(r.shape == w.shape and not compare.diff_arrays(w, r, tol)[0].any() for w in want)
                assert not leak, (case.check_id, case.case_id)
    assert replayed > 100


# A mistake in a function that a composed one runs as the learner's own code (its result is the composed
# function's answer, so it is not replayed): the composed check puts the fault where it is.
# (callee, its mistake, composed check, the mistake's name in the message)
BLAMED = [
    ("lstm.new_state", "return I * a + s_prev\n", "lstm.lstm_step", "forget-less"),
    ("lstm.new_state", "return f * s_prev - I * a\n", "lstm.lstm_step", None),
    ("gru.final_output", "return u * y_prev + (1 - u) * a\n", "gru.gru_step", "PyTorch's mix"),
]


@pytest.mark.parametrize("callee, change, composed, mistake", BLAMED, ids=[f"{b[0]}>{b[2]}" for b in BLAMED])
def test_a_wrong_callee_is_blamed_by_the_composed_check(pkg_with, monkeypatch, callee, change, composed,
                                                        mistake):
    caller, wrong = composed.split(".")[1], callee.split(".")[1]
    blame = f"The fault is in your `{wrong}`, not in `{caller}`"
    pkg = pkg_with(callee, change)
    out = grade_in_process(pkg, 4, check_ids=[composed])[composed]
    assert out.score < out.max_score and blame in out.message, out.message
    if mistake:
        assert "known mistake: " in out.message and mistake in out.message
    # the notebook's check says the same on the published cases
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    with pytest.raises(AssertionError) as info:
        notebook.check(composed)
    assert blame in str(info.value)


def test_a_mistake_made_in_the_composition_itself_is_not_blamed_on_its_callee(pkg_with):
    pkg = pkg_with("lstm.lstm_step", [("s = new_state(f, I, a, s_prev)", "s = I * a + s_prev")])
    out = grade_in_process(pkg, 4, check_ids=["lstm.lstm_step"])["lstm.lstm_step"]
    assert "known mistake: the memo's forget-less" in out.message and "The fault is in" not in out.message
    # a right lstm_step that never calls new_state: nothing to blame either
    pkg = pkg_with("lstm.lstm_step", SPECS["lstm.lstm_step"].right[0].change)
    assert grade_in_process(pkg, 4, check_ids=["lstm.lstm_step"])["lstm.lstm_step"].message.startswith("All")


def test_an_output_left_at_zero_is_named_when_no_known_mistake_matches():
    want = (np.array([[0.5, -0.25]]), np.array([[0.0, 0.0]]))
    case = _case(check_id="gru.gru_step_backward")
    got = Seq("tuple", [Leaf("ndarray", np.zeros((1, 2))), Leaf("ndarray", np.zeros((1, 2)))])
    v = compare.judge_case(case, {"output": got}, want, [], "float64")
    assert "known mistake: `dx` left at zero" in v.message
    # a known mistake that matches is named instead
    known = [("dy not used", "hint", (0 * want[0], want[1]))]
    v = compare.judge_case(case, {"output": got}, want, known, "float64")
    assert "known mistake: dy not used" in v.message and "left at zero" not in v.message
    # a wrong output that is not all zero is not called zero
    got = Seq("tuple", [Leaf("ndarray", np.array([[0.0, 1.0]])), Leaf("ndarray", np.zeros((1, 2)))])
    assert "left at zero" not in compare.judge_case(case, {"output": got}, want, [], "float64").message
    # on a hidden case the sentence names no output: which one is zero is the learner's code's choice
    got = Seq("tuple", [Leaf("ndarray", np.zeros((1, 2))), Leaf("ndarray", np.zeros((1, 2)))])
    hidden = compare.judge_case(_case(check_id="gru.gru_step_backward", visible=False), {"output": got}, want,
                                [], "float64").message
    assert "known mistake: an output left at zero" in hidden and "`dx`" not in hidden


def test_stub_called_by_a_composition_is_named(pkg_with):
    pkg = pkg_with("lstm.new_state", "raise NotImplementedError()\n")
    out = grade_in_process(pkg, 3, check_ids=["lstm.lstm_step", "lstm.new_state"])
    assert out["lstm.lstm_step"].score == 0
    assert "`lstm_step` calls `new_state`, which is not written yet" in out["lstm.lstm_step"].message
    assert out["lstm.new_state"].message.startswith("`new_state` is not written yet")


# ---- the notebook as JupyterLab shows it: message first, live edits, files that do not load ----------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CORRECT_FINAL_OUTPUT = "return (1 - u) * y_prev + u * a\n"


def _edit(path, function, body):
    """The text of a learner's file with one function's body rewritten."""
    from autograder.specs.spec import mutate

    return mutate(path.read_text(), function, body)


def _rendered(error):
    """What IPython shows for ``error`` (its ``_render_traceback_``), without colours."""
    return [ANSI.sub("", line) for line in "\n".join(error._render_traceback_()).split("\n")]


def _save(path, text):
    """Write a learner's file as an editor saves it: a new modification time, even within a clock tick."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def _line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_failing_check_shows_its_message_first_and_none_of_the_checks_code(pkg_with, monkeypatch):
    pkg = pkg_with("gru.final_output", "return u * y_prev + (1 - u) * a\n")
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    with pytest.raises(AssertionError) as info:
        notebook.check("gru.final_output")
    shown = _rendered(info.value)
    assert re.fullmatch(r"AssertionError: gru\.final_output: \d+ of \d+ cases pass\.", shown[0]), shown
    assert "\n".join(shown[1:]) == str(info.value).split("\n", 1)[1]
    for internal in ("Traceback", "notebook.py", "executor", "compare", "judge_case", "raise "):
        assert internal not in "\n".join(shown), (internal, shown)


def test_an_error_in_the_learners_function_shows_their_saved_line(pkg_with, monkeypatch):
    pkg = pkg_with("gru.final_output", CORRECT_FINAL_OUTPUT)
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    notebook.check("gru.final_output")
    # Edited live: lines added above the function, and a bug in it.
    path = pathlib.Path(pkg.gru.__file__)
    text = _edit(path, "final_output", "scale = a.shape[5]\nreturn (1 - u) * y_prev + u * a\n")
    text = text.replace("def final_output(", "# a note\n\n\n\ndef final_output(")
    _save(path, text)
    with pytest.raises(AssertionError) as info:
        notebook.check("gru.final_output")
    line = _line_of(text, "scale = a.shape[5]")
    assert f"(rnnkit/gru.py, line {line}, in final_output)" in str(info.value), str(info.value)
    # The location is said once, at the end of the message; the saved line comes right under it.
    shown = _rendered(info.value)
    assert shown[-2].endswith(f"(rnnkit/gru.py, line {line}, in final_output)"), shown
    assert shown[-1] == "    scale = a.shape[5]"
    assert "\n".join(shown).count(f"line {line}") == 1


def test_a_file_that_does_not_load_is_named_and_its_previous_version_never_runs(pkg_with, monkeypatch,
                                                                                 capsys):
    pkg = pkg_with("gru.final_output", CORRECT_FINAL_OUTPUT)
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    notebook.check("gru.final_output")  # the version in memory passes
    path = pathlib.Path(pkg.gru.__file__)
    good = path.read_text()
    # A missing parenthesis: where Python says the error is comes from Python itself.
    broken = good.replace("return (1 - u) * y_prev + u * a", "return (1 - u * y_prev + u * a")
    _save(path, broken)
    with pytest.raises(SyntaxError) as python:
        compile(broken, "gru.py", "exec")
    with pytest.raises(AssertionError) as info:
        notebook.check("gru.final_output")
    message = str(info.value)
    assert message.startswith("gru.final_output: not checked.")
    assert f"rnnkit/gru.py, line {python.value.lineno}: SyntaxError: {python.value.msg}" in message
    capsys.readouterr()
    assert not notebook.ready("gru.final_output")
    experiment = capsys.readouterr().out.splitlines()
    assert experiment[0] == ("This experiment needs rnnkit, and rnnkit/gru.py does not load, "
                             "so none of your code was run:"), experiment
    assert experiment[1].startswith(f"rnnkit/gru.py, line {python.value.lineno}: SyntaxError")
    # An error while the file runs (here an import): named with its line, and refused too.
    broken = good.replace("import numpy as np", "import numpy as np\nfrom .activations import no_such_name")
    _save(path, broken)
    with pytest.raises(AssertionError) as info:
        notebook.check("gru.final_output")
    line = _line_of(broken, "no_such_name")
    assert f"rnnkit/gru.py, line {line}: ImportError: cannot import name 'no_such_name'" in str(info.value)
    # Fixed and saved: the check runs the new code.
    _save(path, good.replace("return (1 - u) * y_prev + u * a", "return y_prev + u * (a - y_prev)"))
    notebook.check("gru.final_output")
    assert 1 not in pkg.gru.final_output.__code__.co_consts  # the new body, without (1 - u)


def test_functions_already_imported_elsewhere_run_the_saved_code(pkg_with, monkeypatch):
    pkg = pkg_with("gru.final_output", CORRECT_FINAL_OUTPUT)
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    held = pkg.gru.final_output  # what `from rnnkit.gru import final_output` in a notebook holds
    u, y, a = np.full(2, 0.5), np.zeros(2), np.ones(2)
    assert np.allclose(held(u, y, a), 0.5)
    path = pathlib.Path(pkg.gru.__file__)
    _save(path, _edit(path, "final_output", "return 2 * a\n"))
    assert notebook.refresh(pkg) == []
    assert np.allclose(held(u, y, a), 2.0) and pkg.gru.final_output is held
    assert pkg.gru.GRUParams is pkg.GRUParams  # the parameter class stays one class


def test_before_each_cell_a_file_that_does_not_load_is_said_once(pkg_with, monkeypatch, capsys):
    pkg = pkg_with("gru.final_output", CORRECT_FINAL_OUTPUT)
    monkeypatch.setitem(sys.modules, "rnnkit", pkg)
    cell = type("Info", (), {"raw_cell": "print(1)"})()
    notebook._before_cell(cell)
    assert capsys.readouterr().out == ""
    path = pathlib.Path(pkg.gru.__file__)
    _save(path, path.read_text().replace("def final_output(u, y_prev, a):", "def final_output(u, y_prev, a)"))
    notebook._before_cell(cell)
    out = capsys.readouterr()
    assert "rnnkit/gru.py, line" in out.out and "SyntaxError" in out.out and out.err == ""
    notebook._before_cell(cell)
    assert capsys.readouterr().out == ""  # said once, not before every cell


@pytest.mark.slow
def test_in_a_kernel_edits_are_picked_up_and_errors_name_the_saved_files_true_line(tmp_path):
    """What JupyterLab's kernel sends (and what nbgrader's Validate reads): the error's traceback
    is the message alone; saved files are reloaded before each cell; a plain cell calling the
    learner's function names the true line after an edit; a file that does not load is said."""
    from jupyter_client.manager import start_new_kernel

    from autograder.building import release
    from autograder.building.setup_cell import SETUP_CELL

    course = release.build_release(tmp_path / "course")
    rnn = course / "rnnkit" / "rnn.py"
    stubbed = rnn.read_text()
    stub = "# YOUR CODE HERE\n    raise NotImplementedError()"
    assert stubbed.count(stub) >= 1
    right = stubbed.replace(stub, "return np.tanh(np.concatenate([x, s_prev], axis=-1) @ W.T + b)", 1)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(course / "lessons"))

    def run(code):
        """{"stdout": text, "stderr": text, "error": (ename, traceback lines without colours) or None}"""
        msg_id = kc.execute(code)
        out = {"stdout": "", "stderr": "", "error": None}
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["error"] = (content["ename"], ANSI.sub("", "\n".join(content["traceback"])).split("\n"))
            elif kind == "status" and content["execution_state"] == "idle":
                return out

    try:
        assert "Using your rnnkit in" in run(SETUP_CELL)["stdout"]
        ename, shown = run('check("rnn.rnn_step")')["error"]
        assert ename == "AssertionError" and shown[0] == "AssertionError: rnn.rnn_step: 0 of 11 cases pass."
        assert "Traceback" not in "\n".join(shown) and len(shown) == 2, shown
        _save(rnn, right)
        assert "all 11 visible cases pass" in run('check("rnn.rnn_step")')["stdout"]
        # An edit that moves the function down and breaks it: a plain cell's traceback names the true line.
        moved = stubbed.replace(stub, "return np.tanh(np.concatenate([x, s_prev]) @ W.T + b)", 1)
        moved = moved.replace("def rnn_step(", "\n\n\n\n\n\ndef rnn_step(", 1)
        _save(rnn, moved)
        line = _line_of(moved, "np.concatenate([x, s_prev]) @ W.T")
        direct = run("import numpy as np\nfrom rnnkit.rnn import rnn_step\n"
                     "rnn_step(np.ones((2, 3)), np.ones((2, 4)), np.ones((4, 7)), np.zeros(4))")
        assert direct["error"][0] == "ValueError"
        assert f"rnn.py:{line}, in rnn_step" in "\n".join(direct["error"][1]), direct["error"][1]
        # A syntax error: the next cell says so once, on stdout; the check refuses, naming Python's line.
        broken = right.replace("axis=-1) @ W.T + b)", "axis=-1) @ W.T + b")
        _save(rnn, broken)
        with pytest.raises(SyntaxError) as python:
            compile(broken, "rnn.py", "exec")
        where = f"rnnkit/rnn.py, line {python.value.lineno}: SyntaxError"
        plain = run("1 + 1")
        assert where in plain["stdout"] and plain["stderr"] == "" and plain["error"] is None
        refused = run('check("rnn.rnn_step")')
        assert refused["stderr"] == "" and refused["stdout"] == ""
        assert refused["error"][1][0] == ("AssertionError: rnn.rnn_step: not checked. "
                                          "This file does not load, so none of your code was run:")
        assert refused["error"][1][1].startswith(where)
        _save(rnn, right)
        assert "all 11 visible cases pass" in run('check("rnn.rnn_step")')["stdout"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
