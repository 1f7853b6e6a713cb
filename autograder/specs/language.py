# ruff: noqa: E501  (source snippets read better whole)
"""Specs of the checked functions of rnnkit/language.py (see ``spec.FunctionSpec``).

``temporal_softmax_loss(logits, targets, mask)``: the case builder's sizes are read as
B = the batch, V = D + H classes, T drawn from 2 to 4. The terms vary the mask (None, ones,
booleans); the edges of its own ("T1", "V1", "padding") reach the builder as its term.

One known mistake is not in ``mistakes``: a softmax without the row maximum subtracted.
It agrees with the reference wherever exp() does not overflow and gives NaN where it
does (the "big" edges, logits up to |1000|), and a NaN output matches nothing; the
judge's message for a non-finite result already names the cure ("use a numerically
stable formula"), which tests/test_language.py requires of that mutant.
"""

import numpy as np

from .spec import FunctionSpec, Mistake, Mutant, Rewrite


def _loss_args(rng, B, D, H, term, big, unbatched):
    T = 1 if term == "T1" else int(rng.integers(2, 5))
    V = 1 if term == "V1" else D + H
    scale = 1000.0 if big else 2.0
    logits = rng.uniform(-scale, scale, size=(T, B, V))
    targets = rng.integers(0, V, size=(T, B))
    if term == "nomask":
        return (logits, targets, None)
    if term == "ones":
        mask = np.ones((T, B))
    elif term == "padding":
        # Sequences of different lengths padded to T: the last time step (a row) counts nowhere,
        # one sequence (a column) may count nowhere either.
        lengths = rng.integers(0, T, size=B)
        lengths[rng.integers(B)] = T - 1
        mask = (np.arange(T)[:, None] < lengths[None, :]).astype(np.float64)
    else:
        mask = (rng.uniform(size=(T, B)) < 0.7).astype(np.float64)
        mask[rng.integers(T), rng.integers(B)] = 1.0
    if term == "bool":
        mask = mask.astype(bool)
    return (logits, targets, mask)


def loss_with_slips(logits, targets, mask=None, batch_mean=False, ignore_mask=False, grad_count=True,
                    log2=False, axis=-1, onehot=True, grad_mask=True):
    """The loss and its gradient written out; each keyword after ``mask`` switches one known mistake on."""
    T, B, V = logits.shape
    mask = np.ones((T, B)) if mask is None or ignore_mask else np.asarray(mask, np.float64)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    t, b = np.indices((T, B))
    count = B if batch_mean else mask.sum()
    loss = -(mask * log_probs[t, b, targets]).sum() / count
    if log2:
        loss = loss / np.log(2)
    dlogits = np.exp(log_probs)
    if onehot:
        dlogits[t, b, targets] -= 1
    if grad_mask:
        dlogits = dlogits * mask[:, :, None]
    if grad_count:
        dlogits = dlogits / count
    return np.asarray(loss), dlogits


