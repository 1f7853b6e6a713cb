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


def rnn_step_backward(x, s_prev, W, b, ds):
    """Backward pass of one basic RNN step (recomputes the forward step itself).

    Forward, with z_t = [x_t, s_{t-1}]:  s_t = tanh(W z_t + b).
    Backward, with dL/ds_t given:
        dL/d(pre-activation) = dL/ds_t * (1 - s_t^2)
        dL/dW = dL/d(pre)^T z_t  (summed over the batch),  dL/db = sum of dL/d(pre)
        dL/dz_t = dL/d(pre) W, split into dL/dx_t (first D columns) and dL/ds_{t-1}.

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - s_prev: previous state s_{t-1}, shape (B, H) or (H,)
    - W: weights, shape (H, D + H)
    - b: bias, shape (H,)
    - ds: total dL/ds_t: the whole gradient on the new state s_t (= y_t), from above at
      step t (the loss, or the layer above) plus from step t+1 (where s_t is s_{t-1});
      the caller adds the two. Shape (B, H) or (H,), like s_prev.

    Returns a tuple of:
    - dx: dL/dx_t, shape of x
    - ds_prev: dL/ds_{t-1} from step t only (what this step sends back; step t-1 adds its
      own part from above), shape of s_prev
    - dW: dL/dW of this step, shape (H, D + H), summed over the batch
    - db: dL/db of this step, shape (H,), summed over the batch
    """
    ### BEGIN SOLUTION
    D = x.shape[-1]
    z = np.concatenate([x, s_prev], axis=-1)
    s = rnn_step(x, s_prev, W, b)
    dpre = ds * dtanh_from_output(s)
    # np.atleast_2d turns an unbatched (H,) into a batch of one row.
    dW = np.atleast_2d(dpre).T @ np.atleast_2d(z)
    db = np.atleast_2d(dpre).sum(axis=0)
    dz = dpre @ W
    return dz[..., :D], dz[..., D:], dW, db
    ### END SOLUTION
