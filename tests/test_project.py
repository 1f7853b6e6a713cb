"""The project's set-up files agree with each other.

- environment.yml (conda / Binder) lists python, pip and exactly pyproject's runtime
  dependencies, with the same version bounds, and installs this repository with pip.
- The Makefile has the demo, lab and test targets the README tells people to use.
- .ci/run exists, is executable and runs ``make test``; it installs only Debian packages
  (root): the Makefile's set-up installs the rest, PyTorch (the pin the suite's skip
  message names) and Playwright included.
- `make lab` and every learner instruction open JupyterLab on the course folder.
- The README names both set-up commands.
- Every third-party module the code imports is installed by what pyproject declares:
  rnnkit and autograder by the runtime dependencies, tests and benchmarks also by
  the test and torch extras (a fresh `make test` installs exactly those).
- When PyTorch is missing, a run says so plainly at the end.

PyYAML, used to read environment.yml, comes with jupyterlab (through jupyter_events).
"""

import ast
import importlib.metadata as metadata
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def requirement_key(spec):
    """A comparable (name, set of version bounds) for a PEP 508 or conda 'name>=x' string."""
    req = Requirement(spec)
    return canonicalize_name(req.name), frozenset(str(s) for s in req.specifier)


def conda_parts(environment):
    deps = environment["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    others = [d for d in deps if not isinstance(d, str) and not (isinstance(d, dict) and "pip" in d)]
    assert not others, f"unexpected entries in environment.yml: {others}"
    return conda, pip_sections


# ---------------------------------------------------------------- environment.yml

def test_environment_yml_has_pyprojects_runtime_dependencies(pyproject, environment):
    conda, _ = conda_parts(environment)
    keys = {requirement_key(d) for d in conda}
    names = {name for name, _ in keys}
    runtime = {requirement_key(d) for d in pyproject["project"]["dependencies"]}
    assert runtime, "pyproject lists no runtime dependencies"
    missing = runtime - keys
    assert not missing, f"in pyproject.toml but not (with these bounds) in environment.yml: {sorted(missing)}"
    extra = {k for k in keys if k[0] not in {"python", "pip"}} - runtime
    assert not extra, f"in environment.yml but not in pyproject's runtime dependencies: {sorted(extra)}"
    assert "pip" in names, "environment.yml must list pip (it installs the repository)"


def test_environment_yml_python_matches_requires_python(pyproject, environment):
    conda, _ = conda_parts(environment)
    pythons = [requirement_key(d) for d in conda if requirement_key(d)[0] == "python"]
    assert len(pythons) == 1, "environment.yml must list python once"
    assert pythons[0][1] == frozenset({pyproject["project"]["requires-python"]})


def test_environment_yml_installs_the_repository_with_pip(environment):
    _, pip_sections = conda_parts(environment)
    assert len(pip_sections) == 1, "environment.yml needs one `pip:` section"
    entries = [e.strip() for e in pip_sections[0]]
    assert entries in (["-e ."], ["."]), f"the pip section should install this repository: {entries}"


def test_environment_yml_leaves_out_test_only_packages(pyproject, environment):
    conda, _ = conda_parts(environment)
    names = {requirement_key(d)[0] for d in conda}
    test_only = {requirement_key(d)[0] for extra in pyproject["project"]["optional-dependencies"].values()
                 for d in extra}
    assert not names & test_only, f"test-only packages in environment.yml: {sorted(names & test_only)}"


# ---------------------------------------------------------------- Makefile, CI, README

def makefile_targets():
    text = (ROOT / "Makefile").read_text()
    targets = set()
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-/ ]+?)\s*:(?!=)", line)
        if m and not line.startswith("\t"):
            targets.update(m.group(1).split())
    return text, targets


def test_makefile_has_demo_lab_and_test_targets():
    text, targets = makefile_targets()
    for target in ("demo", "lab", "test"):
        assert target in targets, f"Makefile has no `{target}` target"
    phony = re.search(r"^\.PHONY\s*:(.*)$", text, re.M)
    assert phony and {"demo", "lab", "test"} <= set(phony.group(1).split())


