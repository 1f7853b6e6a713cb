# ruff: noqa: E501  (source snippets read better whole)
"""Specs of the checked functions of rnnkit/lstm.py (see ``spec.FunctionSpec``).

The four gates come from the gate template (``gates.py``); new_state, final_output,
lstm_step and lstm_step_backward are written out here.
"""

import numpy as np

from rnnkit import lstm
from rnnkit.activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh

from .gates import SIGMOID, TANH, gate_blocks, gate_spec
from .spec import COMPOSED_TERMS, STEP_EDGES, FunctionSpec, Mistake, Mutant, Rewrite, concat, uniform

# ---- new_state: s = f * s_prev + I * a ---------------------------------------------------------


def _new_state_args(rng, B, D, H, term, big, unbatched):
    f, I = uniform(rng, (B, H), 0.05, 0.95), uniform(rng, (B, H), 0.05, 0.95)
    a, s_prev = uniform(rng, (B, H)), uniform(rng, (B, H), -3, 3)
    if term == "I0":
        I[:] = 0
    elif term == "f0":
        f[:] = 0
    elif term == "s0":
        s_prev[:] = 0
    if big:
        s_prev = uniform(rng, (B, H), -50, 50)
    args = (f, I, a, s_prev)
    return tuple(v[0] for v in args) if unbatched else args


NEW_STATE = FunctionSpec(
    "lstm.new_state",
    build=_new_state_args,
    terms=[("I0", "I = 0 (only the kept state)"), ("f0", "f = 0 (only the new input)"), ("s0", "s_prev = 0")],
    edges=[("B1", "B = 1"), ("unbatched", "unbatched 1-D inputs"), ("big", "|s_prev| up to 50")],
    mistakes=[
        Mistake(
            "the memo's forget-less state update (s = I*a + s_prev)",
            "the standard LSTM keeps f_t * s_(t-1): s_t = f_t * s_(t-1) + I_t * a_t (the memo's formula "
            "drops the forget gate).",
            lambda f, I, a, s_prev: I * a + s_prev,
        ),
        Mistake(
            "forget and input gates swapped (f*a + I*s_prev)",
            "f_t multiplies the old state s_(t-1).",
            lambda f, I, a, s_prev: f * a + I * s_prev,
        ),
        Mistake("old state dropped (s = I*a)", "add the kept part f_t * s_(t-1).", lambda f, I, a, s_prev: I * a),
        Mistake("new input dropped (s = f*s_prev)", "add the written part I_t * a_t.", lambda f, I, a, s_prev: f * s_prev),
    ],
    right=[
        Rewrite("np.add", "return np.add(np.multiply(f, s_prev), np.multiply(I, a))\n"),
        Rewrite("in-place on a fresh array", "s = f * s_prev\ns += I * a\nreturn s\n"),
        Rewrite("einsum", "return np.einsum('...h,...h->...h', f, s_prev) + np.einsum('...h,...h->...h', I, a)\n"),
        Rewrite("reordered", "return a * I + s_prev * f\n"),
    ],
    mutants=[
        Mutant("memo's forget-less update", "return I * a + s_prev\n", "forget-less"),
        Mutant("gates swapped", "return f * a + I * s_prev\n", "swapped"),
        Mutant("old state dropped", "return I * a\n", "old state dropped"),
        Mutant("new input dropped", "return f * s_prev\n", "new input dropped"),
        Mutant("in-place on s_prev", "s_prev *= f\ns_prev += I * a\nreturn s_prev\n", "in-place modification"),
        Mutant("out= into s_prev", "np.multiply(f, s_prev, out=s_prev)\nreturn s_prev + I * a\n", "in-place modification"),
        Mutant("minus", "return f * s_prev - I * a\n", None),
        Mutant("float64 result", "return (f * s_prev + I * a).astype(np.float64)\n", None),
    ],
)

# ---- final_output: y = O * tanh(s) --------------------------------------------------------------


def _final_output_args(rng, B, D, H, term, big, unbatched):
    O, s = uniform(rng, (B, H), 0.05, 0.95), uniform(rng, (B, H), -2, 2)
    if term == "O1":
        O[:] = 1
    if big:
        s = uniform(rng, (B, H), -50, 50)
    return (O[0], s[0]) if unbatched else (O, s)


