"""The numbers the lessons' prose quotes agree with what the lessons' own code computes.

Each test reads a number out of a markdown cell of ``solutions/NN-*.ipynb`` (a regular expression
around the sentence that quotes it), recomputes it by running the lesson's own code cells against
the reference ``rnnkit`` (the cells are chosen by a phrase they contain and run in notebook order,
figures drawn off screen), and compares the two within the tolerance stated next to it. Editing
either the prose or the code, so that they no longer agree, makes the test fail; a cell or a
sentence that can no longer be found fails too, with the phrase that was looked for.

Timings (milliseconds per step, GRU/LSTM time ratios) are not compared: they depend on the machine.
Everything else the prose quotes from a run is seeded and compared. The small versions run in a few
seconds; the lesson 7 study and the full-size variants quoted in lessons 2, 4 and 6 are marked slow.
The full-size study of lesson 7 (about 40 minutes of CPU time) is not rerun here.
"""

import math
import re
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from autograder.checks.registry import CHECKS  # noqa: E402

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10}


def _notebook(stem):
    (path,) = SOLUTIONS.glob(f"{stem}-*.ipynb")
    return nbformat.read(path, as_version=4)


def quoted(stem, pattern):
    """The groups of the one match of `pattern` in the markdown cells of lesson `stem`, as floats.

    In `pattern`, ``(N)`` stands for a group matching a number (``3``, ``0.027``). Groups may also
    hold thousands separators (``2,300``, ``21{,}760``) or number words (one to ten).
    """
    # A space in `pattern` matches any run of white space, so that reflowing the prose changes nothing.
    pattern = pattern.replace("(N)", r"(\d+(?:\.\d+)?)").replace(" ", r"\s+")
    hits = [m for cell in _notebook(stem).cells if cell.cell_type == "markdown"
            for m in re.finditer(pattern, cell.source, flags=re.S)]
    assert len(hits) == 1, f"lesson {stem}: expected one sentence matching {pattern!r}, found {len(hits)}"
    values = []
    for group in hits[0].groups():
        text = group.replace("{,}", "").replace(",", "")
        values.append(float(WORDS.get(text, text)))
    return values[0] if len(values) == 1 else values


def _is_experiment(cell):
    # A code cell other than the set-up cell (IPython magics, the learner's folder) and the check cells.
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and not meta.get("grade") and meta.get("grade_id") != "setup"


def run_cells(stem, *phrases, replace=None):
    """Run, in notebook order, the code cells of lesson `stem` that contain one of `phrases`.

    replace: optional {old: new} applied to the cells' source (to run a full-size variant).
    Returns the namespace the cells ran in. ``ready`` is always true (the reference package is
    complete); ``plt.show`` closes the figure.
    """
    code = [c.source for c in _notebook(stem).cells if _is_experiment(c)]
    for phrase in phrases:
        assert any(phrase in src for src in code), f"lesson {stem}: no code cell contains {phrase!r}"
    selected = [src for src in code if any(phrase in src for phrase in phrases)]
    for old in replace or {}:
        assert any(old in src for src in selected), f"lesson {stem}: no cell to run contains {old!r}"
    namespace = {"ready": lambda *names: True}
    show = plt.show
    plt.show = lambda *args, **kwargs: plt.close("all")
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            for src in selected:
                for old, new in (replace or {}).items():
                    src = src.replace(old, new)
                exec(compile(src, f"lesson {stem}", "exec"), namespace)
    finally:
        plt.show = show
        plt.close("all")
    return namespace


def orders(ratio):
    """Orders of magnitude of a ratio: log10."""
    return math.log10(ratio)


# ----------------------------------------------------------------------------- time lines


