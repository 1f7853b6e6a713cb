"""What a lesson notebook calls: ``check``, ``ready`` and ``show_setup`` (which calls ``reload_on_save``).

Everything here prints on stdout only: under nbgrader any stderr output
(a warning included) scores a cell 0.

- A failing ``check`` raises AssertionError (the cell fails: it scores 0 in nbgrader's
  Validate) whose notebook rendering is its message alone, through IPython's
  ``_render_traceback_``: no frames of the checks come before it, in JupyterLab or in
  Validate's dialog. Check cells carry the ``raises-exception`` tag, so Run All goes on
  past them.
- Live edits: before every cell (``reload_on_save``) and before every check, each file of
  the learner's rnnkit is compared with what the kernel runs (the code objects of its
  functions, line numbers included); a file that changed is run again in its module and
  the functions other modules or the notebook hold are given the new code. A file that
  does not load (a syntax error, an error at import) is named with its line and error;
  ``check`` and ``ready`` then refuse to run instead of running the previous version.
"""

import contextlib
import importlib
import importlib.util
import io
import linecache
import pathlib
import re
import sys
import types

from . import compare
from .casefile import case_from_json, decode, load
from .registry import CHECKS, CHECKS_BY_ID, LESSONS

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

RED, BOLD, RESET = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"


# ---- how a failure is shown ------------------------------------------------------------------


def failure(message):
    """An AssertionError that a notebook shows as its message alone.

    IPython renders an exception with a ``_render_traceback_`` method by calling it (in
    JupyterLab, and in the error output nbgrader's Validate reads), so the learner sees
    ``AssertionError: <message>`` and nothing of the checks' own code. Anywhere else it is
    an ordinary AssertionError.
    """
    error = AssertionError(message)
    lines = message.split("\n")
    rendered = [f"{RED}AssertionError{RESET}: {BOLD}{lines[0]}{RESET}", *lines[1:]]
    error._render_traceback_ = lambda: list(rendered)
    return error


_FRAME = re.compile(r"\(rnnkit/(\w+\.py), line (\d+), in (\w+|<module>)\)")


def _learner_frame(text, pkg_dir):
    """The learner's source line named in ``text`` ("(rnnkit/rnn.py, line 39, in rnn_step)"),
    read from the saved file, as one indented line of text to put under ``text`` (which
    already says where it is); "" when there is none."""
    found = _FRAME.findall(text)
    if not found or pkg_dir is None:
        return ""
    name, line, _function = found[-1]
    source = _source_line(pathlib.Path(pkg_dir) / name, int(line))
    if not source:
        return ""
    return f"\n    {source}"


def _show_on_stdout(function, *args):
    """``function(*args)`` with what the learner's code writes to stderr shown on stdout
    instead: under nbgrader any stderr output (a debug print to sys.stderr) scores a cell 0."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            return function(*args)
    finally:
        text = buffer.getvalue()
        if text:
            print("(your code wrote to stderr; shown here instead:)\n" + text[:2000])


# ---- the learner's package, kept current with its files --------------------------------------


class _Files:
    """What is known of each file of the learner's package, so that a cell costs a few stats.

    - compiled: {(path, filename): (stamp, code or None, problem or None)}, stamp = (mtime_ns, size)
    - failed_runs: {path: (generation, problem)}: the file compiled but running it failed
      while the package's files had these stamps (tried again when any of them changes)
    - rerun: {path: stamp} of the files last run again here (not run again for the same stamp,
      even if a function the file defines is not in the module, say one defined under an ``if``)
    - announced: the problems already printed by the before-cell hook
    """

    def __init__(self):
        self.compiled = {}
        self.failed_runs = {}
        self.rerun = {}
        self.announced = set()


_files = _Files()


def _stamp(path):
    st = path.stat()
    return (st.st_mtime_ns, st.st_size)


def _rel(path):
    return f"rnnkit/{path.name}"


def _source_line(path, lineno):
    """Line ``lineno`` of the file as it is on disk now (stripped; "" when there is none)."""
    linecache.checkcache(str(path))
    return linecache.getline(str(path), lineno).strip() if lineno else ""


def _syntax_problem(error, path):
    """'rnnkit/rnn.py, line 39: SyntaxError: invalid syntax', the line itself, and where to look."""
    line = getattr(error, "lineno", None)
    text = (getattr(error, "text", None) or "").strip()
    msg = getattr(error, "msg", None) or str(error)
    where = f"{_rel(path)}, line {line}" if line else _rel(path)
    problem = f"{where}: {type(error).__name__}: {msg}" + (f"\n    {text}" if text else "")
    if isinstance(error, SyntaxError) and line:
        problem += ("\n(Python names the line where it noticed the mistake: if that line looks right, "
                    "look above it, for a bracket that is not closed, say.)")
    return problem


def _run_problem(error, path):
    """The same for an error raised while the file runs: the deepest line of that file."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if pathlib.Path(tb.tb_frame.f_code.co_filename).name == path.name:
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(error, SyntaxError):
        return _syntax_problem(error, path)
    where = f"{_rel(path)}, line {line}" if line else _rel(path)
    source = _source_line(path, line)
    return f"{where}: {type(error).__name__}: {error}" + (f"\n    {source}" if source else "")


