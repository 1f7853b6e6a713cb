"""Property-based tests of every learner-level rnnkit function (hypothesis).

Over random shapes (B = 1 and larger batches, D = H and D != H, unbatched 1-D
inputs and (T, D) sequences), float32 and float64, each function
- returns the documented shapes and keeps the dtype it is given,
- never modifies its inputs,
- treats the rows of a batch independently: row i of a batched call equals the
  unbatched call on row i, and changing row j leaves every other row's output
  bit for bit unchanged. Parameter gradients are the one exception by design:
  they are summed over the batch, so the batched gradient equals the sum of the
  per-row gradients.

Each function is described by a ``Spec``: how to build its arguments (each
marked as a batch of rows, a time-major sequence of rows, or shared, like
parameters) and what it returns (each output marked the same way, or as summed
over the batch, with its shape).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit import GRU, LSTM, LSTM_MEMO, RNN, activations, fast, gru, lstm, multilayer, rnn, sequence

CELLS = {"rnn": RNN, "lstm": LSTM, "lstm_memo": LSTM_MEMO, "gru": GRU}


# --------------------------------------------------------------- argument kinds

@dataclass
class Arg:
    """One argument: ``kind`` is "row" (batch axis 0), "seq" (time-major, batch axis 1)
    or "shared" (the same for every row: parameters, cells, flags). The value may be an
    array or a tuple / list / NamedTuple of arrays (all of the same kind)."""

    kind: str
    value: Any


@dataclass
class Out:
    """One expected output leaf: kind "row", "seq" or "sum" (summed over the batch), and shape."""

    kind: str
    shape: tuple


def tree_map(fn, tree):
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(tree_map(fn, t) for t in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, t) for t in tree)
    return fn(tree)


def leaves(tree):
    if isinstance(tree, (tuple, list)):
        return [leaf for t in tree for leaf in leaves(t)]
    return [tree]


def pair_leaves(actual, expected, path="output"):
    """Walk ``actual`` and the ``Out`` tree ``expected`` together: [(path, array, Out)]."""
    if isinstance(expected, Out):
        return [(path, actual, expected)]
    assert isinstance(actual, (tuple, list)), f"{path}: expected a tuple/list, got {type(actual).__name__}"
    assert len(actual) == len(expected), f"{path}: {len(actual)} parts, expected {len(expected)}"
    names = getattr(expected, "_fields", None) or range(len(expected))
    pairs = []
    for name, a, e in zip(names, actual, expected, strict=True):
        pairs += pair_leaves(a, e, f"{path}[{name}]")
    return pairs


def like(tree, kind, shape_fn):
    """An Out tree shaped like ``tree`` (e.g. a Params), all of ``kind``."""
    return tree_map(lambda a: Out(kind, shape_fn(a)), tree)


# --------------------------------------------------------------- building cases

class Case:
    """Random arrays for one hypothesis example: B (None = unbatched), D, H, T, dtype."""

    def __init__(self, B, D, H, T, dtype, seed):
        self.B, self.D, self.H, self.T, self.dtype = B, D, H, T, np.dtype(dtype)
        self.rng = np.random.default_rng(seed)

    def _cast(self, a):
        return np.asarray(a).astype(self.dtype)

    def batch(self, n):
        return () if self.B is None else (self.B,)

    def rows(self, n, low=None, high=None, scale=1.5):
        """(B, n) or (n,): normal, or uniform in (low, high)."""
        shape = self.batch(n) + (n,)
        if low is None:
            return self._cast(self.rng.normal(0.0, scale, size=shape))
        return self._cast(self.rng.uniform(low, high, size=shape))

    def seq(self, n, scale=1.5):
        """(T, B, n) or (T, n)."""
        return self._cast(self.rng.normal(0.0, scale, size=(self.T,) + self.batch(n) + (n,)))

    def weight(self, n_in, n_out):
        return self._cast(self.rng.normal(0.0, 1.0 / np.sqrt(n_in + n_out), size=(n_out, n_in + n_out)))

    def bias(self, n):
        return self._cast(self.rng.normal(0.0, 0.5, size=n))

    def params(self, cell, n_in, n_out):
        p = cell.init_params(n_in, n_out, self.rng, self.dtype)
        # a little larger than the default, so the gates are not all near 1/2
        return type(p)(*(a * a.dtype.type(2) for a in p))

    def state(self, cell, n):
        """A random state tuple like cell.zero_state: outputs in (-1, 1), LSTM state wider."""
        parts = [self.rows(n, -1, 1)]
        if len(cell.state_names) == 2:
            parts.append(self.rows(n, scale=2.0))
        return tuple(parts)

    def row_shape(self, n):
        return self.batch(n) + (n,)

    def seq_shape(self, n):
        return (self.T,) + self.batch(n) + (n,)


@dataclass
class Spec:
    name: str
    fn: Callable
    build: Callable  # Case -> (list of Arg, expected Out tree)


def gate_spec(name, fn):
    def build(c):
        return ([Arg("row", c.rows(c.D)), Arg("row", c.rows(c.H, -1, 1)),
                 Arg("shared", c.weight(c.D, c.H)), Arg("shared", c.bias(c.H))],
                Out("row", c.row_shape(c.H)))
    return Spec(name, fn, build)


def elementwise_spec(name, fn, ranges):
    """Functions of (B, H) arrays only; ``ranges`` gives each argument's (low, high) or None."""
    def build(c):
        args = [Arg("row", c.rows(c.H) if r is None else c.rows(c.H, *r)) for r in ranges]
        return args, Out("row", c.row_shape(c.H))
    return Spec(name, fn, build)


