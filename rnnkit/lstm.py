"""Long short-term memory (memo: "LSTM").

With z_t = [x_t, y_{t-1}] (the input and the previous output side by side):

    f_t = sigma(W_f z_t + b_f)           forget gate: how much of s_{t-1} to keep
    I_t = sigma(W_i z_t + b_i)           input gate: how much of a_t to write
    a_t = tanh(W_a z_t + b_a)            input activation: what to write
    s_t = f_t * s_{t-1} + I_t * a_t      new internal state
    O_t = sigma(W_o z_t + b_o)           output gate: how much of the state to show
    y_t = O_t * tanh(s_t)                final output

``*`` is elementwise. The memo writes the state as s_t = I_t * a_t + s_{t-1},
without the forget gate (the 1997 LSTM); this course teaches the standard form
above (Gers, Schmidhuber and Cummins, 2000). ``memo_new_state`` keeps the memo's
form for the lesson that compares them; cells and sequences select it with
``memo_form=True``.

Shapes: x_t (B, D); y_t, s_t and every gate (B, H); each W_* (H, D + H) with
columns [:D] acting on x_t and [D:] on y_{t-1}; each b_* (H,). Unbatched inputs
(D,), (H,) give (H,) outputs.
"""

from typing import NamedTuple

import numpy as np

from .activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh


class LSTMParams(NamedTuple):
    """The four gates' weights (H, D + H) and biases (H,)."""

    W_f: np.ndarray
    b_f: np.ndarray
    W_i: np.ndarray
    b_i: np.ndarray
    W_a: np.ndarray
    b_a: np.ndarray
    W_o: np.ndarray
    b_o: np.ndarray


def forget_gate(x, y_prev, W_f, b_f):
    """Forget gate f_t = sigma(W_f [x_t, y_{t-1}] + b_f).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - W_f: weights, shape (H, D + H); W_f[:, :D] multiplies x_t, W_f[:, D:] y_{t-1}
    - b_f: bias, shape (H,)

    Returns:
    - f: f_t, shape (B, H) or (H,), values in (0, 1): the fraction of each
      state component kept.
    """
    ### BEGIN SOLUTION
    return sigmoid(np.concatenate([x, y_prev], axis=-1) @ W_f.T + b_f)
    ### END SOLUTION


def input_gate(x, y_prev, W_i, b_i):
    """Input gate I_t = sigma(W_i [x_t, y_{t-1}] + b_i).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - W_i: weights, shape (H, D + H)
    - b_i: bias, shape (H,)

    Returns:
    - I: I_t, shape (B, H) or (H,), values in (0, 1): how much of a_t is written.
    """
    ### BEGIN SOLUTION
    return sigmoid(np.concatenate([x, y_prev], axis=-1) @ W_i.T + b_i)
    ### END SOLUTION


def input_activation(x, y_prev, W_a, b_a):
    """Input activation a_t = tanh(W_a [x_t, y_{t-1}] + b_a).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - W_a: weights, shape (H, D + H)
    - b_a: bias, shape (H,)

    Returns:
    - a: a_t, shape (B, H) or (H,), values in (-1, 1): the candidate written
      into the state.
    """
    ### BEGIN SOLUTION
    return tanh(np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a)
    ### END SOLUTION


def output_gate(x, y_prev, W_o, b_o):
    """Output gate O_t = sigma(W_o [x_t, y_{t-1}] + b_o).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - W_o: weights, shape (H, D + H)
    - b_o: bias, shape (H,)

    Returns:
    - O: O_t, shape (B, H) or (H,), values in (0, 1): how much of the state is shown.
    """
    ### BEGIN SOLUTION
    return sigmoid(np.concatenate([x, y_prev], axis=-1) @ W_o.T + b_o)
    ### END SOLUTION


def new_state(f, I, a, s_prev):
    """New internal state s_t = f_t * s_{t-1} + I_t * a_t (standard, with forget gate).

    Inputs:
    - f: forget gate f_t, shape (B, H) or (H,)
    - I: input gate I_t, same shape
    - a: input activation a_t, same shape
    - s_prev: previous state s_{t-1}, same shape

    Returns:
    - s: s_t, same shape.
    """
    ### BEGIN SOLUTION
    return f * s_prev + I * a
    ### END SOLUTION