def _compiled(path, filename):
    """(code, None) for a file that compiles, (None, problem text) for one that does not."""
    stamp = _stamp(path)
    cached = _files.compiled.get((path, filename))
    if cached and cached[0] == stamp:
        return cached[1], cached[2]
    try:
        code, problem = compile(path.read_bytes(), filename, "exec", dont_inherit=True), None
    except (SyntaxError, ValueError) as e:  # ValueError: a null byte in the file
        code, problem = None, _syntax_problem(e, path)
    _files.compiled[(path, filename)] = (stamp, code, problem)
    return code, problem


def _is_current(module, code):
    """True when every function the file defines at top level is in the module with this very
    code (code objects compare their line numbers too): the module runs what the file says."""
    for const in code.co_consts:
        if not isinstance(const, types.CodeType) or const.co_name.startswith("<"):
            continue
        held = module.__dict__.get(const.co_name)
        if held is None:
            return False
        if isinstance(held, types.FunctionType) and held.__module__ == module.__name__:
            if held.__code__.co_name == const.co_name and held.__code__ != const:
                return False
    return True


def _rerun(module, code):
    """Run a file's new code in its module; on failure put the module back as it was.

    Functions that other modules (``from .rnn import rnn_step``) or the notebook hold are
    given the new code in place, so every holder runs it; named tuples with the same fields
    stay the same class. Raises what the file raised.
    """
    before = dict(module.__dict__)
    try:
        exec(code, module.__dict__)
    except BaseException:
        module.__dict__.clear()
        module.__dict__.update(before)
        raise
    for name, old in before.items():
        new = module.__dict__.get(name)
        if old is new:
            continue
        if isinstance(old, types.FunctionType) and isinstance(new, types.FunctionType):
            if old.__module__ != module.__name__:
                continue
            try:
                old.__code__ = new.__code__
            except ValueError:  # a closure with other free variables: keep the new object
                continue
            old.__defaults__, old.__kwdefaults__ = new.__defaults__, new.__kwdefaults__
            old.__doc__ = new.__doc__
            old.__dict__.update(new.__dict__)
            module.__dict__[name] = old
        elif (isinstance(old, type) and isinstance(new, type) and hasattr(old, "_fields")
              and getattr(new, "_fields", None) == old._fields and old.__module__ == module.__name__):
            module.__dict__[name] = old


