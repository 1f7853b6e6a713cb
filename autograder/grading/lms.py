"""Taking in an LMS download (Moodle, Canvas), its roster, and gradebook files to upload back.

A class without a hub: each learner uploads the zipped course folder to a Moodle or
Canvas assignment; the instructor downloads all submissions as one zip and passes it to
``grade`` as it comes, the zip itself or the folder it was extracted to.

File names (the same regular expressions' approach as nbgrader's ``zip_collect``
FileNameCollectorPlugin, whose ``named_regexp`` takes ``student_id``, ``file_id`` and
``timestamp`` groups; here the groups are the LMS's own):

- Moodle (mod/assign/classes/downloader.php, ``download all submissions``): with "download
  submissions in folders" (the default since Moodle 3.1) a folder
  ``<Full Name>_<participant id>_assignsubmission_file/`` per learner, holding the files
  uploaded; without it, files named ``<Full Name>_<participant id>_assignsubmission_file_<file>``.
  Moodle replaces "_" in the name by a space, so the name ends at the first
  ``_<digits>_assignsubmission_``. The participant id is the assignment's own number for
  the learner (``Participant 123`` in the grading worksheet), not the Moodle user id.
  Blind marking names every learner "Participant".
- Canvas (lib/content_zipper.rb): ``<lastnamefirstname>[_LATE]_<user id>_<attachment id>_<file>``,
  the name being the lowercase sortable name with everything but letters and digits removed,
  ``LATE`` present when Canvas counted the submission late; anonymous grading writes
  ``anon_<anonymous id>`` for the user id. ``late_`` in front of the name (older downloads)
  counts as late too. The attachment ids grow with time. Ids are ASCII digits; a user id
  needs a name (one run of letters and digits) before it, except ``anon_<id>``; a file name
  that reads more than one way (as Moodle's and Canvas's, or as two learners') is given to
  nobody and listed as ungradable with the reason.

Every name, link and member of a download is hostile: the download is read with the
hardening of ``autograder.grading.submissions`` (no link followed, no FIFO opened, zip
slip, bombs, control characters and colliding names refused), per learner, so that one
learner's odd upload makes that learner ungradable with a reason and nobody else.

Per learner (same LMS id): the zips uploaded are candidates; the latest wins (Canvas: the
highest attachment id; Moodle: the newest file time in the download, then the name), and
every other file is named in a note. A learner who uploaded no zip is ungradable with a
reason. Student ids are made from the names, safe and stable: Moodle ``Zoë Müller``
(``-<participant id>`` added when two learners share a name), Canvas ``müllerzoë-12345``
(the Canvas user id makes it unique), anonymous Canvas ``anon-x1y2z``; letters of every
alphabet stay letters, everything else becomes ``-``.

``--roster FILE``: a CSV exported from the LMS (Canvas: the gradebook export, columns
Student, ID, SIS User ID, SIS Login ID, Section; Moodle: the grading worksheet of the
assignment, columns Identifier, Full name, Email address, or a participants or gradebook
export with First name, Last name, Email address, ID number). Learners are matched by LMS
id, or by name when the roster has no id column. A learner missing from the roster is
graded all the same, with a note; a roster entry with no submission is listed.

Written beside the grades (``write_tables``):
- ``roster.csv``: student_id, full_name, lms, lms_id, email, id_number, sis_user_id,
  sis_login_id, section, submission, submitted_at, late, note;
- Canvas: ``canvas-grades.csv`` for Grades > Import: the columns Student, ID, SIS User ID,
  SIS Login ID, Section in this order, then one column per assignment (named as the
  assignment: Canvas matches an existing assignment by that name, or by the id in
  ``Name (id)``, and offers to create the others). Followed: Canvas Instructor Guide "How
  do I import grades in the Gradebook?" (community.canvaslms.com, ta-p/807), which asks
  for those five columns before the assignments and in that order;
- Moodle: ``moodle-worksheet.csv`` for the assignment's "Upload grading worksheet"
  (feedback type "Offline grading worksheet"): columns Identifier (``Participant <id>``),
  Full name, Email address, Grade, Maximum Grade, Last modified (grade); the importer
  (mod/assign/feedback/offline/importgradeslib.php) finds the columns Identifier, Grade and
  Last modified (grade) by their English names and the learner by the number after
  ``Participant``. Grade is the total of the assignments graded in this run.
  ``moodle-gradebook.csv`` for Gradebook > Import > CSV file: Full name, Email address,
  ID number, then one column per assignment; in Moodle map "Email address" to the
  user's email (or "ID number" to idnumber) and each assignment column to its grade item
  (Moodle Docs, "Grade import": "Change both dropdowns to: Email Address to useremail, or
  to Id Number to useridnumber"). It needs the emails or ID numbers of a ``--roster``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from autograder.grading import submissions as subs_mod
from autograder.grading.submissions import IntakeError, Limits, Submission, show

MOODLE_FOLDER = re.compile(
    r"^(?P<name>.+?)_(?P<lms_id>[0-9]{1,18})_assignsubmission_(?P<plugin>[a-z]+)_?$", re.S)
MOODLE_FILE = re.compile(
    r"^(?P<name>.+?)_(?P<lms_id>[0-9]{1,18})_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$", re.S)
CANVAS_NAME = re.compile(r"[^\W_]+")  # Canvas keeps only letters and digits of the sortable name
CANVAS_USER_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
CANVAS_ANON_ID = re.compile(r"[A-Za-z0-9]{1,40}", re.ASCII)
NAME_CHARS = 40  # a name's share of a student id (64 characters at most, the LMS id goes after it)
MAX_ROSTER_BYTES = 32 << 20
# One learner's part of a download: a few zips of at most a submission's size each.
RAW_ADVICE = ("upload one zip of the course folder (keep lessons/ and rnnkit/) and download the submissions "
              "again")
DOWNLOAD_ADVICE = ("download the submissions again (one assignment at a time) or extract the zip and "
                   "pass the folder")


def raw_limits():
    """Limits of one learner's files in a download (read at call time: tests lower them)."""
    return Limits(4 * subs_mod.MAX_ZIP_BYTES, subs_mod.MAX_FILES, 4 * subs_mod.MAX_ZIP_BYTES,
                  subs_mod.MAX_DIRECTORY_BYTES, RAW_ADVICE)


