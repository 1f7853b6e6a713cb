"""Attacks on the trusted side of the package checks (autograder.grading.checkrun, sandbox, casefile).

Every attacker is the answer key with one function wrapped so that, before doing its
job, it attacks what the grader reads back or the limits the grader relies on: a
result file replaced by a FIFO, a link to a host file, a folder; an oversized or
damaged result; a loop that keeps touching files; tens of thousands of folders; a
folder made unreadable; functions that never return. The rule, as in test_attacks:
no attacker scores more than the same submission without the attack (the baseline),
no host file's content reaches a message, the grader never hangs, and nothing is
left behind. Each test runs the real sandbox through ``run_submission_checks``.
"""

import concurrent.futures
import json
import os
import pwd
import stat
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import casefile
from autograder.checks.compare import Outcome
from autograder.demo import classroom
from autograder.grading import checkrun, sandbox
from autograder.specs.cases import make_cases

pytestmark = pytest.mark.skipif(not sandbox.bubblewrap_available(), reason="bubblewrap cannot start here")

SEED = 11
CHECK_IDS = ["lstm.forget_gate", "lstm.input_gate", "lstm.new_state"]
TARGET = "lstm.forget_gate"  # checked first: its result is on disk when input_gate runs
TARGET_FILE = f"/io/out/{TARGET}.npz"
SECRET = "HOST-SECRET-7f3a9c"


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return classroom.Templates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="module")
def cases():
    return make_cases(SEED, check_ids=CHECK_IDS)


@pytest.fixture(scope="module")
def baseline(templates, cases, tmp_path_factory):
    learner = templates.learner(tmp_path_factory.mktemp("base") / "learner")
    limits = sandbox.Limits(idle_seconds=20)
    outcomes, _runs = checkrun.run_submission_checks(learner, cases, CHECK_IDS, limits)
    assert {c: o.score for c, o in outcomes.items()} == {c: o.max_score for c, o in outcomes.items()}
    return outcomes


def attacker(templates, folder, function, attack, once=True):
    """The answer key, with ``function`` in lstm.py running ``attack`` (source using ``os``,
    ``time``) before it does its job (once, or on every call)."""
    learner = templates.learner(folder / "learner")
    body = textwrap.indent(textwrap.dedent(attack).strip("\n"), " " * 8)
    classroom.append_code(learner / "rnnkit" / "lstm.py", f'''
import functools as _functools
_attacked = []
_original_{function} = {function}


@_functools.wraps(_original_{function})
def {function}(*args, **kwargs):
    import os, time
    if not _attacked or not {once!r}:
        _attacked.append(1)
{body}
    return _original_{function}(*args, **kwargs)
''')
    return learner