FINAL_OUTPUT = FunctionSpec(
    "lstm.final_output",
    build=_final_output_args,
    terms=[("O1", "O = 1")],
    edges=[("B1", "B = 1"), ("unbatched", "unbatched 1-D inputs"), ("big", "|s| up to 50")],
    mistakes=[
        Mistake("O*s without tanh", "y_t = O_t * tanh(s_t): squash the state first.", lambda O, s: O * s),
        Mistake("tanh applied after the product (tanh(O*s))", "y_t = O_t * tanh(s_t).", lambda O, s: tanh(O * s)),
        Mistake("sigmoid instead of tanh", "the state is squashed with tanh.", lambda O, s: O * sigmoid(s)),
        Mistake("output gate ignored", "multiply by O_t.", lambda O, s: tanh(s)),
    ],
    right=[
        Rewrite("np.tanh", "return O * np.tanh(s)\n"),
        Rewrite("in-place on a fresh array", "y = np.tanh(s)\ny *= O\nreturn y\n"),
        Rewrite("np.multiply", "return np.multiply(O, tanh(s))\n"),
        Rewrite("tanh through a stable sigmoid", "return O * (2 * sigmoid(2 * s) - 1)\n"),
    ],
    mutants=[
        Mutant("O*s without tanh", "return O * s\n", "without tanh"),
        Mutant("tanh after the product", "return tanh(O * s)\n", "tanh applied after"),
        Mutant("sigmoid for tanh", "return O * sigmoid(s)\n", "sigmoid instead of tanh"),
        Mutant("output gate ignored", "return tanh(s)\n", "output gate ignored"),
        Mutant("tanh in place on s", "np.tanh(s, out=s)\nreturn O * s\n", "in-place modification"),
        Mutant("returns a Python list", "return (O * tanh(s)).tolist()\n", None),
    ],
)

# ---- lstm_step ----------------------------------------------------------------------------------


def _lstm_step_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, s_prev = uniform(rng, (B, D)), uniform(rng, (B, H)), uniform(rng, (B, H), -2, 2)
    if term == "s0":
        s_prev[:] = 0
    params = lstm.LSTMParams(*gate_blocks(rng, B, D, H, term, big, 4, x, y_prev))
    if unbatched:
        x, y_prev, s_prev = x[0], y_prev[0], s_prev[0]
    return (x, y_prev, s_prev, params)


def _step_calls(args, kwargs):
    """What lstm_step calls, on the arguments it should call it with, and the results."""
    x, y_prev, s_prev, p = args[:4]
    f = lstm.forget_gate(x, y_prev, p.W_f, p.b_f)
    I = lstm.input_gate(x, y_prev, p.W_i, p.b_i)
    a = lstm.input_activation(x, y_prev, p.W_a, p.b_a)
    O = lstm.output_gate(x, y_prev, p.W_o, p.b_o)
    s = lstm.new_state(f, I, a, s_prev)
    return [
        ("lstm.forget_gate", (x, y_prev, p.W_f, p.b_f), f),
        ("lstm.input_gate", (x, y_prev, p.W_i, p.b_i), I),
        ("lstm.input_activation", (x, y_prev, p.W_a, p.b_a), a),
        ("lstm.output_gate", (x, y_prev, p.W_o, p.b_o), O),
        ("lstm.new_state", (f, I, a, s_prev), s),
        ("lstm.final_output", (O, s), lstm.final_output(O, s)),
    ]


def _replay_gates(args, kwargs):
    """The four gates only. A replay table is visible to the learner's code in the sandbox, so it
    never holds the answer of the case itself: new_state and final_output (whose results are
    lstm_step's output) run the learner's own code here."""
    return _step_calls(args, kwargs)[:4]


def _diagnose_step(args, kwargs):
    """lstm_step's s (output 1) is what new_state returns on the replayed f, I, a and the input s_prev:
    the executor calls the learner's new_state on them, so that a wrong s made by new_state is blamed
    on new_state (arguments from the replay table and the case only, never the answer)."""
    f, I, a = (result for _, _, result in _replay_gates(args, kwargs)[:3])
    return [("lstm.new_state", (f, I, a, args[2]), 1)]