def download_limits():
    """Limits of a whole download zip: a few thousand learners."""
    return Limits(1 << 40, 200_000, 1 << 40, 256 << 20, DOWNLOAD_ADVICE)


class RosterError(ValueError):
    """The --roster file cannot be used; the message says why and what to do."""


# --------------------------------------------------------------------------- names


@dataclass
class Upload:
    """One file (or a Moodle folder's file) of a download, attributed to a learner."""

    lms: str  # "moodle" or "canvas"
    lms_id: str  # Moodle participant id, Canvas user id or anon_<id>
    name: str  # the learner's name as the file name gives it
    top: str  # the name of the entry in the download (file, or Moodle folder)
    rel: str  # path of the file below the learner's Moodle folder, else ``top`` (unique per learner)
    file: str = ""  # the file's name as the learner uploaded it
    odd: str = ""  # why the entry cannot be read ("a symbolic link"), else ""
    late: bool | None = None  # Canvas: whether Canvas marked it late
    order: int = 0  # Canvas attachment id
    mtime: float | None = None  # time of the file in the download (seconds since the epoch)
    source: object = None  # zipfile.ZipInfo, or the Path of the file in an extracted download


def parse_top(name, is_folder):
    """(lms, fields dict) for the name of a download entry, or (None, None) when it is no LMS name.

    A name read more than one way (see ``name_readings``) is no LMS name either: guessing
    could hand one learner's upload to another.
    """
    readings = name_readings(name, is_folder)
    return readings[0] if len(readings) == 1 else (None, None)


def name_readings(name, is_folder):
    """Every (lms, fields dict) a download entry's name can be read as (a list, usually of one)."""
    name = unicodedata.normalize("NFC", name)
    if is_folder:
        m = MOODLE_FOLDER.match(name)
        return [("moodle", m.groupdict())] if m else []
    readings = []
    m = MOODLE_FILE.match(name)
    if m:
        readings.append(("moodle", m.groupdict()))
    readings += [("canvas", fields) for fields in _canvas_readings(name)]
    return readings