def refresh(pkg):
    """Bring every module of the package up to date with its file; the files that do not load.

    Inputs:
    - pkg: the learner's package (a module with ``__file__``: its folder holds the files)

    Returns:
    - list of problem texts, one per file that does not load ("rnnkit/rnn.py, line 39:
      SyntaxError: ..." and the line), in file order. The modules of those files are left
      as they were: nothing should run them.
    """
    pkg_dir = pathlib.Path(pkg.__file__).resolve().parent
    paths = sorted(p for p in pkg_dir.glob("*.py") if p.is_file())
    generation = tuple((p.name, _stamp(p)) for p in paths)
    problems, pending = {}, []
    for path in paths:
        name = pkg.__name__ if path.name == "__init__.py" else f"{pkg.__name__}.{path.stem}"
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None) or str(path)
        code, problem = _compiled(path, filename)
        if problem:
            problems[path] = problem
        elif module is not None and _files.rerun.get(path) != _stamp(path) and not _is_current(module, code):
            pending.append((path, module, code))
    # Several changed files: a file may need a name another one now defines, so try again
    # while some file loads.
    while pending:
        still = []
        for path, module, code in pending:
            failed = _files.failed_runs.get(path)
            if failed and failed[0] == generation:
                problems[path] = failed[1]
                continue
            try:
                _show_on_stdout(_rerun, module, code)
            except Exception as e:  # noqa: BLE001 - the learner's file: anything can come out
                still.append((path, module, code, _run_problem(e, path)))
            else:
                _files.failed_runs.pop(path, None)
                _files.rerun[path] = _stamp(path)
                problems.pop(path, None)
                linecache.checkcache(str(path))
        if len(still) == len(pending):
            for path, _, _, problem in still:
                _files.failed_runs[path] = (generation, problem)
                problems[path] = problem
            break
        pending = [(path, module, code) for path, module, code, _ in still]
    return [problems[p] for p in paths if p in problems]


_PROBLEM_FILE = re.compile(r"(rnnkit/\w+\.py)\b")


def _not_loading(problems, need=None):
    """What check and ready say when files do not load.

    ``need`` ("This experiment needs rnnkit") starts the first sentence, which then names the
    files: "This experiment needs rnnkit, and rnnkit/rnn.py does not load, so ..."."""
    if need is None:
        count = "This file does" if len(problems) == 1 else f"These {len(problems)} files do"
    else:
        files = list(dict.fromkeys(m.group(1) for m in map(_PROBLEM_FILE.match, problems) if m))
        named = " and ".join(files) if files else "rnnkit"
        count = f"{need}, and {named} {'does' if len(files) <= 1 else 'do'}"
    return (f"{count} not load, so none of your code was run:\n" + "\n".join(problems)
            + "\nFix it, save the file (Ctrl+S in its editor), then run this cell again.")


def _notice(problems):
    """What any other cell says, once, when files do not load."""
    count = "This file does" if len(problems) == 1 else f"These {len(problems)} files do"
    return (f"!!! {count} not load:\n" + "\n".join(problems)
            + "\n!!! Until you fix and save it, this kernel keeps the version that last loaded "
            "(and the checks refuse to run).")


def _package_dir_of(name="rnnkit"):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return pathlib.Path(origin).resolve().parent if origin else None


def _import_problems(error):
    """Why importing the package rnnkit failed, file by file, without running anything else."""
    pkg_dir = _package_dir_of()
    if pkg_dir is None:
        return [f"{type(error).__name__}: {error}"]
    problems = []
    for path in sorted(pkg_dir.glob("*.py")):
        try:
            _, problem = _compiled(path, str(path))
        except OSError:
            continue
        if problem:
            problems.append(problem)
    if problems:
        return problems
    deepest = None
    tb = error.__traceback__
    while tb is not None:
        filename = pathlib.Path(tb.tb_frame.f_code.co_filename)
        if filename.parent.resolve() == pkg_dir:
            deepest = filename
        tb = tb.tb_next
    if deepest is not None:
        return [_run_problem(error, pkg_dir / deepest.name)]
    if isinstance(error, SyntaxError) and error.filename:
        return [_syntax_problem(error, pkg_dir / pathlib.Path(error.filename).name)]
    return [f"rnnkit: {type(error).__name__}: {error}"]


def _rnnkit(need=None):
    """The rnnkit this kernel uses, current with its files. A ``failure`` naming each file
    that does not load (file, line, error) when the package cannot be used; ``need``, when
    given, starts its first sentence (see ``_not_loading``)."""
    pkg = sys.modules.get("rnnkit")
    if pkg is None:
        try:
            pkg = _show_on_stdout(importlib.import_module, "rnnkit")
        except Exception as e:  # noqa: BLE001 - a syntax error in the learner's file, say
            problems = _import_problems(e)
            lead = "" if need else "rnnkit could not be imported. "
            raise failure(lead + _not_loading(problems, need)) from None
    if not getattr(pkg, "__file__", None):
        return pkg
    problems = refresh(pkg)
    if problems:
        raise failure(_not_loading(problems, need))
    return pkg


