# ruff: noqa: E501  (source snippets read better whole)
"""Specs of the checked functions of rnnkit/sequence.py (see ``spec.FunctionSpec``).

Both take a cell: their cases give them the probe cell (``rnncheck/probe.py``), not a
course cell, so only the time loop itself is checked.
"""

import numpy as np

from autograder.checks.probe import ProbeCell
from rnnkit import sequence

from .spec import FunctionSpec, Mistake, Mutant, Rewrite, uniform

PROBE = ProbeCell()

# ---- unroll ----------------------------------------------------------------------------------------


def _unroll_args(rng, B, D, H, term, big, unbatched):
    T = 1 if term == "T1" else int(rng.integers(3, 5))
    xs = uniform(rng, (T, B, D))
    state0 = (uniform(rng, (B, H)), uniform(rng, (B, H)))
    if term == "zero_state":
        state0 = PROBE.zero_state(B, H)
    return (PROBE, xs, state0, PROBE.init_params(D, H, rng))


def unroll_with_slips(cell, xs, state0, params, no_pass=False, reverse=False, final0=False, shifted=False):
    """The unrolled loop written out; each keyword switches one known mistake on."""
    ys, state = [], state0
    for x in xs:
        y, new = cell.step(x, state0 if no_pass else state, params)
        ys.append(state[0] if shifted else y)
        state = new
    ys = ys[::-1] if reverse else ys
    return np.stack(ys), (state0 if final0 else state)


UNROLL = FunctionSpec(
    "sequence.unroll",
    build=_unroll_args,
    terms=[("T1", "T = 1"), ("zero_state", "zero initial state")],
    edges=[("B1", "B = 1"), ("D=H", "D = H")],
    mistakes=[
        Mistake(
            "state not passed on (the initial state at every step)",
            "feed each step the state the previous one returned.",
            lambda *a: unroll_with_slips(*a, no_pass=True),
        ),
        Mistake("outputs in reverse time order", "ys[t] is the output of step t.", lambda *a: unroll_with_slips(*a, reverse=True)),
        Mistake(
            "the initial state returned as the final state",
            "return the state after the last step.",
            lambda *a: unroll_with_slips(*a, final0=True),
        ),
        Mistake(
            "each step's incoming state returned instead of its output",
            "collect the y each step returns.",
            lambda *a: unroll_with_slips(*a, shifted=True),
        ),
    ],
    right=[
        Rewrite("preallocated", "y, state = cell.step(xs[0], state0, params)\nys = np.empty((len(xs),) + y.shape, y.dtype)\n"
                                "ys[0] = y\nfor t in range(1, len(xs)):\n    ys[t], state = cell.step(xs[t], state, params)\n"
                                "return ys, state\n"),
        Rewrite("index loop, np.array", "state, ys = state0, []\nfor t in range(xs.shape[0]):\n"
                                        "    y, state = cell.step(xs[t], state, params)\n    ys.append(y)\n"
                                        "return np.array(ys), state\n"),
    ],
    mutants=[
        Mutant("state not passed on", "ys = []\nfor x in xs:\n    y, state = cell.step(x, state0, params)\n    ys.append(y)\n"
                                      "return np.stack(ys), state\n", "state not passed on"),
        Mutant("reverse order", [("return np.stack(ys), state", "return np.stack(ys[::-1]), state")], "reverse"),
        Mutant("initial state returned", [("return np.stack(ys), state", "return np.stack(ys), state0")], "initial state"),
        Mutant("incoming state collected", "ys, state = [], state0\nfor x in xs:\n    ys.append(state[0])\n"
                                           "    _, state = cell.step(x, state, params)\nreturn np.stack(ys), state\n", None),
        Mutant("last output only", [("return np.stack(ys), state", "return ys[-1], state")], None),
        Mutant("list of outputs", [("return np.stack(ys), state", "return ys, state")], None),
    ],
)

# ---- bptt ------------------------------------------------------------------------------------------


def _bptt_args(rng, B, D, H, term, big, unbatched):
    cell, xs, state0, params = _unroll_args(rng, B, D, H, term if term == "T1" else None, big, False)
    T = xs.shape[0]
    dys = uniform(rng, (T, B, H))
    dstate_T = (uniform(rng, (B, H)), uniform(rng, (B, H)))
    if term == "dys":
        dstate_T = None
    elif term == "dstate":
        dys = np.zeros_like(dys)
    return (cell, xs, state0, params, dys, dstate_T)


def _replay_bptt(args, kwargs):
    cell, xs, state0, params = args[:4]
    return [("sequence.unroll", (cell, xs, state0, params), sequence.unroll(cell, xs, state0, params))]


def bptt_with_slips(cell, xs, state0, params, dys, dstate_T=None, no_carry=False, last_only=False, ignore_T=False,
                    forwards=False, no_dys=False, kept=False):
    """Backpropagation through time written out; each keyword after ``dstate_T`` switches one known
    mistake on."""
    states = [state0]
    for x in xs:
        states.append(cell.step(x, states[-1], params)[1])
    dxs = np.zeros_like(xs)
    zero = tuple(np.zeros_like(s) for s in states[-1])
    dstate = zero if (dstate_T is None or ignore_T) else dstate_T
    dparams = None
    order = range(len(xs)) if forwards else reversed(range(len(xs)))
    for t in order:
        dy = np.zeros_like(dys[t]) if no_dys else dys[t]
        dxs[t], new_dstate, dp = cell.step_backward(
            xs[t], states[t], params, dy, zero if no_carry and dparams is not None else dstate
        )
        dstate = dstate if kept else new_dstate
        if dparams is None or last_only:
            dparams = list(dp)
        else:
            dparams = [a + b for a, b in zip(dparams, dp, strict=True)]
    return dxs, dstate, type(params)(*dparams)


