"""rnnkit against PyTorch, an implementation written independently of it.

Everything runs in float64 and must agree to 1e-12 (absolute, and relative for
values larger than 1). Every test here is marked ``torch``; tests/conftest.py
skips them, and says so at the end of the run, when PyTorch is not installed.

Parameter layout. rnnkit keeps one (H, D + H) matrix per gate acting on
[x_t, y_{t-1}] and one bias; PyTorch keeps, per layer, ``weight_ih`` (G*H, D)
acting on x_t, ``weight_hh`` (G*H, H) acting on h_{t-1}, and two biases
``bias_ih`` and ``bias_hh`` that are simply added. So W = [weight_ih | weight_hh]
and b = bias_ih + bias_hh, gate block by gate block:
- RNN: one block.
- LSTM: PyTorch's block order is i, f, g, o: input gate I, forget gate f, input
  activation a (PyTorch's g) and output gate O. PyTorch's c is the state s and
  its h the output y. Its forward is the standard (forget-gate) LSTM.
- memo-form LSTM (s_t = I_t * a_t + s_{t-1}): PyTorch's LSTM with the forget
  gate pinned open. With forget weights 0 and forget bias 40 the pre-activation
  is exactly 40 and sigmoid(40) = 1 / (1 + 4.2e-18) rounds to exactly 1.0 in
  float64, so f_t * s_{t-1} is exactly s_{t-1}.

GRU. PyTorch's nn.GRU computes
    r = sigma(W_ir x + b_ir + W_hr h + b_hr)
    z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h
while the memo's GRU computes
    a = tanh(W_a [x, r * y] + b_a),   y' = (1 - u) * y + u * a.
Two differences. (1) The mixing is mirrored: z plays the part of 1 - u. Since
sigma(-v) = 1 - sigma(v), W_z = -W_u and b_z = -b_u make them equal for every
input. (2) The reset gate: the memo scales y before the recurrent product,
W_ah (r * y); PyTorch scales afterwards, r * (W_hn h + b_hn). These agree for all
r and y only when W_ah (r * y) = r * (W_ah y) for every r, which is exactly when
W_ah is diagonal, and b_hn (which r scales in PyTorch) is 0. So the general
match is impossible, and the exact correspondences are:
- reset gate pinned open (W_r = 0, b_r = 40, so r = 1.0 exactly): any weights,
  with b_in + b_hn = b_a;
- a zero previous output (e.g. the first step from the zero state) with
  b_hn = 0, b_in = b_a: r then multiplies zero in both;
- a diagonal recurrent block of W_a (W_hn = W_ah = diag(d)) with b_hn = 0, b_in = b_a:
  any r, any sequence length.
Outside those, with the natural mapping (W_hn = W_ah, b_in = b_a, b_hn = 0) and
PyTorch's default initialisation, outputs of one step from a random state differ
by about 0.02 per element on average and 0.1 at most over a batch of 64 (0.08 to
0.18 over seeds, never below 1e-2): the two GRUs are different functions of the
same weights, not the same function up to rounding.

Backward passes are checked against PyTorch's autograd: through nn.RNN and
nn.LSTM themselves (a single step is a sequence of length 1), and for the memo's
GRU through autograd of its equations written in torch (nn.GRU is a different
function), plus nn.GRUCell where it corresponds exactly (reset gate pinned open).
"""

from pathlib import Path

import nbformat
import numpy as np
import pytest

import rnnkit
from rnnkit import (
    GRU,
    LSTM,
    LSTM_MEMO,
    RNN,
    GRUParams,
    LSTMParams,
    RNNParams,
    gru,
    lstm,
    multilayer,
    rnn,
    sequence,
)
from rnnkit.activations import sigmoid

try:
    import torch
except (ImportError, OSError):  # tests/conftest.py skips every test marked torch
    torch = None

pytestmark = pytest.mark.torch

TOL = 1e-12
PIN = 40.0  # sigmoid(40.0) == 1.0 exactly in float64 (checked below)

# (B, D, H): a small batch, one row with D = H, D < H and D > H.
SHAPES = [(3, 4, 5), (1, 6, 6), (5, 7, 3)]


# ---------------------------------------------------------------- helpers

def close(actual, expected, tol=TOL):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=tol, atol=tol)


def close_tree(actual, expected, tol=TOL):
    """Compare nested tuples / lists / NamedTuples of arrays, element by element."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected)
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            try:
                close_tree(a, e, tol)
            except AssertionError as exc:
                name = expected._fields[i] if hasattr(expected, "_fields") else i
                raise AssertionError(f"element {name}: {exc}") from None
    else:
        close(actual, expected, tol)


def tt(a):
    """numpy -> torch float64 (a copy)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def nn_(t):
    """torch -> numpy."""
    return t.detach().numpy().copy()


def torch_layer(module, layer=0, suffix=""):
    """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer of an nn.RNN/LSTM/GRU or a cell."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    if isinstance(module, (torch.nn.RNNCell, torch.nn.LSTMCell, torch.nn.GRUCell)):
        return tuple(getattr(module, n) for n in names)
    return tuple(getattr(module, f"{n}_l{layer}{suffix}") for n in names)


def set_torch_layer(module, weights, layer=0):
    with torch.no_grad():
        for param, value in zip(torch_layer(module, layer), weights, strict=True):
            param.copy_(tt(value))


def split_blocks(W, b, H, n):
    return [(W[k * H:(k + 1) * H], b[k * H:(k + 1) * H]) for k in range(n)]


# rnnkit <-> torch parameter layouts ------------------------------------------

def rnn_from_torch(w_ih, w_hh, b_ih, b_hh):
    return RNNParams(np.concatenate([nn_(w_ih), nn_(w_hh)], axis=1), nn_(b_ih) + nn_(b_hh))


def rnn_to_torch(p, D):
    return p.W[:, :D], p.W[:, D:], p.b, np.zeros_like(p.b)


def lstm_from_torch(w_ih, w_hh, b_ih, b_hh):
    """torch's blocks i, f, g, o -> LSTMParams(W_f, b_f, W_i, b_i, W_a, b_a, W_o, b_o)."""
    H = w_hh.shape[1]
    W = np.concatenate([nn_(w_ih), nn_(w_hh)], axis=1)
    b = nn_(b_ih) + nn_(b_hh)
    (W_i, b_i), (W_f, b_f), (W_a, b_a), (W_o, b_o) = split_blocks(W, b, H, 4)
    return LSTMParams(W_f=W_f, b_f=b_f, W_i=W_i, b_i=b_i, W_a=W_a, b_a=b_a, W_o=W_o, b_o=b_o)


