"""Check cases: the inputs every learner function is called with (trusted side).

``make_cases(seed)`` returns the visible cases (the published fixtures: fixed
seed ``FIXTURE_SEED``) followed by hidden cases of the same kinds with fresh
inputs drawn from the grading-time ``seed``. For composed functions each case
also carries a replay table: the reference results of the learner functions the
composition should call, on the arguments it should call them with (computed here,
with the real rnnkit), so that composition is graded on its own.

Case kinds per function (groups as in ``autograder.checks.compare.GROUPS``):
- values: random inputs, D != H, B > 1;
- terms: one weight block, the bias, or the previous state at a time;
- edges: B = 1, D = H, unbatched 1-D inputs, |pre-activation| up to 50;
- float32: every input float32 (the output must stay float32).
"""

import numpy as np

import rnnkit
from autograder import paths
from autograder.checks.casefile import Case
from autograder.checks.probe import ProbeCell, ProbeParams
from autograder.checks.registry import CHECKS, checks_for
from rnnkit import gru, lstm, rnn, sequence

FIXTURE_SEED = 20250516
PROBE = ProbeCell()

# Hidden cases per visible one of the same kind: values get 3 hidden, others 1.
HIDDEN_REPEATS = {"values": 3}

# Which learner functions (module.name, looked up in that module) a composed function may call.
GATE_FIELDS = {"forget_gate": "f", "input_gate": "i", "input_activation": "a", "output_gate": "o"}


def _u(rng, shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape)


def _sizes(rng, visible, kind):
    """(B, D, H) for a case: small fixed sizes for fixtures, random ones for hidden cases."""
    if kind == "B1":
        B = 1
    else:
        B = 3 if visible else int(rng.integers(2, 5))
    if visible:
        D, H = 2, 3
    else:
        D, H = (int(v) for v in rng.choice(np.arange(1, 6), size=2, replace=False))
    if kind == "D=H":
        D = H
    return B, D, H


def _cast(value, dtype):
    if isinstance(value, np.ndarray):
        return value.astype(dtype)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[_cast(v, dtype) for v in value])
    if isinstance(value, tuple):
        return tuple(_cast(v, dtype) for v in value)
    if isinstance(value, list):
        return [_cast(v, dtype) for v in value]
    return value


def _scale_to(W, b, z_max, inputs):
    """Scale W and b so the largest |pre-activation| over ``inputs`` is z_max."""
    z = np.concatenate(inputs, axis=-1) @ W.T + b
    k = z_max / max(np.max(np.abs(z)), 1e-12)
    return W * k, b * k


# ---- argument builders, one per family --------------------------------------------------


def _gate_block(rng, D, H, term, big, x, y_prev):
    """(W, b) of one gate, with all but one term zeroed for term isolation ("x": only the
    x block, "prev": only the y_prev block, "bias": only the bias), scaled so that
    |pre-activation| reaches 50 when ``big``."""
    W, b = _u(rng, (H, D + H)), _u(rng, (H,), -0.8, 0.8)
    if term == "x":
        W[:, D:] = 0
        b[:] = 0
    elif term == "prev":
        W[:, :D] = 0
        b[:] = 0
    elif term == "bias":
        W[:] = 0
        b = _u(rng, (H,), -2, 2)
    if big:
        W, b = _scale_to(W, b, 50.0, [x, y_prev])
    return W, b


def _gate_args(rng, B, D, H, term, big, unbatched):
    """(x, y_prev, W, b) for a gate sigma/tanh(W [x, y_prev] + b)."""
    x, y_prev = _u(rng, (B, D)), _u(rng, (B, H))
    W, b = _gate_block(rng, D, H, term, big, x, y_prev)
    if unbatched:
        x, y_prev = x[0], y_prev[0]
    return (x, y_prev, W, b)


def _gru_act_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, W, b = _gate_args(rng, B, D, H, term if term in ("x", "prev", "bias") else None, big, False)
    r = _u(rng, (B, H), 0.05, 0.95)
    if term == "r1":
        r[:] = 1
    elif term == "r0":
        r[:] = 0
    if unbatched:
        x, y_prev, r = x[0], y_prev[0], r[0]
    return (x, y_prev, r, W, b)


