# ruff: noqa: E501  (attack sources read better whole)
"""Points bought with the shipped reference tools or with numerical differentiation.

Every attack is a submission (the answer key with one function rewritten) scored through
the grading path (``checkrun.run_submission_checks``: the real sandbox, then the trusted
judge) against its baseline: the same submission with that function stubbed. No attack
may score more than its baseline. Each attack also has a control showing that, without
the defence, it would buy points (so each test can fail).

- renamed copies of ``rnnkit/fast.py`` as the lstm, gru and rnn backward passes, and of
  ``rnnkit/gradcheck.py``'s numerical gradients as ``rnn_step_backward``
  (``autograder/grading/provenance.py``);
- hand-written central differences as a backward pass (the budget cases of
  ``autograder/specs/cases.py``, run under a tight CPU limit).
"""

import shutil
import textwrap
from pathlib import Path

import pytest

from autograder.grading import checkrun, provenance, sandbox
from autograder.specs import SPECS
from autograder.specs.cases import BUDGET_SIZES, make_cases
from autograder.specs.judge import grade_in_process
from autograder.specs.spec import mutate

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "rnnkit"
SEED = 4242
STUB = "raise NotImplementedError()\n"

# ---- the attacks ----------------------------------------------------------------------------

# fast.py's LSTM branch (fuse, forward, backward, _unfuse) cut down to one step, every name
# changed, comments dropped, a few statements moved.
LSTM_FAST_HELPERS = '''
_ORDER_Q = ("f", "i", "o", "a")


def _squash(blk, hv, sv):
    blk *= hv
    blk += sv


def _glue(prm, dt):
    parts = [(getattr(prm, "W_" + q), getattr(prm, "b_" + q)) for q in _ORDER_Q]
    nh = parts[0][1].shape[0]
    nd = parts[0][0].shape[1] - nh
    AT = np.concatenate([M[:, :nd] for M, _ in parts], axis=0).astype(dt)
    BT = np.concatenate([M[:, nd:] for M, _ in parts], axis=0).astype(dt)
    cc = np.concatenate([v for _, v in parts]).astype(dt)
    sv = np.zeros(len(cc), dt)
    sv[: 3 * nh] = 0.5
    hv = np.ones(len(cc), dt)
    hv[: 3 * nh] = 0.5
    A = np.ascontiguousarray(AT.T) * hv
    B_ = np.ascontiguousarray(BT.T) * hv[: BT.shape[0]]
    return A, B_, cc * hv, AT, BT, hv, sv


def _split(dA, dB, dc):
    nh = dB.shape[0]
    got = {}
    for j, q in enumerate(_ORDER_Q):
        cols = slice(j * nh, (j + 1) * nh)
        got["W_" + q] = np.concatenate([dA[:, cols].T, dB[:, cols].T], axis=1)
        got["b_" + q] = dc[cols].copy()
    return LSTMParams(**got)
'''
LSTM_FAST_BODY = '''
one = x.ndim == 1
u = np.atleast_2d(x)
dt = u.dtype
nb = u.shape[0]
A, B_, cc, AT, BT, hv, sv = _glue(params, dt)
nh = B_.shape[0]
yp = np.atleast_2d(y_prev).astype(dt)
sp = np.atleast_2d(s_prev).astype(dt)
g = u @ A + cc
rec = np.empty((nb, 4 * nh), dt)
np.matmul(yp, B_, out=rec)
g += rec
np.tanh(g, out=g)
_squash(g, hv, sv)
f, i, o, a = g[:, :nh], g[:, nh : 2 * nh], g[:, 2 * nh : 3 * nh], g[:, 3 * nh :]
s = np.empty((nb, nh), dt)
tmp = np.empty((nb, nh), dt)
if memo_form:
    s[...] = sp
else:
    np.multiply(f, sp, out=s)
np.multiply(i, a, out=tmp)
s += tmp
ts = np.tanh(s)
dyy = np.atleast_2d(dy).astype(dt)
dss = np.array(np.atleast_2d(ds), dt)
dz = np.empty_like(g)
deriv = np.empty((nb, 4 * nh), dt)
beta = 1 - 2 * sv
dzf, dzi, dzo, dza = dz[:, :nh], dz[:, nh : 2 * nh], dz[:, 2 * nh : 3 * nh], dz[:, 3 * nh :]
np.multiply(dyy, ts, out=dzo)
np.multiply(ts, ts, out=tmp)
np.subtract(1, tmp, out=tmp)
tmp *= o
tmp *= dyy
dss += tmp
if memo_form:
    dzf[...] = 0
else:
    np.multiply(dss, sp, out=dzf)
np.multiply(dss, a, out=dzi)
np.multiply(dss, i, out=dza)
np.subtract(1, g, out=deriv)
dz *= deriv
np.add(g, beta, out=deriv)
dz *= deriv
if not memo_form:
    dss *= f
dh = dz @ BT
grads = _split(u.T @ dz, yp.T @ dz, dz.sum(axis=0))
dxx = dz @ AT
if one:
    return dxx[0], dh[0], dss[0], grads
return dxx, dh, dss, grads
'''