def lstm_to_torch(p, D):
    blocks = (p.W_i, p.W_f, p.W_a, p.W_o)
    b_ih = np.concatenate([p.b_i, p.b_f, p.b_a, p.b_o])
    return (np.concatenate([W[:, :D] for W in blocks]), np.concatenate([W[:, D:] for W in blocks]),
            b_ih, np.zeros_like(b_ih))


def gru_to_torch(p, D, b_hn=None):
    """The memo's GRU params -> torch's (r, z, n) blocks with z = 1 - u (W_z = -W_u, b_z = -b_u)
    and b_in = b_a - b_hn. Equal functions only in the cases listed in the module docstring."""
    b_hn = np.zeros_like(p.b_a) if b_hn is None else b_hn
    zeros = np.zeros_like(p.b_a)
    w_ih = np.concatenate([p.W_r[:, :D], -p.W_u[:, :D], p.W_a[:, :D]])
    w_hh = np.concatenate([p.W_r[:, D:], -p.W_u[:, D:], p.W_a[:, D:]])
    b_ih = np.concatenate([p.b_r, -p.b_u, p.b_a - b_hn])
    b_hh = np.concatenate([zeros, zeros, b_hn])
    return w_ih, w_hh, b_ih, b_hh


def gru_from_torch_grads(w_ih, w_hh, b_ih):
    """Gradients of torch's GRU blocks -> GRUParams of gradients (z = 1 - u flips u's sign)."""
    H = w_hh.shape[1]
    W = np.concatenate([nn_(w_ih.grad), nn_(w_hh.grad)], axis=1)
    b = nn_(b_ih.grad)
    (W_r, b_r), (W_z, b_z), (W_n, b_n) = split_blocks(W, b, H, 3)
    return GRUParams(W_r=W_r, b_r=b_r, W_u=-W_z, b_u=-b_z, W_a=W_n, b_a=b_n)


def torch_module(kind, D, H, num_layers=1, seed=0):
    torch.manual_seed(seed)
    if kind == "rnn":
        return torch.nn.RNN(D, H, num_layers=num_layers, nonlinearity="tanh", dtype=torch.float64)
    if kind == "lstm":
        return torch.nn.LSTM(D, H, num_layers=num_layers, dtype=torch.float64)
    return torch.nn.GRU(D, H, num_layers=num_layers, dtype=torch.float64)


def random_inputs(rng, T, B, D, H):
    xs = rng.normal(0.0, 1.5, size=(T, B, D))
    y0 = rng.uniform(-1, 1, size=(B, H))
    s0 = rng.normal(0.0, 2.0, size=(B, H))
    return xs, y0, s0


def pin_forget_open(p):
    """Forget weights 0 and bias PIN: f_t = sigmoid(40) = 1.0 exactly."""
    return p._replace(W_f=np.zeros_like(p.W_f), b_f=np.full_like(p.b_f, PIN))


def pin_reset_open(p):
    return p._replace(W_r=np.zeros_like(p.W_r), b_r=np.full_like(p.b_r, PIN))


# --------------------------------------------------------- the pin itself

def test_sigmoid_of_the_pin_is_exactly_one_in_both():
    assert sigmoid(np.float64(PIN)) == 1.0
    assert torch.sigmoid(torch.tensor(PIN, dtype=torch.float64)).item() == 1.0
    # and is not 1 a little lower, so the pin is not vacuous for smaller biases
    assert torch.sigmoid(torch.tensor(20.0, dtype=torch.float64)).item() < 1.0


# ------------------------------------------------------------ forward: RNN

@pytest.mark.parametrize("B,D,H", SHAPES + [(None, 4, 5)])
def test_rnn_step_matches_torch_rnncell(B, D, H):
    torch.manual_seed(1)
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64)
    rng = np.random.default_rng(1)
    batch = () if B is None else (B,)
    x = rng.normal(0, 1.5, size=batch + (D,))
    h = rng.uniform(-1, 1, size=batch + (H,))
    expected = nn_(cell(tt(x), tt(h)))
    p = rnn_from_torch(*torch_layer(cell))
    s = rnnkit.rnn_step(x, h, p.W, p.b)
    assert s.shape == expected.shape
    close(s, expected)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_rnn_sequence_matches_torch_rnn(num_layers):
    T, B, D, H = 6, 3, 4, 5
    net = torch_module("rnn", D, H, num_layers, seed=2)
    xs, _, _ = random_inputs(np.random.default_rng(2), T, B, D, H)
    h0 = np.random.default_rng(3).uniform(-1, 1, size=(num_layers, B, H))
    out, hn = net(tt(xs), tt(h0))
    params = [rnn_from_torch(*torch_layer(net, layer)) for layer in range(num_layers)]
    if num_layers == 1:
        ys, (s,) = rnnkit.unroll(RNN, xs, (h0[0],), params[0])
        finals = [(s,)]
    else:
        ys, finals = rnnkit.stacked_forward(RNN, xs, [(h,) for h in h0], params)
    close(ys, nn_(out))
    for layer in range(num_layers):
        close(finals[layer][0], nn_(hn[layer]))


# ----------------------------------------------------------- forward: LSTM

@pytest.mark.parametrize("B,D,H", SHAPES + [(None, 4, 5)])
def test_lstm_step_matches_torch_lstmcell(B, D, H):
    torch.manual_seed(4)
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    rng = np.random.default_rng(4)
    batch = () if B is None else (B,)
    x = rng.normal(0, 1.5, size=batch + (D,))
    h = rng.uniform(-1, 1, size=batch + (H,))
    c = rng.normal(0, 2, size=batch + (H,))
    h1, c1 = cell(tt(x), (tt(h), tt(c)))
    p = lstm_from_torch(*torch_layer(cell))
    y, s = rnnkit.lstm_step(x, h, c, p)
    assert y.shape == h1.shape and s.shape == c1.shape
    close(y, nn_(h1))
    close(s, nn_(c1))


