"""nbgrader collect with the course's config: no link followed, no FIFO opened, no forged owner."""

import os
import pwd
import shutil

import pytest
from nbgrader.exchange import ExchangeFactory
from traitlets.config.loader import PyFileConfigLoader

from autograder.building import course
from autograder.grading.collect import SafeExchangeCollect

ASSIGNMENT = "04-lstm"
STUDENT = "learner-without-account"  # no Unix account: only the rule on links and special files applies
SECRET = "def lstm_step():  # REFERENCE SOLUTION, instructor only 7f3a91\n"
TIMEOUT = 120  # seconds: a collect that opens the FIFO blocks forever


@pytest.fixture
def classroom(tmp_path):
    """A course folder with the course's nbgrader_config.py and a reference in source/, and an empty
    exchange laid out as nbgrader's default exchange does: <exchange>/<course_id>/inbound/."""
    root = tmp_path / "course"
    (root / "source" / ASSIGNMENT / "rnnkit").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(course.config_text())
    secret = root / "source" / ASSIGNMENT / "rnnkit" / "lstm.py"
    secret.write_text(SECRET)
    inbound = tmp_path / "exchange" / course.COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    assert STUDENT not in {p.pw_name for p in pwd.getpwall()}
    return root, inbound, secret


def _hand_in(inbound, student, timestamp, lstm_source=None, fifo=False):
    """A submission folder <student>+<assignment>+<timestamp>+<random>; returns its path.

    lstm_source: None writes a learner's own rnnkit/lstm.py, a Path makes it a link to that file."""
    folder = inbound / f"{student}+{ASSIGNMENT}+{timestamp} UTC+0a1b2c3d"
    (folder / "rnnkit").mkdir(parents=True)
    (folder / "timestamp.txt").write_text(f"{timestamp} UTC")
    (folder / f"{ASSIGNMENT}.ipynb").write_text(f'{{"cells": [], "note": "{student} notebook"}}')
    (folder / "rnnkit" / "__init__.py").write_text("")
    (folder / "rnnkit" / "rnn.py").write_text(f"# {student}'s rnn\n")
    if lstm_source is None:
        (folder / "rnnkit" / "lstm.py").write_text(f"# {student}'s own lstm\n")
    else:
        (folder / "rnnkit" / "lstm.py").symlink_to(lstm_source)
    if fifo:
        os.mkfifo(folder / "rnnkit" / "gru.py")
    return folder


