"""Taking in submissions: learner folders or zips, copied (never modified) and checked.

``SUBS/<student_id>/`` is a learner's filled release folder, ``SUBS/<student_id>.zip``
a zip of one (with or without a top-level folder). Every entry becomes a
``Submission`` holding either a working copy (``folder``) or the reason it cannot
be graded (``problem``). The originals are only read, and nothing in one learner's
submission can stop the intake of another: every failure is caught for that
learner and recorded, as ``problem`` (ungradable) or as a note.

Student ids are the entry names (without ``.zip``), normalized to Unicode NFC:
letters and digits of any alphabet, with ``_ . @ + -`` and spaces inside; the
first character a letter or digit, at most 64 characters. Entries whose names
are the same up to letter case or Unicode normalization (``ada/`` and
``ada.zip``, ``Zoë`` spelled composed and decomposed) share one id, which is
ungradable with a reason naming them all. Entries whose names start with ``.``
are ignored.

Nothing is followed or opened unchecked: entries are inspected with ``lstat``,
files opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked to be regular files
before being read (a FIFO never blocks the intake).

What is refused (ungradable, with a reason saying what to do):
- SUBS entries that are symbolic links or not regular files (a FIFO named x.zip);
- zips that are not zips, are damaged or truncated, are password-protected,
  declare more than ``MAX_FILES`` entries (checked in the end-of-central-directory
  record before anything is parsed) or a central directory over
  ``MAX_DIRECTORY_BYTES``; zips unpacking to more than ``MAX_BYTES`` (declared
  sizes are checked first, and the bytes are counted while reading), or with a
  member compressed more than ``MAX_RATIO`` : 1 (a zip bomb);
- zip members with NUL or other control characters in their names, names not
  valid UTF-8 (when the zip says they are UTF-8), a name component over 255
  bytes or a path over 4096 bytes, the same name twice, names differing only by
  letter case or Unicode form, a file where another member needs a folder;
- folders over ``MAX_FILES`` entries or ``MAX_BYTES``, and files or folders in
  them that cannot be read (permissions).

What is left out, with a note (the rest is taken in):
- zip members with absolute paths or ``..`` (zip-slip), symbolic links and
  special files (devices, FIFOs, sockets) in zips and in folders, names in
  folders that are not valid UTF-8, anything nested deeper than ``MAX_DEPTH``;
- quietly: ``__pycache__``, ``.ipynb_checkpoints``, ``.git``, ``__MACOSX``,
  ``.venv`` and ``node_modules``.
Backslashes in zip member names are read as folder separators (old Windows
tools write them). A zip inside a zip is copied as a file, never unpacked.

Other forms of SUBS go through ``take_in``, which returns an ``Intake`` (the
submissions, notes about SUBS as a whole, and the tables it adds to OUT): nbgrader's
``submitted/`` folder (``autograder.grading.exchange``: one working copy per hand-in,
``Submission.per_assignment``) and Moodle or Canvas downloads (``autograder.grading.lms``).
Both use the hardened copy and unzip below (``collect_entries``, ``guarded``, ``extract``,
``Limits``), so every entry of them is checked as a learner's zip or folder is.

Also here: reading a learner's notebook defensively and repairing the two
things that break nbgrader's batch (duplicated cell ids and duplicated grade ids
left by JupyterLab's "split cell").
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import stat
import struct
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_BYTES = 300 << 20  # unpacked or copied bytes per submission
MAX_FILES = 5000  # zip entries, or files and folders in a submitted folder
MAX_ZIP_BYTES = MAX_BYTES + (64 << 20)  # size of the zip file itself
MAX_DIRECTORY_BYTES = 32 << 20  # a zip's central directory
MAX_RATIO = 200  # uncompressed : compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 1 << 20
MAX_DEPTH = 32  # folder levels below the submission
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
MAX_ID_CHARS = 64
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX", ".venv", "node_modules"}
ID_PUNCTUATION = set("_.@+- ")

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_READ_FILE = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC
_READ_DIR = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_WRITE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
_CHUNK = 1 << 20

RESUBMIT_ZIP = "zip the course folder again with the system's own zip tool and upload the new zip"
SHRINK = "remove data files, outputs and environments (keep lessons/ and rnnkit/) and resubmit"


@dataclass(frozen=True)
class Limits:
    """Size limits of one thing taken in, and what to do when it is over them."""

    max_bytes: int  # unpacked or copied bytes
    max_files: int  # zip entries, or files and folders
    max_zip_bytes: int  # the zip file itself
    max_directory_bytes: int  # a zip's central directory
    advice: str = SHRINK


def submission_limits():
    """The limits of one learner's submission (read at call time: tests lower them)."""
    return Limits(MAX_BYTES, MAX_FILES, MAX_ZIP_BYTES, MAX_DIRECTORY_BYTES)