# fast.py's GRU branch for one step, renamed, inline.
GRU_FAST_BODY = '''
one = x.ndim == 1
xx = np.atleast_2d(x)
dt = xx.dtype
nb = xx.shape[0]
parts = [(getattr(params, "W_" + q), getattr(params, "b_" + q)) for q in ("r", "u", "a")]
nh = parts[0][1].shape[0]
nd = parts[0][0].shape[1] - nh
AT = np.concatenate([M[:, :nd] for M, _ in parts], axis=0).astype(dt)
BT = np.concatenate([M[:, nd:] for M, _ in parts], axis=0).astype(dt)
cc = np.concatenate([v for _, v in parts]).astype(dt)
BaT = np.ascontiguousarray(BT[2 * nh :])
Ba = np.ascontiguousarray(BaT.T)
BT = np.ascontiguousarray(BT[: 2 * nh])
hv = np.ones(len(cc), dt)
hv[: 2 * nh] = 0.5
sv = np.zeros(len(cc), dt)
sv[: 2 * nh] = 0.5
A = np.ascontiguousarray(AT.T) * hv
B_ = np.ascontiguousarray(BT.T) * hv[: BT.shape[0]]
cc = cc * hv
yp = np.atleast_2d(y_prev).astype(dt)
g = xx @ A[:, : 2 * nh] + cc[: 2 * nh]
av = xx @ A[:, 2 * nh :] + cc[2 * nh :]
rec_ru = np.empty((nb, 2 * nh), dt)
rec_a = np.empty((nb, nh), dt)
tmp = np.empty((nb, nh), dt)
np.matmul(yp, B_, out=rec_ru)
g += rec_ru
np.tanh(g, out=g)
g *= hv[: 2 * nh]
g += sv[: 2 * nh]
r, uu = g[:, :nh], g[:, nh:]
ry = np.empty((nb, nh), dt)
np.multiply(r, yp, out=ry)
np.matmul(ry, Ba, out=rec_a)
av += rec_a
np.tanh(av, out=av)
dyy = np.atleast_2d(dy).astype(dt)
dz = np.empty_like(g)
dza = np.empty_like(av)
dry = np.empty((nb, nh), dt)
deriv = np.empty((nb, 2 * nh), dt)
dzr, dzu = dz[:, :nh], dz[:, nh:]
np.multiply(av, av, out=tmp)
np.subtract(1, tmp, out=tmp)
np.multiply(dyy, uu, out=dza)
dza *= tmp
np.subtract(av, yp, out=dzu)
dzu *= dyy
np.matmul(dza, BaT, out=dry)
np.multiply(dry, yp, out=dzr)
np.subtract(1, g, out=deriv)
deriv *= g
dz *= deriv
dh = np.empty((nb, nh), dt)
np.multiply(dyy, uu, out=tmp)
np.subtract(dyy, tmp, out=dh)
dry *= r
dh += dry
np.matmul(dz, BT, out=tmp)
dh += tmp
dAx = np.concatenate([xx.T @ dz, xx.T @ dza], axis=1)
dBh = np.concatenate([yp.T @ dz, ry.T @ dza], axis=1)
db = np.concatenate([dz.sum(axis=0), dza.sum(axis=0)])
dxx = dz @ AT[: 2 * nh]
dxx += dza @ AT[2 * nh :]
got = {}
for j, q in enumerate(("r", "u", "a")):
    cols = slice(j * nh, (j + 1) * nh)
    got["W_" + q] = np.concatenate([dAx[:, cols].T, dBh[:, cols].T], axis=1)
    got["b_" + q] = db[cols].copy()
grads = GRUParams(**got)
if one:
    return dxx[0], dh[0], grads
return dxx, dh, grads
'''