def test_lstm_gates_match_torch_gates_one_by_one():
    """Each learner-level gate against the matching slice of torch's pre-activations."""
    D, H, B = 4, 5, 3
    torch.manual_seed(5)
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    rng = np.random.default_rng(5)
    x, h, c = rng.normal(size=(B, D)), rng.uniform(-1, 1, size=(B, H)), rng.normal(size=(B, H))
    w_ih, w_hh, b_ih, b_hh = torch_layer(cell)
    with torch.no_grad():
        pre = tt(x) @ w_ih.T + b_ih + tt(h) @ w_hh.T + b_hh
    t_i, t_f, t_g, t_o = (pre[:, k * H:(k + 1) * H] for k in range(4))
    p = lstm_from_torch(w_ih, w_hh, b_ih, b_hh)
    f = lstm.forget_gate(x, h, p.W_f, p.b_f)
    I = lstm.input_gate(x, h, p.W_i, p.b_i)
    a = lstm.input_activation(x, h, p.W_a, p.b_a)
    O = lstm.output_gate(x, h, p.W_o, p.b_o)
    close(f, nn_(torch.sigmoid(t_f)))
    close(I, nn_(torch.sigmoid(t_i)))
    close(a, nn_(torch.tanh(t_g)))
    close(O, nn_(torch.sigmoid(t_o)))
    s = lstm.new_state(f, I, a, c)
    h1, c1 = cell(tt(x), (tt(h), tt(c)))
    close(s, nn_(c1))
    close(lstm.final_output(O, s), nn_(h1))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_sequence_matches_torch_lstm(num_layers):
    T, B, D, H = 7, 4, 3, 5
    net = torch_module("lstm", D, H, num_layers, seed=6)
    rng = np.random.default_rng(6)
    xs = rng.normal(0, 1.5, size=(T, B, D))
    h0 = rng.uniform(-1, 1, size=(num_layers, B, H))
    c0 = rng.normal(0, 2, size=(num_layers, B, H))
    out, (hn, cn) = net(tt(xs), (tt(h0), tt(c0)))
    params = [lstm_from_torch(*torch_layer(net, layer)) for layer in range(num_layers)]
    if num_layers == 1:
        ys, final = rnnkit.unroll(LSTM, xs, (h0[0], c0[0]), params[0])
        finals = [final]
    else:
        ys, finals = rnnkit.stacked_forward(LSTM, xs, [(h0[k], c0[k]) for k in range(num_layers)], params)
    assert ys.shape == (T, B, H)
    close(ys, nn_(out))
    for layer in range(num_layers):
        close(finals[layer][0], nn_(hn[layer]))
        close(finals[layer][1], nn_(cn[layer]))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_memo_form_lstm_matches_torch_with_forget_gate_pinned_open(num_layers):
    T, B, D, H = 25, 3, 4, 6
    net = torch_module("lstm", D, H, num_layers, seed=7)
    # Pin torch's forget block (rows H:2H of every layer's matrices and biases).
    with torch.no_grad():
        for layer in range(num_layers):
            w_ih, w_hh, b_ih, b_hh = torch_layer(net, layer)
            w_ih[H:2 * H] = 0.0
            w_hh[H:2 * H] = 0.0
            b_ih[H:2 * H] = PIN
            b_hh[H:2 * H] = 0.0
    rng = np.random.default_rng(7)
    xs = rng.normal(0, 1.5, size=(T, B, D))
    h0 = rng.uniform(-1, 1, size=(num_layers, B, H))
    c0 = rng.normal(0, 2, size=(num_layers, B, H))
    out, (hn, cn) = net(tt(xs), (tt(h0), tt(c0)))

    # Verify the pin: recompute torch's forget gate of layer 1 from its own inputs at
    # every step (h_{t-1} from a one-layer copy of layer 1): exactly 1.0, not merely close.
    weights = torch_layer(net, 0)
    layer1 = torch_module("lstm", D, H, 1)
    set_torch_layer(layer1, [nn_(w) for w in weights])
    w_ih, w_hh, b_ih, b_hh = (w[H:2 * H] for w in weights)
    with torch.no_grad():
        ys1, _ = layer1(tt(xs), (tt(h0[:1]), tt(c0[:1])))
        h_prev = torch.cat([tt(h0[:1]), ys1[:-1]])
        f = torch.sigmoid(tt(xs) @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)
    assert f.shape == (T, B, H) and bool((f == 1.0).all())

    params = [lstm_from_torch(*torch_layer(net, layer)) for layer in range(num_layers)]
    assert all((rnnkit.lstm.forget_gate(xs[0], h0[0], p.W_f, p.b_f) == 1.0).all() for p in params[:1])
    # The memo form ignores the forget parameters: give it different ones to show that.
    memo_params = [p._replace(W_f=np.ones_like(p.W_f), b_f=-np.ones_like(p.b_f)) for p in params]
    states0 = [(h0[k], c0[k]) for k in range(num_layers)]
    if num_layers == 1:
        ys, final = rnnkit.unroll(LSTM_MEMO, xs, states0[0], memo_params[0])
        finals = [final]
    else:
        ys, finals = rnnkit.stacked_forward(LSTM_MEMO, xs, states0, memo_params)
    close(ys, nn_(out))
    for layer in range(num_layers):
        close(finals[layer][0], nn_(hn[layer]))
        close(finals[layer][1], nn_(cn[layer]))
    # Over 25 steps the memo's state drifts well outside [-1, 1]: a real test of the form.
    assert np.abs(finals[0][1]).max() > 2.0

    # rnnkit's own standard LSTM with the same pin is bit for bit the memo form.
    ys_std, _ = rnnkit.unroll(LSTM, xs, states0[0], params[0])
    ys_memo, _ = rnnkit.unroll(LSTM_MEMO, xs, states0[0], params[0])
    np.testing.assert_array_equal(ys_std, ys_memo)


