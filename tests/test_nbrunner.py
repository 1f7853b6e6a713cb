"""The nbgrader runner's retry policy and the command line's light start, each on its own."""

import subprocess
import sys

import pytest

from autograder.grading import nbpre
from autograder.grading.nbrunner import LOCKED, RETRY_ROUNDS, chunks, failure_note, pairs_for_round

TODO = [("04-lstm", "bob"), ("04-lstm", "ann"), ("05-gru", "ann")]


def test_the_first_round_grades_every_pair_as_submitted():
    assert pairs_for_round("as submitted", TODO, {}) == sorted(TODO)


def test_a_busy_gradebook_is_retried_as_it_was_and_nothing_else():
    failures = {("04-lstm", "bob"): f"sqlite3.OperationalError: {LOCKED}", ("05-gru", "ann"): "KeyError: 'x'"}
    assert pairs_for_round("locked", TODO, failures) == [("04-lstm", "bob")]


def test_the_released_notebook_stands_in_only_for_the_learners_own_breakage():
    failures = {
        ("04-lstm", "bob"): f"{LOCKED} (twice)",  # the gradebook's fault: not the learner's notebook
        ("05-gru", "ann"): "KeyError: 'cell-abc'",  # a deleted graded cell: the released notebook stands in
        ("04-lstm", "ann"): f"{nbpre.INTERNAL_ERROR}: the sandbox failed",  # the grader's own error
    }
    assert pairs_for_round("released", TODO, failures) == [("05-gru", "ann")]


def test_the_rounds_run_in_the_documented_order_and_an_unknown_one_is_refused():
    assert RETRY_ROUNDS == ("as submitted", "locked", "released")
    with pytest.raises(ValueError, match="unknown retry round"):
        pairs_for_round("again", TODO, {})


@pytest.mark.parametrize(("error", "why"), [
    ("KeyError: 'check_lstm_forget_gate'", "graded cells do not match"),
    ("MissingEntry", "graded cells do not match"),
    ("checksum mismatch", "locked or test cell was changed"),
    ("nbformat.reader.NotJSONError", "could not read it"),
])
def test_the_note_says_why_the_released_notebook_stood_in(error, why):
    note = failure_note(error)
    assert why in note and "written answers in it were not collected" in note


@pytest.mark.parametrize(("n_items", "n"), [(0, 2), (1, 3), (5, 2), (6, 3), (7, 10)])
def test_chunks_cover_every_item_once_in_order_with_no_empty_chunk(n_items, n):
    items = list(range(n_items))
    parts = chunks(items, n)
    assert [x for part in parts for x in part] == items
    assert all(parts) and len(parts) <= max(1, n)
    assert max(map(len, parts), default=0) - min(map(len, parts), default=0) <= 1


def test_help_imports_no_heavy_library():
    # `--help` must answer without nbformat (seconds to import here), nbgrader or numpy:
    # the command line declares every argument itself (measured in benchmarks/bench_cli_help.py).
    code = ("import sys, contextlib, io\n"
            "from autograder import cli\n"
            "for argv in (['--help'], ['grade', '--help'], ['demo', '--help'], ['export', '--help']):\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        cli.main(argv)\n"
            "print(sorted(m for m in ('nbformat', 'nbgrader', 'numpy', 'nbconvert') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_a_check_process_where_bubblewrap_fails_runs_nothing(tmp_path, monkeypatch):
    # Grading decides on bubblewrap once; each check process asks again. If it fails there, the
    # learner's code must not quietly run as a plain subprocess.
    from autograder.grading import checkrun, grade, sandbox

    ran = []
    monkeypatch.setattr(sandbox, "bubblewrap_available", lambda: False)
    monkeypatch.setattr(sandbox, "run_python", lambda *a, **k: ran.append(a))
    (tmp_path / "learner" / "rnnkit").mkdir(parents=True)
    task = ("ann", str(tmp_path / "learner"), ["02-basic-rnn"])
    with pytest.raises(RuntimeError, match="bubblewrap"):
        grade._check_learner(task, (1, 5.0, str(tmp_path), str(tmp_path), True))
    with pytest.raises(RuntimeError, match="bubblewrap"):
        checkrun.run_submission_checks(tmp_path / "learner", [], ["rnn.rnn_step"], require_bwrap=True)
    assert ran == []
