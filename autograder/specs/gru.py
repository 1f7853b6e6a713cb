# ruff: noqa: E501  (source snippets read better whole)
"""Specs of the checked functions of rnnkit/gru.py (see ``spec.FunctionSpec``).

The reset and update gates come from the gate template (``gates.py``); input_activation,
final_output, gru_step and gru_step_backward are written out here.
"""

import numpy as np

from rnnkit import gru
from rnnkit.activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh

from .gates import GATE_TERMS, SIGMOID, gate_args, gate_blocks, gate_spec
from .spec import COMPOSED_TERMS, STEP_EDGES, FunctionSpec, Mistake, Mutant, Rewrite, concat, uniform

# ---- input_activation: a = tanh(W_a [x, r * y_prev] + b_a) ---------------------------------------


def _input_activation_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, W, b = gate_args(rng, B, D, H, term if term in ("x", "prev", "bias") else None, big, False)
    r = uniform(rng, (B, H), 0.05, 0.95)
    if term == "r1":
        r[:] = 1
    elif term == "r0":
        r[:] = 0
    if unbatched:
        x, y_prev, r = x[0], y_prev[0], r[0]
    return (x, y_prev, r, W, b)


def input_activation_with_slips(x, y_prev, r, W, b, after=False, use_r=True, one_minus=False):
    """The GRU's input activation written out; each keyword switches one known mistake on."""
    D = x.shape[-1]
    if one_minus:
        r = 1 - r
    if after:
        return tanh(x @ W[:, :D].T + r * (y_prev @ W[:, D:].T) + b)
    return tanh(concat(x, (r if use_r else 1) * y_prev) @ W.T + b)


_ZA = "np.concatenate([x, r * y_prev], axis=-1) @ W_a.T + b_a"

INPUT_ACTIVATION = FunctionSpec(
    "gru.input_activation",
    build=_input_activation_args,
    terms=GATE_TERMS + [("r1", "r = 1 (reset gate open)"), ("r0", "r = 0 (reset gate closed)")],
    edges=STEP_EDGES,
    mistakes=[
        Mistake(
            "reset gate not applied",
            "the input activation sees r_t * y_(t-1), not y_(t-1).",
            lambda x, y_prev, r, W, b: input_activation_with_slips(x, y_prev, r, W, b, use_r=False),
        ),
        Mistake(
            "reset gate applied after the product (PyTorch's form)",
            "the memo scales y_(t-1) by r_t before the product: W_a [x_t, r_t * y_(t-1)].",
            lambda x, y_prev, r, W, b: input_activation_with_slips(x, y_prev, r, W, b, after=True),
        ),
        Mistake(
            "1 - r instead of r",
            "multiply y_(t-1) by r_t itself.",
            lambda x, y_prev, r, W, b: input_activation_with_slips(x, y_prev, r, W, b, one_minus=True),
        ),
        Mistake(
            "sigmoid instead of tanh",
            "the input activation is tanh.",
            lambda x, y_prev, r, W, b: sigmoid(concat(x, r * y_prev) @ W.T + b),
        ),
        Mistake(
            "sign slip in tanh",
            "tanh(z), not tanh(-z).",
            lambda x, y_prev, r, W, b: tanh(-(concat(x, r * y_prev) @ W.T + b)),
        ),
        Mistake(
            "missing bias b_a",
            "add b_a after the product.",
            lambda x, y_prev, r, W, b: tanh(concat(x, r * y_prev) @ W.T),
        ),
        Mistake(
            "[r * y_prev, x] order",
            "W_a[:, :D] acts on x_t: concatenate [x, r * y_prev].",
            lambda x, y_prev, r, W, b: tanh(concat(r * y_prev, x) @ W.T + b),
        ),
    ],
    right=[
        Rewrite("split weight blocks", "D = x.shape[-1]\nreturn tanh(x @ W_a[:, :D].T + (r * y_prev) @ W_a[:, D:].T + b_a)\n"),
        Rewrite("einsum", "ry = np.einsum('...h,...h->...h', r, y_prev)\n"
                          "return tanh(np.einsum('...k,hk->...h', np.concatenate([x, ry], axis=-1), W_a) + b_a)\n"),
        Rewrite("in-place on a fresh array", "ry = r.copy()\nry *= y_prev\nz = np.concatenate([x, ry], axis=-1) @ W_a.T\n"
                                             "z += b_a\nnp.tanh(z, out=z)\nreturn z\n"),
        Rewrite("multiply", "return np.tanh(np.matmul(np.concatenate([x, np.multiply(r, y_prev)], axis=-1), W_a.T) + b_a)\n"),
    ],
    mutants=[
        Mutant("reset not applied", "return tanh(np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a)\n", "reset gate not applied"),
        Mutant("reset after the product", "D = x.shape[-1]\nreturn tanh(x @ W_a[:, :D].T + r * (y_prev @ W_a[:, D:].T) + b_a)\n",
               "after the product"),
        Mutant("1 - r", "return tanh(np.concatenate([x, (1 - r) * y_prev], axis=-1) @ W_a.T + b_a)\n", "1 - r"),
        Mutant("sigmoid for tanh", f"return sigmoid({_ZA})\n", "sigmoid instead of tanh"),
        Mutant("sign slip", f"return tanh(-({_ZA}))\n", "sign slip"),
        Mutant("missing bias", "return tanh(np.concatenate([x, r * y_prev], axis=-1) @ W_a.T)\n", "missing bias"),
        Mutant("order", "return tanh(np.concatenate([r * y_prev, x], axis=-1) @ W_a.T + b_a)\n", "order"),
        Mutant("in-place y_prev *= r", "y_prev *= r\nreturn tanh(np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a)\n", "in-place modification"),
        Mutant("reset on the whole input", "D = x.shape[-1]\nz = np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a\n"
                                           "return tanh(r * z)\n", None),
    ],
)

