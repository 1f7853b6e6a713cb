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

Usage (parameters in the ordinary unfused form, e.g. ``rnnkit.LSTM.init_params``):

    ys, state, cache = forward("lstm", xs, params)            # xs (T, B, D)
    dxs, dstate0, grads = backward(cache, dys)               # grads: LSTMParams

    ys, states, caches = stacked_forward("gru", xs, layer_params)
    dxs, dstates0, layer_grads = stacked_backward(caches, dys)

Cells are named "rnn", "lstm", "lstm_memo" (the memo's state update
s_t = I_t * a_t + s_{t-1}, no forget gate) and "gru"; a cell object from
``rnnkit.cells`` works too. Computation runs in the dtype of xs (float32 or float64);
parameters are cast to it, and outputs, states and gradients have that dtype.
"""

from typing import NamedTuple

import numpy as np

from .gru import GRUParams
from .lstm import LSTMParams
from .rnn import RNNParams

# Gate blocks in fused order. The sigmoid gates come first so that one slice holds them.
_LSTM_ORDER = ("f", "i", "o", "a")  # f, I, O: sigmoid; a: tanh
_GRU_ORDER = ("r", "u", "a")  # r, u: sigmoid; a: tanh


def _cell_name(cell):
    name = cell if isinstance(cell, str) else cell.name
    if name not in ("rnn", "lstm", "lstm_memo", "gru"):
        raise ValueError(f"unknown cell {name!r}: expected 'rnn', 'lstm', 'lstm_memo' or 'gru'")
    return name


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
    name = _cell_name(cell)
    if name == "rnn":
        blocks, n_sig = [(params.W, params.b)], 0
    elif name in ("lstm", "lstm_memo"):
        blocks, n_sig = [(getattr(params, "W_" + g), getattr(params, "b_" + g)) for g in _LSTM_ORDER], 3
    else:
        blocks, n_sig = [(getattr(params, "W_" + g), getattr(params, "b_" + g)) for g in _GRU_ORDER], 2
    H = blocks[0][1].shape[0]
    D = blocks[0][0].shape[1] - H
    WxT = np.concatenate([W[:, :D] for W, _ in blocks], axis=0).astype(dtype)  # (G*H, D)
    WhT = np.concatenate([W[:, D:] for W, _ in blocks], axis=0).astype(dtype)  # (G*H, H)
    b = np.concatenate([bb for _, bb in blocks]).astype(dtype)
    Wh_a = Wh_aT = None
    if name == "gru":
        Wh_aT = np.ascontiguousarray(WhT[2 * H :])
        Wh_a = np.ascontiguousarray(Wh_aT.T)
        WhT = np.ascontiguousarray(WhT[: 2 * H])
    half = np.ones(len(b), dtype)
    half[: n_sig * H] = 0.5
    sig = np.zeros(len(b), dtype)
    sig[: n_sig * H] = 0.5
    # Scaling by 1/2 is exact in floating point: z/2 comes out of the same products.
    Wx = np.ascontiguousarray(WxT.T) * half
    Wh = np.ascontiguousarray(WhT.T) * half[: WhT.shape[0]]
    return Fused(Wx, Wh, b * half, WxT, WhT, Wh_a, Wh_aT, half, sig)


def _unfuse(name, dWx, dWh, db, dWh_a=None):
    """Gradients of the fused (unscaled) weights -> RNNParams / LSTMParams / GRUParams."""
    H = dWh.shape[0]
    if name == "gru":
        dWh = np.concatenate([dWh, dWh_a], axis=1)
    order = {"rnn": ("",), "lstm": _LSTM_ORDER, "lstm_memo": _LSTM_ORDER, "gru": _GRU_ORDER}[name]
    fields = {}
    for k, g in enumerate(order):
        cols = slice(k * H, (k + 1) * H)
        fields["W" + ("_" + g if g else "")] = np.concatenate([dWx[:, cols].T, dWh[:, cols].T], axis=1)
        fields["b" + ("_" + g if g else "")] = db[cols].copy()
    Params = {"rnn": RNNParams, "gru": GRUParams}.get(name, LSTMParams)
    return Params(**fields)


class Cache(NamedTuple):
    """What the backward pass needs from the forward pass (arrays time-major).

    - name: cell name; unbatched: whether xs was (T, D)
    - fused: the Fused weights
    - xs: (T, B, D) inputs
    - Y: (T+1, B, H) outputs with y_0 first (RNN: the states s_0 ... s_T)
    - G: gate values after their nonlinearity: LSTM (T, B, 4H) as [f, I, O, a];
      GRU (T, B, 2H) as [r, u]; RNN (T, B, H) (= Y[1:])
    - S: LSTM (T+1, B, H) states s_0 ... s_T, else None
    - TS: LSTM (T, B, H) tanh(s_t), else None
    - RY: GRU (T, B, H) r_t * y_{t-1}, else None
    - A: GRU (T, B, H) input activations a_t, else None
    """

    name: str
    unbatched: bool
    fused: Fused
    xs: np.ndarray
    Y: np.ndarray
    G: np.ndarray
    S: np.ndarray | None
    TS: np.ndarray | None
    RY: np.ndarray | None
    A: np.ndarray | None


def _half_tanh_to_sigmoid(g, fz, cols):
    """In place on whole rows: sigmoid columns hold tanh(z/2) and become 0.5 + 0.5 tanh(z/2)
    = sigma(z); tanh columns are left as they are (times 1, plus 0). Whole contiguous
    rows are much faster than a strided slice of them."""
    g *= fz.half[cols]
    g += fz.sig[cols]


def forward(cell, xs, params, state0=None):
    """Run one layer of ``cell`` over a whole sequence, keeping a cache for ``backward``.

    Inputs:
    - cell: "rnn", "lstm", "lstm_memo", "gru" or a cell object (its .name is used)
    - xs: inputs x_1 ... x_T, shape (T, B, D), or (T, D) for one sequence
    - params: RNNParams / LSTMParams / GRUParams, weights (H, D+H), biases (H,)
    - state0: initial state tuple as in ``rnnkit.unroll`` ((s_0,) RNN, (y_0, s_0)
      LSTM, (y_0,) GRU; arrays (B, H)); None for zeros

    Returns:
    - ys: outputs y_1 ... y_T, shape (T, B, H) (or (T, H))
    - state: final state tuple, like state0
    - cache: a Cache for ``backward``
    """
    name = _cell_name(cell)
    xs = np.asarray(xs)
    dtype = xs.dtype if np.issubdtype(xs.dtype, np.floating) else np.float64
    unbatched = xs.ndim == 2
    if unbatched:
        xs = xs[:, None, :]
    xs = xs.astype(dtype, copy=False)
    T, B, D = xs.shape
    fz = fuse(name, params, dtype)
    H = fz.Wh.shape[0]
    n_state = 2 if name.startswith("lstm") else 1
    if state0 is None:
        state0 = (np.zeros((B, H), dtype),) * n_state
    state0 = tuple(np.asarray(s, dtype).reshape(B, H) for s in state0)

    # Input projection for all T steps at once; the loop adds the recurrent part in place.
    X2 = xs.reshape(T * B, D)
    Y = np.empty((T + 1, B, H), dtype)
    Y[0] = state0[0]
    S = TS = RY = A = None
    if name in ("lstm", "lstm_memo"):
        G = (X2 @ fz.Wx + fz.b).reshape(T, B, 4 * H)
        S = np.empty((T + 1, B, H), dtype)
        S[0] = state0[1]
        TS = np.empty((T, B, H), dtype)
        rec = np.empty((B, 4 * H), dtype)
        tmp = np.empty((B, H), dtype)
        memo = name == "lstm_memo"
        for t in range(T):
            g = G[t]
            np.matmul(Y[t], fz.Wh, out=rec)
            g += rec
            np.tanh(g, out=g)
            _half_tanh_to_sigmoid(g, fz, slice(None))
            f, i, o, a = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
            s = S[t + 1]
            if memo:
                s[...] = S[t]
            else:
                np.multiply(f, S[t], out=s)
            np.multiply(i, a, out=tmp)
            s += tmp
            np.tanh(s, out=TS[t])
            np.multiply(o, TS[t], out=Y[t + 1])
        state = (Y[T].copy(), S[T].copy())
    elif name == "gru":
        # Separate contiguous buffers for [r, u] and for a: a_t needs r_t first.
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
        state = (Y[T].copy(),)
    else:
        G = (X2 @ fz.Wx + fz.b).reshape(T, B, H)
        rec = np.empty((B, H), dtype)
        for t in range(T):
            g = G[t]
            np.matmul(Y[t], fz.Wh, out=rec)
            g += rec
            np.tanh(g, out=g)
            Y[t + 1] = g
        state = (Y[T].copy(),)

    ys = Y[1:]
    if unbatched:
        ys = ys[:, 0]
        state = tuple(s[0] for s in state)
    return ys, state, Cache(name, unbatched, fz, xs, Y, G, S, TS, RY, A)


def backward(cache, dys, dstate_T=None):
    """Backpropagation through time from a ``forward`` cache.

    Inputs:
    - cache: the Cache returned by ``forward``
    - dys: dL/dy_t from above (loss or next layer), shape (T, B, H) like ys; None for zeros
    - dstate_T: optional gradients on the final state tuple (like state0), None for zeros

    Returns:
    - dxs: dL/dx_t, shape (T, B, D) like xs
    - dstate0: gradients on the initial state tuple (like state0)
    - grads: dL/dparams in the cell's unfused form (RNNParams / LSTMParams / GRUParams)
      with the dtype of the computation; for "lstm_memo" W_f and b_f get zeros
    """
    name, fz, xs, Y, G = cache.name, cache.fused, cache.xs, cache.Y, cache.G
    T, B, D = xs.shape
    H = Y.shape[2]
    dtype = Y.dtype
    if dys is None:
        dys = np.zeros((T, B, H), dtype)
    dys = np.asarray(dys, dtype)
    if cache.unbatched:
        dys = dys[:, None, :]
        if dstate_T is not None:
            dstate_T = tuple(None if d is None else np.asarray(d)[None] for d in dstate_T)
    n_state = 2 if name.startswith("lstm") else 1
    if dstate_T is None:
        dstate_T = (None,) * n_state

    def _init(d):
        return np.zeros((B, H), dtype) if d is None else np.array(d, dtype).reshape(B, H)

    dh = _init(dstate_T[0])  # dL/dy_t arriving from step t+1 (RNN: dL/ds_t)
    dZ = np.empty_like(G)  # gradients on the pre-activations z_t (unscaled)
    dy = np.empty((B, H), dtype)
    tmp = np.empty((B, H), dtype)
    X2 = xs.reshape(T * B, D)
    Yprev = Y[:T].reshape(T * B, H)
    if name in ("lstm", "lstm_memo"):
        S, TS = cache.S, cache.TS
        ds = _init(dstate_T[1])
        memo = name == "lstm_memo"
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
            if memo:
                dzf[...] = 0
            else:
                np.multiply(ds, S[t], out=dzf)  # dL/df_t
            np.multiply(ds, a, out=dzi)  # dL/dI_t
            np.multiply(ds, i, out=dza)  # dL/da_t
            np.subtract(1, g, out=deriv)
            dz *= deriv
            np.add(g, beta, out=deriv)
            dz *= deriv
            if not memo:
                ds *= f
            np.matmul(dz, fz.WhT, out=dh)
        dstate0 = (dh, ds)
        dZ2 = dZ.reshape(T * B, 4 * H)
        dWx = X2.T @ dZ2
        dWh = Yprev.T @ dZ2
        db = dZ2.sum(axis=0)
        dxs = dZ2 @ fz.WxT
        grads = _unfuse(name, dWx, dWh, db)
    elif name == "gru":
        RY, A = cache.RY, cache.A
        dA = np.empty_like(A)
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
        dstate0 = (dh,)
        dZ2, dA2 = dZ.reshape(T * B, 2 * H), dA.reshape(T * B, H)
        dWx = np.concatenate([X2.T @ dZ2, X2.T @ dA2], axis=1)
        dWh = Yprev.T @ dZ2
        dWh_a = RY.reshape(T * B, H).T @ dA2
        db = np.concatenate([dZ2.sum(axis=0), dA2.sum(axis=0)])
        dxs = dZ2 @ fz.WxT[: 2 * H]
        dxs += dA2 @ fz.WxT[2 * H :]
        grads = _unfuse(name, dWx, dWh, db, dWh_a)
    else:
        for t in range(T - 1, -1, -1):
            np.add(dys[t], dh, out=dy)
            np.multiply(G[t], G[t], out=tmp)
            np.subtract(1, tmp, out=tmp)
            np.multiply(dy, tmp, out=dZ[t])
            np.matmul(dZ[t], fz.WhT, out=dh)
        dstate0 = (dh,)
        dZ2 = dZ.reshape(T * B, H)
        grads = _unfuse(name, X2.T @ dZ2, Yprev.T @ dZ2, dZ2.sum(axis=0))
        dxs = dZ2 @ fz.WxT

    # (weight gradients above: sums over time as single products over all T * B rows)
    dxs = dxs.reshape(T, B, D)
    if cache.unbatched:
        dxs = dxs[:, 0]
        dstate0 = tuple(d[0] for d in dstate0)
    return dxs, dstate0, grads


def stacked_forward(cell, xs, layer_params, states0=None):
    """Run L stacked layers (layer l's outputs are layer l+1's inputs) with caches.

    Inputs:
    - cell: cell name or object, used by every layer
    - xs: input sequence, shape (T, B, D)
    - layer_params: list of L parameter sets; layer l's weights (H_l, H_{l-1} + H_l)
    - states0: list of L initial state tuples, or None for zeros everywhere

    Returns:
    - ys: top layer outputs, shape (T, B, H_L)
    - states: list of L final state tuples (layer 1 first)
    - caches: list of L caches for ``stacked_backward``
    """
    if states0 is None:
        states0 = [None] * len(layer_params)
    states, caches = [], []
    for params, state0 in zip(layer_params, states0, strict=True):
        xs, state, cache = forward(cell, xs, params, state0)
        states.append(state)
        caches.append(cache)
    return xs, states, caches


def stacked_backward(caches, dys, dstates_T=None):
    """Backward through L stacked layers from ``stacked_forward``'s caches.

    Inputs:
    - caches: list of L caches
    - dys: dL/dy_t of the top layer's outputs, shape (T, B, H_L)
    - dstates_T: optional list of L gradient tuples on the final states

    Returns:
    - dxs: dL/dx_t for the input sequence, shape (T, B, D)
    - dstates0: list of L gradient tuples on the initial states
    - layer_grads: list of L parameter gradients (layer 1 first)
    """
    L = len(caches)
    if dstates_T is None:
        dstates_T = [None] * L
    dstates0, layer_grads = [None] * L, [None] * L
    for layer in range(L - 1, -1, -1):
        dys, dstates0[layer], layer_grads[layer] = backward(caches[layer], dys, dstates_T[layer])
    return dys, dstates0, layer_grads
