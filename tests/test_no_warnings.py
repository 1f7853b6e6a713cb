"""No function of rnnkit warns for finite inputs, however large.

Under nbgrader any output on stderr (a numpy RuntimeWarning included) scores a
test cell 0, so a correct function must never print one. Every call here runs
with all warnings turned into errors and numpy's overflow / divide / invalid
flags set to raise; the outputs must be finite and in their range.

Inputs: pre-activations of every size up to |z| = 1e4 (beyond exp's overflow at
709 in float64 and 88 in float32), and for sigmoid and tanh the whole finite
range of float32 and float64 (largest values, the smallest normal and subnormal
numbers, signed zeros). The cells are also run with float32 inputs up to 1e30
and float64 up to 1e300: pre-activations stay finite, so they must not warn either.
"""

import warnings

import numpy as np
import pytest

import rnnkit
from rnnkit import GRU, LSTM, LSTM_MEMO, RNN, activations, gru, lstm, multilayer, rnn, sequence

DTYPES = ["float32", "float64"]
CELLS = {"rnn": RNN, "lstm": LSTM, "lstm_memo": LSTM_MEMO, "gru": GRU}


def strict(fn, *args, **kwargs):
    """Call fn with every warning an error and numpy's floating-point errors raising.
    (Underflow to 0 is not an error: numpy never reports it by default.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            return fn(*args, **kwargs)


def finite(*arrays):
    for a in arrays:
        for leaf in (a if isinstance(a, (tuple, list)) else [a]):
            if isinstance(leaf, (tuple, list)):
                finite(*leaf)
            else:
                assert np.isfinite(leaf).all(), "non-finite output"


def extremes(dtype):
    """Every kind of finite number of this dtype, both signs: the largest, large
    moderate values around exp's overflow points, 1e4, ordinary values, the
    smallest normal and subnormal numbers, and zero."""
    info = np.finfo(dtype)
    positive = [info.max, info.max / 2, 1e30 if dtype == "float32" else 1e300, 1e4, 745.2, 710.0, 709.0,
                89.0, 88.7, 40.0, 36.8, 17.0, 1.0, 1e-3, info.tiny, info.smallest_subnormal]
    values = np.array(positive, dtype=dtype)
    return np.concatenate([values, -values, np.array([0.0, -0.0], dtype=dtype)])


# ---------------------------------------------------------------- activations

@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_any_finite_input(dtype):
    z = extremes(dtype)
    g = strict(activations.sigmoid, z)
    assert g.dtype == np.dtype(dtype)
    finite(g)
    assert ((g >= 0) & (g <= 1)).all()
    # the ends are reached exactly, the middle is 1/2, and sigma(-z) = 1 - sigma(z)
    assert strict(activations.sigmoid, np.array(1e4, dtype)) == 1.0
    assert strict(activations.sigmoid, np.array(-1e4, dtype)) == 0.0
    assert strict(activations.sigmoid, np.array(0.0, dtype)) == 0.5
    tol = 1e-6 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(g + strict(activations.sigmoid, -z), 1.0, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_dense_grid_up_to_1e4(dtype):
    z = np.linspace(-1e4, 1e4, 200_001, dtype=dtype)
    g = strict(activations.sigmoid, z)
    finite(g)
    assert ((g >= 0) & (g <= 1)).all()
    assert (np.diff(g) >= 0).all()  # monotone


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_any_finite_input(dtype):
    z = np.concatenate([extremes(dtype), np.linspace(-1e4, 1e4, 20_001, dtype=dtype)])
    a = strict(activations.tanh, z)
    assert a.dtype == np.dtype(dtype)
    finite(a)
    assert ((a >= -1) & (a <= 1)).all()
    assert strict(activations.tanh, np.array(1e4, dtype)) == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_derivatives_from_saturated_outputs(dtype):
    z = extremes(dtype)
    g = strict(activations.sigmoid, z)
    a = strict(activations.tanh, z)
    dg = strict(activations.dsigmoid_from_output, g)
    da = strict(activations.dtanh_from_output, a)
    finite(dg, da)
    assert ((dg >= 0) & (dg <= 0.25)).all()
    assert ((da >= 0) & (da <= 1)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_of_python_scalars_and_ints(dtype):
    for z in (1e4, -1e4, 800, -800, 0):
        finite(strict(activations.sigmoid, z), strict(activations.tanh, z))


# ---------------------------------------------------------------- cells

def big_case(dtype, magnitude, B=6, D=5, H=4, T=12, seed=0):
    """Inputs whose pre-activations reach about +-magnitude (and every size in between,
    mixed within each row), weights of order 1, previous outputs in [-1, 1]."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(1e-3, magnitude, B * D).reshape(B, D)
    x = (rng.choice([-1.0, 1.0], size=(B, D)) * scales).astype(dtype)
    xs = (rng.choice([-1.0, 1.0], size=(T, B, D)) * np.geomspace(1e-3, magnitude, T)[:, None, None]
          * rng.uniform(0.5, 1.0, size=(T, B, D))).astype(dtype)
    y = rng.uniform(-1, 1, size=(B, H)).astype(dtype)
    s = rng.uniform(-3, 3, size=(B, H)).astype(dtype)

    def weight(n_in, n_out):
        return rng.uniform(-1, 1, size=(n_out, n_in + n_out)).astype(dtype)

    def bias(n):
        return rng.uniform(-1, 1, size=n).astype(dtype)

    return rng, x, xs, y, s, weight, bias


