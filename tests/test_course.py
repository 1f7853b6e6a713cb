"""The nbgrader course directory: nbgrader's own commands release nothing secret and keep learners' files."""

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograder.building import course, notebooks, release
from autograder.checks.registry import CHECKS, CHECKS_BY_ID, LESSONS, checks_for
from autograder.grading import staging

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "rnnkit"
ASSIGNMENTS = [lesson.assignment for lesson in LESSONS]
ORDER = {a: i for i, a in enumerate(ASSIGNMENTS)}
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    return course.build_course(tmp_path_factory.mktemp("course") / "rnn-course")


@pytest.fixture(scope="module")
def config(course_dir):
    return PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()


def _expected_release(rel, assignment):
    """The released text of rnnkit file rel for an assignment, from the markers and the registry alone.

    A region inside `def f` of module m belongs to the lesson of check "m.f". Regions of earlier
    lessons show the reference (marker lines dropped); the others show nbgrader's stub.
    """
    module = Path(rel).stem
    lines = (REPO / rel).read_text().split("\n")
    out, i, current = [], 0, None
    while i < len(lines):
        line = lines[i]
        m = re.match(r"def (\w+)\(", line)
        if m:
            current = m.group(1)
        if line.strip() == "### BEGIN SOLUTION":
            end = next(j for j in range(i, len(lines)) if lines[j].strip() == "### END SOLUTION")
            spec = CHECKS_BY_ID[f"{module}.{current}"]
            if ORDER[spec.lesson] < ORDER[assignment]:
                out += lines[i + 1:end]
            else:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + s for s in STUB]
            i = end + 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _files_with_regions():
    return sorted(p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py")
                  if "### BEGIN SOLUTION" in p.read_text())