# The reference's loop with placeholders, for the mutants (``_bptt_body(ORDER=...)``).
_BPTT = """states = [state0]
for x in xs:
    states.append(cell.step(x, states[-1], params)[1])
dxs = np.zeros_like(xs)
dparams = [np.zeros_like(p) for p in params]
dstate = DSTATE
if dstate is None:
    dstate = tuple(np.zeros_like(s) for s in states[-1])
for t in ORDER:
    dxs[t], NEXT, dparams_t = cell.step_backward(xs[t], states[STATE], params, DYS, dstate)
    dparams = SUM
return dxs, dstate, type(params)(*dparams)
"""


def _bptt_body(**changes):
    body = _BPTT
    defaults = {"DSTATE": "dstate_T", "ORDER": "reversed(range(len(xs)))", "NEXT": "dstate", "STATE": "t",
                "DYS": "dys[t]", "SUM": "[a + b for a, b in zip(dparams, dparams_t)]"}
    for key, value in {**defaults, **changes}.items():
        body = body.replace(key, value)
    return body


BPTT = FunctionSpec(
    "sequence.bptt",
    build=_bptt_args,
    terms=[("dys", "only dys (dstate_T None)"), ("dstate", "only dstate_T (dys zero)"), ("T1", "T = 1")],
    edges=[("B1", "B = 1"), ("D=H", "D = H")],
    replay=_replay_bptt,
    budget=(64, 192, 192),
    mistakes=[
        Mistake(
            "no gradient path through the state (dstate not carried to the step before)",
            "pass the dstate each step returns on to the previous step.",
            lambda *a: bptt_with_slips(*a, no_carry=True),
        ),
        Mistake(
            "no gradient path through the state (the same dstate given to every step)",
            "each step returns dL/d(state_(t-1)): pass it on to step t-1 and return the last one as dstate0.",
            lambda *a: bptt_with_slips(*a, kept=True),
        ),
        Mistake(
            "parameter gradients not summed over time",
            "the parameters are shared by every step: add their gradients.",
            lambda *a: bptt_with_slips(*a, last_only=True),
        ),
        Mistake(
            "dstate_T ignored",
            "start the backward walk from dstate_T when it is given.",
            lambda *a: bptt_with_slips(*a, ignore_T=True),
        ),
        Mistake("steps walked forwards in time", "go from t = T down to 1.", lambda *a: bptt_with_slips(*a, forwards=True)),
        Mistake("dys ignored", "each step receives dys[t] from above.", lambda *a: bptt_with_slips(*a, no_dys=True)),
    ],
    right=[
        Rewrite("while loop, probe default", "states = [state0]\nfor x in xs:\n    states.append(cell.step(x, states[-1], params)[1])\n"
                                             "dxs = [None] * len(xs)\ndstate = dstate_T\ntotal = None\nt = len(xs) - 1\n"
                                             "while t >= 0:\n"
                                             "    dxs[t], dstate, g = cell.step_backward(xs[t], states[t], params, dys[t], dstate)\n"
                                             "    total = list(g) if total is None else [a + b for a, b in zip(total, g)]\n"
                                             "    t -= 1\n"
                                             "return np.stack(dxs), dstate, type(params)(*total)\n"),
        Rewrite("template as written", _bptt_body()),
        Rewrite("in-place sums", _bptt_body(SUM="dparams\n    for total, d in zip(dparams, dparams_t):\n        total += d")),
    ],
    mutants=[
        Mutant("dstate not carried", _bptt_body(NEXT="_"), "no gradient path through the state"),
        Mutant("parameter gradients of one step", _bptt_body(SUM="list(dparams_t)"), "not summed"),
        Mutant("dstate_T ignored", _bptt_body(DSTATE="None"), "dstate_T ignored"),
        Mutant("forwards in time", _bptt_body(ORDER="range(len(xs))"), "forwards"),
        Mutant("dys ignored", _bptt_body(DYS="0 * dys[t]"), "dys ignored"),
        Mutant("states off by one", _bptt_body(STATE="t + 1"), None),
        # Each output dropped (the inputs dys and dstate_T: "dys ignored", "dstate_T ignored" above).
        Mutant("dxs dropped", _bptt_body().replace("return dxs,", "return 0 * dxs,"), "`dxs` left at zero"),
        Mutant("dstate0 dropped", _bptt_body().replace("return dxs, dstate,", "return dxs, tuple(0 * d for d in dstate),"),
               "`dstate0[0]` left at zero"),
        Mutant("dparams dropped", _bptt_body().replace("type(params)(*dparams)", "type(params)(*(0 * d for d in dparams))"),
               "`dparams.A` left at zero"),
        Mutant("dstate_T: its first array only", _bptt_body(DSTATE="dstate_T and (dstate_T[0], 0 * dstate_T[1])"), None),
    ],
)

SPECS = [UNROLL, BPTT]
