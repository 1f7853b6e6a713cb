"""The learner's course folder: nothing secret leaves, everything else does, and it works."""

import ast
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.building import release
from autograder.checks.registry import CHECKS, LESSONS

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "rnnkit"
PY_FILES = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                  if "__pycache__" not in p.parts)
# What the learner's copy holds: every file but the reference-only ones (the answer key has them all).
LEARNER_PY_FILES = [rel for rel in PY_FILES if Path(rel).name not in release.REFERENCE_ONLY]
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    return release.build_release(tmp_path_factory.mktemp("rel") / "course")


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return release.build_release(tmp_path_factory.mktemp("key") / "course", solutions=True)


def _regions(lines):
    """(begin, end) line indices of the marked regions, found by the plain markers."""
    begins = [i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION"]
    ends = [i for i, line in enumerate(lines) if line.strip() == "### END SOLUTION"]
    assert len(begins) == len(ends)
    return list(zip(begins, ends, strict=True))


def _run(code, cwd, env_extra=None):
    # -I: no user site, no PYTHONPATH, no current directory on sys.path; the folder is
    # put on the path by the code itself, as the notebooks' set-up cell does.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def test_layout(learner):
    names = {p.name for p in learner.iterdir()}
    assert names == {"README.md", "environment.yml", "requirements.txt", "lessons", "rnnkit", "rnncheck"}
    assert sorted(p.stem for p in (learner / "lessons").glob("*.ipynb")) == [x.assignment for x in LESSONS]
    assert sorted(p.relative_to(learner / "rnnkit").as_posix() for p in (learner / "rnnkit").rglob("*.py")) \
        == LEARNER_PY_FILES
    checks_src = REPO / "autograder" / "checks"
    for fixture in checks_src.glob("fixtures/*"):
        assert (learner / "rnncheck" / "fixtures" / fixture.name).read_bytes() == fixture.read_bytes()
    assert not list(learner.rglob("__pycache__"))


def test_no_marker_anywhere(learner):
    for path in learner.rglob("*"):
        if path.is_file() and path.suffix != ".npz":
            text = path.read_text(errors="replace")
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME"):
                assert marker not in text, f"{path} holds {marker}"


@pytest.mark.parametrize("rel", LEARNER_PY_FILES)
def test_stub_replaces_each_region_and_keeps_every_other_line(learner, rel):
    ref = (PACKAGE / rel).read_text().split("\n")
    out = (learner / "rnnkit" / rel).read_text().split("\n")
    expected, pos = [], 0
    for begin, end in _regions(ref):
        expected += ref[pos:begin]
        indent = ref[begin][: len(ref[begin]) - len(ref[begin].lstrip())]
        expected += [indent + s for s in STUB]
        body = [line.strip() for line in ref[begin + 1:end] if len(line.strip()) > 12]
        # None of the body's specific lines survives anywhere in the file.
        for line in body:
            if sum(line in r for r in ref) == 1:  # a line written only in the region
                assert line not in "\n".join(out), f"{rel}: {line!r} left in the stub"
        pos = end + 1
    expected += ref[pos:]
    assert out == expected


@pytest.mark.parametrize("rel", LEARNER_PY_FILES)
def test_stub_keeps_docstrings_imports_and_signatures(learner, rel):
    ref = ast.parse((PACKAGE / rel).read_text())
    out = ast.parse((learner / "rnnkit" / rel).read_text())

    def summary(tree):
        items = [("module", ast.get_docstring(tree))]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                items.append(("import", ast.dump(node)))
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                args = ast.dump(node.args) if isinstance(node, ast.FunctionDef) else ""
                items.append((node.name, args, ast.get_docstring(node)))
        return items

    assert summary(out) == summary(ref)


def test_stubbed_package_imports_from_the_folder_and_stubs_raise(learner):
    calls = [(c.module, c.function) for c in CHECKS]
    code = f"""
import inspect, sys
sys.path.insert(0, {str(learner)!r})
import rnnkit, rnncheck, importlib
assert rnnkit.__file__.startswith({str(learner)!r}), rnnkit.__file__
assert rnncheck.__file__.startswith({str(learner)!r}), rnncheck.__file__
for module, function in {calls!r}:
    f = getattr(importlib.import_module("rnnkit." + module), function)
    n = len([p for p in inspect.signature(f).parameters.values() if p.default is p.empty])
    try:
        f(*[None] * n)
    except NotImplementedError:
        continue
    raise SystemExit(module + "." + function + " did not raise NotImplementedError")
print("ok")
"""
    proc = _run(code, cwd=learner)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# ---- the reference fast path ships with the answer key only ----------------------------------------

# Run in a copy of rnnkit (sys.path[0] is its parent folder): the training kit imports without fast.py,
# trains with the package's own cells, and says where the fast path is when asked for it.
TRAINS_WITHOUT_FAST = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import rnnkit.train as kit
assert kit.__file__.startswith(sys.argv[1]), kit.__file__
assert "rnnkit.fast" not in sys.modules
try:
    kit.SequenceModel("gru", 2, 3, 1, rng=0, engine="fast")
except ImportError as err:
    assert "answer key" in str(err) and "engine='cells'" in str(err), err
else:
    raise SystemExit("engine='fast' did not refuse")
model = kit.SequenceModel("lstm", 2, 3, 1, rng=0)
xs, target = np.ones((4, 2, 2)), np.zeros((2, 1))
try:
    loss, dpred = kit.mse(model.forward(xs), target)
    kit.Adam(model.parameters()).step(model.backward(dpred))
except NotImplementedError:
    print("stubs")
else:
    print("trained")
assert "rnnkit.fast" not in sys.modules
"""


def _trains_without_fast(folder):
    """'stubs' or 'trained': what one training step of rnnkit.train does in folder/rnnkit."""
    code = [sys.executable, "-I", "-c", TRAINS_WITHOUT_FAST, str(folder)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(code, cwd=folder, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout.strip()


def test_fast_path_is_in_the_answer_key_only(learner, key):
    for name in release.REFERENCE_ONLY:
        assert not list(learner.rglob(name)), f"{name} reached the learner's folder"
        assert (key / "rnnkit" / name).read_text() == (PACKAGE / name).read_text()
    assert _trains_without_fast(learner) == "stubs"      # the learner's own (unwritten) cells run


def test_a_reference_only_file_fails_the_release_and_writes_nothing(tmp_path, monkeypatch):
    import shutil

    def copy_with_fast(dest, solutions, real=release._copy_package):
        real(dest, solutions)
        shutil.copyfile(PACKAGE / "fast.py", dest / "fast.py")

    monkeypatch.setattr(release, "_copy_package", copy_with_fast)
    with pytest.raises(release.ReleaseError, match="fast.py: reference code that ships with the answer key"):
        release.build_release(tmp_path / "course")
    assert list(tmp_path.iterdir()) == []


def test_no_course_assignment_gets_the_fast_path(tmp_path):
    # What nbgrader releases of each assignment is its source folder's rnnkit, copied as it is.
    from autograder.building import course

    for assignment in course.ASSIGNMENTS:
        folder = tmp_path / assignment
        course.write_assignment_package(assignment, folder / "rnnkit")
        assert not release.reference_only_files(folder), assignment
    # Lesson 7's assignment has lessons 1 to 6 filled in: rnnkit.train trains with them, without fast.py.
    assert _trains_without_fast(tmp_path / "07-compare") == "trained"
    assert _trains_without_fast(tmp_path / "01-recurrence") == "stubs"


@pytest.mark.slow
def test_no_released_assignment_of_the_course_has_the_fast_path(tmp_path):
    from autograder.building import course

    root = course.build_course(tmp_path / "rnn-course")
    for assignment in course.ASSIGNMENTS:
        folder = root / "release" / assignment
        assert (folder / "rnnkit" / "train.py").is_file(), assignment
        assert not release.reference_only_files(folder), assignment
    assert _trains_without_fast(root / "release" / "07-compare") == "trained"


def test_checks_travel_without_the_repository(learner):
    # rnncheck must import with relative imports only: nothing from autograder.
    for path in (learner / "rnncheck").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("autograder"), f"{path} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("autograder") for a in node.names), path


def _check_all(folder):
    ids = [c.check_id for c in CHECKS]
    code = f"""
import sys, json
sys.path.insert(0, {str(folder)!r})
from rnncheck import check
results = {{}}
for check_id in {ids!r}:
    try:
        check(check_id)
        results[check_id] = "pass"
    except AssertionError as err:
        results[check_id] = "AssertionError: " + str(err)
    except Exception as err:
        results[check_id] = type(err).__name__ + ": " + str(err)
print("RESULTS" + json.dumps(results))
"""
    proc = _run(code, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "the checks wrote to stderr: " + proc.stderr
    return json.loads(proc.stdout.split("RESULTS", 1)[1])


@pytest.mark.slow
def test_answer_key_passes_every_check(key):
    results = _check_all(key)
    assert results == {c.check_id: "pass" for c in CHECKS}


def test_stubbed_release_fails_every_check_with_a_message(learner):
    results = _check_all(learner)
    for check_id, outcome in results.items():
        assert outcome.startswith("AssertionError: "), (check_id, outcome)
        assert len(outcome) > len("AssertionError: ") + 10


def test_answer_key_is_the_reference_without_markers(key):
    for rel in PY_FILES:
        ref = (PACKAGE / rel).read_text().split("\n")
        markers = {i for b, e in _regions(ref) for i in (b, e)}
        expected = [x for i, x in enumerate(ref) if i not in markers]
        assert (key / "rnnkit" / rel).read_text().split("\n") == expected


def test_environment_lists_dependencies_only(learner):
    wanted = {"numpy", "matplotlib", "jupyterlab", "tqdm", "ipywidgets"}
    reqs = (learner / "requirements.txt").read_text().split()
    assert {r.split(">")[0].split("=")[0] for r in reqs} == wanted
    env = "\n".join(line for line in (learner / "environment.yml").read_text().splitlines()
                    if not line.startswith("#"))
    deps = [line.strip()[2:] for line in env.splitlines()
            if line.startswith("  - ") and "conda-forge" not in line]
    assert {d.split(">")[0].split("=")[0] for d in deps} == wanted | {"python"}
    for text in (env, "\n".join(reqs)):
        assert "pip:" not in text and "-e" not in text.split() and "nbgrader" not in text
        assert "rnn-course\n" not in text and "rnnkit" not in text


def test_readme_says_how_to_start_check_and_submit(learner):
    text = (learner / "README.md").read_text()
    for needed in ("environment.yml", "requirements.txt", "jupyter lab", "00-orientation", "check", "zip",
                   "Assignments"):
        assert needed in text
    for lesson in LESSONS:
        assert f"lessons/{lesson.assignment}.ipynb" in text


@pytest.mark.slow
def test_refuses_a_non_empty_folder_and_force_replaces_a_course_folder(tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("my notes")
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.build_release(dest)
    with pytest.raises(release.ReleaseError, match="does not look like a course folder"):
        release.build_release(dest, force=True)
    assert (dest / "notes.txt").read_text() == "my notes"
    other = tmp_path / "course"
    release.build_release(other)
    (other / "rnnkit" / "lstm.py").write_text("edited")
    release.build_release(other, force=True)
    assert (other / "rnnkit" / "lstm.py").read_text() != "edited"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course", "mine"]  # no temporary folder left


def test_a_leak_fails_loudly_and_writes_nothing(tmp_path, monkeypatch):
    # Simulate a stubbing bug: the package is copied with its solutions.
    def leaky_copy(dest, solutions):
        import shutil

        shutil.copytree(PACKAGE, dest, ignore=release.JUNK)

    monkeypatch.setattr(release, "_copy_package", leaky_copy)
    with pytest.raises(release.ReleaseError, match="BEGIN SOLUTION"):
        release.build_release(tmp_path / "course")
    assert list(tmp_path.iterdir()) == []


def test_reference_lines_without_markers_are_caught(tmp_path, monkeypatch):
    # The markers removed but the bodies kept (the answer key by mistake): the search finds the bodies.
    monkeypatch.setattr(release, "_copy_package",
                        lambda dest, solutions, real=release._copy_package: real(dest, True))
    with pytest.raises(release.ReleaseError, match="hidden text"):
        release.build_release(tmp_path / "course")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_command_line(tmp_path):
    dest = tmp_path / "course"
    cmd = [sys.executable, "-m", "autograder", "release", str(dest)]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert first.returncode == 0, first.stderr
    assert (dest / "rnnkit" / "lstm.py").exists()
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert second.returncode != 0 and "--force" in second.stderr


def test_signature_introspection_sanity():
    # The stub test above calls each learner function with None arguments; it relies on
    # every checked function having only positional parameters without defaults first.
    import importlib

    for c in CHECKS:
        f = getattr(importlib.import_module(f"rnnkit.{c.module}"), c.function)
        assert inspect.signature(f).parameters


def test_a_region_in_a_function_without_a_check_is_refused_by_name():
    # A forgotten registry entry must not release a stub that no check covers.
    from autograder.building import stubs

    text = "def helper(x):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    region = stubs.regions(text)[0]
    with pytest.raises(stubs.StubError, match="in helper has no check: add 'lstm.helper'"):
        stubs.region_lesson("lstm", region)