def lstm_step_with_slips(x, y_prev, s_prev, p, memo=False, no_tanh=False, old_state=False, swap_fi=False,
                         swap_io=False, order=False, swap_return=False):
    """The LSTM step written out; each keyword switches one known mistake on."""
    cat = concat(y_prev, x) if order else concat(x, y_prev)
    W_f, b_f, W_i, b_i = (p.W_i, p.b_i, p.W_f, p.b_f) if swap_fi else (p.W_f, p.b_f, p.W_i, p.b_i)
    W_o, b_o = (p.W_i, p.b_i) if swap_io else (p.W_o, p.b_o)
    if swap_io:
        W_i, b_i = p.W_o, p.b_o
    f = sigmoid(cat @ W_f.T + b_f)
    I = sigmoid(cat @ W_i.T + b_i)
    a = tanh(cat @ p.W_a.T + p.b_a)
    O = sigmoid(cat @ W_o.T + b_o)
    s = I * a + s_prev if memo else f * s_prev + I * a
    y = O * (s if no_tanh else tanh(s_prev if old_state else s))
    return (s, y) if swap_return else (y, s)


LSTM_STEP = FunctionSpec(
    "lstm.lstm_step",
    build=_lstm_step_args,
    terms=COMPOSED_TERMS + [("s0", "s_prev = 0")],
    edges=STEP_EDGES,
    replay=_replay_gates,
    diagnose=_diagnose_step,
    mistakes=[
        Mistake(
            "the memo's forget-less state update (s = I*a + s_prev)",
            "the standard update keeps the forget gate, s_t = f_t * s_(t-1) + I_t * a_t (the memo's "
            "formula drops f_t); lstm_step gets s_t from new_state(f, I, a, s_prev).",
            lambda *a: lstm_step_with_slips(*a, memo=True),
        ),
        Mistake("O*s without tanh", "y_t = O_t * tanh(s_t).", lambda *a: lstm_step_with_slips(*a, no_tanh=True)),
        Mistake(
            "old state used where the new belongs (y = O*tanh(s_prev))",
            "compute s_t first and use it in final_output.",
            lambda *a: lstm_step_with_slips(*a, old_state=True),
        ),
        Mistake(
            "gate parameters swapped (forget gate with W_i, b_i and input gate with W_f, b_f)",
            "pass each gate its own parameters: params.W_f, params.b_f to forget_gate, ...",
            lambda *a: lstm_step_with_slips(*a, swap_fi=True),
        ),
        Mistake(
            "gate parameters swapped (input gate and output gate)",
            "pass each gate its own parameters.",
            lambda *a: lstm_step_with_slips(*a, swap_io=True),
        ),
        Mistake(
            "[y_prev, x] order",
            "every gate reads [x_t, y_(t-1)], in that order.",
            lambda *a: lstm_step_with_slips(*a, order=True),
        ),
        Mistake(
            "(s, y) returned instead of (y, s)",
            "return y first, then s.",
            lambda *a: lstm_step_with_slips(*a, swap_return=True),
        ),
    ],
    right=[
        Rewrite("fused weights, one product", "p = params\nH = s_prev.shape[-1]\n"
                                              "W = np.concatenate([p.W_f, p.W_i, p.W_a, p.W_o])\n"
                                              "b = np.concatenate([p.b_f, p.b_i, p.b_a, p.b_o])\n"
                                              "z = np.concatenate([x, y_prev], axis=-1) @ W.T + b\n"
                                              "f, I, a, O = (z[..., k * H:(k + 1) * H] for k in range(4))\n"
                                              "f, I, a, O = sigmoid(f), sigmoid(I), np.tanh(a), sigmoid(O)\n"
                                              "s = f * s_prev + I * a\nreturn O * np.tanh(s), s\n"),
        Rewrite("keyword arguments", [("forget_gate(x, y_prev, p.W_f, p.b_f)", "forget_gate(x=x, y_prev=y_prev, W_f=p.W_f, b_f=p.b_f)"),
                                      ("new_state(f, I, a, s_prev)", "new_state(f=f, I=I, a=a, s_prev=s_prev)")]),
        Rewrite("tuple indexing", [("p = params", "p = params\n    W_f, b_f = params[0], params[1]"),
                                   ("forget_gate(x, y_prev, p.W_f, p.b_f)", "forget_gate(x, y_prev, W_f, b_f)")]),
        Rewrite("inline, split blocks", "p = params\nD = x.shape[-1]\n"
                                        "def pre(W, b):\n    return x @ W[:, :D].T + y_prev @ W[:, D:].T + b\n"
                                        "f, I = sigmoid(pre(p.W_f, p.b_f)), sigmoid(pre(p.W_i, p.b_i))\n"
                                        "a, O = tanh(pre(p.W_a, p.b_a)), sigmoid(pre(p.W_o, p.b_o))\n"
                                        "s = f * s_prev\ns += I * a\nreturn O * tanh(s), s\n"),
    ],
    mutants=[
        Mutant("memo's forget-less update", [("s = new_state(f, I, a, s_prev)", "s = memo_new_state(I, a, s_prev)")],
               "forget-less"),
        Mutant("O*s without tanh", [("y = final_output(O, s)", "y = O * s")], "without tanh"),
        Mutant("old state in the output", [("y = final_output(O, s)", "y = final_output(O, s_prev)")], "old state used"),
        Mutant("forget/input parameters swapped", [("forget_gate(x, y_prev, p.W_f, p.b_f)", "forget_gate(x, y_prev, p.W_i, p.b_i)"),
                                                   ("input_gate(x, y_prev, p.W_i, p.b_i)", "input_gate(x, y_prev, p.W_f, p.b_f)")],
               "parameters swapped"),
        Mutant("input/output parameters swapped", [("input_gate(x, y_prev, p.W_i, p.b_i)", "input_gate(x, y_prev, p.W_o, p.b_o)"),
                                                   ("output_gate(x, y_prev, p.W_o, p.b_o)", "output_gate(x, y_prev, p.W_i, p.b_i)")],
               "parameters swapped"),
        Mutant("[y_prev, x] order", "p = params\nz = np.concatenate([y_prev, x], axis=-1)\n"
                                    "f = sigmoid(z @ p.W_f.T + p.b_f)\nI = sigmoid(z @ p.W_i.T + p.b_i)\n"
                                    "a = tanh(z @ p.W_a.T + p.b_a)\nO = sigmoid(z @ p.W_o.T + p.b_o)\n"
                                    "s = f * s_prev + I * a\nreturn O * tanh(s), s\n", "order"),
        Mutant("(s, y) returned", [("return y, s", "return s, y")], "returned instead"),
        Mutant("y_prev as the old state", [("s = new_state(f, I, a, s_prev)", "s = new_state(f, I, a, y_prev)")], None),
        Mutant("returns y only", [("return y, s", "return y")], None),
        Mutant("tanh forget gate inline", [("f = forget_gate(x, y_prev, p.W_f, p.b_f)",
                                            "f = tanh(np.concatenate([x, y_prev], axis=-1) @ p.W_f.T + p.b_f)")], None),
    ],
)

