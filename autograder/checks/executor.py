"""Run cases against a learner's rnnkit and return plain results.

Used in two places:
- the learner's notebook (``check``), on the published fixtures, against the
  rnnkit the kernel has imported;
- the grading sandbox, as ``python -m rnncheck.executor --course DIR --cases IN --out OUT``:
  it builds every case's inputs read-only, sets up DIR/rnnkit as an empty package (the
  learner's ``__init__.py`` never runs), imports each module when its checks come, runs
  every case in IN/cases.npz and writes OUT/<check_id>.npz after each check. The trusted
  parent judges those files; nothing here decides a score.

Only numpy and the standard library are imported, and no reference code of any
learner function is here. Composed functions (lstm_step, gru_step, the backward
passes, stacked_forward, ...) are run with the other learner functions they call
answered from the case's replay table (values precomputed by the parent), so a
mistake in forget_gate costs forget_gate's points only.
"""

import argparse
import ast
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import json
import os
import pathlib
import re
import sys
import traceback
import warnings

import numpy as np

from .casefile import Leaf, Other, Seq, case_from_json, map_arrays, read_case_meta, write_results
from .probe import ProbeParams
from .registry import PARAM_CLASSES

MAX_ITEMS = 10_000


# ---- loading the learner's package -----------------------------------------------------


