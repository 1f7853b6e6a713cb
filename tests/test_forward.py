"""Forward passes on small cases worked out by hand.

Each case isolates one term of a gate equation: all weights zero (the gate is
its bias), only the x block of W, only the y_{t-1} block, one gate at a time.
The numbers are chosen so that the results have closed forms:
    sigma(0) = 1/2, sigma(ln 3) = 3/4, sigma(-ln 3) = 1/4,
    tanh(ln 2) = 3/5, tanh(ln 3) = 4/5, tanh(ln 4) = 15/17,
since sigma(ln k) = k / (k + 1) and tanh(ln k) = (k^2 - 1) / (k^2 + 1).
Longer recurrences are checked against scalar loops written with ``math``.
"""

import math
import warnings

import numpy as np
import pytest

from rnnkit import CELLS, GRU, LSTM, LSTM_MEMO, RNN
from rnnkit import gru as gru_module
from rnnkit import lstm as lstm_module
from rnnkit.gru import GRUParams
from rnnkit.lstm import LSTMParams
from rnnkit.multilayer import stacked_forward
from rnnkit.rnn import RNNParams, rnn_step
from rnnkit.sequence import unroll

LN2, LN3 = math.log(2), math.log(3)
SIGMOID_GATES = [
    lstm_module.forget_gate,
    lstm_module.input_gate,
    lstm_module.output_gate,
    gru_module.reset_gate,
    gru_module.update_gate,
]
TANH_GATES = [rnn_step, lstm_module.input_activation]  # same form: tanh(W [x, y_prev] + b)


def close(actual, expected, tol=1e-14):
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def lstm_params(H, D, **overrides):
    """LSTMParams with every weight and bias zero, except the ones given."""
    fields = {}
    for gate in "fiao":
        fields["W_" + gate] = np.zeros((H, D + H))
        fields["b_" + gate] = np.zeros(H)
    fields.update(overrides)
    return LSTMParams(**fields)


def gru_params(H, D, **overrides):
    fields = {}
    for gate in "rua":
        fields["W_" + gate] = np.zeros((H, D + H))
        fields["b_" + gate] = np.zeros(H)
    fields.update(overrides)
    return GRUParams(**fields)


# ---------------------------------------------------------------- single gates


