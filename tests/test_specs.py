"""Every checked function has a whole spec: its registry entry, which ships to learners
(``autograder/checks/registry.py``: lesson, points, output names, parameter class), and
its trusted spec (``autograder/specs/<module>.py``: cases, replay, known mistakes, ways to
write it right, mutants).

``spec_problems`` lists what is missing or inconsistent in one such pair. It runs on every
registry entry, and on deliberately broken copies to show that each of its checks bites.
The reference package is the oracle for output names, parameter classes and replay tables.
"""

import ast
import dataclasses
import importlib
import inspect
import json
import re
import textwrap

import numpy as np
import pytest

from autograder import paths
from autograder.checks import casefile
from autograder.checks.registry import CHECKS, CHECKS_BY_ID, LESSONS
from autograder.specs import MODULES, SPECS
from autograder.specs.cases import check_cases
from autograder.specs.judge import expectations, reference_function
from autograder.specs.spec import Mistake, Rewrite, mutate

# The edges ``cases._case`` acts on: sizes (B1, D=H) or the builder's flags (unbatched, big).
EDGE_KEYS = {"B1", "D=H", "unbatched", "big"}


def _arrays(value):
    """Every array inside ``value``, in order."""
    found = []
    casefile.map_arrays(value, lambda a: found.append(a) or a)
    return found


def _differs(got, want):
    """True when ``got`` is not ``want`` (another structure, or a scaled difference above 1e-6)."""
    a, b = _arrays(got), _arrays(want)
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        return True
    return any(
        np.max(np.abs(x - y), initial=0.0) > 1e-6 * max(1.0, float(np.max(np.abs(y), initial=0.0)))
        for x, y in zip(a, b, strict=True)
    )


def _drawn(spec):
    """[(args, kwargs)]: a plain draw and one per term, from the spec's own builder (float64)."""
    rng = np.random.default_rng(0)
    drawn = [(spec.build(rng, 3, 2, 3, None, False, False), {})]
    for term, _ in spec.terms:
        drawn.append((spec.build(rng, 3, 2, 3, term, False, False), dict(spec.term_kwargs.get(term, {}))))
    return drawn


def unshown_mistakes(check_id, seeds=(1, 2, 3)):
    """Names of the known mistakes of ``check_id`` that neither its visible cases nor its hidden
    cases of ``seeds`` tell from the right answer (a mistake that raises on a case, say on shapes
    that only fit when D = H, is not shown there: the judge gets no output from it either)."""
    cases = check_cases(check_id) + [c for seed in seeds for c in check_cases(check_id, seed, visible=False)]
    shown = set()
    for want, mistakes in expectations(cases).values():
        shown.update(name for name, _, output in mistakes if output is not None and _differs(output, want))
    return [m.name for m in SPECS[check_id].mistakes if m.name not in shown]


def _called_checks(check_id):
    """Check ids of the other checked functions the reference of ``check_id`` calls (read from its
    source, resolved in its module)."""
    module, function = check_id.split(".")
    mod = importlib.import_module(f"rnnkit.{module}")
    tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(mod, function))))
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            # By the called function's own module and name, not its identity: another test may
            # have imported rnnkit afresh, leaving two copies of each function about.
            target = getattr(mod, node.func.id, None)
            if not callable(target) or not str(getattr(target, "__module__", "")).startswith("rnnkit."):
                continue
            other = f"{target.__module__.split('.', 1)[1]}.{target.__name__}"
            if other in CHECKS_BY_ID and other != check_id:
                called.add(other)
    return called


def _named_tuples(value):
    """"module.Class" of every named tuple inside ``value``, as the case files name them."""
    tree = casefile.encode(value, casefile._Store())
    return set(re.findall(r'"nt": "([\w.]+)"', json.dumps(tree)))


