"""Taking in what ``nbgrader collect`` leaves: ``submitted/<student>/<assignment>/``.

On a JupyterHub the learners hand in with nbgrader's exchange, one assignment at a time,
and ``nbgrader collect`` copies each hand-in to ``<course>/submitted/<student>/<assignment>/``:
the notebook, the assignment's own ``rnnkit/`` and nbgrader's ``timestamp.txt``. ``grade``
takes SUBS = that course directory (or its ``submitted/`` folder) as it is:

- each ``<student>/<assignment>/`` folder is copied with the same hardening as any other
  submission (``autograder.grading.submissions``: no link followed, no FIFO opened, size
  limits, names checked) and graded on its own: the checks of an assignment run against
  the ``rnnkit/`` handed in with that assignment;
- a folder that is not an assignment of this course, or a file beside the assignments,
  is left out with a note; an assignment not handed in is simply not graded;
- ``timestamp.txt`` is read (at most ``MAX_TIMESTAMP_BYTES``, one of the forms nbgrader
  writes) and kept with the submission: it is written again, in nbgrader's own format,
  into the staged folder of ``OUT/course`` so that nbgrader records the submission time
  in the gradebook. A timestamp that cannot be read is a note, never a lost submission;
  so is one with an offset beyond +-14:00 or a year outside 1970-2200.
- due dates (and per-learner extensions) are read from the course's ``gradebook.db``
  (opened read-only) when SUBS is the course directory or its ``submitted/`` folder;
  they are set on the assignments of ``OUT/course`` so that nbgrader computes lateness
  as it would have, and a late submission gets a note with its timestamp and how late
  it was. Without a gradebook the timestamp is recorded and lateness is not judged.

The timestamp is written by the learner's own ``nbgrader submit`` (and a learner can
write into the exchange's inbound folder directly): it is the learner's claim, as it is
for nbgrader itself. Nothing in ``source/``, ``release/``, ``autograded/`` or
``feedback/`` of the course directory is read.

``nbgrader collect`` copies the inbound folder following its links, with the instructor's
rights: a hand-in that was a link to the course's ``source/`` arrives in ``submitted/`` as a
copy of the reference. Such a copy still carries the solution markers (``### BEGIN
SOLUTION``), which no released file has: a hand-in holding them gets a note naming the file,
for the instructor to look at (it is graded all the same; the note is not a verdict).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import stat
from pathlib import Path

from autograder import regions
from autograder.checks.registry import LESSONS
from autograder.grading import gradebook
from autograder.grading import submissions as subs_mod
from autograder.grading.submissions import IntakeError, show

ASSIGNMENTS = [lesson.assignment for lesson in LESSONS]  # as autograder.building.course names them
TIMESTAMP_FILE = "timestamp.txt"
SOLUTION_MARKER = f"### {regions.SOLUTION[0]}".encode()
MAX_MARKER_SCAN = 4 << 20  # bytes of one file searched for the marker
MAX_TIMESTAMP_BYTES = 200
NBGRADER_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's default timestamp_format, in UTC
MAX_UTC_OFFSET = dt.timedelta(hours=14)  # the furthest zones from UTC are UTC-12:00 and UTC+14:00
MIN_YEAR, MAX_YEAR = 1970, 2200  # a timestamp outside these years is unreadable, not a hand-in time
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
    r"(?: ?(Z|[+-]\d{2}:?\d{2}|[A-Za-z][A-Za-z0-9_/+-]{0,39}))?$"
)


# --------------------------------------------------------------------------- finding the layout


def submitted_folder(subs_dir):
    """The ``submitted/`` folder when ``subs_dir`` is an nbgrader course directory or its submitted/.

    Returns None for any other folder. A folder counts as ``submitted/`` when it is named so,
    or when every learner folder in it holds an assignment folder and no rnnkit/ or lessons/.
    """
    subs_dir = Path(subs_dir)
    inner = subs_dir / "submitted"
    if _is_real_dir(inner):
        return inner
    learners = [e for e in _listing(subs_dir) if e[1] == "folder"]
    if not learners:
        return None
    insides = [dict(_listing(subs_dir / name)) for name, _kind in learners]
    if any(inside.get("rnnkit") == "folder" or inside.get("lessons") == "folder" for inside in insides):
        return None  # learners' course folders
    if subs_dir.name == "submitted" or all(any(inside.get(a) == "folder" for a in ASSIGNMENTS)
                                           for inside in insides):
        return subs_dir
    return None


def _is_real_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _listing(folder):
    """[(name, "folder" | "file" | "other")] of a folder, without following links; [] if unreadable."""
    out = []
    try:
        with os.scandir(folder) as listing:
            for item in sorted(listing, key=lambda e: e.name):
                if item.name.startswith("."):
                    continue
                try:
                    mode = item.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                kind = "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"
                out.append((item.name, kind))
    except OSError:
        return []
    return out


# --------------------------------------------------------------------------- taking in


def collect(submitted, work_dir):
    """Working copies of every hand-in below ``submitted`` (nbgrader's ``submitted/`` folder).

    Inputs:
    - submitted: folder of ``<student>/<assignment>/`` folders
    - work_dir: folder for the copies (``work_dir/<student>/<assignment>/``); only written below

    Returns a list of Submission (per_assignment=True), sorted by student id, ids unique.
    """
    submitted, work_dir = Path(submitted), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    # The student folders are checked exactly as learner folders are (names, links, case clashes).
    return subs_mod.collect_entries(submitted, work_dir, _take_in_learner, kinds=("folder",))


def _take_in_learner(sub, entry, dest):
    """Copy each assignment folder of one learner (the callback of submissions.collect_entries)."""
    sub.per_assignment = True
    if entry.kind != "folder":
        raise IntakeError(f"SUBS/{show(entry.name)} is not a folder: nbgrader's submitted/ holds one "
                          "folder per learner; move it away and grade again")
    dest.mkdir()
    for name, kind in _listing(entry.path):
        if kind != "folder" or name not in ASSIGNMENTS:
            what = "folder" if kind == "folder" else "file" if kind == "file" else "special file or link"
            sub.notes.append(f"left out: {what} {show(name)!r} beside the assignments (not an assignment of "
                             "this course)")
            continue
        _take_in_assignment(sub, entry.path / name, name, dest / name)
    if not sub.assignment_folders and not sub.assignment_problems:
        raise IntakeError(f"submitted/{show(entry.name)} holds no assignment folder (one of "
                          f"{', '.join(ASSIGNMENTS)}): collect again with nbgrader collect")
    sub.folder = dest


def _take_in_assignment(sub, src, assignment, dest):
    notes = sub.assignment_notes.setdefault(assignment, [])
    try:
        dest.mkdir()
        subs_mod._copy_folder(src, dest, notes)
        stamp, why = read_timestamp(dest / TIMESTAMP_FILE)
        if stamp is not None:
            sub.timestamps[assignment] = stamp
        elif why:
            notes.append(f"{TIMESTAMP_FILE} {why}: the submission time is not known")
        sub.assignment_folders[assignment] = subs_mod.find_course_root(dest)
        for rel in marked_files(dest):
            notes.append(f"{show(rel)} holds the course's solution markers ({SOLUTION_MARKER.decode()}), "
                         "which no released file has: it may be a copy of the instructor's source/ (nbgrader "
                         "collect follows links in the exchange); check how it was handed in")
    except IntakeError as exc:
        sub.assignment_problems[assignment] = str(exc)
    except Exception as exc:  # noqa: BLE001 - one hand-in never stops the intake of the others
        sub.assignment_problems[assignment] = (
            f"the submission could not be taken in ({type(exc).__name__}: {show(exc, 200)}): ask the "
            "instructor to look at it")
    if assignment in sub.assignment_problems:
        sub.assignment_folders.pop(assignment, None)


def marked_files(folder):
    """Relative paths of the .py files below ``folder`` (a working copy) holding the solution marker."""
    found = []
    for path in sorted(Path(folder).rglob("*.py")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if SOLUTION_MARKER in f.read(MAX_MARKER_SCAN):
                    found.append(path.relative_to(folder).as_posix())
    return found


def read_timestamp(path):
    """(naive UTC datetime, "") from an nbgrader timestamp.txt, or (None, why not) ("" when absent)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return None, "is not a regular file"
    if st.st_size > MAX_TIMESTAMP_BYTES:
        return None, f"is longer than {MAX_TIMESTAMP_BYTES} bytes"
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TIMESTAMP_BYTES + 1)
        text = raw.decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None, "is not plain text"
    stamp = parse_timestamp(text)
    if stamp is None:
        return None, f"does not hold a time nbgrader writes ({show(text, 60)!r})"
    return stamp, ""


