"""python -m autograder course DIR [--force]: an nbgrader course directory.

DIR holds nbgrader_config.py, source/<assignment>/ (the instructor notebook and
physical copies of rnnkit/ and rnncheck/), the gradebook, and release/ made by
nbgrader's own ``generate_assignment``. nbgrader's traps are handled on purpose:

- generate_assignment copies .py files verbatim: a post-convert hook in the
  config strips the solution regions of the released package with nbgrader's
  ClearSolutions logic and deletes the release if anything is left (nbgrader
  ignores a failing hook); this command then searches release/ again and fails.
- autograde replaces a learner's .py files with the source copy unless
  Autograde.exclude_overwriting names each one by exact relative path: the list
  is generated from the files holding the lesson's solution regions.
- a symlinked folder in source/ is silently not copied: everything is copied.
- creating the gradebook runs ``alembic``: the venv's bin/ goes first on PATH.

Every assignment carries a whole rnnkit. For assignment N, the regions of earlier
lessons are filled with the reference (released after their deadline), the
lesson's own regions are the exercise, later lessons' regions are stubbed.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder import paths, regions
from autograder.building import guard, lessons, release, stubs
from autograder.building.release import ReleaseError
from autograder.checks.registry import LESSONS
from autograder.grading.limits import CHECK_TIMEOUT

ASSIGNMENTS = [lesson.assignment for lesson in LESSONS]
COURSE_ID = "rnn-course"
# Names a learner could add to a submission that would be importable next to their notebook
# (a fake numpy, a conftest, a .pth file): never copied into autograded/.
LEARNER_ADDED_IGNORED = ["numpy", "scipy", "torch", "matplotlib", "tqdm", "autograder",
                         "conftest.py", "sitecustomize.py", "usercustomize.py", "*.pth"]
NBGRADER_DEFAULT_IGNORED = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]


def nbgrader_env():
    """os.environ with this Python's bin/ first on PATH (nbgrader runs ``alembic`` by name)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def nbgrader(*args, cwd, check=True, env=None, timeout=None):
    """Run one nbgrader command in a course directory; returns the CompletedProcess."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *map(str, args)], cwd=cwd,
                          env=env or nbgrader_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise ReleaseError(f"nbgrader {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-4000:]}{proc.stderr[-4000:]}")
    return proc


def _package_regions():
    return stubs.package_regions(paths.RNNKIT)


def graded_files(assignment):
    """Relative paths ("rnnkit/lstm.py") of the files holding this lesson's solution regions, sorted.

    They are the learner's work for the assignment: autograde must keep them.
    """
    files = []
    for rel, found in _package_regions().items():
        module = stubs.module_of(rel)
        if any(stubs.region_lesson(module, r) == assignment for r in found):
            files.append(rel)
    return sorted(files)


def exclude_overwriting():
    """Autograde.exclude_overwriting: {assignment: graded_files(assignment)} for every assignment."""
    return {a: graded_files(a) for a in ASSIGNMENTS}


def write_assignment_package(assignment, dest):
    """rnnkit/ for one assignment's source folder (see the module docstring); returns dest."""
    dest = Path(dest)
    # Without the reference-only files (rnnkit/fast.py fuses every backward pass: lesson 6's answers).
    shutil.copytree(paths.RNNKIT, dest, ignore=release.LEARNER_IGNORE)
    action = stubs.lesson_action(assignment)
    for path in sorted(dest.rglob("*.py")):
        rel = path.relative_to(dest.parent).as_posix()
        module = stubs.module_of(rel)
        text = path.read_text(encoding="utf-8")
        new = stubs.transform_regions(text, lambda region, m=module: action(m, region), rel)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return dest


def expected_release_package(assignment, rel):
    """The text nbgrader's release of rnnkit file ``rel`` must have: the lesson's regions stubbed too."""
    action = stubs.lesson_action(assignment)
    module = stubs.module_of(rel)
    text = (paths.RNNKIT.parent / rel).read_text(encoding="utf-8")
    return stubs.transform_regions(
        text, lambda r: stubs.FILL if action(module, r) == stubs.FILL else stubs.STUB, rel)