MAGNITUDES = [("float64", 1e4), ("float32", 1e4), ("float32", 1e30), ("float64", 1e300)]
mag_ids = [f"{d}-{m:g}" for d, m in MAGNITUDES]


def in_range(a, low, high):
    assert ((a >= low) & (a <= high)).all(), f"outside [{low}, {high}]"


@pytest.mark.parametrize("dtype,magnitude", MAGNITUDES, ids=mag_ids)
def test_gate_functions(dtype, magnitude):
    rng, x, _, y, s, weight, bias = big_case(dtype, magnitude)
    D, H = x.shape[1], y.shape[1]
    for fn in (lstm.forget_gate, lstm.input_gate, lstm.output_gate, gru.reset_gate, gru.update_gate):
        g = strict(fn, x, y, weight(D, H), bias(H))
        finite(g)
        in_range(g, 0, 1)
        assert g.dtype == np.dtype(dtype)
        # the big rows really saturate (so the extreme path is exercised)
        assert ((g == 0) | (g == 1)).any()
    for fn in (lstm.input_activation, rnn.rnn_step):
        a = strict(fn, x, y, weight(D, H), bias(H))
        finite(a)
        in_range(a, -1, 1)
    r = strict(gru.reset_gate, x, y, weight(D, H), bias(H))
    a = strict(gru.input_activation, x, y, r, weight(D, H), bias(H))
    finite(a)
    in_range(a, -1, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_functions_on_saturated_gates(dtype):
    rng = np.random.default_rng(1)
    shape = (50, 7)
    gate = rng.choice([0.0, 1.0, 0.5, 1e-30], size=shape).astype(dtype)
    act = rng.choice([-1.0, 1.0, 0.0, 0.3], size=shape).astype(dtype)
    s_prev = rng.uniform(-1e4, 1e4, size=shape).astype(dtype)
    s = strict(lstm.new_state, gate, gate[::-1], act, s_prev)
    finite(s, strict(lstm.memo_new_state, gate, act, s_prev))
    assert (np.abs(s) <= np.abs(s_prev) + 1).all()
    y = strict(lstm.final_output, gate, s)
    finite(y)
    in_range(y, -1, 1)
    y_prev = act[::-1]
    y = strict(gru.final_output, gate, y_prev, act)
    finite(y)
    in_range(y, -1, 1)


@pytest.mark.parametrize("dtype,magnitude", MAGNITUDES, ids=mag_ids)
def test_step_functions(dtype, magnitude):
    rng, x, _, y, s, _, _ = big_case(dtype, magnitude)
    D, H = x.shape[1], y.shape[1]
    p_lstm = LSTM.init_params(D, H, rng, dtype)
    y1, s1 = strict(rnnkit.lstm_step, x, y, s, p_lstm)
    finite(y1, s1)
    in_range(y1, -1, 1)
    assert (np.abs(s1) <= np.abs(s) + 1).all()
    y1, s1 = strict(lstm.memo_lstm_step, x, y, s, p_lstm)
    finite(y1, s1)
    in_range(y1, -1, 1)
    y1 = strict(rnnkit.gru_step, x, y, GRU.init_params(D, H, rng, dtype))
    finite(y1)
    in_range(y1, -1, 1)
    p_rnn = RNN.init_params(D, H, rng, dtype)
    finite(strict(rnnkit.rnn_step, x, y, p_rnn.W, p_rnn.b))


@pytest.mark.parametrize("dtype,magnitude", MAGNITUDES, ids=mag_ids)
@pytest.mark.parametrize("name", list(CELLS))
def test_sequences_and_layers(name, dtype, magnitude):
    cell = CELLS[name]
    rng, _, xs, _, _, _, _ = big_case(dtype, magnitude)
    T, B, D = xs.shape
    H = 4
    params = cell.init_params(D, H, rng, dtype)
    state0 = cell.zero_state(B, H, dtype)
    ys, state = strict(rnnkit.unroll, cell, xs, state0, params)
    finite(ys, state)
    in_range(ys, -1, 1)
    assert ys.dtype == np.dtype(dtype)
    layer_params = [params, cell.init_params(H, 3, rng, dtype)]
    states0 = [state0, cell.zero_state(B, 3, dtype)]
    ys2, states = strict(rnnkit.stacked_forward, cell, xs, states0, layer_params)
    finite(ys2, states)
    in_range(ys2, -1, 1)


# ---------------------------------------------------------------- backward passes

@pytest.mark.parametrize("dtype,magnitude", MAGNITUDES, ids=mag_ids)
def test_step_backward_functions(dtype, magnitude):
    rng, x, _, y, s, _, _ = big_case(dtype, magnitude)
    D, H = x.shape[1], y.shape[1]
    dy = rng.normal(size=y.shape).astype(dtype)
    ds = rng.normal(size=y.shape).astype(dtype)
    p = RNN.init_params(D, H, rng, dtype)
    finite(strict(rnn.rnn_step_backward, x, y, p.W, p.b, dy))
    p = LSTM.init_params(D, H, rng, dtype)
    for memo_form in (False, True):
        out = strict(lstm.lstm_step_backward, x, y, s, p, dy, ds, memo_form=memo_form)
        finite(*out)
        assert all(a.dtype == np.dtype(dtype) for a in out[:3])
    finite(*strict(gru.gru_step_backward, x, y, GRU.init_params(D, H, rng, dtype), dy))


@pytest.mark.parametrize("dtype,magnitude", MAGNITUDES, ids=mag_ids)
@pytest.mark.parametrize("name", list(CELLS))
def test_sequence_backward_functions(name, dtype, magnitude):
    cell = CELLS[name]
    rng, x, xs, _, _, _, _ = big_case(dtype, magnitude)
    T, B, D = xs.shape
    H = 4
    params = cell.init_params(D, H, rng, dtype)
    state0 = cell.zero_state(B, H, dtype)
    dy = rng.normal(size=(B, H)).astype(dtype)
    dstate = tuple(rng.normal(size=(B, H)).astype(dtype) for _ in cell.state_names)
    finite(*strict(cell.step_backward, x, state0, params, dy, dstate))
    dys = rng.normal(size=(T, B, H)).astype(dtype)
    dxs, dstate0, dparams = strict(sequence.bptt, cell, xs, state0, params, dys, dstate)
    finite(dxs, dstate0, tuple(dparams))
    assert dxs.dtype == np.dtype(dtype)
    layer_params = [params, cell.init_params(H, 3, rng, dtype)]
    states0 = [state0, cell.zero_state(B, 3, dtype)]
    dys_top = rng.normal(size=(T, B, 3)).astype(dtype)
    dxs, dstates0, dlayer_params = strict(
        multilayer.stacked_backward, cell, xs, states0, layer_params, dys_top)
    finite(dxs, dstates0, [tuple(d) for d in dlayer_params])


# ---------------------------------------------------------------- fast path and training kit

@pytest.mark.parametrize("dtype,magnitude", MAGNITUDES, ids=mag_ids)
@pytest.mark.parametrize("name", list(CELLS))
def test_fast_path(name, dtype, magnitude):
    from rnnkit import fast

    cell = CELLS[name]
    rng, _, xs, _, _, _, _ = big_case(dtype, magnitude)
    T, B, D = xs.shape
    H = 4
    params = cell.init_params(D, H, rng, dtype)
    ys, state, cache = strict(fast.forward, name, xs, None, params)
    finite(ys, state)
    in_range(ys, -1, 1)
    dys = rng.normal(size=ys.shape).astype(dtype)
    dstate_T = tuple(rng.normal(size=(B, H)).astype(dtype) for _ in cell.state_names)
    dxs, dstate0, grads = strict(fast.backward, cache, dys, dstate_T)
    finite(dxs, dstate0, tuple(grads))
    layer_params = [params, cell.init_params(H, 3, rng, dtype)]
    ys, states, caches = strict(fast.stacked_forward, name, xs, None, layer_params)
    finite(ys, states)
    dys = rng.normal(size=ys.shape).astype(dtype)
    dxs, dstates0, layer_grads = strict(fast.stacked_backward, caches, dys)
    finite(dxs, dstates0, [tuple(g) for g in layer_grads])


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_with_huge_scores(dtype):
    from rnnkit import train

    rng = np.random.default_rng(2)
    logits = (rng.choice([-1.0, 1.0], size=(3, 8, 5)) * np.geomspace(1e-3, 1e4, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=(3, 8))
    loss, dlogits = strict(train.softmax_cross_entropy, logits, labels)
    assert np.isfinite(loss) and loss >= 0
    finite(dlogits)
    assert dlogits.dtype == np.dtype(dtype)
    # each position's gradient is (softmax - onehot) / N: it sums to 0 over the classes
    np.testing.assert_allclose(dlogits.sum(axis=-1), 0.0, atol=1e-6 if dtype == "float32" else 1e-15)
    loss, dpred = strict(train.mse, logits, -logits)
    assert np.isfinite(loss)
    finite(dpred)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipping_and_optimisers_with_huge_and_zero_gradients(dtype):
    from rnnkit import train

    rng = np.random.default_rng(3)
    grads = [(rng.normal(size=(4, 6)) * 1e4).astype(dtype), np.zeros(4, dtype)]
    clipped, norm = strict(train.clip_by_global_norm, grads, 1.0)
    assert np.isfinite(norm) and norm > 1e4
    assert np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in clipped)) <= 1.0 + 1e-5
    zero = [np.zeros((4, 6), dtype), np.zeros(4, dtype)]
    clipped, norm = strict(train.clip_by_global_norm, zero, 1.0)
    assert norm == 0.0
    finite(clipped)
    for optimizer in (train.SGD, train.Adam):
        params = [rng.normal(size=(4, 6)).astype(dtype), rng.normal(size=4).astype(dtype)]
        opt = optimizer(params, lr=1e-2)
        for g in (zero, grads, zero):
            strict(opt.step, g)
        finite(params)


@pytest.mark.parametrize("dtype,magnitude", [("float64", 1e4), ("float32", 1e4)])
@pytest.mark.parametrize("name", list(CELLS))
def test_sequence_model_forward_and_backward(name, dtype, magnitude):
    from rnnkit import train

    rng, _, xs, _, _, _, _ = big_case(dtype, magnitude)
    model = train.SequenceModel(name, xs.shape[2], 4, 2, num_layers=2, rng=0, dtype=dtype)
    pred = strict(model.forward, xs)
    finite(pred)
    loss, dpred = strict(train.mse, pred, np.zeros_like(pred))
    grads = strict(model.backward, dpred)
    finite(grads)
    assert all(g.dtype == np.dtype(dtype) for g in grads)


def test_clipping_a_gradient_too_large_to_square():
    from rnnkit import train

    clipped, norm = strict(train.clip_by_global_norm, [np.array([1e200, -1e200, 1.0])], 1.0)
    assert np.isfinite(norm)
    np.testing.assert_allclose(clipped[0], [2 ** -0.5, -(2 ** -0.5), 0.0], atol=1e-12)