# ---- final_output: y = (1 - u) * y_prev + u * a -------------------------------------------------


def _final_output_args(rng, B, D, H, term, big, unbatched):
    u, y_prev, a = uniform(rng, (B, H), 0.05, 0.95), uniform(rng, (B, H)), uniform(rng, (B, H))
    if term == "u0":
        u[:] = 0
    elif term == "u1":
        u[:] = 1
    elif term == "a0":
        a[:] = 0
    return (u[0], y_prev[0], a[0]) if unbatched else (u, y_prev, a)


FINAL_OUTPUT = FunctionSpec(
    "gru.final_output",
    build=_final_output_args,
    terms=[("u0", "u = 0 (keep y_prev)"), ("u1", "u = 1 (take a)"), ("a0", "a = 0")],
    edges=[("B1", "B = 1"), ("unbatched", "unbatched 1-D inputs")],
    mistakes=[
        Mistake(
            "PyTorch's mix (u and 1-u swapped)",
            "the memo writes y_t = (1 - u_t) * y_(t-1) + u_t * a_t (PyTorch's z is 1 - u).",
            lambda u, y_prev, a: u * y_prev + (1 - u) * a,
        ),
        Mistake(
            "missing (1 - u) on y_prev",
            "y_t = (1 - u_t) * y_(t-1) + u_t * a_t.",
            lambda u, y_prev, a: y_prev + u * a,
        ),
        Mistake("y_prev dropped", "keep (1 - u_t) * y_(t-1).", lambda u, y_prev, a: u * a),
    ],
    right=[
        Rewrite("interpolation form", "return y_prev + u * (a - y_prev)\n"),
        Rewrite("in-place on a fresh array", "y = a - y_prev\ny *= u\ny += y_prev\nreturn y\n"),
        Rewrite("np.add", "return np.add((1 - u) * y_prev, u * a)\n"),
        Rewrite("reordered", "return u * a + (1.0 - u) * y_prev\n"),
    ],
    mutants=[
        Mutant("PyTorch's mix", "return u * y_prev + (1 - u) * a\n", "PyTorch's mix"),
        Mutant("missing 1 - u", "return y_prev + u * a\n", "missing (1 - u)"),
        Mutant("y_prev dropped", "return u * a\n", "y_prev dropped"),
        Mutant("in-place on y_prev", "y_prev *= 1 - u\ny_prev += u * a\nreturn y_prev.copy()\n", "in-place modification"),
        Mutant("u on both", "return u * y_prev + u * a\n", None),
    ],
)