def load_rnnkit(course_dir):
    """Import ``course_dir/rnnkit`` as the package ``rnnkit`` from that path only, running
    its ``__init__`` (in-process trials; the sandbox uses ``load_rnnkit_shell``).

    A failing ``__init__`` (say a syntax error in one module) leaves the package
    shell in place so the other modules can still be checked one by one.
    Returns (package, error text or None).
    """
    pkg_dir = pathlib.Path(course_dir).resolve() / "rnnkit"
    init = pkg_dir / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(f"no rnnkit/__init__.py in {course_dir}")
    _forget_rnnkit()
    spec = importlib.util.spec_from_file_location("rnnkit", init, submodule_search_locations=[str(pkg_dir)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["rnnkit"] = pkg
    error = None
    try:
        with _quiet():
            spec.loader.exec_module(pkg)
    except BaseException as e:  # noqa: BLE001 - learner code: anything can come out
        error = _error_text(e, pkg_dir)
        sys.modules["rnnkit"] = pkg
    loaded = pathlib.Path(pkg.__file__).resolve()
    if pkg_dir not in loaded.parents:
        raise ImportError(f"rnnkit was loaded from {loaded}, not from {pkg_dir}")
    return pkg, error


def _forget_rnnkit():
    for name in [m for m in sys.modules if m == "rnnkit" or m.startswith("rnnkit.")]:
        del sys.modules[name]


def load_rnnkit_shell(course_dir):
    """The package ``rnnkit`` for ``course_dir/rnnkit`` WITHOUT running any learner code.

    The learner's ``__init__.py`` (which imports every module) is never executed: the
    package is an empty module whose ``__path__`` is the learner's folder, and each
    submodule is imported when it is first used (``import_for_check``), so a module that
    does not import costs only its own functions and those that use it. Names the
    learner's ``__init__`` re-exports (``from .sequence import unroll``, read from its
    source, not run) resolve on first use, so importing ``unroll`` from the package still works.
    """
    pkg_dir = pathlib.Path(course_dir).resolve() / "rnnkit"
    init = pkg_dir / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(f"no rnnkit/__init__.py in {course_dir}")
    _forget_rnnkit()
    spec = importlib.machinery.ModuleSpec("rnnkit", None, origin=str(init), is_package=True)
    spec.submodule_search_locations = [str(pkg_dir)]
    pkg = importlib.util.module_from_spec(spec)
    pkg.__file__ = str(init)
    exports = _init_exports(init)

    def __getattr__(name):  # PEP 562: only for names not set yet
        if name.startswith("__"):
            raise AttributeError(name)
        if name in exports:
            module, attr = exports[name]
            mod = importlib.import_module(f"rnnkit.{module}")
            return mod if attr is None else getattr(mod, attr)
        if (pkg_dir / f"{name}.py").is_file():
            return importlib.import_module(f"rnnkit.{name}")
        raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")

    pkg.__getattr__ = __getattr__
    sys.modules["rnnkit"] = pkg
    loaded = pathlib.Path(pkg.__file__).resolve()
    if pkg_dir not in loaded.parents or pathlib.Path(pkg.__path__[0]).resolve() != pkg_dir:
        raise ImportError(f"rnnkit was loaded from {loaded}, not from {pkg_dir}")
    return pkg


def _parse(path):
    """The AST of a learner file (None when unreadable or not Python)."""
    try:
        with open(path, "rb") as f:
            source = f.read(2_000_000)
        return ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _module_level(tree):
    """Nodes of a module run at import time (function bodies excluded)."""
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(node.decorator_list if not isinstance(node, ast.Lambda) else [])
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _init_exports(init):
    """{name: (module, attribute or None)} for ``from .module import name`` and
    ``from . import module`` statements of the learner's ``__init__.py``."""
    tree = _parse(init)
    exports = {}
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                if alias.name == "*":
                    continue
                if node.module:
                    exports[alias.asname or alias.name] = (node.module.split(".")[0], alias.name)
                else:
                    exports[alias.asname or alias.name] = (alias.name, None)
    return exports


def static_imports(pkg_dir, module):
    """The sibling modules ``module`` imports when it is imported (read from its source,
    not run): ``from .x import``, ``from . import x`` and the same with the package named."""
    tree = _parse(pathlib.Path(pkg_dir) / f"{module}.py")
    found = []
    for node in _module_level(tree) if tree is not None else []:
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or (node.level == 0 and (node.module or "").split(".")[0] == "rnnkit"):
                parts = (node.module or "").split(".")
                parts = parts[1:] if node.level == 0 else parts
                if parts and parts[0]:
                    names.append(parts[0])
                else:
                    names += [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name.split(".")[1] for a in node.names if a.name.startswith("rnnkit.")]
        for name in names:
            if name != module and name not in found and (pathlib.Path(pkg_dir) / f"{name}.py").is_file():
                found.append(name)
    return found


class ImportMarks(importlib.abc.MetaPathFinder):
    """Imports of the learner's modules, announced in the output folder (sandbox only).

    Before a module of ``rnnkit`` runs, ``_importing.json`` says which one (and which
    modules are waiting on it, and for which check); it is removed when the import is
    over. If the process dies or stalls meanwhile, the trusted parent finds the file and
    scores every check of that module (and of the modules importing it) at once.
    Modules are found in the learner's folder only.
    """

    def __init__(self, pkg_dir, out):
        self.pkg_dir, self.out = pathlib.Path(pkg_dir), pathlib.Path(out)
        self.chain = []  # modules being imported, outermost first
        self.check = None  # the check being run, if any
        self.first_failure = None  # (module, error text, exception) of the innermost module that raised

    def find_spec(self, name, path=None, target=None):
        if not name.startswith("rnnkit.") or name.count(".") != 1:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, [str(self.pkg_dir)])
        if spec is None or spec.loader is None:
            return None
        spec.loader = _MarkedLoader(spec.loader, self, name.split(".")[1])
        return spec

    def _mark(self):
        path = self.out / "_importing.json"
        if not self.chain:
            with contextlib.suppress(OSError):
                path.unlink()
            return
        data = {"module": self.chain[-1], "chain": self.chain[:-1], "check": self.check}
        _write_json(path, data)

    def enter(self, module):
        self.chain.append(module)
        self._mark()

    def leave(self):
        self.chain.pop()
        self._mark()

    def failed(self, module, e):
        # The same exception passing out of the modules that import the failing one keeps the
        # blame on the innermost; a different one (a module that caught it, then failed
        # otherwise) moves it.
        if self.first_failure is None or self.first_failure[2] is not e:
            self.first_failure = (module, _import_error_text(e, self.pkg_dir), e)


class _MarkedLoader(importlib.abc.Loader):
    def __init__(self, inner, marks, module):
        self._inner, self._marks, self._module = inner, marks, module

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._marks.enter(self._module)
        try:
            with _quiet():
                self._inner.exec_module(module)
        except BaseException as e:  # noqa: BLE001 - recorded, then raised as usual
            self._marks.failed(self._module, e)
            raise
        finally:
            self._marks.leave()

    def __getattr__(self, name):  # get_source, get_filename, ... for inspect and tracebacks
        return getattr(self._inner, name)


def _write_json(path, data):
    """Write JSON atomically (a reader never sees half a file)."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def import_failure_message(module, culprit, why):
    """What a learner reads when ``module`` cannot be used because ``culprit`` did not import."""
    text = f"rnnkit/{culprit}.py could not be imported: {why}"
    if culprit != module:
        text = f"rnnkit/{module}.py imports rnnkit/{culprit}.py, which could not be imported: {why}"
    text = text.rstrip()
    if not text.endswith("."):
        text += "."
    return (text + " Fix that file: the functions in it (and those that use it) cannot be graded "
            "until it loads.")


def import_for_check(pkg, module, marks, errors):
    """Import ``rnnkit.<module>`` (and what it imports) for a check; None, or the message
    saying why it cannot be used. ``errors`` caches the answers per module."""
    if module in errors:
        return errors[module]
    marks.first_failure = None
    try:
        with _quiet():
            importlib.import_module(f"{pkg.__name__}.{module}")
        error = None
    except BaseException as e:  # noqa: BLE001 - learner code: anything can come out
        culprit, why = (marks.first_failure or (module, _import_error_text(e, marks.pkg_dir), e))[:2]
        error = import_failure_message(module, culprit, why)
        marks.first_failure = None
    else:
        loaded = getattr(sys.modules.get(f"{pkg.__name__}.{module}"), "__file__", None) or ""
        if marks.pkg_dir not in pathlib.Path(loaded).resolve().parents:
            error = import_failure_message(module, module, "it was not loaded from your rnnkit folder")
    errors[module] = error
    return error


def submodule(pkg, name):
    """``pkg.<name>`` imported (errors propagate)."""
    mod = getattr(pkg, name, None)
    if mod is None or not inspect.ismodule(mod):
        with _quiet():
            mod = importlib.import_module(pkg.__name__ + "." + name)
    return mod


def param_classes(pkg):
    """The named tuple classes cases refer to (``registry.PARAM_CLASSES``), taken from the learner's
    package; the probe cell's from this package."""
    classes = {"probe.ProbeParams": ProbeParams}
    for name in PARAM_CLASSES:
        module, cls = name.split(".")
        if name in classes:
            continue
        try:
            classes[name] = getattr(submodule(pkg, module), cls)
        except Exception:  # noqa: BLE001 - a broken module: generic stand-in
            pass
    return classes


# ---- read-only inputs ----------------------------------------------------------------------


class ReadOnlyList(list):
    """A list argument the learner's function may read but not change (like the arrays)."""

    def _refuse(self, *args, **kwargs):
        raise ValueError("this list is read-only: it is an input of the function")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = reverse = sort = clear = _refuse

    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        import copy

        return copy.deepcopy(list(self), memo)

    def __reduce_ex__(self, protocol):
        return (list, (list(self),))


def _immutable(array):
    """True when ``array`` is a view on immutable memory (bytes): nothing can make it writable."""
    base = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return isinstance(base, bytes)


def frozen(value):
    """``value`` with every array replaced by a read-only view on immutable memory
    (``np.frombuffer`` over ``bytes``: its WRITEABLE flag cannot be set back) and every
    list by a ``ReadOnlyList``, so an in-place change raises in the learner's function.
    Arrays that are already such views are kept as they are."""
    return _freeze(value)


def _make_freeze(immutable=_immutable, frombuffer=np.frombuffer, ndarray=np.ndarray,
                 read_only_list=ReadOnlyList):
    # The recursion goes through this closure, not module globals a learner's module could rebind.
    def walk(value):
        if isinstance(value, ndarray):
            if immutable(value) or value.dtype.hasobject:
                return value
            data = np.ascontiguousarray(value)
            return frombuffer(data.tobytes(), dtype=data.dtype).reshape(data.shape)
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            items = [walk(v) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return type(value)(*items)
        if isinstance(value, tuple):
            return tuple(walk(v) for v in value)
        if isinstance(value, list):
            return read_only_list(walk(v) for v in value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk


_freeze = _make_freeze()


def frozen_case(case):
    """The case with read-only inputs (built before any learner module runs, in the sandbox)."""
    case.args, case.kwargs = frozen(tuple(case.args)), frozen(dict(case.kwargs))
    return case


def _adopt_classes(value, classes, read_only_list=ReadOnlyList):
    """Generic named tuples rebuilt as the learner's classes of the same name and fields,
    holding the very same (read-only) arrays (checked: a class whose constructor swaps
    them stays generic); everything else as it was."""
    by_name = {key.rsplit(".", 1)[-1]: cls for key, cls in classes.items()}

    def walk(value):
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            items = [walk(v) for v in value]
            cls = by_name.get(type(value).__name__)
            fields = tuple(getattr(cls, "_fields", ()))
            if cls is not None and cls is not type(value) and fields == value._fields:
                try:
                    new = cls(*items)
                    if isinstance(new, tuple) and len(new) == len(items) and all(
                        a is b for a, b in zip(new, items, strict=True)
                    ):
                        return new
                except Exception:  # noqa: BLE001 - a learner class that will not take them: stay generic
                    pass
            return type(value)(*items)
        if isinstance(value, read_only_list):
            return read_only_list(walk(v) for v in value)
        if isinstance(value, tuple):
            return tuple(walk(v) for v in value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk(value)


def loaded_param_classes(pkg):
    """The named tuple classes cases refer to, from the learner modules already imported
    (none is imported for it)."""
    classes = {"probe.ProbeParams": ProbeParams}
    for name in PARAM_CLASSES:
        module, cls = name.split(".")
        if name in classes:
            continue
        mod = sys.modules.get(f"{pkg.__name__}.{module}")
        value = getattr(mod, cls, None) if mod is not None else None
        if isinstance(value, type) and issubclass(value, tuple):
            classes[name] = value
    return classes


# ---- running one case --------------------------------------------------------------------


@contextlib.contextmanager
def _quiet():
    """Keep warnings off stderr (nbgrader zeroes a cell with stderr output) and collect them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _error_text(e, pkg_dir=None):
    text = f"{type(e).__name__}: {e}"[:1000]
    where = ""
    try:
        for frame in traceback.extract_tb(e.__traceback__):
            if pkg_dir is None or str(pkg_dir) in frame.filename or "rnnkit" in frame.filename:
                where = f" (rnnkit/{pathlib.Path(frame.filename).name}, line {frame.lineno}, in {frame.name})"
    except Exception:  # noqa: BLE001
        pass
    return _no_paths(text + where, pkg_dir)


def _no_paths(text, pkg_dir):
    """``text`` with the folder of the learner's rnnkit written as ``rnnkit`` (no host path)."""
    if pkg_dir is not None:
        text = text.replace(str(pkg_dir), "rnnkit")
    return text


def _import_error_text(e, pkg_dir):
    """Why a learner module did not import: the error, the file and the line."""
    if isinstance(e, SyntaxError) and e.filename:
        name = pathlib.Path(e.filename).name
        return _no_paths(f"{type(e).__name__}: {e.msg} (rnnkit/{name}, line {e.lineno})", pkg_dir)
    return _error_text(e, pkg_dir)


def _walk_arrays(value, path):
    """(path, array) for every array inside nested tuples/lists/named tuples."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, tuple) and hasattr(value, "_fields"):
        for f, v in zip(value._fields, value, strict=True):
            yield from _walk_arrays(v, f"{path}.{f}")
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _walk_arrays(v, f"{path}[{i}]")


def _copy_args(value):
    """A copy of a replayed result (arrays copied, structure rebuilt): the learner's code may change it."""
    return map_arrays(value, np.ndarray.copy)


def normalize(value, depth=0):
    """The learner's return value as Leaf / Seq / Other (plain data)."""
    if depth > 6:
        return Other("deeply nested value")
    if isinstance(value, np.ndarray):
        kind = "ndarray" if type(value) is np.ndarray else f"numpy.{type(value).__name__}"
        if value.dtype.hasobject or value.dtype.kind not in "biufc":
            return Other(f"array of dtype {value.dtype}")
        if value.size > 10_000_000:
            return Other(f"array of {value.size} elements")
        return Leaf(kind, np.array(value))
    if isinstance(value, np.generic):
        if np.asarray(value).dtype.kind not in "biufc":
            return Other(type(value).__name__)
        return Leaf(f"numpy scalar {type(value).__name__}", np.asarray(value))
    if isinstance(value, (bool, int, float)):
        return Leaf(type(value).__name__, np.asarray(value, dtype=np.float64))
    if isinstance(value, (tuple, list)):
        items = list(value)[:MAX_ITEMS]
        fields = tuple(getattr(value, "_fields", ()))
        name = type(value).__name__ if fields else ""
        kind = "list" if isinstance(value, list) else "tuple"
        return Seq(kind, [normalize(v, depth + 1) for v in items], name, fields)
    if value is None:
        return Other("None")
    return Other(type(value).__name__)


def _flat(value):
    """Arrays and None markers of a call's arguments, for matching replay entries."""
    out = []

    def walk(v):
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, (tuple, list)):
            for item in v:
                walk(item)
        elif v is None:
            out.append(None)
        elif isinstance(v, (bool, int, float, np.generic)):
            out.append(np.asarray(v))

    walk(value)
    return out


def _same_args(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            if x is not y:
                return False
        elif np.shape(x) != np.shape(y) or not np.array_equal(x, y):
            return False
    return True


def _replayer(name, original, entries):
    """A stand-in for ``original`` answering calls with the recorded arguments from the table;
    any other call goes to the learner's own function."""
    try:
        signature = inspect.signature(original) if original is not None else None
    except (TypeError, ValueError):
        signature = None
    table = [(_flat(args), result) for args, result in entries]

    def stand_in(*args, **kwargs):
        if signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                call = _flat(tuple(bound.arguments.values()))
            except TypeError:
                call = None
        else:
            call = _flat(args) if not kwargs else None
        if call is not None:
            for recorded, result in table:
                if _same_args(call, recorded):
                    return _copy_args(result)
        if original is None:
            raise NameError(f"{name} is not defined")
        return original(*args, **kwargs)

    stand_in.__name__ = name.rsplit(".", 1)[-1]
    return stand_in


@contextlib.contextmanager
def _replaying(pkg, replay):
    """Temporarily answer the learner functions named in ``replay`` from the table."""
    by_name = {}
    for function, args, result in replay:
        by_name.setdefault(function, []).append((args, result))
    saved = []
    try:
        for function, entries in by_name.items():
            module_name, attr = function.split(".")
            mod = submodule(pkg, module_name)
            missing = object()
            original = getattr(mod, attr, missing)
            saved.append((mod, attr, original, missing))
            setattr(mod, attr, _replayer(function, None if original is missing else original, entries))
        yield
    finally:
        for mod, attr, original, missing in reversed(saved):
            if original is missing:
                with contextlib.suppress(AttributeError):
                    delattr(mod, attr)
            else:
                setattr(mod, attr, original)


# Reference code a graded function must not call: the numerical gradient checker (accurate
# enough to pass for a backward pass) and the training kit, shipped complete with the
# learner's rnnkit, and the fast path (its backward passes are the lesson 6 exercises in
# fused form), which ships with the answer key only but may be copied from one.
REFERENCE_TOOLS = ("fast", "gradcheck", "train")


def _refusal(qualname):
    def refuse(*args, **kwargs):
        raise RuntimeError(
            f"rnnkit.{qualname} is reference code for training and checking, not for graded "
            "functions: compute the result with your own code"
        )

    refuse.__name__ = qualname.rsplit(".", 1)[-1]
    return refuse


def _refusing_module(name, module_name):
    """A stand-in for a reference module not imported yet: any use is refused."""
    import types

    stub = types.ModuleType(name)

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _refusal(f"{module_name}.{attr}")

    stub.__getattr__ = __getattr__
    return stub


@contextlib.contextmanager
def _reference_tools_blocked(pkg):
    """Temporarily replace every function of rnnkit.fast, rnnkit.gradcheck and rnnkit.train.

    A tool module not imported yet is not imported for this (it imports the learner's
    cell modules): a refusing stand-in takes its place for the duration of the call."""
    saved, stubs = [], []
    try:
        for module_name in REFERENCE_TOOLS:
            full = f"{pkg.__name__}.{module_name}"
            mod = sys.modules.get(full)
            if mod is None:
                stub = _refusing_module(full, module_name)
                sys.modules[full] = stub
                had = module_name in vars(pkg)
                stubs.append((full, module_name, stub, had, vars(pkg).get(module_name)))
                setattr(pkg, module_name, stub)
                continue
            for attr, value in list(vars(mod).items()):
                if inspect.isfunction(value) or inspect.isclass(value):
                    if getattr(value, "__module__", None) == mod.__name__:
                        saved.append((mod, attr, value))
                        setattr(mod, attr, _refusal(f"{module_name}.{attr}"))
        yield
    finally:
        for mod, attr, value in reversed(saved):
            setattr(mod, attr, value)
        for full, module_name, stub, had, previous in stubs:
            if sys.modules.get(full) is stub:
                del sys.modules[full]
            if vars(pkg).get(module_name) is stub:
                if had:
                    setattr(pkg, module_name, previous)
                else:
                    delattr(pkg, module_name)


def run_case(pkg, case, *, inputs_ready=False):
    """Call the learner's function on the case's inputs.

    The inputs are read-only (``frozen``): a function that changes one in place raises
    numpy's "read-only" ValueError, and the case fails with that error (``modified`` then
    names the input, for the message). Returns a dict: error (text or None), output
    (normalised return value), modified (names of inputs changed in place: for messages
    only), aliased (outputs sharing memory with an input), warnings (texts of warnings
    raised during the call), and for a case with ``diagnose`` entries, diagnostics (what the
    learner's functions named there return on the arguments given there; see ``_diagnostics``).
    """
    result = {"error": None, "output": None, "modified": [], "aliased": [], "warnings": []}
    module_name, function = case.check_id.split(".")
    pkg_dir = pathlib.Path(pkg.__file__).parent
    with _quiet() as caught:
        try:
            fn = getattr(submodule(pkg, module_name), function)
        except BaseException as e:  # noqa: BLE001
            result["error"] = f"rnnkit/{module_name}.py could not be imported: {_error_text(e, pkg_dir)}"
            return result
        try:
            names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            names = []
        names += [f"argument {i + 1}" for i in range(len(names), len(case.args))]
        # Read-only views on immutable memory: an in-place change raises, in the learner's
        # function, whatever else that code patches (no verdict of this process decides it).
        # In the sandbox they were built before any learner module ran (``inputs_ready``)
        # and are passed as they are.
        if inputs_ready:
            args, kwargs = case.args, case.kwargs
        else:
            args, kwargs = frozen(tuple(case.args)), frozen(dict(case.kwargs))
        before = _inputs(args, kwargs)
        try:
            with np.errstate(all="warn"), _replaying(pkg, case.replay), _reference_tools_blocked(pkg):
                output = fn(*args, **kwargs)
        # KeyboardInterrupt passes: in a notebook it is the learner (or nbgrader's timeout)
        # stopping an endless loop, which must stop the check, not move on to the next case.
        # In the sandbox the process then ends and the parent scores the running check 0.
        except (Exception, SystemExit) as e:  # noqa: BLE001
            result["error"] = _error_text(e, pkg_dir)
            output = None
            if _is_read_only_error(e):
                target = _modified_input(e, args, kwargs, pkg_dir)
                if target is not None:
                    result["modified"] = [_arg_name(target, names, case.kwargs)]
        result["warnings"] = [str(w.message)[:200] for w in caught][:5]
    inputs = list(_inputs(args, kwargs))
    if not result["modified"]:
        # Lists can be changed behind ReadOnlyList's back (list.append(xs, ...)): noted, not scored.
        old, new = dict(before), dict(inputs)
        changed = [p for p in new if p not in old or new[p] is not old[p]] + [p for p in old if p not in new]
        result["modified"] = list(dict.fromkeys(_arg_name(path, names, case.kwargs) for path in changed))
    if result["error"] is None:
        for out_path, out in _walk_arrays(output if isinstance(output, (tuple, list)) else (output,), ""):
            for path, arr in inputs:
                if _shares(out, arr):
                    result["aliased"].append(
                        f"{_output_name(out_path)} shares memory with {_arg_name(path, names, case.kwargs)}"
                    )
        result["output"] = normalize(output)
        if case.diagnose:
            result["diagnostics"] = _diagnostics(pkg, case)
    return result


def _diagnostics(pkg, case):
    """What the learner's own functions named in ``case.diagnose`` return on the arguments given
    there (no replay): normalised outputs, None where one raised. Only for messages (see
    ``compare._blame``): nothing here decides a score."""
    out = []
    for function, args, _index in case.diagnose:
        module_name, name = function.split(".")
        try:
            with _quiet(), np.errstate(all="ignore"), _reference_tools_blocked(pkg):
                value = getattr(submodule(pkg, module_name), name)(*frozen(tuple(args)))
            out.append(normalize(value))
        except (Exception, SystemExit):  # noqa: BLE001 - learner code: anything can come out
            out.append(None)
    return out


def _inputs(args, kwargs):
    return list(_walk_arrays(args, "")) + list(_walk_arrays(tuple(kwargs.values()), "kw"))


def _is_read_only_error(e):
    return isinstance(e, ValueError) and "read-only" in str(e)


def _modified_input(e, args, kwargs, pkg_dir):
    """The path of the input a read-only error was about, found from the learner's line
    that raised: its target (``x += 1``, ``x[0] = 1``, ``out=x``, ``x.sort()``), else the only
    input among its names. None when it cannot be told. Nothing of the learner's is run."""
    frame = None
    tb = e.__traceback__
    while tb is not None:
        if str(pkg_dir) in tb.tb_frame.f_code.co_filename:
            frame, lineno = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None:
        return None
    try:
        import linecache

        line = linecache.getline(frame.f_code.co_filename, lineno).strip()
        local = dict(frame.f_locals)
    except Exception:  # noqa: BLE001
        return None
    inputs = _inputs(args, kwargs)
    lists = list(_walk_lists(args, "")) + list(_walk_lists(tuple(kwargs.values()), "kw"))
    missing = object()

    def input_of(value):
        if isinstance(value, np.ndarray):
            for path, arr in inputs:
                if value is arr or np.may_share_memory(value, arr):
                    return path
        if isinstance(value, ReadOnlyList):
            for path, lst in lists:
                if value is lst:
                    return path
        return None

    def resolve(node):
        if isinstance(node, ast.Name):
            return local.get(node.id, missing)
        if isinstance(node, ast.Subscript):  # x[0] += 1: a view of x
            return resolve(node.value)
        if isinstance(node, ast.Attribute):  # params.W_f += 1
            base = resolve(node.value)
            if isinstance(base, tuple) and node.attr in getattr(base, "_fields", ()):
                return getattr(base, node.attr)
        return missing

    targets = []
    try:
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.AugAssign):
                targets.append(node.target)
            elif isinstance(node, ast.Assign):
                targets += [t for t in node.targets if isinstance(t, ast.Subscript)]
            elif isinstance(node, ast.Call):
                targets += [k.value for k in node.keywords if k.arg == "out"]
                if isinstance(node.func, ast.Attribute):
                    targets.append(node.func.value)
    except SyntaxError:  # a line of a longer statement
        pass
    for target in targets:
        path = input_of(resolve(target))
        if path is not None:
            return path
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line))
    found = list(dict.fromkeys(p for name, value in local.items() if name in words
                               for p in [input_of(value)] if p is not None))
    return found[0] if len(found) == 1 else None


def _walk_lists(value, path):
    """(path, list) for every ReadOnlyList inside nested arguments (paths as ``_walk_arrays``)."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        for f, v in zip(value._fields, value, strict=True):
            yield from _walk_lists(v, f"{path}.{f}")
    elif isinstance(value, (tuple, list)):
        if isinstance(value, ReadOnlyList):
            yield path, value
        for i, v in enumerate(value):
            yield from _walk_lists(v, f"{path}[{i}]")


def _shares(a, b):
    """np.shares_memory with bounded work (the exact problem can be very slow for odd strides)."""
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))
    except np.exceptions.TooHardError:
        return bool(np.may_share_memory(a, b))


def _arg_name(path, names, kwargs):
    """'[2].W_f' -> 'params.W_f' using the function's parameter names."""
    if path.startswith("kw"):
        index, _, rest = path[3:].partition("]")
        key = list(kwargs)[int(index)]
        return key + rest
    index, _, rest = path[1:].partition("]")
    i = int(index)
    return (names[i] if i < len(names) else f"argument {i + 1}") + rest


def _output_name(path):
    return "the returned value" + (f" {path}" if path not in ("", "[0]") else "")


def run_cases(pkg, cases):
    """{case_id: result} for cases, in order."""
    return {case.case_id: run_case(pkg, case) for case in cases}


# ---- command line (sandbox) ---------------------------------------------------------------


def main(argv=None):
    """The sandbox's run: no learner code runs before every case's inputs are built
    read-only; the learner's ``__init__.py`` never runs; each module is imported when the
    first check of it comes (checks of one module come together: the parent orders them),
    announced in OUT/_importing.json while it runs (see ``ImportMarks``).

    Files written in OUT: ``_import.json`` (the package shell is in place), ``_modules.json``
    (which learner modules import which, read from their source, and the modules that
    could not be imported, with why), ``<check_id>.npz`` after each check.
    """
    parser = argparse.ArgumentParser(description="Run check cases against a learner's rnnkit.")
    parser.add_argument("--course", required=True, help="folder holding the learner's rnnkit/")
    parser.add_argument("--cases", required=True, help="folder holding cases.npz")
    parser.add_argument("--out", required=True, help="writable folder for the results")
    args = parser.parse_args(argv)
    # Bound before any learner code runs: that code can rebind the module's names, not these.
    run, write, adopt = run_case, write_results, _adopt_classes
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        (out / "_importing.json").unlink()  # left by an earlier run that died importing
    try:
        pkg = load_rnnkit_shell(args.course)
    except BaseException as e:  # noqa: BLE001
        _write_json(out / "_import.json", {"error": _error_text(e)})
        print(f"cannot load rnnkit: {e}", file=sys.stderr)
        return 3
    pkg_dir = pathlib.Path(pkg.__path__[0])
    nodes, buffers = read_case_meta(args.cases)
    # Every input is built read-only before any learner module is imported.
    cases = [frozen_case(case_from_json(node, buffers, {"probe.ProbeParams": ProbeParams})) for node in nodes]
    modules = list(dict.fromkeys(case.check_id.split(".")[0] for case in cases))
    deps, todo = {}, list(modules)
    while todo:
        module = todo.pop()
        if module not in deps:
            deps[module] = static_imports(pkg_dir, module)
            todo += deps[module]
    state = {"imports": deps, "failed": {}}
    _write_json(out / "_modules.json", state)
    _write_json(out / "_import.json", {"error": None, "file": pkg.__file__})
    marks = ImportMarks(pkg_dir, out)
    sys.meta_path.insert(0, marks)
    errors = {}
    by_check = {}
    for case in cases:
        by_check.setdefault(case.check_id, []).append(case)
    for check_id, check_cases in by_check.items():
        module = check_id.split(".")[0]
        marks.check = check_id
        error = import_for_check(pkg, module, marks, errors)
        results = {}
        if error is not None:
            state["failed"][module] = error
            _write_json(out / "_modules.json", state)
            for case in check_cases:
                results[case.case_id] = {"error": error, "output": None, "modified": [], "aliased": [],
                                         "warnings": []}
        else:
            classes = loaded_param_classes(pkg)
            for case in check_cases:
                case.args, case.kwargs = adopt(case.args, classes), adopt(case.kwargs, classes)
                results[case.case_id] = run(pkg, case, inputs_ready=True)
        write(check_id, results, out)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # learner threads or atexit hooks must not change the outcome