GATE, TANH = (0.0, 1.0), (-1.0, 1.0)

SPECS = [
    gate_spec("rnn.rnn_step", rnn.rnn_step),
    gate_spec("lstm.forget_gate", lstm.forget_gate),
    gate_spec("lstm.input_gate", lstm.input_gate),
    gate_spec("lstm.input_activation", lstm.input_activation),
    gate_spec("lstm.output_gate", lstm.output_gate),
    elementwise_spec("lstm.new_state", lstm.new_state, [GATE, GATE, TANH, None]),
    elementwise_spec("lstm.memo_new_state", lstm.memo_new_state, [GATE, TANH, None]),
    elementwise_spec("lstm.final_output", lstm.final_output, [GATE, None]),
    gate_spec("gru.reset_gate", gru.reset_gate),
    gate_spec("gru.update_gate", gru.update_gate),
    elementwise_spec("gru.final_output", gru.final_output, [GATE, TANH, TANH]),
]


def _gru_input_activation(c):
    return ([Arg("row", c.rows(c.D)), Arg("row", c.rows(c.H, -1, 1)), Arg("row", c.rows(c.H, 0, 1)),
             Arg("shared", c.weight(c.D, c.H)), Arg("shared", c.bias(c.H))],
            Out("row", c.row_shape(c.H)))


def _lstm_step(c, cell=LSTM):
    y, s = c.state(cell, c.H)
    return ([Arg("row", c.rows(c.D)), Arg("row", y), Arg("row", s), Arg("shared", c.params(cell, c.D, c.H))],
            (Out("row", c.row_shape(c.H)), Out("row", c.row_shape(c.H))))


def _gru_step(c):
    return ([Arg("row", c.rows(c.D)), Arg("row", c.rows(c.H, -1, 1)), Arg("shared", c.params(GRU, c.D, c.H))],
            Out("row", c.row_shape(c.H)))


def _state_out(c, cell, n, kind="row"):
    return tuple(Out(kind, c.row_shape(n)) for _ in cell.state_names)


def _params_grad_out(p):
    return like(p, "sum", lambda a: a.shape)


SPECS += [
    Spec("gru.input_activation", gru.input_activation, _gru_input_activation),
    Spec("lstm.lstm_step", lstm.lstm_step, _lstm_step),
    Spec("lstm.memo_lstm_step", lstm.memo_lstm_step, lambda c: _lstm_step(c, LSTM_MEMO)),
    Spec("gru.gru_step", gru.gru_step, _gru_step),
]