# ---- gru_step ------------------------------------------------------------------------------------


def _gru_step_args(rng, B, D, H, term, big, unbatched):
    x, y_prev = uniform(rng, (B, D)), uniform(rng, (B, H))
    params = gru.GRUParams(*gate_blocks(rng, B, D, H, term, big, 3, x, y_prev))
    if unbatched:
        x, y_prev = x[0], y_prev[0]
    return (x, y_prev, params)


def _step_calls(args, kwargs):
    """What gru_step calls, on the arguments it should call it with, and the results."""
    x, y_prev, p = args[:3]
    r = gru.reset_gate(x, y_prev, p.W_r, p.b_r)
    u = gru.update_gate(x, y_prev, p.W_u, p.b_u)
    a = gru.input_activation(x, y_prev, r, p.W_a, p.b_a)
    return [
        ("gru.reset_gate", (x, y_prev, p.W_r, p.b_r), r),
        ("gru.update_gate", (x, y_prev, p.W_u, p.b_u), u),
        ("gru.input_activation", (x, y_prev, r, p.W_a, p.b_a), a),
        ("gru.final_output", (u, y_prev, a), gru.final_output(u, y_prev, a)),
    ]


def _replay_gates(args, kwargs):
    """r, u and a only; final_output (whose result is gru_step's output) runs the learner's code."""
    return _step_calls(args, kwargs)[:3]


def _diagnose_step(args, kwargs):
    """gru_step's y is what final_output returns on the replayed u, a and the input y_prev: the
    executor calls the learner's final_output on them, so that a wrong y made there is blamed on it."""
    r, u, a = (result for _, _, result in _replay_gates(args, kwargs))
    return [("gru.final_output", (u, args[1], a), None)]


def gru_step_with_slips(x, y_prev, p, pytorch_mix=False, no_reset=False, reset_after=False, swap=False,
                        order=False):
    """The GRU step written out; each keyword switches one known mistake on."""
    W_r, b_r, W_u, b_u = (p.W_u, p.b_u, p.W_r, p.b_r) if swap else (p.W_r, p.b_r, p.W_u, p.b_u)
    cat = concat(y_prev, x) if order else concat(x, y_prev)
    r = sigmoid(cat @ W_r.T + b_r)
    u = sigmoid(cat @ W_u.T + b_u)
    if order:
        a = tanh(concat(r * y_prev, x) @ p.W_a.T + p.b_a)
    else:
        a = input_activation_with_slips(x, y_prev, r, p.W_a, p.b_a, after=reset_after, use_r=not no_reset)
    return u * y_prev + (1 - u) * a if pytorch_mix else (1 - u) * y_prev + u * a


