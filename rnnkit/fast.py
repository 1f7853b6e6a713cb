"""A fast path for training: whole sequences and stacked layers, forward and backward.

The learner-level functions compute each gate with its own matrix product, one time
step at a time. Here the same equations are reorganised for speed, with the same
results (equal to float64 round-off; tests/test_fast.py checks it):

- the per-gate weights of a cell are fused into two matrices: an input part
  Wx (D, G*H) and a recurrent part Wh (H, G*H), so that all G gates of a step come
  from one matrix product;
- the input projection xs @ Wx + b for all T time steps is one matrix product
  before the loop over time; inside the loop only the recurrent product
  y_{t-1} @ Wh is left;
- gradients of the weights are summed over time after the loop, again as single
  products (X^T dZ over all T * B rows at once);
- the sigmoid is computed as sigma(z) = 0.5 + 0.5 * tanh(z / 2) (an identity), with
  the factor 1/2 folded into the fused weights: multiplying by a power of two is
  exact in floating point, so one tanh over the whole (B, G*H) block gives every gate
  of a step. It never overflows, so no RuntimeWarning.

The GRU is the exception the memo's form imposes: its input activation is
a_t = tanh(W_a [x_t, r_t * y_{t-1}] + b_a), so the recurrent part of a_t acts on
r_t * y_{t-1}, which is only known after the reset gate. Its recurrent weights are
split in two: Wh_ru (H, 2H) for the reset and update gates, one product, then
Wh_a (H, H) on r_t * y_{t-1}, a second product. The input parts are still projected
for all T steps before the loop (into two buffers, [r, u] and a, so that each step's
arrays are contiguous rows).

The public functions take their arguments in the order of the learner API
(``rnnkit.sequence.unroll`` / ``bptt`` and ``rnnkit.multilayer``), with parameters in
the ordinary unfused form (e.g. ``rnnkit.LSTM.init_params``); the forward functions
return a cache as well:

    ys, state, cache = forward("lstm", xs, state0, params)       # xs (T, B, D)
    dxs, dstate0, dparams = backward(cache, dys)                 # dparams: LSTMParams

    ys, states, caches = stacked_forward("gru", xs, states0, layer_params)
    dxs, dstates0, dlayer_params = stacked_backward(caches, dys)

``state0`` (``states0``) may be None for all-zero initial states. Cells are named "rnn",
"lstm", "lstm_memo" (the memo's state update s_t = I_t * a_t + s_{t-1}, no forget gate)
and "gru"; a cell object from ``rnnkit.cells`` works too. Each kind of cell has its own
pair of layer functions (``_rnn_forward`` / ``_rnn_backward``, ``_lstm_...``,
``_gru_...``); ``forward`` and ``backward`` only bring inputs to shape and pick the pair.
Computation runs in the dtype of xs (float32 or float64); parameters are cast to it, and
outputs, states and gradients have that dtype.
"""

from typing import NamedTuple

import numpy as np

from .gru import GRUParams
from .lstm import LSTMParams
from .rnn import RNNParams


class _Layout(NamedTuple):
    """How a cell's per-gate parameters are laid out as fused gate blocks (each of width H).

    - gates: suffixes of the parameter fields, in fused order ("" for the RNN's W, b;
      "_f" for the LSTM's W_f, b_f, ...). The sigmoid gates come first, so that one slice
      holds them.
    - n_sigmoid: how many leading blocks are sigmoid gates (the others are tanh)
    - n_direct: how many leading blocks have a recurrent part acting on y_{t-1} itself;
      the GRU's input activation acts on r_t * y_{t-1} instead
    - n_state: number of arrays in the state tuple
    - Params: the parameter type (RNNParams, LSTMParams or GRUParams)
    """

    gates: tuple
    n_sigmoid: int
    n_direct: int
    n_state: int
    Params: type


