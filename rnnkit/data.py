"""Data sets for the lessons; none needs a network connection.

- ``adding_problem``: the long-memory benchmark of Hochreiter and Schmidhuber (1997),
  generated on the fly.
- ``sine_series`` and ``make_windows``: noisy sine and multi-frequency series, cut
  into windows of T steps for next-step prediction.
- ``char_corpus`` with ``CharVocab``, ``one_hot`` and ``char_batches``: a character-level
  corpus, Python's own help topics (a frozen snapshot of ``pydoc_data.topics`` in
  ``rnnkit/corpus/``, with its copyright notice and licence).
- ``stock_prices``: a real measured series, Google's daily share prices 2004-2008,
  from the sample data that ships inside matplotlib.

Sequences come out time-major, (T, B, D), as everywhere in rnnkit. Every random
function takes ``rng`` (a seed or a numpy Generator): the same seed gives the same data.
"""

import gzip
import hashlib
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------- adding problem


def adding_problem(n, T, rng=None, dtype=np.float64):
    """The adding problem: remember two marked numbers over T steps and add them.

    Hochreiter and Schmidhuber, "Long short-term memory", Neural Computation 9(8), 1997,
    experiment 4; in the form used by Le, Jaitly and Hinton (2015) and Arjovsky, Shah and
    Bengio (2016): each step carries two channels,
    - channel 0: a value drawn uniformly from [0, 1),
    - channel 1: a marker, 1 at exactly two steps and 0 elsewhere; the first marked step
      is drawn uniformly from the first half (t < T // 2), the second from the second half,
    and the target is the sum of the two marked values. (The 1997 original drew values
    from [-1, 1] and placed the first marker among the first ten steps.)

    A model that ignores the input and predicts 1.0 (the mean of the sum) has mean
    squared error Var(sum) = 2 * 1/12 = 1/6 ~ 0.167: the baseline to beat.

    Inputs:
    - n: number of sequences
    - T: sequence length (>= 2)
    - rng: seed or numpy Generator
    - dtype: float dtype of the arrays

    Returns:
    - xs: inputs, shape (T, n, 2)
    - targets: sums of the two marked values, shape (n, 1)
    """
    if T < 2:
        raise ValueError("the adding problem needs T >= 2")
    rng = np.random.default_rng(rng)
    values = rng.uniform(0.0, 1.0, size=(T, n))
    half = T // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    markers = np.zeros((T, n))
    cols = np.arange(n)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    xs = np.stack([values, markers], axis=-1).astype(dtype)
    targets = (values[first, cols] + values[second, cols])[:, None].astype(dtype)
    return xs, targets


def adding_problem_batches(num_batches, batch_size, T, rng=None, dtype=np.float64):
    """A list of ``num_batches`` batches (xs (T, batch_size, 2), targets (batch_size, 1))
    of the adding problem, drawn from one generator (see ``adding_problem``)."""
    rng = np.random.default_rng(rng)
    return [adding_problem(batch_size, T, rng, dtype) for _ in range(num_batches)]


# ----------------------------------------------------------------------------- sine series


def sine_series(length, periods=(20.0,), amplitudes=None, noise_std=0.1, rng=None, dtype=np.float64):
    """A sum of sines plus Gaussian noise, one value per step (synthetic).

        x_t = sum_k A_k sin(2 pi t / P_k + phi_k) + noise_std * eps_t,  eps_t ~ N(0, 1)

    with the phases phi_k drawn uniformly from [0, 2 pi). One period gives a noisy
    sine; several give a multi-frequency series.

    Inputs:
    - length: number of steps N
    - periods: P_k, in steps, one per component
    - amplitudes: A_k (default all 1)
    - noise_std: standard deviation of the noise (0 for a clean series)
    - rng: seed or numpy Generator
    - dtype: float dtype

    Returns:
    - x: the series, shape (N,)
    """
    rng = np.random.default_rng(rng)
    periods = np.asarray(periods, dtype=np.float64)
    amplitudes = np.ones_like(periods) if amplitudes is None else np.asarray(amplitudes, np.float64)
    phases = rng.uniform(0, 2 * np.pi, size=periods.shape)
    t = np.arange(length)[:, None]
    clean = (amplitudes * np.sin(2 * np.pi * t / periods + phases)).sum(axis=1)
    return (clean + noise_std * rng.standard_normal(length)).astype(dtype)


def make_windows(series, T, stride=1):
    """Cut a series into windows of T steps, each with its next-step targets.

    Window w covers steps s = w * stride ... s + T - 1; its target at every step is the
    series one step later (s + 1 ... s + T). For many-to-one prediction of the step after
    the window, use targets[-1].

    Inputs:
    - series: shape (N,) or (N, D)
    - T: window length (T < N)
    - stride: steps between window starts

    Returns:
    - xs: shape (T, W, D) with W = (N - T - 1) // stride + 1 windows (D = 1 for a 1-D series)
    - targets: shape (T, W, D)
    """
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    N = series.shape[0]
    if T >= N:
        raise ValueError(f"window length T={T} must be shorter than the series ({N} steps)")
    starts = np.arange(0, N - T, stride)
    steps = starts[None, :] + np.arange(T)[:, None]  # (T, W)
    return series[steps], series[steps + 1]