def test_memo_form_lstm_differs_from_torch_without_the_pin():
    """The pinned match above is not a coincidence of the data: unpinned, they differ."""
    T, B, D, H = 10, 3, 4, 5
    net = torch_module("lstm", D, H, 1, seed=8)
    rng = np.random.default_rng(8)
    xs = rng.normal(0, 1.5, size=(T, B, D))
    h0, c0 = rng.uniform(-1, 1, size=(B, H)), rng.normal(0, 2, size=(B, H))
    out, _ = net(tt(xs), (tt(h0)[None], tt(c0)[None]))
    ys, _ = rnnkit.unroll(LSTM_MEMO, xs, (h0, c0), lstm_from_torch(*torch_layer(net)))
    assert np.abs(ys - nn_(out)).max() > 1e-2


# ------------------------------------------------------------ forward: GRU

def torch_gru_cell_from(p, D, b_hn=None):
    H = p.b_a.shape[0]
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    set_torch_layer(cell, gru_to_torch(p, D, b_hn))
    return cell


def random_gru(D, H, seed, scale=1.0):
    p = GRU.init_params(D, H, np.random.default_rng(seed))
    return GRUParams(*(scale * a for a in p))


def test_gru_mirrored_update_gate_is_one_minus_u():
    """sigma(-v) = 1 - sigma(v): torch's z with W_z = -W_u, b_z = -b_u is 1 - u."""
    D, H, B = 3, 4, 5
    rng = np.random.default_rng(9)
    p = random_gru(D, H, 9, scale=3.0)
    x, y = rng.normal(size=(B, D)), rng.uniform(-1, 1, size=(B, H))
    u = gru.update_gate(x, y, p.W_u, p.b_u)
    z = torch.sigmoid(tt(np.concatenate([x, y], axis=1)) @ tt(-p.W_u).T + tt(-p.b_u))
    close(1 - u, nn_(z))


@pytest.mark.parametrize("B,D,H", SHAPES)
def test_gru_step_matches_torch_with_reset_gate_pinned_open(B, D, H):
    rng = np.random.default_rng(10)
    p = pin_reset_open(random_gru(D, H, 10, scale=2.0))
    b_hn = rng.normal(size=H)  # any split of b_a between torch's two n-biases
    x, y = rng.normal(0, 1.5, size=(B, D)), rng.uniform(-1, 1, size=(B, H))
    assert (gru.reset_gate(x, y, p.W_r, p.b_r) == 1.0).all()
    cell = torch_gru_cell_from(p, D, b_hn)
    with torch.no_grad():
        w_ih, w_hh, b_ih, b_hh = torch_layer(cell)
        r = torch.sigmoid(tt(x) @ w_ih[:H].T + b_ih[:H] + tt(y) @ w_hh[:H].T + b_hh[:H])
    assert bool((r == 1.0).all())
    close(rnnkit.gru_step(x, y, p), nn_(cell(tt(x), tt(y))))


def test_gru_sequence_matches_torch_with_reset_gate_pinned_open():
    T, B, D, H = 12, 3, 4, 5
    rng = np.random.default_rng(11)
    p = pin_reset_open(random_gru(D, H, 11, scale=2.0))
    net = torch_module("gru", D, H)
    set_torch_layer(net, gru_to_torch(p, D, rng.normal(size=H)))
    xs, y0 = rng.normal(0, 1.5, size=(T, B, D)), rng.uniform(-1, 1, size=(B, H))
    out, hn = net(tt(xs), tt(y0)[None])
    ys, (y,) = rnnkit.unroll(GRU, xs, (y0,), p)
    close(ys, nn_(out))
    close(y, nn_(hn[0]))


@pytest.mark.parametrize("B,D,H", SHAPES)
def test_gru_first_step_from_zero_state_matches_torch_when_b_hn_is_zero(B, D, H):
    rng = np.random.default_rng(12)
    p = random_gru(D, H, 12, scale=2.0)  # general weights: the reset gate is not pinned
    x, y0 = rng.normal(0, 1.5, size=(B, D)), np.zeros((B, H))
    assert not (gru.reset_gate(x, y0, p.W_r, p.b_r) == 1.0).any()
    close(rnnkit.gru_step(x, y0, p), nn_(torch_gru_cell_from(p, D)(tt(x), tt(y0))))

    # ... but not with b_hn != 0 (torch's r scales b_hn), nor at the second step.
    b_hn = rng.normal(size=H)
    other = nn_(torch_gru_cell_from(p, D, b_hn)(tt(x), tt(y0)))
    assert np.abs(rnnkit.gru_step(x, y0, p) - other).max() > 1e-3
    y1 = rnnkit.gru_step(x, y0, p)
    x2 = rng.normal(0, 1.5, size=(B, D))
    second = nn_(torch_gru_cell_from(p, D)(tt(x2), tt(y1)))
    assert np.abs(rnnkit.gru_step(x2, y1, p) - second).max() > 1e-4


@pytest.mark.parametrize("B,D,H", SHAPES)
def test_gru_sequence_matches_torch_with_diagonal_recurrent_block(B, D, H):
    """W_ah = diag(d): W_ah (r * y) = d * r * y = r * (W_ah y), for any reset gate."""
    T = 10
    rng = np.random.default_rng(13)
    p = random_gru(D, H, 13, scale=2.0)
    W_a = p.W_a.copy()
    W_a[:, D:] = np.diag(rng.normal(0, 1.5, size=H))
    p = p._replace(W_a=W_a)
    xs, y0 = rng.normal(0, 1.5, size=(T, B, D)), rng.uniform(-1, 1, size=(B, H))
    r = gru.reset_gate(xs[0], y0, p.W_r, p.b_r)
    assert r.min() < 0.9  # the reset gate really is at work
    net = torch_module("gru", D, H)
    set_torch_layer(net, gru_to_torch(p, D))
    out, hn = net(tt(xs), tt(y0)[None])
    ys, (y,) = rnnkit.unroll(GRU, xs, (y0,), p)
    close(ys, nn_(out))
    close(y, nn_(hn[0]))


