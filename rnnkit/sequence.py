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
