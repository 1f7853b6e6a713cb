"""Known mistakes, as functions with the learner function's signature (trusted side).

The judge runs them on each case (in float64) and, when a learner's output matches
one within tolerance, names it in the message. The fixture generator stores their
outputs for the visible cases, so the notebook can name them without any code here.
Each entry: Mistake(name, hint, function).
"""

from typing import NamedTuple

import numpy as np

from rnnkit import gru, lstm, multilayer, rnn, sequence
from rnnkit.activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh


class Mistake(NamedTuple):
    name: str
    hint: str
    function: object


def _cat(x, y):
    return np.concatenate([x, y], axis=-1)


def _sigmoid_gate_mistakes(w, b):
    return [
        Mistake(
            "tanh instead of sigmoid",
            "a gate squashes with sigma (values in 0..1), not tanh.",
            lambda x, y_prev, W, b_: tanh(_cat(x, y_prev) @ W.T + b_),
        ),
        Mistake(
            "sign slip in the sigmoid",
            "sigma(z) = 1 / (1 + exp(-z)): check the sign of z.",
            lambda x, y_prev, W, b_: sigmoid(-(_cat(x, y_prev) @ W.T + b_)),
        ),
        Mistake(
            f"missing bias {b}",
            f"add {b} after the product.",
            lambda x, y_prev, W, b_: sigmoid(_cat(x, y_prev) @ W.T),
        ),
        Mistake(
            "[y_prev, x] order",
            f"{w}[:, :D] acts on x_t: concatenate [x, y_prev], in that order.",
            lambda x, y_prev, W, b_: sigmoid(_cat(y_prev, x) @ W.T + b_),
        ),
        Mistake(
            "no activation",
            "apply sigma to the pre-activation.",
            lambda x, y_prev, W, b_: _cat(x, y_prev) @ W.T + b_,
        ),
        Mistake(
            "y_prev ignored",
            f"the gate reads [x_t, y_(t-1)]; {w}[:, D:] multiplies y_prev.",
            lambda x, y_prev, W, b_: sigmoid(x @ W[:, : x.shape[-1]].T + b_),
        ),
    ]


def _tanh_gate_mistakes(w, b, prev="y_prev"):
    return [
        Mistake(
            "sigmoid instead of tanh",
            "this activation is tanh (values in -1..1), not sigma.",
            lambda x, y_prev, W, b_: sigmoid(_cat(x, y_prev) @ W.T + b_),
        ),
        Mistake(
            "sign slip in tanh",
            "tanh(z), not tanh(-z) or -tanh(z).",
            lambda x, y_prev, W, b_: tanh(-(_cat(x, y_prev) @ W.T + b_)),
        ),
        Mistake(
            f"missing bias {b}",
            f"add {b} after the product.",
            lambda x, y_prev, W, b_: tanh(_cat(x, y_prev) @ W.T),
        ),
        Mistake(
            f"[{prev}, x] order",
            f"{w}[:, :D] acts on x_t: concatenate [x, {prev}], in that order.",
            lambda x, y_prev, W, b_: tanh(_cat(y_prev, x) @ W.T + b_),
        ),
        Mistake(
            "no activation",
            "apply tanh to the pre-activation.",
            lambda x, y_prev, W, b_: _cat(x, y_prev) @ W.T + b_,
        ),
        Mistake(
            f"{prev} ignored",
            f"{w}[:, D:] multiplies {prev}.",
            lambda x, y_prev, W, b_: tanh(x @ W[:, : x.shape[-1]].T + b_),
        ),
    ]


def _gru_act(x, y_prev, r, W, b, after=False, use_r=True, one_minus=False):
    D = x.shape[-1]
    if one_minus:
        r = 1 - r
    if after:
        return tanh(x @ W[:, :D].T + r * (y_prev @ W[:, D:].T) + b)
    return tanh(_cat(x, (r if use_r else 1) * y_prev) @ W.T + b)