def test_gru_two_layers_match_torch_with_diagonal_recurrent_blocks():
    T, B, D, H = 6, 3, 4, 5
    rng = np.random.default_rng(14)
    layer_params = []
    for layer in range(2):
        d_in = D if layer == 0 else H
        p = random_gru(d_in, H, 14 + layer, scale=2.0)
        W_a = p.W_a.copy()
        W_a[:, d_in:] = np.diag(rng.normal(0, 1.5, size=H))
        layer_params.append(p._replace(W_a=W_a))
    xs = rng.normal(0, 1.5, size=(T, B, D))
    y0 = rng.uniform(-1, 1, size=(2, B, H))
    net = torch_module("gru", D, H, num_layers=2)
    for layer, p in enumerate(layer_params):
        set_torch_layer(net, gru_to_torch(p, D if layer == 0 else H), layer)
    out, hn = net(tt(xs), tt(y0))
    ys, finals = rnnkit.stacked_forward(GRU, xs, [(y0[0],), (y0[1],)], layer_params)
    close(ys, nn_(out))
    for layer in range(2):
        close(finals[layer][0], nn_(hn[layer]))


def test_gru_in_general_differs_from_torch():
    """Full recurrent block, reset gate at work: by ~0.1 per batch, never below 1e-2."""
    D, H, B = 4, 5, 64
    largest = []
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        p = random_gru(D, H, 100 + seed)  # PyTorch's default range, +-1/sqrt(H)
        x, y = rng.normal(size=(B, D)), rng.uniform(-1, 1, size=(B, H))
        diff = np.abs(rnnkit.gru_step(x, y, p) - nn_(torch_gru_cell_from(p, D)(tt(x), tt(y))))
        largest.append(diff.max())
    assert min(largest) > 1e-2
    assert max(largest) < 1.0  # same family of functions: different, but not unrelated


# ------------------------------------------------------ backward (autograd)

def torch_memo_gru_step(x, y, W_r, b_r, W_u, b_u, W_a, b_a):
    """The memo's GRU written in torch ops, for autograd (nn.GRU is a different function)."""
    xy = torch.cat([x, y], -1)
    r = torch.sigmoid(xy @ W_r.T + b_r)
    u = torch.sigmoid(xy @ W_u.T + b_u)
    a = torch.tanh(torch.cat([x, r * y], -1) @ W_a.T + b_a)
    return (1 - u) * y + u * a


def torch_reference(kind, xs, states0, layer_params, dys, dstates_T=None):
    """Forward L layers of ``kind`` in torch from rnnkit-layout params, then autograd of
    loss = sum(ys_top * dys) + sum over layers and state parts of (final state * dstates_T).

    Returns (ys, finals, dxs, dstates0, dlayer_params), numpy, rnnkit's layout.
    kind: "rnn", "lstm", "lstm_memo" (torch's LSTM with the forget gate pinned open) or "gru".
    """
    T, B, D = xs.shape
    L = len(layer_params)
    x_t = tt(xs).requires_grad_()
    if kind == "gru":
        params_t = [[tt(a).requires_grad_() for a in p] for p in layer_params]
        y0_t = [tt(s[0]).requires_grad_() for s in states0]
        inputs, finals_t = x_t, []
        for layer in range(L):
            y, outs = y0_t[layer], []
            for t in range(T):
                y = torch_memo_gru_step(inputs[t], y, *params_t[layer])
                outs.append(y)
            inputs = torch.stack(outs)
            finals_t.append((y,))
        out = inputs
    else:
        H = states0[0][0].shape[-1]
        net = torch_module("rnn" if kind == "rnn" else "lstm", D, H, L)
        for layer, p in enumerate(layer_params):
            d_in = D if layer == 0 else H
            if kind == "rnn":
                set_torch_layer(net, rnn_to_torch(p, d_in), layer)
            else:
                if kind == "lstm_memo":
                    p = pin_forget_open(p)
                set_torch_layer(net, lstm_to_torch(p, d_in), layer)
        h0 = tt(np.stack([s[0] for s in states0])).requires_grad_()
        if kind == "rnn":
            out, hn = net(x_t, h0)
            finals_t = [(hn[layer],) for layer in range(L)]
        else:
            c0 = tt(np.stack([s[1] for s in states0])).requires_grad_()
            out, (hn, cn) = net(x_t, (h0, c0))
            finals_t = [(hn[layer], cn[layer]) for layer in range(L)]
    loss = (out * tt(dys)).sum()
    if dstates_T is not None:
        for final, dfinal in zip(finals_t, dstates_T, strict=True):
            for part, dpart in zip(final, dfinal, strict=True):
                loss = loss + (part * tt(dpart)).sum()
    loss.backward()

    finals = [tuple(nn_(part) for part in final) for final in finals_t]
    if kind == "gru":
        dstates0 = [(nn_(y.grad),) for y in y0_t]
        dparams = [GRUParams(*(nn_(a.grad) for a in p)) for p in params_t]
    else:
        dstates0 = [(nn_(h0.grad[layer]),) for layer in range(L)]
        if kind != "rnn":
            dstates0 = [(dh, nn_(c0.grad[layer])) for layer, (dh,) in enumerate(dstates0)]
        dparams = []
        for layer in range(L):
            w_ih, w_hh, b_ih, _ = torch_layer(net, layer)
            grads = (w_ih.grad, w_hh.grad, b_ih.grad, torch.zeros_like(b_ih))
            if kind == "rnn":
                dparams.append(rnn_from_torch(*grads))
            else:
                g = lstm_from_torch(*grads)
                if kind == "lstm_memo":  # the pinned gate's gradient is exactly 0 in torch
                    assert not g.W_f.any() and not g.b_f.any()
                dparams.append(g)
    return nn_(out), finals, nn_(x_t.grad), dstates0, dparams


CELL_OF = {"rnn": RNN, "lstm": LSTM, "lstm_memo": LSTM_MEMO, "gru": GRU}
KINDS = list(CELL_OF)


