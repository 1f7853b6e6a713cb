"""A small training kit: a sequence model, losses, optimisers and a training loop.

Everything a training run needs, in one file to read top to bottom:

    model = SequenceModel("lstm", input_size=2, hidden_size=32, output_size=1, rng=0)
    opt = Adam(model.parameters(), lr=1e-2)
    history = train(model, batches, mse, opt, epochs=5, clip=1.0)

- ``SequenceModel``: L stacked cells and a linear readout, pred = y_t @ W_out.T + b_out,
  on the last step (many-to-one) or on every step (many-to-many). By default it runs
  your own code: ``rnnkit.multilayer.stacked_forward`` / ``stacked_backward`` with the
  cells of ``rnnkit.cells``, which call the gate and step functions of ``rnnkit.rnn``,
  ``rnnkit.lstm`` and ``rnnkit.gru``. ``engine="fast"`` runs the reference fast path
  (``rnnkit.fast``) instead, where it exists: it ships with the answer key only.
- losses ``mse`` and ``softmax_cross_entropy`` return (loss, dL/dpred); the
  cross-entropy is your ``rnnkit.language.temporal_softmax_loss``;
- ``SGD`` (with momentum) and ``Adam`` update a list of arrays in place;
- ``clip_by_global_norm`` rescales gradients whose joint norm is too large;
- ``train`` loops over batches, shows a progress bar and returns a history.

Parameters and gradients are plain lists of arrays in the same order
(``model.parameters()``), so the optimisers know nothing about cells.
"""

import contextlib
import importlib
import sys
import time
from pathlib import Path

import numpy as np

from . import cells, multilayer

ENGINES = ("cells", "fast")

# ----------------------------------------------------------------------------- model


def init_params(cell, input_size, hidden_size, num_layers=1, rng=None, dtype=np.float64):
    """Fresh parameters for ``num_layers`` stacked layers of ``cell``.

    Inputs:
    - cell: "rnn", "lstm", "lstm_memo" or "gru" (or a cell object)
    - input_size: D, the size of x_t
    - hidden_size: H, the size of every layer's output
    - num_layers: L
    - rng: seed or numpy Generator
    - dtype: float32 or float64

    Returns:
    - list of L parameter sets: layer 1's weights (H, D + H), the others' (H, H + H),
      drawn as the cell's ``init_params`` does (uniform in +-1/sqrt(H)).
    """
    cell = cells.CELLS[cell] if isinstance(cell, str) else cell
    rng = np.random.default_rng(rng)
    sizes = [input_size] + [hidden_size] * (num_layers - 1)
    return [cell.init_params(d, hidden_size, rng, dtype) for d in sizes]


def fast_path():
    """The reference fast path, ``rnnkit.fast``, imported on first use.

    Returns:
    - the module. Raises ImportError with what to do when this copy of rnnkit has no
      fast.py: the fast path ships with the answer key only, not with the learner's folder.
    """
    # Only this copy's own fast.py: an import system that finds another rnnkit's (an installed
    # reference package) must not answer for a folder that has none.
    if not (Path(__file__).resolve().parent / "fast.py").is_file():
        raise ImportError(
            "engine='fast' needs rnnkit/fast.py, the reference fast path, which ships only with "
            "the answer key (the course repository and its --solutions release). Use the default "
            "engine='cells': it trains with your own cells."
        )
    return importlib.import_module(f"{__package__}.fast")