def memo_new_state(I, a, s_prev):
    """The memo's state update s_t = I_t * a_t + s_{t-1}: no forget gate (the 1997 LSTM).

    Kept so the course can show what it does over long sequences; not the standard form.
    It is ``new_state`` with the forget gate open, f_t = 1, and calls it so: 1 * s_{t-1}
    is s_{t-1} exactly, so the result is I_t * a_t + s_{t-1} bit for bit, computed by
    ``new_state`` (yours, in your copy of the course). Shapes as in ``new_state``.
    """
    return new_state(np.ones_like(s_prev), I, a, s_prev)


def final_output(O, s):
    """Final output y_t = O_t * tanh(s_t).

    Inputs:
    - O: output gate O_t, shape (B, H) or (H,)
    - s: new state s_t, same shape

    Returns:
    - y: y_t, same shape, values in (-1, 1).
    """
    ### BEGIN SOLUTION
    return O * tanh(s)
    ### END SOLUTION


def lstm_step(x, y_prev, s_prev, params):
    """One LSTM step, composing the six functions above (``memo_lstm_step`` runs it too).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - s_prev: previous internal state s_{t-1}, shape (B, H) or (H,)
    - params: LSTMParams with W_* (H, D + H) and b_* (H,)

    Returns:
    - (y, s): the output y_t and the state s_t, each (B, H) or (H,).
    """
    ### BEGIN SOLUTION
    p = params
    f = forget_gate(x, y_prev, p.W_f, p.b_f)
    I = input_gate(x, y_prev, p.W_i, p.b_i)
    a = input_activation(x, y_prev, p.W_a, p.b_a)
    s = new_state(f, I, a, s_prev)
    O = output_gate(x, y_prev, p.W_o, p.b_o)
    y = final_output(O, s)
    return y, s
    ### END SOLUTION


# The forget bias that pins the forget gate open in ``memo_lstm_step``. With W_f = 0 the gate's
# pre-activation is exactly this number, and sigma(50) rounds to exactly 1.0 in float64 and in
# float32 for the usual ways of writing the sigmoid (rnnkit's, 1 / (1 + exp(-z)),
# exp(z) / (1 + exp(z)), the two-branch stable form, (1 + tanh(z / 2)) / 2), none of which
# overflows or underflows there: every bias from 38 to 87 does both.
MEMO_FORGET_BIAS = 50.0


def memo_lstm_step(x, y_prev, s_prev, params):
    """One LSTM step in the memo's literal form: s_t = I_t * a_t + s_{t-1} (no forget gate).

    It is ``lstm_step`` (yours, in your copy of the course) with the forget gate pinned
    open: the forget gate's weights are replaced by W_f = 0 and b_f = MEMO_FORGET_BIAS (50),
    so f_t = sigma(50), exactly 1.0 in float64 and float32, and new_state's
    f_t * s_{t-1} + I_t * a_t is I_t * a_t + s_{t-1} bit for bit. The other gates and
    final_output are lstm_step's own. The forget gate's parameters in ``params`` are
    accepted (so the same LSTMParams serve both forms) and unused.

    Inputs and returns as in ``lstm_step``: x (B, D) or (D,); y_prev, s_prev (B, H) or
    (H,); params an LSTMParams. Returns (y, s), each (B, H) or (H,).
    """
    p = LSTMParams(*params)
    forget_open = p._replace(W_f=np.zeros_like(p.W_f), b_f=np.full_like(p.b_f, MEMO_FORGET_BIAS))
    return lstm_step(x, y_prev, s_prev, forget_open)


