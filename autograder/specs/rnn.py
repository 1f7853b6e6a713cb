# ruff: noqa: E501  (source snippets read better whole)
"""Specs of the checked functions of rnnkit/rnn.py (see ``spec.FunctionSpec``).

``rnn_step`` is the gate template (``gates.py``) with tanh, s_prev and the basic RNN's
own hints; ``rnn_step_backward`` is written out here.
"""

import numpy as np

from rnnkit import rnn
from rnnkit.activations import dtanh_from_output, tanh

from .gates import GATE_TERMS, TANH, gate_args, gate_spec
from .spec import STEP_EDGES, FunctionSpec, Mistake, Mutant, Rewrite, concat, uniform

TERMS = [(term, label.replace("y_prev", "s_prev")) for term, label in GATE_TERMS]

RNN_STEP = gate_spec(
    "rnn.rnn_step",
    TANH,
    "W",
    "b",
    prev="s_prev",
    texts={
        "wrong activation": ("sigmoid instead of tanh", "the basic RNN squashes with tanh."),
        "sign slip": ("sign slip in tanh", "tanh(z), not tanh(-z)."),
        "missing bias": ("missing bias b", "add b after the product."),
        "order": ("[s_prev, x] order", "W[:, :D] acts on x_t: concatenate [x, s_prev]."),
        "no activation": ("no activation", "apply tanh."),
        "prev ignored": ("previous state ignored", "W[:, D:] multiplies s_(t-1)."),
    },
    terms=TERMS,
    extra_mutants=[
        Mutant("in-place on s_prev, returned", "s_prev[...] = tanh(np.concatenate([x, s_prev], axis=-1) @ W.T + b)\n"
                                               "return s_prev\n", "in-place modification"),
    ],
)

# ---- rnn_step_backward ---------------------------------------------------------------------------


def _backward_args(rng, B, D, H, term, big, unbatched):
    x, s_prev, W, b = gate_args(rng, B, D, H, term, big, False)
    ds = uniform(rng, (B, H))
    if unbatched:
        x, s_prev, ds = x[0], s_prev[0], ds[0]
    return (x, s_prev, W, b, ds)


def _replay_backward(args, kwargs):
    x, s_prev, W, b = args[:4]
    return [("rnn.rnn_step", (x, s_prev, W, b), rnn.rnn_step(x, s_prev, W, b))]


def rnn_backward_with_slips(x, s_prev, W, b, ds, no_dtanh=False, pre=False, no_prev=False, swap=False, no_ds=False,
                            dW_x_only=False):
    """The basic RNN step's backward pass written out; each keyword switches one known mistake on."""
    D = x.shape[-1]
    z = concat(x, s_prev)
    pre_act = z @ W.T + b
    s = tanh(pre_act)
    ds = np.zeros_like(ds) if no_ds else ds
    dpre = ds if no_dtanh else ds * ((1 - pre_act**2) if pre else dtanh_from_output(s))
    dW = np.atleast_2d(dpre).T @ np.atleast_2d(concat(x, 0 * s_prev) if dW_x_only else z)
    db = np.atleast_2d(dpre).sum(axis=0)
    dz = dpre @ W
    dx, dprev = dz[..., :D], dz[..., D:]
    if no_prev:
        dprev = np.zeros_like(dprev)
    if swap:
        H = s_prev.shape[-1]
        dx, dprev = dz[..., H:], dz[..., :H]
    return dx, dprev, dW, db