_GRU_ACT = [
    Mistake(
        "reset gate not applied",
        "the input activation sees r_t * y_(t-1), not y_(t-1).",
        lambda x, y_prev, r, W, b: _gru_act(x, y_prev, r, W, b, use_r=False),
    ),
    Mistake(
        "reset gate applied after the product (PyTorch's form)",
        "the memo scales y_(t-1) by r_t before the product: W_a [x_t, r_t * y_(t-1)].",
        lambda x, y_prev, r, W, b: _gru_act(x, y_prev, r, W, b, after=True),
    ),
    Mistake(
        "1 - r instead of r",
        "multiply y_(t-1) by r_t itself.",
        lambda x, y_prev, r, W, b: _gru_act(x, y_prev, r, W, b, one_minus=True),
    ),
    Mistake(
        "sigmoid instead of tanh",
        "the input activation is tanh.",
        lambda x, y_prev, r, W, b: sigmoid(_cat(x, r * y_prev) @ W.T + b),
    ),
    Mistake(
        "sign slip in tanh",
        "tanh(z), not tanh(-z).",
        lambda x, y_prev, r, W, b: tanh(-(_cat(x, r * y_prev) @ W.T + b)),
    ),
    Mistake(
        "missing bias b_a",
        "add b_a after the product.",
        lambda x, y_prev, r, W, b: tanh(_cat(x, r * y_prev) @ W.T),
    ),
    Mistake(
        "[r * y_prev, x] order",
        "W_a[:, :D] acts on x_t: concatenate [x, r * y_prev].",
        lambda x, y_prev, r, W, b: tanh(_cat(r * y_prev, x) @ W.T + b),
    ),
]

_NEW_STATE = [
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
    Mistake(
        "new input dropped (s = f*s_prev)",
        "add the written part I_t * a_t.",
        lambda f, I, a, s_prev: f * s_prev,
    ),
]

_LSTM_FINAL = [
    Mistake("O*s without tanh", "y_t = O_t * tanh(s_t): squash the state first.", lambda O, s: O * s),
    Mistake("tanh applied after the product (tanh(O*s))", "y_t = O_t * tanh(s_t).", lambda O, s: tanh(O * s)),
    Mistake("sigmoid instead of tanh", "the state is squashed with tanh.", lambda O, s: O * sigmoid(s)),
    Mistake("output gate ignored", "multiply by O_t.", lambda O, s: tanh(s)),
]

_GRU_FINAL = [
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
]


def _lstm_step(
    x,
    y_prev,
    s_prev,
    p,
    memo=False,
    no_tanh=False,
    old_state=False,
    swap_fi=False,
    swap_io=False,
    order=False,
    swap_return=False,
):
    cat = _cat(y_prev, x) if order else _cat(x, y_prev)
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


_LSTM_STEP = [
    Mistake(
        "the memo's forget-less state update (s = I*a + s_prev)",
        "use new_state: s_t = f_t * s_(t-1) + I_t * a_t.",
        lambda *a: _lstm_step(*a, memo=True),
    ),
    Mistake("O*s without tanh", "y_t = O_t * tanh(s_t).", lambda *a: _lstm_step(*a, no_tanh=True)),
    Mistake(
        "old state used where the new belongs (y = O*tanh(s_prev))",
        "compute s_t first and use it in final_output.",
        lambda *a: _lstm_step(*a, old_state=True),
    ),
    Mistake(
        "gate parameters swapped (forget gate with W_i, b_i and input gate with W_f, b_f)",
        "pass each gate its own parameters: params.W_f, params.b_f to forget_gate, ...",
        lambda *a: _lstm_step(*a, swap_fi=True),
    ),
    Mistake(
        "gate parameters swapped (input gate and output gate)",
        "pass each gate its own parameters.",
        lambda *a: _lstm_step(*a, swap_io=True),
    ),
    Mistake(
        "[y_prev, x] order",
        "every gate reads [x_t, y_(t-1)], in that order.",
        lambda *a: _lstm_step(*a, order=True),
    ),
    Mistake(
        "(s, y) returned instead of (y, s)",
        "return y first, then s.",
        lambda *a: _lstm_step(*a, swap_return=True),
    ),
]