def grade(learner, cases, tmp_path, timeout=60, **kwargs):
    """run_submission_checks in a worker thread: a grader that hangs fails the test."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    kwargs.setdefault("limits", sandbox.Limits(idle_seconds=20))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(checkrun.run_submission_checks, learner, cases, CHECK_IDS, work_dir=work,
                             **kwargs)
        try:
            outcomes, runs = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            pytest.fail(f"the grader did not finish within {timeout} s")
    return outcomes, runs, time.monotonic() - started


def assert_no_gain(outcomes, baseline):
    assert set(outcomes) == set(baseline)
    for check_id, outcome in outcomes.items():
        assert outcome.score <= baseline[check_id].score, check_id
        assert outcome.internal == "", check_id


def assert_clean(outcomes, tmp_path, *secrets):
    text = " ".join(o.message for o in outcomes.values())
    for secret in (str(tmp_path), "/tmp/", "rnn-checks-", *secrets):
        assert secret not in text
    assert list((tmp_path / "work").iterdir()) == []  # the sandbox's folders are gone


# --------------------------------------------------------------------------- result files replaced


@pytest.mark.slow
@pytest.mark.parametrize("replacement", ["fifo", "directory", "symlink", "device link"])
def test_a_result_replaced_by_something_not_a_file_costs_that_check(templates, cases, baseline, tmp_path,
                                                                     replacement):
    secret = tmp_path / "host-secret.txt"
    secret.write_text(f"{SECRET}\n")
    make = {
        "fifo": f"os.mkfifo({TARGET_FILE!r})",
        "directory": f"os.mkdir({TARGET_FILE!r})",
        "symlink": f"os.symlink({str(secret)!r}, {TARGET_FILE!r})",  # resolved on the host if followed
        "device link": f"os.symlink('/dev/zero', {TARGET_FILE!r})",
    }[replacement]
    learner = attacker(templates, tmp_path, "input_gate", f"os.remove({TARGET_FILE!r})\n{make}")
    outcomes, runs, _seconds = grade(learner, cases, tmp_path)
    assert_no_gain(outcomes, baseline)
    assert outcomes[TARGET].score == 0
    assert outcomes[TARGET].message == checkrun.RESULT_PROBLEMS["not a regular file"]
    assert outcomes["lstm.input_gate"].score == baseline["lstm.input_gate"].score
    assert_clean(outcomes, tmp_path, SECRET, str(secret))
    assert secret.read_text() == f"{SECRET}\n"


@pytest.mark.slow
def test_import_record_linked_to_a_host_file_is_not_read(templates, cases, baseline, tmp_path):
    # If the grader followed the link it would think rnnkit failed to import and quote the "error".
    secret = tmp_path / "host-secret.json"
    secret.write_text(json.dumps({"error": SECRET}))
    learner = attacker(templates, tmp_path, "input_gate", f"""
        os.remove('/io/out/_import.json')
        os.symlink({str(secret)!r}, '/io/out/_import.json')
        os._exit(0)
    """)
    outcomes, _runs, _seconds = grade(learner, cases, tmp_path)
    assert_no_gain(outcomes, baseline)
    assert outcomes[TARGET].score == baseline[TARGET].score  # finished before the attack
    assert_clean(outcomes, tmp_path, SECRET, str(secret))


def test_oversized_result(templates, cases, baseline, tmp_path):
    learner = attacker(templates, tmp_path, "input_gate", f"""
        with open({TARGET_FILE!r}, 'r+b') as f:
            f.truncate(21_000_000)  # sparse: cheap to make, larger than the reader's cap
    """)
    outcomes, _runs, _seconds = grade(learner, cases, tmp_path,
                                      limits=sandbox.Limits(idle_seconds=20, file_bytes=32 << 20))
    assert_no_gain(outcomes, baseline)
    assert outcomes[TARGET].score == 0
    assert outcomes[TARGET].message == checkrun.RESULT_PROBLEMS["too large"]
    assert_clean(outcomes, tmp_path)


@pytest.mark.parametrize("content", ["garbage", "truncated", "other check"])
def test_malformed_result(templates, cases, baseline, tmp_path, content):
    attack = {
        "garbage": f"open({TARGET_FILE!r}, 'wb').write(b'PK\\x03\\x04' + os.urandom(3000))",
        "truncated": f"""
            data = open({TARGET_FILE!r}, 'rb').read()
            open({TARGET_FILE!r}, 'wb').write(data[:-40])
        """,
        # well-formed, written with the grader's own (importable) code, but labelled for another check
        "other check": f"""
            from rnncheck import casefile as cf
            meta, buffers = cf.load({TARGET_FILE!r})
            meta['check_id'] = 'lstm.input_gate'
            store = cf._Store()
            store.buffers = lambda: buffers
            cf.save({TARGET_FILE!r}, meta, store)
        """,
    }[content]
    learner = attacker(templates, tmp_path, "input_gate", attack)
    outcomes, _runs, _seconds = grade(learner, cases, tmp_path)
    assert_no_gain(outcomes, baseline)
    assert outcomes[TARGET].score == 0
    assert outcomes[TARGET].message == checkrun.RESULT_PROBLEMS["malformed"]
    assert outcomes["lstm.input_gate"].score == baseline["lstm.input_gate"].score
    assert_clean(outcomes, tmp_path)


def test_the_three_result_problems_have_different_messages():
    problems = ("missing", "too large", "malformed", "not a regular file")
    messages = [checkrun.RESULT_PROBLEMS[p] for p in problems]
    assert len(set(messages)) == 4
    assert all("/" not in m.replace("files or folders", "") for m in messages)


# --------------------------------------------------------------------------- limits


@pytest.mark.slow
def test_touching_files_does_not_keep_a_stalled_check_alive(templates, cases, baseline, tmp_path):
    # Creates, deletes and re-creates files (new names and the same ones) forever: with the
    # idle limit counting file changes this ran until the wall limit (60 s).
    learner = attacker(templates, tmp_path, "forget_gate", """
        i = 0
        while True:
            open('/io/out/touched', 'w').close()
            os.remove('/io/out/touched')
            open(f'/io/out/new-{i}', 'w').close()
            os.remove(f'/io/out/new-{i}')
            os.utime('/io/out/_import.json')
            i += 1
            time.sleep(0.01)
    """)
    limits = sandbox.Limits(idle_seconds=2, wall_seconds=60)
    outcomes, runs, seconds = grade(learner, cases, tmp_path, limits=limits, budget_seconds=120)
    assert seconds < 15
    assert runs[0].killed_reason == "time limit"
    assert_no_gain(outcomes, baseline)
    assert outcomes[TARGET].score == 0 and "time limit" in outcomes[TARGET].message
    assert outcomes["lstm.new_state"].score == baseline["lstm.new_state"].score  # graded in a fresh run
    assert_clean(outcomes, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["folders", "files", "nested"])
def test_too_many_entries_are_stopped_and_removed(templates, cases, baseline, tmp_path, what):
    attack = {
        "folders": "for i in range(60000):\n    os.mkdir(f'/io/out/d{i}')",
        "files": "for i in range(60000):\n    open(f'/io/out/f{i}', 'w').close()",
        "nested": "os.chdir('/io/out')\nfor i in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
                  "time.sleep(600)",
    }[what]
    learner = attacker(templates, tmp_path, "forget_gate", attack)
    limits = sandbox.Limits(idle_seconds=60, wall_seconds=60, out_dir_entries=500)
    outcomes, runs, seconds = grade(learner, cases, tmp_path, limits=limits)
    assert seconds < 20
    assert runs[0].killed_reason == "output limit"
    assert_no_gain(outcomes, baseline)
    assert outcomes[TARGET].score == 0 and "too many" in outcomes[TARGET].message
    assert outcomes["lstm.input_gate"].score == baseline["lstm.input_gate"].score
    assert_clean(outcomes, tmp_path)


@pytest.mark.slow
def test_unreadable_leftovers_are_removed(templates, cases, baseline, tmp_path):
    learner = attacker(templates, tmp_path, "forget_gate", """
        os.makedirs('/io/out/hide/deeper/deepest')
        for p in ['/io/out/hide/deeper/deepest/f', '/io/out/hide/deeper/g', '/io/out/ro']:
            open(p, 'w').write('x')
            os.chmod(p, 0o400)
        for p in ['/io/out/hide/deeper/deepest', '/io/out/hide/deeper', '/io/out/hide']:
            os.chmod(p, 0)
    """)
    outcomes, _runs, _seconds = grade(learner, cases, tmp_path)
    assert_no_gain(outcomes, baseline)
    assert_clean(outcomes, tmp_path)


@pytest.mark.slow
def test_total_time_budget_holds_across_restarts(templates, cases, baseline, tmp_path):
    # Every function sleeps forever: each restart would cost the idle limit again.
    learner = templates.learner(tmp_path / "learner")
    for name in ("forget_gate", "input_gate", "input_activation", "output_gate", "new_state"):
        classroom.replace_function(learner / "rnnkit" / "lstm.py", name,
                                   f"def {name}(*args):\n    import time\n    time.sleep(10**6)\n")
    all_ids = ["lstm.forget_gate", "lstm.input_gate", "lstm.input_activation", "lstm.output_gate",
               "lstm.new_state"]
    limits = sandbox.Limits(idle_seconds=2, wall_seconds=60)
    budget = 5.0
    started = time.monotonic()
    outcomes, runs = checkrun.run_submission_checks(learner, make_cases(SEED, check_ids=all_ids), all_ids,
                                                    limits, work_dir=_work(tmp_path), budget_seconds=budget,
                                                    max_same_failures=100)
    seconds = time.monotonic() - started
    assert seconds < budget + 4  # without the budget: about 5 x (start + 2 s)
    assert all(o.score == 0 for o in outcomes.values())
    assert sum(o.message == checkrun.BUDGET_MESSAGE.format(seconds=budget) for o in outcomes.values()) >= 2
    assert "time limit" in outcomes["lstm.forget_gate"].message
    assert list((tmp_path / "work").iterdir()) == []


@pytest.mark.slow
def test_restarts_stop_when_the_sandbox_keeps_dying_the_same_way(templates, tmp_path):
    learner = templates.learner(tmp_path / "learner")
    all_ids = ["lstm.forget_gate", "lstm.input_gate", "lstm.input_activation", "lstm.output_gate",
               "lstm.new_state"]
    for name in all_ids:
        fn = name.split(".")[1]
        classroom.replace_function(learner / "rnnkit" / "lstm.py", fn,
                                   f"def {fn}(*args):\n    import os\n    os._exit(5)\n")
    outcomes, runs = checkrun.run_submission_checks(learner, make_cases(SEED, check_ids=all_ids), all_ids,
                                                    sandbox.Limits(idle_seconds=20), work_dir=_work(tmp_path),
                                                    max_same_failures=3)
    assert len(runs) == 3
    assert all(o.score == 0 for o in outcomes.values())
    messages = [o.message for o in outcomes.values()]
    blamed = [m.startswith("Your `") and "exit status 5" in m for m in messages]
    assert blamed == [True, True, True, False, False]
    assert ["3 times in a row" in m for m in messages] == [False, False, False, True, True]


def test_no_sandboxed_process_survives_a_kill():
    marker = f"marker-{os.getpid()}-{time.monotonic_ns()}"
    code = [f"# {marker}", "import threading, time",
            "threading.Thread(target=time.sleep, args=(600,)).start()", "time.sleep(600)"]
    result = sandbox.run_python(code, limits=sandbox.Limits(wall_seconds=1))
    assert result.killed_reason == "time limit"
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state not in "ZX":
            survivors.append(pid)
    assert survivors == []


# --------------------------------------------------------------------------- trusted failures


@pytest.mark.slow
def test_a_judge_failure_is_reported_as_internal_not_blamed_on_the_learner(templates, cases, tmp_path,
                                                                           monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("judge bug")

    monkeypatch.setattr(checkrun, "judge_results", broken)  # the judge as the grader calls it
    learner = templates.learner(tmp_path / "learner")
    outcomes, _runs, _seconds = grade(learner, cases, tmp_path)
    for outcome in outcomes.values():
        assert outcome.score == 0 and outcome.max_score > 0
        assert outcome.message == checkrun.INTERNAL_MESSAGE
        assert "RuntimeError: judge bug" in outcome.internal
    assert list((tmp_path / "work").iterdir()) == []


def test_a_case_writing_failure_is_reported_as_internal(templates, cases, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkrun, "write_cases", broken)  # the case writer as the grader calls it
    learner = templates.learner(tmp_path / "learner")
    outcomes, runs, _seconds = grade(learner, cases, tmp_path)
    assert runs == []
    for outcome in outcomes.values():
        assert outcome.message == checkrun.INTERNAL_MESSAGE and "disk full" in outcome.internal
    assert Outcome(1.0, 2.0, "ok").internal == ""  # positional construction still works


# --------------------------------------------------------------------------- helpers, directly


def _work(tmp_path):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return work


def test_read_untrusted_refuses_what_is_not_a_regular_file(tmp_path):
    (tmp_path / "ok").write_bytes(b"12345")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "ok")
    (tmp_path / "dir").mkdir()
    (tmp_path / "big").write_bytes(b"x" * 101)
    assert casefile.read_untrusted(tmp_path / "ok", 5) == b"12345"
    problems = {}
    for name in ("fifo", "link", "dir", "big", "missing"):
        with pytest.raises(casefile.UntrustedFileError) as info:
            casefile.read_untrusted(tmp_path / name, 100)
        problems[name] = info.value.problem
    with pytest.raises(casefile.UntrustedFileError) as info:
        casefile.read_untrusted("/dev/zero", 100)
    problems["device"] = info.value.problem
    not_file = "not a regular file"
    assert problems == {"fifo": not_file, "link": not_file, "dir": not_file, "device": not_file,
                        "big": "too large", "missing": "missing"}
    assert casefile.read_untrusted(tmp_path / "big", 10, truncate=True) == b"x" * 10


def test_a_compressed_bomb_result_is_malformed_not_unpacked(tmp_path):
    def write(n):
        store = casefile._Store()
        meta = {"version": casefile.FORMAT_VERSION, "check_id": "rnn.rnn_step",
                "cases": {"v00": {"error": None, "output": {"leaf": "ndarray", "a": store.put(np.zeros(n))},
                                  "modified": [], "aliased": []}}}
        casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
        return (tmp_path / "rnn.rnn_step.npz").stat().st_size

    assert write(10) < 2000
    assert casefile.read_results_checked("rnn.rnn_step", tmp_path, max_unpacked=1_000_000)[1] == ""
    assert write(1_000_000) < 100_000  # 8 MB of zeros, packed small
    got = casefile.read_results_checked("rnn.rnn_step", tmp_path, max_unpacked=1_000_000)
    assert got == (None, "malformed")


def _nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


def _locked_tree(root, keep, outside):
    """A deep tree under ``root`` with read-only files, links out, and folders locked (chmod 000)."""
    os.mkdir(root)
    chain = [root]
    for i in range(1100):  # deeper than recursion (1000) or fd limits allow
        chain.append(os.path.join(chain[-1], "d"))
        os.mkdir(chain[-1])
        if i % 100 == 0:
            with open(os.path.join(chain[-1], "f"), "w") as f:
                f.write("x")
            os.chmod(os.path.join(chain[-1], "f"), 0o400)
            os.symlink(keep, os.path.join(chain[-1], "link"))
            os.symlink(outside, os.path.join(chain[-1], "dirlink"))
    for i in range(3000):
        open(os.path.join(root, f"many{i}"), "w").close()
    os.mkfifo(os.path.join(root, "fifo"))
    for path in reversed(chain[::250]):
        os.chmod(path, 0)


@pytest.mark.slow
def test_remove_tree_removes_what_its_owner_locked_and_follows_no_link():
    # As an ordinary user: root ignores permissions, so as root the work runs as "nobody".
    outside = tempfile.mkdtemp(prefix="rnn-outside-")
    os.chmod(outside, 0o755)
    keep = Path(outside) / "keep.txt"
    keep.write_text("keep")
    root = os.path.join(outside, "tree")
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no unprivileged user to run as")
        os.chown(outside, user.pw_uid, user.pw_gid)
    pid = os.fork()
    if pid == 0:  # child: build the tree and remove it as its owner
        code = 1
        try:
            if user is not None:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
            _locked_tree(root, str(keep), outside)
            sandbox.remove_tree(root)
            code = 0 if not os.path.lexists(root) else 2
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    try:
        assert os.waitstatus_to_exitcode(status) == 0
        assert not os.path.lexists(root)
        assert keep.read_text() == "keep"
        assert stat.S_IMODE(os.stat(outside).st_mode) == 0o755
    finally:
        sandbox.remove_tree(outside)


def test_a_result_naming_one_buffer_many_times_is_refused_not_multiplied(tmp_path):
    # A small file whose tree refers to one array many times: each reference would be copied out,
    # so 32 KB of result could unpack to gigabytes in the trusted grader. The same file with one
    # reference (the baseline) reads fine; with many it is refused as too large, within bounds.
    import resource

    def write(references):
        store = casefile._Store()
        ref = store.put(np.zeros(100_000))
        output = {"seq": "tuple", "items": [{"leaf": "ndarray", "a": ref}] * references}
        meta = {"version": casefile.FORMAT_VERSION, "check_id": "rnn.rnn_step",
                "cases": {f"v{i:02d}": {"error": None, "output": output, "modified": [], "aliased": []}
                          for i in range(20)}}
        casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
        return (tmp_path / "rnn.rnn_step.npz").stat().st_size

    write(1)
    results, problem = casefile.read_results_checked("rnn.rnn_step", tmp_path)
    assert problem == "" and len(results) == 20
    assert write(1000) < 200_000  # 20 cases x 1000 references x 800 KB = 16 GB if copied out
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert casefile.read_results_checked("rnn.rnn_step", tmp_path) == (None, "too large")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, f"the refusal itself took {grown_mib:.0f} MiB"
    # and a list longer than any result the executor writes is refused before it is walked
    store = casefile._Store()
    meta = {"version": casefile.FORMAT_VERSION, "check_id": "rnn.rnn_step",
            "cases": {"v00": {"error": None, "modified": [], "aliased": [],
                              "output": {"seq": "list", "items": [{"none": True}] * 20_000}}}}
    casefile.save(tmp_path / "rnn.rnn_step.npz", meta, store)
    assert casefile.read_results_checked("rnn.rnn_step", tmp_path) == (None, "too large")