def _new_state_args(rng, B, D, H, term, big, unbatched):
    f, I = _u(rng, (B, H), 0.05, 0.95), _u(rng, (B, H), 0.05, 0.95)
    a, s_prev = _u(rng, (B, H)), _u(rng, (B, H), -3, 3)
    if term == "I0":
        I[:] = 0
    elif term == "f0":
        f[:] = 0
    elif term == "s0":
        s_prev[:] = 0
    if big:
        s_prev = _u(rng, (B, H), -50, 50)
    args = (f, I, a, s_prev)
    return tuple(v[0] for v in args) if unbatched else args


def _lstm_final_args(rng, B, D, H, term, big, unbatched):
    O, s = _u(rng, (B, H), 0.05, 0.95), _u(rng, (B, H), -2, 2)
    if term == "O1":
        O[:] = 1
    if big:
        s = _u(rng, (B, H), -50, 50)
    return (O[0], s[0]) if unbatched else (O, s)


def _gru_final_args(rng, B, D, H, term, big, unbatched):
    u, y_prev, a = _u(rng, (B, H), 0.05, 0.95), _u(rng, (B, H)), _u(rng, (B, H))
    if term == "u0":
        u[:] = 0
    elif term == "u1":
        u[:] = 1
    elif term == "a0":
        a[:] = 0
    return (u[0], y_prev[0], a[0]) if unbatched else (u, y_prev, a)


def _blocks(rng, B, D, H, term, big, n_gates, x, y_prev):
    arrays = []
    for _ in range(n_gates):
        arrays += _gate_block(rng, D, H, term, big, x, y_prev)
    return arrays


def _lstm_step_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, s_prev = _u(rng, (B, D)), _u(rng, (B, H)), _u(rng, (B, H), -2, 2)
    if term == "s0":
        s_prev[:] = 0
    params = lstm.LSTMParams(*_blocks(rng, B, D, H, term, big, 4, x, y_prev))
    if unbatched:
        x, y_prev, s_prev = x[0], y_prev[0], s_prev[0]
    return (x, y_prev, s_prev, params)


def _gru_step_args(rng, B, D, H, term, big, unbatched):
    x, y_prev = _u(rng, (B, D)), _u(rng, (B, H))
    params = gru.GRUParams(*_blocks(rng, B, D, H, term, big, 3, x, y_prev))
    if unbatched:
        x, y_prev = x[0], y_prev[0]
    return (x, y_prev, params)


def _rnn_backward_args(rng, B, D, H, term, big, unbatched):
    x, s_prev, W, b = _gate_args(rng, B, D, H, term, big, False)
    ds = _u(rng, (B, H))
    if unbatched:
        x, s_prev, ds = x[0], s_prev[0], ds[0]
    return (x, s_prev, W, b, ds)


def _lstm_backward_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, s_prev, params = _lstm_step_args(rng, B, D, H, None, big, False)
    dy, ds = _u(rng, (B, H)), _u(rng, (B, H))
    if term == "dy":
        ds[:] = 0
    elif term == "ds":
        dy[:] = 0
    args = (x, y_prev, s_prev, params, dy, ds)
    if unbatched:
        args = (x[0], y_prev[0], s_prev[0], params, dy[0], ds[0])
    return args


def _gru_backward_args(rng, B, D, H, term, big, unbatched):
    x, y_prev, params = _gru_step_args(rng, B, D, H, term, big, False)
    dy = _u(rng, (B, H))
    return (x[0], y_prev[0], params, dy[0]) if unbatched else (x, y_prev, params, dy)


def _seq_sizes(rng, B, D, H, term):
    T = 1 if term == "T1" else int(rng.integers(3, 5))
    return T


def _unroll_args(rng, B, D, H, term, big, unbatched):
    T = _seq_sizes(rng, B, D, H, term)
    xs = _u(rng, (T, B, D))
    state0 = (_u(rng, (B, H)), _u(rng, (B, H)))
    if term == "zero_state":
        state0 = PROBE.zero_state(B, H)
    return (PROBE, xs, state0, PROBE.init_params(D, H, rng))