def _gru_step(x, y_prev, p, pytorch_mix=False, no_reset=False, reset_after=False, swap=False, order=False):
    W_r, b_r, W_u, b_u = (p.W_u, p.b_u, p.W_r, p.b_r) if swap else (p.W_r, p.b_r, p.W_u, p.b_u)
    cat = _cat(y_prev, x) if order else _cat(x, y_prev)
    r = sigmoid(cat @ W_r.T + b_r)
    u = sigmoid(cat @ W_u.T + b_u)
    if order:
        a = tanh(_cat(r * y_prev, x) @ p.W_a.T + p.b_a)
    else:
        a = _gru_act(x, y_prev, r, p.W_a, p.b_a, after=reset_after, use_r=not no_reset)
    return u * y_prev + (1 - u) * a if pytorch_mix else (1 - u) * y_prev + u * a


_GRU_STEP = [
    Mistake(
        "PyTorch's mix (u and 1-u swapped)",
        "y_t = (1 - u_t) * y_(t-1) + u_t * a_t.",
        lambda *a: _gru_step(*a, pytorch_mix=True),
    ),
    Mistake(
        "reset gate not applied", "pass r_t to input_activation.", lambda *a: _gru_step(*a, no_reset=True)
    ),
    Mistake(
        "reset gate applied after the product (PyTorch's form)",
        "the memo scales y_(t-1) before the product.",
        lambda *a: _gru_step(*a, reset_after=True),
    ),
    Mistake(
        "gate parameters swapped (reset gate with W_u, b_u and update gate with W_r, b_r)",
        "pass each gate its own parameters.",
        lambda *a: _gru_step(*a, swap=True),
    ),
    Mistake(
        "[y_prev, x] order",
        "every block reads [x_t, ...y_(t-1)], in that order.",
        lambda *a: _gru_step(*a, order=True),
    ),
]

_RNN_STEP = [
    Mistake(
        "sigmoid instead of tanh",
        "the basic RNN squashes with tanh.",
        lambda x, s, W, b: sigmoid(_cat(x, s) @ W.T + b),
    ),
    Mistake("sign slip in tanh", "tanh(z), not tanh(-z).", lambda x, s, W, b: tanh(-(_cat(x, s) @ W.T + b))),
    Mistake("missing bias b", "add b after the product.", lambda x, s, W, b: tanh(_cat(x, s) @ W.T)),
    Mistake(
        "[s_prev, x] order",
        "W[:, :D] acts on x_t: concatenate [x, s_prev].",
        lambda x, s, W, b: tanh(_cat(s, x) @ W.T + b),
    ),
    Mistake("no activation", "apply tanh.", lambda x, s, W, b: _cat(x, s) @ W.T + b),
    Mistake(
        "previous state ignored",
        "W[:, D:] multiplies s_(t-1).",
        lambda x, s, W, b: tanh(x @ W[:, : x.shape[-1]].T + b),
    ),
]


def _rnn_backward(x, s_prev, W, b, ds, no_dtanh=False, pre=False, no_prev=False, swap=False):
    D = x.shape[-1]
    z = _cat(x, s_prev)
    pre_act = z @ W.T + b
    s = tanh(pre_act)
    dpre = ds if no_dtanh else ds * ((1 - pre_act**2) if pre else dtanh_from_output(s))
    dW = np.atleast_2d(dpre).T @ np.atleast_2d(z)
    db = np.atleast_2d(dpre).sum(axis=0)
    dz = dpre @ W
    dx, dprev = dz[..., :D], dz[..., D:]
    if no_prev:
        dprev = np.zeros_like(dprev)
    if swap:
        H = s_prev.shape[-1]
        dx, dprev = dz[..., H:], dz[..., :H]
    return dx, dprev, dW, db


_RNN_BACKWARD = [
    Mistake(
        "missing tanh derivative",
        "multiply ds by tanh'(pre) = 1 - s_t^2 before the product.",
        lambda *a: _rnn_backward(*a, no_dtanh=True),
    ),
    Mistake(
        "tanh derivative written with the pre-activation (1 - z^2)",
        "tanh' = 1 - tanh(z)^2 = 1 - s_t^2, written with the output s_t.",
        lambda *a: _rnn_backward(*a, pre=True),
    ),
    Mistake(
        "no gradient path to the previous state (ds_prev = 0)",
        "s_(t-1) feeds the step through W[:, D:]: ds_prev = (dpre @ W)[:, D:].",
        lambda *a: _rnn_backward(*a, no_prev=True),
    ),
    Mistake(
        "dx and ds_prev taken from the wrong columns",
        "the first D columns of dpre @ W belong to x_t.",
        lambda *a: _rnn_backward(*a, swap=True),
    ),
]