@pytest.mark.parametrize("gate", SIGMOID_GATES, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_sigmoid_gate_with_zero_weights_is_sigmoid_of_bias(gate):
    x, y_prev = np.array([[5.0, -7.0]]), np.array([[3.0, 2.0, -1.0]])
    W, b = np.zeros((3, 5)), np.array([0.0, LN3, -LN3])
    close(gate(x, y_prev, W, b), [[0.5, 0.75, 0.25]])


@pytest.mark.parametrize("gate", SIGMOID_GATES, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_sigmoid_gate_x_block_only(gate):
    # W[:, :D] acts on x: rows give ln3 * 1 + 0 * 2 and 0 * 1 + (-ln3 / 2) * 2.
    x, y_prev = np.array([1.0, 2.0]), np.array([9.0, -9.0])
    W = np.array([[LN3, 0.0, 0.0, 0.0], [0.0, -LN3 / 2, 0.0, 0.0]])
    close(gate(x, y_prev, W, np.zeros(2)), [0.75, 0.25])


@pytest.mark.parametrize("gate", SIGMOID_GATES, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_sigmoid_gate_y_prev_block_only(gate):
    # W[:, D:] acts on y_{t-1}: rows give ln3 / 4 * 4 and -ln3 * 1; x is ignored.
    x, y_prev = np.array([9.0, -9.0]), np.array([1.0, 4.0])
    W = np.array([[0.0, 0.0, 0.0, LN3 / 4], [0.0, 0.0, -LN3, 0.0]])
    close(gate(x, y_prev, W, np.zeros(2)), [0.75, 0.25])


@pytest.mark.parametrize("gate", TANH_GATES, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_tanh_gates_term_by_term(gate):
    x, y_prev = np.array([1.0, 2.0]), np.array([2.0, 1.0])
    zero_W = np.zeros((2, 4))
    # Bias only.
    close(gate(x, y_prev, zero_W, np.array([LN2, -LN3])), [0.6, -0.8])
    # x block only: ln2 * 1 and ln3 / 2 * 2.
    W_x = np.array([[LN2, 0.0, 0.0, 0.0], [0.0, LN3 / 2, 0.0, 0.0]])
    close(gate(x, y_prev, W_x, np.zeros(2)), [0.6, 0.8])
    # Previous-output block only: ln2 * 1 (second element) and -ln3 / 2 * 2 (first).
    W_y = np.array([[0.0, 0.0, 0.0, LN2], [0.0, 0.0, -LN3 / 2, 0.0]])
    close(gate(x, y_prev, W_y, np.zeros(2)), [0.6, -0.8])
    # All three add up inside the tanh: ln2 + ln2 + 0 = ln4 and ln3 - ln3 + ln3 = ln3.
    close(gate(x, y_prev, W_x + W_y, np.array([0.0, LN3])), [15 / 17, 0.8])


def test_lstm_new_state_and_final_output():
    f, I, a, s_prev = np.array([0.5, 0.0, 1.0]), np.array([0.75, 0.5, 0.0]), np.array([-0.6, 0.8, 0.3]), 2.0
    # 0.5 * 2 + 0.75 * -0.6 = 0.55; f = 0 forgets: 0.5 * 0.8 = 0.4; I = 0, f = 1 keeps s_prev.
    close(lstm_module.new_state(f, I, a, np.full(3, s_prev)), [0.55, 0.4, 2.0])
    # The memo's form adds s_prev whatever f is: 0.75 * -0.6 + 2 = 1.55, 0.4 + 2 = 2.4, 2.
    close(lstm_module.memo_new_state(I, a, np.full(3, s_prev)), [1.55, 2.4, 2.0])
    # y = O tanh(s): 1/4 * tanh(ln 3) = 0.2; 1 * tanh(ln 2) = 0.6; O = 0 shows nothing.
    close(lstm_module.final_output(np.array([0.25, 1.0, 0.0]), np.array([LN3, LN2, 5.0])), [0.2, 0.6, 0.0])


def test_gru_input_activation_resets_before_the_product():
    x, y_prev = np.array([1.0]), np.array([2.0, -3.0])
    W_a = np.array([[0.0, LN3, 0.0], [0.0, 0.0, 100.0]])
    # r = 1/2 on the first unit: tanh(ln3 * (1/2 * 2)) = 0.8; r = 0 on the second hides
    # y_prev completely (the weight 100 would saturate the tanh): tanh(b) = tanh(ln 2).
    r = np.array([0.5, 0.0])
    close(gru_module.input_activation(x, y_prev, r, W_a, np.array([0.0, LN2])), [0.8, 0.6])
    # With r = 1 it is the LSTM's input activation.
    W = np.array([[LN2, 0.0, 0.0], [0.0, 0.0, -LN3 / 3]])
    close(gru_module.input_activation(x, y_prev, np.ones(2), W, np.zeros(2)), [0.6, 0.8])


def test_gru_final_output():
    u, y_prev, a = np.array([0.0, 1.0, 0.25]), np.array([2.0, 2.0, 2.0]), np.array([-0.6, -0.6, -0.6])
    # u = 0 keeps y_prev, u = 1 takes a, u = 1/4: 0.75 * 2 + 0.25 * -0.6 = 1.35.
    close(gru_module.final_output(u, y_prev, a), [2.0, -0.6, 1.35])


# ---------------------------------------------------------------- whole steps


def test_lstm_step_with_biases_only():
    # f = 3/4, I = 1/2, a = 3/5, O = 1/4, s_prev = 2:
    # standard s = 3/4 * 2 + 1/2 * 3/5 = 1.8; memo s = 1/2 * 3/5 + 2 = 2.3.
    p = lstm_params(1, 1, b_f=np.array([LN3]), b_a=np.array([LN2]), b_o=np.array([-LN3]))
    x, y_prev, s_prev = np.array([[4.0]]), np.array([[-3.0]]), np.array([[2.0]])
    y, s = lstm_module.lstm_step(x, y_prev, s_prev, p)
    close(s, [[1.8]])
    close(y, [[0.25 * math.tanh(1.8)]])
    y, s = lstm_module.memo_lstm_step(x, y_prev, s_prev, p)
    close(s, [[2.3]])
    close(y, [[0.25 * math.tanh(2.3)]])


@pytest.mark.parametrize("gate", "fiao")
def test_lstm_step_one_gate_driven_by_y_prev(gate):
    # Biases: f = 1/2, I = 1/2, a = 0, O = 1/2. Then one gate's y_{t-1} weight
    # moves it: y_prev = 1 and weight ln3 give sigma(ln3) = 3/4 or tanh(ln3) = 4/5.
    D, H = 1, 1
    W = np.array([[0.0, LN3]])
    p = lstm_params(H, D, **{"W_" + gate: W})
    f, I, a, O = 0.5, 0.5, 0.0, 0.5
    if gate == "f":
        f = 0.75
    elif gate == "i":
        I = 0.75
    elif gate == "a":
        a = 0.8
    else:
        O = 0.75
    s_prev = 2.0
    s = f * s_prev + I * a
    y, s_new = lstm_module.lstm_step(np.array([7.0]), np.array([1.0]), np.array([s_prev]), p)
    close(s_new, [s])
    close(y, [O * math.tanh(s)])


def test_memo_lstm_step_ignores_the_forget_gate():
    # In the memo's form, the forget gate's weights change nothing: s = I * a + s_prev.
    base = lstm_params(2, 1, b_i=np.array([0.0, LN3]), b_a=np.array([LN2, -LN2]))
    forgetful = base._replace(W_f=np.full((2, 3), -50.0), b_f=np.full(2, -50.0))
    x, y_prev, s_prev = np.array([1.0]), np.array([0.5, -0.5]), np.array([2.0, 1.0])
    expected_s = [0.5 * 0.6 + 2.0, 0.75 * -0.6 + 1.0]
    for p in (base, forgetful):
        y, s = lstm_module.memo_lstm_step(x, y_prev, s_prev, p)
        close(s, expected_s)
        close(y, [0.5 * math.tanh(2.3), 0.5 * math.tanh(0.55)])
    # The standard form with that forget gate forgets s_prev (f = sigma(-50) ~ 2e-22).
    _, s = lstm_module.lstm_step(x, y_prev, s_prev, forgetful)
    close(s, [0.5 * 0.6, 0.75 * -0.6])


SIGMOIDS = {
    "rnnkit": lstm_module.sigmoid,
    "textbook": lambda z: 1 / (1 + np.exp(-z)),
    "exp ratio": lambda z: np.exp(z) / (1 + np.exp(z)),
    "two-branch": lambda z: np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))),
                                     np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z)))),
    "through tanh": lambda z: 0.5 * (1 + np.tanh(0.5 * z)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(SIGMOIDS))