@dataclass
class Submission:
    student_id: str
    source: Path  # the original (folder or zip), never written
    folder: Path | None = None  # working copy: the folder that holds rnnkit/ and lessons/
    problem: str = ""  # why it cannot be graded, then what to do ("" when folder is set)
    notes: list = field(default_factory=list)  # things dropped or repaired, for the record
    # nbgrader's exchange hands in one folder per assignment (each with its own rnnkit/):
    per_assignment: bool = False
    assignment_folders: dict = field(default_factory=dict)  # assignment -> working copy
    assignment_problems: dict = field(default_factory=dict)  # assignment -> why it cannot be graded
    assignment_notes: dict = field(default_factory=dict)  # assignment -> [notes]
    timestamps: dict = field(default_factory=dict)  # assignment or "*" -> submission time (naive UTC)
    late: dict = field(default_factory=dict)  # assignment or "*" -> s late (0: on time; absent: unknown)
    identity: dict = field(default_factory=dict)  # LMS downloads: name, lms, lms_id, file, ...

    def folder_for(self, assignment):
        """The course folder to grade ``assignment`` from; None when not submitted or ungradable."""
        if self.folder is None:
            return None
        if self.per_assignment:
            return self.assignment_folders.get(assignment)
        return self.folder

    def problem_for(self, assignment):
        """Why ``assignment`` cannot be graded ("" when it can, or when it was not handed in)."""
        if self.folder is None:
            return self.problem
        return self.assignment_problems.get(assignment, "")

    def submitted(self, assignment):
        """False only for an assignment a per-assignment learner did not hand in at all."""
        return not self.per_assignment or assignment in self.assignment_folders \
            or assignment in self.assignment_problems


class IntakeError(Exception):
    """A submission that cannot be taken in; the message is the reason."""


# --------------------------------------------------------------------------- names


def show(name, limit=80):
    """A name made safe to print and to write to a UTF-8 file: escapes, cut to ``limit``."""
    name = str(name)
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    text = "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_utf8(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def student_id_for(name):
    """(student id, "") for an entry name, or ("", why it cannot be one)."""
    if not _is_utf8(name):
        return "", "is not valid UTF-8"
    sid = unicodedata.normalize("NFC", name)
    if not sid:
        return "", "is empty"
    if len(sid) > MAX_ID_CHARS:
        return "", f"is longer than {MAX_ID_CHARS} characters"
    for i, ch in enumerate(sid):
        category = unicodedata.category(ch)
        if category[0] == "L" or category == "Nd":
            continue
        if i > 0 and (category[0] == "M" or ch in ID_PUNCTUATION):
            continue
        if i == 0 and ch in ID_PUNCTUATION:
            return "", f"starts with {ch!r}"
        return "", f"holds the character {ascii(ch)}"
    if sid[-1] == " ":
        return "", "ends with a space"
    return sid, ""


def _id_key(sid):
    return unicodedata.normalize("NFC", sid.casefold())


# --------------------------------------------------------------------------- collect


@dataclass
class _Entry:
    name: str  # the name in SUBS
    stem: str  # the name without .zip
    path: Path
    kind: str  # "folder" or "zip"
    problem: str = ""  # set when it must not be opened at all


def collect(subs_dir, work_dir):
    """Working copies of every submission in ``subs_dir``.

    Inputs:
    - subs_dir: folder of ``<student_id>/`` folders and ``<student_id>.zip`` files.
    - work_dir: folder for the copies (``work_dir/<student_id>/``); only written below.

    Returns a list of Submission, sorted by student id, one per student id found
    (ids are unique). Other files in ``subs_dir`` are ignored. Raises OSError only
    when ``subs_dir`` itself cannot be listed.
    """
    return collect_entries(subs_dir, work_dir, _take_in)