@pytest.mark.slow
def test_layout_and_gradebook(course_dir):
    assert (course_dir / "nbgrader_config.py").is_file() and (course_dir / "gradebook.db").is_file()
    for a in ASSIGNMENTS:
        for top in ("source", "release"):
            folder = course_dir / top / a
            assert (folder / f"{a}.ipynb").is_file()
            assert (folder / "rnnkit" / "__init__.py").is_file()
            assert (folder / "rnncheck" / "__init__.py").is_file()
    links = [p for p in course_dir.rglob("*") if p.is_symlink()]
    assert links == []


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_package_is_stubbed_from_this_lesson_on(course_dir, assignment):
    for rel in _files_with_regions():
        released = (course_dir / "release" / assignment / rel).read_text()
        assert released == _expected_release(rel, assignment), f"{assignment}: {rel}"
        assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released
    # Files without regions travel unchanged, except the reference-only ones, which never travel.
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(REPO).as_posix()
        released = course_dir / "release" / assignment / rel
        if path.name in release.REFERENCE_ONLY:
            assert not released.exists(), f"{assignment}: {rel} is reference code"
        elif rel not in _files_with_regions() and "__pycache__" not in rel:
            assert released.read_text() == path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_is_the_lesson(course_dir, assignment):
    # The course's source/ copy is the snapshot nbgrader saw; lessons/ is rendered the same way.
    source = nbformat.read(course_dir / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    rendered = notebooks.dumps(notebooks.clear_notebook(source))
    released = (course_dir / "release" / assignment / f"{assignment}.ipynb").read_text()
    assert json.loads(released) == json.loads(rendered)
    assert released == rendered  # byte for byte: the same preprocessors, the same writer


@pytest.mark.slow
def test_exclude_overwriting_lists_each_lessons_files_by_exact_path(config):
    got = dict(config.Autograde.exclude_overwriting)
    for a in ASSIGNMENTS:
        want = sorted({f"rnnkit/{c.module}.py" for c in checks_for(a)})
        assert got[a] == want
        assert course.graded_files(a) == want
    assert config.CourseDirectory.course_id == course.COURSE_ID
    for name in ("numpy", "conftest.py", "sitecustomize.py", "__pycache__"):
        assert name in config.CourseDirectory.ignore


@pytest.mark.slow
def test_autograde_runs_the_trusted_pipeline_not_the_notebook(config):
    # nbgrader autograde and formgrader's button use the course config: no Execute, no ClearOutput
    from nbgrader.preprocessors import ClearOutput, Execute, SaveAutoGrades

    from autograder.grading.nbpre import KeepSafeOutputs, TrustedChecks

    sanitize = list(config.Autograde.sanitize_preprocessors)
    autograde = list(config.Autograde.autograde_preprocessors)
    assert sanitize[0] is KeepSafeOutputs and ClearOutput not in sanitize
    assert autograde[0] is TrustedChecks and Execute not in autograde
    assert autograde.index(TrustedChecks) < autograde.index(SaveAutoGrades)
    assert config.TrustedChecks.seed_file.endswith(".grading-seed")


def test_every_check_is_in_some_lessons_files():
    for c in CHECKS:
        assert f"rnnkit/{c.module}.py" in course.graded_files(c.lesson)


@pytest.mark.slow
def test_generate_assignment_fails_closed_when_stripping_fails(course_dir, tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(course_dir, copy)
    broken = copy / "source" / "04-lstm" / "rnnkit" / "lstm.py"
    broken.write_text(broken.read_text() + "\n    ### BEGIN SOLUTION\n    secret_answer_line = 42\n")
    proc = course.nbgrader("generate_assignment", "04-lstm", "--force", cwd=copy, check=False)
    # nbgrader itself reports success: it ignores a failing hook ...
    assert proc.returncode == 0, proc.stderr
    # ... but the hook deleted the release rather than let the region out.
    assert not (copy / "release" / "04-lstm").exists()
    assert "RELEASE DELETED" in proc.stderr + proc.stdout
    # and the course's own search reports it.
    assert any("04-lstm" in finding for finding in course.verify_release(copy))


@pytest.mark.slow
def test_course_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(release.ReleaseError):
        course.build_course(tmp_path / "x")
    with pytest.raises(release.ReleaseError):
        course.build_course(tmp_path / "x", force=True, generate=False)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def learner_folder(tmp_path_factory):
    return release.build_release(tmp_path_factory.mktemp("learner") / "course")


@pytest.mark.slow
def test_autograde_scores_the_submitted_package_and_keeps_only_the_notebook(course_dir, learner_folder,
                                                                          tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(course_dir, copy)
    work = tmp_path / "alice"
    shutil.copytree(learner_folder, work)
    mark = "\n# alice's own line, written in the lesson\n"
    for rel in ("rnnkit/lstm.py", "rnnkit/rnn.py", "rnncheck/notebook.py"):
        (work / rel).write_text((work / rel).read_text() + mark)
    target = staging.stage_submission(work, copy, "alice", "04-lstm")
    # Names a learner could add next to the notebook.
    (target / "numpy").mkdir()
    (target / "numpy" / "__init__.py").write_text("raise SystemExit('fake numpy')\n")
    (target / "conftest.py").write_text("x = 1\n")
    # bob's submission is the same, autograded without the exclude list: nbgrader then copies the
    # instructor's source (solutions included) over his files in autograded/. That used to be
    # nbgrader's trap; the trusted checks read submitted/, so it changes nothing now.
    staging.stage_submission(work, copy, "bob", "04-lstm")
    assert (target / "04-lstm.ipynb").is_file() and (target / "rnnkit" / "lstm.py").is_file()

    course.nbgrader("autograde", "04-lstm", "--student", "alice", cwd=copy)
    course.nbgrader("autograde", "04-lstm", "--student", "bob", "--Autograde.exclude_overwriting={}",
                    cwd=copy)

    for student in ("alice", "bob"):
        graded = copy / "autograded" / student / "04-lstm"
        # only the notebook: generate_feedback copies this folder to the learner
        assert sorted(p.name for p in graded.iterdir()) == ["04-lstm.ipynb"]
        nb = nbformat.read(graded / "04-lstm.ipynb", as_version=4)
        check_cells = [c for c in nb.cells if c.source.startswith("check(")]
        assert check_cells and all(any(o.output_type == "error" for o in c.outputs) for c in check_cells)
    # the learner's submitted files are where the checks read them, untouched
    submitted = copy / "submitted" / "alice" / "04-lstm"
    assert (submitted / "rnnkit" / "lstm.py").read_text() == (work / "rnnkit" / "lstm.py").read_text()


@pytest.mark.slow
def test_native_autograde_refuses_links_before_nbgrader_copies_them(course_dir, learner_folder, tmp_path):
    # nbgrader's own copy of the submitted files follows links: a link to /dev/zero would fill the disk
    copy = tmp_path / "course"
    shutil.copytree(course_dir, copy)
    target = staging.stage_submission(learner_folder, copy, "eve", "04-lstm")
    secret = tmp_path / "instructor-secret.txt"
    secret.write_text("instructor only\n")
    (target / "rnnkit" / "leak.py").symlink_to(secret)
    os.mkfifo(target / "rnnkit" / "pipe.py")
    proc = course.nbgrader("autograde", "04-lstm", "--student", "eve", cwd=copy, check=False, timeout=300)
    assert proc.returncode != 0
    assert "links or special files" in proc.stdout + proc.stderr
    graded = copy / "autograded" / "eve"
    assert not any(p.is_file() and p.read_bytes() == secret.read_bytes() for p in graded.rglob("*")) \
        if graded.exists() else True


def test_the_private_nbgrader_method_the_course_wraps_is_the_one_pinned():
    # guard_submitted_files wraps Autograde.init_assignment, nbgrader's private copy step, and relies
    # on what it does: copy submitted/<student>/<assignment>/ into autograded/ before any preprocessor.
    # pyproject pins nbgrader for that; a different version fails here first.
    import importlib.metadata
    import inspect

    from nbgrader.converters import Autograde

    pinned = [r for r in importlib.metadata.requires("rnn-course") if r.startswith("nbgrader")]
    assert pinned == [f"nbgrader=={importlib.metadata.version('nbgrader')}"], pinned
    original = inspect.unwrap(Autograde.init_assignment)
    params = list(inspect.signature(original).parameters)
    assert params == ["self", "assignment_id", "student_id"]
    source = inspect.getsource(original)
    assert "submitted_directory" in source and "shutil.copy" in source
    # formgrader's templates, which the course's config extends (feedback.formgrader_template_dirs)
    from autograder.grading.feedback import formgrader_template_dirs

    nbgrader_templates = Path(formgrader_template_dirs()[0])
    assert (nbgrader_templates / "formgrade").is_dir() and (nbgrader_templates / "feedback").is_dir()