# ---- lstm_step_backward -------------------------------------------------------------------------


def _backward_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, s_prev, params = _lstm_step_args(rng, B, D, H, None, big, False)
    dy, ds = uniform(rng, (B, H)), uniform(rng, (B, H))
    if term == "dy":
        ds[:] = 0
    elif term == "ds":
        dy[:] = 0
    args = (x, y_prev, s_prev, params, dy, ds)
    if unbatched:
        args = (x[0], y_prev[0], s_prev[0], params, dy[0], ds[0])
    return args


def _replay_backward(args, kwargs):
    x, y_prev, s_prev, p = args[:4]
    table = _step_calls(args, kwargs)
    table.append(("lstm.lstm_step", (x, y_prev, s_prev, p), lstm.lstm_step(x, y_prev, s_prev, p)))
    if kwargs.get("memo_form"):
        I = lstm.input_gate(x, y_prev, p.W_i, p.b_i)
        a = lstm.input_activation(x, y_prev, p.W_a, p.b_a)
        s = lstm.memo_new_state(I, a, s_prev)
        O = lstm.output_gate(x, y_prev, p.W_o, p.b_o)
        table.append(("lstm.final_output", (O, s), lstm.final_output(O, s)))
    return table


def lstm_backward_with_slips(x, y_prev, s_prev, p, dy, ds, memo_form=False, no_dtanh_s=False, no_y_path=False,
                             no_ds=False, no_f_in_prev=False, memo_for_standard=False, sig_for_a=False,
                             no_dy=False, memo_keeps_f=False, memo_ignored=False, a_path_only=False):
    """The LSTM step's backward pass written out; each keyword after ``memo_form`` switches one
    known mistake on."""
    D = x.shape[-1]
    z = concat(x, y_prev)
    f = sigmoid(z @ p.W_f.T + p.b_f)
    I = sigmoid(z @ p.W_i.T + p.b_i)
    a = tanh(z @ p.W_a.T + p.b_a)
    O = sigmoid(z @ p.W_o.T + p.b_o)
    if memo_ignored:
        memo_form = False
    if no_dy:
        dy = np.zeros_like(dy)
    memo = memo_form or memo_for_standard
    s = I * a + s_prev if memo_form else f * s_prev + I * a
    ts = tanh(s)
    through_y = dy * O * (1 if no_dtanh_s else dtanh_from_output(ts))
    ds_total = (0 if no_ds else ds) + (0 if no_y_path else through_y)
    ds_total = ds_total + np.zeros_like(s)
    dO = dy * ts
    dI, da = ds_total * a, ds_total * I
    if memo:
        dpre_f, ds_prev = np.zeros_like(ds_total), ds_total * (f if memo_keeps_f else 1)
    else:
        dpre_f = ds_total * s_prev * dsigmoid_from_output(f)
        ds_prev = ds_total if no_f_in_prev else ds_total * f
    dpre_i = dI * dsigmoid_from_output(I)
    dpre_a = da * (dsigmoid_from_output(a) if sig_for_a else dtanh_from_output(a))
    dpre_o = dO * dsigmoid_from_output(O)
    z2 = np.atleast_2d(z)

    def g(d):
        return np.atleast_2d(d).T @ z2, np.atleast_2d(d).sum(axis=0)

    grads = lstm.LSTMParams(*g(dpre_f), *g(dpre_i), *g(dpre_a), *g(dpre_o))
    dz = dpre_a @ p.W_a if a_path_only else dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o
    return dz[..., :D], dz[..., D:], ds_prev, grads


