"""Gradient checking: compare a backward pass with numerical derivatives.

A backward pass is easy to get almost right. The numerical gradient needs no
calculus: nudge one number of an input up and down by eps, run the forward pass
each time, and divide the change of the loss by 2 eps (centred differences).
Where the two gradients agree to about 1e-7 (relative error, float64) the
backward pass is right; 1e-3 or more means a mistake.

- ``numerical_gradient(f, x, eps)``: the centred differences, one element at a time.
- ``extrapolated_gradient(f, x, eps)``: two of them combined, a hundred times
  more accurate (use it when a plain check shows 1e-6 on a few tiny elements).
- ``relative_error(a, b)``: the worst elementwise relative difference.
- ``check_gradients(cell, x, state, params, sequence=False)``: all of the above
  for every input and parameter of a cell step, or of BPTT over a sequence.

Example::

    import numpy as np
    from rnnkit import LSTM
    from rnnkit.gradcheck import check_gradients, numerical_gradient, relative_error

    # A function whose gradient we know: f(x) = sum(x^3), df/dx = 3 x^2.
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_gradient(lambda: np.sum(x ** 3), x)
    relative_error(grad, 3 * x ** 2)          # 8e-11

    # Every gradient of one LSTM step, then of a whole sequence (float64).
    rng = np.random.default_rng(0)
    params = LSTM.init_params(3, 4, rng)
    x = rng.normal(size=(2, 3))
    state = (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))   # (y_prev, s_prev)
    check_gradients(LSTM, x, state, params)
    # {'x': 2e-11, 'y_prev': 5e-12, 's_prev': 3e-13, 'W_f': 2e-11, 'b_f': 3e-12, ...}
    xs = rng.normal(size=(5, 2, 3))
    check_gradients(LSTM, xs, state, params, sequence=True)
    # {'xs': 4e-11, 'y_0': 3e-12, 's_0': 4e-11, 'W_f': 6e-11, 'b_f': 8e-13, ...}

Work in float64: in float32 a nudge of 1e-6 is lost in rounding.
"""

import numpy as np

from . import sequence as sequences  # looked up at call time: a learner's own bptt


def numerical_gradient(f, x, eps=1e-6):
    """Numerical gradient of a scalar function by centred differences.

    For every element x[i]:  df/dx[i] ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    ``x`` is changed in place while ``f`` is evaluated (that is how ``f`` sees the
    nudge) and every element is put back afterwards, even if ``f`` raises.

    Inputs:
    - f: a function of no arguments returning a scalar loss; it must read ``x``
      (for example ``lambda: np.sum(cell.step(x, state, params)[0])``)
    - x: a float numpy array of any shape that ``f`` depends on (float64 advised)
    - eps: the nudge; 1e-6 balances the truncation error (~eps^2) against
      rounding (~1e-16 / eps) in float64

    Returns:
    - grad: df/dx, an array of x's shape and dtype.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("x must be a float numpy array (it is nudged in place)")
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + eps
            f_plus = float(f())
            x[i] = old - eps
            f_minus = float(f())
        finally:
            x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def extrapolated_gradient(f, x, eps=2e-3):
    """A more accurate numerical gradient: two centred differences combined.

    The centred difference with nudge eps is off by about c eps^2 (c depends on
    f's third derivative); with eps / 2 it is off by about c eps^2 / 4. So
        (4 * g(eps / 2) - g(eps)) / 3
    cancels that error (Richardson extrapolation), leaving about eps^4. A larger
    nudge is then possible, which makes rounding smaller too: in float64 the
    result is good to ~1e-12 instead of ~1e-10, so even gradient elements close
    to zero can be checked to a relative error of 1e-7.

    Inputs and returns as for ``numerical_gradient`` (which it calls twice).
    """
    g_eps = numerical_gradient(f, x, eps)
    g_half = numerical_gradient(f, x, eps / 2)
    return (4 * g_half - g_eps) / 3


def relative_error(a, b):
    """Worst relative difference between two arrays of the same shape.

    max over elements of |a - b| / max(|a| + |b|, tiny), where tiny is the smallest
    positive float64, so two exact zeros count as agreeing. Always between 0 and 1;
    infinite when either array holds inf or nan. An element whose true value is
    close to zero can show a large relative error from rounding alone: look at it
    before suspecting the formula.

    Inputs:
    - a, b: arrays (or numbers) of the same shape

    Returns:
    - a float: 0 for identical arrays; ~1e-10 for a correct float64 gradient
      against ``numerical_gradient``; 1e-3 or more points at a mistake.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    tiny = np.finfo(np.float64).tiny
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), tiny)))