def _bptt_args(rng, B, D, H, term, big, unbatched):
    cell, xs, state0, params = _unroll_args(rng, B, D, H, term if term == "T1" else None, big, False)
    T = xs.shape[0]
    dys = _u(rng, (T, B, H))
    dstate_T = (_u(rng, (B, H)), _u(rng, (B, H)))
    if term == "dys":
        dstate_T = None
    elif term == "dstate":
        dys = np.zeros_like(dys)
    return (cell, xs, state0, params, dys, dstate_T)


def _layer_sizes(rng, D, H, term):
    L = 1 if term == "L1" else (2 if term == "L2" else int(rng.integers(2, 4)))
    return [H + (l % 2) for l in range(L)]


def _stacked_args(rng, B, D, H, term, big, unbatched):
    T = int(rng.integers(2, 4))
    sizes = _layer_sizes(rng, D, H, term)
    if term == "same":
        sizes = [D] * len(sizes)
    xs = _u(rng, (T, B, D))
    states0, layer_params, inputs = [], [], D
    for h in sizes:
        states0.append(PROBE.zero_state(B, h) if term == "zero_state" else (_u(rng, (B, h)), _u(rng, (B, h))))
        layer_params.append(PROBE.init_params(inputs, h, rng))
        inputs = h
    return (PROBE, xs, states0, layer_params)


def _stacked_backward_args(rng, B, D, H, term, big, unbatched):
    cell, xs, states0, layer_params = _stacked_args(rng, B, D, H, term, big, unbatched)
    dys = _u(rng, (xs.shape[0], B, states0[-1][0].shape[-1]))
    return (cell, xs, states0, layer_params, dys)


# ---- replay tables (what a composition should call) -------------------------------------


def _replay_lstm_gates(args, kwargs):
    """The four gates only. A replay table is visible to the learner's code in the sandbox, so it
    never holds the answer of the case itself: new_state and final_output (whose results are
    lstm_step's output) run the learner's own code here."""
    return _replay_lstm_step(args, kwargs)[:4]


def _replay_gru_gates(args, kwargs):
    """r, u and a only; final_output (whose result is gru_step's output) runs the learner's code."""
    return _replay_gru_step(args, kwargs)[:3]


def _replay_lstm_step(args, kwargs):
    x, y_prev, s_prev, p = args[:4]
    f = lstm.forget_gate(x, y_prev, p.W_f, p.b_f)
    I = lstm.input_gate(x, y_prev, p.W_i, p.b_i)
    a = lstm.input_activation(x, y_prev, p.W_a, p.b_a)
    O = lstm.output_gate(x, y_prev, p.W_o, p.b_o)
    s = lstm.new_state(f, I, a, s_prev)
    return [
        ("lstm.forget_gate", (x, y_prev, p.W_f, p.b_f), f),
        ("lstm.input_gate", (x, y_prev, p.W_i, p.b_i), I),
        ("lstm.input_activation", (x, y_prev, p.W_a, p.b_a), a),
        ("lstm.output_gate", (x, y_prev, p.W_o, p.b_o), O),
        ("lstm.new_state", (f, I, a, s_prev), s),
        ("lstm.final_output", (O, s), lstm.final_output(O, s)),
    ]


def _replay_lstm_backward(args, kwargs):
    x, y_prev, s_prev, p = args[:4]
    table = _replay_lstm_step(args, kwargs)
    table.append(("lstm.lstm_step", (x, y_prev, s_prev, p), lstm.lstm_step(x, y_prev, s_prev, p)))
    if kwargs.get("memo_form"):
        I = lstm.input_gate(x, y_prev, p.W_i, p.b_i)
        a = lstm.input_activation(x, y_prev, p.W_a, p.b_a)
        s = lstm.memo_new_state(I, a, s_prev)
        O = lstm.output_gate(x, y_prev, p.W_o, p.b_o)
        table.append(("lstm.final_output", (O, s), lstm.final_output(O, s)))
    return table