MEMO_BACKWARD_HINT = ("with memo_form=True the step is s_t = I_t * a_t + s_(t-1): f_t is not used, so dL/df_t = 0 "
                      "(every forget-gate gradient is zero) and ds_prev = dL/ds_t, with no f_t factor.")

LSTM_STEP_BACKWARD = FunctionSpec(
    "lstm.lstm_step_backward",
    build=_backward_args,
    terms=[("dy", "only dy (ds = 0)"), ("ds", "only ds (dy = 0)"), ("memo", "memo_form=True")],
    edges=STEP_EDGES,
    replay=_replay_backward,
    term_kwargs={"memo": {"memo_form": True}},
    budget=(64, 128, 128),
    mistakes=[
        Mistake(
            "missing tanh derivative on the state (through y = O * tanh(s))",
            "dL/ds_t gets dy * O_t * (1 - tanh(s_t)^2) from y_t.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, no_dtanh_s=True),
        ),
        Mistake(
            "no gradient path from y_t into the state",
            "add dy * O_t * tanh'(s_t) to ds.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, no_y_path=True),
        ),
        Mistake(
            "gradient from the next step (ds) ignored",
            "the state's gradient from step t+1 adds to the one via y_t.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, no_ds=True),
        ),
        Mistake(
            "ds_prev without the forget gate",
            "s_t = f_t * s_(t-1) + ...: ds_prev = dL/ds_t * f_t.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, no_f_in_prev=True),
        ),
        Mistake(
            "the memo's forget-less backward used for the standard LSTM",
            "with memo_form=False the state update uses f_t: include its gradient.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, memo_for_standard=True),
        ),
        Mistake(
            "sigmoid derivative used for the tanh input activation",
            "a_t = tanh(...): its derivative is 1 - a_t^2.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, sig_for_a=True),
        ),
        Mistake(
            "dy ignored",
            "dy = dL/dy_t reaches y_t = O_t * tanh(s_t): it gives the output gate dy * tanh(s_t) and the "
            "state dy * O_t * (1 - tanh(s_t)^2), added to ds.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, no_dy=True),
        ),
        Mistake(
            "memo form: the forget gate's factor f_t kept in ds_prev",
            MEMO_BACKWARD_HINT,
            lambda *a, **k: lstm_backward_with_slips(*a, **k, memo_keeps_f=True),
        ),
        Mistake(
            "memo_form ignored (the standard backward pass for the memo's step)",
            MEMO_BACKWARD_HINT + " Recompute s_t that way too.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, memo_ignored=True),
        ),
        Mistake(
            "dx and dy_prev through the input activation only (the three gates' paths missing)",
            "all four blocks read z_t = [x_t, y_(t-1)]: dL/dz_t = dpre_f W_f + dpre_i W_i + dpre_a W_a + "
            "dpre_o W_o, then dx is its first D columns and dy_prev the rest.",
            lambda *a, **k: lstm_backward_with_slips(*a, **k, a_path_only=True),
        ),
    ],
    right=[
        Rewrite("einsum", [("W_f=np.atleast_2d(dpre_f).T @ z2", "W_f=np.einsum('bh,bk->hk', np.atleast_2d(dpre_f), z2)")]),
        Rewrite("explicit tanh derivative", [("dtanh_from_output(tanh_s)", "(1 - tanh_s ** 2)")]),
        Rewrite("split weight blocks", [("dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o",
                                         "dz = sum(d @ W for d, W in ((dpre_f, p.W_f), (dpre_i, p.W_i), (dpre_a, p.W_a), "
                                         "(dpre_o, p.W_o)))")]),
    ],
    mutants=[
        Mutant("missing tanh derivative on the state", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)",
                                                         "ds_total = ds + dy * O")], "missing tanh derivative"),
        Mutant("no path from y into the state", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)", "ds_total = ds + 0 * dy")],
               "no gradient path"),
        Mutant("ds ignored", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)",
                               "ds_total = dy * O * dtanh_from_output(tanh_s)")], "(ds) ignored"),
        Mutant("ds_prev without the forget gate", [("ds_prev = ds_total * f", "ds_prev = ds_total")], "without the forget gate"),
        Mutant("memo backward for the standard LSTM", [("if memo_form:", "if True:", 2)], None),
        Mutant("sigmoid derivative for a", [("dpre_a = da * dtanh_from_output(a)", "dpre_a = da * dsigmoid_from_output(a)")],
               "sigmoid derivative"),
        Mutant("memo_form ignored", [("if memo_form:", "if False:", 2)], "memo_form ignored"),
        Mutant("dO with the state, not tanh(s)", [("dO = dy * tanh_s", "dO = dy * s")], None),
        Mutant("in-place on ds", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)",
                                   "ds += dy * O * dtanh_from_output(tanh_s)\n    ds_total = ds")], "in-place modification"),
        # Each gradient input dropped, each output dropped, each sum reduced to one of its parts.
        Mutant("dy ignored", [("p = params", "p = params\n    dy = 0 * dy")], "dy ignored"),
        Mutant("memo form: f kept in ds_prev", [("ds_prev = ds_total\n", "ds_prev = ds_total * forget_gate(x, y_prev, p.W_f, p.b_f)\n")],
               "forget gate's factor f_t kept"),
        Mutant("dx dropped", [("return dz[..., :D], dz[..., D:], ds_prev, grads", "return 0 * dz[..., :D], dz[..., D:], ds_prev, grads")],
               "`dx` left at zero"),
        Mutant("dy_prev dropped", [("return dz[..., :D], dz[..., D:], ds_prev, grads", "return dz[..., :D], 0 * dz[..., D:], ds_prev, grads")],
               "`dy_prev` left at zero"),
        Mutant("ds_prev dropped", [("ds_prev = ds_total * f", "ds_prev = 0 * ds_total")], "`ds_prev` left at zero"),
        Mutant("dW_f dropped", [("W_f=np.atleast_2d(dpre_f).T @ z2", "W_f=0 * (np.atleast_2d(dpre_f).T @ z2)")],
               "`grads.W_f` left at zero"),
        Mutant("dW_i dropped", [("W_i=np.atleast_2d(dpre_i).T @ z2", "W_i=0 * (np.atleast_2d(dpre_i).T @ z2)")],
               "`grads.W_i` left at zero"),
        Mutant("db_o dropped", [("b_o=np.atleast_2d(dpre_o).sum(axis=0)", "b_o=0 * np.atleast_2d(dpre_o).sum(axis=0)")],
               "`grads.b_o` left at zero"),
        Mutant("dz through the input activation only", [("dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o",
                                                         "dz = dpre_a @ p.W_a")], "input activation only"),
        Mutant("dz without the output gate", [("dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o",
                                               "dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a")], None),
    ],
)

SPECS = [
    gate_spec("lstm.forget_gate", SIGMOID, "W_f", "b_f"),
    gate_spec("lstm.input_gate", SIGMOID, "W_i", "b_i"),
    gate_spec("lstm.input_activation", TANH, "W_a", "b_a"),
    gate_spec("lstm.output_gate", SIGMOID, "W_o", "b_o"),
    NEW_STATE,
    FINAL_OUTPUT,
    LSTM_STEP,
    LSTM_STEP_BACKWARD,
]
