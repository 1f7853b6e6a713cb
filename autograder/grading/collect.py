"""nbgrader's collect, without following anything a learner left in the exchange.

nbgrader's collect (``nbgrader collect`` and formgrader's Collect button) runs as the grader
and copies each learner's latest submission out of the exchange's inbound folder with
``shutil.copytree``, following symbolic links. A submission stays its learner's, writable,
in the exchange: a learner can replace one of its files by a link to a file only the grader
can read (the reference ``source/<assignment>/rnnkit/lstm.py``), and nbgrader copies that
file in as the learner's work. A FIFO there makes the copy hang. And nbgrader names a
submission after the student id the submitter gives (``nbgrader submit --student=other``),
only warning when the folder's owner differs.

``SafeExchangeCollect`` (set as ``c.ExchangeFactory.collect`` by the course's
``nbgrader_config.py``) is nbgrader's ``ExchangeCollect`` with three changes:

- a folder whose name is not ``<student>+<assignment>+<time>[+<random>]`` with a time nbgrader
  can read is left in the exchange with a warning naming it (learners can make folders in the
  inbound folder, and in nbgrader one such name stops the collect for the whole class);
- a submission folder that is not a folder (a link), or whose owner is not the Unix account
  named by its student id (when such an account exists), is left in the exchange with a
  warning, before the latest submission of each student is chosen;
- the copy (``copy_submission``) takes folders and regular files only, each opened without
  following a link (``O_NOFOLLOW``) and without blocking, within nbgrader's size limits;
  every link, FIFO, device or socket is left out and logged; a copied timestamp.txt nbgrader
  cannot read (it would stop the next ``collect --update``) is replaced by the folder name's time.

The owner check can only hold when the student has a Unix account: a learner with no account of
that name can be impersonated by anyone who can write to the inbound folder (``deploy/hub``
creates an account for every learner, so there it holds for all of them).

``deploy/hub/rnnhub.py`` (``return-feedback``) copies with the same ``copy_submission``.
"""

from __future__ import annotations

import datetime
import errno
import fnmatch
import glob
import os
import pwd
import shutil
import stat
from collections import defaultdict

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import check_mode, parse_utc

# nbgrader's own limit on a submission (CourseDirectory.max_dir_size, 100000 kB), and sane others
COLLECT_MAX_BYTES = 100_000 * 1000
COLLECT_MAX_FILES = 5000
COLLECT_MAX_DEPTH = 32
COLLECT_SKIPPED = (".ipynb_checkpoints", "__pycache__")
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def copy_submission(src, dest, skipped=COLLECT_SKIPPED, included=None, max_bytes=COLLECT_MAX_BYTES,
                    max_file_bytes=None, owner_uid=None):
    """Copy the folder src to dest (replacing it), folders and regular files only.

    Inputs:
    - src: path of the submission folder; a link there is refused (OSError)
    - dest: path of the copy; whatever is there is removed first
    - skipped: name patterns (fnmatch) of files and folders not copied, silently
      (nbgrader's CourseDirectory.ignore)
    - included: name patterns a file must match to be copied, or None for any
      (nbgrader's CourseDirectory.include)
    - max_bytes: the most the copied files may hold together
    - max_file_bytes: the most one file may hold, or None
    - owner_uid: when not None, src must belong to this uid (checked on the opened folder,
      so that a folder swapped in after an earlier check is refused): PermissionError if not.
      Any OSError about src itself carries src as its filename.

    Returns:
    - left_out: list of str, what was left out (links, special files, unreadable or too much),
      in words, one entry each.
    """
    left_out = []
    fd = os.open(src, _OPEN_FOLDER)
    try:
        if owner_uid is not None and os.fstat(fd).st_uid != owner_uid:
            raise PermissionError(errno.EPERM, f"does not belong to uid {owner_uid}", src)
        if os.path.islink(dest) or os.path.isfile(dest):
            os.unlink(dest)
        elif os.path.lexists(dest):
            shutil.rmtree(dest)  # removes links themselves, never what they point to
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        rules = {"files": COLLECT_MAX_FILES, "bytes": max_bytes, "max_bytes": max_bytes,
                 "file_bytes": max_file_bytes, "skipped": tuple(skipped), "included": included}
        _copy_folder(fd, dest, "", rules, left_out, 0)
    finally:
        os.close(fd)
    return left_out