def _collect(root, inbound, *extra):
    exchange = inbound.parent.parent
    proc = course.nbgrader("collect", ASSIGNMENT, "--update", f"--Exchange.root={exchange}", *extra,
                           cwd=root, check=False, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _files(folder):
    """{relative path: bytes} of every regular file under folder (links are not followed)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def test_the_course_config_selects_the_safe_collect(classroom):
    root, _, _ = classroom
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    assert ExchangeFactory(config=config).collect is SafeExchangeCollect


def test_a_link_to_the_reference_is_not_collected_and_a_fifo_is_not_opened(classroom):
    root, inbound, secret = classroom
    submitted = root / "submitted" / STUDENT / ASSIGNMENT
    # baseline: the same submission with the learner's own files
    plain = _hand_in(inbound, STUDENT, "2030-01-01 10:00:00.000000")
    _collect(root, inbound)
    baseline = _files(submitted)
    assert baseline == _files(plain)
    assert "rnnkit/lstm.py" in baseline

    # the learner replaces lstm.py by a link to the reference and adds a FIFO, in a newer hand-in
    shutil.rmtree(plain)
    attack = _hand_in(inbound, STUDENT, "2030-01-02 10:00:00.000000", lstm_source=secret, fifo=True)
    log = _collect(root, inbound)  # returns at all: the FIFO was not opened for reading
    got = _files(submitted)
    assert not any(SECRET.encode() in data for data in got.values())
    assert not any(p.is_symlink() for p in submitted.rglob("*"))
    expected = {rel: data for rel, data in _files(attack).items() if rel != "rnnkit/lstm.py"}
    assert got == expected
    assert set(got) == set(baseline) - {"rnnkit/lstm.py"}
    assert "rnnkit/lstm.py: a symbolic link, left out" in log
    assert "rnnkit/gru.py: not a regular file, left out" in log


def test_nbgrader_s_own_collect_would_take_the_reference(classroom):
    # the attack is real: nbgrader's default collect copies the linked reference in as the learner's work
    root, inbound, secret = classroom
    _hand_in(inbound, STUDENT, "2030-01-02 10:00:00.000000", lstm_source=secret)
    _collect(root, inbound, "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect")
    lstm = root / "submitted" / STUDENT / ASSIGNMENT / "rnnkit" / "lstm.py"
    assert lstm.read_text() == SECRET


def test_a_submission_folder_that_is_a_link_is_not_collected(classroom):
    root, inbound, _ = classroom
    elsewhere = _hand_in(inbound.parent, STUDENT, "2030-01-02 10:00:00.000000")
    (inbound / elsewhere.name).symlink_to(elsewhere, target_is_directory=True)
    log = _collect(root, inbound)
    assert "is not a folder (a link or a file): not collected" in log
    assert not (root / "submitted" / STUDENT / ASSIGNMENT).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder owned by another account needs root")
def test_a_submission_owned_by_another_account_is_not_collected(classroom):
    root, inbound, _ = classroom
    student = "root"  # an existing account, uid 0
    nobody = pwd.getpwnam("nobody").pw_uid
    genuine = _hand_in(inbound, student, "2030-01-01 10:00:00.000000")
    forged = _hand_in(inbound, student, "2030-01-02 10:00:00.000000")  # the newer one, handed in by nobody
    (forged / "rnnkit" / "lstm.py").write_text("# forged\n")
    for path in [forged, *forged.rglob("*")]:
        os.chown(path, nobody, -1, follow_symlinks=False)
    log = _collect(root, inbound)
    assert f"Submission {forged} claims to be from root but belongs to uid {nobody}" in log
    # the student's own (older) submission is the one collected, not the forged newer one
    assert _files(root / "submitted" / student / ASSIGNMENT) == _files(genuine)


# Folder names any learner can make in the inbound folder (it is -wx for them) that nbgrader cannot read:
# a time dateutil does not know, one too large for a datetime, no time at all, and too many '+' parts.
MALFORMED = [f"mallory+{ASSIGNMENT}+not-a-time", f"mallory+{ASSIGNMENT}+99999999999999999999 UTC+0a1b",
             f"mallory+{ASSIGNMENT}+", f"mallory+{ASSIGNMENT}+2030-01-01 10:00:00 UTC+x+y"]


@pytest.mark.parametrize("name", MALFORMED)
def test_a_folder_with_a_malformed_name_does_not_stop_the_collect(classroom, name):
    root, inbound, _ = classroom
    submitted = root / "submitted"
    victim = _hand_in(inbound, STUDENT, "2030-01-01 10:00:00.000000")
    _collect(root, inbound)  # baseline: the exchange without the malformed folder
    baseline = _files(submitted)
    assert baseline == {f"{STUDENT}/{ASSIGNMENT}/{rel}": data for rel, data in _files(victim).items()}

    shutil.rmtree(submitted)
    (inbound / name).mkdir()
    log = _collect(root, inbound)  # _collect asserts that it succeeds
    assert f"Submission folder {inbound / name} has a malformed name" in log
    assert _files(submitted) == baseline


def test_nbgrader_s_own_collect_stops_at_a_malformed_name(classroom):
    # the attack is real: one learner's folder stops nbgrader's default collect for the whole class
    root, inbound, _ = classroom
    _hand_in(inbound, STUDENT, "2030-01-01 10:00:00.000000")
    (inbound / MALFORMED[0]).mkdir()
    proc = course.nbgrader("collect", ASSIGNMENT, f"--Exchange.root={inbound.parent.parent}",
                           "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect",
                           cwd=root, check=False, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert not (root / "submitted" / STUDENT).exists()


def test_an_unreadable_timestamp_txt_does_not_stop_the_next_collect(classroom):
    # nbgrader's collect --update reads the collected timestamp.txt, which the learner wrote
    root, inbound, _ = classroom
    hand_in = _hand_in(inbound, STUDENT, "2030-01-01 10:00:00.000000")
    (hand_in / "timestamp.txt").write_text("not-a-time")
    log = _collect(root, inbound)
    assert f"Submission {hand_in.name}: timestamp.txt cannot be read" in log
    collected = root / "submitted" / STUDENT / ASSIGNMENT / "timestamp.txt"
    assert collected.read_text() == "2030-01-01 10:00:00.000000 UTC"
    _collect(root, inbound)  # the next collect reads it: _collect asserts that it succeeds
