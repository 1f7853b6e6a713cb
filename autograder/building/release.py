"""python -m autograder release DIR [--solutions] [--force]: the learner's course folder.

DIR stands on its own: README.md, environment.yml and requirements.txt (the
dependencies only, never the reference package), lessons/ (the learner
notebooks), rnnkit/ (every solution region replaced by nbgrader's stub, all
other code kept, but without the reference-only files: rnnkit/fast.py) and
rnncheck/ (the checks, which hold nothing secret). The
folder is built in a temporary directory beside DIR, searched for solution
text, and only then moved into place: a failed release leaves nothing behind.
``--solutions`` writes the answer key: the same folder with the reference bodies
filled in, and the reference-only files.
"""

import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

from autograder import paths
from autograder.building import guard, lessons, stubs
from autograder.checks.registry import CHECKS, LESSONS

# What the learner's environment may hold. The reference package (this
# repository) and the instructor's tools (nbgrader) never go in.
LEARNER_DEPENDENCIES = ("numpy", "matplotlib", "jupyterlab", "tqdm", "ipywidgets")
JUNK_PATTERNS = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache")
JUNK = shutil.ignore_patterns(*JUNK_PATTERNS)
# Files of rnnkit/ that only the answer key holds. fast.py is the reference fast path: its fused
# forward and backward passes are complete answers to lessons 1 to 6, so no folder a learner
# receives (the course folder, any nbgrader assignment) has it; rnnkit.train runs the learner's
# own cells without it.
REFERENCE_ONLY = ("fast.py",)
# The copy of rnnkit/ for learners: without junk and without the reference-only files.
LEARNER_IGNORE = shutil.ignore_patterns(*JUNK_PATTERNS, *REFERENCE_ONLY)


class ReleaseError(RuntimeError):
    """The folder could not be written, or would have let solution text out."""


def learner_requirements():
    """The learner's dependencies with the version bounds of pyproject.toml, e.g. ["numpy>=1.26", ...]."""
    with open(paths.REPO / "pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["project"]["dependencies"]
    by_name = {}
    for requirement in declared:
        name = requirement.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower()
        by_name[name] = requirement.replace(" ", "")
    return [by_name.get(name, name) for name in LEARNER_DEPENDENCIES]


def environment_yml():
    deps = "\n".join(f"  - {r}" for r in learner_requirements())
    return (
        "# The learner's environment: dependencies only. The course's own code is\n"
        "# in this folder (rnnkit/, rnncheck/); nothing else needs to be installed.\n"
        "name: rnn-course-learner\n"
        "channels:\n"
        "  - conda-forge\n"
        "dependencies:\n"
        "  - python>=3.11\n"
        f"{deps}\n"
    )


def requirements_txt():
    return "\n".join(learner_requirements()) + "\n"


def readme():
    rows = []
    for lesson in LESSONS:
        functions = [f"`{c.check_id}`" for c in CHECKS if c.lesson == lesson.assignment]
        rows.append(f"| `lessons/{lesson.assignment}.ipynb` | {lesson.title} | "
                    f"{', '.join(functions) or 'no exercise'} |")
    table = "\n".join(rows)
    return f"""# Recurrent neural networks: your course folder

This folder is everything you need: the lessons, the package you write and its checks.

| path | what it is |
|---|---|
| `lessons/` | the notebooks, one per lesson; open them in JupyterLab |
| `rnnkit/` | the package whose functions you write (`raise NotImplementedError()` marks each one) |
| `rnncheck/` | the checks the notebooks run; leave it as it is |

## Start

In a terminal, first `cd` into this folder (the one holding this README). Then, with conda
(or on Binder, which reads `environment.yml` as it is):

```
conda env create -f environment.yml
conda activate rnn-course-learner
jupyter lab
```

Or with pip, in a fresh virtual environment kept beside this folder, not inside it (so that
it never ends up in the zip you hand in):

```
python -m venv ../rnn-venv && . ../rnn-venv/bin/activate
pip install -r requirements.txt
jupyter lab
```

Next time, `cd` into this folder, run `. ../rnn-venv/bin/activate` and `jupyter lab`.

Open `lessons/00-orientation.ipynb` first and work through the lessons in order. Keep this
folder together: the notebooks find `rnnkit/` and `rnncheck/` in the folder above them.
Do not `pip install` an `rnnkit` package into the same environment: the first cell of every
lesson says which `rnnkit` is in use and warns you if it is not the one in this folder.

## Exercises and checks

Each exercise names a file and a function, for example "Open `rnnkit/lstm.py` and write the
body of `forget_gate`". Write the body where it says `raise NotImplementedError()`, save the
file, and run the check cell below the instruction. You do not need to restart the kernel:
the notebooks reload `rnnkit` when you run a cell. A passing check prints one line; a failing
one says which case failed, the first element that differs with your value and the expected
one, and the name of the mistake when it recognises it. Experiments that use a function you
have not written yet say so and wait for you.

| notebook | lesson | functions you write |
|---|---|---|
{table}

Functions of a later lesson can stay unwritten until you get there.

## Submitting

- On a JupyterHub with nbgrader: fetch and submit each lesson from the Assignments tab; your
  work in `rnnkit/` is submitted with the notebook.
- Otherwise: zip `lessons/` and `rnnkit/` together (or this whole folder, as long as no
  virtual environment is inside it) and upload the zip where your instructor asks.

The check cells in the notebook are for you; the grade comes from running the same kinds of
checks, plus hidden cases on fresh inputs, against your `rnnkit/` outside your notebook.
Written answers are read and graded by hand.
"""


def _copy_package(dest, solutions):
    """rnnkit/ into dest: .py files stubbed (or filled with the reference), other files as they are.

    The learner's copy leaves out the reference-only files (``REFERENCE_ONLY``); the answer key keeps them."""
    shutil.copytree(paths.RNNKIT, dest, ignore=JUNK if solutions else LEARNER_IGNORE)
    for path in sorted(dest.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(dest.parent).as_posix()
        try:
            new = stubs.stub_text(text, keep=lambda region: solutions, filename=rel)
            compile(new, rel, "exec")
        except (stubs.StubError, SyntaxError) as err:
            raise ReleaseError(f"cannot stub {rel}: {err}") from err
        if new != text:
            path.write_text(new, encoding="utf-8")


def copy_checks(dest):
    """rnncheck/: autograder/checks (the one package that ships to learners), with its fixtures."""
    shutil.copytree(paths.CHECKS, dest, ignore=JUNK)


def _write_folder(root, solutions):
    (root / "README.md").write_text(readme(), encoding="utf-8")
    (root / "environment.yml").write_text(environment_yml(), encoding="utf-8")
    (root / "requirements.txt").write_text(requirements_txt(), encoding="utf-8")
    (root / "lessons").mkdir()
    try:
        rendered = lessons.render_lessons()
    except lessons.LessonError as err:
        raise ReleaseError(str(err)) from err
    for name, text in rendered.items():
        (root / "lessons" / name).write_text(text, encoding="utf-8")
    _copy_package(root / "rnnkit", solutions)
    copy_checks(root / "rnncheck")


def reference_only_files(folder):
    """Findings (text) for every reference-only file (``REFERENCE_ONLY``) anywhere under folder."""
    return [f"{path}: reference code that ships with the answer key only"
            for name in REFERENCE_ONLY for path in sorted(Path(folder).rglob(name))]


def check_folder(root, solutions=False):
    """Search a written folder; returns the findings (empty when nothing secret is in it)."""
    root = Path(root)
    if not solutions:
        return guard.find_leaks(root) + reference_only_files(root)
    # The answer key holds the reference on purpose; the rest must still be clean.
    return guard.find_leaks([root / "lessons", root / "rnncheck", root / "README.md"], package_lines=[])


def _looks_like_course_folder(path):
    return (path / "rnnkit").is_dir() and (path / "lessons").is_dir()


def prepare_destination(dest, force):
    """Check that dest may be (re)placed; raises ReleaseError otherwise."""
    dest = Path(dest).resolve()
    if dest == paths.REPO or paths.REPO.is_relative_to(dest):
        raise ReleaseError(f"refusing to write over {dest}: it holds the course repository")
    if dest.exists() and not dest.is_dir():
        raise ReleaseError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise ReleaseError(f"{dest} is not empty: choose an empty or new folder, "
                               "or pass --force to replace it")
    return dest


def install(tmp_root, dest):
    """Move a finished folder into place (replacing dest), as one rename where possible."""
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=dest.parent))
        os.replace(dest, old / "x")
        os.replace(tmp_root, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp_root, dest)