def _canvas_readings(name):
    """The ways ``name`` reads as ``<name>[_LATE]_<user id>_<attachment>_<file>`` (see the module docstring).

    The user id must follow a name (letters and digits, as Canvas writes it) or be
    ``anon_<id>`` with no name; ``LATE`` after the name or ``late`` before it marks lateness
    only beside a name (a learner named "Late" is on time). Ids are ASCII digits.
    """
    parts = name.split("_")
    readings = []
    ids = []  # (parts before the id, the id, anonymous?)
    for i in range(len(parts)):
        if CANVAS_USER_ID.fullmatch(parts[i]):
            ids.append((i, parts[:i], parts[i], False))
        if i >= 1 and parts[i - 1].lower() == "anon" and CANVAS_ANON_ID.fullmatch(parts[i]):
            ids.append((i, parts[:i - 1], f"anon_{parts[i]}", True))
    for i, head, lms_id, anonymous in ids:
        rest = parts[i + 1:]
        if len(rest) >= 2 and CANVAS_USER_ID.fullmatch(rest[0]) and "_".join(rest[1:]):
            tail = {"attachment": rest[0], "file": "_".join(rest[1:]), "text": None}
        elif len(rest) == 1 and rest[0].lower() in ("text.html", "link.html"):
            tail = {"attachment": None, "file": rest[0], "text": rest[0][:-5]}
        else:
            continue
        for person, late in _canvas_heads(head, anonymous):
            readings.append({"name": person, "late": late, "lms_id": lms_id, **tail})
    return readings


def _canvas_heads(head, anonymous):
    """[(name or None, late marker or None)] for the parts before a Canvas user id."""
    if anonymous:  # anonymous grading writes no name
        if not head:
            return [(None, None)]
        return [(None, head[0])] if len(head) == 1 and head[0].lower() == "late" else []
    if len(head) == 1 and CANVAS_NAME.fullmatch(head[0]):
        return [(head[0], None)]
    if len(head) == 2 and head[1] == "LATE" and CANVAS_NAME.fullmatch(head[0]):
        return [(head[0], head[1])]
    if len(head) == 2 and head[0].lower() == "late" and CANVAS_NAME.fullmatch(head[1]):
        return [(head[1], head[0])]  # the older "late_" in front of the name
    return []


def safe_name(name):
    """A student-id-safe form of a person's name: letters, digits and marks kept, the rest '-'."""
    name = unicodedata.normalize("NFC", str(name))
    out = []
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] == "L" or category == "Nd" or (category[0] == "M" and out):
            out.append(ch)
        elif ch == " " or ch == "_":
            out.append(" ")
        else:
            out.append("-")
    text = re.sub(r" *-[- ]*", "-", re.sub(r" +", " ", "".join(out)))
    while text and not (unicodedata.category(text[0])[0] == "L" or unicodedata.category(text[0]) == "Nd"):
        text = text[1:]
    text = text[:NAME_CHARS].rstrip(" -")
    if not text or subs_mod.student_id_for(text)[1]:
        return "learner"
    return text


def name_key(name):
    """A name compared loosely: NFC, case folded, '_' and runs of spaces as one space."""
    text = unicodedata.normalize("NFC", str(name)).casefold().replace("_", " ")
    return " ".join(text.split())


def canvas_key(name):
    """A name as Canvas writes it in file names: lowercase, letters and digits only."""
    return re.sub(r"[\W_]", "", unicodedata.normalize("NFC", str(name)).lower())


# --------------------------------------------------------------------------- roster


@dataclass
class RosterEntry:
    lms_id: str = ""
    name: str = ""
    email: str = ""
    id_number: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    matched: bool = False


_COLUMNS = {
    "lms_id": ("id", "identifier", "lms_id", "lms id", "participant", "user id", "userid"),
    "name": ("student", "full name", "fullname", "name", "student name"),
    "first": ("first name", "firstname", "given name"),
    "last": ("last name", "lastname", "surname", "family name"),
    "email": ("email address", "email", "e-mail", "e-mail address"),
    "id_number": ("id number", "idnumber"),
    "sis_user_id": ("sis user id",),
    "sis_login_id": ("sis login id",),
    "section": ("section", "sections"),
}