def collect_entries(subs_dir, work_dir, take_in, kinds=("folder", "zip")):
    """Submissions for the entries of ``subs_dir`` named by student id; ``take_in`` fills each one.

    Inputs:
    - subs_dir, work_dir: as for ``collect``
    - take_in: function (Submission, _Entry, dest folder) that makes the working copy in
      ``dest`` (a new folder ``work_dir/<student_id>``) and sets ``folder``; an IntakeError
      (or any other error) it raises makes that learner ungradable, never the others
    - kinds: the entry kinds taken ("folder", "zip"); entries of other kinds are ignored

    Returns a list of Submission, sorted by student id, ids unique.
    """
    subs_dir, work_dir = Path(subs_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    result, groups = [], {}
    for entry in _list_entries(subs_dir):
        if entry.kind not in kinds:
            continue
        sid, why = student_id_for(entry.stem)
        if why:
            result.append(Submission(show(entry.stem, 60), entry.path, problem=(
                f"the name {show(entry.name)!r} {why}, so it cannot be used as a student id: rename it to "
                f"letters and digits (any alphabet) with _ . @ + - or spaces inside, at most {MAX_ID_CHARS} "
                "characters, and grade again")))
            continue
        groups.setdefault(_id_key(sid), []).append((sid, entry))
    for members in groups.values():
        sid, entry = members[0]
        sub = Submission(sid, entry.path)
        result.append(sub)
        if len(members) > 1:
            names = " and ".join(ascii(e.name) if not e.name.isascii() else repr(e.name) for _, e in members)
            kinds_found = {e.kind for _, e in members}
            if kinds_found == {"folder", "zip"} and len(members) == 2 and \
                    members[0][1].stem == members[1][1].stem:
                sub.problem = (f"both a folder and a zip carry this student id ({names}): keep one and grade "
                               "again")
            else:
                sub.problem = (f"{len(members)} entries in SUBS have names that differ only by letter case "
                               f"or Unicode form ({names}): keep one, rename the others, and grade again")
            continue
        if entry.problem:
            sub.problem = entry.problem
            continue
        if sid != entry.stem:
            sub.notes.append(f"name {ascii(entry.stem)} read as {sid!r} (Unicode NFC)")
        dest = work_dir / sid
        guarded(sub, dest, lambda sub=sub, entry=entry, dest=dest: take_in(sub, entry, dest))
    _make_unique(result)
    return sorted(result, key=lambda s: s.student_id)


def _list_entries(subs_dir):
    entries = []
    with os.scandir(subs_dir) as listing:
        found = sorted(listing, key=lambda e: e.name)
    for item in found:
        name = item.name
        if name.startswith("."):
            continue
        try:
            mode = item.stat(follow_symlinks=False).st_mode
        except OSError:
            continue  # vanished while listing
        is_zip_name = name.lower().endswith(".zip") and len(name) > 4
        stem = name[:-4] if is_zip_name else name
        path = subs_dir / name
        if stat.S_ISDIR(mode):
            entries.append(_Entry(name, name, path, "folder"))
        elif stat.S_ISREG(mode):
            if is_zip_name:
                entries.append(_Entry(name, stem, path, "zip"))
        elif stat.S_ISLNK(mode):
            try:  # metadata of the target only: nothing is opened
                to_dir = stat.S_ISDIR(os.stat(path).st_mode)
            except (OSError, ValueError):
                to_dir = False
            if is_zip_name or to_dir:
                entries.append(_Entry(name, stem, path, "zip" if is_zip_name else "folder", problem=(
                    f"SUBS/{show(name)} is a symbolic link, and links are not followed: put the learner's "
                    "folder or zip itself in SUBS and grade again")))
        elif is_zip_name:
            entries.append(_Entry(name, stem, path, "zip", problem=(
                f"SUBS/{show(name)} is not a regular file (a {_file_type(mode)}): put the learner's zip file "
                "itself in SUBS and grade again")))
    return entries


def _file_type(mode):
    for test, label in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "device"),
                        (stat.S_ISBLK, "device"), (stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return label
    return "special file"


def _take_in(sub, entry, dest):
    """A learner's folder or zip, copied into the new folder ``dest``; sets ``sub.folder``."""
    _new_folder(dest)
    if entry.kind == "folder":
        _copy_folder(entry.path, dest, sub.notes)
    else:
        _unzip(entry.path, dest, sub.notes)
    sub.folder = find_course_root(dest)


def _new_folder(dest):
    try:
        dest.mkdir()
    except FileExistsError:
        raise IntakeError(f"the work folder {show(dest)} already exists: grade again into an empty "
                          "work folder") from None


def guarded(sub, dest, take_in):
    """Run ``take_in()``; any error makes ``sub`` ungradable (with the reason) and removes ``dest``."""
    existed = os.path.lexists(dest)
    try:
        take_in()
    except IntakeError as exc:
        sub.problem = str(exc)
    except Exception as exc:  # noqa: BLE001 - one submission never stops the intake of the others
        sub.problem = (f"the submission could not be taken in ({type(exc).__name__}: {show(exc, 200)}): "
                       "ask the instructor to look at it; resubmitting the plain course folder as a zip "
                       "usually helps")
    if sub.problem:
        sub.folder = None
        if not existed and os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest, ignore_errors=True)


