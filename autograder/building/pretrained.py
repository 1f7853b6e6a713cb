"""python -m autograder pretrained [--check]: the trained network lesson 3 looks inside.

Learners cannot train a network before lesson 6, yet lesson 3 shows what the layers of a
*trained* stacked RNN do. So a small one ships with the course, in ``rnnkit/`` (every
course folder has it): ``rnnkit/stacked_loudness.npz``, made here from the reference code
with fixed seeds.

The task ("loudness"): the input is a fast oscillation, a tone with a period of PERIOD steps,
whose amplitude (its loudness) drifts slowly; the target at every step is that amplitude.

    x_t = a_t sin(2 pi t / PERIOD + phi) + NOISE eps_t,      target_t = a_t
    a_t = 0.6 + 0.35 tanh(g_t),   g = white noise smoothed by a Gaussian of WIDTH steps

A 3-layer basic RNN (HIDDEN units per layer) with a linear readout on every step is
trained with Adam on TRAIN_STEPS fresh batches. The file holds the weights before and after
training, the readout, the task's settings and one demonstration sequence (inputs and
loudness) that the lesson runs through the learner's own ``stacked_forward``.

``--check`` trains again in memory and exits 1 when the committed file is missing or
differs: in its keys, shapes or settings, or in a number by more than CHECK_RTOL relative
(CHECK_ATOL absolute). Training runs thousands of matrix products, and another CPU's BLAS
may round some of them differently in the last bit; that much drift is allowed, a stale
file is not.
"""

import io
import sys
from pathlib import Path

import numpy as np

from autograder import paths

WEIGHTS = paths.RNNKIT / "stacked_loudness.npz"

PERIOD = 5.0          # steps per cycle of the tone (the fast component)
WIDTH = 16.0          # standard deviation, in steps, of the Gaussian that smooths the loudness
NOISE = 0.05          # standard deviation of the noise added to the input
HIDDEN, LAYERS = 12, 3
T_TRAIN, BATCH, TRAIN_STEPS = 100, 32, 2000
LEARNING_RATE, CLIP = 1e-2, 1.0
DATA_SEED, INIT_SEED, DEMO_SEED = 0, 1, 99
T_DEMO = 400

CHECK_RTOL, CHECK_ATOL = 1e-6, 1e-9


def smoothed_noise(rng, T, B, width):
    """Slowly varying random curves: white noise convolved with a Gaussian, unit variance.

    Inputs:
    - rng: numpy Generator
    - T: number of steps; B: number of curves
    - width: the Gaussian's standard deviation in steps

    Returns:
    - g: shape (T, B); each curve has variance 1 and changes over about ``width`` steps.
    """
    half = int(np.ceil(3 * width))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / width) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))  # unit variance for unit-variance white noise
    noise = rng.normal(size=(T + 2 * half, B))
    return np.stack([np.convolve(noise[:, b], kernel, mode="valid") for b in range(B)], axis=1)


def loudness_batch(rng, T, B):
    """One batch of the loudness task.

    Inputs:
    - rng: numpy Generator
    - T: sequence length; B: batch size

    Returns:
    - xs: the tones, shape (T, B, 1)
    - loudness: the amplitude a_t at every step, the target, shape (T, B, 1)
    """
    loudness = 0.6 + 0.35 * np.tanh(smoothed_noise(rng, T, B, WIDTH))
    phase = rng.uniform(0, 2 * np.pi, size=B)
    tone = np.sin(2 * np.pi * np.arange(T)[:, None] / PERIOD + phase)
    xs = loudness * tone + NOISE * rng.normal(size=(T, B))
    return xs[:, :, None], loudness[:, :, None]


def _layer_arrays(prefix, layer_params):
    arrays = {}
    for l, params in enumerate(layer_params, start=1):
        arrays[f"{prefix}W_{l}"] = params.W.copy()
        arrays[f"{prefix}b_{l}"] = params.b.copy()
    return arrays