def read_roster(path):
    """The entries of a roster CSV exported from the LMS (see the module docstring); raises RosterError."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_ROSTER_BYTES + 1)
    except OSError as exc:
        raise RosterError(f"the roster {path} cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_ROSTER_BYTES:
        raise RosterError(f"the roster {path} is larger than {MAX_ROSTER_BYTES >> 20} MB: "
                          "is it the right file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"the roster {path} is not UTF-8 text: export it from the LMS as CSV "
                          "(UTF-8)") from None
    rows = list(csv.reader(io.StringIO(text), delimiter=_roster_delimiter(text)))
    if not rows:
        raise RosterError(f"the roster {path} is empty")
    header = [h.strip().casefold() for h in rows[0]]
    where = {key: next((header.index(n) for n in names if n in header), None)
             for key, names in _COLUMNS.items()}
    if where["lms_id"] is None and where["name"] is None and where["last"] is None:
        raise RosterError(f"the roster {path} has none of the columns ID, Identifier, Student, Full name, "
                          "First name/Last name: export the gradebook (Canvas) or the grading worksheet "
                          "(Moodle) as CSV and pass that file")
    entries = []
    for row in rows[1:]:
        def cell(key, row=row):
            i = where[key]
            return row[i].strip() if i is not None and i < len(row) else ""
        entry = RosterEntry(email=cell("email"), id_number=cell("id_number"), sis_user_id=cell("sis_user_id"),
                            sis_login_id=cell("sis_login_id"), section=cell("section"))
        ident = cell("lms_id")
        digits = re.search(r"([0-9]+)$", ident)
        if ident and not digits:
            continue  # Canvas's "Points Possible" row, or a test line
        entry.lms_id = digits.group(1) if digits else ""
        entry.name = cell("name") or " ".join(x for x in (cell("first"), cell("last")) if x)
        if entry.lms_id or entry.name:
            entries.append(entry)
    return entries


def _roster_delimiter(text):
    """The separator of a roster: the one that splits its header line into the most known column names.

    Only the header is looked at (the LMS writes it; the learners' names below are anyone's), and
    "," wins a tie (the CSV of Canvas and Moodle; ";" and tab come from spreadsheets set to a
    locale that writes decimal commas).
    """
    header_line = text.split("\n", 1)[0].rstrip("\r")
    known = {name for names in _COLUMNS.values() for name in names}
    best, best_count = ",", 0
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        count = sum(1 for cell in cells if cell.strip().casefold() in known)
        if count > best_count:
            best, best_count = delimiter, count
    return best


def match_roster(entries, upload):
    """The roster entry of a learner (by LMS id, else by a unique name), or None."""
    if upload.lms_id.isascii() and upload.lms_id.isdigit() and any(e.lms_id for e in entries):
        found = [e for e in entries if e.lms_id == upload.lms_id]
        return found[0] if len(found) == 1 else None
    if upload.lms == "canvas":
        found = [e for e in entries if e.name and _canvas_forms(e.name) & {canvas_key(upload.name)}]
    else:
        found = [e for e in entries if e.name and name_key(e.name) == name_key(upload.name)]
    return found[0] if len(found) == 1 else None


def _canvas_forms(name):
    """The file-name forms of a roster name: as written, and "Last, First" turned to last-first."""
    forms = {canvas_key(name)}
    if "," not in name:
        words = name.split()
        if len(words) > 1:
            forms.add(canvas_key(" ".join(words[1:] + words[:1])))
    return forms


# --------------------------------------------------------------------------- reading a download


def looks_like_download(subs_dir):
    """True when most entries of the folder ``subs_dir`` are named as a Moodle or Canvas download."""
    named = total = 0
    try:
        with os.scandir(subs_dir) as listing:
            for item in listing:
                if item.name.startswith(".") or item.name in subs_mod.SKIP_DIRS:
                    continue
                try:
                    is_dir = stat.S_ISDIR(item.stat(follow_symlinks=False).st_mode)
                except OSError:
                    continue
                total += 1
                named += _parse_any(item.name, is_dir)[0] is not None
    except OSError:
        return False
    return named > 0 and 2 * named > total


def _parse_any(name, is_dir):
    """parse_top, trying a link or special file both as a Moodle folder and as a file."""
    found = parse_top(name, is_dir)
    return found if found[0] is not None or is_dir else parse_top(name, True)


def take_in_download(subs, work_dir, roster=None):
    """Working copies of the submissions in an LMS download (a .zip or an extracted folder).

    Inputs:
    - subs: the download zip, or the folder it was extracted to
    - work_dir: folder for the copies; only written below
    - roster: list of RosterEntry, or None

    Returns (list of Submission sorted by student id, notes of the whole download as
    [(student, assignment, note)], roster rows for roster.csv). Raises IntakeError when
    the download itself cannot be read (not a zip, too large, unlike any LMS download).
    """
    subs, work_dir = Path(subs), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    general = []
    archive_file = archive = None
    try:
        if stat.S_ISDIR(os.lstat(subs).st_mode):
            uploads, strays = _scan_folder(subs, general)
        else:
            archive_file = subs_mod._open_regular(subs, what="download")
            archive = subs_mod.open_zip(archive_file, download_limits())
            uploads, strays = _scan_zip(archive, general)
        if not uploads:
            raise IntakeError(f"{show(subs)} holds no file named as a Moodle or Canvas download "
                              "(<Full Name>_<id>_assignsubmission_file..., <name>_<id>_<id>_<file>): "
                              "pass the zip of all submissions as downloaded, or its extracted folder")
        learners = _group(uploads)
        ids = _student_ids(learners)
        result = []
        raw_root = work_dir / ".download"
        raw_root.mkdir(exist_ok=True)
        for n, (key, items) in enumerate(sorted(learners.items(), key=lambda kv: ids[kv[0]])):
            sub = Submission(ids[key], subs / items[0].top)
            sub.identity = {"lms": key[0], "lms_id": key[1], "name": items[0].name}
            if len({i.name for i in items}) > 1:
                sub.notes.append("the download names this learner differently: "
                                 + ", ".join(sorted({repr(show(i.name)) for i in items})))
            result.append(sub)
            dest = work_dir / sub.student_id
            subs_mod.guarded(sub, dest, lambda sub=sub, items=items, dest=dest, n=n:
                             _take_in_learner(sub, items, archive, raw_root / str(n), dest))
        for top, why in strays:
            result.append(Submission(show(top, 60), subs / top, problem=why))
        shutil.rmtree(raw_root, ignore_errors=True)
    finally:
        if archive is not None:
            archive.close()
        if archive_file is not None:
            archive_file.close()
    subs_mod._make_unique(result)
    rows = _roster_rows(result, roster, general)
    return sorted(result, key=lambda s: s.student_id), general, rows


def _stray(top, kind="entry"):
    if len(name_readings(top, False)) > 1:
        return (top, f"the {kind} {show(top)!r} in the download can be read as more than one learner's "
                     "(Moodle or Canvas) submission, so it is given to none: find whose it is in the LMS and "
                     "grade it on its own (put it in a folder as <student_id>.zip)")
    return (top, f"the {kind} {show(top)!r} in the download is not named as a Moodle or Canvas submission: "
                 "grade it on its own (put it in a folder as <student_id>.zip) if it is a learner's")


def _scan_folder(folder, general):
    """(uploads, strays) of an extracted download; nothing is opened here but folder listings."""
    uploads, strays = [], []
    with os.scandir(folder) as listing:
        items = sorted(listing, key=lambda e: e.name)
    for item in items:
        name = item.name
        if name.startswith(".") or name in subs_mod.SKIP_DIRS:
            continue
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if not subs_mod._is_utf8(name):
            strays.append(_stray(name))
            continue
        lms, fields = _parse_any(name, is_dir)
        if lms is None:
            if is_dir or stat.S_ISREG(st.st_mode) and name.lower().endswith(".zip"):
                strays.append(_stray(name, "folder" if is_dir else "file"))
            elif stat.S_ISREG(st.st_mode):
                general.append(("*", "*", f"left out: the file {show(name)!r} beside the submissions (not "
                                          "named as a Moodle or Canvas submission)"))
            continue
        base = dict(lms=lms, lms_id=fields["lms_id"], name=fields.get("name") or "", top=name,
                    late=bool(fields.get("late")) if lms == "canvas" else None,
                    order=int(fields.get("attachment") or 0), source=folder / name)
        if is_dir:
            uploads.append(Upload(rel="", file="", **base))  # its files are listed when it is copied
        else:
            odd = "" if stat.S_ISREG(st.st_mode) else f"a {subs_mod._file_type(st.st_mode)}"
            uploads.append(Upload(rel=name, file=fields.get("file") or name, odd=odd,  # odd: never opened
                                  mtime=st.st_mtime if lms == "moodle" else None, **base))
    return uploads, strays


def _scan_zip(archive, general):
    """(uploads, strays) of a download zip, from its directory only (nothing is unpacked here)."""
    uploads, strays, seen_strays = [], [], set()
    members = []
    for info in archive.infolist():
        name = subs_mod._member_name(info)
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            general.append(("*", "*", f"left out of the download: a name with a control character "
                                      f"({show(name)!r})"))
            continue
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or name.startswith("/") or ".." in parts or subs_mod._skip(parts):
            if parts and ".." in parts or name.startswith("/"):
                general.append(("*", "*", f"unsafe path in the download left out: {show(name)!r}"))
            continue
        members.append((parts, info))
    tops = {parts[0] for parts, _ in members}
    if len(tops) == 1 and all(len(p) > 1 for p, _ in members):
        (only,) = tops
        if parse_top(only, True)[0] is None:  # a download zipped again inside one folder
            members = [(parts[1:], info) for parts, info in members]
    for parts, info in members:
        top = unicodedata.normalize("NFC", parts[0])
        is_dir = len(parts) > 1 or info.is_dir()
        lms, fields = parse_top(top, is_dir)
        if lms is None:
            if top not in seen_strays:
                seen_strays.add(top)
                if is_dir or top.lower().endswith(".zip"):
                    strays.append(_stray(top))
                else:
                    general.append(("*", "*", f"left out: the file {show(top)!r} beside the submissions (not "
                                              "named as a Moodle or Canvas submission)"))
            continue
        if info.is_dir():
            continue
        # Moodle writes each file's own time into its zip; Canvas's times are those of the download.
        when = dt.datetime(*info.date_time).replace(tzinfo=dt.UTC).timestamp()
        rel = "/".join(parts[1:]) if len(parts) > 1 else top
        uploads.append(Upload(lms=lms, lms_id=fields["lms_id"], name=fields.get("name") or "", top=top,
                              rel=rel, file=rel if len(parts) > 1 else (fields.get("file") or top),
                              late=bool(fields.get("late")) if lms == "canvas" else None,
                              order=int(fields.get("attachment") or 0),
                              mtime=when if lms == "moodle" else None, source=info))
    return uploads, strays


def _group(uploads):
    learners = {}
    for upload in uploads:
        learners.setdefault((upload.lms, upload.lms_id), []).append(upload)
    return learners


def _student_ids(learners):
    """{(lms, lms_id): student id}, unique up to case and Unicode form."""
    base = {}
    for key, items in learners.items():
        lms, lms_id = key
        name = items[0].name
        if lms == "canvas":
            base[key] = f"anon-{lms_id[5:]}" if lms_id.startswith("anon_") else f"{safe_name(name)}-{lms_id}"
        else:
            base[key] = safe_name(name)
    clashes = {}
    for key, sid in base.items():
        clashes.setdefault(subs_mod._id_key(sid), []).append(key)
    out = {}
    for key, sid in base.items():
        shared = len(clashes[subs_mod._id_key(sid)]) > 1
        out[key] = f"{sid}-{key[1]}" if shared else sid
    return out


def _take_in_learner(sub, items, archive, raw, dest):
    """Pick the learner's latest zip, copy it out of the download, unzip it into ``dest``."""
    subs_mod._new_folder(dest)
    raw.mkdir(parents=True)
    try:
        _take_in_files(sub, _learner_files(sub, items, archive, raw), dest)
    finally:
        shutil.rmtree(raw, ignore_errors=True)