def _make_unique(result):
    seen = set()
    for sub in result:
        base, n = sub.student_id, 1
        while _id_key(sub.student_id) in seen:
            n += 1
            sub.student_id = f"{base} ({n})"
        seen.add(_id_key(sub.student_id))


def _skip(rel_parts):
    return any(part in SKIP_DIRS for part in rel_parts)


# --------------------------------------------------------------------------- folders


class _Budget:
    def __init__(self, what, limits=None):
        self.what = what
        self.limits = limits or submission_limits()
        self.entries = self.bytes = 0

    def entry(self):
        self.entries += 1
        if self.entries > self.limits.max_files:
            self.too_large()

    def add(self, n):
        self.bytes += n
        if self.bytes > self.limits.max_bytes:
            self.too_large()

    def too_large(self):
        raise IntakeError(f"the {self.what} is too large (over {self.limits.max_files} files and folders or "
                          f"{self.limits.max_bytes >> 20} MB unpacked): {self.limits.advice}")


def _unreadable(rel, exc):
    return IntakeError(f"{show(rel)} in the submitted folder cannot be read ({exc.strerror or exc}): the "
                       "instructor should make it readable (chmod -R u+rwX) and grade again")


def _copy_folder(src, dest, notes, limits=None):
    """Copy regular files and folders only (no links, no special files), within the limits."""
    try:
        fd = os.open(src, _READ_DIR)
    except OSError as exc:
        raise _unreadable(".", exc) from exc
    try:
        _copy_tree(fd, dest, PurePosixPath(), notes, _Budget("folder", limits))
    finally:
        os.close(fd)


def _copy_tree(dir_fd, dest, rel, notes, budget):
    try:
        with os.scandir(dir_fd) as listing:
            names = sorted(item.name for item in listing)
    except OSError as exc:
        raise _unreadable(rel or ".", exc) from exc
    for name in names:
        path_rel = rel / name
        if name in SKIP_DIRS:
            continue
        if not _is_utf8(name):
            notes.append(f"left out: a name that is not valid UTF-8 ({show(path_rel)})")
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise _unreadable(path_rel, exc) from exc
        if stat.S_ISLNK(st.st_mode):
            notes.append(f"symbolic link left out: {show(path_rel)}")
            continue
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            notes.append(f"special file ({_file_type(st.st_mode)}) left out: {show(path_rel)}")
            continue
        if len(path_rel.parts) > MAX_DEPTH:
            notes.append(f"left out: {show(path_rel)}, nested deeper than {MAX_DEPTH} folders")
            continue
        budget.entry()
        target = dest / name
        if stat.S_ISDIR(st.st_mode):
            try:
                sub_fd = os.open(name, _READ_DIR, dir_fd=dir_fd)
            except OSError as exc:
                raise _unreadable(path_rel, exc) from exc
            try:
                _make_dir(target, path_rel)
                _copy_tree(sub_fd, target, path_rel, notes, budget)
            finally:
                os.close(sub_fd)
            continue
        try:
            fd = os.open(name, _READ_FILE, dir_fd=dir_fd)
        except OSError as exc:
            raise _unreadable(path_rel, exc) from exc
        with os.fdopen(fd, "rb") as src:
            now = os.fstat(src.fileno())
            if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                notes.append(f"left out: {show(path_rel)}, changed while it was read")
                continue
            try:
                _write_stream(src, target, path_rel, budget)
            except OSError as exc:
                raise IntakeError(f"{show(path_rel)} could not be copied ({exc.strerror or exc}): the "
                                  "instructor should check it can be read (chmod -R u+rwX) and grade "
                                  "again") from exc


def _make_dir(target, rel):
    try:
        target.mkdir()
    except OSError as exc:
        raise IntakeError(f"{show(rel)} could not be copied ({exc.strerror or exc}): shorten or rename it "
                          "and resubmit") from exc


