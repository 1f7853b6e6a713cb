"""rnnkit.train: losses, optimisers, clipping, the sequence model and the training loop."""

import functools

import numpy as np
import pytest

from rnnkit.data import adding_problem, adding_problem_batches
from rnnkit.gradcheck import numerical_gradient as _centred_differences
from rnnkit.train import (
    SGD,
    Adam,
    SequenceModel,
    clip_by_global_norm,
    init_params,
    mse,
    softmax_cross_entropy,
    train,
)

# These losses and models are larger than the unit cells: a larger nudge keeps rounding below 1e-7.
numerical_gradient = functools.partial(_centred_differences, eps=1e-5)


def _rel_error(a, b):
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


# ----------------------------------------------------------------------------- losses


def test_mse_value_and_gradient():
    pred = np.array([[1.0, 2.0], [3.0, 5.0]])
    target = np.array([[1.0, 0.0], [4.0, 5.0]])
    loss, dpred = mse(pred, target)
    assert loss == pytest.approx((0 + 4 + 1 + 0) / 4)
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    _, dpred = mse(pred, target)
    assert _rel_error(dpred, numerical_gradient(lambda: mse(pred, target)[0], pred)) <= 1e-7


def test_softmax_cross_entropy_value_and_gradient():
    # Equal scores over K classes: loss log K whatever the label.
    loss, _ = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    assert loss == pytest.approx(np.log(4))
    # Hand-computed: logits (0, ln 3): p = (1/4, 3/4); label 1 -> -ln(3/4).
    loss, d = softmax_cross_entropy(np.array([[0.0, np.log(3)]]), np.array([1]))
    assert loss == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(d, [[0.25, -0.25]], atol=1e-15)
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 2, 5))
    labels = rng.integers(0, 5, size=(3, 2))
    _, dlogits = softmax_cross_entropy(logits, labels)
    num = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    assert dlogits.shape == logits.shape
    assert _rel_error(dlogits, num) <= 1e-7


def test_softmax_cross_entropy_is_the_learners_temporal_softmax_loss(monkeypatch):
    # The kit's cross-entropy is an answer to lesson 8's graded function: it must call it, not redo it.
    from rnnkit import language

    seen = []

    def spy(logits, targets, mask=None):
        seen.append((logits.shape, targets.shape, mask))
        return 1.5, np.full(logits.shape, 0.25)

    monkeypatch.setattr(language, "temporal_softmax_loss", spy)
    loss, d = softmax_cross_entropy(np.zeros((3, 2, 5)), np.zeros((3, 2), int))
    assert (loss, seen[-1]) == (1.5, ((3, 2, 5), (3, 2), None)) and d.shape == (3, 2, 5)
    loss, d = softmax_cross_entropy(np.zeros((4, 5)), np.zeros(4, int))   # (B, K): a time axis of 1
    assert seen[-1] == ((1, 4, 5), (1, 4), None) and d.shape == (4, 5) and np.all(d == 0.25)