def _take_in_files(sub, files, dest):
    odd = [upload for upload, _path in files if upload.odd]
    for upload in odd:
        sub.notes.append(f"left out: {show(upload.top)!r} is {upload.odd} (never followed or opened)")
    files = [f for f in files if not f[0].odd]
    zips = [f for f in files if f[0].rel.lower().endswith(".zip")]
    others = [f for f in files if f not in zips]
    for upload, _path in others:
        sub.notes.append(f"left out: {show(upload.file)!r} is not a zip (only the zipped course folder is "
                         "graded)")
    if not zips:
        listed = [repr(show(u.file, 60)) for u, _ in others[:5]]
        listed += [f"{show(u.top, 60)!r}, {u.odd}" for u in odd[:5]]
        listed = "; ".join(listed) or "nothing"
        raise IntakeError(f"no zip in this learner's upload (found {listed}): zip the whole course folder "
                          "(lessons/ and rnnkit/) and upload the zip")
    zips.sort(key=lambda f: _recency(f[0]))
    winner, path = zips[-1]
    for upload, _path in zips[:-1]:
        sub.notes.append(f"an earlier upload was not graded: {show(_where(upload), 160)!r}; the latest, "
                         f"{show(_where(winner), 160)!r}, was")
    sub.identity["file"] = _where(winner)
    if winner.mtime is not None:
        sub.timestamps["*"] = dt.datetime.fromtimestamp(winner.mtime, dt.UTC).replace(tzinfo=None)
    if winner.late is not None:
        sub.late["*"] = 1.0 if winner.late else 0.0
        if winner.late:
            sub.notes.append("submitted late (Canvas marked the submission LATE)")
    subs_mod._unzip(path, dest, sub.notes)
    sub.folder = subs_mod.find_course_root(dest)