def lstm_step_backward(x, y_prev, s_prev, params, dy, ds, memo_form=False):
    """Backward pass of one LSTM step (recomputes the forward step itself).

    Forward (see the module docstring), with z_t = [x_t, y_{t-1}]:
        f_t, I_t, O_t = sigma(W_* z_t + b_*),  a_t = tanh(W_a z_t + b_a)
        s_t = f_t * s_{t-1} + I_t * a_t        (memo_form: s_t = I_t * a_t + s_{t-1})
        y_t = O_t * tanh(s_t)
    Backward: the state s_t gets gradient twice, from step t+1 (``ds``) and
    through y_t = O_t * tanh(s_t):
        dL/ds_t (total) = ds + dy * O_t * (1 - tanh(s_t)^2)
        dL/dO_t = dy * tanh(s_t)
        dL/df_t = dL/ds_t * s_{t-1},  dL/dI_t = dL/ds_t * a_t,  dL/da_t = dL/ds_t * I_t
        dL/ds_{t-1} = dL/ds_t * f_t
    In the memo's form (memo_form=True) s_t = I_t * a_t + s_{t-1} has no f_t, so instead
        dL/df_t = 0                       (W_f and b_f get zero gradient)
        dL/ds_{t-1} = dL/ds_t             (no f_t factor: s_{t-1} enters s_t with weight 1)
    Then each gate's pre-activation through sigma' = g (1 - g) or tanh' = 1 - a^2,
    and from the pre-activations to W_*, b_* and z_t = [x_t, y_{t-1}] as in the basic RNN.

    The two gradient arguments differ on purpose: y_t is seen from above and by step t+1, so
    ``dy`` is their sum; s_t is seen by step t+1 only outside this step, so ``ds`` is that part,
    and the part through y_t is added here.

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - s_prev: previous internal state s_{t-1}, shape (B, H) or (H,)
    - params: LSTMParams with W_* (H, D + H) and b_* (H,)
    - dy: total dL/dy_t: the whole gradient on the output y_t, from above at step t (the
      loss, or the layer above) plus from step t+1 (where y_t is y_{t-1}); the caller adds
      the two. Shape (B, H) or (H,)
    - ds: dL/ds_t from step t+1 only (where s_t is s_{t-1}), not the part through y_t,
      which this function adds itself. Shape (B, H) or (H,)
    - memo_form: if True, the step is the memo's s_t = I_t * a_t + s_{t-1} (``memo_lstm_step``):
      f_t is not used, so dL/df_t = 0, grads.W_f and grads.b_f are zero, and
      ds_prev = dL/ds_t (the total above), with no f_t factor

    Returns a tuple of:
    - dx: dL/dx_t, shape of x
    - dy_prev: dL/dy_{t-1} from step t only (step t-1 adds its own part from above), shape of y_prev
    - ds_prev: dL/ds_{t-1} from step t only (what step t-1 receives as its ``ds``), shape of s_prev
    - grads: LSTMParams of dL/dW_* (H, D + H) and dL/db_* (H,) of this step, summed over the batch
    """
    ### BEGIN SOLUTION
    p = params
    D = x.shape[-1]
    z = np.concatenate([x, y_prev], axis=-1)

    # Forward again, keeping every gate.
    I = input_gate(x, y_prev, p.W_i, p.b_i)
    a = input_activation(x, y_prev, p.W_a, p.b_a)
    if memo_form:
        s = memo_new_state(I, a, s_prev)
    else:
        f = forget_gate(x, y_prev, p.W_f, p.b_f)
        s = new_state(f, I, a, s_prev)
    O = output_gate(x, y_prev, p.W_o, p.b_o)
    tanh_s = tanh(s)

    # Backward through y_t = O_t * tanh(s_t) and the state update.
    ds_total = ds + dy * O * dtanh_from_output(tanh_s)
    dO = dy * tanh_s
    dI = ds_total * a
    da = ds_total * I
    if memo_form:
        dpre_f = np.zeros_like(ds_total)  # the memo's state never uses f_t
        ds_prev = ds_total
    else:
        dpre_f = ds_total * s_prev * dsigmoid_from_output(f)
        ds_prev = ds_total * f

    # Through each gate's nonlinearity to its pre-activation.
    dpre_i = dI * dsigmoid_from_output(I)
    dpre_a = da * dtanh_from_output(a)
    dpre_o = dO * dsigmoid_from_output(O)

    # Every gate reads the same z_t = [x_t, y_{t-1}]: their gradients add up.
    # np.atleast_2d turns an unbatched (H,) into a batch of one row.
    z2 = np.atleast_2d(z)
    grads = LSTMParams(
        W_f=np.atleast_2d(dpre_f).T @ z2, b_f=np.atleast_2d(dpre_f).sum(axis=0),
        W_i=np.atleast_2d(dpre_i).T @ z2, b_i=np.atleast_2d(dpre_i).sum(axis=0),
        W_a=np.atleast_2d(dpre_a).T @ z2, b_a=np.atleast_2d(dpre_a).sum(axis=0),
        W_o=np.atleast_2d(dpre_o).T @ z2, b_o=np.atleast_2d(dpre_o).sum(axis=0),
    )
    dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o
    return dz[..., :D], dz[..., D:], ds_prev, grads
    ### END SOLUTION