def _replay_gru_step(args, kwargs):
    x, y_prev, p = args[:3]
    r = gru.reset_gate(x, y_prev, p.W_r, p.b_r)
    u = gru.update_gate(x, y_prev, p.W_u, p.b_u)
    a = gru.input_activation(x, y_prev, r, p.W_a, p.b_a)
    return [
        ("gru.reset_gate", (x, y_prev, p.W_r, p.b_r), r),
        ("gru.update_gate", (x, y_prev, p.W_u, p.b_u), u),
        ("gru.input_activation", (x, y_prev, r, p.W_a, p.b_a), a),
        ("gru.final_output", (u, y_prev, a), gru.final_output(u, y_prev, a)),
    ]


def _replay_gru_backward(args, kwargs):
    x, y_prev, p = args[:3]
    return _replay_gru_step(args, kwargs) + [("gru.gru_step", (x, y_prev, p), gru.gru_step(x, y_prev, p))]


def _replay_rnn_backward(args, kwargs):
    x, s_prev, W, b = args[:4]
    return [("rnn.rnn_step", (x, s_prev, W, b), rnn.rnn_step(x, s_prev, W, b))]


def _replay_bptt(args, kwargs):
    cell, xs, state0, params = args[:4]
    return [("sequence.unroll", (cell, xs, state0, params), sequence.unroll(cell, xs, state0, params))]


# ---- what each check gets -----------------------------------------------------------------

GATE_TERMS = [
    ("x", "only W's x block nonzero (y_prev block and bias zero)"),
    ("prev", "only W's y_prev block nonzero (x block and bias zero)"),
    ("bias", "only the bias nonzero (W zero)"),
]
STEP_EDGES = [
    ("B1", "B = 1"),
    ("D=H", "D = H"),
    ("unbatched", "unbatched 1-D inputs"),
    ("big", "pre-activations up to |50|"),
]
COMPOSED_TERMS = [
    ("x", "only the x blocks of every W nonzero"),
    ("prev", "only the y_prev blocks nonzero"),
    ("bias", "only the biases nonzero"),
]


class Family:
    def __init__(self, build, terms, edges, replay=None, kwargs=None):
        self.build, self.terms, self.edges = build, terms, edges
        self.replay, self.kwargs = replay, kwargs or {}


FAMILIES = {
    "rnn.rnn_step": Family(
        _gate_args, [(t, d.replace("y_prev", "s_prev")) for t, d in GATE_TERMS], STEP_EDGES
    ),
    "lstm.forget_gate": Family(_gate_args, GATE_TERMS, STEP_EDGES),
    "lstm.input_gate": Family(_gate_args, GATE_TERMS, STEP_EDGES),
    "lstm.input_activation": Family(_gate_args, GATE_TERMS, STEP_EDGES),
    "lstm.output_gate": Family(_gate_args, GATE_TERMS, STEP_EDGES),
    "lstm.new_state": Family(
        _new_state_args,
        [("I0", "I = 0 (only the kept state)"), ("f0", "f = 0 (only the new input)"), ("s0", "s_prev = 0")],
        [("B1", "B = 1"), ("unbatched", "unbatched 1-D inputs"), ("big", "|s_prev| up to 50")],
    ),
    "lstm.final_output": Family(
        _lstm_final_args,
        [("O1", "O = 1")],
        [("B1", "B = 1"), ("unbatched", "unbatched 1-D inputs"), ("big", "|s| up to 50")],
    ),
    "lstm.lstm_step": Family(
        _lstm_step_args, COMPOSED_TERMS + [("s0", "s_prev = 0")], STEP_EDGES, replay=_replay_lstm_gates
    ),
    "gru.reset_gate": Family(_gate_args, GATE_TERMS, STEP_EDGES),
    "gru.update_gate": Family(_gate_args, GATE_TERMS, STEP_EDGES),
    "gru.input_activation": Family(
        _gru_act_args,
        GATE_TERMS + [("r1", "r = 1 (reset gate open)"), ("r0", "r = 0 (reset gate closed)")],
        STEP_EDGES,
    ),
    "gru.final_output": Family(
        _gru_final_args,
        [("u0", "u = 0 (keep y_prev)"), ("u1", "u = 1 (take a)"), ("a0", "a = 0")],
        [("B1", "B = 1"), ("unbatched", "unbatched 1-D inputs")],
    ),
    "gru.gru_step": Family(_gru_step_args, COMPOSED_TERMS, STEP_EDGES, replay=_replay_gru_gates),
    "rnn.rnn_step_backward": Family(
        _rnn_backward_args,
        [(t, d.replace("y_prev", "s_prev")) for t, d in GATE_TERMS],
        STEP_EDGES,
        replay=_replay_rnn_backward,
    ),
    "lstm.lstm_step_backward": Family(
        _lstm_backward_args,
        [("dy", "only dy (ds = 0)"), ("ds", "only ds (dy = 0)"), ("memo", "memo_form=True")],
        STEP_EDGES,
        replay=_replay_lstm_backward,
    ),
    "gru.gru_step_backward": Family(
        _gru_backward_args, COMPOSED_TERMS, STEP_EDGES, replay=_replay_gru_backward
    ),
    "sequence.unroll": Family(
        _unroll_args,
        [("T1", "T = 1"), ("zero_state", "zero initial state")],
        [("B1", "B = 1"), ("D=H", "D = H")],
    ),
    "sequence.bptt": Family(
        _bptt_args,
        [("dys", "only dys (dstate_T None)"), ("dstate", "only dstate_T (dys zero)"), ("T1", "T = 1")],
        [("B1", "B = 1"), ("D=H", "D = H")],
        replay=_replay_bptt,
    ),
    "multilayer.stacked_forward": Family(
        _stacked_args,
        [("L1", "one layer"), ("zero_state", "zero initial states")],
        [("B1", "B = 1"), ("same", "every layer the input's size")],
        replay=None,  # see _replay_lstm_gates: the layers' unroll results would be the answer
    ),
    "multilayer.stacked_backward": Family(
        _stacked_backward_args,
        [("L1", "one layer"), ("L2", "two layers")],
        [("B1", "B = 1"), ("same", "every layer the input's size")],
        replay=None,  # likewise: the layers' bptt results would be the answer
    ),
}