def test_memo_lstm_step_is_the_memo_formula_bit_for_bit(monkeypatch, name, dtype):
    # memo_lstm_step is lstm_step with the forget gate pinned open (W_f = 0, b_f = 50): whichever
    # usual sigmoid the gates use, sigma(50) is exactly 1, so s = I * a + s_prev to the last bit,
    # and nothing warns on the way.
    monkeypatch.setattr(lstm_module, "sigmoid", SIGMOIDS[name])
    sigmoid = SIGMOIDS[name]
    rng = np.random.default_rng(12)
    p = LSTMParams(*(3 * a for a in LSTM.init_params(3, 4, rng, dtype=dtype)))
    x, y_prev = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(5, 4)).astype(dtype)
    s_prev = (10 * rng.normal(size=(5, 4))).astype(dtype)
    z = np.concatenate([x, y_prev], axis=-1)
    I, O = sigmoid(z @ p.W_i.T + p.b_i), sigmoid(z @ p.W_o.T + p.b_o)
    a = np.tanh(z @ p.W_a.T + p.b_a)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        y, s = lstm_module.memo_lstm_step(x, y_prev, s_prev, p)
        s_alone = lstm_module.memo_new_state(I, a, s_prev)
    assert s.dtype == y.dtype == dtype
    np.testing.assert_array_equal(s, I * a + s_prev)
    np.testing.assert_array_equal(y, O * np.tanh(I * a + s_prev))
    np.testing.assert_array_equal(s_alone, I * a + s_prev)


