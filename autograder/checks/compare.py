"""Comparing a learner's results with the expected ones: tolerances, the first
difference, recognised mistakes, messages and the score of a check.

The same code serves the notebook's ``check`` (expected values from the
published fixtures) and the trusted judge (expected values computed from the
reference in the grading process), so a learner sees in the notebook exactly
the kind of message the grade will carry.
"""

import re
from typing import NamedTuple

import numpy as np

from . import registry as _registry
from .casefile import Leaf, Other, Seq, map_arrays


class Tolerance(NamedTuple):
    """Pass when |got - want| <= atol * max(1, max|want|) + rtol * |want|, elementwise."""

    rtol: float
    atol: float


# Calibrated with ``python -m autograder.specs.calibrate`` (every check, visible cases plus 20 hidden
# seeds; e = max|got - want| / max(1, max|want|), want the float64 reference):
# - every way to write a function right listed in its spec (autograder/specs): e <= 2.8e-14;
# - the reference on float32 inputs (a correct float32 answer): e <= 4.8e-6;
# - every known mistake moves some output of some case by e >= 0.44 (the backward passes' by
#   e >= 0.81).
# float64 passes e up to ~1e-8 (a million times the rounding of correct code), float32 up to
# ~1e-4 (20 times the worst float32 rounding measured); both are thousands of times
# below the smallest mistake.
TOLERANCES = {
    "float64": Tolerance(rtol=1e-7, atol=1e-8),
    "float32": Tolerance(rtol=1e-4, atol=1e-4),
}

# Case groups, in the order they are reported. A check scores 0 unless every
# "values" case passes; then points x (groups passed / groups present).
GROUPS = {
    "values": "random inputs",
    "terms": "term isolation (one weight block, the bias or the previous state at a time)",
    "edges": "edge cases (B = 1, D = H, unbatched, pre-activations up to 50)",
    "float32": "float32 inputs (the result must stay float32)",
    "hygiene": "plain numpy.ndarray results, not aliased to an input",
}

class Problem(NamedTuple):
    """What is wrong with one case's result. ``hygiene`` problems (not a plain ndarray,
    an output aliased to an input) count against the hygiene group, the others against
    the case's own group. ``zero`` names the output (``name``) of a value problem when that
    output is zero everywhere while the expected one is not (a value never computed, or a
    gradient no path reaches)."""

    kind: str
    text: str
    hygiene: bool = False
    zero: bool = False
    name: str = ""


def _fmt(v):
    return f"{float(v):.6g}"


def _index(idx):
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if len(idx) else ""


def _as_array(got):
    """A Leaf's values, or a nested list/tuple of numeric leaves as an array (else None)."""
    if isinstance(got, Leaf):
        return got.value
    if isinstance(got, Seq):
        try:
            parts = [_as_array(g) for g in got.items]
            if any(p is None for p in parts):
                return None
            return np.array(parts, dtype=np.float64)
        except (ValueError, TypeError):
            return None
    return None


def _describe(got):
    if isinstance(got, Leaf):
        return got.kind
    if isinstance(got, Seq):
        return f"a {got.name or got.kind} of {len(got.items)}"
    if isinstance(got, Other):
        return got.kind
    return type(got).__name__


def diff_arrays(want, got, tol, scale=None):
    """(mask of elements out of tolerance, |difference|); shapes must agree."""
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - want)
        bad = ~(diff <= tol.atol * scale + tol.rtol * np.abs(want))
    return bad, diff


def compare(want, got, dtype, tol, name="", visible=True):
    """Problems of ``got`` (normalised learner output) against ``want`` (expected
    structure), first value problem first. ``dtype``: the dtype every array must have."""
    problems = []
    _compare(want, got, dtype, tol, name, visible, problems)
    problems.sort(key=lambda p: p.hygiene)
    return problems