def _kinds(family):
    """(group, term, edge, label) of every kind of case, visible order."""
    kinds = [("values", None, None, "random inputs"), ("values", None, None, "random inputs, second draw")]
    kinds += [("terms", t, None, label) for t, label in family.terms]
    kinds += [("edges", None, e, label) for e, label in family.edges]
    kinds += [("float32", None, None, "float32 inputs")]
    if any(e == "big" for e, _ in family.edges):
        kinds += [("float32", None, "big", "float32 inputs, pre-activations up to |50|")]
    return kinds


def _case(check_id, family, rng, visible, index, group, term, edge, label):
    size_kind = edge if edge in ("B1", "D=H") else None
    B, D, H = _sizes(rng, visible, size_kind)
    args = family.build(rng, B, D, H, term, edge == "big", edge == "unbatched")
    kwargs = dict(family.kwargs)
    if term == "memo":
        kwargs["memo_form"] = True
    if group == "float32":
        args = _cast(args, np.float32)
    shapes = _shape_text(args)
    case = Case(
        case_id=f"{'v' if visible else 'h'}{index:02d}",
        check_id=check_id,
        label=f"{label}; {shapes}",
        group=group,
        visible=visible,
        args=tuple(args),
        kwargs=kwargs,
    )
    if family.replay is not None:
        case.replay = family.replay(case.args, case.kwargs)
    return case


def _shape_text(args):
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append("x".join(str(n) for n in a.shape) or "scalar")
    if isinstance(args[0], ProbeCell):
        xs = args[1]
        return f"T={xs.shape[0]}, B={xs.shape[1]}, D={xs.shape[2]}"
    return "shapes " + ", ".join(f"({p})" for p in parts[:3]) if parts else ""


def check_cases(check_id, seed=None, visible=True):
    """The visible cases of one check (seed None) or its hidden cases drawn from ``seed``."""
    family = FAMILIES[check_id]
    if visible:
        rng = np.random.default_rng([FIXTURE_SEED, _stable_hash(check_id)])
    else:
        rng = np.random.default_rng([int(seed), _stable_hash(check_id), 1])
    cases, index = [], 0
    for group, term, edge, label in _kinds(family):
        repeats = 1 if visible else HIDDEN_REPEATS.get(group, 1)
        if not visible and label.endswith("second draw"):
            continue
        for _ in range(repeats):
            cases.append(_case(check_id, family, rng, visible, index, group, term, edge, label))
            index += 1
    return cases