def _lstm_backward(
    x,
    y_prev,
    s_prev,
    p,
    dy,
    ds,
    memo_form=False,
    no_dtanh_s=False,
    no_y_path=False,
    no_ds=False,
    no_f_in_prev=False,
    memo_for_standard=False,
    sig_for_a=False,
):
    D = x.shape[-1]
    z = _cat(x, y_prev)
    f = sigmoid(z @ p.W_f.T + p.b_f)
    I = sigmoid(z @ p.W_i.T + p.b_i)
    a = tanh(z @ p.W_a.T + p.b_a)
    O = sigmoid(z @ p.W_o.T + p.b_o)
    memo = memo_form or memo_for_standard
    s = I * a + s_prev if memo_form else f * s_prev + I * a
    ts = tanh(s)
    through_y = dy * O * (1 if no_dtanh_s else dtanh_from_output(ts))
    ds_total = (0 if no_ds else ds) + (0 if no_y_path else through_y)
    ds_total = ds_total + np.zeros_like(s)
    dO = dy * ts
    dI, da = ds_total * a, ds_total * I
    if memo:
        dpre_f, ds_prev = np.zeros_like(ds_total), ds_total
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
    dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o
    return dz[..., :D], dz[..., D:], ds_prev, grads


_LSTM_BACKWARD = [
    Mistake(
        "missing tanh derivative on the state (through y = O * tanh(s))",
        "dL/ds_t gets dy * O_t * (1 - tanh(s_t)^2) from y_t.",
        lambda *a, **k: _lstm_backward(*a, **k, no_dtanh_s=True),
    ),
    Mistake(
        "no gradient path from y_t into the state",
        "add dy * O_t * tanh'(s_t) to ds.",
        lambda *a, **k: _lstm_backward(*a, **k, no_y_path=True),
    ),
    Mistake(
        "gradient from the next step (ds) ignored",
        "the state's gradient from step t+1 adds to the one via y_t.",
        lambda *a, **k: _lstm_backward(*a, **k, no_ds=True),
    ),
    Mistake(
        "ds_prev without the forget gate",
        "s_t = f_t * s_(t-1) + ...: ds_prev = dL/ds_t * f_t.",
        lambda *a, **k: _lstm_backward(*a, **k, no_f_in_prev=True),
    ),
    Mistake(
        "the memo's forget-less backward used for the standard LSTM",
        "with memo_form=False the state update uses f_t: include its gradient.",
        lambda *a, **k: _lstm_backward(*a, **k, memo_for_standard=True),
    ),
    Mistake(
        "sigmoid derivative used for the tanh input activation",
        "a_t = tanh(...): its derivative is 1 - a_t^2.",
        lambda *a, **k: _lstm_backward(*a, **k, sig_for_a=True),
    ),
]


def _gru_backward(x, y_prev, p, dy, no_r=False, pytorch=False, no_direct=False, no_dtanh=False):
    D = x.shape[-1]
    z = _cat(x, y_prev)
    r = sigmoid(z @ p.W_r.T + p.b_r)
    u = sigmoid(z @ p.W_u.T + p.b_u)
    z_a = _cat(x, r * y_prev)
    a = tanh(z_a @ p.W_a.T + p.b_a)
    mix = 1 - u if pytorch else u
    du = dy * (a - y_prev) * (-1 if pytorch else 1)
    da = dy * mix
    dy_prev = np.zeros_like(dy) if no_direct else dy * (1 - mix)
    dpre_a = da if no_dtanh else da * dtanh_from_output(a)
    dz_a = dpre_a @ p.W_a
    dry = dz_a[..., D:]
    dr = np.zeros_like(dry) if no_r else dry * y_prev
    dy_prev = dy_prev + dry * r
    dpre_r = dr * dsigmoid_from_output(r)
    dpre_u = du * dsigmoid_from_output(u)
    dz = dpre_r @ p.W_r + dpre_u @ p.W_u
    z2 = np.atleast_2d(z)
    grads = gru.GRUParams(
        np.atleast_2d(dpre_r).T @ z2,
        np.atleast_2d(dpre_r).sum(axis=0),
        np.atleast_2d(dpre_u).T @ z2,
        np.atleast_2d(dpre_u).sum(axis=0),
        np.atleast_2d(dpre_a).T @ np.atleast_2d(z_a),
        np.atleast_2d(dpre_a).sum(axis=0),
    )
    return dz_a[..., :D] + dz[..., :D], dy_prev + dz[..., D:], grads