def parse_timestamp(text):
    """A naive UTC datetime from a timestamp in one of the forms nbgrader writes, or None.

    nbgrader writes ``datetime.now(tz).strftime(timestamp_format)``, by default
    ``2024-03-01 12:00:00.123456 UTC``; the zone may be a name (``Europe/Berlin``, ``CET``)
    or an offset. Anything else (or a zone unknown here) is None: never guessed.
    """
    import dateutil.tz

    match = _TIMESTAMP.match(text)
    if not match:
        return None
    day, clock, zone = match.groups()
    try:
        when = dt.datetime.fromisoformat(f"{day} {clock}")
    except ValueError:
        return None
    if zone in (None, "Z", "UTC", "GMT"):
        offset = dt.timedelta(0)
    elif zone[0] in "+-":
        digits = zone.replace(":", "")
        hours, minutes = int(digits[1:3]), int(digits[3:5])
        if minutes >= 60:
            return None
        offset = dt.timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
    else:
        tz = dateutil.tz.gettz(zone)
        if tz is None:
            return None
        try:
            offset = when.replace(tzinfo=tz).utcoffset()
        except (OverflowError, ValueError):
            return None
        if offset is None:
            return None
    if abs(offset) > MAX_UTC_OFFSET or not MIN_YEAR <= when.year <= MAX_YEAR:
        return None  # no zone on Earth is further from UTC; no hand-in was made then
    return when - offset  # within the years above: no overflow


