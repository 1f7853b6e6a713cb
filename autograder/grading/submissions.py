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

Also here: reading a learner's notebook defensively and repairing the two
things that break nbgrader's batch (duplicated cell ids and duplicated grade ids
left by JupyterLab's "split cell").
"""

from __future__ import annotations

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


@dataclass
class Submission:
    student_id: str
    source: Path  # the original (folder or zip), never written
    folder: Path | None = None  # working copy: the folder that holds rnnkit/ and lessons/
    problem: str = ""  # why it cannot be graded, then what to do ("" when folder is set)
    notes: list = field(default_factory=list)  # things dropped or repaired, for the record


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
    subs_dir, work_dir = Path(subs_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    result, groups = [], {}
    for entry in _list_entries(subs_dir):
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
            kinds = {e.kind for _, e in members}
            if kinds == {"folder", "zip"} and len(members) == 2 and members[0][1].stem == members[1][1].stem:
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
        _take_in(sub, entry, work_dir / sid)
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
    created = False
    try:
        try:
            dest.mkdir()
        except FileExistsError:
            raise IntakeError(f"the work folder {show(dest)} already exists: grade again into an empty "
                              "work folder") from None
        created = True
        if entry.kind == "folder":
            _copy_folder(entry.path, dest, sub.notes)
        else:
            _unzip(entry.path, dest, sub.notes)
        sub.folder = find_course_root(dest)
    except IntakeError as exc:
        sub.problem = str(exc)
    except Exception as exc:  # noqa: BLE001 - one submission never stops the intake of the others
        sub.problem = (f"the submission could not be taken in ({type(exc).__name__}: {show(exc, 200)}): "
                       "ask the instructor to look at it; resubmitting the plain course folder as a zip "
                       "usually helps")
    if sub.problem:
        sub.folder = None
        if created:
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
    def __init__(self, what):
        self.what = what
        self.entries = self.bytes = 0

    def entry(self):
        self.entries += 1
        if self.entries > MAX_FILES:
            self.too_large()

    def add(self, n):
        self.bytes += n
        if self.bytes > MAX_BYTES:
            self.too_large()

    def too_large(self):
        raise IntakeError(f"the {self.what} is too large (over {MAX_FILES} files and folders or "
                          f"{MAX_BYTES >> 20} MB unpacked): remove data files, outputs and environments "
                          "(keep lessons/ and rnnkit/) and resubmit")


def _unreadable(rel, exc):
    return IntakeError(f"{show(rel)} in the submitted folder cannot be read ({exc.strerror or exc}): the "
                       "instructor should make it readable (chmod -R u+rwX) and grade again")


def _copy_folder(src, dest, notes):
    """Copy regular files and folders only (no links, no special files), within the limits."""
    try:
        fd = os.open(src, _READ_DIR)
    except OSError as exc:
        raise _unreadable(".", exc) from exc
    try:
        _copy_tree(fd, dest, PurePosixPath(), notes, _Budget("folder"))
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


def _check_directory(f, size):
    """Refuse a zip whose end-of-central-directory record announces too much, before parsing it."""
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
    if entries > MAX_FILES:
        raise IntakeError(f"the zip holds {entries} entries, more than {MAX_FILES}: remove data files, "
                          "outputs and environments (keep lessons/ and rnnkit/) and resubmit")
    if directory_bytes > MAX_DIRECTORY_BYTES:
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


def _plan(archive, notes):
    """Check every member before anything is written; returns [(parts, info, is_dir)]."""
    members = archive.infolist()
    if len(members) > MAX_FILES:
        raise IntakeError(f"the zip holds {len(members)} entries, more than {MAX_FILES}: remove data files, "
                          "outputs and environments (keep lessons/ and rnnkit/) and resubmit")
    plan, seen, declared = [], {}, 0
    backslashes = False
    for info in members:
        name = _member_name(info)
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
            if declared > MAX_BYTES:
                raise IntakeError(f"the zip unpacks to more than {MAX_BYTES >> 20} MB: remove data files, "
                                  "outputs and environments (keep lessons/ and rnnkit/) and resubmit")
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


def _unzip(zip_path, dest, notes):
    try:
        fd = os.open(zip_path, _READ_FILE)
    except OSError as exc:
        raise IntakeError(f"the zip cannot be read ({exc.strerror or exc}): the instructor should make it "
                          "readable (chmod u+r) and grade again") from exc
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise IntakeError(f"the zip is not a regular file (a {_file_type(st.st_mode)}): put the "
                              "learner's zip file itself in SUBS and grade again")
        if st.st_size > MAX_ZIP_BYTES:
            raise IntakeError(f"the zip is larger than {MAX_ZIP_BYTES >> 20} MB: remove data files, outputs "
                              "and environments (keep lessons/ and rnnkit/) and resubmit")
        try:
            _check_directory(f, st.st_size)
            f.seek(0)
            archive = zipfile.ZipFile(f)
        except IntakeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to read the directory is a bad zip
            raise IntakeError(f"the file is not a readable zip ({type(exc).__name__}: {show(exc, 120)}): "
                              f"{RESUBMIT_ZIP}") from exc
        with archive:
            plan = _plan(archive, notes)
            budget = _Budget("zip")
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
