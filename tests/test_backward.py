"""Backward passes (one step, BPTT over a sequence, stacked layers) against
numerical gradients.

The oracle is the numerical gradient of a random scalar loss
    L = sum(dy * y) + sum(dstate * final state)
so that dL/dy = dy and dL/d(state) = dstate are exactly the gradients handed to the
backward pass. The numerical gradient is ``extrapolated_gradient`` (two centred
differences from ``numerical_gradient`` combined), accurate to ~1e-12 in float64,
so that every element, including those whose gradient is close to zero, is held
to a relative error of 1e-7.
"""

import numpy as np
import pytest

from rnnkit import CELLS, GRU, LSTM, LSTM_MEMO, RNN
from rnnkit.gradcheck import extrapolated_gradient, relative_error
from rnnkit.gru import GRUParams, gru_step, gru_step_backward
from rnnkit.lstm import LSTMParams, lstm_step, lstm_step_backward, memo_lstm_step
from rnnkit.multilayer import stacked_backward, stacked_forward
from rnnkit.rnn import rnn_step, rnn_step_backward
from rnnkit.sequence import bptt, unroll

TOL = 1e-7
D, H, B, T = 3, 4, 2, 5


def random_params(cell, D, H, rng, dtype=np.float64):
    """Parameters a little larger than the default initialisation, so that the
    gates work in their nonlinear range."""
    params = cell.init_params(D, H, rng)
    return type(params)(*(np.asarray(1.5 * p, dtype) for p in params))


def away_from_zero(rng, shape, dtype=np.float64):
    """Random numbers of either sign with magnitudes in [0.5, 1.5].

    Inputs, states and output weights close to zero would make whole rows or
    columns of a gradient close to zero, and there the relative error measures
    rounding rather than the formula."""
    return (rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)).astype(dtype)


def random_state(cell, shape, rng, dtype=np.float64):
    return tuple(away_from_zero(rng, shape, dtype) for _ in cell.state_names)


def linear_loss(weights_and_values):
    """sum over pairs of sum(weight * value): the loss whose gradient is each weight."""
    return sum(np.sum(w * v) for w, v in weights_and_values)


def assert_gradients(loss, named):
    """named: list of (name, array the loss reads, analytic gradient)."""
    errors = {}
    for name, array, analytic in named:
        assert analytic.shape == array.shape, name
        errors[name] = relative_error(analytic, extrapolated_gradient(loss, array))
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOL, f"{worst}: relative error {errors[worst]:.2e}; all: {errors}"


def step_shapes(batched):
    return ((B, D), (B, H)) if batched else ((D,), (H,))


# ---------------------------------------------------------------- one step


@pytest.mark.parametrize("batched", [True, False])
def test_rnn_step_backward(batched):
    rng = np.random.default_rng(1)
    x_shape, s_shape = step_shapes(batched)
    W, b = random_params(RNN, D, H, rng)
    x, s_prev, ds = away_from_zero(rng, x_shape), away_from_zero(rng, s_shape), away_from_zero(rng, s_shape)

    dx, ds_prev, dW, db = rnn_step_backward(x, s_prev, W, b, ds)

    def loss():
        return np.sum(ds * rnn_step(x, s_prev, W, b))

    assert_gradients(loss, [("x", x, dx), ("s_prev", s_prev, ds_prev), ("W", W, dW), ("b", b, db)])