def _compare(want, got, dtype, tol, name, visible, problems):
    if isinstance(want, (tuple, list)):
        fields = getattr(want, "_fields", None)
        if not isinstance(got, Seq) or len(got.items) != len(want):
            expected = f"{len(want)} values" + (f" ({', '.join(fields)})" if fields else "")
            label = name if name and isinstance(name, str) else "the result"
            problems.append(
                Problem(
                    "structure", f"{label} should be {expected}, but your function returned {_describe(got)}."
                )
            )
            return
        for i, (w, g) in enumerate(zip(want, got.items, strict=True)):
            if fields:
                sub = f"{name}.{fields[i]}" if name else fields[i]
            elif isinstance(name, tuple):
                sub = name[i]
            else:
                sub = f"{name}[{i}]"
            _compare(w, g, dtype, tol, sub, visible, problems)
        return
    want = np.asarray(want)
    values = _as_array(got)
    if values is None:
        problems.append(
            Problem(
                "type",
                f"{name} should be a numpy array of shape {want.shape}, "
                f"but your function returned {_describe(got)}.",
            )
        )
        return
    if values.shape != want.shape:
        problems.append(
            Problem("shape", f"{name} has shape {values.shape}; it should have shape {want.shape}.")
        )
        return
    if np.iscomplexobj(values):
        problems.append(Problem("type", f"{name} holds complex numbers; results must be real."))
        return
    if not np.all(np.isfinite(values)):
        idx = tuple(np.argwhere(~np.isfinite(values))[0])
        problems.append(
            Problem(
                "finite",
                f"{name}{_index(idx)} is {_fmt(values[idx])}: results must be finite "
                "(an overflow? use a numerically stable formula).",
            )
        )
        return
    bad, diff = diff_arrays(want, values, tol)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        where = f"{name}{_index(idx)}"
        count = f"{int(bad.sum())} of {bad.size} elements differ"
        if visible:
            text = (
                f"{where} is {_fmt(values[idx])} but should be {_fmt(want[idx])} "
                f"({count}, largest difference {float(np.max(diff)):.3g})."
            )
        else:
            # not even the learner's own value: it could carry a hidden input out of the sandbox
            text = f"{where} is not what the reference gives ({count})."
        problems.append(Problem("value", text, zero=not np.any(values), name=str(name)))
        return
    # A scalar result (a loss) may come back as a 0-d array, a numpy scalar or a Python float, in
    # any float precision: all are what np.mean and friends return, none can be aliased to an
    # input, and one number's precision costs nothing downstream.
    scalar = (want.ndim == 0 and isinstance(got, Leaf) and got.value.dtype.kind == "f"
              and (got.kind in ("ndarray", "float") or got.kind.startswith("numpy scalar")))
    if scalar:
        return
    if not isinstance(got, Leaf) or got.kind != "ndarray":
        problems.append(
            Problem(
                "type",
                f"{name} is {_describe(got)}, not a plain numpy.ndarray "
                "(the values are right: return np.asarray(...) of it).",
                hygiene=True,
            )
        )
    elif got.value.dtype != np.dtype(dtype):
        problems.append(
            Problem(
                "dtype",
                f"{name} has dtype {got.value.dtype}, but the inputs were {dtype}: "
                f"functions keep the dtype they are given.",
            )
        )


def matches(want, got, tol):
    """True when ``got`` equals ``want`` within ``tol`` (values and structure only)."""
    if isinstance(want, (tuple, list)):
        return (
            isinstance(got, Seq)
            and len(got.items) == len(want)
            and all(matches(w, g, tol) for w, g in zip(want, got.items, strict=True))
        )
    values = _as_array(got)
    want = np.asarray(want)
    if values is None or values.shape != want.shape or np.iscomplexobj(values):
        return False
    if not np.all(np.isfinite(values)):
        return False
    return not diff_arrays(want, values, tol)[0].any()


class Verdict(NamedTuple):
    """One case judged: ``ok`` (no problem for its group), ``hygiene_ok`` (None when the
    case produced no output to inspect) and the message."""

    case_id: str
    group: str
    ok: bool
    hygiene_ok: bool
    message: str