GRU_STEP = FunctionSpec(
    "gru.gru_step",
    build=_gru_step_args,
    terms=COMPOSED_TERMS,
    edges=STEP_EDGES,
    replay=_replay_gates,
    diagnose=_diagnose_step,
    mistakes=[
        Mistake(
            "PyTorch's mix (u and 1-u swapped)",
            "y_t = (1 - u_t) * y_(t-1) + u_t * a_t; gru_step gets y_t from final_output(u, y_prev, a).",
            lambda *a: gru_step_with_slips(*a, pytorch_mix=True),
        ),
        Mistake("reset gate not applied", "pass r_t to input_activation.", lambda *a: gru_step_with_slips(*a, no_reset=True)),
        Mistake(
            "reset gate applied after the product (PyTorch's form)",
            "the memo scales y_(t-1) before the product.",
            lambda *a: gru_step_with_slips(*a, reset_after=True),
        ),
        Mistake(
            "gate parameters swapped (reset gate with W_u, b_u and update gate with W_r, b_r)",
            "pass each gate its own parameters.",
            lambda *a: gru_step_with_slips(*a, swap=True),
        ),
        Mistake(
            "[y_prev, x] order",
            "every block reads [x_t, ...y_(t-1)], in that order.",
            lambda *a: gru_step_with_slips(*a, order=True),
        ),
    ],
    right=[
        Rewrite("inline", "p = params\nz = np.concatenate([x, y_prev], axis=-1)\n"
                          "r = sigmoid(z @ p.W_r.T + p.b_r)\nu = sigmoid(z @ p.W_u.T + p.b_u)\n"
                          "a = np.tanh(np.concatenate([x, r * y_prev], axis=-1) @ p.W_a.T + p.b_a)\n"
                          "return y_prev + u * (a - y_prev)\n"),
        Rewrite("fused gates", "p = params\nH = y_prev.shape[-1]\nz = np.concatenate([x, y_prev], axis=-1)\n"
                               "g = sigmoid(z @ np.concatenate([p.W_r, p.W_u]).T + np.concatenate([p.b_r, p.b_u]))\n"
                               "r, u = g[..., :H], g[..., H:]\n"
                               "a = input_activation(x, y_prev, r, p.W_a, p.b_a)\nreturn final_output(u, y_prev, a)\n"),
        Rewrite("keyword arguments", [("final_output(u, y_prev, a)", "final_output(u=u, y_prev=y_prev, a=a)")]),
    ],
    mutants=[
        Mutant("PyTorch's mix", [("return final_output(u, y_prev, a)", "return final_output(1 - u, y_prev, a)")], "PyTorch's mix"),
        Mutant("reset not applied", [("a = input_activation(x, y_prev, r, p.W_a, p.b_a)",
                                      "a = input_activation(x, y_prev, np.ones_like(r), p.W_a, p.b_a)")], "reset gate not applied"),
        Mutant("reset after the product", [("a = input_activation(x, y_prev, r, p.W_a, p.b_a)",
                                            "D = x.shape[-1]\n    a = tanh(x @ p.W_a[:, :D].T + r * (y_prev @ p.W_a[:, D:].T) + p.b_a)")],
               "after the product"),
        Mutant("reset/update parameters swapped", [("reset_gate(x, y_prev, p.W_r, p.b_r)", "reset_gate(x, y_prev, p.W_u, p.b_u)"),
                                                   ("update_gate(x, y_prev, p.W_u, p.b_u)", "update_gate(x, y_prev, p.W_r, p.b_r)")],
               "parameters swapped"),
        Mutant("update gate used as reset", [("a = input_activation(x, y_prev, r, p.W_a, p.b_a)",
                                              "a = input_activation(x, y_prev, u, p.W_a, p.b_a)")], None),
        Mutant("[y_prev, x] order", "p = params\nz = np.concatenate([y_prev, x], axis=-1)\n"
                                    "r = sigmoid(z @ p.W_r.T + p.b_r)\nu = sigmoid(z @ p.W_u.T + p.b_u)\n"
                                    "a = tanh(np.concatenate([r * y_prev, x], axis=-1) @ p.W_a.T + p.b_a)\n"
                                    "return (1 - u) * y_prev + u * a\n", "order"),
    ],
)

# ---- gru_step_backward ---------------------------------------------------------------------------


def _backward_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, params = _gru_step_args(rng, B, D, H, term, big, False)
    dy = uniform(rng, (B, H))
    return (x[0], y_prev[0], params, dy[0]) if unbatched else (x, y_prev, params, dy)


def _replay_backward(args, kwargs):
    x, y_prev, p = args[:3]
    return _step_calls(args, kwargs) + [("gru.gru_step", (x, y_prev, p), gru.gru_step(x, y_prev, p))]