def _matches(name, patterns):
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _copy_folder(fd, dest, rel, rules, left_out, depth):
    os.mkdir(dest, 0o755)
    with os.scandir(fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        path = rel + name
        if _matches(name, rules["skipped"]):
            continue
        rules["files"] -= 1
        if rules["files"] < 0:
            left_out.append(f"more than {COLLECT_MAX_FILES} files: the rest was left out")
            return
        try:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except OSError as err:
            left_out.append(f"{path}: cannot be read ({err.strerror}), left out")
            continue
        if stat.S_ISDIR(mode) and depth < COLLECT_MAX_DEPTH:
            try:
                sub = os.open(name, _OPEN_FOLDER, dir_fd=fd)
            except OSError as err:
                left_out.append(f"{path}/: cannot be read ({err.strerror}), left out")
                continue
            try:
                _copy_folder(sub, os.path.join(dest, name), path + "/", rules, left_out, depth + 1)
            finally:
                os.close(sub)
        elif stat.S_ISREG(mode):
            if rules["included"] and not _matches(name, rules["included"]):
                continue
            note = _copy_file(fd, name, os.path.join(dest, name), rules)
            if note:
                left_out.append(f"{path}: {note}, left out")
        else:
            what = ("a symbolic link" if stat.S_ISLNK(mode) else
                    "nested too deep" if stat.S_ISDIR(mode) else "not a regular file")
            left_out.append(f"{path}: {what}, left out")


def _copy_file(dir_fd, name, dest, rules):
    """Copy one regular file, opened without following a link or blocking; returns why not, or ""."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if rules["file_bytes"] is not None and size > rules["file_bytes"]:
                return f"larger than the {rules['file_bytes'] // 1000} kB a file may hold"
            if size > rules["bytes"]:
                rules["bytes"] = 0
                return f"over the {rules['max_bytes'] // 1_000_000} MB a submission may hold"
            chunks.append(chunk)
    finally:
        os.close(fd)
    rules["bytes"] -= size
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(out, "wb") as f:
        f.write(b"".join(chunks))
    return ""


def unix_uid(name):
    """The uid of the Unix account called name, or None when there is none (or no pwd database)."""
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, TypeError, ValueError):
        return None


class SafeExchangeCollect(ExchangeCollect):
    """nbgrader's default collect, with a submission's owner checked and no link followed.

    Configure it with ``c.ExchangeFactory.collect = "autograder.grading.collect.SafeExchangeCollect"``.
    Everything else (which submission is the latest, --update, --before-duedate, where the copy
    goes) is nbgrader's. ``check_owner = False`` turns the owner check off (as it turns off
    nbgrader's warning), leaving only the rule on links and special files.
    """

    def init_src(self):
        """nbgrader's init_src, with malformed names and the submissions that fail ``_acceptable`` left out.

        nbgrader's own init_src is not called: it parses every folder name with nothing to catch a
        name it cannot read. Its checks of the course and its reading of the due date are repeated
        here unchanged, and ``_chosen`` makes nbgrader's choice among each student's submissions.
        """
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        student_id = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = os.path.join(self.inbound_path, f"{student_id}+{self.coursedir.assignment_id}+*")
        records = [self._path_to_record(f) for f in sorted(glob.glob(pattern))]
        self.duedate = self._duedate()
        by_student = defaultdict(list)
        for record in records:
            if record is not None and self._acceptable(record):
                by_student[record["username"]].append(record)
        self.src_records = [self._chosen(group) for group in by_student.values()]

    def _duedate(self):
        """The assignment's due date in the gradebook (naive UTC datetime) or None, read as nbgrader does."""
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                return gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None

    def _path_to_record(self, path):
        """nbgrader's record of a submission folder, or None (with a warning) when its name is malformed.

        Inputs:
        - path: str, a folder in the inbound folder, named <student>+<assignment>+<time>[+<random>]
          by ``nbgrader submit`` -- but any learner can make a folder there with any name.

        Returns:
        - record: dict with 'username' (str), 'filename' (str, the folder's name) and 'timestamp'
          (naive UTC datetime), as nbgrader makes it; or None when the name does not split into
          those parts (a student id is never empty and never holds '+', which ``nbgrader submit``
          refuses), names another assignment, or holds a time nbgrader cannot read.
        """
        filename = os.path.basename(path)
        parts = filename.rsplit("+", 3)  # as nbgrader splits it
        try:
            if len(parts) < 3 or not parts[0] or "+" in parts[0] or parts[1] != self.coursedir.assignment_id:
                raise ValueError(f"not <student>+{self.coursedir.assignment_id}+<time>[+<random>]")
            timestamp = parse_utc(parts[2])
            if not isinstance(timestamp, datetime.datetime):
                raise ValueError(f"{parts[2]!r} is not a time")
        except Exception as err:  # dateutil raises ParserError, OverflowError, ...: each means "malformed"
            self.log.warning("Submission folder %s has a malformed name (%s: %s): not collected",
                             path, type(err).__name__, err)
            return None
        return {"username": parts[0], "filename": filename, "timestamp": timestamp}

    def _chosen(self, records):
        """nbgrader's choice among one student's submissions: the latest (before the due date)."""
        records = self._sort_by_timestamp(records)
        if self.duedate is not None and self.before_duedate:
            before = [record for record in records if record["timestamp"] <= self.duedate]
            if before:
                return before[0]
        return records[0]

    def _acceptable(self, record):
        """True when record's folder is a folder (not a link) owned by its student, when it can tell."""
        path = os.path.join(self.inbound_path, record["filename"])
        try:
            info = os.lstat(path)
        except OSError as err:
            self.log.warning("Submission %s cannot be read (%s): not collected", path, err.strerror)
            return False
        if not stat.S_ISDIR(info.st_mode):
            self.log.warning("Submission %s is not a folder (a link or a file): not collected", path)
            return False
        uid = unix_uid(record["username"]) if self.check_owner else None
        if uid is not None and info.st_uid != uid:
            self.log.warning(
                "Submission %s claims to be from %s but belongs to uid %d (%s): not collected "
                "(ExchangeCollect.check_owner = False turns this check off)",
                path, record["username"], info.st_uid, _owner_name(info.st_uid))
            return False
        return True

    def do_copy(self, src, dest, log=None):
        """Copy one submission with ``copy_submission`` under nbgrader's limits; log what was left out."""
        coursedir = self.coursedir
        record = self._path_to_record(src)  # src is a chosen record's folder, so its name reads
        if record is None:
            return
        uid = unix_uid(record["username"]) if self.check_owner else None
        try:
            left_out = copy_submission(
                src, dest, skipped=coursedir.ignore, included=coursedir.include,
                max_bytes=1000 * coursedir.max_dir_size, max_file_bytes=1000 * coursedir.max_file_size,
                owner_uid=uid)
        except OSError as err:
            if err.filename != src:
                raise
            # the folder became a link, or another account's, since init_src looked at it
            self.log.error("Submission %s not collected: %s", src, err.strerror)
            return
        for note in left_out:
            self.log.warning("Submission %s: %s", os.path.basename(src), note)
        self._keep_timestamp_readable(src, dest)
        if coursedir.groupshared:
            self._share_with_group(dest)

    def _keep_timestamp_readable(self, src, dest):
        """Replace a copied timestamp.txt nbgrader cannot read by the time in the folder's name.

        nbgrader's next ``collect --update`` reads the copy's timestamp.txt (written by the learner)
        and stops the collect for everyone when it does not parse; ``nbgrader submit`` writes the
        same time in both places.
        """
        path = os.path.join(dest, "timestamp.txt")
        if not os.path.isfile(path):
            return
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read().strip()
            if text:
                parse_utc(text)
            return
        except Exception as err:  # as in _path_to_record: anything raised means "unreadable"
            self.log.warning("Submission %s: timestamp.txt cannot be read (%s), replaced by the time in "
                             "the folder's name", os.path.basename(src), type(err).__name__)
        with open(path, "w", encoding="utf-8") as f:
            f.write(os.path.basename(src).rsplit("+", 3)[2])

    def _share_with_group(self, dest):
        """What nbgrader's do_copy does in a group-shared course: folders ug+rwx (setgid), files ug+rw."""
        for folder, _, files in os.walk(dest):
            os.chmod(folder, (os.lstat(folder).st_mode | 0o2770) & 0o2777)
            for name in files:
                path = os.path.join(folder, name)
                os.chmod(path, (os.lstat(path).st_mode | 0o660) & 0o777)


def _owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "no account"
