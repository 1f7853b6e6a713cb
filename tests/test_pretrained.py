"""The trained network lesson 3 ships (rnnkit/stacked_loudness.npz) is what its generator makes.

The slow test trains it again from the reference code and compares (a stale or hand-edited file
fails); the fast ones check that the file is the network the lesson describes, that it does its
task, and that ``--check`` names what differs in a stale copy.
"""

import numpy as np
import pytest

import rnnkit
from autograder import cli
from autograder.building import pretrained


@pytest.fixture(scope="module")
def committed():
    return pretrained.load()


def _layers(arrays, prefix=""):
    return [rnnkit.RNNParams(arrays[f"{prefix}W_{l}"], arrays[f"{prefix}b_{l}"])
            for l in range(1, pretrained.LAYERS + 1)]


def test_file_holds_the_network_the_lesson_describes(committed):
    H, L = pretrained.HIDDEN, pretrained.LAYERS
    settings = [H, L, pretrained.T_TRAIN, pretrained.BATCH, pretrained.TRAIN_STEPS]
    assert committed["settings"].tolist() == settings
    assert float(committed["period"]) == pretrained.PERIOD
    for prefix in ("", "init_"):
        shapes = [(p.W.shape, p.b.shape) for p in _layers(committed, prefix)]
        assert shapes == [((H, 1 + H), (H,))] + [((H, 2 * H), (H,))] * (L - 1)
    assert committed["W_out"].shape == (1, H) and committed["b_out"].shape == (1,)
    assert committed["demo_xs"].shape == (pretrained.T_DEMO, 1, 1)
    assert all(a.dtype == np.float64 for name, a in committed.items() if name != "settings")
    # Training changed every layer's weights.
    for trained, before in zip(_layers(committed), _layers(committed, "init_"), strict=True):
        assert np.abs(trained.W - before.W).max() > 0.1


def test_trained_network_reports_the_loudness_of_a_fresh_tone(committed):
    # On a batch drawn from another seed, through the reference stacked_forward: the readout's error
    # is a small fraction of the loudness's variance (the weights before training do not come close).
    xs, loudness = pretrained.loudness_batch(np.random.default_rng(12345), 300, 8)
    errors = {}
    for prefix in ("", "init_"):
        layers = _layers(committed, prefix)
        states0 = [rnnkit.RNN.zero_state(8, pretrained.HIDDEN) for _ in layers]
        ys, _ = rnnkit.stacked_forward(rnnkit.RNN, xs, states0, layers)
        pred = ys @ committed["W_out"].T + committed["b_out"]
        errors[prefix] = np.mean((pred[20:] - loudness[20:]) ** 2) / loudness[20:].var()
    assert errors[""] < 0.1 < errors["init_"]


def test_loudness_batch_is_a_slowly_modulated_tone():
    xs, loudness = pretrained.loudness_batch(np.random.default_rng(0), 2000, 4)
    assert xs.shape == loudness.shape == (2000, 4, 1)
    assert 0.25 < loudness.min() and loudness.max() < 0.95
    # The loudness changes slowly: it is still much the same one tone period later. The input, divided
    # by its loudness, is the tone: alike one period later, opposite half a period later.
    lag = int(pretrained.PERIOD)
    loud = (loudness - loudness.mean())[:, :, 0]
    assert np.corrcoef(loud[:-lag].ravel(), loud[lag:].ravel())[0, 1] > 0.9
    tone = (xs / loudness)[:, :, 0]
    assert np.corrcoef(tone[:-lag].ravel(), tone[lag:].ravel())[0, 1] > 0.9
    assert np.corrcoef(tone[:-2].ravel(), tone[2:].ravel())[0, 1] < -0.5


def test_differences_name_what_is_stale(committed):
    fresh = dict(committed)
    stale = dict(committed)
    stale["W_2"] = committed["W_2"] + 1e-3
    stale["b_out"] = committed["b_out"][:0]
    del stale["demo_xs"]
    stale["extra"] = np.zeros(1)
    problems = pretrained.differences(stale, fresh)
    assert any(p.startswith("W_2: differs by up to 0.001") for p in problems)
    assert "b_out: float64[0] in the file, float64[1] now" in problems
    assert "demo_xs: missing" in problems and "extra: not made by the generator" in problems
    assert pretrained.differences(committed, fresh) == []
    # Rounding drift of another BLAS is allowed; anything larger is not.
    drift = dict(committed, W_1=committed["W_1"] * (1 + 1e-9))
    assert pretrained.differences(drift, fresh) == []


def test_check_command_fails_on_a_stale_copy_and_says_what_to_run(tmp_path, committed, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "train_weights", lambda init_seed=pretrained.INIT_SEED: dict(committed))
    path = tmp_path / "weights.npz"
    path.write_bytes(pretrained.to_bytes(dict(committed, b_1=committed["b_1"] + 0.5)))
    assert cli.main(["pretrained", "--check", "--path", str(path)]) == 1
    err = capsys.readouterr().err
    assert "python -m autograder pretrained" in err and "b_1: differs by up to 0.5" in err
    assert cli.main(["pretrained", "--check", "--path", str(tmp_path / "none.npz")]) == 1
    path.write_bytes(pretrained.to_bytes(dict(committed)))
    assert cli.main(["pretrained", "--check", "--path", str(path)]) == 0


@pytest.mark.slow
def test_committed_weights_are_what_the_generator_makes():
    # Trains the network again from the reference code (about 10 s) and compares.
    assert pretrained.check() == []
