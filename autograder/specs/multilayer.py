# ruff: noqa: E501  (source snippets read better whole)
"""Specs of the checked functions of rnnkit/multilayer.py (see ``spec.FunctionSpec``).

Both take a cell: their cases give them the probe cell (``rnncheck/probe.py``). They
get no replay table: the layers' unroll (or bptt) results a replay would hold are the
answer itself, which the learner's code would see in the sandbox.
"""

import numpy as np

from rnnkit import sequence

from .sequence import PROBE
from .spec import FunctionSpec, Mistake, Mutant, Rewrite, uniform

NO_REPLAY = "a replay table would hold the layers' results, which are the answer itself"

# ---- stacked_forward -------------------------------------------------------------------------------


def _layer_sizes(rng, D, H, term):
    L = 1 if term == "L1" else (2 if term == "L2" else int(rng.integers(2, 4)))
    return [H + (l % 2) for l in range(L)]


def _forward_args(rng, B, D, H, term, big, unbatched):
    T = int(rng.integers(2, 4))
    sizes = _layer_sizes(rng, D, H, term)
    if term == "same":
        sizes = [D] * len(sizes)
    xs = uniform(rng, (T, B, D))
    states0, layer_params, inputs = [], [], D
    for h in sizes:
        states0.append(PROBE.zero_state(B, h) if term == "zero_state" else (uniform(rng, (B, h)), uniform(rng, (B, h))))
        layer_params.append(PROBE.init_params(inputs, h, rng))
        inputs = h
    return (PROBE, xs, states0, layer_params)


def stacked_with_slips(cell, xs, states0, layer_params, same_input=False, first_params=False, first_out=False,
                       rev=False):
    """The stacked forward pass written out; each keyword switches one known mistake on."""
    states, inputs, first = [], xs, None
    for state0, params in zip(states0, layer_params, strict=True):
        ys, state = sequence.unroll(
            cell, xs if same_input else inputs, state0, layer_params[0] if first_params else params
        )
        first = ys if first is None else first
        inputs = ys
        states.append(state)
    return (first if first_out else inputs), (states[::-1] if rev else states)


STACKED_FORWARD = FunctionSpec(
    "multilayer.stacked_forward",
    build=_forward_args,
    terms=[("L1", "one layer"), ("zero_state", "zero initial states")],
    edges=[("B1", "B = 1"), ("same", "every layer the input's size")],
    no_replay=NO_REPLAY,
    mistakes=[
        Mistake(
            "every layer reads xs (not the layer below)",
            "layer l + 1 reads the outputs of layer l.",
            lambda *a: stacked_with_slips(*a, same_input=True),
        ),
        Mistake(
            "the first layer's parameters used for every layer",
            "zip states0 with layer_params.",
            lambda *a: stacked_with_slips(*a, first_params=True),
        ),
        Mistake(
            "the first layer's outputs returned",
            "return the top layer's outputs.",
            lambda *a: stacked_with_slips(*a, first_out=True),
        ),
        Mistake("final states in reverse order", "list the final states layer 1 first.", lambda *a: stacked_with_slips(*a, rev=True)),
    ],
    right=[
        Rewrite("index loop", "inputs, states = xs, []\nfor l in range(len(layer_params)):\n"
                              "    inputs, st = unroll(cell, inputs, states0[l], layer_params[l])\n    states.append(st)\n"
                              "return inputs, states\n"),
        Rewrite("time loop inside, no unroll", "import numpy as np\nstates, inputs = [], xs\nfor state, params in zip(states0, layer_params):\n"
                                               "    outs = []\n    for x in inputs:\n        y, state = cell.step(x, state, params)\n"
                                               "        outs.append(y)\n    inputs = np.stack(outs)\n    states.append(state)\n"
                                               "return inputs, states\n"),
    ],
    mutants=[
        Mutant("every layer reads xs", "states = []\nfor state0, params in zip(states0, layer_params):\n"
                                       "    ys, state = unroll(cell, xs, state0, params)\n    states.append(state)\n"
                                       "return ys, states\n", None),
        Mutant("first layer's parameters", [("xs, state = unroll(cell, xs, state0, params)",
                                             "xs, state = unroll(cell, xs, state0, layer_params[0])")], None),
        Mutant("first layer's outputs", "states, top = [], None\nfor state0, params in zip(states0, layer_params):\n"
                                        "    xs, state = unroll(cell, xs, state0, params)\n    top = xs if top is None else top\n"
                                        "    states.append(state)\nreturn top, states\n", "first layer's outputs"),
        Mutant("states reversed", [("return xs, states", "return xs, states[::-1]")], "reverse order"),
        Mutant("first initial state everywhere", [("xs, state = unroll(cell, xs, state0, params)",
                                                   "xs, state = unroll(cell, xs, states0[0], params)")], None),
    ],
)