def _write_stream(src, target, rel, budget, limit=None):
    """Copy ``src`` to a new file ``target``; returns the number of bytes."""
    try:
        out_fd = os.open(target, _WRITE_FILE, 0o644)
    except OSError as exc:
        raise IntakeError(f"{show(rel)} could not be copied ({exc.strerror or exc}): shorten or rename it "
                          "and resubmit") from exc
    written = 0
    with os.fdopen(out_fd, "wb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                return written
            written += len(chunk)
            budget.add(len(chunk))
            if limit is not None and written > limit:
                raise IntakeError(f"{show(rel)} in the zip holds more than it declares: {RESUBMIT_ZIP}")
            out.write(chunk)


# --------------------------------------------------------------------------- zips


def _check_directory(f, size, limits=None):
    """Refuse a zip whose end-of-central-directory record announces too much, before parsing it."""
    limits = limits or submission_limits()
    # the record zipfile will use: at the very end when there is no comment, else the last one
    tail_len = min(size, 22 + 0xFFFF + 20)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    if tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0":
        pos = len(tail) - 22
    else:
        pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return  # not a zip: zipfile says so
    entries, directory_bytes = struct.unpack("<HI", tail[pos + 10: pos + 16])
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        locator = pos - 20
        record_at = size - tail_len + locator - 56
        if locator >= 0 and tail[locator: locator + 4] == b"PK\x06\x07" and record_at >= 0:
            f.seek(record_at)
            record = f.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    if entries > limits.max_files:
        raise IntakeError(f"the zip holds {entries} entries, more than {limits.max_files}: {limits.advice}")
    if directory_bytes > limits.max_directory_bytes:
        raise IntakeError(f"the zip's table of contents is too large ({directory_bytes} bytes): "
                          f"{RESUBMIT_ZIP}")


def _member_name(info):
    """The member's name as text: UTF-8 when flagged, else UTF-8 if it decodes, else cp437 (the zip spec)."""
    name = info.orig_filename
    if info.flag_bits & 0x800:
        return name
    try:
        return name.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


def _plan(members, notes, limits=None, name_of=None):
    """Check every member before anything is written; returns [(parts, info, is_dir)].

    Inputs:
    - members: list of zipfile.ZipInfo (a whole zip, or one learner's part of an LMS download)
    - notes: list the notes are appended to
    - limits: Limits (default: one submission's)
    - name_of: function ZipInfo -> the member's name as text (default: the name in the zip)
    """
    limits = limits or submission_limits()
    name_of = name_of or _member_name
    if len(members) > limits.max_files:
        raise IntakeError(f"the zip holds {len(members)} entries, more than {limits.max_files}: "
                          f"{limits.advice}")
    plan, seen, declared = [], {}, 0
    backslashes = False
    for info in members:
        name = name_of(info)
        shown = show(name)
        if info.flag_bits & 0x1:
            raise IntakeError("the zip is password-protected: zip the course folder again without a password "
                              "and upload the new zip")
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            raise IntakeError(f"a name in the zip holds a control character ({shown!r}): {RESUBMIT_ZIP}")
        if "\\" in name:
            backslashes = True
            name = name.replace("\\", "/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            notes.append(f"unsafe path in zip left out: {shown!r}")
            continue
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            notes.append(f"unsafe path in zip left out: {shown!r}")
            continue
        if not parts or _skip(parts):
            continue
        if len(name.encode("utf-8")) > MAX_PATH_BYTES or \
                any(len(p.encode("utf-8")) > MAX_NAME_BYTES for p in parts):
            raise IntakeError(f"a name in the zip is too long ({shown!r}: over {MAX_NAME_BYTES} bytes a "
                              f"name or {MAX_PATH_BYTES} bytes a path): shorten it and resubmit")
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if stat.S_ISLNK(mode):
            notes.append(f"symbolic link in zip left out: {shown}")
            continue
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            notes.append(f"special file ({_file_type(mode)}) in zip left out: {shown}")
            continue
        if len(parts) > MAX_DEPTH:
            notes.append(f"left out: {shown}, nested deeper than {MAX_DEPTH} folders")
            continue
        is_dir = name.endswith("/") or kind == stat.S_IFDIR
        for k in range(1, len(parts)):
            _claim(seen, parts[:k], "folder")
        _claim(seen, parts, "folder" if is_dir else "file")
        if not is_dir:
            declared += info.file_size
            if declared > limits.max_bytes:
                raise IntakeError(f"the zip unpacks to more than {limits.max_bytes >> 20} MB: "
                                  f"{limits.advice}")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise IntakeError(f"{shown} in the zip is compressed more than {MAX_RATIO} to 1 (a zip "
                                  "bomb?): remove that file and resubmit")
        plan.append((parts, info, is_dir))
    if backslashes:
        notes.append("backslashes in zip names read as folder separators")
    return plan


def _claim(seen, parts, kind):
    path = "/".join(parts)
    key = _id_key(path)
    previous = seen.get(key)
    if previous is None:
        seen[key] = (path, kind)
        return
    spelled, had = previous
    if spelled != path:
        raise IntakeError("the zip holds names that differ only by letter case or Unicode form "
                          f"({show(spelled)!r} and {show(path)!r}): rename one and resubmit")
    if had != kind:
        raise IntakeError(f"the zip holds both a file and a folder named {show(path)!r}: {RESUBMIT_ZIP}")
    if kind == "file":
        raise IntakeError(f"the zip holds {show(path)!r} twice: {RESUBMIT_ZIP}")


def _open_regular(path, what="zip"):
    """A binary file object for ``path``, opened without following a link or blocking on a FIFO."""
    try:
        fd = os.open(path, _READ_FILE)
    except OSError as exc:
        raise IntakeError(f"the {what} cannot be read ({exc.strerror or exc}): the instructor should make it "
                          "readable (chmod u+r) and grade again") from exc
    f = os.fdopen(fd, "rb")
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode):
        f.close()
        raise IntakeError(f"the {what} is not a regular file (a {_file_type(st.st_mode)}): put the "
                          f"{what} file itself in SUBS and grade again")
    return f


def open_zip(f, limits=None):
    """A zipfile.ZipFile on the open binary file ``f``, after the size and directory checks."""
    limits = limits or submission_limits()
    size = os.fstat(f.fileno()).st_size
    if size > limits.max_zip_bytes:
        raise IntakeError(f"the zip is larger than {limits.max_zip_bytes >> 20} MB: {limits.advice}")
    try:
        _check_directory(f, size, limits)
        f.seek(0)
        return zipfile.ZipFile(f)
    except IntakeError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read the directory is a bad zip
        raise IntakeError(f"the file is not a readable zip ({type(exc).__name__}: {show(exc, 120)}): "
                          f"{RESUBMIT_ZIP}") from exc


def extract(archive, plan, dest, limits=None, what="zip"):
    """Write the members of a checked ``plan`` (see _plan) below ``dest``, counting every byte."""
    budget = _Budget(what, limits)
    for parts, info, is_dir in plan:
        target = dest.joinpath(*parts)
        rel = "/".join(parts)
        try:
            if is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src:
                _write_stream(src, target, rel, budget, limit=info.file_size)
        except IntakeError:
            raise
        except OSError as exc:
            raise IntakeError(f"{show(rel)} in the zip could not be unpacked "
                              f"({exc.strerror or exc}): {RESUBMIT_ZIP}") from exc
        except Exception as exc:  # noqa: BLE001 - damaged data, unknown compression, ...
            raise IntakeError(f"the zip is damaged ({show(rel)}: {type(exc).__name__}: "
                              f"{show(exc, 120)}): {RESUBMIT_ZIP}") from exc


def _unzip(zip_path, dest, notes, limits=None):
    with _open_regular(zip_path) as f:
        with open_zip(f, limits) as archive:
            plan = _plan(archive.infolist(), notes, limits)
            extract(archive, plan, dest, limits)


# --------------------------------------------------------------------------- the course folder


def find_course_root(folder):
    """The folder holding ``rnnkit/`` or ``lessons/``: ``folder`` itself or below it (3 levels)."""
    folder = Path(folder)
    candidates = [folder]
    for depth in range(3):
        pattern = "/".join(["*"] * (depth + 1))
        candidates += sorted(p for p in folder.glob(pattern)
                             if p.is_dir() and not p.is_symlink() and not _skip(p.relative_to(folder).parts))
    for marker in ("rnnkit", "lessons"):
        for candidate in candidates:
            if (candidate / marker).is_dir():
                return candidate
    raise IntakeError("no rnnkit/ or lessons/ folder found: submit the whole course folder")


def find_notebook(course_root, assignment):
    """Path of the learner's notebook for an assignment, or None."""
    course_root = Path(course_root)
    preferred = course_root / "lessons" / f"{assignment}.ipynb"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in course_root.rglob(f"{assignment}.ipynb")
                   if not _skip(p.relative_to(course_root).parts))
    return found[0] if found else None