def spec_problems(entry, spec):
    """What is missing or inconsistent in the registry ``entry`` and the trusted ``spec`` of one
    checked function (a list of texts; empty when whole)."""
    if spec is None:
        return [f"{entry.check_id}: no spec in autograder/specs"]
    problems = []
    if spec.check_id != entry.check_id:
        problems.append(f"the spec is for {spec.check_id}")
    if entry.lesson not in {lesson.assignment for lesson in LESSONS} or not entry.points > 0:
        problems.append("registry: unknown lesson or no points")
    if not callable(spec.build):
        return problems + ["no case builder"]
    if not spec.terms:
        problems.append("no term-isolation cases (terms)")
    if not spec.edges:
        problems.append("no edge cases (edges)")
    if set(spec.term_kwargs) - {term for term, _ in spec.terms}:
        problems.append("term_kwargs for a term the spec does not have")
    try:
        drawn = _drawn(spec)
    except Exception as e:  # noqa: BLE001 - reported
        return problems + [f"the case builder fails: {e!r}"]
    reference = reference_function(entry.check_id)

    # Composition: the learner functions it calls are answered from a replay table, or the spec says why not.
    called = _called_checks(entry.check_id)
    if called and spec.replay is None and not spec.no_replay:
        problems.append(f"calls {sorted(called)} but has neither a replay nor a reason for none (no_replay)")
    if spec.replay is not None and spec.no_replay:
        problems.append("both a replay and a reason for none")
    if spec.replay is not None:
        for args, kwargs in drawn:
            for function, call_args, result in spec.replay(args, kwargs):
                if function not in CHECKS_BY_ID or function == entry.check_id:
                    problems.append(f"the replay answers {function}, not another checked function")
                elif _differs(result, reference_function(function)(*call_args)):
                    problems.append(f"the replayed result of {function} is not the reference's")

    # What ships: output names and the parameter class, against the reference.
    args, kwargs = drawn[0]
    output = reference(*args, **kwargs)
    if isinstance(output, tuple) and not hasattr(output, "_fields"):
        names = entry.outputs
        if not isinstance(names, tuple) or len(names) != len(output) or not all(names):
            problems.append(f"registry outputs {entry.outputs!r}: the function returns {len(output)} values")
    elif not isinstance(entry.outputs, str) or not entry.outputs:
        problems.append(f"registry outputs {entry.outputs!r}: the function returns one array")
    classes = set().union(*(_named_tuples(args) for args, _ in drawn))
    if classes != ({entry.params} if entry.params else set()):
        problems.append(f"registry params {entry.params!r}: the arguments hold {sorted(classes)}")

    # Known mistakes: named and hinted (``unshown_mistakes``: told apart from the right answer).
    if not spec.mistakes:
        problems.append("no known mistake")
    names = [m.name for m in spec.mistakes]
    if len(set(names)) != len(names):
        problems.append("two known mistakes share a name")
    for m in spec.mistakes:
        if not (isinstance(m, Mistake) and m.name and m.hint and callable(m.function)):
            problems.append(f"malformed mistake {m!r}")

    # Rewrites of the reference: ways to write it right, mutants, shortcuts; each must still apply.
    if not spec.right:
        problems.append("no right alternative (right)")
    if not spec.mutants:
        problems.append("no mutant")
    module, function = entry.check_id.split(".")
    source = (paths.RNNKIT / f"{module}.py").read_text()
    for rewrite in [*spec.right, *spec.mutants, *spec.shortcuts]:
        try:
            mutate(source, function, rewrite.change)
        except (ValueError, StopIteration) as e:
            problems.append(f"the rewrite {rewrite.name!r} does not apply: {e}")
    if spec.budget is not None and not (len(spec.budget) == 3 and all(int(n) > 0 for n in spec.budget)):
        problems.append("budget is not (B, D, H)")
    return problems


@pytest.mark.parametrize("check_id", [c.check_id for c in CHECKS])
def test_every_checked_function_has_a_whole_spec(check_id):
    assert spec_problems(CHECKS_BY_ID[check_id], SPECS.get(check_id)) == []


def test_every_spec_is_registered_once_in_its_modules_file():
    assert set(SPECS) <= set(CHECKS_BY_ID), sorted(set(SPECS) - set(CHECKS_BY_ID))
    assert sum(len(m.SPECS) for m in MODULES) == len(SPECS), "two specs for one function"
    for module in MODULES:
        for spec in module.SPECS:
            assert module.__name__ == f"autograder.specs.{spec.check_id.split('.')[0]}", spec.check_id


# Deliberately incomplete specs: each must be reported. (check id, how it is broken, words of the report)
_BROKEN = [
    ("lstm.new_state", lambda e, s: (e, None), "no spec"),
    ("lstm.new_state", lambda e, s: (e, dataclasses.replace(s, build=None)), "no case builder"),
    ("lstm.new_state", lambda e, s: (e, dataclasses.replace(s, terms=[])), "no term-isolation"),
    ("gru.final_output", lambda e, s: (e, dataclasses.replace(s, edges=[])), "no edge cases"),
    ("lstm.lstm_step", lambda e, s: (e, dataclasses.replace(s, replay=None)), "neither a replay nor"),
    ("gru.gru_step", lambda e, s: (e, dataclasses.replace(
        s, replay=lambda a, k: [(f, x, r + 1) for f, x, r in s.replay(a, k)])), "is not the reference's"),
    ("rnn.rnn_step", lambda e, s: (e, dataclasses.replace(s, mistakes=[])), "no known mistake"),
    ("lstm.final_output", lambda e, s: (e, dataclasses.replace(s, mistakes=[Mistake("x", "", 0)])),
     "malformed"),
    ("sequence.unroll", lambda e, s: (e, dataclasses.replace(s, right=[])), "no right alternative"),
    ("sequence.bptt", lambda e, s: (e, dataclasses.replace(s, mutants=[])), "no mutant"),
    ("lstm.forget_gate", lambda e, s: (e, dataclasses.replace(
        s, right=[Rewrite("stale", [("not in the body", "x")])])), "does not apply"),
    ("lstm.lstm_step", lambda e, s: (e._replace(outputs="y"), s), "registry outputs"),
    ("gru.gru_step_backward", lambda e, s: (e._replace(outputs=("dx", "grads")), s), "registry outputs"),
    ("lstm.lstm_step_backward", lambda e, s: (e._replace(params=""), s), "registry params"),
    ("lstm.lstm_step", lambda e, s: (e, dataclasses.replace(s, term_kwargs={"memo": {}})), "term_kwargs"),
]