# ----------------------------------------------------------------------------- characters


# The snapshot char_corpus reads, and the SHA-256 of its text (UTF-8): the text is fixed once
# committed, whichever Python runs the lesson.
CORPUS_FILE = Path(__file__).resolve().parent / "corpus" / "pydoc_topics.txt.gz"
CORPUS_SHA256 = "99670224c9f3d84a2b58dac7d18000a378f15330657f315f9a364c421eeb0f3f"


def char_corpus(max_chars=None):
    """A character-level corpus: 300,000 characters of Python's own help topics.

    Source: ``pydoc_data.topics`` of CPython 3.11.7, the text that ``help("if")`` and
    friends show, generated from the Python documentation: the topics in sorted order of
    their names, joined with a blank line, cut after 300,000 characters. That module
    changes between Python releases, so the text is read from a snapshot that ships with
    rnnkit, ``rnnkit/corpus/pydoc_topics.txt.gz``: the same text on every machine and every
    Python. (c) Python Software Foundation, distributed under the PSF License Agreement;
    the notice and the licence are ``rnnkit/corpus/NOTICE`` and
    ``rnnkit/corpus/LICENSE-Python.txt``.

    Inputs:
    - max_chars: keep only the first max_chars characters (None: all 300,000)

    Returns:
    - text: str

    Raises OSError when the snapshot is missing and ValueError when it is not the course's
    snapshot (changed or damaged): copy rnnkit/corpus/ again from the course folder.
    """
    try:
        text = gzip.decompress(CORPUS_FILE.read_bytes()).decode("utf-8")
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{CORPUS_FILE} is missing: copy rnnkit/corpus/ again from the course "
                                "folder") from err
    except (OSError, EOFError, UnicodeDecodeError) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{CORPUS_FILE} cannot be read ({err}): copy rnnkit/corpus/ again from the "
                         "course folder") from err
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != CORPUS_SHA256:
        raise ValueError(f"{CORPUS_FILE} is not the course's text (its SHA-256 differs): copy "
                         "rnnkit/corpus/ again from the course folder")
    return text if max_chars is None else text[:max_chars]


class CharVocab:
    """A character vocabulary: characters <-> integer ids 0 ... V - 1 (sorted order).

    Attributes:
    - chars: the characters, sorted; V = len(chars) = vocab.size
    """

    def __init__(self, text):
        self.chars = sorted(set(text))
        self._index = {c: i for i, c in enumerate(self.chars)}

    @property
    def size(self):
        return len(self.chars)

    def encode(self, text):
        """str of length N -> int array of ids, shape (N,). Unknown characters raise KeyError."""
        return np.array([self._index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        """Array or list of ids -> str."""
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def one_hot(ids, V, dtype=np.float64):
    """Integer ids of any shape S -> one-hot vectors, shape S + (V,)."""
    ids = np.asarray(ids)
    out = np.zeros(ids.shape + (V,), dtype)
    np.put_along_axis(out, ids[..., None], 1, axis=-1)
    return out


def char_batches(ids, T, B, num_batches, rng=None, V=None, dtype=np.float64):
    """Random windows of a character sequence for next-character prediction.

    Inputs:
    - ids: encoded text, int array (N,) with N > T
    - T: window length; B: windows per batch; num_batches: number of batches
    - rng: seed or numpy Generator (window starts are uniform over the text)
    - V: vocabulary size (default ids.max() + 1)
    - dtype: dtype of the one-hot inputs

    Returns:
    - list of (xs, targets): xs one-hot (T, B, V) of characters c_s ... c_{s+T-1};
      targets int (T, B), the next characters c_{s+1} ... c_{s+T}
    """
    rng = np.random.default_rng(rng)
    ids = np.asarray(ids)
    V = int(ids.max()) + 1 if V is None else V
    batches = []
    for _ in range(num_batches):
        starts = rng.integers(0, len(ids) - T, size=B)
        steps = starts[None, :] + np.arange(T)[:, None]  # (T, B)
        batches.append((one_hot(ids[steps], V, dtype), ids[steps + 1]))
    return batches


# ----------------------------------------------------------------------------- a real series


def stock_prices(field="close"):
    """Google's (GOOG) daily share prices, 19 Aug 2004 to 14 Oct 2008: 1047 trading days.

    Source: ``goog.npz`` in matplotlib's sample data (read with
    ``matplotlib.cbook.get_sample_data``), daily quotes from Yahoo Finance that
    matplotlib's own examples plot. Real measurements: trend, volatility and the 2008
    fall, unlike the synthetic series above.

    Inputs:
    - field: "open", "high", "low", "close", "adj_close" (US dollars) or "volume" (shares)

    Returns:
    - dates: numpy datetime64[D] array, shape (N,), oldest first
    - values: float64 array, shape (N,)
    """
    from matplotlib import cbook

    with cbook.get_sample_data("goog.npz") as data:
        prices = data["price_data"]
    return prices["date"].astype("datetime64[D]"), prices[field].astype(np.float64)
