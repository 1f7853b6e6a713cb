"""Basic RNN (memo: "Basic RNN").

    s_t = tanh(W [x_t, s_{t-1}] + b)
    y_t = s_t

Shapes: x_t is (B, D), s_t is (B, H), W is (H, D + H) with columns [:D] acting
on x_t and columns [D:] on s_{t-1}, b is (H,). Unbatched inputs (D,), (H,) give
(H,) outputs.
"""

from typing import NamedTuple

import numpy as np

from .activations import dtanh_from_output, tanh


class RNNParams(NamedTuple):
    """Parameters of a basic RNN layer: W (H, D + H) and b (H,)."""

    W: np.ndarray
    b: np.ndarray


def rnn_step(x, s_prev, W, b):
    """One step of the basic RNN: s_t = tanh(W [x_t, s_{t-1}] + b).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - s_prev: previous state s_{t-1}, shape (B, H) or (H,)
    - W: weights, shape (H, D + H); W[:, :D] multiplies x_t, W[:, D:] multiplies s_{t-1}
    - b: bias, shape (H,)

    Returns:
    - s: new state s_t, shape (B, H) or (H,); also the output y_t = s_t.
    """
    ### BEGIN SOLUTION
    z = np.concatenate([x, s_prev], axis=-1) @ W.T + b
    return tanh(z)
    ### END SOLUTION