@pytest.mark.parametrize("check_id, break_it, report", _BROKEN, ids=[f"{c}:{r}" for c, _, r in _BROKEN])
def test_an_incomplete_spec_is_reported(check_id, break_it, report):
    entry, spec = break_it(CHECKS_BY_ID[check_id], SPECS[check_id])
    problems = spec_problems(entry, spec)
    assert any(report in p for p in problems), problems


@pytest.mark.parametrize("check_id", [c.check_id for c in CHECKS])
def test_every_edge_is_one_the_case_builder_acts_on(check_id):
    # An edge key that ``cases._case`` does not act on itself goes to the builder as its term: the
    # builder must then build something else than a plain draw from the same random stream.
    spec = SPECS[check_id]
    for edge, label in spec.edges:
        if edge in EDGE_KEYS:
            continue
        plain = spec.build(np.random.default_rng(5), 3, 2, 3, None, False, False)
        built = spec.build(np.random.default_rng(5), 3, 2, 3, edge, False, False)
        assert _differs(built, plain), f"{check_id}: the builder ignores the edge {edge!r} ({label})"


@pytest.mark.parametrize("check_id", ["multilayer.stacked_forward", "multilayer.stacked_backward"])
def test_the_same_size_edge_gives_every_layer_the_input_size(check_id):
    cases = check_cases(check_id) + check_cases(check_id, seed=7, visible=False)
    same = [c for c in cases if c.label.startswith("every layer the input's size")]
    assert len(same) == 2, [c.label for c in cases]
    for case in same:
        _cell, xs, states0, layer_params = case.args[:4]
        D = xs.shape[-1]
        assert len(layer_params) >= 2
        for params, state0 in zip(layer_params, states0, strict=True):
            assert params.A.shape == (D, D) and state0[0].shape[-1] == D
    # and the other cases do not: the edge is not what every case already is
    assert any(c.args[3][0].A.shape[0] != c.args[3][0].A.shape[1] for c in cases if c not in same)


def test_a_builder_that_ignores_its_edge_is_reported(monkeypatch):
    spec = SPECS["multilayer.stacked_forward"]
    blind = dataclasses.replace(spec, build=lambda rng, B, D, H, term, big, unbatched: spec.build(
        rng, B, D, H, None if term == "same" else term, big, unbatched))
    monkeypatch.setitem(SPECS, spec.check_id, blind)
    with pytest.raises(AssertionError, match="ignores the edge 'same'"):
        test_every_edge_is_one_the_case_builder_acts_on(spec.check_id)


GRADIENT_ARGUMENTS = {"dy", "ds", "dys", "dstate_T", "dstates_T"}
BACKWARD = ["rnn.rnn_step_backward", "lstm.lstm_step_backward", "gru.gru_step_backward", "sequence.bptt",
            "multilayer.stacked_backward"]


@pytest.mark.parametrize("check_id", BACKWARD)
def test_every_gradient_argument_is_nonzero_in_the_random_cases(check_id):
    # A backward pass that drops one of its incoming gradients (stacked_backward ignoring dstates_T,
    # say) must differ from the right one on the "values" cases, visible and hidden, which decide
    # whether the check scores at all.
    names = list(inspect.signature(reference_function(check_id)).parameters)
    gradients = [n for n in names if n in GRADIENT_ARGUMENTS]
    assert gradients, names
    cases = check_cases(check_id) + check_cases(check_id, seed=3, visible=False)
    values = [c for c in cases if c.group == "values"]
    assert any(c.visible for c in values) and any(not c.visible for c in values)
    for case in values:
        for name in gradients:
            arrays = _arrays(case.args[names.index(name)])
            assert arrays and all(np.any(a != 0) for a in arrays), (case.case_id, name)


@pytest.mark.parametrize("check_id", [c.check_id for c in CHECKS])
def test_the_cases_tell_every_known_mistake_from_the_right_answer(check_id):
    assert unshown_mistakes(check_id) == []


def test_a_mistake_the_cases_cannot_show_is_reported(monkeypatch):
    spec = SPECS["lstm.final_output"]
    blind = Mistake("no slip at all", "none.", reference_function(spec.check_id))
    monkeypatch.setitem(SPECS, spec.check_id, dataclasses.replace(spec, mistakes=[*spec.mistakes, blind]))
    assert unshown_mistakes(spec.check_id) == ["no slip at all"]


def test_a_rewrite_of_a_function_without_its_own_region_is_refused():
    # The region must be the function's own: not the next function's, found by reading on.
    from autograder.specs.spec import mutate

    source = ("def f(x):\n    return x\n\n\n"
              "def g(x):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    with pytest.raises(ValueError, match="f: 0 solution regions"):
        mutate(source, "f", "return 99\n")
    assert "return 2" in mutate(source, "g", "return 2\n")
