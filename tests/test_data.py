"""rnnkit.data: shapes, determinism and the documented properties of each data set."""

import numpy as np
import pytest

from rnnkit import data


def test_adding_problem_properties():
    T, n = 20, 500
    xs, targets = data.adding_problem(n, T, rng=0)
    assert xs.shape == (T, n, 2) and targets.shape == (n, 1)
    values, markers = xs[:, :, 0], xs[:, :, 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(markers)) == {0.0, 1.0}
    # exactly two markers per sequence, one in each half
    np.testing.assert_array_equal(markers.sum(axis=0), 2)
    np.testing.assert_array_equal(markers[: T // 2].sum(axis=0), 1)
    np.testing.assert_array_equal(markers[T // 2 :].sum(axis=0), 1)
    # the target is the sum of the two marked values
    np.testing.assert_allclose(targets[:, 0], (values * markers).sum(axis=0), rtol=1e-15)


def test_adding_problem_baseline_is_one_sixth():
    # Var(U1 + U2) = 2/12 for independent uniforms: predicting 1.0 scores ~1/6.
    _, targets = data.adding_problem(200_000, 4, rng=1)
    assert np.mean((targets - 1.0) ** 2) == pytest.approx(1 / 6, rel=0.02)


def test_adding_problem_determinism_and_dtype():
    a = data.adding_problem(8, 10, rng=3)
    b = data.adding_problem(8, 10, rng=3)
    c = data.adding_problem(8, 10, rng=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    xs, y = data.adding_problem(3, 5, rng=0, dtype=np.float32)
    assert xs.dtype == np.float32 and y.dtype == np.float32
    batches = data.adding_problem_batches(3, 4, 6, rng=0)
    assert len(batches) == 3 and batches[0][0].shape == (6, 4, 2)
    assert not np.array_equal(batches[0][0], batches[1][0])
    with pytest.raises(ValueError):
        data.adding_problem(2, 1)


def test_sine_series():
    x = data.sine_series(200, periods=(20,), noise_std=0.0, rng=0)
    assert x.shape == (200,)
    np.testing.assert_allclose(x[20:], x[:-20], atol=1e-12)  # period 20 steps
    assert np.max(np.abs(x)) <= 1 + 1e-12
    multi = data.sine_series(300, periods=(20, 7), amplitudes=(1.0, 0.5), noise_std=0.0, rng=1)
    np.testing.assert_allclose(multi[140:], multi[:-140], atol=1e-12)  # lcm(20, 7) = 140
    noisy = data.sine_series(5000, periods=(20,), noise_std=0.3, rng=0)
    clean = data.sine_series(5000, periods=(20,), noise_std=0.0, rng=0)  # same phase draw
    assert np.std(noisy - clean) == pytest.approx(0.3, rel=0.05)
    np.testing.assert_array_equal(noisy, data.sine_series(5000, periods=(20,), noise_std=0.3, rng=0))


def test_make_windows():
    series = np.arange(30.0)
    xs, targets = data.make_windows(series, T=5, stride=3)
    W = (30 - 5 - 1) // 3 + 1
    assert xs.shape == (5, W, 1) and targets.shape == (5, W, 1)
    for w in range(W):
        for t in range(5):
            assert xs[t, w, 0] == series[3 * w + t]
            assert targets[t, w, 0] == series[3 * w + t + 1]
    two = np.stack([series, -series], axis=1)
    xs2, _ = data.make_windows(two, T=4)
    assert xs2.shape == (4, 26, 2)
    with pytest.raises(ValueError):
        data.make_windows(series, T=30)


def test_char_corpus_and_vocab():
    text = data.char_corpus()
    assert isinstance(text, str) and len(text) > 100_000
    assert text == data.char_corpus()  # same text every time
    assert data.char_corpus(max_chars=50) == text[:50]
    vocab = data.CharVocab(text)
    assert vocab.chars == sorted(set(text))
    sample = text[1000:1200]
    ids = vocab.encode(sample)
    assert ids.shape == (200,) and ids.min() >= 0 and ids.max() < vocab.size
    assert vocab.decode(ids) == sample


def test_one_hot_and_char_batches():
    oh = data.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert oh.shape == (2, 2, 3)
    np.testing.assert_array_equal(oh.sum(axis=-1), 1)
    np.testing.assert_array_equal(oh.argmax(axis=-1), [[0, 2], [1, 1]])
    ids = np.arange(100) % 7
    batches = data.char_batches(ids, T=6, B=4, num_batches=2, rng=0, V=7)
    xs, targets = batches[0]
    assert xs.shape == (6, 4, 7) and targets.shape == (6, 4)
    # the target at step t is the input at step t + 1 (next character)
    np.testing.assert_array_equal(xs.argmax(axis=-1)[1:], targets[:-1])
    np.testing.assert_array_equal(targets, (xs.argmax(axis=-1) + 1) % 7)
    again = data.char_batches(ids, T=6, B=4, num_batches=2, rng=0, V=7)
    np.testing.assert_array_equal(again[1][0], batches[1][0])


def test_stock_prices():
    dates, close = data.stock_prices()
    assert dates.shape == close.shape == (1047,)
    assert dates[0] == np.datetime64("2004-08-19") and dates[-1] == np.datetime64("2008-10-14")
    assert np.all(np.diff(dates) > np.timedelta64(0, "D"))
    assert np.all(close > 0)
    _, high = data.stock_prices("high")
    _, low = data.stock_prices("low")
    assert np.all(high >= low) and np.all((close <= high) & (close >= low))