def build_verified(dest, force, build, verify, is_previous, what, unclean):
    """The one way a folder is written: built beside dest, searched, then moved into place.

    Inputs:
    - dest: folder to write (new or empty, unless force)
    - force: replace a non-empty dest, but only one that ``is_previous`` recognises
    - build(root): writes everything into the empty folder root
    - verify(root) -> list of findings (text): anything secret that reached root
    - is_previous(path) -> bool: does a non-empty dest hold an earlier build of the same kind
    - what: names that kind in the refusal, e.g. "course folder (no rnnkit/ and lessons/)"
    - unclean: the head of the error when verify finds something

    Returns:
    - dest's resolved Path. Raises ReleaseError, leaving dest as it was, if the build
      fails or verify finds anything.
    """
    dest = prepare_destination(dest, force)
    if force and dest.is_dir() and any(dest.iterdir()) and not is_previous(dest):
        raise ReleaseError(f"{dest} does not look like a {what}: not replacing it even with --force")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        root = work / "build"
        root.mkdir()
        build(root)
        findings = verify(root)
        if findings:
            raise ReleaseError(f"{unclean}; nothing was written:\n  "
                               + "\n  ".join(f.replace(str(root), str(dest)) for f in findings))
        install(root, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def build_release(dest, solutions=False, force=False):
    """Write the learner's course folder.

    Inputs:
    - dest: folder to write (created; must be empty or new unless force)
    - solutions: True writes the answer key (reference bodies filled in)
    - force: replace a non-empty dest that holds a previous course folder

    Returns:
    - the folder's resolved Path. Raises ReleaseError, leaving dest untouched, if
      anything would leak or cannot be built.
    """
    return build_verified(
        dest, force, build=lambda root: _write_folder(root, solutions),
        verify=lambda root: check_folder(root, solutions), is_previous=_looks_like_course_folder,
        what="course folder (no rnnkit/ and lessons/)", unclean="solution text would leave in the release")


def run(args):
    try:
        dest = build_release(args.dest, solutions=args.solutions, force=args.force)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    what = "answer key (reference filled in)" if args.solutions else "learner's course folder"
    print(f"Wrote the {what} to {dest}")
    return 0