def gru_backward_with_slips(x, y_prev, p, dy, no_r=False, pytorch=False, no_direct=False, no_dtanh=False,
                            no_dy=False, no_gate_paths=False, no_a_path=False, direct_only=False, no_x_a_path=False):
    """The GRU step's backward pass written out; each keyword switches one known mistake on."""
    D = x.shape[-1]
    if no_dy:
        dy = np.zeros_like(dy)
    z = concat(x, y_prev)
    r = sigmoid(z @ p.W_r.T + p.b_r)
    u = sigmoid(z @ p.W_u.T + p.b_u)
    z_a = concat(x, r * y_prev)
    a = tanh(z_a @ p.W_a.T + p.b_a)
    mix = 1 - u if pytorch else u
    du = dy * (a - y_prev) * (-1 if pytorch else 1)
    da = dy * mix
    dy_prev = np.zeros_like(dy) if no_direct else dy * (1 - mix)
    dpre_a = da if no_dtanh else da * dtanh_from_output(a)
    dz_a = dpre_a @ p.W_a
    dry = dz_a[..., D:]
    dr = np.zeros_like(dry) if no_r else dry * y_prev
    dy_direct = dy_prev
    dy_prev = dy_prev if no_a_path else dy_prev + dry * r
    dpre_r = dr * dsigmoid_from_output(r)
    dpre_u = du * dsigmoid_from_output(u)
    dz = dpre_r @ p.W_r + dpre_u @ p.W_u
    if no_gate_paths:
        dz = np.zeros_like(dz)
    z2 = np.atleast_2d(z)
    grads = gru.GRUParams(
        np.atleast_2d(dpre_r).T @ z2,
        np.atleast_2d(dpre_r).sum(axis=0),
        np.atleast_2d(dpre_u).T @ z2,
        np.atleast_2d(dpre_u).sum(axis=0),
        np.atleast_2d(dpre_a).T @ np.atleast_2d(z_a),
        np.atleast_2d(dpre_a).sum(axis=0),
    )
    dx = dz[..., :D] if no_x_a_path else dz_a[..., :D] + dz[..., :D]
    return dx, dy_direct if direct_only else dy_prev + dz[..., D:], grads