def _where(upload):
    """The file's path in the download."""
    return upload.top if upload.rel == upload.top else f"{upload.top}/{upload.rel}"


def _recency(upload):
    if upload.lms == "canvas":
        return (upload.order, upload.mtime or 0.0, upload.rel)
    return (upload.mtime or 0.0, upload.order, upload.rel)


def _learner_files(sub, items, archive, raw):
    """[(Upload, safe path of the file)] of one learner; links, FIFOs and odd names left out."""
    if archive is not None:
        return _learner_files_from_zip(sub, items, archive, raw)
    files = []
    for n, upload in enumerate(items):
        if upload.rel == "" and not upload.odd:  # a Moodle folder: copied with the submissions' hardening
            folder = raw / f"folder-{n}"
            folder.mkdir()
            subs_mod._copy_folder(upload.source, folder, sub.notes, raw_limits())
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                rel = path.relative_to(folder).as_posix()
                try:  # the time of the original: metadata only, nothing is opened
                    mtime = os.lstat(Path(upload.source) / rel).st_mtime
                except OSError:
                    mtime = None
                files.append((Upload(**{**upload.__dict__, "rel": rel, "file": rel, "mtime": mtime}), path))
        else:
            files.append((upload, Path(upload.source)))  # opened later with O_NOFOLLOW | O_NONBLOCK
    return files