# Cells, sequences and layers, for each cell ---------------------------------------

def _cell_step(name):
    cell = CELLS[name]

    def build(c):
        return ([Arg("row", c.rows(c.D)), Arg("row", c.state(cell, c.H)),
                 Arg("shared", c.params(cell, c.D, c.H))],
                (Out("row", c.row_shape(c.H)), _state_out(c, cell, c.H)))
    return Spec(f"{name}.step", cell.step, build)


def _unroll(name):
    cell = CELLS[name]

    def build(c):
        return ([Arg("shared", cell), Arg("seq", c.seq(c.D)), Arg("row", c.state(cell, c.H)),
                 Arg("shared", c.params(cell, c.D, c.H))],
                (Out("seq", c.seq_shape(c.H)), _state_out(c, cell, c.H)))
    return Spec(f"unroll[{name}]", rnnkit.unroll, build)


def _layer_sizes(c):
    # two layers of different widths: H, then D (so layer 2's input width differs from D)
    return [c.H, c.D]


def _stacked_forward(name):
    cell = CELLS[name]

    def build(c):
        sizes = _layer_sizes(c)
        n_ins = [c.D] + sizes[:-1]
        return ([Arg("shared", cell), Arg("seq", c.seq(c.D)),
                 Arg("row", [c.state(cell, h) for h in sizes]),
                 Arg("shared", [c.params(cell, n, h) for n, h in zip(n_ins, sizes, strict=True)])],
                (Out("seq", c.seq_shape(sizes[-1])), [_state_out(c, cell, h) for h in sizes]))
    return Spec(f"stacked_forward[{name}]", rnnkit.stacked_forward, build)


# Backward passes ---------------------------------------------------------------------

def _rnn_step_backward(c):
    W, b = c.weight(c.D, c.H), c.bias(c.H)
    return ([Arg("row", c.rows(c.D)), Arg("row", c.rows(c.H, -1, 1)), Arg("shared", W), Arg("shared", b),
             Arg("row", c.rows(c.H))],
            (Out("row", c.row_shape(c.D)), Out("row", c.row_shape(c.H)),
             Out("sum", W.shape), Out("sum", b.shape)))


def _lstm_step_backward(memo_form):
    def build(c):
        cell = LSTM_MEMO if memo_form else LSTM
        y, s = c.state(cell, c.H)
        p = c.params(cell, c.D, c.H)
        return ([Arg("row", c.rows(c.D)), Arg("row", y), Arg("row", s), Arg("shared", p),
                 Arg("row", c.rows(c.H)), Arg("row", c.rows(c.H)), Arg("shared", memo_form)],
                (Out("row", c.row_shape(c.D)), Out("row", c.row_shape(c.H)), Out("row", c.row_shape(c.H)),
                 _params_grad_out(p)))
    return build


def _gru_step_backward(c):
    p = c.params(GRU, c.D, c.H)
    return ([Arg("row", c.rows(c.D)), Arg("row", c.rows(c.H, -1, 1)), Arg("shared", p),
             Arg("row", c.rows(c.H))],
            (Out("row", c.row_shape(c.D)), Out("row", c.row_shape(c.H)), _params_grad_out(p)))


def _cell_step_backward(name):
    cell = CELLS[name]

    def build(c):
        p = c.params(cell, c.D, c.H)
        dstate = tuple(c.rows(c.H) for _ in cell.state_names)
        return ([Arg("row", c.rows(c.D)), Arg("row", c.state(cell, c.H)), Arg("shared", p),
                 Arg("row", c.rows(c.H)), Arg("row", dstate)],
                (Out("row", c.row_shape(c.D)), _state_out(c, cell, c.H), _params_grad_out(p)))
    return Spec(f"{name}.step_backward", cell.step_backward, build)