def format_timestamp(when):
    """nbgrader's own timestamp text for a naive UTC datetime (the year always with four digits)."""
    return f"{when.year:04d}" + when.strftime(NBGRADER_FORMAT[2:])


# --------------------------------------------------------------------------- due dates


def read_due_dates(submitted):
    """({assignment: due}, {(assignment, student): extension}) from the course's gradebook.db.

    The gradebook beside ``submitted/`` is opened read-only (SQLite ``mode=ro``); nothing is
    written to SUBS. Returns two empty dicts when there is none, and raises IntakeError when
    there is one that cannot be read.
    """
    db = Path(submitted).parent / "gradebook.db"
    try:
        if not stat.S_ISREG(os.lstat(db).st_mode):
            return {}, {}
    except OSError:
        return {}, {}
    try:
        uri = f"file:{db.as_posix()}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=10) as conn:
            dues = conn.execute("SELECT name, duedate FROM assignment WHERE duedate IS NOT NULL").fetchall()
            try:
                extensions = conn.execute(
                    "SELECT a.name, s.student_id, s.extension FROM submitted_assignment s "
                    "JOIN assignment a ON s.assignment_id = a.id WHERE s.extension IS NOT NULL").fetchall()
            except sqlite3.Error:
                extensions = []
        conn.close()
    except sqlite3.Error as exc:
        raise IntakeError(f"the course's gradebook {db} cannot be read ({exc}): close formgrader and grade "
                          "again, or grade a copy of submitted/ without it (due dates are then not known)"
                          ) from exc
    due = {}
    for name, value in dues:
        when = _sql_datetime(value)
        if name in ASSIGNMENTS and when is not None:
            due[name] = when
    granted = {}
    epoch = dt.datetime(1970, 1, 1)
    for name, student, value in extensions:
        when = _sql_datetime(value)  # SQLAlchemy stores an Interval as epoch + interval
        if when is not None and when > epoch:
            granted[(name, student)] = when - epoch
    return due, granted


def _sql_datetime(value):
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def judge_lateness(subs, due, extensions):
    """Set ``sub.late[assignment]`` (seconds late, 0 on time) and a note for every late hand-in."""
    for sub in subs:
        for assignment, stamp in sub.timestamps.items():
            if assignment not in due:
                continue
            deadline = due[assignment] + extensions.get((assignment, sub.student_id), dt.timedelta(0))
            late = max(0.0, (stamp - deadline).total_seconds())
            sub.late[assignment] = late
            if late > 0:
                sub.assignment_notes.setdefault(assignment, []).append(
                    f"submitted late: {format_timestamp(stamp)}, {describe_delay(late)} after the due date "
                    f"{format_timestamp(deadline)}")


def describe_delay(seconds):
    """'2 d 3 h 4 min' style text for a number of seconds."""
    minutes = int(round(seconds / 60.0))
    if minutes < 1:
        return f"{int(round(seconds))} s"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p)


def apply_due_dates(course, due, extensions, students):
    """Set the due dates (and the extensions of these students) on the assignments of ``course``."""
    if not due:
        return
    import warnings

    from sqlalchemy.exc import SAWarning

    with gradebook.open_gradebook(course) as gb:
        for assignment, when in sorted(due.items()):
            gb.update_or_create_assignment(assignment, duedate=when)
        for (assignment, student), extra in sorted(extensions.items()):
            if student in students and assignment in due:
                with warnings.catch_warnings():
                    # nbgrader's add_submission warns under SQLAlchemy 2 (its autograde does the same)
                    warnings.simplefilter("ignore", SAWarning)
                    gb.update_or_create_submission(assignment, student)
                gb.grant_extension(assignment, student, minutes=extra.total_seconds() / 60.0)