CONFIG_TEMPLATE = '''\
"""nbgrader configuration of the RNN course (written by `python -m autograder course`).

Run nbgrader's commands from this folder, with the Python environment's bin/ on PATH.
"""

import glob
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ASSIGNMENTS = {assignments!r}
MARKERS = {markers!r}


def strip_package_solutions(assignment=None, student=None, notebooks=None, **kwargs):
    """generate_assignment copies .py files verbatim: replace their solution regions by
    nbgrader's stub (its own ClearSolutions logic). nbgrader ignores an exception
    raised here, so on any failure, or if a marker is still there afterwards, the
    release of the assignment is deleted: it fails closed. The stub is nbgrader's
    (``# YOUR CODE HERE`` / ``raise NotImplementedError()``), written by the course's own
    ``stubs.stub_text`` (nbgrader has no public function for a .py file)."""
    from autograder.building.stubs import stub_text

    for folder in sorted(glob.glob(os.path.join(HERE, "release", assignment or "*"))):
        try:
            for path in sorted(glob.glob(os.path.join(folder, "**", "*.py"), recursive=True)):
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                stubbed = stub_text(text, filename=path)
                if stubbed != text:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(stubbed)
            for path in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
                if os.path.isfile(path) and path.endswith((".py", ".ipynb", ".txt", ".md", ".json")):
                    with open(path, encoding="utf-8", errors="replace") as f:
                        text = f.read()
                    if any(marker in text for marker in MARKERS):
                        raise RuntimeError("solution marker left in " + path)
        except Exception as err:
            shutil.rmtree(folder, ignore_errors=True)
            print("RELEASE DELETED: " + folder + ": " + str(err), file=sys.stderr)
            raise


c = get_config()  # noqa: F821

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = {course_id!r}
# nbgrader's defaults, plus names a learner could add that would be importable
# next to their notebook.
c.CourseDirectory.ignore = {ignore!r}

c.GenerateAssignment.post_convert_hook = strip_package_solutions

# Keep the learner's work: each file holding the lesson's solution regions, by
# exact relative path (anything else is restored from source/).
c.Autograde.exclude_overwriting = {exclude!r}
# A check cell the learner deleted comes back (and is scored), instead of waiting for a hand grade.
c.OverwriteCells.add_missing_cells = True

# nbgrader's collect (`nbgrader collect`, formgrader's Collect button) copies submissions out of
# the exchange as the instructor, following links: a learner's link to source/ would arrive as
# their work. This one copies folders and regular files only, never through a link, and leaves
# out a submission not owned by the Unix account it names (autograder.grading.collect).
c.ExchangeFactory.collect = "autograder.grading.collect.SafeExchangeCollect"

# Autograde never runs a learner's notebook: every auto-graded point comes from the trusted
# checks of the learner's rnnkit, run in a sandbox (autograder.grading.nbpre.TrustedChecks stands
# where nbgrader's Execute stood), and the learner's saved outputs are kept only as inert
# text and checked images (KeepSafeOutputs stands where ClearOutput stood). This holds for
# `nbgrader autograde`, formgrader's Autograde button and `python -m autograder grade`.
# It needs the environment that ran `python -m autograder course` (autograder importable).
from autograder.grading.nbpre import KeepSafeOutputs, TrustedChecks, guard_submitted_files  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, DeduplicateIds, OverwriteCells, OverwriteKernelspec,
    SaveAutoGrades)

c.Autograde.sanitize_preprocessors = [KeepSafeOutputs, DeduplicateIds, OverwriteKernelspec,
                                      OverwriteCells, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [TrustedChecks, SaveAutoGrades, AssignLatePenalties,
                                       CheckCellMetadata]
# nbgrader copies the submitted files (following links) before any preprocessor runs: a
# submission holding a link, FIFO or device is refused before that.
guard_submitted_files()
# The hidden cases' seed: made on first use, readable by the instructor only.
c.TrustedChecks.seed_file = os.path.join(HERE, ".grading-seed")
c.TrustedChecks.internal_errors = os.path.join(HERE, "internal-errors.jsonl")
c.TrustedChecks.check_timeout = {timeout!r}

# Formgrader shows maths with the MathJax that the jupyter-server-mathjax extension serves
# (no network needed): nbgrader's templates, then the course's override of the MathJax loader.
from autograder.grading.feedback import formgrader_template_dirs  # noqa: E402

c.HTMLExporter.extra_template_basedirs = formgrader_template_dirs()
'''


def config_text():
    """The text of nbgrader_config.py."""
    return CONFIG_TEMPLATE.format(
        assignments=ASSIGNMENTS, course_id=COURSE_ID,
        ignore=NBGRADER_DEFAULT_IGNORED + LEARNER_ADDED_IGNORED,
        exclude=exclude_overwriting(), timeout=CHECK_TIMEOUT, markers=tuple(regions.MARKERS))


