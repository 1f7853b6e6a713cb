"""Check cases: the inputs every learner function is called with (trusted side).

``make_cases(seed)`` returns the visible cases (the published fixtures: fixed
seed ``FIXTURE_SEED``) followed by hidden cases of the same kinds with fresh
inputs drawn from the grading-time ``seed``. What each function gets comes from
its spec (``autograder.specs.SPECS``): the argument builder, the term-isolation
and edge cases, and for composed functions a replay table: the reference results
of the learner functions the composition should call, on the arguments it should
call them with, so that composition is graded on its own. Expected values are the
judge's business (``autograder.specs.judge``), not computed here.

Case kinds per function (groups as in ``autograder.checks.compare.GROUPS``):
- values: random inputs, D != H, B > 1;
- terms: one weight block, the bias, or the previous state at a time;
- edges: B = 1, D = H, unbatched 1-D inputs, |pre-activation| up to 50, and a spec's own
  (multilayer: every layer the input's size), which its builder gets as the term;
- float32: every input float32 (the output must stay float32).
"""

import numpy as np

from autograder import paths
from autograder.checks.casefile import Case, map_arrays
from autograder.checks.probe import ProbeCell
from autograder.checks.registry import CHECKS, checks_for
from autograder.specs import SPECS
from autograder.specs.spec import SIZE_AND_FLAG_EDGES

__all__ = ["BUDGET_SIZES", "FIXTURE_SEED", "budget_cases", "budget_seed", "check_cases", "make_cases"]

FIXTURE_SEED = 20250516

# Hidden cases per visible one of the same kind: values get 3 hidden, others 1.
HIDDEN_REPEATS = {"values": 3}


def _sizes(rng, visible, kind):
    """(B, D, H) for a case: small fixed sizes for fixtures, random ones for hidden cases."""
    if kind == "B1":
        B = 1
    else:
        B = 3 if visible else int(rng.integers(2, 5))
    if visible:
        D, H = 2, 3
    else:
        D, H = (int(v) for v in rng.choice(np.arange(1, 6), size=2, replace=False))
    if kind == "D=H":
        D = H
    return B, D, H


def _kinds(spec):
    """(group, term, edge, label) of every kind of case, visible order."""
    kinds = [("values", None, None, "random inputs"), ("values", None, None, "random inputs, second draw")]
    kinds += [("terms", t, None, label) for t, label in spec.terms]
    kinds += [("edges", None, e, label) for e, label in spec.edges]
    kinds += [("float32", None, None, "float32 inputs")]
    if any(e == "big" for e, _ in spec.edges):
        kinds += [("float32", None, "big", "float32 inputs, pre-activations up to |50|")]
    return kinds


def _case(check_id, spec, rng, visible, index, group, term, edge, label):
    size_kind = edge if edge in ("B1", "D=H") else None
    B, D, H = _sizes(rng, visible, size_kind)
    if edge is not None and edge not in SIZE_AND_FLAG_EDGES:
        term = edge  # an edge of the spec's own (multilayer's "same"): its builder acts on it
    args = spec.build(rng, B, D, H, term, edge == "big", edge == "unbatched")
    kwargs = dict(spec.term_kwargs.get(term, {}))
    if group == "float32":
        # Only the float inputs: class ids and masks keep their integer or boolean dtype.
        args = map_arrays(args, lambda a: a.astype(np.float32) if a.dtype.kind == "f" else a)
    shapes = _shape_text(args)
    case = Case(
        case_id=f"{'v' if visible else 'h'}{index:02d}",
        check_id=check_id,
        label=f"{label}; {shapes}",
        group=group,
        visible=visible,
        args=tuple(args),
        kwargs=kwargs,
    )
    if spec.replay is not None:
        case.replay = spec.replay(case.args, case.kwargs)
    if spec.diagnose is not None:
        case.diagnose = spec.diagnose(case.args, case.kwargs)
    return case