def _stable_hash(text):
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def make_cases(seed, check_ids=None, lesson=None):
    """Visible and hidden cases of the selected checks (all by default), registry order.

    - seed: the secret grading-time seed (int); the hidden inputs depend on it only.
    - check_ids: list of check ids, or None; lesson: an assignment name, or None.
    """
    if lesson is not None:
        ids = [c.check_id for c in checks_for(lesson)]
    elif check_ids is not None:
        ids = list(check_ids)
    else:
        ids = [c.check_id for c in CHECKS]
    cases = []
    for check_id in ids:
        cases += check_cases(check_id, visible=True)
        cases += check_cases(check_id, seed=seed, visible=False)
    return cases


# ---- budget cases: a backward pass, not numerical differentiation ------------------------
#
# Each backward check gets one more hidden case, large enough that finite differences
# (two forward passes per input and parameter element) need hundreds of thousands of forward
# passes, while the chain rule needs a few matrix products. It runs in a sandbox run of its
# own under a kernel-enforced CPU limit (RLIMIT_CPU, ``BUDGET_CPU_SECONDS``), and is judged
# with the "values" cases (a wrong answer there scores the check 0, like any values case).
# Budget cases are never in the published fixtures, the notebooks or ``make_cases``: they
# come from ``budget_cases`` only, and only the trusted grader (``checkrun``) runs them.
# Sizes and the limit are measured in ``measure_budget`` (python -m autograder.specs.cases).

BUDGET_SIZES = {  # check id -> (B, D, H)
    "rnn.rnn_step_backward": (64, 256, 256),
    "lstm.lstm_step_backward": (64, 128, 128),
    "gru.gru_step_backward": (64, 128, 128),
    "sequence.bptt": (64, 192, 192),
    "multilayer.stacked_backward": (32, 128, 128),
}
BUDGET_CPU_SECONDS = 6  # whole run: interpreter, numpy, the learner's rnnkit, the case
BUDGET_WALL_SECONDS = 60.0  # a sleeping process uses no CPU; a loaded machine slows honest code


BUDGET_CASE_ID = "b00"


def budget_cases(seed, check_ids=None):
    """One large hidden case (case id "b00", group "values") per backward check in ``check_ids``
    (all by default), inputs drawn from ``seed`` on a stream of their own."""
    out = []
    for check_id, (B, D, H) in BUDGET_SIZES.items():
        if check_ids is not None and check_id not in check_ids:
            continue
        family = FAMILIES[check_id]
        rng = np.random.default_rng([int(seed), _stable_hash(check_id), 2])
        args = family.build(rng, B, D, H, None, False, False)
        case = Case(
            case_id=BUDGET_CASE_ID,
            check_id=check_id,
            label=f"large random inputs (time budget); {_shape_text(args)}",
            group="values",
            visible=False,
            args=tuple(args),
            kwargs=dict(family.kwargs),
        )
        if family.replay is not None:
            case.replay = family.replay(case.args, case.kwargs)
        out.append(case)
    return out


def budget_seed(cases):
    """A seed for the budget cases derived from the hidden cases (themselves drawn from the secret
    grading seed), so that one batch gives every learner the same budget inputs."""
    import hashlib

    digest = hashlib.sha256()
    for case in cases:
        if not case.visible:
            digest.update(case.check_id.encode() + case.case_id.encode())
            for value in case.args:
                if isinstance(value, np.ndarray):
                    digest.update(np.ascontiguousarray(value).tobytes()[:4096])
    return int.from_bytes(digest.digest()[:8], "little")


def reference_function(check_id):
    """The reference implementation of a check's function (real rnnkit)."""
    module, function = check_id.split(".")
    return getattr(getattr(rnnkit, module, None) or __import__(f"rnnkit.{module}", fromlist=["x"]), function)


