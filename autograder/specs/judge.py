"""The trusted judge: scores the executor's results against the reference.

Runs in the grading process only. Learner code never runs here: the results are
plain data read from the sandbox's output folder (``read_results``, no pickle),
and the expected values (``expected_output``: the real rnnkit, in float64) and the
outputs of the known mistakes (``mistake_outputs``: each spec's ``mistakes``) are
computed here.
"""

import importlib
import pathlib
import sys

import numpy as np

import rnnkit
from autograder.checks import executor
from autograder.checks.casefile import map_arrays, read_results
from autograder.checks.compare import MISSING_RESULT, Outcome, case_dtype, judge_case, score_check
from autograder.checks.registry import CHECKS
from autograder.specs import SPECS
from autograder.specs.cases import BUDGET_CASE_ID, make_cases

__all__ = ["Outcome", "expectations", "expected_output", "grade_in_process", "judge", "judge_results",
           "mistake_outputs", "reference_function", "upcast"]


def reference_function(check_id):
    """The reference implementation of a check's function: from the reference rnnkit imported with
    this module, even while a learner's package stands in ``sys.modules`` (in-process trials)."""
    module, function = check_id.split(".")
    return getattr(getattr(rnnkit, module, None) or importlib.import_module(f"rnnkit.{module}"), function)


def upcast(value):
    """float32 inputs as float64, for accurate expected values."""
    return map_arrays(value, lambda a: a.astype(np.float64) if a.dtype == np.float32 else a)


def expected_output(case):
    """The reference output for a case, computed in float64."""
    return reference_function(case.check_id)(*upcast(case.args), **upcast(case.kwargs))


def mistake_outputs(case, args, kwargs):
    """[(name, hint, output or None)] of every known mistake of the case's check on
    (float64) ``args``; a mistake that cannot run on these inputs gives None."""
    out = []
    for m in SPECS[case.check_id].mistakes:
        try:
            with np.errstate(all="ignore"):
                value = m.function(*args, **kwargs)
        except Exception:  # noqa: BLE001 - e.g. shapes that only fit when D = H
            value = None
        out.append((m.name, m.hint, value))
    return out


def expectations(cases):
    """{(check_id, case_id): (expected output, [(name, hint, mistake output)])}."""
    out = {}
    for case in cases:
        args, kwargs = upcast(tuple(case.args)), upcast(dict(case.kwargs))
        # Budget cases (large, timed) only need the right answer: computing every known mistake on
        # them would cost the grader far more than the learner's run.
        mistakes = [] if case.case_id == BUDGET_CASE_ID else mistake_outputs(case, args, kwargs)
        out[(case.check_id, case.case_id)] = (expected_output(case), mistakes)
    return out


def judge_results(cases, results, expected=None):
    """Outcomes from results already at hand.

    - cases: the list ``make_cases`` returned
    - results: {check_id: {case_id: result dict} or None (missing)}
    - expected: optional precomputed ``expectations(cases)``
    Returns {check_id: Outcome}, registry order.
    """
    expected = expected or expectations(cases)
    by_check = {}
    for case in cases:
        by_check.setdefault(case.check_id, []).append(case)
    outcomes = {}
    for spec in CHECKS:
        if spec.check_id not in by_check:
            continue
        check_results = results.get(spec.check_id)
        if check_results is None:
            outcomes[spec.check_id] = Outcome(0.0, float(spec.points), MISSING_RESULT)
            continue
        verdicts = []
        for case in by_check[spec.check_id]:
            want, mistakes = expected[(case.check_id, case.case_id)]
            verdicts.append(
                judge_case(case, check_results.get(case.case_id), want, mistakes, case_dtype(case))
            )
        outcomes[spec.check_id] = score_check(spec.check_id, spec.points, verdicts)
    return outcomes


def judge(cases, out_dir, expected=None):
    """Score the executor's output folder. Returns {check_id: Outcome(score, max_score, message)}
    for every check in ``cases``; a missing or malformed result file scores that check 0."""
    out_dir = pathlib.Path(out_dir)
    check_ids = list(dict.fromkeys(c.check_id for c in cases))
    results = {check_id: read_results(check_id, out_dir) for check_id in check_ids}
    return judge_results(cases, results, expected)


def grade_in_process(course_or_package, seed, check_ids=None, cases=None, expected=None):
    """Run and judge in this process (tests and local trials only: the learner's code runs
    here, so this is NOT how grades are decided).

    ``course_or_package``: a folder holding rnnkit/, or an imported rnnkit-like package.
    """
    # Loading a folder's rnnkit replaces the reference in sys.modules: put the reference back after.
    saved = {k: v for k, v in sys.modules.items() if k == "rnnkit" or k.startswith("rnnkit.")}
    try:
        if isinstance(course_or_package, (str, pathlib.Path)):
            pkg, _ = executor.load_rnnkit(course_or_package)
        else:
            pkg = course_or_package
        cases = cases if cases is not None else make_cases(seed, check_ids=check_ids)
        results = {}
        for case in cases:
            if check_ids is not None and case.check_id not in check_ids:
                continue
            results.setdefault(case.check_id, {})[case.case_id] = executor.run_case(pkg, case)
    finally:
        for name in [k for k in sys.modules if k == "rnnkit" or k.startswith("rnnkit.")]:
            del sys.modules[name]
        sys.modules.update(saved)
    return judge_results([c for c in cases if c.check_id in results], results, expected)
