"""A small trusted cell for checking functions that take a cell (unroll, bptt,
stacked_forward, stacked_backward), so those checks do not depend on the
learner's gate code.

It is deliberately not one of the course's cells. With state (h, c), inputs
x (B, D) and parameters ProbeParams(A (D, H), C (H, H), b (H,)):

    g   = tanh(x A + h C + b)
    h'  = g + 0.5 c               (the output y_t = h')
    c'  = 0.8 c + 0.3 h'

Two state arrays (like the LSTM's (y, s)) and a leak through c make any slip
in passing the state, the time order or the gradient paths visible.
"""

from typing import NamedTuple

import numpy as np


class ProbeParams(NamedTuple):
    """A (D, H), C (H, H), b (H,)."""

    A: np.ndarray
    C: np.ndarray
    b: np.ndarray


class ProbeCell:
    """Same interface as rnnkit's cells: step, step_backward, zero_state, init_params."""

    name = "probe"
    Params = ProbeParams
    state_names = ("h", "c")

    def step(self, x, state, params):
        """(x (B, D), (h, c), params) -> (y (B, H), (h', c'))."""
        h, c = state
        g = np.tanh(x @ params.A + h @ params.C + params.b)
        h_new = g + 0.5 * c
        c_new = 0.8 * c + 0.3 * h_new
        return h_new, (h_new, c_new)

    def step_backward(self, x, state_prev, params, dy, dstate=None):
        """Gradients of one step, as a course cell's: dy = dL/dy_t from above only, dstate =
        dL/d(h', c') from step t+1 only (None: zero) -> (dx, (dh, dc) from step t only,
        ProbeParams of gradients)."""
        h, c = state_prev
        if dstate is None:
            dstate = (np.zeros_like(dy), np.zeros_like(dy))
        g = np.tanh(x @ params.A + h @ params.C + params.b)
        dh_new_from_next, dc_new = dstate
        dh_new = dy + dh_new_from_next + 0.3 * dc_new
        dz = dh_new * (1 - g * g)
        dx = dz @ params.A.T
        dh = dz @ params.C.T
        dc = 0.8 * dc_new + 0.5 * dh_new
        x2, h2, dz2 = np.atleast_2d(x), np.atleast_2d(h), np.atleast_2d(dz)
        grads = ProbeParams(x2.T @ dz2, h2.T @ dz2, dz2.sum(axis=0))
        return dx, (dh, dc), grads

    def zero_state(self, B, H, dtype=np.float64):
        return (np.zeros((B, H), dtype), np.zeros((B, H), dtype))

    def init_params(self, D, H, rng=None, dtype=np.float64):
        rng = np.random.default_rng(rng)
        return ProbeParams(
            rng.uniform(-0.8, 0.8, (D, H)).astype(dtype),
            rng.uniform(-0.6, 0.6, (H, H)).astype(dtype),
            rng.uniform(-0.5, 0.5, (H,)).astype(dtype),
        )
