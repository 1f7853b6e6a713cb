"""Measure the check tolerances against correct variants and known mistakes.

    python -m autograder.specs.calibrate [--seeds N]

For every check and many hidden-case seeds it reports, in units of the scaled
error  e = max|got - want| / max(1, max|want|)  (want: the float64 reference):
- correct64: the largest e of the spec's ways to write the function right (its ``right``
  rewrites of the reference, the same the mutation tests require to get full marks);
- correct32: the largest e of the reference run on the float32 inputs (what a
  correct learner returns for the float32 cases);
- mistake: the smallest, over the known mistakes, of their largest e over the cases
  (how far the least visible mistake moves the output where it shows);
- band: how many (mistake, case) pairs land within a factor 10 of the tolerance
  (where a pass or a fail would be luck).
The tolerances in ``autograder/checks/compare.py`` sit between these with margins.
"""

import argparse

import numpy as np

from autograder.checks.compare import TOLERANCES
from autograder.checks.registry import CHECKS
from autograder.specs import SPECS
from autograder.specs.cases import check_cases
from autograder.specs.judge import expected_output, mistake_outputs, reference_function, upcast
from autograder.specs.spec import realise


def _leaves(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _leaves(v)
    else:
        yield np.asarray(value, dtype=np.float64)


def scaled_error(got, want):
    """max |got - want| / max(1, max |want|) over all arrays; inf on a shape mismatch."""
    worst = 0.0
    g, w = list(_leaves(got)), list(_leaves(want))
    if len(g) != len(w):
        return np.inf
    for a, b in zip(g, w, strict=True):
        if a.shape != b.shape:
            return np.inf
        scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)) / scale)
    return worst


def measure(check_id, seeds):
    """Dict of the measurements described in the module docstring for one check."""
    spec = SPECS[check_id]
    ref = reference_function(check_id)
    right = [realise(check_id, way.change) for way in spec.right]
    correct64 = correct32 = 0.0
    worst_by_mistake = {m.name: 0.0 for m in spec.mistakes}
    band = 0
    tol32 = TOLERANCES["float32"].rtol + TOLERANCES["float32"].atol
    tol64 = TOLERANCES["float64"].rtol + TOLERANCES["float64"].atol
    cases = check_cases(check_id, visible=True)
    for seed in seeds:
        cases += check_cases(check_id, seed=seed, visible=False)
    for case in cases:
        args, kwargs = upcast(tuple(case.args)), upcast(dict(case.kwargs))
        want = expected_output(case)
        for function in right:
            correct64 = max(correct64, scaled_error(function(*args, **kwargs), want))
        is32 = case.group == "float32"
        if is32:
            correct32 = max(correct32, scaled_error(ref(*case.args, **case.kwargs), want))
        tol = tol32 if is32 else tol64
        for name, _, output in mistake_outputs(case, args, kwargs):
            if output is None:
                continue
            e = scaled_error(output, want)
            if np.isfinite(e):
                worst_by_mistake[name] = max(worst_by_mistake[name], e)
                if tol / 10 < e < tol * 10:
                    band += 1
    seen = [v for v in worst_by_mistake.values() if v > 0]
    return {
        "correct64": correct64,
        "correct32": correct32,
        "mistake": min(seen) if seen else np.nan,
        "band": band,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="hidden-case seeds per check")
    args = parser.parse_args(argv)
    seeds = range(1000, 1000 + args.seeds)
    print(f"tolerances: {dict(TOLERANCES)}")
    print(f"{'check':32s} {'correct64':>10s} {'correct32':>10s} {'mistake':>10s} {'band':>5s}")
    rows = {}
    with np.errstate(all="ignore"):
        for spec in CHECKS:
            r = rows[spec.check_id] = measure(spec.check_id, seeds)
            print(
                f"{spec.check_id:32s} {r['correct64']:10.2e} {r['correct32']:10.2e} {r['mistake']:10.2e} "
                f"{r['band']:5d}"
            )
    print(
        f"{'all':32s} {max(r['correct64'] for r in rows.values()):10.2e} "
        f"{max(r['correct32'] for r in rows.values()):10.2e} "
        f"{min(r['mistake'] for r in rows.values()):10.2e} {sum(r['band'] for r in rows.values()):5d}"
    )
    return rows


if __name__ == "__main__":
    main()