def train_weights(init_seed=INIT_SEED):
    """Train the lesson's network from the reference code; returns the file's arrays.

    Inputs:
    - init_seed: seed of the starting weights (the file is made with INIT_SEED; the lesson
      also quotes runs from other seeds)

    Returns:
    - dict of arrays: ``W_1, b_1, ..., W_3, b_3`` (trained; W_1 is (HIDDEN, 1 + HIDDEN), the
      others (HIDDEN, 2 HIDDEN)), ``W_out`` (1, HIDDEN) and ``b_out`` (1,) (the readout),
      ``init_W_1, init_b_1, ...`` (the same network before training), ``demo_xs`` (T_DEMO, 1, 1)
      and ``demo_loudness`` (T_DEMO,) (a sequence the training never saw), ``period``,
      ``width``, ``noise``, ``train_loss`` (mean loss of the first and of the last 100 steps)
      and ``settings`` (HIDDEN, LAYERS, T_TRAIN, BATCH, TRAIN_STEPS).
    """
    from rnnkit.train import Adam, SequenceModel, mse, train

    data_rng = np.random.default_rng(DATA_SEED)
    batches = [loudness_batch(data_rng, T_TRAIN, BATCH) for _ in range(TRAIN_STEPS)]
    # engine="fast": the reference fast path, the same numbers as the cells (to round-off), faster.
    model = SequenceModel("rnn", input_size=1, hidden_size=HIDDEN, output_size=1, num_layers=LAYERS,
                          many_to_many=True, rng=init_seed, engine="fast")
    before = _layer_arrays("init_", model.layer_params)
    history = train(model, batches, mse, Adam(model.parameters(), lr=LEARNING_RATE), epochs=1,
                    clip=CLIP, progress=False)
    demo_xs, demo_loudness = loudness_batch(np.random.default_rng(DEMO_SEED), T_DEMO, 1)
    return {
        **_layer_arrays("", model.layer_params),
        "W_out": model.W_out.copy(),
        "b_out": model.b_out.copy(),
        **before,
        "demo_xs": demo_xs,
        "demo_loudness": demo_loudness[:, 0, 0],
        "period": np.array(PERIOD),
        "width": np.array(WIDTH),
        "noise": np.array(NOISE),
        "train_loss": np.array([np.mean(history["loss"][:100]), np.mean(history["loss"][-100:])]),
        "settings": np.array([HIDDEN, LAYERS, T_TRAIN, BATCH, TRAIN_STEPS]),
    }


def to_bytes(arrays):
    """The .npz file's bytes (uncompressed: a few kilobytes, and no pickled objects)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write(path=WEIGHTS):
    """Train and write the file; returns its arrays."""
    arrays = train_weights()
    Path(path).write_bytes(to_bytes(arrays))
    return arrays


def differences(committed, fresh, rtol=CHECK_RTOL, atol=CHECK_ATOL):
    """What differs between two sets of arrays, as readable lines (empty when they agree).

    Inputs:
    - committed, fresh: dicts {name: array}
    - rtol, atol: the allowed drift of a number (see the module docstring)

    Returns:
    - list of strings, one per missing, extra or differing array.
    """
    problems = [f"{name}: missing" for name in sorted(set(fresh) - set(committed))]
    problems += [f"{name}: not made by the generator" for name in sorted(set(committed) - set(fresh))]
    for name in sorted(set(fresh) & set(committed)):
        old, new = np.asarray(committed[name]), np.asarray(fresh[name])
        if old.shape != new.shape or old.dtype != new.dtype:
            problems.append(f"{name}: {old.dtype}{list(old.shape)} in the file, "
                            f"{new.dtype}{list(new.shape)} now")
        elif not np.allclose(old, new, rtol=rtol, atol=atol):
            worst = float(np.max(np.abs(old - new)))
            problems.append(f"{name}: differs by up to {worst:.3g}")
    return problems


def load(path=WEIGHTS):
    """The committed file's arrays (no pickled objects allowed)."""
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def check(path=WEIGHTS):
    """Train again and compare with the committed file; returns the differences (empty: current)."""
    path = Path(path)
    if not path.is_file():
        return [f"{path} is missing"]
    return differences(load(path), train_weights())


def run(args):
    path = Path(args.path or WEIGHTS)
    if args.check:
        problems = check(path)
        if problems:
            print(f"{path} is stale; run `python -m autograder pretrained`:", file=sys.stderr)
            for p in problems:
                print("  " + p, file=sys.stderr)
            return 1
        print(f"{path} is current")
        return 0
    arrays = write(path)
    first, last = arrays["train_loss"]
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB); training loss {first:.4f} -> {last:.4f}")
    return 0