def test_make_test_runs_pytest_and_make_demo_runs_the_demo():
    """What `make -n` (print, do not run) says the targets would do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    test_cmds = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert test_cmds.returncode == 0, test_cmds.stderr
    assert re.search(r"python -m pytest\b", test_cmds.stdout), test_cmds.stdout
    demo_cmds = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert demo_cmds.returncode == 0, demo_cmds.stderr
    assert "autograder demo" in demo_cmds.stdout, demo_cmds.stdout


def ci_commands():
    text = (ROOT / ".ci" / "run").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_ci_run_is_an_executable_script_calling_make_test():
    path = ROOT / ".ci" / "run"
    assert path.is_file()
    assert path.stat().st_mode & stat.S_IXUSR and os.access(path, os.X_OK), ".ci/run is not executable"
    assert path.read_text().startswith("#!"), ".ci/run needs a shebang line"
    assert "make test" in ci_commands(), ".ci/run does not run `make test` (on a line of its own)"


def test_make_installs_what_the_suite_needs_and_ci_adds_only_what_needs_root(pyproject):
    """A fresh `make test` (what .ci/run runs) installs PyTorch for the cross-checks and
    Playwright for the browser test; .ci/run itself installs only Debian packages (root)."""
    from conftest import TORCH_PIN

    extras = pyproject["project"]["optional-dependencies"]
    assert extras["torch"] == [TORCH_PIN], f"torch extra {extras['torch']} != the skip message's pin"
    test_extra = {requirement_key(r)[0]: r for r in extras["test"]}
    assert test_extra.get("torch") == TORCH_PIN, "the test extra must pin the same PyTorch"
    assert "playwright" in test_extra, "the test extra must install Playwright (tests/browser)"
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(VENV\)/\.installed:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and re.search(r"pip install .*-e '\.\[test\]'", recipe.group(1)), "Makefile set-up"
    commands = ci_commands()
    assert not [c for c in commands if "pip install" in c], ".ci/run installs Python packages itself"
    apt = " ".join(c for c in commands if "apt-get install" in c)
    assert "bubblewrap" in apt and "chromium" in apt, ".ci/run must apt-get install bubblewrap and chromium"


def _jupyter_root(command, cwd):
    """The folder JupyterLab serves for ``jupyter lab ARGS`` run in cwd (jupyter_server's rule: a
    folder argument becomes the root, a file argument is opened under the working directory)."""
    args = command.split("jupyter lab", 1)[1].split()
    root = cwd
    for arg in args:
        if arg.startswith("--") and ("root_dir" in arg or "notebook_dir" in arg or "notebook-dir" in arg):
            root = (cwd / arg.split("=", 1)[1].strip("\"'")).resolve()
        elif not arg.startswith("-") and (cwd / arg).is_dir():
            root = (cwd / arg).resolve()
    return root


def test_make_lab_and_the_learner_instructions_open_the_course_folder():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    lab = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert lab.returncode == 0, lab.stderr
    (command,) = [line for line in lab.stdout.splitlines() if "jupyter lab" in line]
    cwd = ROOT
    moved = re.match(r'\s*cd\s+"?([^"&]+?)"?\s*&&', command)
    if moved:
        cwd = Path(moved.group(1))
    assert _jupyter_root(command, cwd) == ROOT, command
    # Nothing a learner reads tells them to start JupyterLab on a subfolder.
    from autograder.building import release

    texts = {"README.md": (ROOT / "README.md").read_text(), "the release's README.md": release.readme()}
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        texts[path.name] = path.read_text()
    for name, text in texts.items():
        for match in re.finditer(r"jupyter lab[^\n`\"]*", text):
            assert _jupyter_root(match.group(0), ROOT) == ROOT, f"{name}: {match.group(0)!r}"


def test_readme_names_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme


def test_pyproject_declares_the_markers_and_warning_policy(pyproject):
    ini = pyproject["tool"]["pytest"]["ini_options"]
    declared = {m.split(":")[0].strip() for m in ini["markers"]}
    assert {"slow", "torch"} <= declared
    assert "error::RuntimeWarning" in ini["filterwarnings"]


# ---------------------------------------------------------------- imports vs declared dependencies

def installed_by(requirements):
    """Canonical names of every distribution that installing ``requirements`` brings in
    (read from the installed packages' metadata, following their requirements)."""
    seen, todo = set(), [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in metadata.distribution(name).requires or []]
        except metadata.PackageNotFoundError:
            pass
    return seen


def _optional(node, parents):
    """True when the import sits in a try block that handles ImportError (an optional import)."""
    for parent in parents:
        if isinstance(parent, ast.Try) and node in ast.walk(ast.Module(body=parent.body, type_ignores=[])):
            for handler in parent.handlers:
                names = ast.unparse(handler.type) if handler.type else "BaseException"
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    return True
    return False


def required_imports(path):
    """Top-level names of the absolute imports of a file, optional ones left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def chain(node):
        while node in parents:
            node = parents[node]
            yield node

    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        if not _optional(node, list(chain(node))):
            names.update(m.split(".")[0] for m in modules)
    return names


# names that resolve to this repository (its folders and files, the tests' helper modules)
# or to the learner's folder (rnncheck, the release's copy of the checks), and the hub's scripts in
# deploy/hub, which the hub tests import from there
LOCAL = ({p.stem for p in ROOT.iterdir()} | {p.stem for p in (ROOT / "tests").iterdir()} | {"rnncheck"}
         | {p.stem for p in (ROOT / "deploy" / "hub").glob("*.py")})


@pytest.fixture(scope="module")
def installed(pyproject):
    runtime = list(pyproject["project"]["dependencies"])
    extras = [d for extra in pyproject["project"]["optional-dependencies"].values() for d in extra]
    available = {False: installed_by(runtime), True: installed_by(runtime + extras)}
    return available, metadata.packages_distributions()


@pytest.mark.slow
@pytest.mark.parametrize("folder,extras", [("rnnkit", False), ("autograder", False),
                                           ("tests", True), ("benchmarks", True)])
def test_every_import_is_a_declared_dependency(installed, folder, extras):
    by_extras, module_to_dists = installed
    available = by_extras[extras]
    missing = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        siblings = {p.stem for p in path.parent.iterdir()}  # a script importing the module beside it
        for name in sorted(required_imports(path)):
            if name in sys.stdlib_module_names or name in LOCAL or name in siblings:
                continue
            dists = {canonicalize_name(d) for d in module_to_dists.get(name, [])}
            if not dists & available:
                missing.append(f"{path.relative_to(ROOT)} imports {name} ({', '.join(sorted(dists)) or '?'})")
    assert not missing, "imports not installed by pyproject's declared dependencies:\n" + "\n".join(missing)


# ---------------------------------------------------------------- the skip summary

def run_crosschecks(tmp_path, hide_torch, *pytest_args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if hide_torch:
        # a module named torch, first on the path, that fails to import
        (tmp_path / "torch.py").write_text("raise ImportError('PyTorch hidden for this test')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "pytest", "tests/test_torch_crosscheck.py", "-q",
           "-p", "no:cacheprovider", *pytest_args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_a_run_without_torch_says_how_many_cross_checks_were_skipped(tmp_path):
    result = run_crosschecks(tmp_path, True)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    message = r"PyTorch not installed: (\d+) cross-checks skipped; pip install torch==2\.13\.0 to run them"
    m = re.search(message, out)
    assert m, out
    skipped = re.search(r"(\d+) skipped", out.splitlines()[-1])
    assert skipped and m.group(1) == skipped.group(1), out
    assert int(m.group(1)) >= 20
    assert " passed" not in out.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.torch
def test_a_run_with_torch_does_not_claim_they_were_skipped(tmp_path):
    result = run_crosschecks(tmp_path, False, "-k", "pin_is_exactly_one")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "PyTorch not installed" not in result.stdout