def check_gradients(cell, x, state, params, sequence=False, eps=2e-3, seed=0):
    """Check a cell's backward pass (one step, or BPTT over a sequence) numerically.

    The loss is a random linear function of everything the forward pass returns,
        L = sum(dy * y) + sum over the state's arrays of sum(dstate * state)
    (over all time steps for a sequence), with dy and dstate drawn from ``seed``,
    so that dL/dy = dy and dL/d(state) = dstate. The analytic gradients come from
    ``cell.step_backward(x, state, params, dy, dstate)`` (one step) or from
    ``rnnkit.sequence.bptt(cell, xs, state0, params, dys, dstate_T)`` (sequence),
    the numerical ones from ``extrapolated_gradient`` (accurate enough that a
    correct backward pass stays below 1e-7 even where a gradient is close to
    zero). Everything is computed on float64 copies: the arguments are not changed.

    Inputs:
    - cell: a cell (``rnnkit.RNN``, ``LSTM``, ``LSTM_MEMO``, ``GRU``)
    - x: the input x_t, shape (B, D) or (D,); with ``sequence=True`` the inputs
      xs, shape (T, B, D) or (T, D)
    - state: the state entering the step (or the sequence), a tuple of (B, H)
      or (H,) arrays, as for ``cell.step``
    - params: the cell's parameters (a NamedTuple such as LSTMParams)
    - sequence: False to check one step, True to check a whole sequence
    - eps: the larger nudge for ``extrapolated_gradient``
    - seed: seed of the random dy and dstate

    Returns:
    - a dict from name to the worst relative error of that gradient: "x" (or
      "xs"), each state array by name with "_prev" (or "_0"), e.g. "y_prev" and
      "s_prev" for the LSTM, then each parameter by its field name ("W_f", "b_f", ...).
    """
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64)
    state = tuple(np.array(s, dtype=np.float64) for s in state)
    params = type(params)(*(np.array(p, dtype=np.float64) for p in params))

    if sequence:
        forward = _unroll
        ys, state_T = forward(cell, x, state, params)
        dy = rng.normal(size=ys.shape)
        dstate = tuple(rng.normal(size=s.shape) for s in state_T)
        dx, dstate_in, dparams = sequences.bptt(cell, x, state, params, dy, dstate)
        names = ["xs"] + [name + "_0" for name in cell.state_names]
    else:
        forward = _step
        y, state_new = forward(cell, x, state, params)
        dy = rng.normal(size=y.shape)
        dstate = tuple(rng.normal(size=s.shape) for s in state_new)
        dx, dstate_in, dparams = cell.step_backward(x, state, params, dy, dstate)
        names = ["x"] + [name + "_prev" for name in cell.state_names]

    def loss():
        y, state_out = forward(cell, x, state, params)
        return np.sum(dy * y) + sum(np.sum(d * s) for d, s in zip(dstate, state_out, strict=True))

    fields = getattr(params, "_fields", None) or [f"param{k}" for k in range(len(params))]
    names += list(fields)
    arrays = [x, *state, *params]
    analytic = [dx, *dstate_in, *dparams]
    return {
        name: relative_error(grad, extrapolated_gradient(loss, array, eps))
        for name, array, grad in zip(names, arrays, analytic, strict=True)
    }


def _step(cell, x, state, params):
    return cell.step(x, state, params)


def _unroll(cell, xs, state0, params):
    return sequences.unroll(cell, xs, state0, params)
