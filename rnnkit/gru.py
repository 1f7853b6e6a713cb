"""Gated recurrent unit (memo: "Gated Recurrent Unit").

With the previous output y_{t-1} as the only memory (no separate internal state):

    r_t = sigma(W_r [x_t, y_{t-1}] + b_r)           reset gate
    u_t = sigma(W_u [x_t, y_{t-1}] + b_u)           update gate
    a_t = tanh(W_a [x_t, r_t * y_{t-1}] + b_a)      input activation
    y_t = (1 - u_t) * y_{t-1} + u_t * a_t           final output

The reset gate acts on y_{t-1} before the matrix product, and u_t weights the
new candidate. PyTorch's nn.GRU (weight_ih (3H, D), weight_hh (3H, H), two biases)
differs on both counts:

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)
    z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

1. The mix is mirrored: PyTorch's z is 1 - u. Since sigma(-v) = 1 - sigma(v),
   W_z = -W_u and b_z = -b_u make them equal for every input.
2. The reset gate's place: the memo scales y_{t-1} before the recurrent product,
   PyTorch scales the product (and its bias b_hn) after it. For general weights these
   are different functions of the same weights (lesson 5, section 3, measures how far
   apart; when they agree is a question of that lesson).

Keras' GRU(reset_after=False) places the reset gate as the memo does and mixes as
h = z * h_prev + (1 - z) * hh: the memo's GRU with z = 1 - u.

Shapes: x_t (B, D); y_t and every gate (B, H); each W_* (H, D + H) with columns
[:D] acting on x_t and [D:] on (r_t *) y_{t-1}; each b_* (H,). Unbatched inputs
(D,), (H,) give (H,) outputs.
"""

from typing import NamedTuple

import numpy as np

from .activations import dsigmoid_from_output, dtanh_from_output, sigmoid, tanh


class GRUParams(NamedTuple):
    """The three blocks' weights (H, D + H) and biases (H,)."""

    W_r: np.ndarray
    b_r: np.ndarray
    W_u: np.ndarray
    b_u: np.ndarray
    W_a: np.ndarray
    b_a: np.ndarray


def reset_gate(x, y_prev, W_r, b_r):
    """Reset gate r_t = sigma(W_r [x_t, y_{t-1}] + b_r).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - W_r: weights, shape (H, D + H); W_r[:, :D] multiplies x_t, W_r[:, D:] y_{t-1}
    - b_r: bias, shape (H,)

    Returns:
    - r: r_t, shape (B, H) or (H,), values in (0, 1): how much of y_{t-1} the
      input activation sees.
    """
    ### BEGIN SOLUTION
    return sigmoid(np.concatenate([x, y_prev], axis=-1) @ W_r.T + b_r)
    ### END SOLUTION


def update_gate(x, y_prev, W_u, b_u):
    """Update gate u_t = sigma(W_u [x_t, y_{t-1}] + b_u).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - W_u: weights, shape (H, D + H)
    - b_u: bias, shape (H,)

    Returns:
    - u: u_t, shape (B, H) or (H,), values in (0, 1): the weight of the new
      candidate a_t in y_t.
    """
    ### BEGIN SOLUTION
    return sigmoid(np.concatenate([x, y_prev], axis=-1) @ W_u.T + b_u)
    ### END SOLUTION


def input_activation(x, y_prev, r, W_a, b_a):
    """Input activation a_t = tanh(W_a [x_t, r_t * y_{t-1}] + b_a).

    The reset gate scales y_{t-1} before the product (PyTorch scales afterwards).

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - r: reset gate r_t, shape (B, H) or (H,)
    - W_a: weights, shape (H, D + H)
    - b_a: bias, shape (H,)

    Returns:
    - a: a_t, shape (B, H) or (H,), values in (-1, 1): the candidate output.
    """
    ### BEGIN SOLUTION
    return tanh(np.concatenate([x, r * y_prev], axis=-1) @ W_a.T + b_a)
    ### END SOLUTION


def final_output(u, y_prev, a):
    """Final output y_t = (1 - u_t) * y_{t-1} + u_t * a_t.

    Inputs:
    - u: update gate u_t, shape (B, H) or (H,)
    - y_prev: previous output y_{t-1}, same shape
    - a: input activation a_t, same shape

    Returns:
    - y: y_t, same shape: u_t of the way from y_{t-1} to a_t.
    """
    ### BEGIN SOLUTION
    return (1 - u) * y_prev + u * a
    ### END SOLUTION