def _learner_files_from_zip(sub, items, archive, raw):
    """Check this learner's members as one zip would be checked, then copy out only the zips."""
    by_info = {id(u.source): u for u in items}
    plan = subs_mod._plan([u.source for u in items], sub.notes, raw_limits(),
                          name_of=lambda info: by_info[id(info)].rel)
    files = []
    for n, (_parts, info, is_dir) in enumerate(plan):
        if is_dir:
            continue
        upload = by_info[id(info)]
        if not upload.rel.lower().endswith(".zip"):
            files.append((upload, None))
            continue
        target = raw / f"{n}.zip"
        subs_mod.extract(archive, [([target.name], info, False)], raw, raw_limits(), what="upload")
        files.append((upload, target))
    return files


# --------------------------------------------------------------------------- roster rows and tables


ROSTER_HEADER = ["student_id", "full_name", "lms", "lms_id", "email", "id_number", "sis_user_id",
                 "sis_login_id", "section", "submission", "submitted_at", "late", "note"]


def _roster_rows(result, roster, general):
    rows = []
    for sub in result:
        if not sub.identity:
            continue
        upload = Upload(lms=sub.identity["lms"], lms_id=sub.identity["lms_id"], name=sub.identity["name"],
                        top="", rel="")
        entry = match_roster(roster, upload) if roster else None
        note = ""
        if roster is not None and entry is None:
            note = "not in the roster"
            sub.notes.append("not in the roster (--roster): graded under the name the download gives; "
                             "check that the roster is this course's")
        if entry is not None:
            entry.matched = True
            sub.identity.update({k: getattr(entry, k) for k in ("email", "id_number", "sis_user_id",
                                                               "sis_login_id", "section")})
            if entry.name:
                sub.identity["roster_name"] = entry.name
        late = sub.late.get("*")
        stamp = sub.timestamps.get("*")
        rows.append({
            "student_id": sub.student_id,
            "full_name": sub.identity.get("roster_name") or sub.identity["name"],
            "lms": sub.identity["lms"], "lms_id": sub.identity["lms_id"],
            **{k: sub.identity.get(k, "") for k in ("email", "id_number", "sis_user_id", "sis_login_id",
                                                     "section")},
            "submission": sub.identity.get("file", ""), "submitted_at": stamp.isoformat(" ") if stamp else "",
            "late": "" if late is None else "yes" if late > 0 else "no", "note": note or sub.problem[:200],
        })
    for entry in roster or []:
        if not entry.matched:
            rows.append({"student_id": "", "full_name": entry.name, "lms": "", "lms_id": entry.lms_id,
                         "email": entry.email, "id_number": entry.id_number, "sis_user_id": entry.sis_user_id,
                         "sis_login_id": entry.sis_login_id, "section": entry.section, "submission": "",
                         "submitted_at": "", "late": "",
                         "note": "in the roster, no submission in the download"})
    missing = sum(1 for e in roster or [] if not e.matched)
    if missing:
        general.append(("*", "*", f"{missing} learner(s) of the roster have no submission in the download "
                                  "(listed in roster.csv)"))
    return rows