def upcast(value):
    """float32 inputs as float64, for accurate expected values."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value.astype(np.float64)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[upcast(v) for v in value])
    if isinstance(value, tuple):
        return tuple(upcast(v) for v in value)
    if isinstance(value, list):
        return [upcast(v) for v in value]
    if isinstance(value, dict):
        return {k: upcast(v) for k, v in value.items()}
    return value


def expected_output(case):
    """The reference output for a case, computed in float64."""
    return reference_function(case.check_id)(*upcast(case.args), **upcast(case.kwargs))


__all__ = ["FAMILIES", "FIXTURE_SEED", "ProbeParams", "check_cases", "expected_output", "make_cases"]


def measure_budget(course_root=None, seed=1):
    """Measure the budget cases (``python -m autograder.specs.cases``): for each backward check, the CPU
    seconds of a whole sandboxed budget run of ``course_root``'s rnnkit (default: the reference),
    the reference's own seconds on the case, and an estimate for central differences (two
    forward passes per input and parameter element, each timed here). Returns {check_id: dict}."""
    import pathlib
    import tempfile
    import time

    from autograder.checks.casefile import write_cases
    from autograder.grading import checkrun, sandbox

    def count(v):
        if isinstance(v, np.ndarray):
            return v.size
        return sum(count(x) for x in v) if isinstance(v, (tuple, list)) else 0

    def forward(case):
        a = case.args
        cid = case.check_id
        if cid == "sequence.bptt":
            return lambda: sequence.unroll(*a[:4]), a[1:4]
        if cid == "multilayer.stacked_backward":
            from rnnkit import multilayer

            return lambda: multilayer.stacked_forward(*a[:4]), a[1:4]
        step = {"rnn": rnn.rnn_step, "lstm": lstm.lstm_step, "gru": gru.gru_step}[cid.split(".")[0]]
        n = 3 if cid.startswith("gru") else 4
        return lambda: step(*a[:n]), a[:n]

    def seconds(fn, at_least=0.5):
        start, n = time.process_time(), 0
        while time.process_time() - start < at_least:
            fn()
            n += 1
        return (time.process_time() - start) / n

    root = pathlib.Path(course_root) if course_root else pathlib.Path(rnnkit.__file__).parent.parent
    limits = sandbox.Limits(cpu_seconds=BUDGET_CPU_SECONDS, wall_seconds=BUDGET_WALL_SECONDS)
    rows = {}
    for case in budget_cases(seed):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "out").mkdir()
            (tmp / "out").chmod(0o777)
            write_cases([case], tmp / "in")
            code = checkrun._executor_code("/sub", "/io/in", "/io/out")
            # the process's own CPU time since it started (interpreter, numpy, rnnkit, the case)
            code.insert(-2, "import time; print('CPU', time.process_time())")
            run = sandbox.run_python(
                code, read_only={root: "/sub", paths.CHECKS: "/grader/rnncheck", tmp / "in": "/io/in"},
                writable={tmp / "out": "/io/out"}, sys_path=["/grader"], limits=limits)
        lines = run.stdout.decode(errors="replace").splitlines()
        cpu = [line.split()[1] for line in lines if line.startswith("CPU ")]
        fwd, inputs = forward(case)
        rows[case.check_id] = {
            "run_cpu": float(cpu[-1]) if cpu else float("nan"),
            "run_wall": run.seconds,
            "finished": run.returncode == 0,
            "reference": seconds(lambda c=case: reference_function(c.check_id)(*c.args, **c.kwargs)),
            "central_differences": 2 * count(inputs) * seconds(fwd),
        }
        r = rows[case.check_id]
        print(f"{case.check_id:28s} sandbox run {r['run_cpu']:5.2f} s CPU ({r['run_wall']:4.1f} s wall, "
              f"{'finished' if r['finished'] else 'STOPPED'}); reference {r['reference'] * 1e3:5.1f} ms; "
              f"central differences ~{r['central_differences']:6.0f} s  [{case.label}]")
    print(f"CPU limit of a budget run: {BUDGET_CPU_SECONDS} s")
    return rows


if __name__ == "__main__":
    import os
    import sys

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var) != "1":
            sys.exit(f"set {var}=1 (as in the sandbox) before measuring")
    measure_budget(sys.argv[1] if len(sys.argv) > 1 else None)