_GRU_BACKWARD = [
    Mistake(
        "no gradient through the reset gate",
        "r_t scales y_(t-1) inside a_t: dL/dr_t = dL/d(r*y_prev) * y_prev.",
        lambda *a: _gru_backward(*a, no_r=True),
    ),
    Mistake(
        "PyTorch's mix (u and 1-u swapped)",
        "y_t = (1 - u_t) y_(t-1) + u_t a_t.",
        lambda *a: _gru_backward(*a, pytorch=True),
    ),
    Mistake(
        "missing direct path dy * (1 - u) to y_prev",
        "y_(t-1) reaches y_t directly with weight 1 - u_t.",
        lambda *a: _gru_backward(*a, no_direct=True),
    ),
    Mistake(
        "missing tanh derivative in the input activation",
        "multiply by 1 - a_t^2.",
        lambda *a: _gru_backward(*a, no_dtanh=True),
    ),
]


def _unroll(cell, xs, state0, params, no_pass=False, reverse=False, final0=False, shifted=False):
    ys, state = [], state0
    for x in xs:
        y, new = cell.step(x, state0 if no_pass else state, params)
        ys.append(state[0] if shifted else y)
        state = new
    ys = ys[::-1] if reverse else ys
    return np.stack(ys), (state0 if final0 else state)


_UNROLL = [
    Mistake(
        "state not passed on (the initial state at every step)",
        "feed each step the state the previous one returned.",
        lambda *a: _unroll(*a, no_pass=True),
    ),
    Mistake(
        "outputs in reverse time order",
        "ys[t] is the output of step t.",
        lambda *a: _unroll(*a, reverse=True),
    ),
    Mistake(
        "the initial state returned as the final state",
        "return the state after the last step.",
        lambda *a: _unroll(*a, final0=True),
    ),
    Mistake(
        "each step's incoming state returned instead of its output",
        "collect the y each step returns.",
        lambda *a: _unroll(*a, shifted=True),
    ),
]


def _bptt(
    cell,
    xs,
    state0,
    params,
    dys,
    dstate_T=None,
    no_carry=False,
    last_only=False,
    ignore_T=False,
    forwards=False,
    no_dys=False,
    kept=False,
):
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


_BPTT = [
    Mistake(
        "no gradient path through the state (dstate not carried to the step before)",
        "pass the dstate each step returns on to the previous step.",
        lambda *a: _bptt(*a, no_carry=True),
    ),
    Mistake(
        "no gradient path through the state (the same dstate given to every step)",
        "each step returns dL/d(state_(t-1)): pass it on to step t-1 and return the last one as dstate0.",
        lambda *a: _bptt(*a, kept=True),
    ),
    Mistake(
        "parameter gradients not summed over time",
        "the parameters are shared by every step: add their gradients.",
        lambda *a: _bptt(*a, last_only=True),
    ),
    Mistake(
        "dstate_T ignored",
        "start the backward walk from dstate_T when it is given.",
        lambda *a: _bptt(*a, ignore_T=True),
    ),
    Mistake("steps walked forwards in time", "go from t = T down to 1.", lambda *a: _bptt(*a, forwards=True)),
    Mistake("dys ignored", "each step receives dys[t] from above.", lambda *a: _bptt(*a, no_dys=True)),
]


def _stacked(
    cell, xs, states0, layer_params, same_input=False, first_params=False, first_out=False, rev=False
):
    states, inputs, first = [], xs, None
    for l, (state0, params) in enumerate(zip(states0, layer_params, strict=True)):
        ys, state = sequence.unroll(
            cell, xs if same_input else inputs, state0, layer_params[0] if first_params else params
        )
        first = ys if first is None else first
        inputs = ys
        states.append(state)
        del l
    return (first if first_out else inputs), (states[::-1] if rev else states)