def _shape_text(args):
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append("x".join(str(n) for n in a.shape) or "scalar")
    if isinstance(args[0], ProbeCell):
        xs = args[1]
        return f"T={xs.shape[0]}, B={xs.shape[1]}, D={xs.shape[2]}"
    return "shapes " + ", ".join(f"({p})" for p in parts[:3]) if parts else ""


def check_cases(check_id, seed=None, visible=True):
    """The visible cases of one check (seed None) or its hidden cases drawn from ``seed``."""
    spec = SPECS[check_id]
    if visible:
        rng = np.random.default_rng([FIXTURE_SEED, _stable_hash(check_id)])
    else:
        rng = np.random.default_rng([int(seed), _stable_hash(check_id), 1])
    cases, index = [], 0
    for group, term, edge, label in _kinds(spec):
        repeats = 1 if visible else HIDDEN_REPEATS.get(group, 1)
        if not visible and label.endswith("second draw"):
            continue
        for _ in range(repeats):
            cases.append(_case(check_id, spec, rng, visible, index, group, term, edge, label))
            index += 1
    return cases


def _stable_hash(text):
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def make_cases(seed, check_ids=None, lesson=None):
    """Visible and hidden cases of the selected checks (all by default), registry order.

    - seed: the secret grading-time seed (int); the hidden inputs depend on it only.
    - check_ids: list of check ids, or None; lesson: an assignment name, or None.
    """
    if lesson is not None:
        ids = [c.check_id for c in checks_for(lesson)]
    elif check_ids is not None:
        ids = list(check_ids)
    else:
        ids = [c.check_id for c in CHECKS]
    cases = []
    for check_id in ids:
        cases += check_cases(check_id, visible=True)
        cases += check_cases(check_id, seed=seed, visible=False)
    return cases


# ---- budget cases: a backward pass, not numerical differentiation ------------------------
#
# Each backward check gets one more hidden case, large enough that finite differences
# (two forward passes per input and parameter element) need hundreds of thousands of forward
# passes, while the chain rule needs a few matrix products. It runs in a sandbox run of its
# own under a kernel-enforced CPU limit (RLIMIT_CPU, ``BUDGET_CPU_SECONDS``), and is judged
# with the "values" cases (a wrong answer there scores the check 0, like any values case).
# Budget cases are never in the published fixtures, the notebooks or ``make_cases``: they
# come from ``budget_cases`` only, and only the trusted grader (``checkrun``) runs them.
# Sizes (each spec's ``budget``) and the limit are measured in ``measure_budget``
# (python -m autograder.specs.cases).

BUDGET_SIZES = {check_id: spec.budget for check_id, spec in SPECS.items() if spec.budget}  # -> (B, D, H)
BUDGET_CPU_SECONDS = 6  # whole run: interpreter, numpy, the learner's rnnkit, the case
BUDGET_WALL_SECONDS = 60.0  # a sleeping process uses no CPU; a loaded machine slows honest code


BUDGET_CASE_ID = "b00"


def budget_cases(seed, check_ids=None):
    """One large hidden case (case id "b00", group "values") per backward check in ``check_ids``
    (all by default), inputs drawn from ``seed`` on a stream of their own."""
    out = []
    for check_id, (B, D, H) in BUDGET_SIZES.items():
        if check_ids is not None and check_id not in check_ids:
            continue
        spec = SPECS[check_id]
        rng = np.random.default_rng([int(seed), _stable_hash(check_id), 2])
        args = spec.build(rng, B, D, H, None, False, False)
        case = Case(
            case_id=BUDGET_CASE_ID,
            check_id=check_id,
            label=f"large random inputs (time budget); {_shape_text(args)}",
            group="values",
            visible=False,
            args=tuple(args),
            kwargs={},
        )
        if spec.replay is not None:
            case.replay = spec.replay(case.args, case.kwargs)
        out.append(case)
    return out