def write_tables(out, subs, rows, graded, assignments, stamp=None):
    """roster.csv and the LMS gradebook files (see the module docstring); returns the names written.

    Inputs:
    - out: the OUT folder
    - subs: the Submissions of the download; rows: the roster rows (take_in_download)
    - graded: {(student_id, assignment): (score, max_score)}
    - assignments: the assignments of this run, in course order
    - stamp: the grading time written as "Last modified (grade)" (default: now, UTC)
    """
    out = Path(out)
    stamp = stamp or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    written = [_write_csv(out / "roster.csv", ROSTER_HEADER, [[r[k] for k in ROSTER_HEADER] for r in rows])]
    learners = [s for s in subs if s.identity]
    lms = {s.identity["lms"] for s in learners}
    columns = [a for a in assignments if any((s.student_id, a) in graded for s in learners)]
    if "canvas" in lms:
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns]
        body = []
        for s in (s for s in learners if s.identity["lms"] == "canvas"):
            ident = s.identity
            canvas_id = ident["lms_id"] if CANVAS_USER_ID.fullmatch(ident["lms_id"]) else ""
            body.append([ident.get("roster_name") or ident["name"], canvas_id, ident.get("sis_user_id", ""),
                         ident.get("sis_login_id", ""), ident.get("section", ""),
                         *[_num(graded[(s.student_id, a)][0]) if (s.student_id, a) in graded else ""
                           for a in columns]])
        written.append(_write_csv(out / "canvas-grades.csv", header, body))
    if "moodle" in lms:
        sheet, book = [], []
        for s in (s for s in learners if s.identity["lms"] == "moodle"):
            ident = s.identity
            mine = [graded[(s.student_id, a)] for a in columns if (s.student_id, a) in graded]
            name = ident.get("roster_name") or ident["name"]
            if mine:
                sheet.append([f"Participant {ident['lms_id']}", name, ident.get("email", ""),
                              _num(sum(g[0] for g in mine)), _num(sum(g[1] for g in mine)),
                              stamp.strftime("%Y-%m-%d %H:%M:%S")])
            if ident.get("email") or ident.get("id_number"):
                book.append([name, ident.get("email", ""), ident.get("id_number", ""),
                             *[_num(graded[(s.student_id, a)][0]) if (s.student_id, a) in graded else ""
                               for a in columns]])
        header = ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade",
                  "Last modified (grade)"]
        written.append(_write_csv(out / "moodle-worksheet.csv", header, sheet))
        if book:
            written.append(_write_csv(out / "moodle-gradebook.csv",
                                      ["Full name", "Email address", "ID number", *columns], book))
    return written


def _num(x):
    return f"{float(x or 0):g}"


def _write_csv(path, header, rows):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([[_cell(v) for v in row] for row in rows])
    os.replace(tmp, path)
    return path.name


def _cell(value):
    """A cell a spreadsheet will not run (the one escaping of every CSV the intake writes)."""
    return subs_mod.csv_cell(value)
