"""The gradient checker itself, on functions whose derivatives are known in closed form."""

import numpy as np
import pytest

from rnnkit import CELLS, GRU, LSTM
from rnnkit.activations import sigmoid
from rnnkit.gradcheck import check_gradients, extrapolated_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_sum_of_cubes():
    x = np.array([1.0, -2.0, 0.5, 3.0])
    grad = numerical_gradient(lambda: np.sum(x**3), x)
    expected = np.array([3.0, 12.0, 0.75, 27.0])  # 3 x^2
    np.testing.assert_allclose(grad, expected, rtol=1e-8)


def test_numerical_gradient_of_a_bilinear_form_over_a_matrix():
    # f(A) = v^T A w, df/dA = v w^T.
    v, w = np.array([1.0, -2.0]), np.array([0.5, 3.0, -1.0])
    A = np.arange(6.0).reshape(2, 3)
    grad = numerical_gradient(lambda: v @ A @ w, A)
    expected = np.array([[0.5, 3.0, -1.0], [-1.0, -6.0, 2.0]])
    assert grad.shape == A.shape
    np.testing.assert_allclose(grad, expected, rtol=1e-8)


def test_numerical_gradient_of_a_0d_array():
    x = np.array(2.0)
    grad = numerical_gradient(lambda: np.exp(x), x)
    assert grad.shape == ()
    assert abs(grad - np.exp(2.0)) <= 1e-8 * np.exp(2.0)


def test_numerical_gradient_is_centred():
    # For a quadratic the centred difference is exact up to rounding, whatever eps
    # (a one-sided difference would be off by eps).
    x = np.array([1.0, 2.0])
    grad = numerical_gradient(lambda: np.sum(x**2), x, eps=0.1)
    np.testing.assert_allclose(grad, [2.0, 4.0], rtol=1e-12)


def test_numerical_gradient_restores_x_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    seen = []

    def f():
        seen.append(x.copy())
        return np.sum(np.sin(x))

    numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)
    # f saw each nudge: two evaluations per element, each differing from x in one place.
    assert len(seen) == 2 * x.size
    assert all(np.count_nonzero(s != before) == 1 for s in seen)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 4:  # during the second element's nudge
            raise ValueError("boom")
        return np.sum(x)

    with pytest.raises(ValueError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_numerical_gradient_keeps_dtype_and_refuses_non_float():
    x = np.array([1.0, 2.0], dtype=np.float32)
    grad = numerical_gradient(lambda: np.sum(x), x, eps=1e-2)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [1.0, 1.0], rtol=1e-3)
    with pytest.raises(TypeError):
        numerical_gradient(lambda: 0.0, np.array([1, 2]))
    with pytest.raises(TypeError):
        numerical_gradient(lambda: 0.0, [1.0, 2.0])


def test_extrapolated_gradient_is_more_accurate():
    x = np.linspace(-2.0, 2.0, 9)
    expected = np.cos(x)  # d/dx sum(sin x)
    plain = numerical_gradient(lambda: np.sum(np.sin(x)), x)
    better = extrapolated_gradient(lambda: np.sum(np.sin(x)), x)
    assert np.max(np.abs(better - expected)) < 1e-12
    assert np.max(np.abs(better - expected)) < np.max(np.abs(plain - expected)) / 10
    np.testing.assert_array_equal(x, np.linspace(-2.0, 2.0, 9))


def test_relative_error_values():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # exact zeros agree
    assert relative_error(1.0, -1.0) == 1.0  # opposite signs: the worst possible
    assert relative_error(0.0, 1e-300) == 1.0
    assert relative_error(1.0, 1.1) == pytest.approx(0.1 / 2.1, rel=1e-12)
    # The worst element counts, not the mean, and the scale does not.
    assert relative_error([1.0, 1e-6], [1.0, 1.1e-6]) == pytest.approx(0.1 / 2.1, rel=1e-9)
    assert relative_error([1e6, 3.0], [1.1e6, 3.0]) == pytest.approx(0.1 / 2.1, rel=1e-12)
    # Symmetric.
    assert relative_error([1.0, 5.0], [2.0, 4.0]) == relative_error([2.0, 4.0], [1.0, 5.0]) == 1 / 3


def test_relative_error_refuses_different_shapes_and_flags_non_finite():
    with pytest.raises(ValueError):
        relative_error(np.zeros(3), np.zeros(4))
    assert relative_error([1.0, np.nan], [1.0, 1.0]) == float("inf")
    assert relative_error([np.inf], [np.inf]) == float("inf")
    assert relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("sequence", [False, True])
def test_check_gradients_passes_the_reference(name, sequence):
    cell = CELLS[name]
    rng = np.random.default_rng(1)
    params = cell.init_params(3, 4, rng)
    x = rng.normal(size=(5, 2, 3) if sequence else (2, 3))
    state = tuple(rng.normal(size=(2, 4)) for _ in cell.state_names)
    copies = [a.copy() for a in (x, *state, *params)]

    errors = check_gradients(cell, x, state, params, sequence=sequence)

    prefix, suffix = ("xs", "_0") if sequence else ("x", "_prev")
    assert list(errors) == [prefix] + [n + suffix for n in cell.state_names] + list(params._fields)
    assert max(errors.values()) <= 1e-7, errors
    for array, copy in zip((x, *state, *params), copies, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_check_gradients_unbatched_and_float32():
    rng = np.random.default_rng(2)
    params = GRU.init_params(3, 4, rng, dtype=np.float32)
    x, state = rng.normal(size=3).astype(np.float32), (rng.normal(size=4).astype(np.float32),)
    errors = check_gradients(GRU, x, state, params)  # computed on float64 copies
    assert max(errors.values()) <= 1e-7, errors


class _WrongInputGate:
    """An LSTM whose backward pass forgets the input gate's sigmoid derivative."""

    def __init__(self):
        self.state_names = LSTM.state_names
        self.step = LSTM.step

    def step_backward(self, x, state_prev, params, dy, dstate):
        dx, dstate_prev, grads = LSTM.step_backward(x, state_prev, params, dy, dstate)
        I = sigmoid(np.concatenate([x, state_prev[0]], axis=-1) @ params.W_i.T + params.b_i)
        wrong_b_i = grads.b_i / (I * (1 - I)).sum(axis=0)
        return dx, dstate_prev, grads._replace(b_i=wrong_b_i)


def test_check_gradients_finds_a_wrong_gradient_and_names_it():
    rng = np.random.default_rng(3)
    params = LSTM.init_params(3, 4, rng)
    x = rng.normal(size=(1, 3))
    state = (rng.normal(size=(1, 4)), rng.normal(size=(1, 4)))
    errors = check_gradients(_WrongInputGate(), x, state, params)
    assert errors["b_i"] > 1e-2
    assert max(v for k, v in errors.items() if k != "b_i") <= 1e-7
