"""Taking in submissions: learner folders or zips, copied (never modified) and checked.

``SUBS/<student_id>/`` is a learner's filled release folder, ``SUBS/<student_id>.zip``
a zip of one (with or without a top-level folder). Every entry becomes a
``Submission`` holding either a working copy (``folder``) or the reason it cannot
be graded (``problem``). The originals are only read.

What is refused or dropped, with a note:
- zips that are not zips, too large once unpacked (``MAX_BYTES``), or with too
  many files (``MAX_FILES``); the unpacked size is counted while reading, not
  taken from the zip's directory;
- members with absolute paths or ``..`` (zip-slip), and symbolic links (in zips
  and in folders): a link could point at instructor files;
- ``__pycache__``, ``.ipynb_checkpoints``, ``.git`` and ``__MACOSX`` folders.

Also here: reading a learner's notebook defensively and repairing the two
things that break nbgrader's batch (duplicated cell ids and duplicated grade ids
left by JupyterLab's "split cell").
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_BYTES = 300 << 20
MAX_FILES = 5000
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX", ".venv", "node_modules"}
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")


@dataclass
class Submission:
    student_id: str
    source: Path  # the original (folder or zip), never written
    folder: Path | None = None  # working copy: the folder that holds rnnkit/ and lessons/
    problem: str = ""  # why it cannot be graded ("" when folder is set)
    notes: list = field(default_factory=list)  # things dropped or repaired, for the record


class IntakeError(Exception):
    """A submission that cannot be taken in; the message is the reason."""


def collect(subs_dir, work_dir):
    """Working copies of every submission in ``subs_dir``.

    Inputs:
    - subs_dir: folder of ``<student_id>/`` folders and ``<student_id>.zip`` files.
    - work_dir: empty folder for the copies (``work_dir/<student_id>/``).

    Returns a list of Submission, sorted by student id, one per student id found.
    Other files in ``subs_dir`` are ignored.
    """
    subs_dir, work_dir = Path(subs_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    for entry in sorted(subs_dir.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_dir():
            entries.setdefault(entry.name, []).append(entry)
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            entries.setdefault(entry.name[: -len(".zip")], []).append(entry)
    result = []
    for student_id, sources in sorted(entries.items()):
        sub = Submission(student_id, sources[0])
        result.append(sub)
        if not STUDENT_ID.match(student_id):
            sub.problem = (f"the name {student_id!r} cannot be used as a student id "
                           "(letters, digits and _ . @ + - only, at most 64 characters)")
            continue
        if len(sources) > 1:
            sub.problem = "both a folder and a zip carry this student id: keep one and grade again"
            continue
        dest = work_dir / student_id
        try:
            if sub.source.is_dir():
                _copy_folder(sub.source, dest, sub.notes)
            else:
                _unzip(sub.source, dest, sub.notes)
            sub.folder = find_course_root(dest)
        except IntakeError as exc:
            sub.problem = str(exc)
            shutil.rmtree(dest, ignore_errors=True)
    return result


def _skip(rel_parts):
    return any(part in SKIP_DIRS for part in rel_parts)


def _copy_folder(src, dest, notes):
    """Copy regular files only (no links), within the size and count limits."""
    total = count = 0
    dest.mkdir(parents=True)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if _skip(rel.parts):
            continue
        if path.is_symlink():
            notes.append(f"symbolic link left out: {rel}")
            continue
        if path.is_dir():
            (dest / rel).mkdir(parents=True, exist_ok=True)
            continue
        if not path.is_file():
            continue
        count += 1
        total += path.stat().st_size
        if count > MAX_FILES or total > MAX_BYTES:
            raise IntakeError(f"the folder is too large (over {MAX_FILES} files or {MAX_BYTES >> 20} MB)")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)


def _safe_member_path(name):
    """The member's relative path, or None when it would land outside the folder."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return PurePosixPath(*parts)


def _unzip(zip_path, dest, notes):
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IntakeError(f"the zip file cannot be opened ({exc}): upload it again") from exc
    dest.mkdir(parents=True)
    total = 0
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES:
            raise IntakeError(f"the zip holds more than {MAX_FILES} files")
        for info in members:
            rel = _safe_member_path(info.filename)
            if rel is None:
                notes.append(f"unsafe path in zip left out: {info.filename!r}")
                continue
            if _skip(rel.parts):
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                notes.append(f"symbolic link in zip left out: {info.filename}")
                continue
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > MAX_BYTES:
                            raise IntakeError(f"the zip unpacks to more than {MAX_BYTES >> 20} MB")
                        out.write(chunk)
            except IntakeError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                raise IntakeError(f"the zip is damaged ({info.filename}: {exc}): upload it again") from exc


def find_course_root(folder):
    """The folder holding ``rnnkit/`` or ``lessons/``: ``folder`` itself or below it (3 levels)."""
    folder = Path(folder)
    candidates = [folder]
    for depth in range(3):
        pattern = "/".join(["*"] * (depth + 1))
        candidates += sorted(p for p in folder.glob(pattern) if p.is_dir() and not _skip(p.parts))
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
    found = sorted(p for p in course_root.rglob(f"{assignment}.ipynb") if not _skip(p.parts))
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
    Outputs are dropped: autograde runs the notebook afresh anyway.
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
            cell["outputs"] = []
            cell["execution_count"] = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    nb["cells"] = cells
    return notes


def write_notebook(nb, path):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