@pytest.mark.parametrize("logits,labels,message", [
    (np.zeros((2, 3)), np.zeros(3, int), "labels"),
    (np.zeros(3), np.zeros((), int), "expects logits"),
    (np.zeros((2, 3)), np.zeros(2), "integer"),
])
def test_softmax_cross_entropy_refuses_mismatched_labels(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy(logits, labels)


def test_softmax_cross_entropy_huge_logits_are_quiet():
    loss, d = softmax_cross_entropy(np.array([[1e4, -1e4, 0.0]]), np.array([1]))
    assert loss == pytest.approx(2e4)
    assert np.all(np.isfinite(d))


# ----------------------------------------------------------------------------- optimisers


def test_sgd_with_momentum_on_a_quadratic():
    # f(p) = 0.5 |p|^2, gradient p. lr 0.1, momentum 0.9, by hand:
    # v1 = p0, p1 = 0.9 p0;  v2 = 0.9 p0 + 0.9 p0 = 1.8 p0, p2 = 0.9 p0 - 0.18 p0 = 0.72 p0.
    p0 = np.array([1.0, -2.0])
    p = p0.copy()
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step([p.copy()])
    np.testing.assert_allclose(p, 0.9 * p0, rtol=1e-15)
    opt.step([p.copy()])
    np.testing.assert_allclose(p, 0.72 * p0, rtol=1e-14)
    # Without momentum: p <- p - lr g.
    q = p0.copy()
    SGD([q], lr=0.5).step([np.array([2.0, 4.0])])
    np.testing.assert_allclose(q, [0.0, -4.0])


def test_adam_on_a_quadratic():
    # f(p) = 0.5 * a * p^2 per coordinate, gradient a * p. Step 1: m^ = g, v^ = g^2, so
    # the step is lr * g / (|g| + eps) ~ lr * sign(g).
    a = np.array([1.0, 10.0, -3.0])
    p = np.array([1.0, 1.0, -2.0])
    p1_expected = p - 0.1 * (a * p) / (np.abs(a * p) + 1e-8)
    opt = Adam([p], lr=0.1)
    opt.step([a * p])
    np.testing.assert_allclose(p, p1_expected, rtol=1e-14)
    # Step 2 by the paper's formulas: m = 0.1 g1 * 0.9 + 0.1 g2, v likewise with 0.999.
    g1 = a * np.array([1.0, 1.0, -2.0])
    g2 = a * p1_expected
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.999 * (0.001 * g1**2) + 0.001 * g2**2
    p2_expected = p1_expected - 0.1 * (m / (1 - 0.9**2)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    opt.step([a * p])
    np.testing.assert_allclose(p, p2_expected, rtol=1e-13)


@pytest.mark.slow
@pytest.mark.torch
def test_optimisers_match_torch():
    torch = pytest.importorskip("torch")
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    for ours, theirs in [
        (lambda ps: SGD(ps, lr=0.05, momentum=0.8), lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8)),
        (lambda ps: Adam(ps, lr=0.05), lambda ps: torch.optim.Adam(ps, lr=0.05)),
    ]:
        p = np.array([1.0, -1.5])
        pt = torch.tensor(p.copy(), requires_grad=True)
        opt, opt_t = ours([p]), theirs([pt])
        for _ in range(5):
            opt.step([A @ p])
            opt_t.zero_grad()
            (0.5 * pt @ torch.from_numpy(A) @ pt).backward()
            opt_t.step()
        np.testing.assert_allclose(p, pt.detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- clipping


def test_clip_by_global_norm():
    grads = [np.array([3.0]), np.array([[0.0, 4.0]])]
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped[0], [0.6])
    np.testing.assert_allclose(clipped[1], [[0.0, 0.8]])
    np.testing.assert_array_equal(grads[0], [3.0])  # inputs untouched
    same, norm = clip_by_global_norm(grads, 10.0)
    assert norm == pytest.approx(5.0)
    for g, s in zip(grads, same, strict=True):
        np.testing.assert_array_equal(g, s)


# ----------------------------------------------------------------------------- model


def test_init_params_shapes():
    layers = init_params("gru", 3, 5, num_layers=3, rng=0)
    assert [p.W_r.shape for p in layers] == [(5, 8), (5, 10), (5, 10)]
    assert init_params("lstm", 2, 4, rng=1)[0].W_f.dtype == np.float64
    assert init_params("rnn", 2, 4, rng=1, dtype=np.float32)[0].W.dtype == np.float32


@pytest.mark.parametrize("cell", ["rnn", "lstm", "lstm_memo", "gru"])
@pytest.mark.parametrize("many_to_many", [False, True])
def test_sequence_model_gradients(cell, many_to_many):
    rng = np.random.default_rng(2)
    model = SequenceModel(cell, 3, 4, 2, num_layers=2, many_to_many=many_to_many, rng=2)
    model.b_out += 0.1  # non-zero everywhere
    xs = rng.standard_normal((4, 3, 3))
    target = rng.standard_normal((4, 3, 2) if many_to_many else (3, 2))

    def f():
        return mse(model.forward(xs), target)[0]

    _, dpred = mse(model.forward(xs), target)
    grads = model.backward(dpred)
    params = model.parameters()
    assert len(grads) == len(params)
    for p, g in zip(params, grads, strict=True):
        assert g.shape == p.shape
        num = numerical_gradient(f, p)
        if np.all(num == 0):  # the memo form's unused forget gate
            assert cell == "lstm_memo" and np.all(g == 0)
            continue
        assert _rel_error(g, num) <= 1e-7


def test_sequence_model_with_cross_entropy():
    rng = np.random.default_rng(3)
    model = SequenceModel("lstm", 4, 5, 3, many_to_many=True, rng=3)
    xs = rng.standard_normal((3, 2, 4))
    labels = rng.integers(0, 3, size=(3, 2))
    _, dlogits = softmax_cross_entropy(model.forward(xs), labels)
    grads = model.backward(dlogits)
    num = numerical_gradient(lambda: softmax_cross_entropy(model.forward(xs), labels)[0], model.W_out)
    assert _rel_error(grads[-2], num) <= 1e-7
    num = numerical_gradient(lambda: softmax_cross_entropy(model.forward(xs), labels)[0],
                              model.layer_params[0].W_a)
    assert _rel_error(grads[2 * 2], num) <= 1e-7  # LSTMParams order: W_f, b_f, W_i, b_i, W_a, ...


def test_default_engine_runs_the_learners_functions(monkeypatch):
    # A learner's copy of rnnkit must train with the learner's code: count the calls that reach the
    # gate functions, the stacked layers and the backward steps (module attributes, looked up at call time).
    # The modules are the ones this SequenceModel's own code refers to: another test may have imported
    # rnnkit afresh, so sys.modules may hold a newer copy than the one this class came from.
    train_globals = SequenceModel.forward.__globals__
    multilayer = train_globals["multilayer"]
    gru = train_globals["cells"].gru

    calls = {}

    def counting(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    for module, name in [(gru, "update_gate"), (gru, "gru_step_backward"), (multilayer, "stacked_forward"),
                         (multilayer, "stacked_backward")]:
        counting(module, name)
    model = SequenceModel("gru", 2, 3, 1, num_layers=2, rng=0)
    assert model.engine == "cells"
    _, dpred = mse(model.forward(np.ones((4, 5, 2))), np.zeros((5, 1)))
    model.backward(dpred)
    assert calls["stacked_forward"] == 1 and calls["stacked_backward"] == 1
    assert calls["gru_step_backward"] == 2 * 4           # every step of both layers
    assert calls["update_gate"] >= 2 * 4


def test_train_does_not_import_the_fast_path():
    import subprocess
    import sys

    code = "import sys, rnnkit.train; assert 'rnnkit.fast' not in sys.modules, 'imported'; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_unknown_engine_or_cell_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown engine 'numba'"):
        SequenceModel("gru", 2, 3, 1, engine="numba")
    with pytest.raises(ValueError, match="unknown cell 'gruu'"):
        SequenceModel("gruu", 2, 3, 1)
    with pytest.raises(RuntimeError, match="forward pass first"):
        SequenceModel("gru", 2, 3, 1).backward(np.zeros((2, 1)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "lstm_memo", "gru"])
@pytest.mark.parametrize("many_to_many", [False, True])
def test_the_two_engines_agree(cell, many_to_many):
    # The learner's cells and the fused fast path compute the same model (to float64 round-off).
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((6, 3, 2))
    dpred = rng.standard_normal((6, 3, 2) if many_to_many else (3, 2))
    models = {engine: SequenceModel(cell, 2, 5, 2, num_layers=2, many_to_many=many_to_many, rng=7,
                                    engine=engine) for engine in ("cells", "fast")}
    preds = {engine: m.forward(xs) for engine, m in models.items()}
    grads = {engine: m.backward(dpred) for engine, m in models.items()}
    np.testing.assert_allclose(preds["cells"], preds["fast"], rtol=1e-12, atol=1e-14)
    for a, b in zip(grads["cells"], grads["fast"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_reduces_loss_on_adding_problem(cell):
    xs_test, y_test = adding_problem(256, 8, rng=100)
    model = SequenceModel(cell, 2, 16, 1, rng=0)
    before = mse(model.predict(xs_test), y_test)[0]
    history = train(model, adding_problem_batches(200, 32, 8, rng=1), mse,
                    Adam(model.parameters(), lr=2e-2), clip=1.0, progress=False)
    after = mse(model.predict(xs_test), y_test)[0]
    baseline = mse(np.ones_like(y_test), y_test)[0]
    assert len(history["loss"]) == 200 and len(history["epoch_loss"]) == 1
    assert after < 0.5 * before
    assert after < 0.25 * baseline  # it learned the task, not only the mean


def test_training_is_reproducible_and_memo_form_selectable():
    def run():
        model = SequenceModel("lstm_memo", 2, 6, 1, rng=5)
        batches = adding_problem_batches(5, 8, 6, rng=6)
        return train(model, batches, mse, SGD(model.parameters(), lr=0.05, momentum=0.9), epochs=2,
                     progress=False), model

    (h1, m1), (h2, m2) = run(), run()
    assert h1["loss"] == h2["loss"]
    assert len(h1["loss"]) == 10 and len(h1["epoch_loss"]) == 2 and len(h1["time"]) == 10
    assert h1["wall_time"] >= h1["time"][-1] > 0
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_accepts_a_batch_function_and_progress_goes_to_stdout(capsys):
    model = SequenceModel("gru", 2, 4, 1, rng=0)
    history = train(model, lambda epoch: adding_problem_batches(3, 4, 5, rng=epoch), mse, epochs=2,
                    progress=True, desc="test")
    captured = capsys.readouterr()
    assert captured.err == ""  # stderr output would zero a graded cell under nbgrader
    assert "test" in captured.out
    assert len(history["loss"]) == 6
    assert history["grad_norm"][0] > 0


def test_demo_run_prints_its_result(capsys):
    from rnnkit.demo import run

    results = run(T=8, hidden_size=8, steps=60, batch_size=16, progress=False, cells=("gru",))
    before, after, seconds = results["gru"]
    assert after < before and seconds > 0
    out = capsys.readouterr().out
    assert "Baseline (always predict 1.0)" in out and "GRU: test MSE" in out