def test_memo_forms_compute_through_the_standard_functions(monkeypatch):
    # They hold no gate arithmetic of their own: in a learner's copy they run the learner's
    # lstm_step and new_state, so they cannot stand in for either.
    calls = []

    def spy(name):
        real = getattr(lstm_module, name)

        def recorded(*args):
            calls.append((name, args))
            return real(*args)

        return recorded

    for name in ("lstm_step", "new_state", "forget_gate"):
        monkeypatch.setattr(lstm_module, name, spy(name))
    rng = np.random.default_rng(13)
    p = LSTM.init_params(2, 3, rng)
    x, y_prev, s_prev = rng.normal(size=(2, 2)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    lstm_module.memo_lstm_step(x, y_prev, s_prev, p)
    assert [c[0] for c in calls] == ["lstm_step", "forget_gate", "new_state"]
    _, _, W_f, b_f = calls[1][1]
    assert np.all(W_f == 0) and np.all(b_f == lstm_module.MEMO_FORGET_BIAS)
    calls.clear()
    lstm_module.memo_new_state(s_prev, y_prev, s_prev)
    assert [c[0] for c in calls] == ["new_state"] and np.all(calls[0][1][0] == 1)


def test_gru_step_update_gate_extremes():
    x, y_prev = np.array([1.0, -1.0]), np.array([0.3, -0.7])
    W_a = np.array([[0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    # a = tanh(0.5 * 1 + ln2 - 0.5) = 0.6 and tanh(ln3) = 0.8.
    b_a = np.array([LN2 - 0.5, LN3])
    keep = gru_params(2, 2, W_a=W_a, b_a=b_a, b_u=np.full(2, -50.0))  # u ~ 2e-22: keep y_prev
    close(gru_module.gru_step(x, y_prev, keep), y_prev)
    take = gru_params(2, 2, W_a=W_a, b_a=b_a, b_u=np.full(2, 50.0))  # u ~ 1: take a
    close(gru_module.gru_step(x, y_prev, take), [0.6, 0.8])


def test_gru_step_with_biases_only_and_the_reset_gate():
    # u = 1/4, a = 3/5, y_prev = 2: y = 3/4 * 2 + 1/4 * 3/5 = 1.65.
    p = gru_params(1, 1, b_u=np.array([-LN3]), b_a=np.array([LN2]))
    close(gru_module.gru_step(np.array([5.0]), np.array([2.0]), p), [1.65])
    # Reset gate r = 1/4 scales y_prev = 1 before W_a's y block (4 ln3): a = tanh(ln3) = 0.8;
    # u = 1 (bias 50) shows a.
    p = gru_params(1, 1, b_r=np.array([-LN3]), W_a=np.array([[0.0, 4 * LN3]]), b_u=np.array([50.0]))
    close(gru_module.gru_step(np.array([5.0]), np.array([1.0]), p), [0.8])


# ---------------------------------------------------------------- sequences and layers


def test_unroll_rnn_matches_a_scalar_loop():
    w_x, w_s, b = 0.7, -1.3, 0.2
    xs = [0.5, -1.0, 2.0, 0.0, 0.3]
    s = 0.4
    expected = []
    for x in xs:
        s = math.tanh(w_x * x + w_s * s + b)
        expected.append(s)
    ys, (s_T,) = unroll(RNN, np.array(xs).reshape(5, 1, 1), (np.array([[0.4]]),),
                        RNNParams(np.array([[w_x, w_s]]), np.array([b])))
    close(ys.ravel(), expected)
    close(s_T, [[expected[-1]]])


def test_unroll_lstm_constant_gates_standard_versus_memo():
    # Zero weights: every step has f = 3/4, I = 1/2, a = 3/5, O = 1/2.
    # Standard: s_t = 1.2 + (s_0 - 1.2) (3/4)^t, settling at I a / (1 - f) = 1.2.
    # Memo:     s_t = s_0 + 0.3 t, growing without bound.
    T, s0 = 40, 2.0
    p = lstm_params(1, 1, b_f=np.array([LN3]), b_a=np.array([LN2]))
    xs = np.ones((T, 1, 1))
    state0 = (np.zeros((1, 1)), np.full((1, 1), s0))
    t = np.arange(1, T + 1)
    standard_s = 1.2 + (s0 - 1.2) * 0.75**t
    memo_s = s0 + 0.3 * t
    ys, (y_T, s_T) = unroll(LSTM, xs, state0, p)
    close(ys.ravel(), 0.5 * np.tanh(standard_s), 1e-13)
    close(s_T, [[standard_s[-1]]], 1e-13)
    ys, (y_T, s_T) = unroll(LSTM_MEMO, xs, state0, p)
    close(ys.ravel(), 0.5 * np.tanh(memo_s), 1e-13)
    close(s_T, [[memo_s[-1]]], 1e-13)
    close(y_T, [[0.5 * math.tanh(memo_s[-1])]], 1e-13)


def test_unroll_gru_constant_gates():
    # u = 1/4, a = 3/5: y_t = 3/5 + (y_0 - 3/5) (3/4)^t.
    T, y0 = 10, -1.0
    p = gru_params(1, 1, b_u=np.array([-LN3]), b_a=np.array([LN2]))
    ys, (y_T,) = unroll(GRU, np.zeros((T, 1, 1)), (np.full((1, 1), y0),), p)
    expected = 0.6 + (y0 - 0.6) * 0.75 ** np.arange(1, T + 1)
    close(ys.ravel(), expected)
    close(y_T, [[expected[-1]]])


def test_stacked_forward_matches_scalar_loops():
    # Layer 1: s = tanh(0.8 x - 0.5 s + 0.1); layer 2 reads layer 1's outputs:
    # h = tanh(-1.1 s + 0.9 h - 0.2).
    xs = [1.0, -0.5, 0.25, 2.0]
    s, h = 0.3, -0.6
    ss, hs = [], []
    for x in xs:
        s = math.tanh(0.8 * x - 0.5 * s + 0.1)
        h = math.tanh(-1.1 * s + 0.9 * h - 0.2)
        ss.append(s)
        hs.append(h)
    layer_params = [RNNParams(np.array([[0.8, -0.5]]), np.array([0.1])),
                    RNNParams(np.array([[-1.1, 0.9]]), np.array([-0.2]))]
    states0 = [(np.array([[0.3]]),), (np.array([[-0.6]]),)]
    ys, states = stacked_forward(RNN, np.array(xs).reshape(4, 1, 1), states0, layer_params)
    close(ys.ravel(), hs)
    close(states[0][0], [[ss[-1]]])
    close(states[1][0], [[hs[-1]]])


def test_stacked_forward_layers_of_different_sizes():
    rng = np.random.default_rng(0)
    sizes, D, T, B = (4, 2, 3), 5, 6, 2
    layer_params, states0, d = [], [], D
    for size in sizes:
        layer_params.append(LSTM.init_params(d, size, rng))
        states0.append((rng.normal(size=(B, size)), rng.normal(size=(B, size))))
        d = size
    xs = rng.normal(size=(T, B, D))
    ys, states = stacked_forward(LSTM, xs, states0, layer_params)
    assert ys.shape == (T, B, sizes[-1])
    assert [s[0].shape for s in states] == [(B, size) for size in sizes]
    # Layer by layer with unroll gives the same (the definition of stacking).
    inputs = xs
    for state0, params, state in zip(states0, layer_params, states, strict=True):
        inputs, final = unroll(LSTM, inputs, state0, params)
        close(final[1], state[1], 0)
    close(ys, inputs, 0)


# ---------------------------------------------------------------- contracts


def cell_inputs(cell, rng, B, D, H, dtype=np.float64):
    params = cell.init_params(D, H, rng, dtype=dtype)
    params = type(params)(*(np.asarray(2 * p, dtype) for p in params))
    if B is None:
        x = rng.normal(size=D).astype(dtype)
        state = tuple(rng.normal(size=H).astype(dtype) for _ in cell.state_names)
    else:
        x = rng.normal(size=(B, D)).astype(dtype)
        state = tuple(rng.normal(size=(B, H)).astype(dtype) for _ in cell.state_names)
    return x, state, params


@pytest.mark.parametrize("name", sorted(CELLS))
def test_unbatched_step_equals_the_batched_row(name):
    cell = CELLS[name]
    rng = np.random.default_rng(1)
    x, state, params = cell_inputs(cell, rng, 3, 2, 4)
    y, new_state = cell.step(x, state, params)
    assert y.shape == (3, 4)
    for k in range(3):
        y_k, state_k = cell.step(x[k], tuple(s[k] for s in state), params)
        assert y_k.shape == (4,)
        close(y_k, y[k], 1e-15)
        for s_k, s in zip(state_k, new_state, strict=True):
            close(s_k, s[k], 1e-15)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_unbatched_sequence_equals_the_batched_row(name):
    cell = CELLS[name]
    rng = np.random.default_rng(2)
    _, state0, params = cell_inputs(cell, rng, 2, 3, 4)
    xs = rng.normal(size=(5, 2, 3))
    ys, _ = unroll(cell, xs, state0, params)
    for k in range(2):
        ys_k, _ = unroll(cell, xs[:, k], tuple(s[k] for s in state0), params)
        close(ys_k, ys[:, k], 1e-15)


def gate_calls(x, y_prev, s_prev, lp, gp):
    """Every forward function of the package, called once."""
    return [
        rnn_step(x, s_prev, lp.W_f, lp.b_f),
        lstm_module.forget_gate(x, y_prev, lp.W_f, lp.b_f),
        lstm_module.input_gate(x, y_prev, lp.W_i, lp.b_i),
        lstm_module.input_activation(x, y_prev, lp.W_a, lp.b_a),
        lstm_module.output_gate(x, y_prev, lp.W_o, lp.b_o),
        lstm_module.new_state(y_prev, y_prev, s_prev, s_prev),
        lstm_module.memo_new_state(y_prev, s_prev, s_prev),
        lstm_module.final_output(y_prev, s_prev),
        *lstm_module.lstm_step(x, y_prev, s_prev, lp),
        *lstm_module.memo_lstm_step(x, y_prev, s_prev, lp),
        gru_module.reset_gate(x, y_prev, gp.W_r, gp.b_r),
        gru_module.update_gate(x, y_prev, gp.W_u, gp.b_u),
        gru_module.input_activation(x, y_prev, s_prev, gp.W_a, gp.b_a),
        gru_module.final_output(s_prev, y_prev, s_prev),
        gru_module.gru_step(x, y_prev, gp),
    ]


@pytest.mark.parametrize("batched", [True, False])
def test_float32_kept_and_inputs_not_modified(batched):
    rng = np.random.default_rng(3)
    f32 = np.float32
    B, D, H = (2 if batched else None), 3, 4
    x, (y_prev, s_prev), lp = cell_inputs(LSTM, rng, B, D, H, f32)
    gp = GRU.init_params(D, H, rng, dtype=f32)
    inputs = [x, y_prev, s_prev, *lp, *gp]
    copies = [a.copy() for a in inputs]
    for out in gate_calls(x, y_prev, s_prev, lp, gp):
        assert out.dtype == f32
        assert out.shape == y_prev.shape
    xs = rng.normal(size=(4, 2, D)).astype(f32)
    for name, cell in CELLS.items():
        params = cell.init_params(D, H, rng, dtype=f32)
        state0 = cell.zero_state(2, H, f32)
        ys, state = unroll(cell, xs, state0, params)
        assert ys.dtype == f32 and all(s.dtype == f32 for s in state), name
        ys, states = stacked_forward(cell, xs, [state0, cell.zero_state(2, 3, f32)],
                                     [params, cell.init_params(H, 3, rng, dtype=f32)])
        assert ys.dtype == f32 and ys.shape == (4, 2, 3), name
    for array, copy in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(4)
    x, (y_prev, s_prev), lp = cell_inputs(LSTM, rng, 2, 3, 4)
    gp = GRU.init_params(3, 4, rng)
    as32 = [a.astype(np.float32) for a in (x, y_prev, s_prev)]
    lp32 = LSTMParams(*(p.astype(np.float32) for p in lp))
    gp32 = GRUParams(*(p.astype(np.float32) for p in gp))
    for out64, out32 in zip(gate_calls(x, y_prev, s_prev, lp, gp), gate_calls(*as32, lp32, gp32),
                            strict=True):
        np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5)