@pytest.mark.parametrize("memo_form", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_lstm_step_backward(batched, memo_form):
    rng = np.random.default_rng(2)
    x_shape, s_shape = step_shapes(batched)
    params = random_params(LSTM, D, H, rng)
    x, y_prev, s_prev = (away_from_zero(rng, shape) for shape in (x_shape, s_shape, s_shape))
    dy, ds = away_from_zero(rng, s_shape), away_from_zero(rng, s_shape)
    step = memo_lstm_step if memo_form else lstm_step

    dx, dy_prev, ds_prev, grads = lstm_step_backward(x, y_prev, s_prev, params, dy, ds, memo_form=memo_form)

    def loss():
        return linear_loss(zip((dy, ds), step(x, y_prev, s_prev, params), strict=True))

    named = [("x", x, dx), ("y_prev", y_prev, dy_prev), ("s_prev", s_prev, ds_prev)]
    named += list(zip(LSTMParams._fields, params, grads, strict=True))
    assert isinstance(grads, LSTMParams)
    assert_gradients(loss, named)


@pytest.mark.parametrize("batched", [True, False])
def test_gru_step_backward(batched):
    rng = np.random.default_rng(3)
    x_shape, s_shape = step_shapes(batched)
    params = random_params(GRU, D, H, rng)
    x, y_prev, dy = away_from_zero(rng, x_shape), away_from_zero(rng, s_shape), away_from_zero(rng, s_shape)

    dx, dy_prev, grads = gru_step_backward(x, y_prev, params, dy)

    def loss():
        return np.sum(dy * gru_step(x, y_prev, params))

    named = [("x", x, dx), ("y_prev", y_prev, dy_prev)]
    named += list(zip(GRUParams._fields, params, grads, strict=True))
    assert isinstance(grads, GRUParams)
    assert_gradients(loss, named)


def test_memo_form_gives_the_forget_gate_zero_gradient():
    rng = np.random.default_rng(4)
    params = random_params(LSTM, D, H, rng)
    x, y_prev, s_prev = away_from_zero(rng, (B, D)), away_from_zero(rng, (B, H)), away_from_zero(rng, (B, H))
    dy, ds = away_from_zero(rng, (B, H)), away_from_zero(rng, (B, H))

    *_, memo_grads = lstm_step_backward(x, y_prev, s_prev, params, dy, ds, memo_form=True)
    assert np.all(memo_grads.W_f == 0) and np.all(memo_grads.b_f == 0)
    # The standard form does train the forget gate (so the check above can fail).
    *_, grads = lstm_step_backward(x, y_prev, s_prev, params, dy, ds)
    assert np.all(grads.W_f != 0) and np.all(grads.b_f != 0)

    # The memo's s_t = I_t * a_t + s_{t-1} passes dL/ds_t back unchanged (no f_t to scale it).
    _, _, ds_prev, _ = lstm_step_backward(x, y_prev, s_prev, params, 0 * dy, ds, memo_form=True)
    np.testing.assert_array_equal(ds_prev, ds)

    # Over a whole sequence too.
    xs = away_from_zero(rng, (T, B, D))
    dys = away_from_zero(rng, (T, B, H))
    _, _, seq_grads = bptt(LSTM_MEMO, xs, (y_prev, s_prev), params, dys, (dy, ds))
    assert np.all(seq_grads.W_f == 0) and np.all(seq_grads.b_f == 0)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("with_dstate", [True, False])
def test_cell_step_backward(name, with_dstate):
    cell = CELLS[name]
    rng = np.random.default_rng(5)
    params = random_params(cell, D, H, rng)
    x, state = away_from_zero(rng, (B, D)), random_state(cell, (B, H), rng)
    dy = away_from_zero(rng, (B, H))
    dstate = random_state(cell, (B, H), rng) if with_dstate else None

    dx, dstate_prev, dparams = cell.step_backward(x, state, params, dy, dstate)
    assert isinstance(dstate_prev, tuple) and len(dstate_prev) == len(state)
    assert isinstance(dparams, cell.Params)

    def loss():
        y, new_state = cell.step(x, state, params)
        total = np.sum(dy * y)
        if dstate is not None:
            total += linear_loss(zip(dstate, new_state, strict=True))
        return total

    named = [("x", x, dx)]
    named += [(n + "_prev", s, d) for n, s, d in zip(cell.state_names, state, dstate_prev, strict=True)]
    named += list(zip(params._fields, params, dparams, strict=True))
    assert_gradients(loss, named)


# ---------------------------------------------------------------- sequences


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("with_dstate_T", [True, False])
def test_bptt(name, with_dstate_T):
    cell = CELLS[name]
    rng = np.random.default_rng(6)
    params = random_params(cell, D, H, rng)
    xs, state0 = away_from_zero(rng, (T, B, D)), random_state(cell, (B, H), rng)
    dys = away_from_zero(rng, (T, B, H))
    dstate_T = random_state(cell, (B, H), rng) if with_dstate_T else None

    dxs, dstate0, dparams = bptt(cell, xs, state0, params, dys, dstate_T)
    assert isinstance(dparams, cell.Params)

    def loss():
        ys, state_T = unroll(cell, xs, state0, params)
        total = np.sum(dys * ys)
        if dstate_T is not None:
            total += linear_loss(zip(dstate_T, state_T, strict=True))
        return total

    named = [("xs", xs, dxs)]
    named += [(n + "_0", s, d) for n, s, d in zip(cell.state_names, state0, dstate0, strict=True)]
    named += list(zip(params._fields, params, dparams, strict=True))
    assert_gradients(loss, named)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_bptt_unbatched(name):
    cell = CELLS[name]
    rng = np.random.default_rng(7)
    params = random_params(cell, D, H, rng)
    xs, state0 = away_from_zero(rng, (T, D)), random_state(cell, (H,), rng)
    dys, dstate_T = away_from_zero(rng, (T, H)), random_state(cell, (H,), rng)

    dxs, dstate0, dparams = bptt(cell, xs, state0, params, dys, dstate_T)

    def loss():
        ys, state_T = unroll(cell, xs, state0, params)
        return np.sum(dys * ys) + linear_loss(zip(dstate_T, state_T, strict=True))

    named = [("xs", xs, dxs)]
    named += [(n + "_0", s, d) for n, s, d in zip(cell.state_names, state0, dstate0, strict=True)]
    named += list(zip(params._fields, params, dparams, strict=True))
    assert_gradients(loss, named)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("sizes", [(4, 2, 5), (3, 6)])
def test_stacked_backward(name, sizes):
    cell = CELLS[name]
    rng = np.random.default_rng(8)
    layer_params, states0, dstates_T = [], [], []
    inputs = D
    for size in sizes:
        layer_params.append(random_params(cell, inputs, size, rng))
        states0.append(random_state(cell, (B, size), rng))
        dstates_T.append(random_state(cell, (B, size), rng))
        inputs = size
    xs = away_from_zero(rng, (T, B, D))
    dys = away_from_zero(rng, (T, B, sizes[-1]))

    dxs, dstates0, dlayer_params = stacked_backward(cell, xs, states0, layer_params, dys, dstates_T)
    assert len(dstates0) == len(dlayer_params) == len(sizes)

    def loss():
        ys, states_T = stacked_forward(cell, xs, states0, layer_params)
        total = np.sum(dys * ys)
        for dstate_T, state_T in zip(dstates_T, states_T, strict=True):
            total += linear_loss(zip(dstate_T, state_T, strict=True))
        return total

    named = [("xs", xs, dxs)]
    for l, (state0, dstate0, params, dparams) in enumerate(
        zip(states0, dstates0, layer_params, dlayer_params, strict=True)
    ):
        named += [
            (f"layer{l}.{n}_0", s, d) for n, s, d in zip(cell.state_names, state0, dstate0, strict=True)
        ]
        named += [(f"layer{l}.{f}", p, d) for f, p, d in zip(params._fields, params, dparams, strict=True)]
    assert_gradients(loss, named)


def test_stacked_backward_without_final_state_gradients_is_bptt_of_the_outputs():
    # Loss on the top outputs only: the same as passing zero final-state gradients.
    rng = np.random.default_rng(9)
    layer_params = [random_params(GRU, D, 4, rng), random_params(GRU, 4, 3, rng)]
    states0 = [random_state(GRU, (B, 4), rng), random_state(GRU, (B, 3), rng)]
    xs, dys = away_from_zero(rng, (T, B, D)), away_from_zero(rng, (T, B, 3))
    zeros = [tuple(np.zeros_like(s) for s in state) for state in states0]

    dxs, dstates0, dlayer_params = stacked_backward(GRU, xs, states0, layer_params, dys)

    def loss():
        return np.sum(dys * stacked_forward(GRU, xs, states0, layer_params)[0])

    named = [("xs", xs, dxs), ("layer0.y_0", states0[0][0], dstates0[0][0])]
    named += [("layer1." + f, p, d) for f, p, d in zip(GRUParams._fields, layer_params[1], dlayer_params[1],
                                                       strict=True)]
    assert_gradients(loss, named)
    again = stacked_backward(GRU, xs, states0, layer_params, dys, zeros)
    np.testing.assert_array_equal(again[0], dxs)


# ---------------------------------------------------------------- contracts


def step_backward_call(name, x, state, params, dy, ds):
    """Call the module-level backward of a cell by name; return a flat list of arrays."""
    if name == "rnn":
        return list(rnn_step_backward(x, state[0], params.W, params.b, dy + ds[0]))
    if name == "gru":
        dx, dy_prev, grads = gru_step_backward(x, state[0], params, dy + ds[0])
        return [dx, dy_prev, *grads]
    dx, dy_prev, ds_prev, grads = lstm_step_backward(
        x, state[0], state[1], params, dy + ds[0], ds[1], memo_form=(name == "lstm_memo")
    )
    return [dx, dy_prev, ds_prev, *grads]


@pytest.mark.parametrize("name", sorted(CELLS))
def test_step_backward_keeps_float32_and_leaves_inputs_alone(name):
    cell = CELLS[name]
    rng = np.random.default_rng(10)
    f32 = np.float32
    params = random_params(cell, D, H, rng, f32)
    x, state = away_from_zero(rng, (B, D)).astype(f32), random_state(cell, (B, H), rng, f32)
    dy, ds = away_from_zero(rng, (B, H)).astype(f32), random_state(cell, (B, H), rng, f32)
    inputs = [x, *state, *params, dy, *ds]
    copies = [a.copy() for a in inputs]

    outputs = step_backward_call(name, x, state, params, dy, ds)
    dx, dstate_prev, dparams = cell.step_backward(x, state, params, dy, ds)
    xs, dys = away_from_zero(rng, (T, B, D)).astype(f32), away_from_zero(rng, (T, B, H)).astype(f32)
    seq_outputs = bptt(cell, xs, state, params, dys, ds)

    for out in [*outputs, dx, *dstate_prev, *dparams, seq_outputs[0], *seq_outputs[1], *seq_outputs[2]]:
        assert out.dtype == f32
    for array, copy in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_step_backward_rows_are_independent(name):
    # Unbatched call on row k == row k of the batched call, for dx and the state
    # gradients; parameter gradients of the batch == the sum of the rows'.
    cell = CELLS[name]
    rng = np.random.default_rng(11)
    params = random_params(cell, D, H, rng)
    x, state = away_from_zero(rng, (B, D)), random_state(cell, (B, H), rng)
    dy, ds = away_from_zero(rng, (B, H)), random_state(cell, (B, H), rng)
    n_rows = len(cell.state_names) + 1  # dx and one gradient per state array

    batched = step_backward_call(name, x, state, params, dy, ds)
    rows = [
        step_backward_call(name, x[k], tuple(s[k] for s in state), params, dy[k], tuple(d[k] for d in ds))
        for k in range(B)
    ]
    for i, out in enumerate(batched):
        if i < n_rows:
            for k in range(B):
                np.testing.assert_allclose(rows[k][i], out[k], rtol=1e-13, atol=1e-15)
        else:
            np.testing.assert_allclose(sum(row[i] for row in rows), out, rtol=1e-12, atol=1e-15)
            assert rows[0][i].shape == out.shape