# --------------------------------------------------------------------------- notebooks


def read_notebook(path):
    """A learner's notebook as a dict (nbformat 4), raising IntakeError with a reason."""
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(f"the notebook is not valid JSON ({exc.__class__.__name__}): "
                          "it was damaged when saved; open a fresh copy and paste your answers") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        raise IntakeError("the file is not a Jupyter notebook (version 4)")
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise IntakeError("the notebook has a damaged cell")
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        if not isinstance(cell.get("source", ""), str):
            raise IntakeError("the notebook has a damaged cell")
        if not isinstance(cell.get("metadata", {}), dict):
            cell["metadata"] = {}
    return nb


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def repair_notebook(nb):
    """Repair what aborts an nbgrader batch, in place; returns a list of notes.

    - duplicated cell ids get fresh ids;
    - a grade id carried by consecutive cells of one type (JupyterLab's split cell)
      is merged back into one cell; a grade id repeated elsewhere (a copied cell)
      loses its nbgrader metadata on the copies.
    Saved outputs are kept (the notebook is not run at grading time; they are shown inert).
    """
    notes = []
    cells = []
    for cell in nb["cells"]:
        gid = _grade_id(cell)
        prev = cells[-1] if cells else None
        if gid is not None and prev is not None and _grade_id(prev) == gid and \
                prev["cell_type"] == cell["cell_type"]:
            prev["source"] = prev["source"].rstrip("\n") + "\n" + cell["source"]
            notes.append(f"split cell {gid!r} joined again")
            continue
        cells.append(cell)
    seen_grade_ids, seen_ids = set(), set()
    for cell in cells:
        gid = _grade_id(cell)
        if gid is not None:
            if gid in seen_grade_ids:
                del cell["metadata"]["nbgrader"]
                notes.append(f"copy of cell {gid!r} is no longer an nbgrader cell")
            seen_grade_ids.add(gid)
        cid = cell.get("id")
        if nb.get("nbformat_minor", 0) >= 5 or cid is not None:
            if not isinstance(cid, str) or cid in seen_ids or not re.match(r"^[a-zA-Z0-9-_]{1,64}$", cid):
                cell["id"] = uuid.uuid4().hex[:8]
                if cid is not None:
                    notes.append(f"duplicated cell id {cid!r} replaced")
            seen_ids.add(cell["id"])
        if cell["cell_type"] == "code":
            # Saved outputs are kept for the feedback page; the grading pipeline makes them inert
            # (autograder.grading.sanitize) and replaces those of check cells by the trusted result.
            if not isinstance(cell.get("outputs"), list):
                cell["outputs"] = []
            if type(cell.get("execution_count")) is not int:
                cell["execution_count"] = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    nb["cells"] = cells
    return notes