def gru_step(x, y_prev, params):
    """One GRU step, composing the four functions above.

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - params: GRUParams with W_* (H, D + H) and b_* (H,)

    Returns:
    - y: y_t, shape (B, H) or (H,).
    """
    ### BEGIN SOLUTION
    p = params
    r = reset_gate(x, y_prev, p.W_r, p.b_r)
    u = update_gate(x, y_prev, p.W_u, p.b_u)
    a = input_activation(x, y_prev, r, p.W_a, p.b_a)
    return final_output(u, y_prev, a)
    ### END SOLUTION


def gru_step_backward(x, y_prev, params, dy):
    """Backward pass of one GRU step (recomputes the forward step itself).

    Forward (see the module docstring), with z_t = [x_t, y_{t-1}]:
        r_t = sigma(W_r z_t + b_r),  u_t = sigma(W_u z_t + b_u)
        a_t = tanh(W_a [x_t, r_t * y_{t-1}] + b_a)
        y_t = (1 - u_t) * y_{t-1} + u_t * a_t
    Backward, with dL/dy_t given:
        dL/du_t = dy * (a_t - y_{t-1}),  dL/da_t = dy * u_t
        dL/dy_{t-1} gets dy * (1 - u_t) directly, (dL/d(r_t * y_{t-1})) * r_t through
        the input activation, and the parts through both gates' z_t;
        dL/dr_t = dL/d(r_t * y_{t-1}) * y_{t-1}.
    y_{t-1} reaches y_t by four paths (directly, through r_t, u_t and a_t); its
    gradient is the sum of all four.

    Inputs:
    - x: input x_t, shape (B, D) or (D,)
    - y_prev: previous output y_{t-1}, shape (B, H) or (H,)
    - params: GRUParams with W_* (H, D + H) and b_* (H,)
    - dy: total dL/dy_t: the whole gradient on the output y_t, from above at step t (the
      loss, or the layer above) plus from step t+1 (where y_t is y_{t-1}); the caller adds
      the two. Shape (B, H) or (H,)

    Returns a tuple of:
    - dx: dL/dx_t, shape of x
    - dy_prev: dL/dy_{t-1} from step t only (the sum of its four paths; step t-1 adds its
      own part from above), shape of y_prev
    - grads: GRUParams of dL/dW_* (H, D + H) and dL/db_* (H,) of this step, summed over the batch
    """
    ### BEGIN SOLUTION
    p = params
    D = x.shape[-1]
    z = np.concatenate([x, y_prev], axis=-1)

    # Forward again, keeping every gate.
    r = reset_gate(x, y_prev, p.W_r, p.b_r)
    u = update_gate(x, y_prev, p.W_u, p.b_u)
    a = input_activation(x, y_prev, r, p.W_a, p.b_a)
    z_a = np.concatenate([x, r * y_prev], axis=-1)  # what W_a multiplies

    # Backward through y_t = (1 - u_t) * y_{t-1} + u_t * a_t.
    du = dy * (a - y_prev)
    da = dy * u
    dy_prev = dy * (1 - u)

    # Through the input activation to x_t and to r_t * y_{t-1}.
    dpre_a = da * dtanh_from_output(a)
    dz_a = dpre_a @ p.W_a
    dry = dz_a[..., D:]  # dL/d(r_t * y_{t-1})
    dr = dry * y_prev
    dy_prev = dy_prev + dry * r

    # Through the two gates, which both read z_t = [x_t, y_{t-1}].
    dpre_r = dr * dsigmoid_from_output(r)
    dpre_u = du * dsigmoid_from_output(u)
    dz = dpre_r @ p.W_r + dpre_u @ p.W_u

    dx = dz_a[..., :D] + dz[..., :D]
    dy_prev = dy_prev + dz[..., D:]
    # np.atleast_2d turns an unbatched (H,) into a batch of one row.
    z2 = np.atleast_2d(z)
    grads = GRUParams(
        W_r=np.atleast_2d(dpre_r).T @ z2, b_r=np.atleast_2d(dpre_r).sum(axis=0),
        W_u=np.atleast_2d(dpre_u).T @ z2, b_u=np.atleast_2d(dpre_u).sum(axis=0),
        W_a=np.atleast_2d(dpre_a).T @ np.atleast_2d(z_a), b_a=np.atleast_2d(dpre_a).sum(axis=0),
    )
    return dx, dy_prev, grads
    ### END SOLUTION
