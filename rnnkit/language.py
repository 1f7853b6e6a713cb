"""Language modelling (beyond the memo: the readout and the loss over time).

A language model reads x_1..x_T and predicts, at each step t, the next token
x_{t+1}. The network's outputs y_t (B, H) go through a linear readout to one
score per vocabulary entry, logits_t = y_t W_out^T + b_out (B, V), and the loss
is the softmax cross-entropy against the next token, averaged over the counted
positions (padding is masked out).
"""

import numpy as np


def temporal_softmax_loss(logits, targets, mask=None):
    """Softmax cross-entropy over time, averaged over the counted positions.

    With p_{t,b} = softmax(logits[t, b]) over the V classes and N = sum of mask:
        L = -(1/N) sum_{t,b} mask[t, b] * log p_{t,b}[targets[t, b]]   (in nats).
    Since d(-log p_k)/d(logit_j) = p_j - [j == k], the gradient is
        dL/dlogits[t, b] = mask[t, b] * (p_{t,b} - onehot(targets[t, b])) / N.

    Inputs:
    - logits: scores, shape (T, B, V)
    - targets: integer class ids in [0, V), shape (T, B)
    - mask: which positions count, 0/1 or bool, shape (T, B); None counts every
      position. At least one position counts.

    Returns a tuple of:
    - loss: the mean cross-entropy over the counted positions in nats, a 0-d
      numpy array of the logits' dtype (np.asarray of the scalar)
    - dlogits: dL/dlogits, shape (T, B, V), the logits' dtype
    """
    ### BEGIN SOLUTION
    T, B, V = logits.shape
    mask = np.ones((T, B), logits.dtype) if mask is None else np.asarray(mask, logits.dtype)
    count = mask.sum()
    # Subtracting each row's maximum changes no probability and keeps exp() from overflowing.
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    t, b = np.indices((T, B))
    loss = -(mask * log_probs[t, b, targets]).sum() / count
    dlogits = np.exp(log_probs)
    dlogits[t, b, targets] -= 1
    dlogits *= mask[:, :, None] / count
    return np.asarray(loss), dlogits
    ### END SOLUTION