def write_notebook(nb, path):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- the whole intake


@dataclass
class Intake:
    """Everything taken in from SUBS, whatever its form, and what it adds to the tables."""

    kind: str  # "folders", "nbgrader" (nbgrader collect's submitted/), "lms" (Moodle or Canvas download)
    submissions: list  # Submission, sorted by student id, ids unique
    notes: list = field(default_factory=list)  # (student, assignment, note) about SUBS as a whole
    roster_rows: list = field(default_factory=list)  # LMS downloads: rows of roster.csv
    due: dict = field(default_factory=dict)  # nbgrader: assignment -> due date (naive UTC)
    extensions: dict = field(default_factory=dict)  # nbgrader: (assignment, student) -> timedelta

    def good(self):
        """The submissions with a working copy."""
        return [s for s in self.submissions if s.folder is not None]

    def note_rows(self):
        """(student, assignment, note) for notes.csv: the download's, each learner's and each hand-in's."""
        rows = list(self.notes)
        for sub in self.submissions:
            rows += [(sub.student_id, "*", note) for note in sub.notes]
            for assignment, notes in sorted(sub.assignment_notes.items()):
                rows += [(sub.student_id, assignment, note) for note in notes]
        return rows

    def ungradable_rows(self):
        """(student, "*", reason) of the submissions that could not be taken in at all."""
        return [(s.student_id, "*", s.problem) for s in self.submissions if s.folder is None]

    def prepare_course(self, course):
        """Due dates and extensions (nbgrader hand-ins) and learners' names into the course's gradebook."""
        from autograder.grading import exchange

        students = {s.student_id for s in self.good()}
        exchange.apply_due_dates(course, self.due, self.extensions, students)
        named = {s.student_id: s.identity.get("roster_name") or s.identity.get("name", "")
                 for s in self.good() if s.identity}
        if named:
            from autograder.grading import gradebook  # imports nbgrader: only for an LMS class

            with gradebook.open_gradebook(course) as gb:
                for student, name in sorted(named.items()):
                    if "," in name:  # Canvas's sortable name: "Last, First"
                        last, _, first = (x.strip() for x in name.partition(","))
                    else:
                        first, _, last = name.rpartition(" ")
                    gb.update_or_create_student(student, first_name=first or None, last_name=last or None,
                                                email=self._email(student))

    def _email(self, student):
        for sub in self.submissions:
            if sub.student_id == student:
                return sub.identity.get("email") or None
        return None

    def write_tables(self, out, graded, assignments):
        """submissions.csv (every hand-in, its time and lateness), and roster.csv and LMS gradebook files.

        Inputs:
        - out: the OUT folder
        - graded: {(student, assignment): (score, max_score)}
        - assignments: the assignments of this run
        Returns the names of the files written.
        """
        out = Path(out)
        rows = []
        for sub in self.submissions:
            keys = sorted(set(sub.assignment_folders) | set(sub.assignment_problems)) if sub.per_assignment \
                else ["*"]
            for key in keys:
                stamp, late = sub.timestamps.get(key), sub.late.get(key)
                source = f"{Path(sub.source).name}/{key}" if sub.per_assignment else Path(sub.source).name
                rows.append([sub.student_id, key, show(source, 200),
                             stamp.isoformat(" ") if stamp else "",
                             "" if late is None else "yes" if late > 0 else "no",
                             f"{late:.0f}" if late else "",
                             "ungradable" if sub.folder is None or key in sub.assignment_problems
                             else "taken in"])
        path = out / "submissions.csv"
        with open(path.with_suffix(".tmp"), "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student_id", "assignment", "source", "submitted_at", "late", "seconds_late",
                             "intake"])
            writer.writerows([[csv_cell(v) for v in row] for row in rows])
        os.replace(path.with_suffix(".tmp"), path)
        written = [path.name]
        if self.kind == "lms":
            from autograder.grading import lms

            written += lms.write_tables(out, self.submissions, self.roster_rows, graded, assignments)
        return written