_LSTM_LAYOUT = _Layout(("_f", "_i", "_o", "_a"), 3, 4, 2, LSTMParams)  # f, I, O: sigmoid; a: tanh
_LAYOUTS = {
    "rnn": _Layout(("",), 0, 1, 1, RNNParams),
    "lstm": _LSTM_LAYOUT,
    "lstm_memo": _LSTM_LAYOUT,
    "gru": _Layout(("_r", "_u", "_a"), 2, 2, 1, GRUParams),  # r, u: sigmoid; a: tanh
}


def _cell_kind(cell):
    """The cell's name ("rnn", "lstm", "lstm_memo" or "gru") from a name or a cell object."""
    kind = cell if isinstance(cell, str) else cell.name
    if kind not in _LAYOUTS:
        raise ValueError(f"unknown cell {kind!r}: expected 'rnn', 'lstm', 'lstm_memo' or 'gru'")
    return kind


def _layer_functions(kind):
    """The (forward, backward) pair of layer functions for a cell kind ("rnn", "lstm", ...).

    The table is built at each call rather than kept at module level: while a graded
    function runs, the checks replace this module's functions with refusals, and a stored
    table would keep the originals within reach."""
    return {
        "rnn": (_rnn_forward, _rnn_backward),
        "lstm": (_lstm_forward, _lstm_backward),
        "lstm_memo": (_lstm_memo_forward, _lstm_memo_backward),
        "gru": (_gru_forward, _gru_backward),
    }[kind]


# ----------------------------------------------------------------------------- fused weights


class Fused(NamedTuple):
    """A cell's weights in fused form (G gate blocks of width H).

    - Wx: (D, G*H) input part, columns of the sigmoid gates scaled by 1/2
    - Wh: (H, G*H) recurrent part, same scaling (GRU: (H, 2H), reset and update only)
    - b: (G*H,) biases, same scaling
    - WxT, WhT: (G*H, D) and (G*H, H) (GRU: (2H, H)), the unscaled weights transposed
      and contiguous, for the backward products (faster than a transposed view here)
    - Wh_a, Wh_aT: GRU only, (H, H) recurrent part of the input activation (acts on
      r * y_prev), and its transpose
    - half: (G*H,) 0.5 on the sigmoid columns, 1 on the tanh columns
    - sig: (G*H,) 0.5 on the sigmoid columns, 0 on the tanh columns; after one tanh over a
      whole row, t * half + sig is sigma(z) = 0.5 + 0.5 tanh(z/2) on the sigmoid columns
      and tanh(z) on the others
    """

    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    WxT: np.ndarray
    WhT: np.ndarray
    Wh_a: np.ndarray | None
    Wh_aT: np.ndarray | None
    half: np.ndarray
    sig: np.ndarray


def fuse(cell, params, dtype=np.float64):
    """Fuse a cell's per-gate parameters (H, D+H), (H,) into the Fused form.

    Inputs:
    - cell: "rnn", "lstm", "lstm_memo", "gru" or a cell object
    - params: RNNParams, LSTMParams or GRUParams
    - dtype: dtype of the fused arrays

    Returns:
    - Fused (see its docstring); D is inferred from the weights' shape.
    """
    layout = _LAYOUTS[_cell_kind(cell)]
    blocks = [(getattr(params, "W" + g), getattr(params, "b" + g)) for g in layout.gates]
    H = blocks[0][1].shape[0]
    D = blocks[0][0].shape[1] - H
    WxT = np.concatenate([W[:, :D] for W, _ in blocks], axis=0).astype(dtype)  # (G*H, D)
    WhT = np.concatenate([W[:, D:] for W, _ in blocks], axis=0).astype(dtype)  # (G*H, H)
    b = np.concatenate([bb for _, bb in blocks]).astype(dtype)
    Wh_a = Wh_aT = None
    if layout.n_direct < len(layout.gates):  # GRU: a_t's recurrent part acts on r_t * y_{t-1}
        Wh_aT = np.ascontiguousarray(WhT[layout.n_direct * H :])
        Wh_a = np.ascontiguousarray(Wh_aT.T)
        WhT = np.ascontiguousarray(WhT[: layout.n_direct * H])
    half = np.ones(len(b), dtype)
    half[: layout.n_sigmoid * H] = 0.5
    sig = np.zeros(len(b), dtype)
    sig[: layout.n_sigmoid * H] = 0.5
    # Scaling by 1/2 is exact in floating point: z/2 comes out of the same products.
    Wx = np.ascontiguousarray(WxT.T) * half
    Wh = np.ascontiguousarray(WhT.T) * half[: WhT.shape[0]]
    return Fused(Wx, Wh, b * half, WxT, WhT, Wh_a, Wh_aT, half, sig)