# ---- stacked_backward ------------------------------------------------------------------------------


def _backward_args(rng, B, D, H, term, big, unbatched):
    """Gradients on the top layer's outputs and on every layer's final state (both nonzero, except in
    the cases of one of them only): a pass that drops either differs on the random cases."""
    cell, xs, states0, layer_params = _forward_args(rng, B, D, H, term, big, unbatched)
    dys = uniform(rng, (xs.shape[0], B, states0[-1][0].shape[-1]))
    dstates_T = [tuple(uniform(rng, a.shape) for a in state0) for state0 in states0]
    if term == "dys":
        dstates_T = None
    elif term == "dstates":
        dys = np.zeros_like(dys)
    return (cell, xs, states0, layer_params, dys, dstates_T)


def stacked_backward_with_slips(cell, xs, states0, layer_params, dys, dstates_T=None, all_dys=False, rev=False,
                                no_pass=False, ignore_T=False, top_T_only=False, no_dys=False, rev_states=False,
                                rev_T=False):
    """The stacked backward pass written out; each keyword after ``dstates_T`` switches one known
    mistake on."""
    L = len(layer_params)
    inputs, layer_inputs = xs, []
    for state0, params in zip(states0, layer_params, strict=True):
        layer_inputs.append(inputs)
        inputs, _ = sequence.unroll(cell, inputs, state0, params)
    given_T = [None] * L if dstates_T is None or ignore_T else list(dstates_T)
    if top_T_only:
        given_T = [None] * (L - 1) + given_T[-1:]
    if rev_T:
        given_T = given_T[::-1]
    top = np.zeros_like(dys) if no_dys else dys
    dstates0, dparams, d_out = [None] * L, [None] * L, top
    for l in reversed(range(L)):
        given = top if all_dys else (np.zeros_like(d_out) if no_pass and l < L - 1 else d_out)
        d_out, dstates0[l], dparams[l] = sequence.bptt(cell, layer_inputs[l], states0[l], layer_params[l], given,
                                                        given_T[l])
    return d_out, (dstates0[::-1] if rev_states else dstates0), (dparams[::-1] if rev else dparams)


_STACKED_CALL = "cell, layer_inputs[l], states0[l], layer_params[l], d_outputs, dstates_T[l]"
_RETURN = "return d_outputs, dstates0, dlayer_params"