def _bptt(name):
    cell = CELLS[name]

    def build(c):
        p = c.params(cell, c.D, c.H)
        dstate_T = tuple(c.rows(c.H) for _ in cell.state_names)
        return ([Arg("shared", cell), Arg("seq", c.seq(c.D)), Arg("row", c.state(cell, c.H)),
                 Arg("shared", p), Arg("seq", c.seq(c.H)), Arg("row", dstate_T)],
                (Out("seq", c.seq_shape(c.D)), _state_out(c, cell, c.H), _params_grad_out(p)))
    return Spec(f"bptt[{name}]", sequence.bptt, build)


def _stacked_backward(name):
    cell = CELLS[name]

    def build(c):
        sizes = _layer_sizes(c)
        n_ins = [c.D] + sizes[:-1]
        layer_params = [c.params(cell, n, h) for n, h in zip(n_ins, sizes, strict=True)]
        return ([Arg("shared", cell), Arg("seq", c.seq(c.D)), Arg("row", [c.state(cell, h) for h in sizes]),
                 Arg("shared", layer_params), Arg("seq", c.seq(sizes[-1]))],
                (Out("seq", c.seq_shape(c.D)), [_state_out(c, cell, h) for h in sizes],
                 [_params_grad_out(p) for p in layer_params]))
    return Spec(f"stacked_backward[{name}]", multilayer.stacked_backward, build)


def _fast_forward(name, xs, state0, params):
    ys, state, _ = fast.forward(name, xs, state0, params)
    return ys, state


def _fast_backward(name, xs, state0, params, dys, dstate_T):
    _, _, cache = fast.forward(name, xs, state0, params)
    return fast.backward(cache, dys, dstate_T)


def _fast_stacked(name, xs, states0, layer_params, dys):
    ys, states, caches = fast.stacked_forward(name, xs, states0, layer_params)
    return (ys, states) + tuple(fast.stacked_backward(caches, dys))


def _fast(name):
    """The fast path (not a learner exercise, but the training kit's engine) keeps the same promises."""
    cell = CELLS[name]

    def build_forward(c):
        return ([Arg("shared", name), Arg("seq", c.seq(c.D)), Arg("row", c.state(cell, c.H)),
                 Arg("shared", c.params(cell, c.D, c.H))],
                (Out("seq", c.seq_shape(c.H)), _state_out(c, cell, c.H)))

    def build_backward(c):
        p = c.params(cell, c.D, c.H)
        dstate_T = tuple(c.rows(c.H) for _ in cell.state_names)
        return ([Arg("shared", name), Arg("seq", c.seq(c.D)), Arg("row", c.state(cell, c.H)),
                 Arg("shared", p), Arg("seq", c.seq(c.H)), Arg("row", dstate_T)],
                (Out("seq", c.seq_shape(c.D)), _state_out(c, cell, c.H), _params_grad_out(p)))

    def build_stacked(c):
        sizes = _layer_sizes(c)
        n_ins = [c.D] + sizes[:-1]
        layer_params = [c.params(cell, n, h) for n, h in zip(n_ins, sizes, strict=True)]
        return ([Arg("shared", name), Arg("seq", c.seq(c.D)), Arg("row", [c.state(cell, h) for h in sizes]),
                 Arg("shared", layer_params), Arg("seq", c.seq(sizes[-1]))],
                (Out("seq", c.seq_shape(sizes[-1])), [_state_out(c, cell, h) for h in sizes],
                 Out("seq", c.seq_shape(c.D)), [_state_out(c, cell, h) for h in sizes],
                 [_params_grad_out(p) for p in layer_params]))

    return [Spec(f"fast.forward[{name}]", _fast_forward, build_forward),
            Spec(f"fast.backward[{name}]", _fast_backward, build_backward),
            Spec(f"fast.stacked[{name}]", _fast_stacked, build_stacked)]