def judge_case(case, result, want, mistakes, dtype):
    """Judge one case.

    - case: the Case (label, group, visible, check_id)
    - result: the executor's dict for it (or None when missing)
    - want: the expected output
    - mistakes: list of (name, hint, output) for this case's known mistakes
    - dtype: the dtype the outputs must have ("float64" or "float32")
    """
    where = f'{"case" if case.visible else "hidden case"} "{case.label}"'
    if result is None:
        return Verdict(
            case.case_id, case.group, False, None, f"No result for {where} (did the run stop early?)."
        )
    if result.get("error"):
        text = result["error"]
        function = case.check_id.split(".")[1]
        inner = text.rsplit(" in ", 1)[-1].rstrip(")") if text.endswith(")") and " in " in text else function
        if not case.visible and inner not in KNOWN_NAMES:
            inner = "another function"  # the name is the learner's text: on a hidden case, not shown
        if text.startswith("ValueError") and "read-only" in text and not case.visible:
            msg = f"On {where}: your function modifies one of its inputs in place: compute a new array."
        elif text.startswith("ValueError") and "read-only" in text:
            msg = f"On {where}: {_in_place_text(result.get('modified', []))}"
        elif text.startswith("NotImplementedError") and inner in (function, "<module>"):
            msg = f"`{function}` is not written yet (it raises NotImplementedError)."
        elif text.startswith("NotImplementedError"):
            msg = (
                f"`{function}` calls `{inner}`, which is not written yet (it raises NotImplementedError): "
                f"write `{inner}` first."
            )
        elif case.visible:
            msg = f"On {where} your function raised {text}"
        else:
            msg = f"On {where} your function raised {_hidden_error(text)}"
        return Verdict(case.case_id, case.group, False, None, msg)
    tol = TOLERANCES[str(np.dtype(dtype))]
    outputs = _registry.CHECKS_BY_ID[case.check_id].outputs
    problems = compare(want, result["output"], dtype, tol, outputs, case.visible)
    # Inputs are read-only, so changing one in place raises (the error branch above). The
    # executor's own comparison ("modified") is reported by the process that ran the learner's
    # code, which that code can patch: it is a note in the message, never a lost point.
    note = ""
    if result.get("modified") and case.visible:
        note = "\nNote: " + _in_place_text(result["modified"])
    for text in result.get("aliased", []):
        text = text if case.visible else "the returned value shares memory with an input"
        problems.append(
            Problem("aliased", f"{text}: return a new array, not a view of an input.", hygiene=True)
        )
        if not case.visible:
            break
    if not problems:
        return Verdict(case.case_id, case.group, True, True, note.lstrip("\n"))
    first = problems[0]
    # On a hidden case the text is chosen from fixed words: what the learner's code returned
    # (shapes, type names, values) could carry the hidden inputs out of the sandbox.
    msg = f"On {where}: {first.text if case.visible else HIDDEN_PROBLEM_TEXT.get(first.kind, HIDDEN_OTHER)}"
    if first.kind in ("value", "shape", "finite", "structure"):
        named = False
        for name, hint, output in mistakes:
            if output is not None and matches(output, result["output"], tol):
                msg += f"\nThis matches a known mistake: {name}. Hint: {hint}"
                named = True
                break
        if not named and first.zero:
            # Named on published cases only: on a hidden one, which output the learner's code zeroed
            # would be a message of its choosing.
            msg += ZERO_OUTPUT_TEXT.format(name=f"`{first.name}`" if case.visible else "an output")
        msg += _blame(case, result, want, tol)
        msg += _how_checked(case)
    msg += note
    ok = not any(not p.hygiene for p in problems)
    hygiene_ok = not any(p.hygiene for p in problems)
    return Verdict(case.case_id, case.group, ok, hygiene_ok, msg)