# The whole of fast.py's fuse / _unfuse / backward machinery for the RNN, renamed: what pasting
# the fast path into rnn.py looks like (the RNN branch alone is five lines of the chain rule).
RNN_FAST_HELPERS = '''
def _merge(W, b, dt):
    nh = b.shape[0]
    nd = W.shape[1] - nh
    blocks = [(W, b)]
    AT = np.concatenate([M[:, :nd] for M, _ in blocks], axis=0).astype(dt)
    BT = np.concatenate([M[:, nd:] for M, _ in blocks], axis=0).astype(dt)
    cc = np.concatenate([v for _, v in blocks]).astype(dt)
    hv = np.ones(len(cc), dt)
    sv = np.zeros(len(cc), dt)
    A = np.ascontiguousarray(AT.T) * hv
    B_ = np.ascontiguousarray(BT.T) * hv[: BT.shape[0]]
    return A, B_, cc * hv, AT, BT


def _unmerge(dA, dB, dc):
    nh = dB.shape[0]
    got = {}
    for j, q in enumerate(("",)):
        cols = slice(j * nh, (j + 1) * nh)
        got["W" + ("_" + q if q else "")] = np.concatenate([dA[:, cols].T, dB[:, cols].T], axis=1)
        got["b" + ("_" + q if q else "")] = dc[cols].copy()
    return RNNParams(**got)


def _run_back(xs, Y, G, AT, BT, dys, dlast):
    T, nb, nd = xs.shape
    nh = Y.shape[2]
    dt = Y.dtype
    dh = np.zeros((nb, nh), dt) if dlast is None else np.array(dlast, dt).reshape(nb, nh)
    dZ = np.empty_like(G)
    dy = np.empty((nb, nh), dt)
    tmp = np.empty((nb, nh), dt)
    X2 = xs.reshape(T * nb, nd)
    Yprev = Y[:T].reshape(T * nb, nh)
    for t in range(T - 1, -1, -1):
        np.add(dys[t], dh, out=dy)
        np.multiply(G[t], G[t], out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(dy, tmp, out=dZ[t])
        np.matmul(dZ[t], BT, out=dh)
    dZ2 = dZ.reshape(T * nb, nh)
    grads = _unmerge(X2.T @ dZ2, Yprev.T @ dZ2, dZ2.sum(axis=0))
    dxs = dZ2 @ AT
    return dxs.reshape(T, nb, nd), dh, grads
'''
RNN_FAST_BODY = '''
one = x.ndim == 1
xs = np.atleast_2d(x)[None]
dt = xs.dtype
A, B_, cc, AT, BT = _merge(W, b, dt)
s0 = np.atleast_2d(s_prev).astype(dt)
Y = np.empty((2,) + s0.shape, dt)
Y[0] = s0
G = (xs.reshape(-1, xs.shape[2]) @ A + cc).reshape(1, *s0.shape)
rec = np.empty(s0.shape, dt)
np.matmul(Y[0], B_, out=rec)
G[0] += rec
np.tanh(G[0], out=G[0])
Y[1] = G[0]
dxs, dh, g = _run_back(xs, Y, G, AT, BT, np.atleast_2d(ds).astype(dt)[None], None)
if one:
    return dxs[0, 0], dh[0], g.W, g.b
return dxs[0], dh, g.W, g.b
'''

# gradcheck.py's numerical_gradient and extrapolated_gradient, renamed, as a backward pass.
GRADCHECK_HELPERS = '''
def _nudged(fn, arr, h=1e-6):
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.floating):
        raise TypeError("need a float array")
    out = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        keep = arr[idx]
        try:
            arr[idx] = keep + h
            up = float(fn())
            arr[idx] = keep - h
            down = float(fn())
        finally:
            arr[idx] = keep
        out[idx] = (up - down) / (2 * h)
    return out


def _richardson(fn, arr, h=2e-3):
    coarse = _nudged(fn, arr, h)
    fine = _nudged(fn, arr, h / 2)
    return (4 * fine - coarse) / 3
'''
GRADCHECK_BODY = '''
x, s_prev, W, b = (np.array(v, dtype=np.float64) for v in (x, s_prev, W, b))


def loss():
    return float(np.sum(np.tanh(np.concatenate([x, s_prev], axis=-1) @ W.T + b) * ds))


return _richardson(loss, x), _richardson(loss, s_prev), _richardson(loss, W), _richardson(loss, b)
'''