def budget_seed(cases):
    """A seed for the budget cases derived from the hidden cases (themselves drawn from the secret
    grading seed), so that one batch gives every learner the same budget inputs."""
    import hashlib

    digest = hashlib.sha256()
    for case in cases:
        if not case.visible:
            digest.update(case.check_id.encode() + case.case_id.encode())
            for value in case.args:
                if isinstance(value, np.ndarray):
                    digest.update(np.ascontiguousarray(value).tobytes()[:4096])
    return int.from_bytes(digest.digest()[:8], "little")


def measure_budget(course_root=None, seed=1):
    """Measure the budget cases (``python -m autograder.specs.cases``): for each backward check, the CPU
    seconds of a whole sandboxed budget run of ``course_root``'s rnnkit (default: the reference),
    the reference's own seconds on the case, and an estimate for central differences (two
    forward passes per input and parameter element, each timed here). Returns {check_id: dict}."""
    import pathlib
    import tempfile
    import time

    from autograder.checks.casefile import write_cases
    from autograder.grading import checkrun, sandbox
    from autograder.specs.judge import reference_function
    from rnnkit import gru, lstm, rnn, sequence

    def count(v):
        if isinstance(v, np.ndarray):
            return v.size
        return sum(count(x) for x in v) if isinstance(v, (tuple, list)) else 0

    def forward(case):
        a = case.args
        cid = case.check_id
        if cid == "sequence.bptt":
            return lambda: sequence.unroll(*a[:4]), a[1:4]
        if cid == "multilayer.stacked_backward":
            from rnnkit import multilayer

            return lambda: multilayer.stacked_forward(*a[:4]), a[1:4]
        step = {"rnn": rnn.rnn_step, "lstm": lstm.lstm_step, "gru": gru.gru_step}[cid.split(".")[0]]
        n = 3 if cid.startswith("gru") else 4
        return lambda: step(*a[:n]), a[:n]

    def seconds(fn, at_least=0.5):
        start, n = time.process_time(), 0
        while time.process_time() - start < at_least:
            fn()
            n += 1
        return (time.process_time() - start) / n

    root = pathlib.Path(course_root) if course_root else paths.RNNKIT.parent
    limits = sandbox.Limits(cpu_seconds=BUDGET_CPU_SECONDS, wall_seconds=BUDGET_WALL_SECONDS)
    rows = {}
    for case in budget_cases(seed):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "out").mkdir()
            (tmp / "out").chmod(0o777)
            write_cases([case], tmp / "in")
            code = checkrun._executor_code("/sub", "/io/in", "/io/out")
            # the process's own CPU time since it started (interpreter, numpy, rnnkit, the case)
            code.insert(-2, "import time; print('CPU', time.process_time())")
            run = sandbox.run_python(
                code, read_only={root: "/sub", paths.CHECKS: "/grader/rnncheck", tmp / "in": "/io/in"},
                writable={tmp / "out": "/io/out"}, sys_path=["/grader"], limits=limits)
        lines = run.stdout.decode(errors="replace").splitlines()
        cpu = [line.split()[1] for line in lines if line.startswith("CPU ")]
        fwd, inputs = forward(case)
        rows[case.check_id] = {
            "run_cpu": float(cpu[-1]) if cpu else float("nan"),
            "run_wall": run.seconds,
            "finished": run.returncode == 0,
            "reference": seconds(lambda c=case: reference_function(c.check_id)(*c.args, **c.kwargs)),
            "central_differences": 2 * count(inputs) * seconds(fwd),
        }
        r = rows[case.check_id]
        print(f"{case.check_id:28s} sandbox run {r['run_cpu']:5.2f} s CPU ({r['run_wall']:4.1f} s wall, "
              f"{'finished' if r['finished'] else 'STOPPED'}); reference {r['reference'] * 1e3:5.1f} ms; "
              f"central differences ~{r['central_differences']:6.0f} s  [{case.label}]")
    print(f"CPU limit of a budget run: {BUDGET_CPU_SECONDS} s")
    return rows


if __name__ == "__main__":
    import os
    import sys

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var) != "1":
            sys.exit(f"set {var}=1 (as in the sandbox) before measuring")
    measure_budget(sys.argv[1] if len(sys.argv) > 1 else None)