class SequenceModel:
    """Stacked recurrent layers and a linear readout.

    Many-to-one (``many_to_many=False``): pred = y_T @ W_out.T + b_out, shape (B, K).
    Many-to-many: pred_t = y_t @ W_out.T + b_out for every t, shape (T, B, K).

    Two engines compute the same thing (equal to float64 round-off):
    - "cells" (default): your code. ``forward`` calls ``rnnkit.multilayer.stacked_forward``
      and ``backward`` calls ``rnnkit.multilayer.stacked_backward``, with the cell objects of
      ``rnnkit.cells``: every step runs your gate, step and step-backward functions.
    - "fast": ``rnnkit.fast`` (fused gate blocks, one cached forward pass): a training step of
      the gated cells at lesson 7's size is about five times faster (benchmarks/bench_fast.py).
      It is in the answer key only.

    Attributes:
    - cell: the cell name ("rnn", "lstm", "lstm_memo" or "gru")
    - engine: "cells" or "fast"
    - layer_params: list of L parameter sets (see ``init_params``)
    - W_out: (K, H) readout weights; b_out: (K,) readout bias
    """

    def __init__(self, cell, input_size, hidden_size, output_size, num_layers=1,
                 many_to_many=False, rng=None, dtype=np.float64, engine="cells"):
        """Inputs:
        - cell: "rnn", "lstm", "lstm_memo" or "gru" (or a cell object of ``rnnkit.cells``)
        - input_size: D; hidden_size: H (every layer); output_size: K
        - num_layers: L
        - many_to_many: predict at every step (True) or from the last step only (False)
        - rng: seed or numpy Generator (the layers' weights first, then W_out)
        - dtype: float32 or float64
        - engine: "cells" (your code) or "fast" (the reference fast path, answer key only)
        """
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: expected 'cells' (your code) or 'fast'")
        if engine == "fast":
            fast_path()  # fail now, with the explanation, rather than at the first step
        rng = np.random.default_rng(rng)
        self.cell = cell if isinstance(cell, str) else cell.name
        if self.cell not in cells.CELLS:
            raise ValueError(f"unknown cell {self.cell!r}: expected one of {', '.join(cells.CELLS)}")
        self.engine = engine
        self.many_to_many = many_to_many
        self.dtype = np.dtype(dtype)
        self.layer_params = init_params(self.cell, input_size, hidden_size, num_layers, rng, dtype)
        k = 1 / np.sqrt(hidden_size)
        self.W_out = rng.uniform(-k, k, (output_size, hidden_size)).astype(dtype)
        self.b_out = np.zeros(output_size, dtype)
        self._cache = None

    def parameters(self):
        """All parameter arrays in a fixed order (layer by layer, then W_out, b_out).

        The optimisers update these arrays in place, so the model sees the updates."""
        return [a for params in self.layer_params for a in params] + [self.W_out, self.b_out]

    def forward(self, xs):
        """Predictions for a batch of sequences, keeping what ``backward`` needs.

        Inputs:
        - xs: input sequences, shape (T, B, D)

        Returns:
        - pred: (B, K) many-to-one, (T, B, K) many-to-many
        """
        xs = np.asarray(xs, self.dtype)
        if self.engine == "fast":
            ys, _, caches = fast_path().stacked_forward(self.cell, xs, None, self.layer_params)
            engine_cache = caches
        else:
            cell = cells.CELLS[self.cell]  # looked up now: rnnkit/cells.py may have been reloaded
            B, H = xs.shape[1], self.W_out.shape[1]
            states0 = [cell.zero_state(B, H, self.dtype) for _ in self.layer_params]
            ys, _ = multilayer.stacked_forward(cell, xs, states0, self.layer_params)
            engine_cache = (cell, xs, states0)
        top = ys if self.many_to_many else ys[-1]
        self._cache = (engine_cache, ys.shape, top)
        return top @ self.W_out.T + self.b_out

    predict = forward

    def backward(self, dpred):
        """Gradients of the loss for the last ``forward``.

        Inputs:
        - dpred: dL/dpred, shaped like pred

        Returns:
        - list of gradient arrays, in the order of ``parameters()``
        """
        if self._cache is None:
            raise RuntimeError("backward needs a forward pass first: call model.forward(xs)")
        engine_cache, ys_shape, top = self._cache
        K, H = self.W_out.shape
        dW_out = dpred.reshape(-1, K).T @ top.reshape(-1, H)
        db_out = dpred.reshape(-1, K).sum(axis=0)
        dtop = dpred @ self.W_out
        if self.many_to_many:
            dys = dtop
        else:
            dys = np.zeros(ys_shape, self.dtype)
            dys[-1] = dtop
        if self.engine == "fast":
            _, _, dlayer_params = fast_path().stacked_backward(engine_cache, dys)
        else:
            cell, xs, states0 = engine_cache
            _, _, dlayer_params = multilayer.stacked_backward(cell, xs, states0, self.layer_params, dys)
        return [g.astype(self.dtype, copy=False) for grads in dlayer_params for g in grads] + [dW_out, db_out]


# ----------------------------------------------------------------------------- losses


def mse(pred, target):
    """Mean squared error over every element, and its gradient.

    Inputs:
    - pred: predictions, any shape
    - target: targets, same shape

    Returns:
    - loss: mean((pred - target)^2), a float
    - dpred: dL/dpred = 2 (pred - target) / N, shaped like pred (N = pred.size)
    """
    diff = pred - np.asarray(target, pred.dtype).reshape(pred.shape)
    return float(np.mean(diff * diff)), 2 * diff / diff.size


def softmax_cross_entropy(logits, labels):
    """Softmax cross-entropy averaged over every position, and its gradient.

    Your ``rnnkit.language.temporal_softmax_loss`` (lesson 8) computes it: logits of one
    prediction per sequence, (B, K), are given a time axis of length 1.

    Inputs:
    - logits: scores, shape (T, B, K) (many-to-many) or (B, K) (many-to-one)
    - labels: integer classes in [0, K), shape (T, B) or (B,)

    Returns:
    - loss: mean over positions of -log softmax(logits)[label], a float (nats)
    - dlogits: (softmax(logits) - onehot(label)) / N, shaped like logits (N positions)
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim not in (2, 3) or labels.shape != logits.shape[:-1]:
        raise ValueError(f"softmax_cross_entropy expects logits (T, B, K) with labels (T, B), or (B, K) with "
                         f"(B,); got logits {logits.shape} and labels {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
    language = importlib.import_module(f"{__package__}.language")  # lesson 8's file, read at call time
    if logits.ndim == 2:
        loss, dlogits = language.temporal_softmax_loss(logits[None], labels[None])
        return float(loss), dlogits[0]
    loss, dlogits = language.temporal_softmax_loss(logits, labels)
    return float(loss), dlogits


# ----------------------------------------------------------------------------- optimisers


class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum, as in PyTorch:

        v <- momentum * v + g
        p <- p - lr * v

    With momentum 0 this is plain p <- p - lr * g. Updates the arrays in place.
    """

    def __init__(self, params, lr=0.01, momentum=0.0):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.velocity = [np.zeros_like(p) for p in self.params]

    def step(self, grads):
        for p, v, g in zip(self.params, self.velocity, grads, strict=True):
            v *= self.momentum
            v += g
            p -= self.lr * v


