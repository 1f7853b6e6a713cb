"""Taking submissions in must survive anything one learner puts in SUBS.

Each case puts one odd entry in SUBS beside a good submission (the answer key as a
folder) and calls ``submissions.collect`` directly. Every case checks that collect
returns, that the good submission is taken in byte for byte, that the odd one is
ungradable with a reason saying what to do (or taken in without the odd member,
with a note), that nothing outside the work folder was created or changed, and
that no FIFO was opened (a writer thread waits on each FIFO: its open() returns
only if somebody opens the FIFO for reading). A SIGALRM time limit stops a test
that blocks.

One end-to-end run (slow) grades a few of the worst zips beside a good submission.
"""

import csv
import hashlib
import io
import os
import re
import shutil
import signal
import stat
import struct
import threading
import time
import unicodedata
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder.grading import submissions

ACTION = re.compile(r"resubmit|upload|grade again|rename|submit the|instructor|keep one", re.I)


# --------------------------------------------------------------------------- harness


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Fail instead of hanging (an intake blocked on a FIFO would never return)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seconds = 1800 if request.node.get_closest_marker("slow") else 120

    def stop(signum, frame):
        raise TimeoutError(f"the test did not finish within {seconds} s (blocked on a FIFO?)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    from autograder.building.release import build_release

    folder = tmp_path_factory.mktemp("templates") / "answer-key"
    build_release(folder, solutions=True, force=True)
    return folder


@pytest.fixture(scope="module")
def key_zip(key, tmp_path_factory):
    """The answer key zipped under a course/ folder (bytes), to copy and append to."""
    path = tmp_path_factory.mktemp("zips") / "key.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(key.rglob("*")):
            if p.is_file() and not submissions._skip(p.relative_to(key).parts):
                zf.write(p, f"course/{p.relative_to(key)}")
    return path.read_bytes()


def _tree(folder):
    """{relative path: sha256} of the regular files, skipping what intake skips."""
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if submissions._skip(rel.parts) or p.is_symlink() or not p.is_file():
            continue
        out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _snapshot(root, exclude):
    """lstat of everything below root but ``exclude``; contents of regular files only."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [n for n in dirnames if here / n != exclude]
        for name in dirnames + filenames:
            path = here / name
            st = os.lstat(path)
            entry = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns)
            if stat.S_ISREG(st.st_mode):
                try:
                    with open(path, "rb") as f:
                        entry += (hashlib.sha256(f.read()).hexdigest(),)
                except PermissionError:
                    pass
            elif stat.S_ISLNK(st.st_mode):
                entry += (os.readlink(path),)
            state[os.fsencode(path.relative_to(root))] = entry
    return state


class FifoWatch:
    """A FIFO with a writer waiting on it: ``opened`` is set once anybody opens it for reading."""

    def __init__(self, path):
        os.mkfifo(path)
        self.path = path
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()
        time.sleep(0.05)  # let the writer reach open()

    def _wait(self):
        fd = os.open(self.path, os.O_WRONLY)  # blocks until a reader opens the FIFO
        self.opened.set()
        os.close(fd)

    def release(self):
        """True when somebody other than us opened the FIFO; lets the writer go."""
        was_opened = self.opened.is_set()
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self.thread.join(5)
        os.close(fd)
        return was_opened


@dataclass
class Case:
    student: str  # the id the odd entry should get
    problem: str = ""  # regex the reason must match: ungradable
    note: str = ""  # regex a note must match when taken in ("": taken in, no note needed)
    absent: tuple = ()  # paths (relative to the taken-in course folder) that must not be there
    present: tuple = ()  # ... that must be there
    fifos: list = field(default_factory=list)
    outside: tuple = ()  # absolute paths that must not exist afterwards
    ignored: bool = False  # no submission at all for this entry


def _run(tmp_path, key, build, monkeypatch=None):
    """Build SUBS (good + one odd entry), collect, check the common promises; returns (case, taken)."""
    base = tmp_path / "deep" / "er"
    subs = base / "subs"
    subs.mkdir(parents=True)
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("instructor only\n")
    shutil.copytree(key, subs / "good")
    case = build(subs, outside)
    work = base / "work"
    work.mkdir()  # collect writes only below it
    before = _snapshot(tmp_path, exclude=work)
    taken = submissions.collect(subs, work)
    after = _snapshot(tmp_path, exclude=work)
    opened = [w.path for w in case.fifos if w.release()]
    assert not opened, f"FIFO opened: {opened}"
    assert before == after, "something outside the work folder was created or changed"
    for path in case.outside:
        assert not os.path.lexists(path), path

    ids = [s.student_id for s in taken]
    assert len(set(ids)) == len(ids), ids
    for sub in taken:
        sub.student_id.encode("utf-8")  # written to UTF-8 tables
        for text in [sub.problem, *sub.notes]:
            assert isinstance(text, str)
            text.encode("utf-8")
        if sub.folder is None:
            assert sub.problem and ACTION.search(sub.problem.splitlines()[0]), sub.problem
            assert not (work / sub.student_id).exists() or sub.student_id == "good"
        else:
            assert sub.folder.is_relative_to(work) and not sub.problem
    by_id = {s.student_id: s for s in taken}
    good = by_id["good"]
    assert good.folder == work / "good" and not good.problem and not good.notes
    assert _tree(good.folder) == _tree(key), "the good submission was not taken in intact"
    for path in work.rglob("*"):  # the copies hold only folders and regular files
        assert path.is_dir() and not path.is_symlink() or stat.S_ISREG(os.lstat(path).st_mode), path

    if case.ignored:
        assert set(by_id) == {"good"}, set(by_id)
        return case, taken
    assert set(by_id) == {"good", case.student}, set(by_id)
    bad = by_id[case.student]
    if case.problem:
        assert bad.folder is None, bad
        assert re.search(case.problem, bad.problem), bad.problem
    else:
        assert bad.folder is not None, bad.problem
        assert not case.note or any(re.search(case.note, n) for n in bad.notes), bad.notes
        for rel in case.absent:
            assert not os.path.lexists(bad.folder / rel), rel
        for rel in case.present:
            assert (bad.folder / rel).is_file(), rel
    return case, taken


# --------------------------------------------------------------------------- zip builders


def _zip(subs, name, key_zip, extra=(), comment=b"", course=True):
    """SUBS/<name>.zip: the answer key under course/ (unless course=False) plus extra members."""
    path = subs / f"{name}.zip"
    if course:
        path.write_bytes(key_zip)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(path, "a" if course else "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in extra:
                zf.writestr(member, data)
            if comment:
                zf.comment = comment
    return path


def _info(name, mode):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def _central_directory(data):
    """[(central header offset, local header offset)] of a zip's members."""
    end = data.rfind(b"PK\x05\x06")
    count, _size, offset = struct.unpack("<HII", data[end + 10: end + 20])
    pos, out = offset, []
    for _ in range(count):
        assert data[pos: pos + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28: pos + 34])
        (local,) = struct.unpack("<I", data[pos + 42: pos + 46])
        out.append((pos, local))
        pos += 46 + name_len + extra_len + comment_len
    return out


