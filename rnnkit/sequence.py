"""Unrolling a cell over time (memo: "Difference with Neural Network": the output
of one step is passed on to the next).

Sequences are time-major: xs has shape (T, B, D), outputs (T, B, H).
"""

import numpy as np


def unroll(cell, xs, state0, params):
    """Run ``cell`` over a whole sequence, passing the state from step to step.

    Inputs:
    - cell: a cell (``rnnkit.RNN``, ``LSTM``, ``LSTM_MEMO``, ``GRU``, or any object
      with ``step(x, state, params) -> (y, state)``)
    - xs: inputs x_1 ... x_T, shape (T, B, D)
    - state0: initial state, a tuple of (B, H) arrays (``cell.zero_state(B, H)``
      gives zeros): (s_0,) for the RNN, (y_0, s_0) for the LSTM, (y_0,) for the GRU
    - params: the cell's parameters, shared by every time step

    Returns:
    - ys: outputs y_1 ... y_T, shape (T, B, H)
    - state: the final state after step T, a tuple like state0
    """
    ### BEGIN SOLUTION
    ys = []
    state = state0
    for x in xs:
        y, state = cell.step(x, state, params)
        ys.append(y)
    return np.stack(ys), state
    ### END SOLUTION


def bptt(cell, xs, state0, params, dys, dstate_T=None):
    """Backpropagation through time: the gradients of a loss through a whole sequence.

    The forward pass is run again to keep the state before every step; then the
    steps are walked backwards, T down to 1. At step t the cell's ``step_backward``
    receives dL/dy_t from above only (``dys[t]``) and dL/d(state_t) from step t+1 only
    (for the last step, ``dstate_T``); it adds them itself, and returns dL/dx_t,
    dL/d(state_{t-1}) from step t only (passed on to step t-1) and the gradients of its
    parameters. The parameters are shared by every step, so their gradients add up over time.

    Inputs:
    - cell: a cell with ``step`` and ``step_backward`` (``rnnkit.RNN``, ``LSTM``,
      ``LSTM_MEMO``, ``GRU``)
    - xs: inputs x_1 ... x_T, shape (T, B, D)
    - state0: initial state, a tuple of (B, H) arrays, as for ``unroll``
    - params: the cell's parameters, shared by every time step
    - dys: dL/dy_t from above only (the loss, or the layer above), for t = 1 ... T, shape
      (T, B, H); what y_t sends to step t+1 is added inside the walk, not given here
    - dstate_T: optional dL/d(state_T), the gradient on the final state from a loss on it,
      a tuple like state0; None means zero

    Returns a tuple of:
    - dxs: dL/dx_1 ... dL/dx_T (total: x_t is read by step t only), shape (T, B, D)
    - dstate0: dL/d(state0) (total: only step 1 reads state0), a tuple like state0
    - dparams: dL/d(params), the params' type, each array summed over time and batch
    """
    ### BEGIN SOLUTION
    # Forward again, keeping the state that enters each step: states[t] enters the step reading xs[t].
    states = [state0]
    for x in xs:
        _, state = cell.step(x, states[-1], params)
        states.append(state)

    # Backward, from the last step to the first.
    dxs = np.zeros_like(xs)
    dparams = [np.zeros_like(p) for p in params]
    dstate = dstate_T
    if dstate is None:  # no loss on the final state
        dstate = tuple(np.zeros_like(s) for s in states[-1])
    for t in reversed(range(len(xs))):
        dx, dstate, dparams_t = cell.step_backward(xs[t], states[t], params, dys[t], dstate)
        dxs[t] = dx
        dparams = [total + d for total, d in zip(dparams, dparams_t, strict=True)]
    return dxs, dstate, type(params)(*dparams)
    ### END SOLUTION
