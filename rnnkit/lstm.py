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

from .activations import sigmoid, tanh


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
    Shapes as in ``new_state``.
    """
    return I * a + s_prev


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
    """One LSTM step, composing the six functions above.

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


def memo_lstm_step(x, y_prev, s_prev, params):
    """One LSTM step in the memo's literal form: s_t = I_t * a_t + s_{t-1}.

    The forget gate's parameters are accepted (so the same LSTMParams serve both
    forms) and unused. Shapes and returns as in ``lstm_step``.
    """
    p = params
    I = input_gate(x, y_prev, p.W_i, p.b_i)
    a = input_activation(x, y_prev, p.W_a, p.b_a)
    s = memo_new_state(I, a, s_prev)
    O = output_gate(x, y_prev, p.W_o, p.b_o)
    return final_output(O, s), s