class Adam:
    """Adam (Kingma and Ba, 2015), with bias correction:

        m <- beta1 m + (1 - beta1) g            v <- beta2 v + (1 - beta2) g^2
        p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    t counts the steps taken, from 1. Updates the arrays in place.
    """

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for p, m, v, g in zip(self.params, self.m, self.v, grads, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def _global_norm(grads):
    # Divide by the largest element before squaring: squares of elements above ~1e154
    # overflow float64 although the norm itself is representable.
    largest = max((float(np.max(np.abs(g), initial=0.0)) for g in grads), default=0.0)
    if largest == 0.0 or not np.isfinite(largest):
        return largest
    squares = sum(float(np.sum(np.square(g / largest, dtype=np.float64))) for g in grads)
    return largest * float(np.sqrt(squares))


def clip_by_global_norm(grads, max_norm):
    """Rescale gradients so that their joint L2 norm is at most ``max_norm``.

    Inputs:
    - grads: list of arrays
    - max_norm: the largest norm allowed (> 0)

    Returns:
    - clipped: new list of arrays, each g * min(1, max_norm / norm) (inputs untouched)
    - norm: the global norm sqrt(sum of g^2 over every array) before clipping
    """
    norm = _global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * np.asarray(scale, g.dtype) for g in grads], norm


# ----------------------------------------------------------------------------- training loop


def _progress_bar(total, desc):
    """tqdm's notebook-aware bar on stdout: under nbgrader any stderr output zeroes a cell."""
    from tqdm.auto import tqdm

    try:
        return tqdm(total=total, desc=desc, file=sys.stdout, leave=True)
    except ImportError:  # notebook without ipywidgets: tqdm.notebook cannot draw; use text
        from tqdm.std import tqdm as text_tqdm

        return text_tqdm(total=total, desc=desc, file=sys.stdout, leave=True)


def blas_threads(n):
    """Context manager: at most n BLAS threads inside (needs threadpoolctl; else does nothing).

    The matrices of a small recurrent model (H of a few dozen) are far too small to share
    between threads: the synchronisation costs more than it saves (3x slower and worse
    on a busy machine), and a laptop's BLAS would use every core. ``train`` uses one
    thread unless told otherwise."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def train(model, data, loss_fn=mse, optimizer=None, epochs=1, clip=None, progress=True, desc=None,
          threads=1):
    """Train ``model`` on batches of sequences.

    Inputs:
    - model: a SequenceModel (anything with forward, backward, parameters)
    - data: a list of batches (xs (T, B, D), targets), reused every epoch, or a function
      ``data(epoch) -> iterable of batches`` for fresh batches each epoch
    - loss_fn: ``mse``, ``softmax_cross_entropy`` or any f(pred, target) -> (loss, dpred)
    - optimizer: an SGD or Adam over model.parameters() (default Adam(lr=1e-3))
    - epochs: passes over the data
    - clip: max global gradient norm (None: no clipping)
    - progress: show a progress bar (tqdm.auto, on stdout)
    - desc: label for the bar (default: the model's cell)
    - threads: BLAS threads during training (see ``blas_threads``; None: leave as is)

    Returns:
    - history, a dict of lists (one entry per step unless noted):
      loss, grad_norm (before clipping), time (seconds since start, after the step),
      epoch_loss (mean loss per epoch, one entry per epoch), and wall_time (float, seconds)
    """
    optimizer = optimizer if optimizer is not None else Adam(model.parameters())
    history = {"loss": [], "grad_norm": [], "time": [], "epoch_loss": [], "wall_time": 0.0}
    batches_of = data if callable(data) else (lambda epoch: data)
    total = None if callable(data) else len(data) * epochs
    bar = _progress_bar(total, desc or getattr(model, "cell", "train")) if progress else None
    start = time.perf_counter()
    limit = blas_threads(threads) if threads else contextlib.nullcontext()
    try:
        with limit:
            for epoch in range(epochs):
                losses = []
                for xs, target in batches_of(epoch):
                    loss, dpred = loss_fn(model.forward(xs), target)
                    grads = model.backward(dpred)
                    if clip is not None:
                        grads, norm = clip_by_global_norm(grads, clip)
                    else:
                        norm = _global_norm(grads)
                    optimizer.step(grads)
                    losses.append(loss)
                    history["loss"].append(loss)
                    history["grad_norm"].append(norm)
                    history["time"].append(time.perf_counter() - start)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4g}", refresh=False)
                history["epoch_loss"].append(float(np.mean(losses)) if losses else float("nan"))
    finally:
        if bar is not None:
            bar.close()
    history["wall_time"] = time.perf_counter() - start
    return history
