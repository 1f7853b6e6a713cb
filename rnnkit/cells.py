"""The three cells behind one small interface, so that unrolling over time and
stacking layers are written once for all of them.

A cell is any object with
- ``step(x, state, params) -> (y, state)``: one time step. ``state`` is a tuple
  of arrays: ``(s,)`` for the basic RNN, ``(y, s)`` for the LSTM, ``(y,)`` for
  the GRU. ``y`` is what the layer above (or the loss) sees.
- ``step_backward(x, state_prev, params, dy, dstate) -> (dx, dstate_prev, dparams)``:
  the backward pass of ``step``, recomputing the forward step from its inputs.
  ``dy`` is dL/dy_t from above only (the loss, or the layer above at step t; not
  from step t+1); ``dstate`` is dL/d(state_t) from step t+1 only (a tuple like
  ``state``, or None for zero, e.g. at the last step). The cell adds the two where
  they meet and hands the step's backward function what its docstring asks for:
      RNN   rnn_step_backward   ds = dy + dstate[0]              (total dL/ds_t)
      LSTM  lstm_step_backward  dy = dy + dstate[0]              (total dL/dy_t),
                                ds = dstate[1]                   (dL/ds_t from step t+1 only)
      GRU   gru_step_backward   dy = dy + dstate[0]              (total dL/dy_t)
  Returns dL/dx_t, dL/d(state_{t-1}) from step t only (a tuple like ``state``) and
  dL/d(params) of this step (the params' type, summed over the batch).
- ``zero_state(B, H, dtype)``: the all-zero initial state for a batch of B.
- ``init_params(D, H, rng, dtype)``: fresh parameters for input size D and
  state size H.

The steps call the module-level gate and backward functions at call time, so in
a learner's copy they run the learner's own code.
"""

import numpy as np

from . import gru, lstm, rnn
from .gru import GRUParams
from .lstm import LSTMParams
from .rnn import RNNParams


def _uniform(rng, shape, bound, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class RNNCell:
    """Basic RNN: state (s,), params RNNParams(W, b)."""

    name = "rnn"
    Params = RNNParams
    state_names = ("s",)

    def step(self, x, state, params):
        (s_prev,) = state
        s = rnn.rnn_step(x, s_prev, params.W, params.b)
        return s, (s,)

    def step_backward(self, x, state_prev, params, dy, dstate=None):
        """Backward of ``step``: dy is dL/dy_t from above only, dstate dL/d(state_t) from step t+1
        only. The RNN's output is its state, so the total dL/ds_t is dy + dstate[0]."""
        (s_prev,) = state_prev
        ds = dy if dstate is None else dy + dstate[0]
        dx, ds_prev, dW, db = rnn.rnn_step_backward(x, s_prev, params.W, params.b, ds)
        return dx, (ds_prev,), RNNParams(dW, db)

    def zero_state(self, B, H, dtype=np.float64):
        return (np.zeros((B, H), dtype),)

    def init_params(self, D, H, rng=None, dtype=np.float64):
        """Uniform in +-1/sqrt(H), PyTorch's default for its recurrent cells."""
        rng = np.random.default_rng(rng)
        k = 1 / np.sqrt(H)
        return RNNParams(_uniform(rng, (H, D + H), k, dtype), _uniform(rng, (H,), k, dtype))


class LSTMCell:
    """LSTM: state (y, s), params LSTMParams. ``memo_form=True`` uses the memo's
    state update s_t = I_t * a_t + s_{t-1} (no forget gate)."""

    Params = LSTMParams
    state_names = ("y", "s")

    def __init__(self, memo_form=False):
        self.memo_form = memo_form
        self.name = "lstm_memo" if memo_form else "lstm"

    def step(self, x, state, params):
        y_prev, s_prev = state
        step = lstm.memo_lstm_step if self.memo_form else lstm.lstm_step
        y, s = step(x, y_prev, s_prev, params)
        return y, (y, s)

    def step_backward(self, x, state_prev, params, dy, dstate=None):
        """Backward of ``step``: dy is dL/dy_t from above only, dstate dL/d(state_t) from step t+1
        only. The total dL/dy_t is dy + dstate[0]; s_t gets dstate[1], from step t+1 only (the part
        through y_t is lstm_step_backward's own)."""
        y_prev, s_prev = state_prev
        if dstate is None:
            dy_total, ds = dy, np.zeros_like(dy)
        else:
            dy_total, ds = dy + dstate[0], dstate[1]
        dx, dy_prev, ds_prev, grads = lstm.lstm_step_backward(
            x, y_prev, s_prev, params, dy_total, ds, memo_form=self.memo_form
        )
        return dx, (dy_prev, ds_prev), grads

    def zero_state(self, B, H, dtype=np.float64):
        return (np.zeros((B, H), dtype), np.zeros((B, H), dtype))

    def init_params(self, D, H, rng=None, dtype=np.float64, forget_bias=1.0):
        """Uniform in +-1/sqrt(H); the forget bias starts at ``forget_bias`` so
        the state is kept at first (Jozefowicz, Zaremba and Sutskever, 2015)."""
        rng = np.random.default_rng(rng)
        k = 1 / np.sqrt(H)
        arrays = []
        for gate in "fiao":
            arrays.append(_uniform(rng, (H, D + H), k, dtype))
            b = _uniform(rng, (H,), k, dtype)
            if gate == "f":
                b = (b + forget_bias).astype(dtype)
            arrays.append(b)
        return LSTMParams(*arrays)


class GRUCell:
    """GRU: state (y,), params GRUParams."""

    name = "gru"
    Params = GRUParams
    state_names = ("y",)

    def step(self, x, state, params):
        (y_prev,) = state
        y = gru.gru_step(x, y_prev, params)
        return y, (y,)

    def step_backward(self, x, state_prev, params, dy, dstate=None):
        """Backward of ``step``: dy is dL/dy_t from above only, dstate dL/d(state_t) from step t+1
        only. The total dL/dy_t is dy + dstate[0]."""
        (y_prev,) = state_prev
        dy_total = dy if dstate is None else dy + dstate[0]
        dx, dy_prev, grads = gru.gru_step_backward(x, y_prev, params, dy_total)
        return dx, (dy_prev,), grads

    def zero_state(self, B, H, dtype=np.float64):
        return (np.zeros((B, H), dtype),)

    def init_params(self, D, H, rng=None, dtype=np.float64):
        """Uniform in +-1/sqrt(H)."""
        rng = np.random.default_rng(rng)
        k = 1 / np.sqrt(H)
        arrays = []
        for _ in "rua":
            arrays += [_uniform(rng, (H, D + H), k, dtype), _uniform(rng, (H,), k, dtype)]
        return GRUParams(*arrays)


RNN = RNNCell()
LSTM = LSTMCell()
LSTM_MEMO = LSTMCell(memo_form=True)
GRU = GRUCell()
CELLS = {c.name: c for c in (RNN, LSTM, LSTM_MEMO, GRU)}