STACKED_BACKWARD = FunctionSpec(
    "multilayer.stacked_backward",
    build=_backward_args,
    terms=[("L1", "one layer"), ("L2", "two layers"), ("dys", "only dys (dstates_T None)"),
           ("dstates", "only dstates_T (dys zero)")],
    edges=[("B1", "B = 1"), ("same", "every layer the input's size")],
    no_replay=NO_REPLAY,
    budget=(32, 128, 128),
    mistakes=[
        Mistake(
            "dys given to every layer",
            "the layer below receives the dxs the layer above returns.",
            lambda *a: stacked_backward_with_slips(*a, all_dys=True),
        ),
        Mistake(
            "gradients not passed down (lower layers get zero)",
            "pass each layer's dxs on to the layer below.",
            lambda *a: stacked_backward_with_slips(*a, no_pass=True),
        ),
        Mistake(
            "layer gradients in reverse order",
            "dlayer_params[l] belongs to layer_params[l].",
            lambda *a: stacked_backward_with_slips(*a, rev=True),
        ),
        Mistake(
            "dstates_T ignored",
            "dstates_T[l] is the gradient on layer l's final state (a loss on the final states): give it to "
            "layer l's bptt as its dstate_T, bptt(cell, inputs of layer l, states0[l], layer_params[l], "
            "d_outputs, dstates_T[l]); only dstates_T=None means zero for every layer.",
            lambda *a: stacked_backward_with_slips(*a, ignore_T=True),
        ),
        Mistake(
            "dstates_T used for the top layer only",
            "every layer has a final state: dstates_T[l] goes to layer l's bptt, for every l.",
            lambda *a: stacked_backward_with_slips(*a, top_T_only=True),
        ),
        Mistake(
            "dstates_T in reverse layer order",
            "dstates_T[l] belongs to layer l (layer 1 first), whichever order the layers are walked in.",
            lambda *a: stacked_backward_with_slips(*a, rev_T=True),
        ),
        Mistake(
            "dys ignored (the top layer gets zero)",
            "dys is dL/dy of the top layer's outputs: the top layer's bptt starts from it.",
            lambda *a: stacked_backward_with_slips(*a, no_dys=True),
        ),
        Mistake(
            "dstates0 in reverse order",
            "dstates0[l] belongs to states0[l], layer 1 first.",
            lambda *a: stacked_backward_with_slips(*a, rev_states=True),
        ),
    ],
    right=[
        Rewrite("insert at the front", "inputs, layer_inputs = xs, []\nfor s0, p in zip(states0, layer_params):\n"
                                       "    layer_inputs.append(inputs)\n    inputs, _ = unroll(cell, inputs, s0, p)\n"
                                       "finals = [None] * len(layer_params) if dstates_T is None else list(dstates_T)\n"
                                       "d, dst, dps = dys, [], []\n"
                                       "for s0, p, xin, dT in reversed(list(zip(states0, layer_params, layer_inputs, finals))):\n"
                                       "    d, ds0, dp = bptt(cell, xin, s0, p, d, dT)\n    dst.insert(0, ds0)\n"
                                       "    dps.insert(0, dp)\nreturn d, dst, dps\n"),
        Rewrite("outputs from stacked_forward", "L = len(layer_params)\ninputs = [xs]\nfor s0, p in zip(states0, layer_params):\n"
                                                "    inputs.append(unroll(cell, inputs[-1], s0, p)[0])\n"
                                                "top, _ = stacked_forward(cell, xs, states0, layer_params)\n"
                                                "assert top.shape == inputs[-1].shape\n"
                                                "d, dst, dps = dys, [None] * L, [None] * L\nfor l in range(L - 1, -1, -1):\n"
                                                "    dT = None if dstates_T is None else dstates_T[l]\n"
                                                "    d, dst[l], dps[l] = bptt(cell, inputs[l], states0[l], layer_params[l], d, dT)\n"
                                                "return d, dst, dps\n"),
        Rewrite("zeros for a missing dstates_T", [("    dstates_T = [None] * L",
                                                   "    dstates_T = [tuple(a * 0 for a in s0) for s0 in states0]")]),
    ],
    mutants=[
        Mutant("dys to every layer", [(_STACKED_CALL, _STACKED_CALL.replace("d_outputs,", "dys,"))], None),
        Mutant("gradients reversed", [(_RETURN, "return d_outputs, dstates0, dlayer_params[::-1]")], "reverse order"),
        Mutant("bottom-up", [("for l in reversed(range(L)):", "for l in range(L):")], None),
        Mutant("lower layers get zero", [("        d_outputs, dstates0[l], dlayer_params[l] = bptt(",
                                          "        d_outputs = d_outputs if l == L - 1 else 0 * d_outputs\n"
                                          "        d_outputs, dstates0[l], dlayer_params[l] = bptt(")], None),
        # Each gradient input dropped or misplaced, each output dropped.
        Mutant("dstates_T ignored", [(_STACKED_CALL, _STACKED_CALL.replace("dstates_T[l]", "None"))], "dstates_T ignored"),
        Mutant("dstates_T for the top layer only", [(_STACKED_CALL, _STACKED_CALL.replace(
            "dstates_T[l]", "dstates_T[l] if l == L - 1 else None"))], "top layer only"),
        Mutant("dstates_T in reverse layer order", [(_STACKED_CALL, _STACKED_CALL.replace("dstates_T[l]", "dstates_T[L - 1 - l]"))],
               "dstates_T in reverse layer order"),
        Mutant("dys ignored", [("d_outputs = dys", "d_outputs = 0 * dys")], "dys ignored"),
        Mutant("dxs dropped", [(_RETURN, "return 0 * d_outputs, dstates0, dlayer_params")], "`dxs` left at zero"),
        Mutant("dstates0 dropped", [(_RETURN, "return d_outputs, [tuple(0 * a for a in s) for s in dstates0], dlayer_params")],
               "`dstates0[0][0]` left at zero"),
        Mutant("dlayer_params dropped", [(_RETURN, "return d_outputs, dstates0, [type(p)(*(0 * a for a in p)) for p in dlayer_params]")],
               "`dlayer_params[0].A` left at zero"),
        Mutant("dstates0 reversed", [(_RETURN, "return d_outputs, dstates0[::-1], dlayer_params")], "dstates0 in reverse order"),
    ],
)

SPECS = [STACKED_FORWARD, STACKED_BACKWARD]
