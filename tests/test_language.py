"""rnnkit.language.temporal_softmax_loss against independent oracles: values worked out by hand,
PyTorch's cross-entropy and autograd, and the learner-facing messages of its check.

Every expected value here comes from outside the function: closed forms (a two-class softmax
with scores 0 and ln 3 gives probabilities 1/4 and 3/4; equal scores give log V), or PyTorch.
"""

import math
import pathlib

import numpy as np
import pytest
from test_mutations import load_package, unload

from autograder.specs import SPECS
from autograder.specs.cases import make_cases
from autograder.specs.judge import expectations, grade_in_process
from rnnkit.language import temporal_softmax_loss

try:
    import torch
except (ImportError, OSError):  # tests/conftest.py skips every test marked torch
    torch = None

CHECK = "language.temporal_softmax_loss"


def test_two_classes_by_hand():
    # Scores (0, ln 3): p = (1/4, 3/4). Target 1 costs -ln(3/4), target 0 costs ln 4.
    # Two sequences of two steps, the second sequence's last step padded: N = 3 counted positions.
    logits = np.zeros((2, 2, 2))
    logits[..., 1] = math.log(3)
    targets = np.array([[1, 0], [1, 0]])
    mask = np.array([[1, 1], [1, 0]])
    loss, dlogits = temporal_softmax_loss(logits, targets, mask)
    assert np.ndim(loss) == 0
    assert float(loss) == pytest.approx((2 * -math.log(0.75) + math.log(4)) / 3, rel=1e-14)
    # (p - onehot) / N: target 1 -> (1/4, -1/4) / 3, target 0 -> (-3/4, 3/4) / 3, padded -> 0.
    want = np.array([[[0.25, -0.25], [-0.75, 0.75]], [[0.25, -0.25], [0.0, 0.0]]]) / 3
    np.testing.assert_allclose(dlogits, want, rtol=0, atol=1e-16)


@pytest.mark.parametrize("shift", [0.0, 1000.0, -1000.0, 1e6])
def test_equal_scores_cost_log_v_at_any_height(shift):
    # Equal scores: the uniform distribution whatever their value, so L = ln V and dL/dz = (1/V - onehot) / N.
    T, B, V = 3, 2, 7
    targets = np.arange(T * B).reshape(T, B) % V
    loss, dlogits = temporal_softmax_loss(np.full((T, B, V), shift), targets)
    assert float(loss) == pytest.approx(math.log(V), rel=1e-12)
    want = (np.full((T, B, V), 1 / V) - np.eye(V)[targets]) / (T * B)
    np.testing.assert_allclose(dlogits, want, rtol=0, atol=1e-15)


def test_mask_kinds_agree_and_padding_is_ignored():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 3, 5))
    targets = rng.integers(0, 5, size=(4, 3))
    ones = temporal_softmax_loss(logits, targets, np.ones((4, 3)))
    none = temporal_softmax_loss(logits, targets)
    np.testing.assert_allclose(ones[1], none[1], rtol=1e-15)
    assert float(ones[0]) == pytest.approx(float(none[0]), rel=1e-15)
    mask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]])
    as_int = temporal_softmax_loss(logits, targets, mask)
    as_bool = temporal_softmax_loss(logits, targets, mask.astype(bool))
    # Whatever the padded positions hold, nothing changes.
    changed = logits.copy()
    changed[mask == 0] = 123.0
    padded = temporal_softmax_loss(changed, np.where(mask == 1, targets, (targets + 1) % 5), mask)
    for other in (as_bool, padded):
        assert float(other[0]) == pytest.approx(float(as_int[0]), rel=1e-14)
        np.testing.assert_allclose(other[1], as_int[1], rtol=0, atol=1e-16)
    assert np.all(as_int[1][mask == 0] == 0)


def test_float32_stays_float32_and_inputs_are_not_changed():
    rng = np.random.default_rng(4)
    logits = (1000 * rng.uniform(-1, 1, size=(3, 2, 6))).astype(np.float32)
    targets = rng.integers(0, 6, size=(3, 2))
    mask = np.array([[1, 1], [1, 0], [0, 1]], dtype=np.float32)
    for a in (logits, targets, mask):
        a.setflags(write=False)
    loss, dlogits = temporal_softmax_loss(logits, targets, mask)
    assert loss.dtype == np.float32 and dlogits.dtype == np.float32
    assert np.all(np.isfinite(dlogits)) and np.isfinite(loss)


@pytest.mark.torch
@pytest.mark.parametrize("scale, mask_kind", [(2.0, "float"), (2.0, "bool"), (2.0, None), (1000.0, "float")])
def test_against_pytorch_cross_entropy(scale, mask_kind):
    rng = np.random.default_rng(5)
    T, B, V = 5, 4, 9
    logits = scale * rng.uniform(-1, 1, size=(T, B, V))
    targets = rng.integers(0, V, size=(T, B))
    mask = (rng.uniform(size=(T, B)) < 0.6).astype(float)
    mask[0, 0] = 1
    given = None if mask_kind is None else mask.astype(bool) if mask_kind == "bool" else mask
    weights = np.ones((T, B)) if mask_kind is None else mask

    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    ids = torch.tensor(targets.reshape(-1))
    each = torch.nn.functional.cross_entropy(z.reshape(-1, V), ids, reduction="none")
    w = torch.tensor(weights.reshape(-1))
    expected = (each * w).sum() / w.sum()
    expected.backward()

    loss, dlogits = temporal_softmax_loss(logits, targets, given)
    assert float(loss) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, z.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.fixture(scope="module")
def graded():
    cases = make_cases(31337, check_ids=[CHECK])
    return cases, expectations(cases)


def _outcome(tmp_path, graded, change):
    cases, expected = graded
    pkg = load_package(tmp_path, CHECK, change)
    try:
        return grade_in_process(pkg, 31337, check_ids=[CHECK], cases=cases, expected=expected)[CHECK]
    finally:
        unload(pkg)


def test_an_unstable_softmax_is_told_to_subtract_the_maximum(tmp_path, graded):
    # The mistake gives NaN only where exp overflows, so no output of it can be matched: the message
    # must still name the cure, through the case's label and the non-finite result's text.
    (mutant,) = [m for m in SPECS[CHECK].mutants if m.name == "no maximum subtracted"]
    outcome = _outcome(pathlib.Path(tmp_path), graded, mutant.change)
    assert 0 < outcome.score < outcome.max_score, outcome.message
    assert "row maximum is subtracted" in outcome.message and "numerically stable" in outcome.message
    assert "failed: edges, float32" in outcome.message


def test_a_float_or_numpy_scalar_loss_scores_full_marks(tmp_path, graded):
    # np.mean returns a numpy scalar, float() a Python float: both are a scalar loss, and both
    # must score what a 0-d array scores (no hygiene deduction for the most natural code).
    for name in ("loss returned as a Python float", "loss returned as a numpy scalar"):
        (right,) = [r for r in SPECS[CHECK].right if r.name == name]
        outcome = _outcome(pathlib.Path(tmp_path) / name.replace(" ", "-"), graded, right.change)
        assert outcome.score == outcome.max_score, (name, outcome.message)


def test_a_zero_dimensional_loss_keeps_its_shape_in_a_case_file():
    # The loss is the course's one 0-d output: fixtures and sandbox results must keep shape (), not (1,).
    from autograder.checks import casefile

    store = casefile._Store()
    tree = casefile.encode((np.asarray(2.5), np.ones((2, 3))), store)
    loss, grad = casefile.decode(tree, store.buffers())
    assert loss.shape == () and float(loss) == 2.5 and grad.shape == (2, 3)