def sequence_problem(kind, T, B, D, H, L, seed):
    rng = np.random.default_rng(seed)
    cell = CELL_OF[kind]
    layer_params = [cell.init_params(D if k == 0 else H, H, rng) for k in range(L)]
    layer_params = [cell.Params(*(1.5 * a for a in p)) for p in layer_params]
    xs = rng.normal(0, 1.5, size=(T, B, D))
    states0 = []
    for _ in range(L):
        state = (rng.uniform(-1, 1, size=(B, H)),)
        if kind.startswith("lstm"):
            state += (rng.normal(0, 2, size=(B, H)),)
        states0.append(state)
    dys = rng.normal(size=(T, B, H))
    dstates_T = [tuple(rng.normal(size=(B, H)) for _ in s) for s in states0]
    return cell, xs, states0, layer_params, dys, dstates_T


def test_torch_reference_forward_agrees_with_rnnkit():
    """The oracle's forward equals rnnkit's, so its gradients are of the same function."""
    for kind in KINDS:
        cell, xs, states0, layer_params, dys, _ = sequence_problem(kind, 4, 2, 3, 4, 2, 20)
        ys, finals, *_ = torch_reference(kind, xs, states0, layer_params, dys)
        ys_r, finals_r = rnnkit.stacked_forward(cell, xs, states0, layer_params)
        close(ys_r, ys)
        close_tree(finals_r, finals)


@pytest.mark.parametrize("B,D,H", SHAPES)
def test_rnn_step_backward_matches_autograd(B, D, H):
    _, xs, states0, (p,), dys, _ = sequence_problem("rnn", 1, B, D, H, 1, 21)
    _, _, dxs, dstates0, (dp,) = torch_reference("rnn", xs, states0, [p], dys)
    dx, ds_prev, dW, db = rnn.rnn_step_backward(xs[0], states0[0][0], p.W, p.b, dys[0])
    close(dx, dxs[0])
    close(ds_prev, dstates0[0][0])
    close(dW, dp.W)
    close(db, dp.b)


@pytest.mark.parametrize("memo_form", [False, True])
@pytest.mark.parametrize("B,D,H", SHAPES)
def test_lstm_step_backward_matches_autograd(B, D, H, memo_form):
    kind = "lstm_memo" if memo_form else "lstm"
    _, xs, states0, (p,), dys, dstates_T = sequence_problem(kind, 1, B, D, H, 1, 22)
    ds = dstates_T[0][1]
    # dL/dy_t here is total; ds arrives from step t+1 only.
    _, _, dxs, dstates0, (dp,) = torch_reference(kind, xs, states0, [p], dys, [(np.zeros_like(ds), ds)])
    dx, dy_prev, ds_prev, grads = lstm.lstm_step_backward(
        xs[0], states0[0][0], states0[0][1], p, dys[0], ds, memo_form=memo_form)
    close(dx, dxs[0])
    close(dy_prev, dstates0[0][0])
    close(ds_prev, dstates0[0][1])
    close_tree(grads, dp)


@pytest.mark.parametrize("B,D,H", SHAPES)
def test_gru_step_backward_matches_autograd(B, D, H):
    _, xs, states0, (p,), dys, _ = sequence_problem("gru", 1, B, D, H, 1, 23)
    _, _, dxs, dstates0, (dp,) = torch_reference("gru", xs, states0, [p], dys)
    dx, dy_prev, grads = gru.gru_step_backward(xs[0], states0[0][0], p, dys[0])
    close(dx, dxs[0])
    close(dy_prev, dstates0[0][0])
    close_tree(grads, dp)