def _unfuse(layout, dWx, dWh, db):
    """Gradients of the fused (unscaled) weights back in the cell's per-gate form.

    Inputs:
    - layout: the cell's _Layout
    - dWx: (D, G*H) gradient of the input part
    - dWh: (H, G*H) gradient of the recurrent part (GRU: all three blocks, the last one
      on r_t * y_{t-1})
    - db: (G*H,) gradient of the biases

    Returns:
    - dparams: layout.Params, weights (H, D+H), biases (H,)
    """
    H = dWh.shape[0]
    fields = {}
    for k, g in enumerate(layout.gates):
        cols = slice(k * H, (k + 1) * H)
        fields["W" + g] = np.concatenate([dWx[:, cols].T, dWh[:, cols].T], axis=1)
        fields["b" + g] = db[cols].copy()
    return layout.Params(**fields)


def _half_tanh_to_sigmoid(g, fz, cols):
    """In place on whole rows: sigmoid columns hold tanh(z/2) and become 0.5 + 0.5 tanh(z/2)
    = sigma(z); tanh columns are left as they are (times 1, plus 0). Whole contiguous
    rows are much faster than a strided slice of them."""
    g *= fz.half[cols]
    g += fz.sig[cols]


# ----------------------------------------------------------------------------- layers, one per cell
#
# Every layer function works on batched, time-major arrays of one dtype: xs (T, B, D),
# Y (T+1, B, H) holding y_0 ... y_T (the RNN: s_0 ... s_T). The forward functions return
# (Y, state, saved), ``saved`` being what their backward function needs besides xs and Y;
# the backward functions receive dys (T, B, H) and dstate_T (a tuple of (B, H) arrays of
# their own, which they may overwrite) and return (dxs, dstate0, dparams).


def _rnn_forward(fz, xs, state0):
    """Basic RNN over a sequence: s_t = tanh(W [x_t, s_{t-1}] + b), y_t = s_t.

    Inputs:
    - fz: Fused weights of one tanh block: Wx (D, H), Wh (H, H), b (H,)
    - xs: inputs x_1 ... x_T, shape (T, B, D)
    - state0: (s_0,), s_0 of shape (B, H)

    Returns a tuple of:
    - Y: states s_0 ... s_T, shape (T+1, B, H)
    - state: final state (s_T,), shape (B, H)
    - saved: (G,), G of shape (T, B, H) the states s_1 ... s_T (= Y[1:])
    """
    T, B, D = xs.shape
    H = fz.Wh.shape[0]
    Y = np.empty((T + 1, B, H), xs.dtype)
    Y[0] = state0[0]
    # Input projection for all T steps at once; the loop adds the recurrent part in place.
    G = (xs.reshape(T * B, D) @ fz.Wx + fz.b).reshape(T, B, H)
    rec = np.empty((B, H), xs.dtype)
    for t in range(T):
        g = G[t]
        np.matmul(Y[t], fz.Wh, out=rec)
        g += rec
        np.tanh(g, out=g)
        Y[t + 1] = g
    return Y, (Y[T].copy(),), (G,)


