# ruff: noqa: E501  (source snippets read better whole)
"""The gate template: the spec of a function act(W [x, prev] + b).

The LSTM's four gates, the GRU's reset and update gates and the basic RNN's step
(``rnn_step``: tanh of the same form, with s_prev) are one template with the
activation as a parameter: the same cases, the same six kinds of known mistake
(the wrong activation, a sign slip, no bias, [prev, x] order, no activation, prev
ignored), the same mutants and ways to write it right.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from rnnkit.activations import sigmoid, tanh

from .spec import STEP_EDGES, FunctionSpec, Mistake, Mutant, Rewrite, concat, uniform

GATE_TERMS = [
    ("x", "only W's x block nonzero (y_prev block and bias zero)"),
    ("prev", "only W's y_prev block nonzero (x block and bias zero)"),
    ("bias", "only the bias nonzero (W zero)"),
]


def _scale_to(W, b, z_max, inputs):
    """Scale W and b so the largest |pre-activation| over ``inputs`` is z_max."""
    z = np.concatenate(inputs, axis=-1) @ W.T + b
    k = z_max / max(np.max(np.abs(z)), 1e-12)
    return W * k, b * k


def gate_block(rng, D, H, term, big, x, y_prev):
    """(W, b) of one gate, with all but one term zeroed for term isolation ("x": only the
    x block, "prev": only the y_prev block, "bias": only the bias), scaled so that
    |pre-activation| reaches 50 when ``big``."""
    W, b = uniform(rng, (H, D + H)), uniform(rng, (H,), -0.8, 0.8)
    if term == "x":
        W[:, D:] = 0
        b[:] = 0
    elif term == "prev":
        W[:, :D] = 0
        b[:] = 0
    elif term == "bias":
        W[:] = 0
        b = uniform(rng, (H,), -2, 2)
    if big:
        W, b = _scale_to(W, b, 50.0, [x, y_prev])
    return W, b


def gate_args(rng, B, D, H, term, big, unbatched):
    """(x, y_prev, W, b) for a gate sigma/tanh(W [x, y_prev] + b)."""
    x, y_prev = uniform(rng, (B, D)), uniform(rng, (B, H))
    W, b = gate_block(rng, D, H, term, big, x, y_prev)
    if unbatched:
        x, y_prev = x[0], y_prev[0]
    return (x, y_prev, W, b)


def gate_blocks(rng, B, D, H, term, big, n_gates, x, y_prev):
    """[W_1, b_1, W_2, b_2, ...] of ``n_gates`` gates (see ``gate_block``), for a whole step."""
    arrays = []
    for _ in range(n_gates):
        arrays += gate_block(rng, D, H, term, big, x, y_prev)
    return arrays


class Activation(NamedTuple):
    """One activation of the template.

    - name: how learner code calls it (``rnnkit.activations``)
    - apply, other: the activation, and the one a learner may use by mistake
    - texts: {mistake kind: (name, hint)}, formatted with W, b and prev (the names of the
      weight, the bias and the previous output)
    - wrong_source, sign_slip_source: how a learner writes those two mistakes ({z}: the
      pre-activation), for the mutants
    - extra_mutants, right: (W, b, prev, z) -> the mutants beyond the known mistakes, and the
      ways to write it right, as written in a module that calls the activation ``name``
    """

    name: str
    apply: Callable
    other: Callable
    texts: dict
    wrong_source: str
    sign_slip_source: str
    extra_mutants: Callable
    right: Callable


MISTAKE_KINDS = ("wrong activation", "sign slip", "missing bias", "order", "no activation", "prev ignored")


def _sigmoid_extra_mutants(W, b, prev, z):
    return [
        Mutant("bias twice", f"return sigmoid({z} + {b})\n", None),
        Mutant("clipped pre-activation", f"return sigmoid(np.clip({z}, -10, 10))\n", None),
        Mutant("2-D only (axis=1)", f"return sigmoid(np.concatenate([x, {prev}], axis=1) @ {W}.T + {b})\n", None),
        Mutant("in-place on y_prev", f"{prev} *= 1.5\nreturn sigmoid(np.concatenate([x, {prev} / 1.5], axis=-1) @ {W}.T + {b})\n",
               "in-place modification"),
        Mutant("returns a list", f"return sigmoid({z}).tolist()\n", None),
        Mutant("rows mixed (batch mean)", f"g = sigmoid({z})\nreturn 0.5 * g + 0.5 * g.mean(axis=0)\n", None),
    ]


def _sigmoid_right(W, b, prev, z):
    return [
        Rewrite("split weight blocks", f"D = x.shape[-1]\nreturn sigmoid(x @ {W}[:, :D].T + {prev} @ {W}[:, D:].T + {b})\n"),
        Rewrite("einsum", f"z = np.einsum('...k,hk->...h', np.concatenate([x, {prev}], axis=-1), {W}) + {b}\n"
                          "return sigmoid(z)\n"),
        Rewrite("stable sigmoid by hand", f"z = {z}\ne = np.exp(-np.abs(z))\n"
                                          "return np.where(z >= 0, 1 / (1 + e), e / (1 + e))\n"),
        Rewrite("naive sigmoid", f"return 1 / (1 + np.exp(-({z})))\n"),
        Rewrite("sigmoid through tanh", f"return 0.5 * (1 + np.tanh(0.5 * ({z})))\n"),
        Rewrite("in-place arithmetic on fresh arrays", f"z = np.concatenate([x, {prev}], axis=-1) @ {W}.T\nz += {b}\n"
                                                       "np.negative(z, out=z)\nnp.exp(z, out=z)\nz += 1\n"
                                                       "np.reciprocal(z, out=z)\nreturn z\n"),
        Rewrite("float64 inside, input dtype out", f"z = np.concatenate([x, {prev}], axis=-1).astype(np.float64) @ "
                                                   f"{W}.T.astype(np.float64) + {b}\nreturn sigmoid(z).astype(x.dtype)\n"),
    ]


def _tanh_extra_mutants(W, b, prev, z):
    return [
        Mutant("in-place on the bias", f"{b} += 0.25\nreturn tanh({z} - 0.25)\n", "in-place modification"),
        Mutant("transposed weights used as is", f"return tanh(np.concatenate([x, {prev}], axis=-1) @ {W}[:, ::-1].T + {b})\n",
               None),
    ]


def _tanh_right(W, b, prev, z):
    # rnnkit/rnn.py imports tanh only: there tanh is written through exp.
    through_sigmoid = (f"return 2 * sigmoid(2 * ({z})) - 1\n" if prev == "y_prev" else
                       f"z = {z}\ne = np.exp(-2 * np.abs(z))\nreturn np.sign(z) * (1 - e) / (1 + e)\n")
    return [
        Rewrite("split weight blocks", f"D = x.shape[-1]\nreturn tanh(x @ {W}[:, :D].T + {prev} @ {W}[:, D:].T + {b})\n"),
        Rewrite("einsum", f"return np.tanh(np.einsum('...k,hk->...h', np.concatenate([x, {prev}], axis=-1), {W}) + {b})\n"),
        Rewrite("in-place on a fresh array", f"z = np.concatenate([x, {prev}], axis=-1) @ {W}.T\nz += {b}\n"
                                             "np.tanh(z, out=z)\nreturn z\n"),
        Rewrite("tanh through a stable sigmoid", through_sigmoid),
        Rewrite("hstack", f"return tanh(np.hstack([x, {prev}]) @ {W}.T + {b})\n"),
    ]


SIGMOID = Activation(
    "sigmoid",
    sigmoid,
    tanh,
    {
        "wrong activation": ("tanh instead of sigmoid", "a gate squashes with sigma (values in 0..1), not tanh."),
        "sign slip": ("sign slip in the sigmoid", "sigma(z) = 1 / (1 + exp(-z)): check the sign of z."),
        "missing bias": ("missing bias {b}", "add {b} after the product."),
        "order": ("[{prev}, x] order", "{W}[:, :D] acts on x_t: concatenate [x, {prev}], in that order."),
        "no activation": ("no activation", "apply sigma to the pre-activation."),
        "prev ignored": ("{prev} ignored", "the gate reads [x_t, y_(t-1)]; {W}[:, D:] multiplies {prev}."),
    },
    "tanh({z})",
    "1 / (1 + np.exp({z}))",
    _sigmoid_extra_mutants,
    _sigmoid_right,
)
TANH = Activation(
    "tanh",
    tanh,
    sigmoid,
    {
        "wrong activation": ("sigmoid instead of tanh", "this activation is tanh (values in -1..1), not sigma."),
        "sign slip": ("sign slip in tanh", "tanh(z), not tanh(-z) or -tanh(z)."),
        "missing bias": ("missing bias {b}", "add {b} after the product."),
        "order": ("[{prev}, x] order", "{W}[:, :D] acts on x_t: concatenate [x, {prev}], in that order."),
        "no activation": ("no activation", "apply tanh to the pre-activation."),
        "prev ignored": ("{prev} ignored", "{W}[:, D:] multiplies {prev}."),
    },
    "1 / (1 + np.exp(-({z})))",
    "tanh(-({z}))",
    _tanh_extra_mutants,
    _tanh_right,
)


def gate_mistakes(act, texts):
    """The six known mistakes of a gate with activation ``act``; ``texts``: {kind: (name, hint)}."""
    formulas = {
        "wrong activation": lambda x, prev, W, b: act.other(concat(x, prev) @ W.T + b),
        "sign slip": lambda x, prev, W, b: act.apply(-(concat(x, prev) @ W.T + b)),
        "missing bias": lambda x, prev, W, b: act.apply(concat(x, prev) @ W.T),
        "order": lambda x, prev, W, b: act.apply(concat(prev, x) @ W.T + b),
        "no activation": lambda x, prev, W, b: concat(x, prev) @ W.T + b,
        "prev ignored": lambda x, prev, W, b: act.apply(x @ W[:, : x.shape[-1]].T + b),
    }
    return [Mistake(*texts[kind], formulas[kind]) for kind in MISTAKE_KINDS]


def gate_mutants(act, texts, W, b, prev):
    """Each known mistake as a learner writes it (recognised by its name), then other slips."""
    z = f"np.concatenate([x, {prev}], axis=-1) @ {W}.T + {b}"
    sources = {
        "wrong activation": f"return {act.wrong_source.format(z=z)}\n",
        "sign slip": f"return {act.sign_slip_source.format(z=z)}\n",
        "missing bias": f"return {act.name}(np.concatenate([x, {prev}], axis=-1) @ {W}.T)\n",
        "order": f"return {act.name}(np.concatenate([{prev}, x], axis=-1) @ {W}.T + {b})\n",
        "no activation": f"return {z}\n",
        "prev ignored": f"return {act.name}(x @ {W}[:, :x.shape[-1]].T + {b})\n",
    }
    known = [Mutant(kind, sources[kind], texts[kind][0]) for kind in MISTAKE_KINDS]
    return known + [Mutant("float64 result", f"return {act.name}({z}).astype(np.float64)\n", None),
                    *act.extra_mutants(W, b, prev, z)]


def gate_spec(check_id, act, W, b, prev="y_prev", texts=None, terms=GATE_TERMS, extra_mutants=()):
    """The spec of a gate ``act(W [x, prev] + b)`` whose weight and bias are named ``W`` and ``b``;
    ``texts`` replaces the activation's mistake texts (already formatted)."""
    if texts is None:
        texts = {kind: tuple(t.format(W=W, b=b, prev=prev) for t in pair) for kind, pair in act.texts.items()}
    z = f"np.concatenate([x, {prev}], axis=-1) @ {W}.T + {b}"
    return FunctionSpec(
        check_id,
        build=gate_args,
        terms=terms,
        edges=STEP_EDGES,
        mistakes=gate_mistakes(act, texts),
        right=act.right(W, b, prev, z),
        mutants=gate_mutants(act, texts, W, b, prev) + list(extra_mutants),
    )