GRU_STEP_BACKWARD = FunctionSpec(
    "gru.gru_step_backward",
    build=_backward_args,
    terms=COMPOSED_TERMS,
    edges=STEP_EDGES,
    replay=_replay_backward,
    budget=(64, 128, 128),
    mistakes=[
        Mistake(
            "no gradient through the reset gate",
            "r_t scales y_(t-1) inside a_t: dL/dr_t = dL/d(r*y_prev) * y_prev.",
            lambda *a: gru_backward_with_slips(*a, no_r=True),
        ),
        Mistake(
            "PyTorch's mix (u and 1-u swapped)",
            "y_t = (1 - u_t) y_(t-1) + u_t a_t.",
            lambda *a: gru_backward_with_slips(*a, pytorch=True),
        ),
        Mistake(
            "missing direct path dy * (1 - u) to y_prev",
            "y_(t-1) reaches y_t directly with weight 1 - u_t.",
            lambda *a: gru_backward_with_slips(*a, no_direct=True),
        ),
        Mistake(
            "missing tanh derivative in the input activation",
            "multiply by 1 - a_t^2.",
            lambda *a: gru_backward_with_slips(*a, no_dtanh=True),
        ),
        Mistake(
            "dy not used (every gradient zero)",
            "dy = dL/dy_t is where every gradient of the step starts: du = dy * (a_t - y_(t-1)), da = dy * u_t, "
            "and dy * (1 - u_t) straight to y_(t-1).",
            lambda *a: gru_backward_with_slips(*a, no_dy=True),
        ),
        Mistake(
            "the gates' paths missing from dx and dy_prev",
            "r_t and u_t read z_t = [x_t, y_(t-1)] too: add dpre_r W_r + dpre_u W_u to dL/dz_t (its first D "
            "columns to dx, the rest to dy_prev).",
            lambda *a: gru_backward_with_slips(*a, no_gate_paths=True),
        ),
        Mistake(
            "y_(t-1)'s path through the input activation missing from dy_prev",
            "a_t reads r_t * y_(t-1): dy_prev gets dL/d(r_t * y_(t-1)) * r_t, from the last H columns of "
            "dpre_a W_a.",
            lambda *a: gru_backward_with_slips(*a, no_a_path=True),
        ),
        Mistake(
            "dy_prev from the direct path only (dy * (1 - u))",
            "y_(t-1) reaches y_t by four paths, directly and through r_t, u_t and a_t: dy_prev is the sum of all "
            "four.",
            lambda *a: gru_backward_with_slips(*a, direct_only=True),
        ),
        Mistake(
            "x_t's path through the input activation missing from dx",
            "a_t reads x_t too: dx gets the first D columns of dpre_a W_a as well as those of "
            "dpre_r W_r + dpre_u W_u.",
            lambda *a: gru_backward_with_slips(*a, no_x_a_path=True),
        ),
    ],
    right=[
        Rewrite("einsum", [("W_r=np.atleast_2d(dpre_r).T @ z2", "W_r=np.einsum('bh,bk->hk', np.atleast_2d(dpre_r), z2)")]),
        Rewrite("explicit derivatives", [("dpre_r = dr * dsigmoid_from_output(r)", "dpre_r = dr * r * (1 - r)")]),
        Rewrite("in-place on fresh arrays", [("dy_prev = dy_prev + dry * r", "dy_prev += dry * r")]),
    ],
    mutants=[
        Mutant("no gradient through r", [("dr = dry * y_prev", "dr = 0 * dry")], "reset gate"),
        Mutant("PyTorch's mix", [("du = dy * (a - y_prev)", "du = dy * (y_prev - a)"), ("da = dy * u", "da = dy * (1 - u)"),
                                 ("dy_prev = dy * (1 - u)", "dy_prev = dy * u")], "PyTorch's mix"),
        Mutant("missing direct path", [("dy_prev = dy * (1 - u)", "dy_prev = 0 * dy")], "direct path"),
        Mutant("missing tanh derivative", [("dpre_a = da * dtanh_from_output(a)", "dpre_a = da")], "tanh derivative"),
        Mutant("missing r on the way back", [("dy_prev = dy_prev + dry * r", "dy_prev = dy_prev + dry")], None),
        Mutant("W_a gradient with z, not z_a", [("np.atleast_2d(dpre_a).T @ np.atleast_2d(z_a)", "np.atleast_2d(dpre_a).T @ z2")],
               None),
        # Each gradient input dropped, each output dropped, each sum reduced to one of its parts.
        Mutant("dy not used", [("p = params", "p = params\n    dy = 0 * dy")], "dy not used"),
        Mutant("dx dropped", [("return dx, dy_prev, grads", "return 0 * dx, dy_prev, grads")], "`dx` left at zero"),
        Mutant("dy_prev dropped", [("return dx, dy_prev, grads", "return dx, 0 * dy_prev, grads")], "`dy_prev` left at zero"),
        Mutant("dW_u dropped", [("W_u=np.atleast_2d(dpre_u).T @ z2", "W_u=0 * (np.atleast_2d(dpre_u).T @ z2)")],
               "`grads.W_u` left at zero"),
        Mutant("db_a dropped", [("b_a=np.atleast_2d(dpre_a).sum(axis=0)", "b_a=0 * np.atleast_2d(dpre_a).sum(axis=0)")],
               "`grads.b_a` left at zero"),
        Mutant("gates' paths missing", [("dz = dpre_r @ p.W_r + dpre_u @ p.W_u", "dz = 0 * (dpre_r @ p.W_r + dpre_u @ p.W_u)")],
               "gates' paths missing"),
        Mutant("y_prev's path through a missing", [("dy_prev = dy_prev + dry * r", "dy_prev = dy_prev + 0 * dry")],
               "through the input activation missing from dy_prev"),
        Mutant("dy_prev from the direct path only", [("dy_prev = dy_prev + dz[..., D:]", "dy_prev = dy * (1 - u)")],
               "direct path only"),
        Mutant("x's path through a missing", [("dx = dz_a[..., :D] + dz[..., :D]", "dx = dz[..., :D]")],
               "missing from dx"),
    ],
    shortcuts=[
        Rewrite("numerical gradients",
                "from .gradcheck import extrapolated_gradient\nx, y_prev = x.copy(), y_prev.copy()\n"
                "params = GRUParams(*[a.copy() for a in params])\n"
                "def f():\n    return float(np.sum(gru_step(x, y_prev, params) * dy))\n"
                "return (extrapolated_gradient(f, x), extrapolated_gradient(f, y_prev),\n"
                "        GRUParams(*[extrapolated_gradient(f, a) for a in params]))\n"),
    ],
)

SPECS = [
    gate_spec("gru.reset_gate", SIGMOID, "W_r", "b_r"),
    gate_spec("gru.update_gate", SIGMOID, "W_u", "b_u"),
    INPUT_ACTIVATION,
    FINAL_OUTPUT,
    GRU_STEP,
    GRU_STEP_BACKWARD,
]