# Central differences written by hand (no copy of anything), one per backward check.
_CENTRAL = '''
def _central(loss, arrays, eps=1e-5):
    grads = []
    for arr in arrays:
        g = np.zeros(arr.size)
        flat = arr.reshape(-1)
        for k in range(arr.size):
            v = flat[k]
            flat[k] = v + eps
            up = loss()
            flat[k] = v - eps
            down = loss()
            flat[k] = v
            g[k] = (up - down) / (2 * eps)
        grads.append(g.reshape(arr.shape).astype(arr.dtype))
    return grads
'''
NUMERIC = {
    "rnn.rnn_step_backward": ("rnn", "rnn_step_backward", _CENTRAL, '''
x, s_prev, W, b = (np.array(v) for v in (x, s_prev, W, b))  # the inputs are read-only


def loss():
    return float(np.sum(rnn_step(x, s_prev, W, b) * ds))


return tuple(_central(loss, [x, s_prev, W, b]))
'''),
    "lstm.lstm_step_backward": ("lstm", "lstm_step_backward", _CENTRAL, '''
step = memo_lstm_step if memo_form else lstm_step
x, y_prev, s_prev = np.array(x), np.array(y_prev), np.array(s_prev)
params = LSTMParams(*[np.array(a) for a in params])


def loss():
    y, s = step(x, y_prev, s_prev, params)
    return float(np.sum(y * dy) + np.sum(s * ds))


dx, dyp, dsp, *g = _central(loss, [x, y_prev, s_prev, *params])
return dx, dyp, dsp, LSTMParams(*g)
'''),
    "gru.gru_step_backward": ("gru", "gru_step_backward", _CENTRAL, '''
x, y_prev, params = np.array(x), np.array(y_prev), GRUParams(*[np.array(a) for a in params])


def loss():
    return float(np.sum(gru_step(x, y_prev, params) * dy))


dx, dyp, *g = _central(loss, [x, y_prev, *params])
return dx, dyp, GRUParams(*g)
'''),
    "sequence.bptt": ("sequence", "bptt", _CENTRAL, '''
xs, state0 = np.array(xs), tuple(np.array(s) for s in state0)
params = type(params)(*[np.array(a) for a in params])


def loss():
    ys, state = unroll(cell, xs, state0, params)
    total = np.sum(ys * dys)
    if dstate_T is not None:
        total += sum(np.sum(a * d) for a, d in zip(state, dstate_T))
    return float(total)


dxs, *rest = _central(loss, [xs, *state0, *params])
n = len(state0)
return dxs, tuple(rest[:n]), type(params)(*rest[n:])
'''),
    "multilayer.stacked_backward": ("multilayer", "stacked_backward", "import numpy as np\n" + _CENTRAL, '''
xs = np.array(xs)
states0 = [tuple(np.array(a) for a in s) for s in states0]
layer_params = [type(p)(*[np.array(a) for a in p]) for p in layer_params]


def loss():
    ys, states_T = stacked_forward(cell, xs, states0, layer_params)
    total = float(np.sum(ys * dys))
    for state, dstate in zip(states_T, dstates_T or [None] * len(states_T)):
        if dstate is not None:
            total += sum(float(np.sum(a * d)) for a, d in zip(state, dstate) if d is not None)
    return total


flat = [xs] + [a for s in states0 for a in s] + [a for p in layer_params for a in p]
got = _central(loss, flat)
dxs, k, dstates0, dlayer = got[0], 1, [], []
for s in states0:
    dstates0.append(tuple(got[k : k + len(s)]))
    k += len(s)
for p in layer_params:
    dlayer.append(type(p)(*got[k : k + len(p)]))
    k += len(p)
return dxs, dstates0, dlayer
'''),
}

FAST_COPIES = {
    "lstm.lstm_step_backward": ("lstm", "lstm_step_backward", LSTM_FAST_HELPERS, LSTM_FAST_BODY),
    "gru.gru_step_backward": ("gru", "gru_step_backward", "", GRU_FAST_BODY),
    "rnn.rnn_step_backward": ("rnn", "rnn_step_backward", RNN_FAST_HELPERS, RNN_FAST_BODY),
}
GRADCHECK_COPY = ("rnn", "rnn_step_backward", GRADCHECK_HELPERS, GRADCHECK_BODY)