TEMPORAL_SOFTMAX_LOSS = FunctionSpec(
    "language.temporal_softmax_loss",
    build=_loss_args,
    terms=[
        ("nomask", "mask None (every position counts)"),
        ("ones", "a mask of ones"),
        ("bool", "a boolean mask"),
    ],
    edges=[
        ("B1", "B = 1"),
        ("T1", "T = 1"),
        ("V1", "one class (V = 1): the loss is 0"),
        ("padding", "padded sequences (the last time step and possibly a whole sequence masked out)"),
        ("big", "logits up to |1000| (exp overflows unless the row maximum is subtracted)"),
    ],
    mistakes=[
        Mistake(
            "mean over the batch only (summed over time, CS231n's convention)",
            "divide by the number of counted positions N = mask.sum(), not by B.",
            lambda *a: loss_with_slips(*a, batch_mean=True),
        ),
        Mistake(
            "mask ignored (the mean over all T * B positions)",
            "multiply each position's loss and gradient by mask[t, b] and divide by mask.sum().",
            lambda *a: loss_with_slips(*a, ignore_mask=True),
        ),
        Mistake(
            "gradient not divided by the count",
            "the loss is a mean over N positions, so each position's gradient is (p - onehot) / N.",
            lambda *a: loss_with_slips(*a, grad_count=False),
        ),
        Mistake(
            "mask applied to the loss but not to the gradient",
            "a masked position adds nothing to the loss, so its row of dlogits is 0.",
            lambda *a: loss_with_slips(*a, grad_mask=False),
        ),
        Mistake(
            "loss in bits (log base 2) instead of nats",
            "use the natural logarithm np.log; bits per character = nats / ln 2 is for reporting only.",
            lambda *a: loss_with_slips(*a, log2=True),
        ),
        Mistake(
            "softmax over the time axis instead of the classes",
            "normalise each position's V scores: axis=-1 (the last axis), keepdims=True.",
            lambda *a: loss_with_slips(*a, axis=0),
        ),
        Mistake(
            "softmax over the batch axis instead of the classes",
            "normalise each position's V scores: axis=-1 (the last axis), keepdims=True.",
            lambda *a: loss_with_slips(*a, axis=1),
        ),
        Mistake(
            "target not subtracted from the gradient (dlogits = p / N)",
            "d(-log p_k)/d logit_j = p_j - [j == k]: subtract 1 at each position's target.",
            lambda *a: loss_with_slips(*a, onehot=False),
        ),
    ],
    right=[
        # A scalar loss as np.mean returns it, or as a float: what most learners write.
        Rewrite("loss returned as a Python float", [("return np.asarray(loss), dlogits", "return float(loss), dlogits")]),
        Rewrite("loss returned as a numpy scalar", [("return np.asarray(loss), dlogits", "return loss, dlogits")]),
        Rewrite("loss returned as float64 whatever the inputs",
                [("return np.asarray(loss), dlogits", "return np.float64(loss), dlogits")]),
        Rewrite("logsumexp and a one-hot matrix",
                "T, B, V = logits.shape\n"
                "weights = np.ones((T, B), logits.dtype) if mask is None else np.asarray(mask).astype(logits.dtype)\n"
                "top = logits.max(axis=2, keepdims=True)\n"
                "lse = top + np.log(np.sum(np.exp(logits - top), axis=2, keepdims=True))\n"
                "onehot = np.eye(V, dtype=logits.dtype)[targets]\n"
                "n = np.sum(weights)\n"
                "loss = np.sum(weights * np.sum(onehot * (lse - logits), axis=2)) / n\n"
                "grad = (np.exp(logits - lse) - onehot) * weights[..., None] / n\n"
                "return np.array(loss, dtype=logits.dtype), grad\n"),
        Rewrite("flattened rows",
                "T, B, V = logits.shape\n"
                "rows = logits.reshape(T * B, V)\n"
                "ids = np.asarray(targets).reshape(-1)\n"
                "keep = np.ones(T * B, logits.dtype) if mask is None else np.asarray(mask, logits.dtype).reshape(-1)\n"
                "z = rows - rows.max(axis=1)[:, None]\n"
                "p = np.exp(z)\n"
                "p /= p.sum(axis=1)[:, None]\n"
                "picked = z[np.arange(T * B), ids] - np.log(np.exp(z).sum(axis=1))\n"
                "loss = -np.dot(keep, picked) / keep.sum()\n"
                "p[np.arange(T * B), ids] -= 1\n"
                "p *= (keep / keep.sum())[:, None]\n"
                "return np.asarray(loss), p.reshape(T, B, V)\n"),
        Rewrite("loop over positions",
                "T, B, V = logits.shape\n"
                "mask = np.ones((T, B), logits.dtype) if mask is None else np.asarray(mask, logits.dtype)\n"
                "count = mask.sum()\n"
                "loss = np.zeros((), logits.dtype)\n"
                "dlogits = np.zeros_like(logits)\n"
                "for t in range(T):\n"
                "    for b in range(B):\n"
                "        if not mask[t, b]:\n"
                "            continue\n"
                "        z = logits[t, b] - logits[t, b].max()\n"
                "        p = np.exp(z) / np.exp(z).sum()\n"
                "        loss = loss + np.log(np.exp(z).sum()) - z[targets[t, b]]\n"
                "        p[targets[t, b]] -= 1\n"
                "        dlogits[t, b] = p * mask[t, b]\n"
                "return np.asarray(loss / count), dlogits / count\n"),
    ],
    mutants=[
        Mutant("no maximum subtracted", [("shifted = logits - logits.max(axis=-1, keepdims=True)", "shifted = logits")], None),
        Mutant("mean over the batch", [("count = mask.sum()", "count = B")], "mean over the batch only"),
        Mutant("mask ignored", [("mask = np.ones((T, B), logits.dtype) if mask is None else np.asarray(mask, logits.dtype)",
                                 "mask = np.ones((T, B), logits.dtype)")], "mask ignored"),
        Mutant("gradient not divided", [("dlogits *= mask[:, :, None] / count", "dlogits *= mask[:, :, None]")],
               "not divided by the count"),
        Mutant("gradient not masked", [("dlogits *= mask[:, :, None] / count", "dlogits /= count")], "not to the gradient"),
        Mutant("bits", [("return np.asarray(loss), dlogits", "return np.asarray(loss / np.log(2)), dlogits")], "log base 2"),
        Mutant("softmax over time", [("logits.max(axis=-1, keepdims=True)", "logits.max(axis=0, keepdims=True)"),
                                     ("np.exp(shifted).sum(axis=-1, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)")],
               "time axis"),
        Mutant("target not subtracted", [("    dlogits[t, b, targets] -= 1\n", "")], "target not subtracted"),
        Mutant("loss returned as a complex number", [("return np.asarray(loss), dlogits",
                                                       "return np.asarray(loss) + 0j, dlogits")], None),
        Mutant("sign slip in the gradient", [("dlogits *= mask[:, :, None] / count", "dlogits *= -mask[:, :, None] / count")], None),
        Mutant("in-place on logits", [("shifted = logits - logits.max(axis=-1, keepdims=True)",
                                       "logits -= logits.max(axis=-1, keepdims=True)\n    shifted = logits")], "in-place modification"),
        Mutant("mean over every position and class", [("loss = -(mask * log_probs[t, b, targets]).sum() / count",
                                                       "loss = -(mask * log_probs[t, b, targets]).sum() / (count * V)")], None),
    ],
)

SPECS = [TEMPORAL_SOFTMAX_LOSS]
