"""What a lesson notebook calls: ``check``, ``ready`` and ``show_setup``.

Everything here prints on stdout only: under nbgrader any stderr output
(a warning included) scores a cell 0.
"""

import contextlib
import importlib
import io
import pathlib
import sys

from . import compare
from .casefile import case_from_json, decode, load
from .registry import CHECKS_BY_ID

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def _rnnkit():
    """The rnnkit this kernel uses; an AssertionError a learner can act on if it does not import."""
    pkg = sys.modules.get("rnnkit")
    if pkg is None:
        try:
            pkg = importlib.import_module("rnnkit")
        except Exception as e:  # noqa: BLE001 - a syntax error in the learner's file, say
            raise AssertionError(
                f"rnnkit could not be imported: {type(e).__name__}: {e}. "
                "Fix that file, save it, and run this cell again."
            ) from None
    return pkg


def _run_quietly(run_case, pkg, case):
    """Run a case with the learner's writes to stderr shown on stdout instead: under nbgrader
    any stderr output (a debug print to sys.stderr) would score the cell 0."""
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        result = run_case(pkg, case)
    text = buffer.getvalue()
    if text:
        print("(your code wrote to stderr; shown here instead:)\n" + text[:2000])
    return result


def load_fixture(check_id, pkg=None):
    """(cases, expected {case_id: output}, mistakes {case_id: [(name, hint, output)]}) of the
    published fixture of one check."""
    from .executor import param_classes

    meta, buffers = load(FIXTURES / f"{check_id}.npz")
    classes = param_classes(pkg) if pkg is not None else {}
    cases = [case_from_json(n, buffers, classes) for n in meta["cases"]]
    expected = {k: decode(v, buffers) for k, v in meta["expected"].items()}
    mistakes = {
        k: [(m["name"], m["hint"], decode(m["output"], buffers)) for m in v]
        for k, v in meta["mistakes"].items()
    }
    return cases, expected, mistakes


def _unknown(check_id):
    known = ", ".join(sorted(CHECKS_BY_ID))
    return AssertionError(f"There is no check called {check_id!r}. Known checks: {known}.")


def check(check_id):
    """Run the visible checks of one learner function against this kernel's rnnkit.

    Prints one line when every case passes; otherwise raises AssertionError saying
    which case failed, the first differing element with both values, and the name
    of a known mistake when the output matches one.
    """
    if check_id not in CHECKS_BY_ID:
        raise _unknown(check_id)
    from .executor import run_case

    pkg = _rnnkit()
    cases, expected, mistakes = load_fixture(check_id, pkg)
    verdicts = []
    for case in cases:
        result = _run_quietly(run_case, pkg, case)
        verdicts.append(
            compare.judge_case(
                case, result, expected[case.case_id], mistakes.get(case.case_id, []), compare.case_dtype(case)
            )
        )
    failing = [v for v in verdicts if not v.ok] + [v for v in verdicts if v.ok and not v.hygiene_ok]
    if failing:
        passed = sum(v.ok and v.hygiene_ok for v in verdicts)
        raise AssertionError(f"{check_id}: {passed} of {len(verdicts)} cases pass.\n{failing[0].message}")
    print(
        f"{check_id}: all {len(verdicts)} visible cases pass. "
        "(Grading runs hidden cases like these with fresh inputs.)"
    )


def ready(*check_ids):
    """True when the learner functions behind ``check_ids`` are written (a tiny call
    raises no NotImplementedError); otherwise prints which one is missing and returns False."""
    from .executor import run_case

    try:
        pkg = _rnnkit()
    except AssertionError as e:
        print(f"This experiment needs rnnkit, which does not import yet: {e}")
        return False
    for check_id in check_ids:
        if check_id not in CHECKS_BY_ID:
            raise _unknown(check_id)
        module, function = check_id.split(".")
        cases, _, _ = load_fixture(check_id, pkg)
        case = cases[0]
        case.replay = []  # an experiment runs the learner's whole chain
        error = _run_quietly(run_case, pkg, case)["error"] or ""
        if error.startswith("NotImplementedError"):
            inner = error.rsplit(" in ", 1)[-1].rstrip(")") if " in " in error else function
            if inner == function:
                print(
                    f"This experiment uses your `{function}` (rnnkit/{module}.py), which is not written "
                    "yet: come back after the exercise."
                )
            else:
                print(
                    f"This experiment uses your `{function}` (rnnkit/{module}.py), which needs `{inner}`, "
                    "not written yet: come back after the exercise."
                )
            return False
    return True


def show_setup(course_dir):
    """Print which rnnkit this kernel uses; warn loudly when it is not the course folder's."""
    try:
        pkg = _rnnkit()
    except Exception as e:  # noqa: BLE001 - report, do not crash the set-up cell
        print(f"!!! rnnkit could not be imported: {type(e).__name__}: {e}")
        return
    where = pathlib.Path(pkg.__file__).resolve().parent
    course = pathlib.Path(course_dir).resolve()
    if course in where.parents:
        print(f"Using your rnnkit in {where}; checks from {pathlib.Path(__file__).resolve().parent}.")
    else:
        bar = "!" * 78
        print(
            f"{bar}\n!!! WARNING: this notebook is using the rnnkit in {where},\n"
            f"!!! not the copy in your course folder {course}.\n"
            "!!! Your edits would not be checked. Another rnnkit (perhaps an installed reference\n"
            "!!! package) shadows yours: uninstall it or open the notebook from the course folder,\n"
            f"!!! then restart the kernel.\n{bar}"
        )