COURSE_README = """# RNN course: nbgrader course directory

Written by `python -m autograder course`. Run nbgrader from this folder with the
course's Python environment active (its bin/ on PATH: nbgrader calls `alembic`).

- `source/<assignment>/`: the instructor notebook and the assignment's rnnkit/ and rnncheck/
  (regions of earlier lessons filled in, this lesson's marked, later lessons' stubbed).
- `release/<assignment>/`: what learners get, made by `nbgrader generate_assignment`;
  the config's post-convert hook stubs the package's solution regions.
- `nbgrader_config.py`: `Autograde.exclude_overwriting` keeps each learner's files of the
  lesson; `CourseDirectory.ignore` drops learner-added names such as `numpy/`.

Typical cycle: `nbgrader release_assignment A`, `nbgrader collect A`,
`nbgrader autograde A` (or formgrader's Autograde button), `nbgrader generate_feedback A`,
`nbgrader export`. Autograde never runs a learner's notebook: the check cells are scored by
the trusted checks of the learner's rnnkit in a sandbox (bubblewrap required), with the
hidden cases' seed kept in `.grading-seed` (readable by you only).
Regenerate a release with `nbgrader generate_assignment A --force`.
"""


def _write_sources(root):
    (root / "nbgrader_config.py").write_text(config_text(), encoding="utf-8")
    (root / "README.md").write_text(COURSE_README, encoding="utf-8")
    for assignment in ASSIGNMENTS:
        folder = root / "source" / assignment
        folder.mkdir(parents=True)
        notebook = paths.SOLUTIONS / f"{assignment}.ipynb"
        if not notebook.exists():
            raise ReleaseError(f"no instructor notebook {notebook} for assignment {assignment}")
        shutil.copyfile(notebook, folder / notebook.name)
        write_assignment_package(assignment, folder / "rnnkit")
        release.copy_checks(folder / "rnncheck")


def verify_release(root):
    """Findings in release/: leaks, missing assignments, packages that differ from the expected stubs."""
    root = Path(root)
    findings = []
    notebook_lines = guard.notebook_secrets()
    for assignment in ASSIGNMENTS:
        folder = root / "release" / assignment
        # Secret here: the bodies of this lesson's and later lessons' regions.
        order = stubs.LESSON_ORDER[assignment]
        package_lines = guard.package_secrets(
            is_secret=lambda module, region, order=order:
            stubs.LESSON_ORDER[stubs.region_lesson(module, region)] >= order)
        findings += guard.find_leaks(folder, package_lines=package_lines, notebook_lines=notebook_lines)
        findings += release.reference_only_files(folder)
        if not (folder / f"{assignment}.ipynb").is_file():
            findings.append(f"{folder}: not released (see nbgrader's log above)")
            continue
        for rel in stubs.package_regions(paths.RNNKIT):
            released = folder / rel
            if not released.is_file():
                findings.append(f"{released}: missing")
            elif released.read_text(encoding="utf-8") != expected_release_package(assignment, rel):
                findings.append(f"{released}: differs from the expected stubbed file")
    return findings


def build_course(course_dir, force=False, generate=True):
    """Write an nbgrader course directory.

    Inputs:
    - course_dir: folder to write (new or empty, unless force)
    - force: replace a previous course directory there
    - generate: run nbgrader generate_assignment for every assignment (creates the
      gradebook and release/); False writes the config and source/ only

    Returns:
    - the folder's resolved Path. Raises ReleaseError, leaving course_dir as it
      was, if nbgrader fails or anything secret reaches release/.
    """
    try:
        lessons.render_lessons()  # the notebooks must clear and pass the search before nbgrader sees them
    except lessons.LessonError as err:
        raise ReleaseError(str(err)) from err

    def build(root):
        _write_sources(root)
        if generate:  # one command for all assignments: nbgrader globs the assignment name
            nbgrader("generate_assignment", "*", "--force", cwd=root)

    return release.build_verified(
        course_dir, force, build=build, verify=verify_release if generate else (lambda root: []),
        is_previous=lambda d: (d / "nbgrader_config.py").exists(),
        what="course directory (no nbgrader_config.py)", unclean="nbgrader's release is not clean")


def run(args):
    try:
        dest = build_course(args.dest, force=args.force)
    except ReleaseError as err:
        print(f"course: {err}", file=sys.stderr)
        return 1
    print(f"Wrote the nbgrader course directory {dest} (assignments: {', '.join(ASSIGNMENTS)}).")
    print(f"Run nbgrader from there with {Path(sys.executable).parent} on PATH.")
    return 0