def take_in(subs, work_dir, roster=None):
    """Working copies of every submission in SUBS, whatever its form; returns an Intake.

    Inputs:
    - subs: a folder of learner folders and zips (``collect``), an nbgrader course directory or
      its ``submitted/`` folder (``autograder.grading.exchange``), or a Moodle or Canvas
      download, zipped or extracted (``autograder.grading.lms``)
    - work_dir: folder for the working copies; only written below
    - roster: path of a roster CSV exported from the LMS, or None

    Raises IntakeError when SUBS as a whole cannot be read (a download that is no zip),
    lms.RosterError when the roster cannot be used.
    """
    from autograder.grading import exchange, lms

    subs, work_dir = Path(subs), Path(work_dir)
    entries = lms.read_roster(roster) if roster else None
    is_folder = stat.S_ISDIR(os.lstat(subs).st_mode)
    submitted = exchange.submitted_folder(subs) if is_folder else None
    if submitted is not None:
        intake = Intake("nbgrader", exchange.collect(submitted, work_dir))
        intake.due, intake.extensions = exchange.read_due_dates(submitted)
        exchange.judge_lateness(intake.good(), intake.due, intake.extensions)
        if not intake.due:
            intake.notes.append(("*", "*", "no due dates known (no gradebook.db beside submitted/): the "
                                           "submission times are recorded, lateness is not judged"))
    elif not is_folder or lms.looks_like_download(subs):
        taken, notes, rows = lms.take_in_download(subs, work_dir, entries)
        intake = Intake("lms", taken, notes, rows)
    else:
        intake = Intake("folders", collect(subs, work_dir))
    if entries is not None and intake.kind != "lms":
        intake.notes.append(("*", "*", "the roster (--roster) was not used: it maps the names of a Moodle or "
                                       "Canvas download"))
    return intake


def stage_extras(sub, assignment, target):
    """Put nbgrader's timestamp.txt (its own format, UTC) into a staged submission folder, if known."""
    from autograder.grading import exchange

    stamp = sub.timestamps.get(assignment)
    path = Path(target) / exchange.TIMESTAMP_FILE
    if os.path.lexists(path):
        path.unlink()
    if stamp is not None:
        path.write_text(exchange.format_timestamp(stamp) + "\n", encoding="ascii")


def check_tasks(good, todo):
    """[(student, folder, [assignments])]: one sandbox run per learner and course folder.

    Inputs:
    - good: the Submissions with a working copy
    - todo: [(assignment, student)] to grade
    """
    by_id = {s.student_id: s for s in good}
    wanted = {}
    for assignment, student in todo:
        folder = by_id[student].folder_for(assignment)
        if folder is not None:
            wanted.setdefault((student, str(folder)), []).append(assignment)
    return [(student, folder, assignments) for (student, folder), assignments in sorted(wanted.items())]


_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def csv_cell(value):
    """The text of one cell of a CSV written for people, made safe to open in a spreadsheet.

    Text from a download or a learner (names, file names, messages) starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a line break would be run as a formula by Excel, LibreOffice or
    Google Sheets (OWASP "CSV Injection"); such a cell gets a leading ``'``. Plain numbers
    (``-1``, ``2.5``) are written as they are.

    Inputs:
    - value: anything; str() of it is written
    Returns the text of the cell.
    """
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") and not _NUMBER.fullmatch(text):
        return "'" + text
    return text