HIDDEN_PROBLEM_TEXT = {
    "value": "the values are not what the reference gives.",
    "shape": "the shape of the result is not the reference's (compare with the published cases).",
    "finite": "the result holds NaN or infinity.",
    "structure": "the result is not structured like the reference's (compare with the published cases).",
    "dtype": "the result's dtype is not the reference's (keep the dtype of the inputs).",
    "aliased": "the returned value shares memory with an input: return a new array, not a view of an input.",
}
HIDDEN_OTHER = "the result is not what the reference gives (compare with the published cases)."
# An output that is zero everywhere where the reference's is not: a value never computed, or (for a
# gradient) one that no path reaches. On hidden cases its text is fixed (no output named), and
# whether it appears is up to the learner's code, like the case's pass or fail: it adds no channel
# for a hidden input that the verdict does not already open (one bit per case).
ZERO_OUTPUT_TEXT = (
    "\nThis matches a known mistake: {name} left at zero. Hint: {name} is zero everywhere, but the "
    "reference's is not: it is never computed, or, for a gradient, no path reaches it (a gradient is "
    "the sum over every path from its input to the loss)."
)
# Names that may appear in a message about a hidden case: the course's own functions and modules.
KNOWN_NAMES = frozenset({c.split(".")[1] for c in _registry.CHECKS_BY_ID} | {c.split(".")[0] for c in
                                                                             _registry.CHECKS_BY_ID}
                        | {"sigmoid", "tanh", "<module>"})

_WHERE_RE = re.compile(r" \((rnnkit/[\w.]+\.py, line \d+, in [\w<>.]+)\)$")


def _is_builtin_exception(name):
    import builtins

    value = getattr(builtins, name, None)
    return isinstance(value, type) and issubclass(value, BaseException)


def _hidden_error(text):
    """An error raised on a hidden case, without its message: the message is the learner's own
    text and could quote the hidden inputs or the replayed reference values. The type and the
    place in the learner's code stay."""
    kind = re.match(r"^[A-Za-z_][\w.]*", text)
    kind = kind.group(0) if kind and _is_builtin_exception(kind.group(0)) else "an exception"
    place = _WHERE_RE.search(text)
    place = place and re.match(r"rnnkit/(\w+)\.py, line \d+, in ([\w<>]+)$", place.group(1))
    where = ""
    if place and place.group(1) in KNOWN_NAMES and place.group(2) in KNOWN_NAMES:
        where = f" (in rnnkit/{place.group(1)}.py, in {place.group(2)})"
    return (f"{kind}{where}; its message is not shown for hidden cases "
            "(it could quote their values): run the check in your notebook, or try inputs like these "
            "(shapes and sizes are in the case name) to see it.")


def _in_place_text(modified):
    """The message for a function that changed an input in place (``modified``: the inputs'
    names, when the executor could tell)."""
    names = [str(m) for m in modified if m]
    which = f" (`{names[0]}`)" if names else ""
    var = names[0] if names and names[0].isidentifier() else "x"
    return (
        f"your function modifies its input in place{which}: compute a new array instead, "
        f"e.g. `{var} = {var} + 1` rather than `{var} += 1`.\nThis matches a known mistake: in-place "
        "modification of an input. Functions never modify their inputs: the inputs of the checks "
        "are read-only, so changing one raises \"ValueError: ... read-only\"."
    )


def _part(value, index):
    """Output ``index`` of a structured value (None: the whole value); None when it has none."""
    if index is None:
        return value
    items = value.items if isinstance(value, Seq) else value if isinstance(value, (tuple, list)) else None
    if items is None or not 0 <= index < len(items):
        return None
    return items[index]


