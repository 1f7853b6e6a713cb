"""Stacked (multilayer) recurrent networks (memo: "Multilayer").

Layer 1 reads the input sequence; layer l + 1 reads the outputs of layer l.
Every layer has its own parameters and its own state, and each runs over the
whole sequence (a grid of time x depth).
"""

from .sequence import bptt, unroll


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
    for state0, params in zip(states0, layer_params, strict=True):
        xs, state = unroll(cell, xs, state0, params)
        states.append(state)
    return xs, states
    ### END SOLUTION


def stacked_backward(cell, xs, states0, layer_params, dys, dstates_T=None):
    """Backward pass of ``stacked_forward``: backpropagation through time and depth.

    The forward pass is run again to keep every layer's input sequence. Then the
    layers are walked from the top down, each with ``bptt``: the top layer receives
    ``dys``; the gradient a layer returns for its inputs, dL/dxs, is dL/dys of the layer
    below (layer l's outputs are layer l+1's inputs); layer l's bptt also receives
    dstates_T[l], the gradient on that layer's final state.

    Inputs:
    - cell: the cell every layer uses (with ``step`` and ``step_backward``)
    - xs: input sequence, shape (T, B, D)
    - states0: list of L initial states, one per layer, each a tuple of (B, H_l) arrays
    - layer_params: list of L parameter sets, as for ``stacked_forward``
    - dys: dL/dy_t of the top layer's outputs from above only (the loss), t = 1 ... T,
      shape (T, B, H_L)
    - dstates_T: optional list of L gradients on the final states: dstates_T[l] is
      dL/d(state_T) of layer l (from a loss on it), a tuple like that layer's state, or
      None for zero; dstates_T=None means zero for every layer

    Returns a tuple of:
    - dxs: dL/dxs, the gradient on the input sequence, shape (T, B, D)
    - dstates0: list of L gradients dL/d(states0[l]), each a tuple like states0[l]
    - dlayer_params: list of L gradients dL/d(layer_params[l]), each the params' type,
      summed over time and batch
    """
    ### BEGIN SOLUTION
    L = len(layer_params)
    if dstates_T is None:
        dstates_T = [None] * L

    # Forward again, keeping the input sequence of every layer.
    layer_inputs = []
    inputs = xs
    for state0, params in zip(states0, layer_params, strict=True):
        layer_inputs.append(inputs)
        inputs, _ = unroll(cell, inputs, state0, params)

    # Backward, from the top layer down.
    dstates0 = [None] * L
    dlayer_params = [None] * L
    d_outputs = dys
    for l in reversed(range(L)):
        d_outputs, dstates0[l], dlayer_params[l] = bptt(
            cell, layer_inputs[l], states0[l], layer_params[l], d_outputs, dstates_T[l]
        )
    return d_outputs, dstates0, dlayer_params
    ### END SOLUTION