def _rnn_backward(fz, xs, Y, saved, dys, dstate_T):
    """Backpropagation through time for ``_rnn_forward``.

    Inputs:
    - fz: the Fused weights of the forward pass
    - xs: inputs, shape (T, B, D)
    - Y: states s_0 ... s_T, shape (T+1, B, H)
    - saved: (G,) from ``_rnn_forward``
    - dys: dL/dy_t from above, shape (T, B, H)
    - dstate_T: (dL/ds_T,) from beyond the sequence, shape (B, H); overwritten

    Returns a tuple of:
    - dxs: dL/dx_t, shape (T, B, D)
    - dstate0: (dL/ds_0,), shape (B, H)
    - dparams: RNNParams, dW (H, D+H), db (H,), summed over time and batch
    """
    (G,) = saved
    T, B, D = xs.shape
    H = Y.shape[2]
    dh = dstate_T[0]  # dL/ds_t arriving from step t+1
    dZ = np.empty_like(G)  # gradients on the pre-activations z_t
    dy = np.empty((B, H), Y.dtype)
    tmp = np.empty((B, H), Y.dtype)
    for t in range(T - 1, -1, -1):
        np.add(dys[t], dh, out=dy)
        np.multiply(G[t], G[t], out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(dy, tmp, out=dZ[t])
        np.matmul(dZ[t], fz.WhT, out=dh)
    # Weight gradients: sums over time as single products over all T * B rows.
    X2 = xs.reshape(T * B, D)
    Yprev = Y[:T].reshape(T * B, H)
    dZ2 = dZ.reshape(T * B, H)
    dparams = _unfuse(_LAYOUTS["rnn"], X2.T @ dZ2, Yprev.T @ dZ2, dZ2.sum(axis=0))
    dxs = dZ2 @ fz.WxT
    return dxs.reshape(T, B, D), (dh,), dparams


def _lstm_forward(fz, xs, state0, memo_form=False):
    """LSTM over a sequence: gates f_t, I_t, O_t = sigma(W_g [x_t, y_{t-1}] + b_g),
    a_t = tanh(W_a [x_t, y_{t-1}] + b_a), s_t = f_t * s_{t-1} + I_t * a_t (memo's form:
    s_t = I_t * a_t + s_{t-1}), y_t = O_t * tanh(s_t).

    Inputs:
    - fz: Fused weights, blocks [f, I, O, a]: Wx (D, 4H), Wh (H, 4H), b (4H,)
    - xs: inputs x_1 ... x_T, shape (T, B, D)
    - state0: (y_0, s_0), each of shape (B, H)
    - memo_form: True for the memo's state update (no forget gate)

    Returns a tuple of:
    - Y: outputs y_0 ... y_T, shape (T+1, B, H)
    - state: final state (y_T, s_T), each of shape (B, H)
    - saved: (G, S, TS): G (T, B, 4H) the gates [f, I, O, a] after their nonlinearity,
      S (T+1, B, H) the states s_0 ... s_T, TS (T, B, H) tanh(s_1) ... tanh(s_T)
    """
    T, B, D = xs.shape
    H = fz.Wh.shape[0]
    dtype = xs.dtype
    Y = np.empty((T + 1, B, H), dtype)
    Y[0] = state0[0]
    G = (xs.reshape(T * B, D) @ fz.Wx + fz.b).reshape(T, B, 4 * H)
    S = np.empty((T + 1, B, H), dtype)
    S[0] = state0[1]
    TS = np.empty((T, B, H), dtype)
    rec = np.empty((B, 4 * H), dtype)
    tmp = np.empty((B, H), dtype)
    for t in range(T):
        g = G[t]
        np.matmul(Y[t], fz.Wh, out=rec)
        g += rec
        np.tanh(g, out=g)
        _half_tanh_to_sigmoid(g, fz, slice(None))
        f, i, o, a = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        s = S[t + 1]
        if memo_form:
            s[...] = S[t]
        else:
            np.multiply(f, S[t], out=s)
        np.multiply(i, a, out=tmp)
        s += tmp
        np.tanh(s, out=TS[t])
        np.multiply(o, TS[t], out=Y[t + 1])
    return Y, (Y[T].copy(), S[T].copy()), (G, S, TS)


def _lstm_backward(fz, xs, Y, saved, dys, dstate_T, memo_form=False):
    """Backpropagation through time for ``_lstm_forward``.

    Inputs:
    - fz: the Fused weights of the forward pass
    - xs: inputs, shape (T, B, D)
    - Y: outputs y_0 ... y_T, shape (T+1, B, H)
    - saved: (G, S, TS) from ``_lstm_forward``
    - dys: dL/dy_t from above, shape (T, B, H)
    - dstate_T: (dL/dy_T, dL/ds_T) from beyond the sequence, each (B, H); overwritten
    - memo_form: as in the forward pass

    Returns a tuple of:
    - dxs: dL/dx_t, shape (T, B, D)
    - dstate0: (dL/dy_0, dL/ds_0), each of shape (B, H)
    - dparams: LSTMParams, weights (H, D+H), biases (H,), summed over time and batch;
      memo_form: W_f and b_f get zeros
    """
    G, S, TS = saved
    T, B, D = xs.shape
    H = Y.shape[2]
    dtype = Y.dtype
    dh, ds = dstate_T  # dL/dy_t and dL/ds_t arriving from step t+1
    dZ = np.empty_like(G)  # gradients on the pre-activations z_t (unscaled)
    dy = np.empty((B, H), dtype)
    tmp = np.empty((B, H), dtype)
    deriv = np.empty((B, 4 * H), dtype)
    # sigma' = g (1 - g) on f, I, O and tanh' = (1 - a)(1 + a) on a: (1 - g)(g + beta)
    beta = 1 - 2 * fz.sig
    for t in range(T - 1, -1, -1):
        g, dz = G[t], dZ[t]
        f, i, o, a = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        dzf, dzi, dzo, dza = dz[:, :H], dz[:, H : 2 * H], dz[:, 2 * H : 3 * H], dz[:, 3 * H :]
        np.add(dys[t], dh, out=dy)
        ts = TS[t]
        np.multiply(dy, ts, out=dzo)  # dL/dO_t
        # ds_t += dy_t * O_t * (1 - tanh(s_t)^2)
        np.multiply(ts, ts, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dy
        ds += tmp
        if memo_form:
            dzf[...] = 0
        else:
            np.multiply(ds, S[t], out=dzf)  # dL/df_t
        np.multiply(ds, a, out=dzi)  # dL/dI_t
        np.multiply(ds, i, out=dza)  # dL/da_t
        np.subtract(1, g, out=deriv)
        dz *= deriv
        np.add(g, beta, out=deriv)
        dz *= deriv
        if not memo_form:
            ds *= f
        np.matmul(dz, fz.WhT, out=dh)
    # Weight gradients: sums over time as single products over all T * B rows.
    X2 = xs.reshape(T * B, D)
    Yprev = Y[:T].reshape(T * B, H)
    dZ2 = dZ.reshape(T * B, 4 * H)
    dWx = X2.T @ dZ2
    dWh = Yprev.T @ dZ2
    db = dZ2.sum(axis=0)
    dxs = dZ2 @ fz.WxT
    return dxs.reshape(T, B, D), (dh, ds), _unfuse(_LSTM_LAYOUT, dWx, dWh, db)


def _lstm_memo_forward(fz, xs, state0):
    """``_lstm_forward`` with the memo's state update s_t = I_t * a_t + s_{t-1}."""
    return _lstm_forward(fz, xs, state0, memo_form=True)


def _lstm_memo_backward(fz, xs, Y, saved, dys, dstate_T):
    """``_lstm_backward`` with the memo's state update (W_f and b_f get zero gradients)."""
    return _lstm_backward(fz, xs, Y, saved, dys, dstate_T, memo_form=True)


def _gru_forward(fz, xs, state0):
    """GRU over a sequence (memo's form): r_t, u_t = sigma(W_g [x_t, y_{t-1}] + b_g),
    a_t = tanh(W_a [x_t, r_t * y_{t-1}] + b_a), y_t = (1 - u_t) y_{t-1} + u_t a_t.

    Inputs:
    - fz: Fused weights, blocks [r, u, a]: Wx (D, 3H), Wh (H, 2H) for [r, u] and
      Wh_a (H, H) for a, b (3H,)
    - xs: inputs x_1 ... x_T, shape (T, B, D)
    - state0: (y_0,), y_0 of shape (B, H)

    Returns a tuple of:
    - Y: outputs y_0 ... y_T, shape (T+1, B, H)
    - state: final state (y_T,), shape (B, H)
    - saved: (G, RY, A): G (T, B, 2H) the gates [r, u] after the sigmoid, RY (T, B, H)
      r_t * y_{t-1}, A (T, B, H) the input activations a_t
    """
    T, B, D = xs.shape
    H = fz.Wh.shape[0]
    dtype = xs.dtype
    Y = np.empty((T + 1, B, H), dtype)
    Y[0] = state0[0]
    # Separate contiguous buffers for [r, u] and for a: a_t needs r_t first.
    X2 = xs.reshape(T * B, D)
    G = (X2 @ fz.Wx[:, : 2 * H] + fz.b[: 2 * H]).reshape(T, B, 2 * H)
    A = (X2 @ fz.Wx[:, 2 * H :] + fz.b[2 * H :]).reshape(T, B, H)
    RY = np.empty((T, B, H), dtype)
    rec_ru = np.empty((B, 2 * H), dtype)
    rec_a = np.empty((B, H), dtype)
    tmp = np.empty((B, H), dtype)
    for t in range(T):
        g, a = G[t], A[t]
        np.matmul(Y[t], fz.Wh, out=rec_ru)
        g += rec_ru
        np.tanh(g, out=g)
        _half_tanh_to_sigmoid(g, fz, slice(0, 2 * H))
        r, u = g[:, :H], g[:, H:]
        np.multiply(r, Y[t], out=RY[t])
        np.matmul(RY[t], fz.Wh_a, out=rec_a)
        a += rec_a
        np.tanh(a, out=a)
        # y_t = (1 - u) y_{t-1} + u a_t, written as y_{t-1} + u (a_t - y_{t-1})
        np.subtract(a, Y[t], out=tmp)
        tmp *= u
        np.add(Y[t], tmp, out=Y[t + 1])
    return Y, (Y[T].copy(),), (G, RY, A)


def _gru_backward(fz, xs, Y, saved, dys, dstate_T):
    """Backpropagation through time for ``_gru_forward``.

    Inputs:
    - fz: the Fused weights of the forward pass
    - xs: inputs, shape (T, B, D)
    - Y: outputs y_0 ... y_T, shape (T+1, B, H)
    - saved: (G, RY, A) from ``_gru_forward``
    - dys: dL/dy_t from above, shape (T, B, H)
    - dstate_T: (dL/dy_T,) from beyond the sequence, shape (B, H); overwritten

    Returns a tuple of:
    - dxs: dL/dx_t, shape (T, B, D)
    - dstate0: (dL/dy_0,), shape (B, H)
    - dparams: GRUParams, weights (H, D+H), biases (H,), summed over time and batch
    """
    G, RY, A = saved
    T, B, D = xs.shape
    H = Y.shape[2]
    dtype = Y.dtype
    dh = dstate_T[0]  # dL/dy_t arriving from step t+1
    dZ = np.empty_like(G)  # gradients on the pre-activations of [r, u]
    dA = np.empty_like(A)  # gradients on the pre-activations of a
    dy = np.empty((B, H), dtype)
    tmp = np.empty((B, H), dtype)
    dry = np.empty((B, H), dtype)
    deriv = np.empty((B, 2 * H), dtype)
    for t in range(T - 1, -1, -1):
        g, dz, a, dza = G[t], dZ[t], A[t], dA[t]
        r, u = g[:, :H], g[:, H:]
        dzr, dzu = dz[:, :H], dz[:, H:]
        y_prev = Y[t]
        np.add(dys[t], dh, out=dy)
        # a_t: dz_a = dy * u * (1 - a^2)
        np.multiply(a, a, out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(dy, u, out=dza)
        dza *= tmp
        # u_t: dL/du = dy * (a - y_prev)
        np.subtract(a, y_prev, out=dzu)
        dzu *= dy
        # r_t * y_{t-1} feeds a_t through Wh_a
        np.matmul(dza, fz.Wh_aT, out=dry)
        np.multiply(dry, y_prev, out=dzr)
        # sigma' = g (1 - g) on [r, u], whole rows
        np.subtract(1, g, out=deriv)
        deriv *= g
        dz *= deriv
        # dy_{t-1} = dy (1 - u) + dry * r + [dz_r, dz_u] @ Wh_ru^T
        np.multiply(dy, u, out=tmp)
        np.subtract(dy, tmp, out=dh)
        dry *= r
        dh += dry
        np.matmul(dz, fz.WhT, out=tmp)
        dh += tmp
    # Weight gradients: sums over time as single products over all T * B rows.
    X2 = xs.reshape(T * B, D)
    Yprev = Y[:T].reshape(T * B, H)
    dZ2, dA2 = dZ.reshape(T * B, 2 * H), dA.reshape(T * B, H)
    dWx = np.concatenate([X2.T @ dZ2, X2.T @ dA2], axis=1)
    dWh = np.concatenate([Yprev.T @ dZ2, RY.reshape(T * B, H).T @ dA2], axis=1)
    db = np.concatenate([dZ2.sum(axis=0), dA2.sum(axis=0)])
    dxs = dZ2 @ fz.WxT[: 2 * H]
    dxs += dA2 @ fz.WxT[2 * H :]
    return dxs.reshape(T, B, D), (dh,), _unfuse(_LAYOUTS["gru"], dWx, dWh, db)


# ----------------------------------------------------------------------------- public functions


class Cache(NamedTuple):
    """What ``backward`` needs from ``forward`` (arrays batched and time-major).

    - kind: cell name ("rnn", "lstm", "lstm_memo" or "gru")
    - unbatched: whether xs was (T, D)
    - fused: the Fused weights
    - xs: (T, B, D) inputs
    - Y: (T+1, B, H) outputs with y_0 first (RNN: the states s_0 ... s_T)
    - saved: the cell's own arrays, from its layer forward function: RNN (G,);
      LSTM (G, S, TS); GRU (G, RY, A) (see ``_rnn_forward``, ``_lstm_forward``,
      ``_gru_forward``)
    """

    kind: str
    unbatched: bool
    fused: Fused
    xs: np.ndarray
    Y: np.ndarray
    saved: tuple


def _state_tuple(state, n_state, B, H, dtype):
    """A state (or state gradient) tuple as n_state fresh (B, H) arrays of ``dtype``;
    None, or None in place of an array, means zeros."""
    if state is None:
        state = (None,) * n_state
    return tuple(np.zeros((B, H), dtype) if s is None else np.array(s, dtype).reshape(B, H) for s in state)


def forward(cell, xs, state0, params):
    """Run one layer of ``cell`` over a whole sequence, keeping a cache for ``backward``.

    Arguments in the order of ``rnnkit.sequence.unroll``.

    Inputs:
    - cell: "rnn", "lstm", "lstm_memo", "gru" or a cell object (its .name is used)
    - xs: inputs x_1 ... x_T, shape (T, B, D), or (T, D) for one sequence
    - state0: initial state tuple as in ``unroll`` ((s_0,) RNN, (y_0, s_0) LSTM,
      (y_0,) GRU; arrays (B, H), or (H,) for one sequence); None for zeros
    - params: RNNParams / LSTMParams / GRUParams, weights (H, D+H), biases (H,)

    Returns a tuple of:
    - ys: outputs y_1 ... y_T, shape (T, B, H) (or (T, H))
    - state: final state tuple, like state0
    - cache: a Cache for ``backward``
    """
    kind = _cell_kind(cell)
    xs = np.asarray(xs)
    dtype = xs.dtype if np.issubdtype(xs.dtype, np.floating) else np.float64
    unbatched = xs.ndim == 2
    if unbatched:
        xs = xs[:, None, :]
    xs = xs.astype(dtype, copy=False)
    B = xs.shape[1]
    fz = fuse(kind, params, dtype)
    H = fz.Wh.shape[0]
    state0 = _state_tuple(state0, _LAYOUTS[kind].n_state, B, H, dtype)
    layer_forward, _ = _layer_functions(kind)
    Y, state, saved = layer_forward(fz, xs, state0)
    ys = Y[1:]
    if unbatched:
        ys = ys[:, 0]
        state = tuple(s[0] for s in state)
    return ys, state, Cache(kind, unbatched, fz, xs, Y, saved)


def backward(cache, dys, dstate_T=None):
    """Backpropagation through time from a ``forward`` cache.

    Arguments and results as for ``rnnkit.sequence.bptt`` after its (cell, xs, state0,
    params), which the cache holds.

    Inputs:
    - cache: the Cache returned by ``forward``
    - dys: dL/dy_t from above (loss or next layer), shape (T, B, H) like ys; None for zeros
    - dstate_T: optional gradients on the final state tuple (like state0), None for zeros

    Returns a tuple of:
    - dxs: dL/dx_t, shape (T, B, D) like xs
    - dstate0: gradients on the initial state tuple (like state0)
    - dparams: dL/dparams in the cell's unfused form (RNNParams / LSTMParams / GRUParams)
      with the dtype of the computation; for "lstm_memo" W_f and b_f get zeros
    """
    T, B, _ = cache.xs.shape
    H = cache.Y.shape[2]
    dtype = cache.Y.dtype
    dys = np.zeros((T, B, H), dtype) if dys is None else np.asarray(dys, dtype)
    if cache.unbatched:
        dys = dys[:, None, :]
    # Fresh arrays: the layer functions accumulate into them.
    dstate_T = _state_tuple(dstate_T, _LAYOUTS[cache.kind].n_state, B, H, dtype)
    _, layer_backward = _layer_functions(cache.kind)
    dxs, dstate0, dparams = layer_backward(cache.fused, cache.xs, cache.Y, cache.saved, dys, dstate_T)
    if cache.unbatched:
        dxs = dxs[:, 0]
        dstate0 = tuple(d[0] for d in dstate0)
    return dxs, dstate0, dparams


def stacked_forward(cell, xs, states0, layer_params):
    """Run L stacked layers (layer l's outputs are layer l+1's inputs) with caches.

    Arguments in the order of ``rnnkit.multilayer.stacked_forward``.

    Inputs:
    - cell: cell name or object, used by every layer
    - xs: input sequence, shape (T, B, D)
    - states0: list of L initial state tuples (None in place of one: zeros), or None for
      zeros everywhere
    - layer_params: list of L parameter sets; layer l's weights (H_l, H_{l-1} + H_l)

    Returns a tuple of:
    - ys: top layer outputs, shape (T, B, H_L)
    - states: list of L final state tuples (layer 1 first)
    - caches: list of L caches for ``stacked_backward``
    """
    if states0 is None:
        states0 = [None] * len(layer_params)
    states, caches = [], []
    for state0, params in zip(states0, layer_params, strict=True):
        xs, state, cache = forward(cell, xs, state0, params)
        states.append(state)
        caches.append(cache)
    return xs, states, caches


def stacked_backward(caches, dys, dstates_T=None):
    """Backward through L stacked layers from ``stacked_forward``'s caches.

    Arguments and results as for ``rnnkit.multilayer.stacked_backward`` after its
    (cell, xs, states0, layer_params), which the caches hold.

    Inputs:
    - caches: list of L caches
    - dys: dL/dy_t of the top layer's outputs, shape (T, B, H_L)
    - dstates_T: optional list of L gradient tuples on the final states

    Returns a tuple of:
    - dxs: dL/dx_t for the input sequence, shape (T, B, D)
    - dstates0: list of L gradient tuples on the initial states
    - dlayer_params: list of L parameter gradients (layer 1 first)
    """
    L = len(caches)
    if dstates_T is None:
        dstates_T = [None] * L
    dstates0, dlayer_params = [None] * L, [None] * L
    for layer in range(L - 1, -1, -1):
        dys, dstates0[layer], dlayer_params[layer] = backward(caches[layer], dys, dstates_T[layer])
    return dys, dstates0, dlayer_params