def _blame(case, result, want, tol):
    """The sentence that puts the fault in another learner function the checked one calls, or "".

    A case's ``diagnose`` entries say: output ``index`` of this function is what the learner function
    ``function`` returns on ``args`` (arguments a right composition passes it, built from the case's
    replay table and inputs only). The executor called the learner's own ``function`` on them
    (``result["diagnostics"]``). When that output is wrong, and it is exactly what the learner's
    ``function`` returned there, the composition passed the value on faithfully: the mistake is
    in ``function``. Learner values are compared with each other only, and the sentence is fixed
    text: whether it appears on a hidden case is up to the learner's code, like the verdict itself,
    so it carries no more about the case's inputs than the pass or fail already does."""
    diagnostics = result.get("diagnostics") or []
    checked = case.check_id.split(".")[1]
    outputs = _registry.CHECKS_BY_ID[case.check_id].outputs
    for (function, _args, index), got in zip(case.diagnose, diagnostics, strict=False):
        mine, expected = _part(result.get("output"), index), _part(want, index)
        if got is None or mine is None or expected is None:
            continue
        theirs = _as_array(got)
        if theirs is None or matches(expected, mine, tol) or not matches(theirs, mine, tol):
            continue
        module, name = function.split(".")
        output = outputs[index] if index is not None and isinstance(outputs, tuple) else outputs
        return (
            f"\nThe fault is in your `{name}`, not in `{checked}`: called with this case's values for its "
            f"arguments, your `{name}` returns exactly the `{output}` your `{checked}` returned, and that "
            f"is not the reference's. Fix `{name}` in rnnkit/{module}.py (its own check names the "
            f"mistake), then run this check again."
        )
    return ""


def _how_checked(case):
    """A note on what the case isolates, for functions that take a cell or call other learner functions."""
    from .probe import ProbeCell

    function = case.check_id.split(".")[1]
    if any(isinstance(a, ProbeCell) for a in case.args):
        return (
            f"\n(These cases give `{function}` a small test cell, rnncheck/probe.py, instead of the "
            f"course's cells, so only `{function}` itself is checked.)"
        )
    if case.replay:
        called = ", ".join(sorted({f"`{f.split('.')[1]}`" for f, _, _ in case.replay}))
        return (
            f"\n(In these cases the functions `{function}` may call ({called}) return correct values, "
            f"so only `{function}` itself is checked.)"
        )
    return ""


class Outcome(NamedTuple):
    """A check's result: points earned, points possible, the message for the learner, and
    ``internal``: the traceback of a failure in trusted code (case writing, the judge...) that
    kept the check from being graded ("" for every normal outcome; the learner sees only the
    message, and the grader logs this and re-runs the check)."""

    score: float
    max_score: float
    message: str
    internal: str = ""


# The message of a check that has no result at all (its result file is missing or unreadable, or
# no outcome was recorded for it): the one text for that wherever it is found.
MISSING_RESULT = (
    "No result was recorded for this check: the run stopped before reaching it (time or memory limit, "
    "or the process exited), or its result could not be read."
)


def score_check(check_id, points, verdicts):
    """Combine case verdicts into an Outcome (see GROUPS for the rule)."""
    if not verdicts:
        return Outcome(0.0, float(points), f"{check_id}: no cases were run.")
    groups = [g for g in GROUPS if g == "hygiene" or any(v.group == g for v in verdicts)]
    passed = {g: all(v.ok for v in verdicts if v.group == g) for g in groups if g != "hygiene"}
    seen = [v.hygiene_ok for v in verdicts if v.hygiene_ok is not None]
    passed["hygiene"] = bool(seen) and all(seen)
    if all(passed.values()):
        return Outcome(float(points), float(points), f"All {len(verdicts)} cases pass.")
    score = 0.0
    if passed.get("values", True):
        score = round(points * sum(passed.values()) / len(groups), 2)
    order = {g: i for i, g in enumerate(GROUPS)}
    failing = sorted((v for v in verdicts if not v.ok), key=lambda v: order[v.group])
    failing += [v for v in verdicts if v.ok and v.hygiene_ok is False]
    lines = [failing[0].message] if failing else []
    lines.append(
        "Passed: "
        + (", ".join(g for g in groups if passed[g]) or "none")
        + "; failed: "
        + ", ".join(g for g in groups if not passed[g])
        + "."
    )
    return Outcome(score, float(points), "\n".join(lines))


def case_dtype(case):
    """The float dtype of a case's inputs ("float64" unless an array input is float32)."""
    found = set()

    def note(array):
        if array.dtype.kind == "f":
            found.add(str(array.dtype))
        return array

    map_arrays((case.args, case.kwargs), note)
    return "float32" if "float32" in found else "float64"