RNN_STEP_BACKWARD = FunctionSpec(
    "rnn.rnn_step_backward",
    build=_backward_args,
    terms=TERMS,
    edges=STEP_EDGES,
    replay=_replay_backward,
    budget=(64, 256, 256),
    mistakes=[
        Mistake(
            "missing tanh derivative",
            "multiply ds by tanh'(pre) = 1 - s_t^2 before the product.",
            lambda *a: rnn_backward_with_slips(*a, no_dtanh=True),
        ),
        Mistake(
            "tanh derivative written with the pre-activation (1 - z^2)",
            "tanh' = 1 - tanh(z)^2 = 1 - s_t^2, written with the output s_t.",
            lambda *a: rnn_backward_with_slips(*a, pre=True),
        ),
        Mistake(
            "no gradient path to the previous state (ds_prev = 0)",
            "s_(t-1) feeds the step through W[:, D:]: ds_prev = (dpre @ W)[:, D:].",
            lambda *a: rnn_backward_with_slips(*a, no_prev=True),
        ),
        Mistake(
            "dx and ds_prev taken from the wrong columns",
            "the first D columns of dpre @ W belong to x_t.",
            lambda *a: rnn_backward_with_slips(*a, swap=True),
        ),
        Mistake(
            "ds not used (every gradient zero)",
            "ds = dL/ds_t is where every gradient of the step starts: dL/d(pre-activation) = ds * (1 - s_t^2).",
            lambda *a: rnn_backward_with_slips(*a, no_ds=True),
        ),
        Mistake(
            "dW without its s_prev columns",
            "W multiplies z_t = [x_t, s_(t-1)]: dW = dpre^T [x_t, s_(t-1)], every column.",
            lambda *a: rnn_backward_with_slips(*a, dW_x_only=True),
        ),
    ],
    right=[
        Rewrite("einsum and split blocks", [("dW = np.atleast_2d(dpre).T @ np.atleast_2d(z)",
                                             "dW = np.einsum('bh,bk->hk', np.atleast_2d(dpre), np.atleast_2d(z))"),
                                            ("return dz[..., :D], dz[..., D:], dW, db",
                                             "return dpre @ W[:, :D], dpre @ W[:, D:], dW, db")]),
        Rewrite("tanh derivative from np.tanh", [("s = rnn_step(x, s_prev, W, b)", "s = np.tanh(z @ W.T + b)"),
                                                 ("dpre = ds * dtanh_from_output(s)", "dpre = ds * (1 - s ** 2)")]),
        Rewrite("in-place on fresh arrays", [("dpre = ds * dtanh_from_output(s)",
                                              "dpre = s * s\n    np.subtract(1, dpre, out=dpre)\n    dpre *= ds")]),
    ],
    mutants=[
        Mutant("missing tanh derivative", [("dpre = ds * dtanh_from_output(s)", "dpre = ds")], "missing tanh derivative"),
        Mutant("derivative from the pre-activation", [("dpre = ds * dtanh_from_output(s)",
                                                       "dpre = ds * (1 - (z @ W.T + b) ** 2)")], "pre-activation"),
        Mutant("no gradient to s_prev", [("return dz[..., :D], dz[..., D:], dW, db",
                                          "return dz[..., :D], np.zeros_like(s_prev), dW, db")], "no gradient path"),
        Mutant("db not summed", [("db = np.atleast_2d(dpre).sum(axis=0)", "db = dpre")], None),
        Mutant("dW over x only", [("dW = np.atleast_2d(dpre).T @ np.atleast_2d(z)",
                                   "dW = np.atleast_2d(dpre).T @ np.atleast_2d(np.concatenate([x, 0 * s_prev], axis=-1))")],
               "without its s_prev columns"),
        Mutant("in-place on ds", [("dpre = ds * dtanh_from_output(s)", "ds *= dtanh_from_output(s)\n    dpre = ds")], "in-place modification"),
        Mutant("sign slip", [("dz = dpre @ W", "dz = -dpre @ W")], None),
        # Each gradient input dropped, each output dropped.
        Mutant("ds not used", [("dpre = ds * dtanh_from_output(s)", "dpre = 0 * ds * dtanh_from_output(s)")], "ds not used"),
        Mutant("dx dropped", [("return dz[..., :D], dz[..., D:], dW, db", "return 0 * dz[..., :D], dz[..., D:], dW, db")],
               "`dx` left at zero"),
        Mutant("dW dropped", [("return dz[..., :D], dz[..., D:], dW, db", "return dz[..., :D], dz[..., D:], 0 * dW, db")],
               "`dW` left at zero"),
        Mutant("db dropped", [("return dz[..., :D], dz[..., D:], dW, db", "return dz[..., :D], dz[..., D:], dW, 0 * db")],
               "`db` left at zero"),
    ],
    shortcuts=[
        Rewrite("through the fast path",
                "from . import fast\nxs, s0 = np.atleast_2d(x)[None], np.atleast_2d(s_prev)\n"
                "ys, _, cache = fast.forward('rnn', xs, (s0,), RNNParams(W, b))\n"
                "dxs, (ds0,), g = fast.backward(cache, np.atleast_2d(ds)[None])\n"
                "return dxs[0].reshape(x.shape), ds0.reshape(s_prev.shape), g.W, g.b\n"),
    ],
)

SPECS = [RNN_STEP, RNN_STEP_BACKWARD]