SPECS += [_cell_step(n) for n in CELLS]
SPECS += [_unroll(n) for n in CELLS]
SPECS += [_stacked_forward(n) for n in CELLS]
SPECS += [
    Spec("rnn.rnn_step_backward", rnn.rnn_step_backward, _rnn_step_backward),
    Spec("lstm.lstm_step_backward", lstm.lstm_step_backward, _lstm_step_backward(False)),
    Spec("lstm.lstm_step_backward[memo_form]", lstm.lstm_step_backward, _lstm_step_backward(True)),
    Spec("gru.gru_step_backward", gru.gru_step_backward, _gru_step_backward),
]
SPECS += [_cell_step_backward(n) for n in CELLS]
SPECS += [_bptt(n) for n in CELLS]
SPECS += [_stacked_backward(n) for n in CELLS]
SPECS += [spec for n in CELLS for spec in _fast(n)]


# --------------------------------------------------------------- the properties

cases = st.fixed_dictionaries({
    "B": st.sampled_from([None, 1, 2, 3, 5]),
    "D": st.integers(1, 5),
    "H": st.one_of(st.none(), st.integers(1, 5)),  # None: H = D
    "T": st.integers(1, 4),
    "dtype": st.sampled_from(["float32", "float64"]),
    "seed": st.integers(0, 2**32 - 1),
})

# B = 1 with D = H, unbatched with D != H, and a batch with D > H, in both precisions.
EXAMPLES = [
    {"B": 1, "D": 3, "H": None, "T": 2, "dtype": "float32", "seed": 1},
    {"B": None, "D": 2, "H": 4, "T": 3, "dtype": "float64", "seed": 2},
    {"B": 4, "D": 5, "H": 2, "T": 2, "dtype": "float32", "seed": 3},
    {"B": 3, "D": 4, "H": 4, "T": 1, "dtype": "float64", "seed": 4},
]


def with_examples(test):
    for ex in EXAMPLES:
        test = example(case=ex)(test)
    return test


def make_case(case):
    H = case["D"] if case["H"] is None else case["H"]
    return Case(case["B"], case["D"], H, case["T"], case["dtype"], case["seed"])


def call(spec, args):
    return spec.fn(*(a.value for a in args))


def snapshot(args):
    return [tree_map(lambda v: v.copy() if isinstance(v, np.ndarray) else v, a.value) for a in args]


def tolerance(dtype):
    return 2e-4 if dtype == np.float32 else 1e-10


def assert_close(actual, expected, dtype, what):
    tol = tolerance(dtype)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


ids = [s.name for s in SPECS]
hyp = settings(max_examples=30, deadline=None)


@pytest.mark.parametrize("spec", SPECS, ids=ids)
@hyp
@with_examples
@given(case=cases)
def test_shapes_and_dtypes_are_kept_and_inputs_untouched(spec, case):
    c = make_case(case)
    args, expected = spec.build(c)
    before = snapshot(args)
    out = call(spec, args)
    for path, arr, exp in pair_leaves(out, expected):
        assert isinstance(arr, np.ndarray), f"{spec.name} {path}: {type(arr).__name__}, not an array"
        assert arr.shape == exp.shape, f"{spec.name} {path}: shape {arr.shape}, expected {exp.shape}"
        assert arr.dtype == c.dtype, f"{spec.name} {path}: dtype {arr.dtype}, given {c.dtype}"
    for k, (arg, old) in enumerate(zip(args, before, strict=True)):
        for new_leaf, old_leaf in zip(leaves(arg.value), leaves(old), strict=True):
            if isinstance(old_leaf, np.ndarray):
                assert new_leaf.dtype == old_leaf.dtype and new_leaf.shape == old_leaf.shape
                np.testing.assert_array_equal(new_leaf, old_leaf,
                                              err_msg=f"{spec.name} modified argument {k}")


def take_row(arg, i):
    """The unbatched argument for row i (batch axis 0 for rows, 1 for sequences)."""
    if arg.kind == "row":
        return Arg("shared", tree_map(lambda a: a[i], arg.value))
    if arg.kind == "seq":
        return Arg("shared", tree_map(lambda a: a[:, i], arg.value))
    return arg