# ---- building submissions and scoring them ----------------------------------------------


def submission(root, module, function, helpers, body):
    """A course folder holding the answer key with ``function``'s solution region replaced by
    ``body`` and ``helpers`` appended to the module (module-level code)."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(REFERENCE, root / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "rnnkit" / f"{module}.py"
    text = mutate(path.read_text(), function, textwrap.dedent(body).lstrip("\n"))
    path.write_text(text + "\n" + textwrap.dedent(helpers))
    return root


def attack_and_baseline(tmp_path, attack):
    module, function, helpers, body = attack
    return (submission(tmp_path / "attack", module, function, helpers, body),
            submission(tmp_path / "baseline", module, function, helpers, STUB))


def graded(root, check_id, limits=None):
    ordinary = make_cases(SEED, check_ids=[check_id])
    outcomes, runs = checkrun.run_submission_checks(root, ordinary, [check_id],
                                                    limits or sandbox.Limits(cpu_seconds=60, wall_seconds=120))
    return outcomes[check_id], runs


def in_process_score(root, check_id):
    """The attack's score on the ordinary cases with no defence at all (the learner's code runs
    in this process, through the executor; the executor's own refusal of calls is still on)."""
    return grade_in_process(root, SEED, check_ids=[check_id])[check_id].score


# ---- copies of the shipped tools ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("check_id", sorted(FAST_COPIES))
def test_renamed_fast_path_copy_scores_no_more_than_the_stub(tmp_path, check_id):
    attack, baseline = attack_and_baseline(tmp_path, FAST_COPIES[check_id])
    got, _ = graded(attack, check_id)
    base, _ = graded(baseline, check_id)
    assert got.score <= base.score, got.message
    assert "rnnkit/fast.py" in got.message and "yourself" in got.message, got.message
    # control: the copy is a correct backward pass, worth points without the defence
    assert in_process_score(attack, check_id) > base.score


@pytest.mark.slow
def test_renamed_gradcheck_copy_scores_no_more_than_the_stub(tmp_path):
    check_id = "rnn.rnn_step_backward"
    attack, baseline = attack_and_baseline(tmp_path, GRADCHECK_COPY)
    got, _ = graded(attack, check_id)
    base, _ = graded(baseline, check_id)
    assert got.score <= base.score, got.message
    assert "rnnkit/gradcheck.py" in got.message and "yourself" in got.message, got.message
    assert in_process_score(attack, check_id) > base.score