@pytest.mark.parametrize("stem", ["01", "02", "03", "04", "05", "06", "07"])
def test_time_line_counts_match_the_graded_cells(stem):
    # "*Time: about N minutes. Exercises: 7 functions, 10 points. Written questions: 3, 7 points ...*"
    nb = _notebook(stem)
    checks = [c.metadata["nbgrader"] for c in nb.cells
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    written = [c.metadata["nbgrader"] for c in nb.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")]
    assert quoted(stem, r"Written questions: (\d+), (\d+) points") == [len(written),
                                                                       sum(m["points"] for m in written)]
    assert quoted(stem, r"\*Time: about (\d+) (?:minutes|hours)") > 0
    if checks:
        assert quoted(stem, r"Exercises: (\d+) functions?, (\d+) points") == [
            len(checks), sum(m["points"] for m in checks)]
        assert len(checks) == sum(1 for c in CHECKS if c.lesson.startswith(stem + "-"))


# ----------------------------------------------------------------------------- lesson 1


def test_l01_data_set_and_best_per_step_rule():
    ns = run_cells("01", "import numpy as np", "N_SEQ, T, P_ONE")
    assert quoted("01", r"small, seeded: (\d+) sequences of (\d+) steps, a 1 with probability (N)") == [
        ns["N_SEQ"], ns["T"], ns["P_ONE"]]
    # "The best rule does no better than always answering 1."
    assert quoted("01", r"The best rule does no better than always answering (1)\.") == 1
    xs, targets = ns["xs_bits"], ns["targets"]
    accuracy = {(g0, g1): np.mean(np.where(xs == 1, g1, g0) == targets) for g0 in (0, 1) for g1 in (0, 1)}
    assert max(accuracy.values()) == accuracy[1, 1]


# ----------------------------------------------------------------------------- lesson 2


def _pulse_runs(ns, radius):
    W_s = ns["A_base"] * (radius / ns["rho_base"])
    W = np.concatenate([ns["W_x"], W_s], axis=1)
    H = ns["H_big"]
    s_a = ns["run_rnn"](ns["xs_pulse"], np.zeros((1, H)), W, ns["b0"])[:, 0]
    s_b = ns["run_rnn"](ns["xs_pulse"], ns["nudge"], W, ns["b0"])[:, 0]
    return np.linalg.norm(s_a, axis=1), np.linalg.norm(s_a - s_b, axis=1)


@pytest.fixture(scope="module")
def lesson2():
    return run_cells("02", "import numpy as np", "def run_rnn", "H_big, T_big")


def test_l02_pulse_fades_at_radius_half(lesson2):
    fall, start, mantissa, exponent = quoted(
        "02", r"norm falls by (\d+) orders of magnitude in 50 steps \(from about (\d+) at step 1 to "
              r"\$(\d+) \\cdot 10\^\{(-\d+)\}\$ at step 50\)")
    norms, _ = _pulse_runs(lesson2, 0.5)
    assert abs(orders(norms[0] / norms[49]) - fall) < 0.5                   # rounded to whole orders
    assert norms[0] == pytest.approx(start, rel=0.1)                          # "about": within 10%
    assert norms[49] == pytest.approx(mantissa * 10.0 ** exponent, rel=0.1)


def test_l02_nearby_states_diverge_at_radius_three(lesson2):
    grow, size = quoted("02", r"grows by (\w+) orders of magnitude \(to about (N)\)")
    _, distance = _pulse_runs(lesson2, 3.0)
    nudge = np.linalg.norm(lesson2["nudge"])
    assert abs(orders(distance.max() / nudge) - grow) < 0.5
    assert distance.max() == pytest.approx(size, rel=0.05)


def test_l02_difference_creeps_up_at_radius_one_and_a_half(lesson2):
    factor = quoted("02", r"creeps up \(by a factor of about (\d+) in 60 steps\)")
    _, distance = _pulse_runs(lesson2, 1.5)
    assert len(distance) == 60
    assert distance[-1] / distance[0] == pytest.approx(factor, rel=0.1)


@pytest.mark.slow
def test_l02_full_size_radius_one_and_a_half_grows_by_orders():
    # "in the full-size run ($H = 512$, 500 steps) it too grows by orders of magnitude"
    H, T = quoted("02", r"full-size run \(\$H = (\d+)\$, (\d+) steps\) it too grows by orders of magnitude")
    ns = run_cells("02", "import numpy as np", "def run_rnn", "H_big, T_big",
                   replace={"H_big, T_big = 64, 60 ": f"H_big, T_big = {int(H)}, {int(T)} ",
                            # only the radius in question: at radius 3 the linear RNN's norm
                            # overflows float64 within 500 steps
                            "radii = [0.5, 0.9, 1.0, 1.5, 3.0]": "radii = [1.5]"})
    _, distance = _pulse_runs(ns, 1.5)
    assert orders(distance.max() / distance[0]) > 2


# ----------------------------------------------------------------------------- lesson 3


def test_l03_model_answer_counts_match_the_formula():
    ns = run_cells("03", "import numpy as np", "import rnnkit", "def count_by_formula")
    count, gates = ns["count_by_formula"], ns["GATES"]
    layer1, layer2, total = quoted("03", r"= (21\{,\}760)\$.*?= (12\{,\}416)\$.*?Total \$(34\{,\}176)\$")
    assert [layer1, layer2] == [count(4, 20, [64]), count(4, 64, [32])]
    assert total == count(gates["lstm"], 20, [64, 32])
    gru1, gru2, gru_total = quoted("03", r"\$(16\{,\}320) \+ (9\{,\}312) = (25\{,\}632)\$")
    assert [gru1, gru2] == [count(3, 20, [64]), count(3, 64, [32])]
    assert gru_total == count(gates["gru"], 20, [64, 32])
    assert quoted("03", r"giving \$4 \\cdot 32 \\cdot 53 = (6\{,\}784)\$") == count(4, 20, [32])


def test_l03_pytorch_gru_has_two_h_redundant_biases_not_three():
    # Lesson 3 says only 2 H of nn.GRU's extra biases are redundant; check it on lesson 5's numpy
    # transcription of PyTorch's documented formula: moving a bias between bias_ih and bias_hh leaves
    # the function unchanged for the reset and update blocks, and changes it for the candidate.
    assert quoted("03", r"In `nn.GRU` only \$(\d) H_l\$ of them are redundant") == 2
    ns = run_cells("05", "import time", "def pytorch_gru_step")
    rng = np.random.default_rng(0)
    D, H, B = 3, 4, 5
    weight_ih, weight_hh = rng.normal(size=(3 * H, D)), rng.normal(size=(3 * H, H))
    bias_ih, bias_hh = rng.normal(size=3 * H), rng.normal(size=3 * H)
    x, h = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    step = ns["pytorch_gru_step"]
    reference = step(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    redundant = 0
    for block in range(3):
        moved_ih, moved_hh = bias_ih.copy(), bias_hh.copy()
        rows = slice(block * H, (block + 1) * H)
        moved_ih[rows] += moved_hh[rows]
        moved_hh[rows] = 0.0
        if np.allclose(step(x, h, weight_ih, weight_hh, moved_ih, moved_hh), reference, atol=1e-12):
            redundant += H
    assert redundant == 2 * H


# ----------------------------------------------------------------------------- lesson 4


def test_l04_untrained_gate_means():
    ns = run_cells("04", "import numpy as np", "def gate_trace")
    input_mean, output_mean = quoted("04", r"their means in the panels: (N) and (N)\)")
    forget_mean = quoted("04", r"\\sigma\(1\) \\approx 0\.73\$ \(mean (N)\)")
    trace = ns["trace"]
    # Two decimals, as quoted: within half a unit of the last digit.
    for key, value in [("I", input_mean), ("O", output_mean), ("f", forget_mean)]:
        assert abs(trace[key].mean() - value) <= 0.005, key


def test_l04_hand_built_adder_within_a_tenth_of_a_percent():
    ns = run_cells("04", "import numpy as np", "def gate_trace", "def hand_built_adder")
    percent, state, total = quoted(
        "04", r"to within (N)% \(final state (N) against a sum of (N)\)")
    final, target = ns["trace"]["s"][-1, 0], ns["target"][-1]
    assert abs(final - state) <= 5e-5 and abs(target - total) <= 5e-5        # four decimals
    assert abs(final - target) / target < percent / 100


@pytest.fixture(scope="module")
def lesson4_streams():
    return run_cells("04", "import numpy as np", "def state_history")


def test_l04_memo_state_drift_numbers(lesson4_streams):
    histories = lesson4_streams["histories"]
    standard = np.abs(histories["lstm"]).mean(axis=(1, 2))[9:]          # from t = 10 on, as the table
    low, high = quoted("04", r"mean \$\|s_t\|\$ between about (N) and (N)\)")
    assert (round(standard.min(), 2), round(standard.max(), 2)) == (low, high)
    saturated = {t: np.mean(np.abs(np.tanh(histories["lstm_memo"][t - 1])) > 0.99) for t in (100, 1000, 2000)}
    at_100, at_end = quoted("04", r"most units are saturated \((N)% at \$t = 100\$\); by the end almost "
                                  r"all of them are \((N)%\)")
    assert abs(100 * saturated[100] - at_100) <= 0.05 and abs(100 * saturated[2000] - at_end) <= 0.05
    # The model answer to question 1.
    early, late, stays = quoted("04", r"from about (N) at \$t=10\$ to about (\d+) at \$t=2000\$\), "
                                      r"while the standard form stays near (N)")
    memo = np.abs(histories["lstm_memo"]).mean(axis=(1, 2))
    assert memo[9] == pytest.approx(early, abs=0.05)                   # "about": within 0.05
    assert memo[1999] == pytest.approx(late, rel=0.05)                  # and within 5%
    assert standard.mean() == pytest.approx(stays, abs=0.02)
    assert 100 * saturated[1000] > quoted("04", r"over (\d+)% of units after 1000 steps")


@pytest.mark.slow
def test_l04_full_size_memo_state_reaches_about_two_thousand():
    full, expected = quoted("04", r"set `T_LONG = (\d+)`.*?mean \$\|s_t\|\$ to reach about (\d+)")
    ns = run_cells("04", "import numpy as np", "def state_history",
                   replace={"T_LONG = 2000 ": f"T_LONG = {int(full)} "})
    assert np.abs(ns["histories"]["lstm_memo"][-1]).mean() == pytest.approx(expected, rel=0.1)


# ----------------------------------------------------------------------------- lesson 5


def test_l05_pytorch_translation_gap():
    ns = run_cells("05", "import time", "def pytorch_gru_step", "y_memo = np.zeros")
    gaps = ns["gaps"]["PyTorch, z = 1 - u (negated update block)"]
    largest, steps = quoted("05", r"From step 2 on the outputs differ, by up to (N) within (\d+) "
                                  r"steps")
    assert len(gaps) == steps
    assert gaps[0] < 1e-14                                             # "agrees at step 1 to rounding error"
    assert abs(max(gaps) - largest) <= 0.0005                          # three decimals
    assert max(ns["gaps"]["Keras reset_after=False, z = 1 - u"]) < 1e-14


def test_l05_time_constants():
    ns = run_cells("05", "import time")
    tau_small, inverse_small = quoted("05", r"\$u = 0\.05\$, \$\\tau = (N)\$ against \$1/u = (\d+)\$")
    tau_large, inverse_large = quoted("05", r"\$u = 0\.9\$: \$\\tau = (N)\$, not (N)\)")
    # The lesson's own curve: the gap 1 - y_t shrinks by e after tau steps, tau = -1/ln(1 - u).
    final_output = ns["gru"].final_output
    for u, tau, inverse in [(0.05, tau_small, inverse_small), (0.9, tau_large, inverse_large)]:
        y = final_output(np.full(1, u), np.zeros(1), np.ones(1))
        per_step = 1 - y[0]                                            # gap after one step, from 1
        assert -1 / math.log(per_step) == pytest.approx(tau, abs=0.05)
        assert 1 / u == pytest.approx(inverse, abs=0.05)


# ----------------------------------------------------------------------------- lesson 6


@pytest.fixture(scope="module")
def lesson6_lags():
    ns = run_cells("06", "import matplotlib", "T_LAG, D, H, B")
    profiles = {g: ns["gradient_by_lag"](ns["RNN"], ns["rnn_with_gain"](g)) for g in (0.5, 1.0, 1.5, 2.0)}
    return ns, profiles


def test_l06_basic_rnn_gradient_by_lag(lesson6_lags):
    _, profile = lesson6_lags
    exponent = quoted("06", r"for \$g = 0\.5\$, by a factor of about \$10\^\{(-\d+)\}\$ over 60 steps")
    assert abs(orders(profile[0.5][60] / profile[0.5][0]) - exponent) < 0.5
    lost = quoted("06", r"even \$g = 1\$ loses (\d+) orders over 100 steps")
    assert abs(orders(profile[1.0][0] / profile[1.0][100]) - lost) < 0.5
    at_100, at_119 = quoted("06", r"by (N) orders of magnitude at lag 100 \((N) at lag 119\)")
    assert abs(orders(profile[2.0][100] / profile[2.0][0]) - at_100) <= 0.05
    assert abs(orders(profile[2.0][119] / profile[2.0][0]) - at_119) <= 0.05
    within = quoted("06", r"Only near \$g = 1\.5\$ does it stay within (\w+) orders over all 120 steps")
    assert orders(profile[1.5].max() / profile[1.5].min()) < within
    assert orders(profile[1.0].max() / profile[1.0].min()) > within      # "only": g = 1 does not


def test_l06_mean_tanh_slope_explains_the_gain(lesson6_lags):
    from rnnkit import RNN, unroll

    ns, _ = lesson6_lags
    slope = quoted("06", r"are smaller \(about (N) on average at \$g = 1\.5\$\)")
    states, _ = unroll(RNN, ns["xs_lag"], RNN.zero_state(ns["B"], ns["H"]), ns["rnn_with_gain"](1.5))
    assert np.mean(1 - states ** 2) == pytest.approx(slope, abs=0.05)


def test_l06_gated_cells_with_remembering_biases_keep_the_gradient(lesson6_lags):
    ns, _ = lesson6_lags
    at_most = quoted("06", r"gradient from 100 steps back is still within an order or (\w+) of the recent")
    for name in ("LSTM, forget bias 4", "GRU, update bias -3"):
        cell, params = ns["gated"][name]
        profile = ns["gradient_by_lag"](cell, params)
        assert orders(profile[0] / profile[100]) <= at_most, name


def test_l06_gain_sets_the_singular_value_and_the_spectral_radius(lesson6_lags):
    ns, _ = lesson6_lags
    singular, radius = quoted("06", r"here, with \$H = 32\$, they are \$(N)g\$ and \$(N)g\$\)")
    for g in (0.5, 1.0, 1.5, 2.0):
        W_s = ns["rnn_with_gain"](g).W[:, ns["D"]:]
        assert np.linalg.norm(W_s, 2) / g == pytest.approx(singular, abs=0.05)
        assert np.max(np.abs(np.linalg.eigvals(W_s))) / g == pytest.approx(radius, abs=0.005)


def _clip_numbers(ns):
    unclipped, clipped = ns["runs"][None], ns["runs"][1.0]
    return (np.mean(unclipped["loss"][-10:]), np.mean(clipped["loss"][-10:]),
            np.asarray(unclipped["grad_norm"]), np.asarray(unclipped["loss"]))


def test_l06_clipping_numbers():
    ns = run_cells("06", "import matplotlib", "EPOCHS_CLIP")
    unclipped_end, clipped_end, norms, losses = _clip_numbers(ns)
    count, largest, peak, ends, reaches, zero = quoted(
        "06", r"Without clipping, (\w+) steps early in training have gradient norms in the thousands \(the "
              r"largest about ([\d,]+)\); they throw the loss up \(to about (\d+) in this run\).*?it "
              r"ends near (N), while the clipped run.*?reaches about (N) \(always predicting "
              r"0 would score about (N)\)")
    assert np.sum(norms >= 1000) == count
    assert norms.max() == pytest.approx(largest, rel=0.05)
    assert losses.max() == pytest.approx(peak, rel=0.05)
    assert abs(unclipped_end - ends) <= 0.005 and abs(clipped_end - reaches) <= 0.0005   # as rounded
    targets = np.concatenate([t for _, t in ns["batches"]], axis=1)
    assert np.mean(targets ** 2) == pytest.approx(zero, abs=0.05)


@pytest.mark.slow
def test_l06_clipping_numbers_at_thirty_epochs():
    epochs, reaches, stays = quoted(
        "06", r"With `EPOCHS_CLIP = (\d+)` the clipped run goes on down to about (N), while the "
              r"unclipped one stays near (N)\.")
    ns = run_cells("06", "import matplotlib", "EPOCHS_CLIP",
                   replace={"EPOCHS_CLIP = 5 ": f"EPOCHS_CLIP = {int(epochs)} "})
    unclipped_end, clipped_end, _, _ = _clip_numbers(ns)
    assert abs(clipped_end - reaches) <= 0.0005 and abs(unclipped_end - stays) <= 0.01


# ----------------------------------------------------------------------------- lesson 7 (small study)


@pytest.fixture(scope="module")
def lesson7():
    # Every code cell but the set-up: the whole small study (about a minute on one core).
    return run_cells("07", "")


@pytest.mark.slow
def test_l07_adding_problem_steps_and_losses(lesson7):
    steps = lesson7["steps_to_target"]
    assert quoted("07", r"it reaches the target at every length \(in (\d+), (\d+) and (\d+) steps at "
                        r"\$T = 10, 20, 40\$\)") == steps["gru"]
    memo, standard = quoted("07", r"\(the memo's form in (\d+) steps, the standard one in (\d+)\)")
    assert steps["lstm_memo"] == [memo, None, None] and steps["lstm"] == [standard, None, None]
    assert steps["rnn"] == [None, None, None]
    rnn_10, baseline, rnn_20, rnn_40 = quoted(
        "07", r"\(final test MSE (N) against (N)\), but at \$T = 20\$ and \$40\$ it ends at the "
              r"baseline's level \((N) and (N)\)")
    finals = [lesson7["adding"]["rnn", T, 0]["test_mse"][-1] for T in (10, 20, 40)]
    assert np.allclose(finals, [rnn_10, rnn_20, rnn_40], atol=0.0005)
    assert baseline == round(1 / 6, 3)
    # The model answer to question 1 quotes the same run.
    pattern = r"GRU reached MSE 0\.05 at every length \((\d+), (\d+) and (\d+) steps"
    assert quoted("07", pattern) == steps["gru"]
    assert quoted("07", r"the LSTM needed (\d+) steps at \$T = 10\$") == steps["lstm"][0]
    gru_10, lstm_10 = quoted("07", r"at \$T = 10\$: (\d+) steps against (\d+);")
    assert [gru_10, lstm_10] == [steps["gru"][0], steps["lstm"][0]]


@pytest.mark.slow
def test_l07_accuracy_against_training_set_size(lesson7):
    runs, sizes = lesson7["data_runs"], lesson7["DATA_SIZES"]

    def percent(cell, n):
        return 100 * runs[cell, n, 0]["accuracy"]

    gru = quoted("07", r"\((\d+)%, (\d+)% and (\d+)% for \$n\$ = 128, 512, 2048\)")
    assert np.allclose([percent("gru", n) for n in sizes], gru, atol=0.5)
    assert abs(percent("lstm", 2048) - quoted("07", r"the LSTM with 2,048 \((\d+)%\)")) <= 0.5
    low, high = quoted("07", r"The memo's LSTM \((\d+) to (\d+)%\)")
    memo = [percent("lstm_memo", n) for n in sizes]
    assert abs(min(memo) - low) <= 0.5 and abs(max(memo) - high) <= 0.5
    near = quoted("07", r"The basic RNN stays near (\d+)%")
    assert all(abs(percent("rnn", n) - near) <= 2.5 for n in sizes)
    factor = quoted("07", r"training and test errors are close \(within a factor of (\w+)\) at every \$n\$")
    for cell in ("lstm", "lstm_memo", "gru"):
        for n in sizes:
            test_mse, train_mse = runs[cell, n, 0]["test_mse"], runs[cell, n, 0]["train_mse"]
            assert max(test_mse / train_mse, train_mse / test_mse) < factor, (cell, n)
    smallest = runs["rnn", sizes[0], 0]
    assert smallest["test_mse"] > factor * smallest["train_mse"]       # "only the basic RNN overfits"


@pytest.mark.slow
def test_l07_characters_and_series(lesson7):
    gru, rnn, lstm, memo = quoted(
        "07", r"the GRU is lowest \((N) bits per character\), just ahead of the basic RNN "
              r"\((N)\), then the LSTM \((N)\) and the memo's LSTM \((N)\)")
    bits = {c: lesson7["chars"][c, 0]["bits"][-1] for c in ("gru", "rnn", "lstm", "lstm_memo")}
    assert np.allclose(list(bits.values()), [gru, rnn, lstm, memo], atol=0.005)
    ratios = lesson7["ratios"]
    assert quoted("07", r"the LSTM was (N) times worse") == round(ratios["lstm"], 1)
    memo_ratio = quoted("07", r"price series \((N) times persistence's error\)")
    assert memo_ratio == round(ratios["lstm_memo"], 1)
    assert round(ratios["gru"], 2) == round(ratios["rnn"], 2) == 1.0          # "matched it"