def change_row(arg, j, rng):
    """A copy of the argument with row j replaced (scaled, shuffled: same range, new values)."""
    def change(a):
        a = a.copy()
        if arg.kind == "row":
            a[j] = a.dtype.type(0.9) * rng.permutation(a[j])
        else:
            a[:, j] = a.dtype.type(0.9) * rng.permutation(a[:, j], axis=-1)
        return a
    if arg.kind == "shared":
        return arg
    return Arg(arg.kind, tree_map(change, arg.value))


def out_row(arr, kind, i):
    return arr[i] if kind == "row" else arr[:, i]


@pytest.mark.parametrize("spec", SPECS, ids=ids)
@hyp
@with_examples
@given(case=cases)
def test_rows_of_a_batch_are_independent(spec, case):
    c = make_case(case)
    if c.B is None:
        c.B = 3
    args, expected = spec.build(c)
    out = pair_leaves(call(spec, args), expected)

    # Row i of the batched call is the unbatched call on row i; summed outputs add up.
    sums = {}
    for i in range(c.B):
        row_out = pair_leaves(call(spec, [take_row(a, i) for a in args]), expected)
        for (path, arr, exp), (_, arr_i, _) in zip(out, row_out, strict=True):
            if exp.kind == "sum":
                sums[path] = sums.get(path, 0) + arr_i
            else:
                assert arr_i.shape == out_row(arr, exp.kind, i).shape
                assert_close(out_row(arr, exp.kind, i), arr_i, c.dtype, f"{spec.name} {path} row {i}")
    for path, arr, exp in out:
        if exp.kind == "sum":
            assert_close(arr, sums[path], c.dtype, f"{spec.name} {path}: batch sum of per-row gradients")

    # Changing row j changes nothing in the other rows, to the last bit.
    if c.B > 1:
        j = int(c.rng.integers(c.B))
        changed = pair_leaves(call(spec, [change_row(a, j, c.rng) for a in args]), expected)
        others = [i for i in range(c.B) if i != j]
        for (path, arr, exp), (_, arr_changed, _) in zip(out, changed, strict=True):
            if exp.kind != "sum":
                np.testing.assert_array_equal(
                    out_row(arr_changed, exp.kind, others), out_row(arr, exp.kind, others),
                    err_msg=f"{spec.name} {path}: changing row {j} changed other rows")


@pytest.mark.parametrize("fn", [activations.sigmoid, activations.tanh,
                                activations.dsigmoid_from_output, activations.dtanh_from_output],
                         ids=lambda f: f.__name__)
@hyp
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**32 - 1))
def test_activations_keep_shape_and_dtype(fn, shape, dtype, seed):
    z = np.random.default_rng(seed).normal(0, 3, size=shape).astype(dtype)
    before = z.copy()
    out = fn(z)
    assert np.shape(out) == tuple(shape)
    assert np.asarray(out).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(z, before)


@pytest.mark.parametrize("name", list(CELLS))
@hyp
@given(B=st.integers(1, 5), D=st.integers(1, 5), H=st.integers(1, 5),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**32 - 1))
def test_init_params_and_zero_state_shapes_and_dtypes(name, B, D, H, dtype, seed):
    cell = CELLS[name]
    params = cell.init_params(D, H, np.random.default_rng(seed), dtype)
    assert isinstance(params, cell.Params)
    for field, a in zip(params._fields, params, strict=True):
        assert a.dtype == np.dtype(dtype), field
        assert a.shape == ((H, D + H) if field.startswith("W") else (H,)), field
        assert np.isfinite(a).all()
    # the same seed gives the same parameters
    again = cell.init_params(D, H, np.random.default_rng(seed), dtype)
    for a, b in zip(params, again, strict=True):
        np.testing.assert_array_equal(a, b)
    state = cell.zero_state(B, H, dtype)
    assert isinstance(state, tuple) and len(state) == len(cell.state_names)
    for s in state:
        assert s.shape == (B, H) and s.dtype == np.dtype(dtype) and not s.any()