def _answer_key_gets_full_marks(tmp_path, check_ids):
    root = tmp_path / "key"
    shutil.copytree(REFERENCE, root / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    assert provenance.copied_functions(root, check_ids) == {}
    ordinary = make_cases(SEED, check_ids=check_ids)
    outcomes, runs = checkrun.run_submission_checks(root, ordinary, check_ids,
                                                    sandbox.Limits(cpu_seconds=60, wall_seconds=120))
    for check_id in check_ids:
        assert outcomes[check_id].score == outcomes[check_id].max_score, (check_id, outcomes[check_id].message)
    assert len(runs) == 3, "published cases, hidden cases, then one run for all the budget cases"


@pytest.mark.slow
def test_answer_key_is_not_a_copy_and_gets_full_marks(tmp_path):
    """Control for both defences: the reference solution scores full marks on the grading path
    (with its budget case), and the copy detector finds nothing in it."""
    _answer_key_gets_full_marks(tmp_path, ["rnn.rnn_step_backward"])


@pytest.mark.slow
def test_answer_key_gets_full_marks_on_every_backward_check(tmp_path):
    _answer_key_gets_full_marks(tmp_path, list(BUDGET_SIZES))


@pytest.mark.slow
def test_copy_detector_margins_on_every_reference_function_and_correct_variant(tmp_path):
    """No legitimate function comes near the threshold; every disguised copy is well above it."""
    from autograder.checks.registry import CHECKS

    legit = provenance.scores(REPO, [c.check_id for c in CHECKS])
    highest = max(max(v.values()) for v in legit.values())
    key = provenance.read_package(REPO)
    for check_id, spec in SPECS.items():
        module, function = check_id.split(".")
        for _name, change in spec.right:
            text = mutate((REFERENCE / f"{module}.py").read_text(), function, change)
            modules = {**key, module: provenance.module_from_source(module, text)}
            highest = max(highest, max(provenance.scores(None, [check_id], modules=modules)[check_id].values()))
    lowest = None
    for check_id, attack in [*FAST_COPIES.items(), ("rnn.rnn_step_backward", GRADCHECK_COPY)]:
        root = submission(tmp_path / "copy", *attack)
        shared = max(provenance.scores(root, [check_id])[check_id].values())
        lowest = shared if lowest is None else min(lowest, shared)
    assert highest < provenance.MIN_SHARED <= lowest, (highest, provenance.MIN_SHARED, lowest)
    assert provenance.MIN_SHARED >= 2 * max(highest, 1), "too close to legitimate code"


# ---- numerical differentiation ----------------------------------------------------------------


def _numeric_attack(tmp_path, check_id):
    module, function, helpers, body = NUMERIC[check_id]
    return attack_and_baseline(tmp_path, (module, function, helpers, body))


def _assert_numeric_attack_fails(tmp_path, check_id):
    attack, baseline = _numeric_attack(tmp_path, check_id)
    assert provenance.copied_functions(attack, [check_id]) == {}, "not a copy: the budget must stop it"
    got, _ = graded(attack, check_id)
    base, _ = graded(baseline, check_id)
    assert got.score <= base.score, got.message
    assert "far too slow" in got.message and "Numerical differentiation" in got.message, got.message
    # control: on the ordinary (small) cases numerical differentiation is worth points
    assert in_process_score(attack, check_id) > base.score


@pytest.mark.slow
def test_hand_written_central_differences_score_no_more_than_the_stub(tmp_path, monkeypatch):
    """The mechanism, kept fast with a 2 s budget (the real one is in the slow test below)."""
    monkeypatch.setattr(checkrun, "BUDGET_CPU_SECONDS", 2)  # the limit as the grader applies it
    _assert_numeric_attack_fails(tmp_path, "rnn.rnn_step_backward")


@pytest.mark.slow
@pytest.mark.parametrize("check_id", list(BUDGET_SIZES))
def test_central_differences_in_every_backward_check(tmp_path, check_id):
    _assert_numeric_attack_fails(tmp_path, check_id)


def test_budget_cases_are_hidden_and_not_in_ordinary_cases():
    from autograder.specs.cases import budget_cases, check_cases

    cases = make_cases(SEED)
    assert all(c.case_id != "b00" for c in cases)
    for check_id in BUDGET_SIZES:
        assert all(c.case_id != "b00" for c in check_cases(check_id, visible=True))
    extra = budget_cases(SEED)
    assert {c.check_id for c in extra} == set(BUDGET_SIZES)
    assert all(not c.visible and c.group == "values" for c in extra)


# ---- hiding places for a copy (the detector alone: no sandbox needed) -----------------------


def _key(tmp_path):
    root = tmp_path / "sub"
    shutil.copytree(REFERENCE, root / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_copy_in_a_package_folder_shadowing_the_module_is_found(tmp_path):
    """``rnnkit/lstm/__init__.py`` is imported instead of ``rnnkit/lstm.py``: that is what is read."""
    root = _key(tmp_path)
    attack = submission(tmp_path / "attack", *FAST_COPIES["lstm.lstm_step_backward"])
    (root / "rnnkit" / "lstm").mkdir()
    shutil.copy(attack / "rnnkit" / "lstm.py", root / "rnnkit" / "lstm" / "__init__.py")
    found = provenance.copied_functions(root, ["lstm.lstm_step_backward", "lstm.forget_gate"])
    assert list(found) == ["lstm.lstm_step_backward"] and "rnnkit/fast.py" in found["lstm.lstm_step_backward"]


def test_helper_without_source_and_module_level_import_of_a_tool_are_refused(tmp_path):
    import py_compile

    root = _key(tmp_path)
    pkg = root / "rnnkit"
    (pkg / "helpers.py").write_text("def bw(x):\n    return x\n")
    py_compile.compile(str(pkg / "helpers.py"), cfile=str(pkg / "helpers.pyc"))
    (pkg / "helpers.py").unlink()
    source = (pkg / "rnn.py").read_text()
    body = "    D = x.shape[-1]\n    z = np.concatenate"
    assert provenance.copied_functions(root, ["rnn.rnn_step_backward"]) == {}
    (pkg / "rnn.py").write_text("from .helpers import bw as _b\n" + source.replace(body, "    _b(x)\n" + body, 1))
    found = provenance.copied_functions(root, ["rnn.rnn_step_backward", "rnn.rnn_step"])
    assert list(found) == ["rnn.rnn_step_backward"] and "no Python source" in found["rnn.rnn_step_backward"]
    # a name bound at import time escapes the executor's refusal of calls: the code it names is read
    (pkg / "rnn.py").write_text("from .fast import backward as _b\n" + source.replace(body, "    _b\n" + body, 1))
    found = provenance.copied_functions(root, ["rnn.rnn_step_backward"])
    assert "rnnkit/fast.py" in found["rnn.rnn_step_backward"]


def test_dynamic_lookups_do_not_make_honest_code_a_copy(tmp_path):
    root = _key(tmp_path)
    path = root / "rnnkit" / "lstm.py"
    path.write_text(path.read_text().replace("    p = params\n    D = x.shape[-1]",
                                             "    p = params\n    D = getattr(x, 'shape')[-1]", 1))
    assert provenance.closure(provenance.read_package(root), "lstm.lstm_step_backward").dynamic
    assert provenance.copied_functions(root, ["lstm.lstm_step_backward"]) == {}


# ---- the shipped fast path reached without naming it (found by a red-team run) ---------------

# rnn.py loads the learner's own copy of rnnkit/fast.py under another module name at import time
# and stores its functions in a dict; the graded function only ever names the dict.
LOAD_FAST_BY_PATH = '''
_T = {}


def _load():
    import importlib.util
    import os
    import sys
    name = "rnnkit._fx"
    m = sys.modules.get(name)
    if m is None:
        spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), "fast.py"))
        m = importlib.util.module_from_spec(spec)
        sys.modules[name] = m
        spec.loader.exec_module(m)
    _T.update(f=m.forward, b=m.backward)


_load()
'''
FAST_BY_DICT = '''
_, _, c = _T["f"]("rnn", x[None], (s_prev,), RNNParams(W, b))
dxs, (ds0,), g = _T["b"](c, ds[None])
return dxs[0], ds0, g.W, g.b
'''


def test_fast_path_loaded_under_another_name_scores_no_more_than_the_stub(tmp_path):
    check_id = "rnn.rnn_step_backward"
    attack, baseline = attack_and_baseline(tmp_path, ("rnn", "rnn_step_backward", LOAD_FAST_BY_PATH,
                                                      FAST_BY_DICT))
    got, _ = graded(attack, check_id)
    base, _ = graded(baseline, check_id)
    assert got.score <= base.score, got.message
    # control: in the learner's own folder (fast.py present, no defence) it is a working backward pass
    assert in_process_score(attack, check_id) > base.score


def test_a_copy_wired_in_at_import_time_is_found(tmp_path):
    # The copy sits in a helper that no graded function names; module-level code puts it in the dict.
    module, function, helpers, _body = FAST_COPIES["rnn.rnn_step_backward"]
    wired = helpers + "\n_T = {}\n_T.update(b=_run_back)\n"
    attack = submission(tmp_path / "attack", module, function, wired,
                        "return _T['b'](x, s_prev, W, b, ds)\n")
    assert provenance.copied_functions(attack, ["rnn.rnn_step_backward"]), "the wired-in copy is not found"


@pytest.mark.slow
def test_a_copy_hidden_in_a_string_and_executed_scores_no_more_than_the_stub(tmp_path):
    # the shipped fast path, compressed into a string literal and exec'd inside the graded function
    import base64
    import zlib

    blob = base64.b64encode(zlib.compress((REFERENCE / "fast.py").read_text().replace(
        "from .", "from rnnkit.").encode())).decode()
    body = f'''
import base64, zlib
ns = {{}}
exec(zlib.decompress(base64.b64decode("{blob}")).decode(), ns)
ys, st, cache = ns["forward"]("rnn", x[None], (s_prev,), RNNParams(W, b))
dxs, ds0, g = ns["backward"](cache, ds[None])
return dxs[0], ds0[0], g.W, g.b
'''
    check_id = "rnn.rnn_step_backward"
    attack, baseline = attack_and_baseline(tmp_path, ("rnn", "rnn_step_backward", "", body))
    got, _ = graded(attack, check_id)
    base, _ = graded(baseline, check_id)
    assert got.score <= base.score, got.message
    assert "builds or loads code at run time" in got.message
