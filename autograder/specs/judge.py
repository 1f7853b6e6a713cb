"""The trusted judge: scores the executor's results against the reference.

Runs in the grading process only. Learner code never runs here: the results are
plain data read from the sandbox's output folder (``read_results``, no pickle),
and the expected values and known mistakes are computed here from the real
rnnkit (``autograder.specs.cases.expected_output``, ``autograder.specs.mistakes``).
"""

import pathlib

from autograder.checks.casefile import read_results
from autograder.checks.compare import Outcome, case_dtype, judge_case, score_check
from autograder.checks.registry import CHECKS, CHECKS_BY_ID
from autograder.specs.cases import BUDGET_CASE_ID, expected_output, make_cases, upcast
from autograder.specs.mistakes import mistake_outputs

__all__ = ["Outcome", "expectations", "grade_in_process", "judge", "judge_results"]


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
            outcomes[spec.check_id] = Outcome(
                0.0,
                float(spec.points),
                "No results for this check: the run stopped before reaching it (time or memory limit, "
                "or the process exited).",
            )
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
    import sys

    from autograder.checks import executor

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


def max_scores():
    """{check_id: points} from the registry."""
    return {c: s.points for c, s in CHECKS_BY_ID.items()}