def _rename_bytes(path, old, new):
    data = path.read_bytes()
    assert len(old) == len(new) and data.count(old) == 2, data.count(old)  # local + central header
    path.write_bytes(data.replace(old, new))


def _encrypt_flags(path):
    data = bytearray(path.read_bytes())
    for central, local in _central_directory(bytes(data)):
        data[central + 8] |= 1
        data[local + 6] |= 1
    path.write_bytes(bytes(data))


def _set_declared_size(path, member, size):
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        index = zf.namelist().index(member)
    central, local = _central_directory(bytes(data))[index]
    data[central + 24: central + 28] = struct.pack("<I", size)
    data[local + 22: local + 26] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def _claim_entries(path, count, zip64=True):
    """Rewrite the end-of-central-directory record to announce ``count`` entries."""
    data = path.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack("<II", data[end + 12: end + 20])
    if not zip64:
        path.write_bytes(data[:end] + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count,
                                                  size, offset, 0))
        return
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    tail = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, size, offset, 0)
    path.write_bytes(data[:end] + record + locator + tail)


# --------------------------------------------------------------------------- zip cases


def zip_member_under_file(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/extra", "a file"), ("course/extra/b.py", "x = 1\n")])
    return Case("bad", problem="both a file and a folder")


def zip_file_over_folder(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/extra/b.py", "x = 1\n"), ("course/extra", "a file")])
    return Case("bad", problem="both a file and a folder")


def zip_folder_entry_and_file(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/extra/", ""), ("course/extra", "a file")])
    return Case("bad", problem="both a file and a folder")


def zip_long_folder_name(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/" + "d" * 300 + "/b.py", "x = 1\n")])
    return Case("bad", problem="too long")


def zip_long_multibyte_name(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/" + "é" * 130 + ".py", "x = 1\n")])  # 130 chars, 260 bytes
    return Case("bad", problem="too long")


def zip_long_path(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/" + "/".join(["p" * 250] * 20) + "/b.py", "x = 1\n")])
    return Case("bad", problem="too long")


def zip_nul_in_name(subs, outside, key_zip):
    path = _zip(subs, "bad", key_zip, [("course/rnnkit/NULMARK.py", "x = 1\n")])
    _rename_bytes(path, b"NULMARK", b"NUL\x00ARK")
    return Case("bad", problem="control character")


def zip_newline_in_name(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/rnnkit/a\nb.py", "x = 1\n")])
    return Case("bad", problem="control character")


def zip_name_not_utf8(subs, outside, key_zip):
    path = _zip(subs, "bad", key_zip, [("course/rnnkit/é-mark.py", "x = 1\n")])  # flagged UTF-8
    _rename_bytes(path, "é-mark".encode(), b"\xff\xfe-mark")
    return Case("bad", problem="not a readable zip")


def zip_cp437_name(subs, outside, key_zip):
    path = _zip(subs, "bad", key_zip, [("course/notes/CPMRK.txt", "x\n")])
    _rename_bytes(path, b"CPMRK", b"\x81bung")  # no UTF-8 flag: cp437, per the zip spec
    return Case("bad", present=("notes/übung.txt",))


def zip_encrypted(subs, outside, key_zip):
    _encrypt_flags(_zip(subs, "bad", key_zip))
    return Case("bad", problem="password")


def zip_absolute_path(subs, outside, key_zip):
    target = f"/tmp/intake-absolute-{uuid.uuid4().hex}.py"
    _zip(subs, "bad", key_zip, [(target, "print('outside')\n")])
    return Case("bad", note="unsafe path", outside=(target,))


def zip_dotdot(subs, outside, key_zip):
    name = f"intake-escape-{uuid.uuid4().hex}.py"
    _zip(subs, "bad", key_zip, [("../../" + name, "x"), ("course/../../../" + name, "x"),
                                ("../outside/secret.txt", "overwritten")])
    return Case("bad", note="unsafe path",
                outside=tuple(str(subs.parents[k] / name) for k in range(4)))


def zip_backslashes(subs, outside, key_zip):
    name = f"intake-escape-{uuid.uuid4().hex}.py"
    _zip(subs, "bad", key_zip, [("..\\..\\" + name, "x"), ("course\\rnnkit\\extra.py", "x = 1\n"),
                                ("C:\\" + name, "x")])
    return Case("bad", note="backslashes", present=("rnnkit/extra.py",),
                outside=tuple(str(subs.parents[k] / name) for k in range(4)))


def zip_symlink_member(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [(_info("course/rnnkit/link.py", 0o120777), str(outside / "secret.txt")),
                                (_info("course/linkdir", 0o120777), str(outside))])
    return Case("bad", note="symbolic link", absent=("rnnkit/link.py", "linkdir"))


def zip_device_and_fifo_members(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [(_info("course/rnnkit/dev", stat.S_IFCHR | 0o666), ""),
                                (_info("course/rnnkit/pipe", stat.S_IFIFO | 0o666), ""),
                                (_info("course/rnnkit/sock", stat.S_IFSOCK | 0o666), "")])
    return Case("bad", note="special file", absent=("rnnkit/dev", "rnnkit/pipe", "rnnkit/sock"))


def zip_duplicate_names(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/rnnkit/extra.py", "one"), ("course/rnnkit/extra.py", "two")])
    return Case("bad", problem="twice")


def zip_names_differ_by_case(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/rnnkit/Extra.py", "one"), ("course/rnnkit/extra.py", "two")])
    return Case("bad", problem="letter case")


def zip_names_differ_by_unicode_form(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [(unicodedata.normalize("NFC", "course/café.py"), "one"),
                                (unicodedata.normalize("NFD", "course/café.py"), "two")])
    return Case("bad", problem="Unicode form")


def zip_many_entries(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [(f"course/junk/{i}", "") for i in range(submissions.MAX_FILES + 1)])
    return Case("bad", problem="entries, more than")


def zip_claims_millions_zip64(subs, outside, key_zip):
    _claim_entries(_zip(subs, "bad", key_zip), 3_000_000)
    return Case("bad", problem="3000000 entries, more than")


def zip_claims_many(subs, outside, key_zip):
    _claim_entries(_zip(subs, "bad", key_zip), 60_000, zip64=False)
    return Case("bad", problem="60000 entries, more than")


def zip_huge_declared_size(subs, outside, key_zip):
    path = _zip(subs, "bad", key_zip, [("course/big.bin", b"small")])
    _set_declared_size(path, "course/big.bin", 0xFFFF0000)
    return Case("bad", problem="more than 300 MB")


def zip_declares_less_than_it_holds(subs, outside, key_zip):
    path = _zip(subs, "bad", key_zip, [("course/big.bin", bytes(3 << 20))])
    _set_declared_size(path, "course/big.bin", 100)
    return Case("bad", problem="damaged|more than it declares")


def zip_ratio_bomb(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/zeros.bin", bytes(8 << 20))])
    return Case("bad", problem="compressed more than")


def zip_nested_zip(subs, outside, key_zip):
    inner = outside / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("../../inner-escape.py", "x")
        zf.writestr("hidden-inner.py", "x")
    _zip(subs, "bad", key_zip, [("course/data/inner.zip", inner.read_bytes())])
    inner.unlink()
    return Case("bad", present=("data/inner.zip",), absent=("data/hidden-inner.py", "hidden-inner.py"))


def zip_not_a_zip(subs, outside, key_zip):
    (subs / "bad.zip").write_bytes(b"PK\x03\x04 certainly not a zip file" * 40)
    return Case("bad", problem="not a readable zip")


def zip_empty_file(subs, outside, key_zip):
    (subs / "bad.zip").write_bytes(b"")
    return Case("bad", problem="not a readable zip")


def zip_truncated(subs, outside, key_zip):
    (subs / "bad.zip").write_bytes(key_zip[: len(key_zip) // 2])
    return Case("bad", problem="not a readable zip|damaged")


def zip_truncated_directory(subs, outside, key_zip):
    end = key_zip.rfind(b"PK\x05\x06")
    (subs / "bad.zip").write_bytes(key_zip[: end - 30] + key_zip[end:])
    return Case("bad", problem="not a readable zip|damaged")


def zip_with_comment(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, comment=b"made by a zip tool, with a comment " * 100)
    return Case("bad", present=("rnnkit/__init__.py",))


def zip_comment_mimics_end_record(subs, outside, key_zip):
    # zipfile reads the last record it finds: the fake one, whose numbers are nonsense
    _zip(subs, "bad", key_zip, comment=b"PK\x05\x06 a comment that looks like a record" * 20)
    return Case("bad", problem="entries, more than|not a readable zip|damaged")


def zip_with_prefix(subs, outside, key_zip):
    (subs / "bad.zip").write_bytes(b"#!/bin/sh\necho self-extracting\n" * 100 + key_zip)
    return Case("bad", present=("rnnkit/__init__.py",))


def zip_deep_member(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, [("course/" + "/".join(["d"] * 60) + "/deep.py", "x")])
    return Case("bad", note="nested deeper", absent=("d/" * 33,))


def zip_empty(subs, outside, key_zip):
    _zip(subs, "bad", key_zip, course=False)
    return Case("bad", problem="no rnnkit/")


ZIP_CASES = {f.__name__: f for f in [
    zip_member_under_file, zip_file_over_folder, zip_folder_entry_and_file, zip_long_folder_name,
    zip_long_multibyte_name, zip_long_path, zip_nul_in_name, zip_newline_in_name, zip_name_not_utf8,
    zip_cp437_name, zip_encrypted, zip_absolute_path, zip_dotdot, zip_backslashes, zip_symlink_member,
    zip_device_and_fifo_members, zip_duplicate_names, zip_names_differ_by_case,
    zip_names_differ_by_unicode_form, zip_many_entries, zip_claims_millions_zip64, zip_claims_many,
    zip_huge_declared_size, zip_declares_less_than_it_holds, zip_ratio_bomb, zip_nested_zip, zip_not_a_zip,
    zip_empty_file, zip_truncated, zip_truncated_directory, zip_with_comment, zip_comment_mimics_end_record,
    zip_with_prefix, zip_deep_member, zip_empty,
]}


@pytest.mark.parametrize("name", list(ZIP_CASES))
def test_odd_zip(tmp_path, key, key_zip, name):
    _run(tmp_path, key, lambda subs, outside: ZIP_CASES[name](subs, outside, key_zip))


@pytest.mark.parametrize("build", [zip_claims_millions_zip64, zip_claims_many])
def test_entry_count_is_checked_before_the_directory_is_parsed(tmp_path, key, key_zip, build, monkeypatch):
    parsed = []
    real = zipfile.ZipFile

    def spy(file, *args, **kwargs):
        parsed.append(getattr(file, "name", file))
        return real(file, *args, **kwargs)

    subs = tmp_path / "subs"
    subs.mkdir()
    build(subs, tmp_path, key_zip)
    monkeypatch.setattr(submissions.zipfile, "ZipFile", spy)
    (taken,) = submissions.collect(subs, tmp_path / "work")
    assert taken.folder is None and "entries, more than" in taken.problem
    assert parsed == []


# --------------------------------------------------------------------------- folder cases


def _copy(subs, outside, name="bad"):
    good = subs / "good"
    shutil.copytree(good, subs / name, symlinks=True)
    return subs / name


def folder_symlink_to_outside_file(subs, outside):
    bad = _copy(subs, outside)
    (bad / "rnnkit" / "lstm.py").unlink()
    (bad / "rnnkit" / "lstm.py").symlink_to(outside / "secret.txt")
    (bad / "etc-passwd").symlink_to("/etc/passwd")
    return Case("bad", note="symbolic link", absent=("rnnkit/lstm.py", "etc-passwd"))


def folder_symlink_to_dirs(subs, outside):
    bad = _copy(subs, outside)
    (bad / "outside-dir").symlink_to(outside)
    (bad / "subs-dir").symlink_to(subs)
    (bad / "root").symlink_to("/")
    (bad / "loop").symlink_to("loop")
    (bad / "dangling").symlink_to(outside / "missing")
    return Case("bad", note="symbolic link", absent=("outside-dir", "subs-dir", "root", "loop", "dangling"))


def folder_fifo(subs, outside):
    bad = _copy(subs, outside)
    watches = [FifoWatch(bad / "rnnkit" / "pipe.py"), FifoWatch(bad / "lessons" / "02-basic-rnn.ipynb.fifo")]
    return Case("bad", note="special file", absent=("rnnkit/pipe.py",), fifos=watches)


def folder_socket(subs, outside):
    import socket

    bad = _copy(subs, outside)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(bad / "s.sock"))
    except OSError as exc:  # path too long for AF_UNIX
        pytest.skip(f"cannot make a socket here: {exc}")
    finally:
        sock.close()
    return Case("bad", note="special file", absent=("s.sock",))


def folder_device(subs, outside):
    bad = _copy(subs, outside)
    try:
        os.mknod(bad / "rnnkit" / "null.py", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node: {exc}")
    return Case("bad", note="special file", absent=("rnnkit/null.py",))


def folder_deep_nesting(subs, outside):
    bad = _copy(subs, outside)
    deep = bad.joinpath(*["d"] * 80)
    deep.mkdir(parents=True)
    (deep / "x.py").write_text("x = 1\n")
    return Case("bad", note="nested deeper", absent=("/".join(["d"] * (submissions.MAX_DEPTH + 1)),))


def folder_name_not_utf8(subs, outside):
    bad = _copy(subs, outside)
    with open(os.path.join(os.fsencode(bad / "rnnkit"), b"caf\xe9.py"), "w") as f:
        f.write("x = 1\n")
    return Case("bad", note="not valid UTF-8")


def folder_too_many_files(subs, outside):
    bad = _copy(subs, outside)
    (bad / "junk").mkdir()
    for i in range(submissions.MAX_FILES + 1):
        (bad / "junk" / str(i)).touch()
    return Case("bad", problem="too large")


FOLDER_CASES = {f.__name__: f for f in [
    folder_symlink_to_outside_file, folder_symlink_to_dirs, folder_fifo, folder_socket, folder_device,
    folder_deep_nesting, folder_name_not_utf8, folder_too_many_files,
]}


@pytest.mark.parametrize("name", list(FOLDER_CASES))
def test_odd_folder(tmp_path, key, name, monkeypatch):
    if name == "folder_too_many_files":
        monkeypatch.setattr(submissions, "MAX_FILES", 500)  # the good one has about a hundred
    _run(tmp_path, key, FOLDER_CASES[name])


@pytest.mark.parametrize("what", ["file", "folder"])
def test_unreadable_file_or_folder(tmp_path, key, monkeypatch, what):
    denied, chmodded = set(), []

    def build(subs, outside):
        bad = _copy(subs, outside)
        target = bad / "rnnkit" / "lstm.py" if what == "file" else bad / "lessons"
        st = os.lstat(target)
        denied.add((st.st_dev, st.st_ino))
        target.chmod(0)
        chmodded.append(target)
        return Case("bad", problem="cannot be read.*chmod")

    if os.geteuid() == 0:  # chmod 000 does not stop root: make os.open refuse those inodes too
        real_open = os.open

        def guarded(path, flags, mode=0o777, *, dir_fd=None):
            try:
                st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) in denied:
                raise PermissionError(13, "Permission denied", path)
            return real_open(path, flags, mode, dir_fd=dir_fd)

        monkeypatch.setattr(submissions.os, "open", guarded)
    try:
        _run(tmp_path, key, build)
    finally:
        monkeypatch.undo()
        for path in chmodded:
            path.chmod(0o755)


# --------------------------------------------------------------------------- SUBS entries and student ids


def subs_student_folder_is_symlink(subs, outside):
    shutil.copytree(subs / "good", outside / "course")
    (subs / "linked").symlink_to(outside / "course")
    return Case("linked", problem="symbolic link")


def subs_zip_is_symlink(subs, outside):
    shutil.make_archive(str(outside / "course"), "zip", subs / "good")
    (subs / "linked.zip").symlink_to(outside / "course.zip")
    return Case("linked", problem="symbolic link")


def subs_symlink_to_file_is_ignored(subs, outside):
    (subs / "notes.txt").symlink_to(outside / "secret.txt")
    (subs / "dangling").symlink_to(outside / "missing")
    return Case("", ignored=True)


def subs_fifo_named_zip(subs, outside):
    return Case("pipe", problem="not a regular file", fifos=[FifoWatch(subs / "pipe.zip")])


def subs_fifo_and_socket_are_ignored(subs, outside):
    import socket

    watch = FifoWatch(subs / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(subs / "sock"))
    except OSError:
        pass
    finally:
        sock.close()
    return Case("", ignored=True, fifos=[watch])


def subs_hidden_entries_are_ignored(subs, outside):
    shutil.copytree(subs / "good", subs / ".hidden")
    (subs / ".DS_Store").write_bytes(b"\0\1")
    return Case("", ignored=True)


def subs_unicode_id(subs, outside):
    shutil.copytree(subs / "good", subs / "Zoë Müller")
    return Case("Zoë Müller", present=("rnnkit/__init__.py",))


def subs_decomposed_unicode_id(subs, outside):
    shutil.copytree(subs / "good", subs / unicodedata.normalize("NFD", "Zoë Müller"))
    return Case("Zoë Müller", note="NFC", present=("rnnkit/__init__.py",))


def subs_ids_equal_after_normalization(subs, outside):
    shutil.copytree(subs / "good", subs / unicodedata.normalize("NFD", "Zoë"))
    shutil.make_archive(str(subs / unicodedata.normalize("NFC", "Zoë")), "zip", subs / "good")
    return Case("Zoë", problem="differ only by letter case or Unicode form")


def subs_ids_equal_but_for_case(subs, outside):
    shutil.copytree(subs / "good", subs / "Ada")
    shutil.copytree(subs / "good", subs / "ada")
    return Case("Ada", problem="differ only by letter case")


def subs_folder_and_zip(subs, outside):
    shutil.copytree(subs / "good", subs / "ada")
    shutil.make_archive(str(subs / "ada"), "zip", subs / "good")
    return Case("ada", problem="both a folder and a zip")


def subs_id_with_leading_dash(subs, outside):
    shutil.copytree(subs / "good", subs / "-rf")
    return Case("-rf", problem="student id")


def subs_id_with_newline(subs, outside):
    shutil.copytree(subs / "good", subs / "eve\nmallory")
    return Case("eve\\nmallory", problem="student id")


def subs_id_with_backslash_and_glob(subs, outside):
    shutil.copytree(subs / "good", subs / "a\\b*")
    return Case("a\\b*", problem="student id")


def subs_id_not_utf8(subs, outside):
    shutil.copytree(subs / "good", os.fsdecode(os.path.join(os.fsencode(subs), b"caf\xe9")))
    return Case("caf\\xe9", problem="student id")


def subs_id_too_long(subs, outside):
    shutil.make_archive(str(subs / ("x" * 200)), "zip", subs / "good")
    return Case("x" * 59 + "…", problem="longer than 64")


def subs_id_with_direction_override(subs, outside):
    shutil.copytree(subs / "good", subs / "ada\u202egnp.zip")
    return Case("ada\\u202egnp.zip", problem="student id")


SUBS_CASES = {f.__name__: f for f in [
    subs_student_folder_is_symlink, subs_zip_is_symlink, subs_symlink_to_file_is_ignored, subs_fifo_named_zip,
    subs_fifo_and_socket_are_ignored, subs_hidden_entries_are_ignored, subs_unicode_id,
    subs_decomposed_unicode_id, subs_ids_equal_after_normalization, subs_ids_equal_but_for_case,
    subs_folder_and_zip, subs_id_with_leading_dash, subs_id_with_newline, subs_id_with_backslash_and_glob,
    subs_id_not_utf8, subs_id_too_long, subs_id_with_direction_override,
]}


@pytest.mark.parametrize("name", list(SUBS_CASES))
def test_odd_subs_entry(tmp_path, key, name):
    _run(tmp_path, key, SUBS_CASES[name])


def test_student_id_rule():
    assert submissions.student_id_for("Zoë Müller") == ("Zoë Müller", "")
    assert submissions.student_id_for(unicodedata.normalize("NFD", "Zoë"))[0] == "Zoë"
    for ok in ["ada", "ada.lovelace@uni.edu", "a+b_c-d", "李雷", "Алёна", "हिन्दी", "2024-ada"]:
        assert submissions.student_id_for(ok) == (unicodedata.normalize("NFC", ok), ""), ok
    for bad in ["", ".ada", "-ada", " ada", "ada ", "a/b", "a\\b", "a\nb", "a\x00b", "a*", "a[1]", "a,b",
                "a\u202eb", "a" * 65, "caf\udce9"]:
        assert submissions.student_id_for(bad)[0] == "", bad


# --------------------------------------------------------------------------- end to end (slow)


@pytest.mark.slow
def test_grade_finishes_with_the_worst_zips_beside_good_submissions(tmp_path, key, key_zip):
    from autograder.grading.grade import grade

    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copytree(key, subs / "good")
    shutil.copytree(key, subs / "Zoë Müller")
    outside = tmp_path / "outside"
    outside.mkdir()
    worst = [zip_member_under_file, zip_long_folder_name, zip_claims_millions_zip64, zip_nul_in_name,
             zip_ratio_bomb, zip_names_differ_by_case]
    bad_ids = []
    for i, build in enumerate(worst):
        build(subs, outside, key_zip)
        (subs / "bad.zip").rename(subs / f"bad{i}.zip")
        bad_ids.append(f"bad{i}")
    watch = FifoWatch(subs / "pipe.zip")
    (subs / "linked").symlink_to(key)
    out = tmp_path / "out"
    grade(subs, out, jobs=2, assignments=["02-basic-rnn"], seed=20261125, progress=False)
    assert not watch.release(), "a FIFO was opened"

    def rows(name):
        with open(out / name, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    graded = {r["student_id"]: r for r in rows("grades.csv")}
    assert set(graded) == {"good", "Zoë Müller"}, graded
    assert graded["good"]["score"] == graded["Zoë Müller"]["score"]
    assert float(graded["good"]["score"]) > 0  # max_score also counts the hand-graded written answers
    checks = [r for r in rows("results.csv") if r["student_id"] in graded]
    assert {r["student_id"] for r in checks} == set(graded)
    for row in checks:  # the answer key passes every check
        assert float(row["score"]) == float(row["max_score"]) > 0, row
    ungradable = {r["student_id"]: r["reason"] for r in rows("ungradable.csv")}
    assert set(ungradable) == {*bad_ids, "pipe", "linked"}, ungradable


# --------------------------------------------------------------------------- LMS downloads, submitted/
#
# Each case is a Moodle or Canvas download holding a good learner (LMS id 1) and an attacker
# (LMS id 2). It is taken in twice: with the attack, and with the attacker's upload replaced by
# the plain answer key (the baseline). The attack must gain nothing (the attacker gets no file
# the key does not hold, no other learner's id or files), stop nothing (the good learner is
# taken in byte for byte both times, under the same LMS id) and leak nothing (nothing outside
# the work folder is created or changed, no FIFO opened, no outside file's content copied).

MOODLE_GOOD = "Good Learner_1_assignsubmission_file/course.zip"
CANVAS_GOOD = "learnergood_1_10_course.zip"
WHEN = (2024, 3, 1, 12, 0, 0)


def _download(path, members):
    """A download zip from (name or ZipInfo, bytes) members."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members:
                info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name, WHEN)
                zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


@dataclass
class LmsCase:
    attack: list  # download members besides the good learner's
    good: str = MOODLE_GOOD
    problem: str = ""  # regex the attacker's reason must match (ungradable)
    note: str = ""  # regex a note (the attacker's or the download's) must match
    extract: bool = False  # take in the extracted folder instead of the zip
    prepare: object = None  # function(folder, outside) run on the extracted folder (links, FIFOs)
    fifos: list = field(default_factory=list)
    learners: int = 2  # learners expected in the attack run (good + attacker(s))


def _lms_take_in(tmp_path, tag, members, case):
    base = tmp_path / tag
    base.mkdir()
    outside = tmp_path / "outside"
    zip_path = _download(base / "download.zip", members)
    subs = zip_path
    if case.extract:
        subs = base / "extracted"
        subs.mkdir()
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                if ".." not in info.filename and not info.filename.startswith("/"):
                    zf.extract(info, subs)
        if case.prepare is not None and tag == "attack":
            case.prepare(subs, outside)
    work = base / "work"
    work.mkdir()
    before = _snapshot(tmp_path, exclude=work)
    intake = submissions.take_in(subs, work)
    after = _snapshot(tmp_path, exclude=work)
    assert before == after, "something outside the work folder was created or changed"
    for sub in intake.submissions:
        sub.student_id.encode("utf-8")
        assert submissions.student_id_for(sub.student_id)[1] == "" or sub.folder is None, sub.student_id
        if sub.folder is None:
            assert sub.problem and ACTION.search(sub.problem), sub.problem
        else:
            assert sub.folder.is_relative_to(work)
    for path in work.rglob("*"):
        assert path.is_dir() and not path.is_symlink() or stat.S_ISREG(os.lstat(path).st_mode), path
        if path.is_file():
            assert b"instructor only" not in path.read_bytes(), f"an outside file leaked into {path}"
    return intake


def _by_lms_id(intake):
    return {s.identity.get("lms_id"): s for s in intake.submissions if s.identity}


def _run_lms(tmp_path, key, key_zip, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("instructor only\n")
    with zipfile.ZipFile(outside / "instructor.zip", "w") as zf:
        zf.writestr("course/rnnkit/lstm.py", "instructor only\n")
    canvas = case.good == CANVAS_GOOD
    plain = "evee_2_20_course.zip" if canvas else "Eve_2_assignsubmission_file/course.zip"
    baseline = _lms_take_in(tmp_path, "baseline", [(case.good, key_zip), (plain, key_zip)], case)
    attack = _lms_take_in(tmp_path, "attack", [(case.good, key_zip), *case.attack], case)
    opened = [w.path for w in case.fifos if w.release()]
    assert not opened, f"FIFO opened: {opened}"
    key_tree = _tree(key)
    for run in (baseline, attack):  # stops nothing
        good = _by_lms_id(run)["1"]
        assert good.folder is not None and _tree(good.folder) == key_tree, good.problem
        assert not good.problem and not any("attack" in n for n in good.notes)
    assert _by_lms_id(attack)["1"].student_id.startswith(_by_lms_id(baseline)["1"].student_id)
    for sub in attack.submissions:  # gains nothing
        if sub.identity.get("lms_id") == "1" or sub.folder is None:
            continue
        tree = _tree(sub.folder)
        extra = {k for k in tree if tree[k] != key_tree.get(k)}
        assert all("attack" in k or k.endswith("harmless.txt") for k in extra), extra
    assert len(attack.submissions) <= case.learners, [s.student_id for s in attack.submissions]
    eve = [s for s in attack.submissions if s.identity.get("lms_id") != "1"]
    if case.problem:
        assert any(s.folder is None and re.search(case.problem, s.problem) for s in eve), \
            [(s.student_id, s.problem) for s in eve]
    if case.note:
        notes = [n for _s, _a, n in attack.note_rows()]
        assert any(re.search(case.note, n) for n in notes), notes
    return baseline, attack


def lms_zip_slip_members(key_zip):
    return LmsCase([("../../evil.zip", key_zip), ("/tmp/evil.zip", key_zip),
                    ("Eve_2_assignsubmission_file/../Good Learner_1_assignsubmission_file/course.zip", b"x"),
                    ("Eve_2_assignsubmission_file/course.zip", key_zip)],
                   note="unsafe path in the download")


def lms_symlink_member(key_zip):
    return LmsCase([(_info("Eve_2_assignsubmission_file/course.zip", stat.S_IFLNK | 0o777),
                     b"../Good Learner_1_assignsubmission_file/course.zip")],
                   problem="no zip", note="symbolic link")


def lms_fifo_and_device_members(key_zip):
    return LmsCase([(_info("Eve_2_assignsubmission_file/course.zip", stat.S_IFIFO | 0o644), b""),
                    (_info("Eve_2_assignsubmission_file/dev.zip", stat.S_IFCHR | 0o644), b"")],
                   problem="no zip", note="special file")


def lms_case_collision_within_a_learner(key_zip):
    return LmsCase([("Eve_2_assignsubmission_file/course.zip", key_zip),
                    ("Eve_2_assignsubmission_file/Course.zip", key_zip)],
                   problem="differ only by letter case")


def lms_control_character_in_a_name(key_zip):
    return LmsCase([("Eve_2_assignsubmission_file/co\x1burse.zip", key_zip),
                    ("Eve_2_assignsubmission_file/course.zip", key_zip)],
                   note="control character")


def lms_declared_size_bomb(key_zip):
    return LmsCase([("Eve_2_assignsubmission_file/course.zip", key_zip),
                    (zipfile.ZipInfo("Eve_2_assignsubmission_file/bomb.zip", WHEN), b"\0" * (3 << 20))],
                   problem="compressed more than|too large|unpacks to more")


def lms_hostile_inner_zip(key_zip):
    inner = io.BytesIO(key_zip)
    with zipfile.ZipFile(inner, "a") as zf:
        zf.writestr("course/../../../attack.txt", "x")
        zf.writestr(_info("course/rnnkit/link.py", stat.S_IFLNK | 0o777), "/etc/passwd")
    return LmsCase([("Eve_2_assignsubmission_file/course.zip", inner.getvalue())],
                   note="unsafe path in zip left out|symbolic link in zip")


def lms_impersonation_by_name(key_zip):
    """The attacker calls herself what the good learner is called: two learners, two LMS ids."""
    return LmsCase([("Good Learner_2_assignsubmission_file/course.zip", key_zip)])


def lms_same_name_other_unicode_form(key_zip):
    name = unicodedata.normalize("NFD", "Good Learner Zoë")
    return LmsCase([(f"{name}_2_assignsubmission_file/course.zip", key_zip),
                    ("Good Learner Zoë_3_assignsubmission_file/course.zip", key_zip)], learners=3)


def lms_one_id_two_names(key_zip):
    return LmsCase([("Eve_2_assignsubmission_file/course.zip", key_zip),
                    ("Mallory_2_assignsubmission_file/x.zip", key_zip)],
                   note="names this learner differently")


def lms_odd_unicode_names(key_zip):
    return LmsCase([("eve\u202egnp.zip\n_2_assignsubmission_file/course.zip", key_zip)])


def lms_canvas_attachment_named_as_another(key_zip):
    """A Canvas file name whose file part mimics the good learner's name: still the attacker's."""
    return LmsCase([("evee_2_20_learnergood_1_99_course.zip", key_zip)], good=CANVAS_GOOD)


def _fifo_named_as_upload(folder, outside):
    (folder / "evee_2_20_course.zip").unlink()
    LMS_FIFOS.append(FifoWatch(folder / "evee_2_20_course.zip"))


def _link_named_as_upload(folder, outside):
    (folder / "evee_2_20_course.zip").unlink()
    (folder / "evee_2_20_course.zip").symlink_to(outside / "instructor.zip")


def _linked_moodle_folder(folder, outside):
    shutil.rmtree(folder / "Eve_2_assignsubmission_file")
    (outside / "eve").mkdir()
    shutil.copy(outside / "instructor.zip", outside / "eve" / "course.zip")
    (folder / "Eve_2_assignsubmission_file").symlink_to(outside / "eve")


def _link_inside_moodle_folder(folder, outside):
    (folder / "Eve_2_assignsubmission_file" / "course.zip").unlink()
    (folder / "Eve_2_assignsubmission_file" / "course.zip").symlink_to(outside / "instructor.zip")


LMS_FIFOS = []


def lms_extracted_fifo(key_zip):
    return LmsCase([("evee_2_20_course.zip", key_zip)], good=CANVAS_GOOD, extract=True,
                   prepare=_fifo_named_as_upload, problem="no zip", note="FIFO")


def lms_extracted_symlink_file(key_zip):
    return LmsCase([("evee_2_20_course.zip", key_zip)], good=CANVAS_GOOD, extract=True,
                   prepare=_link_named_as_upload, problem="no zip", note="symbolic link")


def lms_extracted_symlinked_folder(key_zip):
    return LmsCase([("Eve_2_assignsubmission_file/course.zip", key_zip)], extract=True,
                   prepare=_linked_moodle_folder, problem="symbolic link|cannot be read")


def lms_extracted_link_in_folder(key_zip):
    return LmsCase([("Eve_2_assignsubmission_file/course.zip", key_zip)], extract=True,
                   prepare=_link_inside_moodle_folder, problem="no zip", note="symbolic link")


LMS_CASES = {f.__name__: f for f in [
    lms_zip_slip_members, lms_symlink_member, lms_fifo_and_device_members,
    lms_case_collision_within_a_learner, lms_control_character_in_a_name, lms_declared_size_bomb,
    lms_hostile_inner_zip, lms_impersonation_by_name,
    lms_same_name_other_unicode_form, lms_one_id_two_names, lms_odd_unicode_names,
    lms_canvas_attachment_named_as_another, lms_extracted_fifo, lms_extracted_symlink_file,
    lms_extracted_symlinked_folder, lms_extracted_link_in_folder,
]}


@pytest.mark.parametrize("name", list(LMS_CASES))
def test_odd_lms_download(tmp_path, key, key_zip, name, monkeypatch):
    LMS_FIFOS.clear()
    case = LMS_CASES[name](key_zip)
    case.fifos = LMS_FIFOS
    if name == "lms_declared_size_bomb":
        monkeypatch.setattr(submissions, "MAX_ZIP_BYTES", 1 << 20)  # the bomb: 3 MB of zeros in 3 kB
    baseline, attack = _run_lms(tmp_path, key, key_zip, case)
    if name == "lms_impersonation_by_name":
        ids = {s.identity["lms_id"]: s.student_id for s in attack.submissions}
        assert ids == {"1": "Good Learner-1", "2": "Good Learner-2"}, ids
    if name == "lms_same_name_other_unicode_form":
        assert {s.identity["lms_id"] for s in attack.submissions if s.folder} == {"1", "2", "3"}
    if name == "lms_canvas_attachment_named_as_another":
        assert {s.identity["lms_id"] for s in attack.submissions} == {"1", "2"}


def _exchange(tmp_path, key):
    course = tmp_path / "course"
    for student in ("good", "eve"):
        folder = course / "submitted" / student / "04-lstm"
        shutil.copytree(key / "rnnkit", folder / "rnnkit")
        shutil.copy(key / "lessons" / "04-lstm.ipynb", folder / "04-lstm.ipynb")
        (folder / "timestamp.txt").write_text("2024-03-01 12:00:00.000000 UTC")
    (course / "source" / "04-lstm" / "rnnkit").mkdir(parents=True)
    (course / "source" / "04-lstm" / "rnnkit" / "lstm.py").write_text("instructor only\n")
    return course, course / "submitted" / "eve" / "04-lstm"


@pytest.mark.parametrize("attack", ["link_to_source", "fifo_timestamp", "linked_assignment", "huge_timestamp",
                                    "linked_student"])
def test_odd_nbgrader_hand_in(tmp_path, key, attack):
    course, eve = _exchange(tmp_path, key)
    fifos = []
    if attack == "link_to_source":
        (eve / "rnnkit" / "lstm.py").unlink()
        (eve / "rnnkit" / "lstm.py").symlink_to(course / "source" / "04-lstm" / "rnnkit" / "lstm.py")
    elif attack == "fifo_timestamp":
        (eve / "timestamp.txt").unlink()
        fifos.append(FifoWatch(eve / "timestamp.txt"))
    elif attack == "linked_assignment":
        shutil.rmtree(eve)
        eve.symlink_to(course / "source" / "04-lstm")
    elif attack == "huge_timestamp":
        (eve / "timestamp.txt").write_text("2024-03-01 12:00:00 UTC" + " " * (1 << 20))
    elif attack == "linked_student":
        shutil.rmtree(eve.parent)
        eve.parent.symlink_to(course / "source")
    work = tmp_path / "work"
    work.mkdir()
    before = _snapshot(tmp_path, exclude=work)
    intake = submissions.take_in(course, work)
    assert _snapshot(tmp_path, exclude=work) == before
    assert not [w.path for w in fifos if w.release()], "FIFO opened"
    subs = {s.student_id: s for s in intake.submissions}
    good = subs["good"]
    key_tree = _tree(key)
    expected = {k: v for k, v in key_tree.items() if k.startswith("rnnkit/")}
    expected["04-lstm.ipynb"] = key_tree["lessons/04-lstm.ipynb"]
    expected["timestamp.txt"] = hashlib.sha256(b"2024-03-01 12:00:00.000000 UTC").hexdigest()
    assert _tree(good.folder_for("04-lstm")) == expected
    for path in work.rglob("*"):
        assert not path.is_symlink()
        if path.is_file():
            assert b"instructor only" not in path.read_bytes(), path
    notes = [n for _s, _a, n in intake.note_rows()]
    if attack in ("link_to_source",):
        assert any("symbolic link" in n for n in notes), notes
    if attack in ("fifo_timestamp", "huge_timestamp"):
        assert "04-lstm" not in subs["eve"].timestamps and any("timestamp.txt" in n for n in notes), notes
    if attack == "linked_assignment":
        assert subs["eve"].folder_for("04-lstm") is None
    if attack == "linked_student":
        assert subs["eve"].folder is None and "symbolic link" in subs["eve"].problem
