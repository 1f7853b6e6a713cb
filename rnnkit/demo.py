"""A short end-to-end run of rnnkit: ``python -m rnnkit.demo``.

Trains a small LSTM and a small GRU on the adding problem (``rnnkit.data.adding_problem``)
with Adam and gradient clipping, and prints the test loss before and after training
next to the trivial baseline (always predict 1.0, the mean of the target: mean squared
error = Var(sum of two uniforms) = 1/6 ~ 0.167).

It trains with this copy's own cells (``SequenceModel``'s default engine): in a learner's
folder, the functions of lessons 1 to 6 must be written first. ``--engine fast`` uses the
reference fast path instead, where it exists (the answer key). About a minute on one core
with the cells, a quarter of that with the fast path.
"""

import argparse
import os
import sys
import traceback

import numpy as np

from .data import adding_problem, adding_problem_batches
from .train import Adam, SequenceModel, blas_threads, mse, train


def run(T=50, hidden_size=32, steps=1000, batch_size=64, seed=0, progress=True, cells=("lstm", "gru"),
        engine="cells"):
    """Train one model per cell and return {cell: (loss_before, loss_after, seconds)}.

    engine: "cells" (this copy's own cells) or "fast" (the reference fast path, answer key only)."""
    with blas_threads(1):
        return _run(T, hidden_size, steps, batch_size, seed, progress, cells, engine)


def _run(T, hidden_size, steps, batch_size, seed, progress, cells, engine):
    xs_test, y_test = adding_problem(1000, T, rng=seed + 1)
    baseline = mse(np.ones_like(y_test), y_test)[0]
    print(f"Adding problem: T={T} steps, {steps} Adam steps of {batch_size} sequences, "
          f"hidden size {hidden_size}.")
    print(f"Baseline (always predict 1.0): test MSE {baseline:.4f} (theory: 1/6 = {1 / 6:.4f})")
    results = {}
    for cell in cells:
        model = SequenceModel(cell, input_size=2, hidden_size=hidden_size, output_size=1, rng=seed,
                              engine=engine)
        before = mse(model.predict(xs_test), y_test)[0]
        batches = adding_problem_batches(steps, batch_size, T, rng=seed + 2)
        history = train(model, batches, mse, Adam(model.parameters(), lr=1e-2), epochs=1, clip=1.0,
                        progress=progress, desc=cell.upper())
        after = mse(model.predict(xs_test), y_test)[0]
        results[cell] = (before, after, history["wall_time"])
        print(f"{cell.upper():>5}: test MSE {before:.4f} before -> {after:.4f} after training "
              f"({after / baseline:.1%} of the baseline) in {history['wall_time']:.1f} s")
    return results


def _have_threadpoolctl():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnkit.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=50, help="sequence length (default 50)")
    parser.add_argument("--steps", type=int, default=1000, help="training steps per model (default 1000)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=("cells", "fast"), default="cells",
                        help="cells: this copy's own cells (default); fast: the reference fast path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not _have_threadpoolctl() and "OPENBLAS_NUM_THREADS" not in os.environ:
        # Without threadpoolctl the BLAS thread count can only be set before numpy loads:
        # start again with one thread (the matrices here are too small to share).
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        args_in = sys.argv[1:] if argv is None else list(argv)
        os.execv(sys.executable, [sys.executable, "-m", "rnnkit.demo", *args_in])
    try:
        run(T=args.T, hidden_size=args.hidden, steps=args.steps, seed=args.seed,
            progress=not args.no_progress, engine=args.engine)
    except NotImplementedError as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        file = os.path.basename(where.filename)
        print(f"The demo trains with your cells, and {where.name} (rnnkit/{file}) is not written yet: "
              "write the functions of lessons 1 to 6 first.", file=sys.stderr)
        return 1
    except ImportError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