# ---- before every cell ---------------------------------------------------------------------------


_CHECK_CELL = re.compile(r"\s*(if\s+)?(check|ready)\(")


def _before_cell(info=None):
    """IPython's pre_run_cell hook: bring rnnkit up to date with its saved files, and say once
    (on stdout) which file does not load. Cells that run ``check``/``ready`` say it themselves."""
    try:
        pkg = sys.modules.get("rnnkit")
        if pkg is None or not getattr(pkg, "__file__", None):
            return
        problems = refresh(pkg)
        new = [p for p in problems if p not in _files.announced]
        _files.announced = set(problems)
        if new and not _CHECK_CELL.match(getattr(info, "raw_cell", "") or ""):
            print(_notice(new))
    except Exception as e:  # noqa: BLE001 - never stop the learner's cell
        print(f"(reloading rnnkit failed: {type(e).__name__}: {e})")


def reload_on_save():
    """From now on, before each cell, load the rnnkit files saved since the last cell.

    A kernel without IPython (a plain script) has no cells: nothing to do there, and
    ``check`` keeps the package current itself.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    with contextlib.suppress(ValueError):
        shell.events.unregister("pre_run_cell", _before_cell)
    shell.events.register("pre_run_cell", _before_cell)


# ---- the checks ---------------------------------------------------------------------------------


def _run_quietly(run_case, pkg, case):
    """Run a case with the learner's writes to stderr shown on stdout instead: under nbgrader
    any stderr output (a debug print to sys.stderr) would score the cell 0."""
    return _show_on_stdout(run_case, pkg, case)


def load_fixture(check_id, pkg=None):
    """(cases, expected {case_id: output}, mistakes {case_id: [(name, hint, output)]}) of the
    published fixture of one check."""
    from .executor import param_classes

    meta, buffers = load(FIXTURES / f"{check_id}.npz")
    classes = param_classes(pkg) if pkg is not None else {}
    cases = [case_from_json(n, buffers, classes) for n in meta["cases"]]
    expected = {k: decode(v, buffers) for k, v in meta["expected"].items()}
    mistakes = {
        k: [(m["name"], m["hint"], decode(m["output"], buffers)) for m in v]
        for k, v in meta["mistakes"].items()
    }
    return cases, expected, mistakes


def _unknown(check_id):
    known = ", ".join(sorted(CHECKS_BY_ID))
    return failure(f"There is no check called {check_id!r}. Known checks: {known}.")


def _verdicts(check_id, pkg, whole_chain=False):
    """The verdict of every visible case of one check on the learner's package. ``whole_chain``:
    a composed function runs the learner's own functions it calls (not the case's replay of
    the reference's), so a wrong gate fails the step that calls it too."""
    from .executor import run_case

    cases, expected, mistakes = load_fixture(check_id, pkg)
    verdicts = []
    for case in cases:
        if whole_chain:
            case.replay = []
            case.diagnose = []
        result = _run_quietly(run_case, pkg, case)
        verdicts.append(
            compare.judge_case(
                case, result, expected[case.case_id], mistakes.get(case.case_id, []), compare.case_dtype(case)
            )
        )
    return verdicts


def check(check_id):
    """Run the visible checks of one learner function against this kernel's rnnkit.

    Prints one line when every case passes; otherwise raises AssertionError (see
    ``failure``) saying which case failed, the first differing element with both values,
    the name of a known mistake when the output matches one, and the learner's line when
    their function raised. A file of rnnkit that does not load is named instead, with its
    line and error, and nothing is run.
    """
    if check_id not in CHECKS_BY_ID:
        raise _unknown(check_id)

    try:
        pkg = _rnnkit()
    except AssertionError as e:
        raise failure(f"{check_id}: not checked. {e}") from None
    verdicts = _verdicts(check_id, pkg)
    failing = [v for v in verdicts if not v.ok] + [v for v in verdicts if v.ok and not v.hygiene_ok]
    if failing:
        passed = sum(v.ok and v.hygiene_ok for v in verdicts)
        message = failing[0].message
        frame = _learner_frame(message, pathlib.Path(pkg.__file__).resolve().parent)
        raise failure(f"{check_id}: {passed} of {len(verdicts)} cases pass.\n{message}{frame}")
    print(
        f"{check_id}: all {len(verdicts)} visible cases pass. "
        "(Grading runs hidden cases like these with fresh inputs.)"
    )


