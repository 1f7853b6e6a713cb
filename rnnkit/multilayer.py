"""Stacked (multilayer) recurrent networks (memo: "Multilayer").

Layer 1 reads the input sequence; layer l + 1 reads the outputs of layer l.
Every layer has its own parameters and its own state, and each runs over the
whole sequence (a grid of time x depth).
"""

from .sequence import unroll


def stacked_forward(cell, xs, states0, layer_params):
    """Run L stacked layers of ``cell`` over a sequence.

    Inputs:
    - cell: the cell every layer uses (``rnnkit.RNN``, ``LSTM``, ``GRU``, ...)
    - xs: input sequence, shape (T, B, D)
    - states0: list of L initial states, one per layer, each a tuple of (B, H_l) arrays
    - layer_params: list of L parameter sets; layer 1's weights are (H_1, D + H_1),
      layer l's are (H_l, H_{l-1} + H_l)

    Returns:
    - ys: outputs of the top layer, shape (T, B, H_L)
    - states: list of L final states, one per layer (layer 1 first)
    """
    ### BEGIN SOLUTION
    states = []
    for state0, params in zip(states0, layer_params):
        xs, state = unroll(cell, xs, state0, params)
        states.append(state)
    return xs, states
    ### END SOLUTION
