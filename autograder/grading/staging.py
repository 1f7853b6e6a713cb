"""Where a learner's submission goes for nbgrader's autograde: the course's submitted/ folder."""

import os
import shutil
from pathlib import Path


def stage_submission(learner_dir, course_dir, student_id, assignment):
    """Put a learner's filled release folder where nbgrader's autograde looks for it.

    Inputs:
    - learner_dir: the learner's course folder (lessons/, rnnkit/, ...), as taken in
    - course_dir: the nbgrader course directory
    - student_id: nbgrader student id
    - assignment: assignment name

    Returns:
    - course_dir/submitted/<student_id>/<assignment>/, holding <assignment>.ipynb
      (from lessons/) and rnnkit/ (the whole package: the sandboxed checks read it).
      Only regular files and folders are copied; links and anything else are left out.
    """
    learner_dir, course_dir = Path(learner_dir), Path(course_dir)
    target = course_dir / "submitted" / student_id / assignment
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    notebook = learner_dir / "lessons" / f"{assignment}.ipynb"
    if notebook.is_file() and not notebook.is_symlink():
        shutil.copyfile(notebook, target / notebook.name, follow_symlinks=False)
    package = learner_dir / "rnnkit"
    if package.is_dir() and not package.is_symlink():
        _copy_regular_tree(package, target / "rnnkit")
    return target


def _copy_regular_tree(src, dest):
    """Copy folders and regular files only (no links, FIFOs or devices), skipping caches."""
    dest.mkdir()
    for entry in os.scandir(src):
        if entry.name in ("__pycache__", ".ipynb_checkpoints") or entry.name.endswith(".pyc"):
            continue
        if entry.is_dir(follow_symlinks=False):
            _copy_regular_tree(Path(entry.path), dest / entry.name)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, dest / entry.name, follow_symlinks=False)