def test_gru_step_backward_matches_torch_grucell_with_reset_gate_pinned_open():
    """Against torch's own GRUCell where it is the same function (r = 1 exactly)."""
    B, D, H = 4, 3, 5
    rng = np.random.default_rng(24)
    p = pin_reset_open(random_gru(D, H, 24, scale=2.0))
    x, y = rng.normal(0, 1.5, size=(B, D)), rng.uniform(-1, 1, size=(B, H))
    dy = rng.normal(size=(B, H))
    cell = torch_gru_cell_from(p, D, rng.normal(size=H))
    x_t, y_t = tt(x).requires_grad_(), tt(y).requires_grad_()
    (cell(x_t, y_t) * tt(dy)).sum().backward()
    w_ih, w_hh, b_ih, _ = torch_layer(cell)
    expected = gru_from_torch_grads(w_ih, w_hh, b_ih)
    dx, dy_prev, grads = gru.gru_step_backward(x, y, p, dy)
    close(dx, nn_(x_t.grad))
    close(dy_prev, nn_(y_t.grad))
    close_tree(grads, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_step_backward_matches_autograd(kind):
    B, D, H = 3, 4, 5
    cell, xs, states0, (p,), dys, dstates_T = sequence_problem(kind, 1, B, D, H, 1, 25)
    _, _, dxs, dstates0, (dp,) = torch_reference(kind, xs, states0, [p], dys, dstates_T)
    dx, dstate_prev, dparams = cell.step_backward(xs[0], states0[0], p, dys[0], dstates_T[0])
    close(dx, dxs[0])
    close_tree(tuple(dstate_prev), dstates0[0])
    close_tree(dparams, dp)


@pytest.mark.parametrize("with_final_grad", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_bptt_matches_autograd(kind, with_final_grad):
    cell, xs, states0, (p,), dys, dstates_T = sequence_problem(kind, 8, 3, 4, 5, 1, 26)
    dstate_T = dstates_T[0] if with_final_grad else None
    _, _, dxs_t, dstates0_t, (dp_t,) = torch_reference(
        kind, xs, states0, [p], dys, [dstate_T] if with_final_grad else None)
    dxs, dstate0, dparams = sequence.bptt(cell, xs, states0[0], p, dys, dstate_T)
    close(dxs, dxs_t)
    close_tree(tuple(dstate0), dstates0_t[0])
    close_tree(dparams, dp_t)


@pytest.mark.parametrize("with_final_grads", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_stacked_backward_matches_autograd(kind, with_final_grads):
    cell, xs, states0, layer_params, dys, dstates_T = sequence_problem(kind, 6, 3, 4, 5, 2, 27)
    if not with_final_grads:
        dstates_T = None
    _, _, dxs_t, dstates0_t, dparams_t = torch_reference(kind, xs, states0, layer_params, dys, dstates_T)
    dxs, dstates0, dlayer_params = multilayer.stacked_backward(
        cell, xs, states0, layer_params, dys, dstates_T)
    close(dxs, dxs_t)
    assert len(dstates0) == len(dlayer_params) == 2
    for layer in range(2):
        close_tree(tuple(dstates0[layer]), dstates0_t[layer])
        close_tree(dlayer_params[layer], dparams_t[layer])


# ------------------------------------- the lessons' oracles (literals in solutions/04 and 05)
#
# Lessons 4 and 5 translate PyTorch and Keras layouts into the memo's parameters and run the
# learner's own lstm_step / gru_step against what PyTorch and Keras return for the same weights.
# Those reference outputs are written in the notebooks as literal numbers (the course does not
# need PyTorch or Keras). ``lesson_oracles`` below produced them with torch 2.13.0 in float64:
# ``python tests/test_torch_crosscheck.py 04`` prints the assignments to paste. The tests
# recompute them from the weights each notebook's own cell draws, so a changed seed, shape or
# layout, or a stale literal, fails here.
#
# Keras is not a test dependency, and is not needed for its numbers. Its LSTM (sigmoid recurrent
# activation) is PyTorch's LSTM with the blocks in the same order i, f, c(=g), o, transposed, with
# one bias: nn.LSTMCell computes it exactly. Its GRU(reset_after=False) has no PyTorch counterpart
# (nn.GRU resets after the product), so it is computed from Keras' own code, GRUCell.call in
# keras/src/layers/rnn/gru.py, transcribed in torch ops. Where keras 3.15.1 is installed, the last
# test compares the literals with Keras itself (torch backend): the LSTM to rounding error (Keras
# runs it through torch's own LSTM), the GRU to 1e-6, because Keras' ops.matmul rounds float64
# products to float32 (keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE, "to be aligned
# with JAX's default behavior"), which puts Keras' own float64 GRU about 6e-8 away from float64.

KERAS_BACKEND = "torch"
LESSON_ORACLE_TOL = 1e-14   # same machine, same library: recomputed literals agree to rounding
KERAS_GRU_TOL = 1e-6        # Keras' own GRU: float32 products (see above)

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"

# lesson: (the phrase naming the cell that draws weights and inputs, the phrase naming the
# cell that holds the literals, the literals' names)
LESSON_ORACLE_CELLS = {
    "04": ("weight_ih = rng.uniform", "TORCH_LSTM_H = np.array",
           ("TORCH_LSTM_H", "TORCH_LSTM_C", "KERAS_LSTM_H")),
    "05": ("weight_ih = rng.uniform", "KERAS_GRU_H = np.array",
           ("KERAS_GRU_H", "TORCH_GRU_H", "TORCH_GRU_H_NO_BHN")),
}


def lesson_cell(stem, phrase):
    """The source of the one code cell of solutions/<stem>-*.ipynb that contains ``phrase``."""
    (path,) = SOLUTIONS.glob(f"{stem}-*.ipynb")
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code" and phrase in c.source]
    assert len(sources) == 1, f"lesson {stem}: {len(sources)} code cells contain {phrase!r}, not one"
    return sources[0]


def lesson_weights(stem):
    """The namespace of lesson ``stem``'s cell that draws the weights and inputs (numpy only)."""
    namespace = {"np": np}
    exec(compile(lesson_cell(stem, LESSON_ORACLE_CELLS[stem][0]), f"lesson {stem}", "exec"), namespace)
    return namespace


def lesson_literals(stem):
    """{name: array} of the literals written in lesson ``stem``."""
    namespace = {"np": np}
    exec(compile(lesson_cell(stem, LESSON_ORACLE_CELLS[stem][1]), f"lesson {stem}", "exec"), namespace)
    return {name: namespace[name] for name in LESSON_ORACLE_CELLS[stem][2]}


def torch_lstm_sequence(weight_ih, weight_hh, bias_ih, bias_hh, xs):
    """PyTorch's LSTM over one sequence (T, D) from the zero state: (h_t, c_t) for every t, (T, H) each.

    nn.LSTMCell step by step (nn.LSTM returns the last c_t only), checked against nn.LSTM's outputs."""
    D, H = weight_ih.shape[1], weight_hh.shape[1]
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    set_torch_layer(cell, (weight_ih, weight_hh, bias_ih, bias_hh))
    net = torch.nn.LSTM(D, H, dtype=torch.float64)
    set_torch_layer(net, (weight_ih, weight_hh, bias_ih, bias_hh))
    hs, cs = [], []
    with torch.no_grad():
        h, c = torch.zeros(1, H, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64)
        for x in xs:
            h, c = cell(tt(x[None]), (h, c))
            hs.append(nn_(h[0]))
            cs.append(nn_(c[0]))
        out, (_, c_last) = net(tt(xs[:, None, :]))
    hs, cs = np.array(hs), np.array(cs)
    close(nn_(out[:, 0]), hs)
    close(nn_(c_last[0, 0]), cs[-1])
    return hs, cs


def torch_gru_sequence(weight_ih, weight_hh, bias_ih, bias_hh, xs):
    """PyTorch's nn.GRU over one sequence (T, D) from the zero state: h_t for every t, (T, H)."""
    D, H = weight_ih.shape[1], weight_hh.shape[1]
    net = torch.nn.GRU(D, H, dtype=torch.float64)
    set_torch_layer(net, (weight_ih, weight_hh, bias_ih, bias_hh))
    with torch.no_grad():
        out, _ = net(tt(xs[:, None, :]))
    return nn_(out[:, 0])


def keras_lstm_in_torch(kernel, recurrent_kernel, bias, xs):
    """Keras' LSTM (i, f, c, o; x @ kernel; sigmoid and tanh) is nn.LSTM with the matrices transposed."""
    hs, _ = torch_lstm_sequence(kernel.T, recurrent_kernel.T, bias, np.zeros_like(bias), xs)
    return hs


def keras_gru_reset_before_in_torch(kernel, recurrent_kernel, bias, xs):
    """Keras' GRUCell.call with reset_after=False, transcribed in torch ops: h_t for every t, (T, H)."""
    H = recurrent_kernel.shape[0]
    kernel, recurrent_kernel, bias = tt(kernel), tt(recurrent_kernel), tt(bias)
    z_, r_, h_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    h, hs = torch.zeros(H, dtype=torch.float64), []
    for x in tt(xs):
        x_z, x_r, x_h = (x @ kernel[:, k] + bias[k] for k in (z_, r_, h_))
        z = torch.sigmoid(x_z + h @ recurrent_kernel[:, z_])
        r = torch.sigmoid(x_r + h @ recurrent_kernel[:, r_])
        hh = torch.tanh(x_h + (r * h) @ recurrent_kernel[:, h_])
        h = z * h + (1 - z) * hh
        hs.append(nn_(h))
    return np.array(hs)


def lesson_oracles(stem, keras=None):
    """{literal name: array} as the libraries compute it for lesson ``stem``'s weights.

    keras: the keras module (torch backend) to compute the Keras outputs with, for comparison;
    None (how the literals were made) computes them from PyTorch (LSTM) and the torch
    transcription of Keras' GRU (see above)."""
    w = lesson_weights(stem)
    keras_args = (w["keras_kernel"], w["keras_recurrent_kernel"], w["keras_bias"])
    if stem == "04":
        hs, cs = torch_lstm_sequence(w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"], w["xs_pt"])
        if keras is None:
            keras_h = keras_lstm_in_torch(*keras_args, w["xs_pt"])
        else:
            keras_h = keras_sequence(keras, keras.layers.LSTM, keras_args, w["xs_pt"])
        return {"TORCH_LSTM_H": hs, "TORCH_LSTM_C": cs, "KERAS_LSTM_H": keras_h}
    torch_args = (w["weight_ih"], w["weight_hh"], w["bias_ih"])
    if keras is None:
        keras_h = keras_gru_reset_before_in_torch(*keras_args, w["xs"])
    else:
        keras_h = keras_sequence(keras, lambda H, **kw: keras.layers.GRU(H, reset_after=False, **kw),
                                 keras_args, w["xs"])
    return {"KERAS_GRU_H": keras_h,
            "TORCH_GRU_H": torch_gru_sequence(*torch_args, w["bias_hh"], w["xs"]),
            "TORCH_GRU_H_NO_BHN": torch_gru_sequence(*torch_args, w["bias_hh_no_bhn"], w["xs"])}


def keras_sequence(keras, layer_class, weights, xs):
    """A Keras recurrent layer (float64) with ``weights`` over one sequence (T, D): outputs (T, H)."""
    H = weights[1].shape[0]
    layer = layer_class(H, return_sequences=True, dtype="float64")
    layer.build((1,) + xs.shape)
    layer.set_weights(list(weights))
    return np.asarray(keras.ops.convert_to_numpy(layer(xs[None])))[0]


def import_keras():
    """keras with the torch backend, or None when it is not installed."""
    import importlib.util
    import os

    if importlib.util.find_spec("keras") is None:
        return None
    os.environ.setdefault("KERAS_BACKEND", KERAS_BACKEND)
    import keras

    if keras.backend.backend() != KERAS_BACKEND:
        pytest.skip(f"keras runs on {keras.backend.backend()}, not {KERAS_BACKEND} (set elsewhere)")
    return keras


def format_literal(name, array):
    """``NAME = np.array([...])`` with every float64 written in full (repr round-trips exactly)."""
    rows = ",\n".join("    [" + ", ".join(repr(float(v)) for v in row) + "]" for row in np.atleast_2d(array))
    return f"{name} = np.array([\n{rows},\n])"


@pytest.mark.parametrize("stem", sorted(LESSON_ORACLE_CELLS))
def test_lesson_literals_are_what_the_libraries_compute(stem):
    literals = lesson_literals(stem)
    for name, expected in lesson_oracles(stem).items():
        assert literals[name].shape == expected.shape, name
        close(literals[name], expected, LESSON_ORACLE_TOL)


def test_lesson_literals_are_not_vacuous():
    # The translations the lessons show as wrong must be wrong against these numbers, and the
    # two PyTorch GRU models (b_hn drawn, b_hn = 0) must differ already at step 1.
    four, five = lesson_literals("04"), lesson_literals("05")
    w4 = lesson_weights("04")
    params = lstm_from_torch(*(tt(w4[name]) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    y, s = np.zeros(w4["H_PT"]), np.zeros(w4["H_PT"])
    expected = zip(w4["xs_pt"], four["TORCH_LSTM_H"], four["TORCH_LSTM_C"], strict=True)
    for x, h_expected, c_expected in expected:
        y, s = rnnkit.lstm_step(x, y, s, params)
        close(y, h_expected)
        close(s, c_expected)
    assert np.abs(np.diff(four["TORCH_LSTM_C"], axis=0)).max() > 0.05          # the state moves
    assert np.abs(five["TORCH_GRU_H"][0] - five["TORCH_GRU_H_NO_BHN"][0]).max() > 1e-3
    assert np.abs(five["KERAS_GRU_H"]).max() > 0.1


@pytest.mark.parametrize("stem", sorted(LESSON_ORACLE_CELLS))
def test_lesson_literals_are_what_keras_itself_computes(stem):
    keras = import_keras()
    if keras is None:
        pytest.skip("keras not installed (pip install keras==3.15.1): the Keras literals were checked "
                    "against PyTorch and a transcription of Keras' GRU only")
    literals = lesson_literals(stem)
    from_keras = lesson_oracles(stem, keras)
    tol = LESSON_ORACLE_TOL if stem == "04" else KERAS_GRU_TOL
    for name in literals:
        if name.startswith("KERAS"):
            close(literals[name], from_keras[name], tol)
    if stem == "05":  # and the float32 rounding is all there is: not below 1e-9, not above 1e-6
        assert np.abs(literals["KERAS_GRU_H"] - from_keras["KERAS_GRU_H"]).max() > 1e-9


if __name__ == "__main__":  # python tests/test_torch_crosscheck.py 04: the literals to paste
    import sys

    print("\n".join(format_literal(name, array) for name, array in lesson_oracles(sys.argv[1]).items()))