_STACKED = [
    Mistake(
        "every layer reads xs (not the layer below)",
        "layer l + 1 reads the outputs of layer l.",
        lambda *a: _stacked(*a, same_input=True),
    ),
    Mistake(
        "the first layer's parameters used for every layer",
        "zip states0 with layer_params.",
        lambda *a: _stacked(*a, first_params=True),
    ),
    Mistake(
        "the first layer's outputs returned",
        "return the top layer's outputs.",
        lambda *a: _stacked(*a, first_out=True),
    ),
    Mistake(
        "final states in reverse order",
        "list the final states layer 1 first.",
        lambda *a: _stacked(*a, rev=True),
    ),
]


def _stacked_backward(
    cell, xs, states0, layer_params, dys, dstates_T=None, all_dys=False, rev=False, no_pass=False
):
    L = len(layer_params)
    inputs, layer_inputs = xs, []
    for state0, params in zip(states0, layer_params, strict=True):
        layer_inputs.append(inputs)
        inputs, _ = sequence.unroll(cell, inputs, state0, params)
    dstates0, dparams, d_out = [None] * L, [None] * L, dys
    for l in reversed(range(L)):
        given = dys if all_dys else (np.zeros_like(d_out) if no_pass and l < L - 1 else d_out)
        d_out, dstates0[l], dparams[l] = sequence.bptt(
            cell, layer_inputs[l], states0[l], layer_params[l], given
        )
    return d_out, dstates0, (dparams[::-1] if rev else dparams)


_STACKED_BACKWARD = [
    Mistake(
        "dys given to every layer",
        "the layer below receives the dxs the layer above returns.",
        lambda *a: _stacked_backward(*a, all_dys=True),
    ),
    Mistake(
        "gradients not passed down (lower layers get zero)",
        "pass each layer's dxs on to the layer below.",
        lambda *a: _stacked_backward(*a, no_pass=True),
    ),
    Mistake(
        "layer gradients in reverse order",
        "dlayer_params[l] belongs to layer_params[l].",
        lambda *a: _stacked_backward(*a, rev=True),
    ),
]

MISTAKES = {
    "rnn.rnn_step": _RNN_STEP,
    "lstm.forget_gate": _sigmoid_gate_mistakes("W_f", "b_f"),
    "lstm.input_gate": _sigmoid_gate_mistakes("W_i", "b_i"),
    "lstm.input_activation": _tanh_gate_mistakes("W_a", "b_a"),
    "lstm.output_gate": _sigmoid_gate_mistakes("W_o", "b_o"),
    "lstm.new_state": _NEW_STATE,
    "lstm.final_output": _LSTM_FINAL,
    "lstm.lstm_step": _LSTM_STEP,
    "gru.reset_gate": _sigmoid_gate_mistakes("W_r", "b_r"),
    "gru.update_gate": _sigmoid_gate_mistakes("W_u", "b_u"),
    "gru.input_activation": _GRU_ACT,
    "gru.final_output": _GRU_FINAL,
    "gru.gru_step": _GRU_STEP,
    "rnn.rnn_step_backward": _RNN_BACKWARD,
    "lstm.lstm_step_backward": _LSTM_BACKWARD,
    "gru.gru_step_backward": _GRU_BACKWARD,
    "sequence.unroll": _UNROLL,
    "sequence.bptt": _BPTT,
    "multilayer.stacked_forward": _STACKED,
    "multilayer.stacked_backward": _STACKED_BACKWARD,
}

# Kept importable for readers comparing with the reference.
_REFERENCE_MODULES = (gru, lstm, multilayer, rnn, sequence)


def mistake_outputs(case, args, kwargs):
    """[(name, hint, output or None)] of every known mistake of the case's check on
    (float64) ``args``; a mistake that cannot run on these inputs gives None."""
    out = []
    for m in MISTAKES.get(case.check_id, []):
        try:
            with np.errstate(all="ignore"):
                value = m.function(*args, **kwargs)
        except Exception:  # noqa: BLE001 - e.g. shapes that only fit when D = H
            value = None
        out.append((m.name, m.hint, value))
    return out