def ready(*check_ids, passing=False):
    """True when the learner functions behind ``check_ids`` are written (a tiny call
    raises no NotImplementedError) and every file of rnnkit loads; otherwise prints what
    is missing and returns False. With ``passing=True`` each must also pass its visible
    check: an experiment that trains on the learner's code asks for it, since a function
    that runs but is wrong draws curves that look like results."""
    from .executor import run_case

    for check_id in check_ids:
        if check_id not in CHECKS_BY_ID:
            raise _unknown(check_id)
    try:
        pkg = _rnnkit(need="This experiment needs rnnkit")
    except AssertionError as e:
        print(e)
        return False
    for check_id in check_ids:
        module, function = check_id.split(".")
        cases, _, _ = load_fixture(check_id, pkg)
        case = cases[0]
        case.replay = []  # an experiment runs the learner's whole chain
        case.diagnose = []  # and needs no blame for a message
        error = _run_quietly(run_case, pkg, case)["error"] or ""
        if error.startswith("NotImplementedError"):
            inner = error.rsplit(" in ", 1)[-1].rstrip(")") if " in " in error else function
            if inner == function:
                print(
                    f"This experiment uses your `{function}` (rnnkit/{module}.py), which is not written "
                    "yet: come back after the exercise."
                )
            else:
                print(
                    f"This experiment uses your `{function}` (rnnkit/{module}.py), which needs `{inner}`, "
                    "not written yet: come back after the exercise."
                )
            return False
    if passing:
        failing = [c for c in check_ids if not all(v.ok for v in _verdicts(c, pkg, whole_chain=True))]
        if failing:
            # Name the functions that fail their own checks: a wrong gate makes lstm_step fail
            # here, while lstm_step's own check (which feeds it the reference's gates) passes.
            # Only the modules the experiment uses, up to its latest lesson.
            lessons = [lesson.assignment for lesson in LESSONS]
            last = max(lessons.index(CHECKS_BY_ID[c].lesson) for c in check_ids)
            modules = {c.split(".")[0] for c in check_ids}
            own = [c.check_id for c in CHECKS if lessons.index(c.lesson) <= last and c.module in modules
                   and not all(v.ok for v in _verdicts(c.check_id, pkg))]
            names = ", ".join(f"`{c.split('.')[1]}` (rnnkit/{c.split('.')[0]}.py, "
                              f"lesson {int(CHECKS_BY_ID[c].lesson[:2])})" for c in (own or failing))
            print(f"This experiment trains on your code, and these functions do not pass their checks "
                  f"yet: {names}. Run their check cells, fix what they report, and come back: until "
                  "then the curves would not show what the cells can do.")
            return False
    return True


def show_setup(course_dir):
    """The set-up cell's work: from now on reload rnnkit's files when they are saved
    (``reload_on_save``), and print which rnnkit this kernel uses, loudly when it is not
    the course folder's."""
    reload_on_save()
    try:
        pkg = _rnnkit()
    except AssertionError as e:
        print(f"!!! {e}")
        return
    where = pathlib.Path(pkg.__file__).resolve().parent
    course = pathlib.Path(course_dir).resolve()
    if course in where.parents:
        print(f"Using your rnnkit in {where}; checks from {pathlib.Path(__file__).resolve().parent}.")
    else:
        bar = "!" * 78
        print(
            f"{bar}\n!!! WARNING: this notebook is using the rnnkit in {where},\n"
            f"!!! not the copy in your course folder {course}.\n"
            "!!! Your edits would not be checked. Another rnnkit (perhaps an installed reference\n"
            "!!! package) shadows yours: uninstall it or open the notebook from the course folder,\n"
            f"!!! then restart the kernel.\n{bar}"
        )
