"""Run cases against a learner's rnnkit and return plain results.

Used in two places:
- the learner's notebook (``check``), on the published fixtures, against the
  rnnkit the kernel has imported;
- the grading sandbox, as ``python -m rnncheck.executor --course DIR --cases IN --out OUT``:
  it loads DIR/rnnkit, runs every case in IN/cases.npz and writes OUT/<check_id>.npz
  after each check. The trusted parent judges those files; nothing here decides a score.

Only numpy and the standard library are imported, and no reference code of any
learner function is here. Composed functions (lstm_step, gru_step, the backward
passes, stacked_forward, ...) are run with the other learner functions they call
answered from the case's replay table (values precomputed by the parent), so a
mistake in forget_gate costs forget_gate's points only.
"""

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import os
import pathlib
import sys
import traceback
import warnings

import numpy as np

from .casefile import Leaf, Other, Seq, case_from_json, read_case_meta, write_results
from .probe import ProbeParams

MAX_ITEMS = 10_000


# ---- loading the learner's package -----------------------------------------------------


def load_rnnkit(course_dir):
    """Import ``course_dir/rnnkit`` as the package ``rnnkit`` from that path only.

    A failing ``__init__`` (say a syntax error in one module) leaves the package
    shell in place so the other modules can still be checked one by one.
    Returns (package, error text or None).
    """
    pkg_dir = pathlib.Path(course_dir).resolve() / "rnnkit"
    init = pkg_dir / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(f"no rnnkit/__init__.py in {course_dir}")
    for name in [m for m in sys.modules if m == "rnnkit" or m.startswith("rnnkit.")]:
        del sys.modules[name]
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


def submodule(pkg, name):
    """``pkg.<name>`` imported (errors propagate)."""
    mod = getattr(pkg, name, None)
    if mod is None or not inspect.ismodule(mod):
        with _quiet():
            mod = importlib.import_module(pkg.__name__ + "." + name)
    return mod


def param_classes(pkg):
    """The named tuple classes cases refer to, taken from the learner's package."""
    classes = {"probe.ProbeParams": ProbeParams}
    for module, cls in (("rnn", "RNNParams"), ("lstm", "LSTMParams"), ("gru", "GRUParams")):
        try:
            classes[f"{module}.{cls}"] = getattr(submodule(pkg, module), cls)
        except Exception:  # noqa: BLE001 - a broken module: generic stand-in
            pass
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
    return text + where


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
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[_copy_args(v) for v in value])
    if isinstance(value, tuple):
        return tuple(_copy_args(v) for v in value)
    if isinstance(value, list):
        return [_copy_args(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_args(v) for k, v in value.items()}
    return value


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


# Reference code shipped complete with the learner's rnnkit: the fast path (its backward
# passes are the lesson 6 exercises in fused form) and the numerical gradient checker
# (accurate enough to pass for a backward pass). A graded function must not call them.
REFERENCE_TOOLS = ("fast", "gradcheck", "train")


def _refusal(qualname):
    def refuse(*args, **kwargs):
        raise RuntimeError(
            f"rnnkit.{qualname} is reference code for training and checking, not for graded "
            "functions: compute the result with your own code"
        )

    refuse.__name__ = qualname.rsplit(".", 1)[-1]
    return refuse


@contextlib.contextmanager
def _reference_tools_blocked(pkg):
    """Temporarily replace every function of rnnkit.fast, rnnkit.gradcheck and rnnkit.train."""
    saved = []
    try:
        for module_name in REFERENCE_TOOLS:
            try:
                mod = submodule(pkg, module_name)
            except BaseException:  # noqa: BLE001 - missing or broken: nothing to block
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


def run_case(pkg, case):
    """Call the learner's function on the case's inputs.

    Returns a dict: error (text or None), output (normalised return value), modified
    (names of inputs changed in place), aliased (outputs sharing memory with an input),
    warnings (texts of warnings raised during the call).
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
        # The learner gets copies: an in-place change must not leak into the case itself.
        args, kwargs = _copy_args(tuple(case.args)), _copy_args(dict(case.kwargs))
        snapshot = tuple(case.args), dict(case.kwargs)
        try:
            with np.errstate(all="warn"), _replaying(pkg, case.replay), _reference_tools_blocked(pkg):
                output = fn(*args, **kwargs)
        # KeyboardInterrupt passes: in a notebook it is the learner (or nbgrader's timeout)
        # stopping an endless loop, which must stop the check, not move on to the next case.
        # In the sandbox the process then ends and the parent scores the running check 0.
        except (Exception, SystemExit) as e:  # noqa: BLE001
            result["error"] = _error_text(e, pkg_dir)
            output = None
        result["warnings"] = [str(w.message)[:200] for w in caught][:5]
    inputs = list(_walk_arrays(args, "")) + list(_walk_arrays(tuple(kwargs.values()), "kw"))
    olds = list(_walk_arrays(snapshot[0], "")) + list(_walk_arrays(tuple(snapshot[1].values()), "kw"))
    before = dict(olds)
    changed = [
        path
        for path, new in inputs
        if path not in before
        or new.shape != before[path].shape
        or not np.array_equal(new, before[path], equal_nan=True)
    ]
    changed += [path for path in before if path not in dict(inputs)]  # a list argument shrank
    result["modified"] = list(dict.fromkeys(_arg_name(path, names, case.kwargs) for path in changed))
    if result["error"] is None:
        for out_path, out in _walk_arrays(output if isinstance(output, (tuple, list)) else (output,), ""):
            for path, arr in inputs:
                if _shares(out, arr):
                    result["aliased"].append(
                        f"{_output_name(out_path)} shares memory with {_arg_name(path, names, case.kwargs)}"
                    )
        result["output"] = normalize(output)
    return result


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
    parser = argparse.ArgumentParser(description="Run check cases against a learner's rnnkit.")
    parser.add_argument("--course", required=True, help="folder holding the learner's rnnkit/")
    parser.add_argument("--cases", required=True, help="folder holding cases.npz")
    parser.add_argument("--out", required=True, help="writable folder for the results")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        pkg, init_error = load_rnnkit(args.course)
    except BaseException as e:  # noqa: BLE001
        (out / "_import.json").write_text(json.dumps({"error": _error_text(e)}))
        print(f"cannot load rnnkit: {e}", file=sys.stderr)
        return 3
    (out / "_import.json").write_text(json.dumps({"error": init_error, "file": pkg.__file__}))
    nodes, buffers = read_case_meta(args.cases)
    classes = param_classes(pkg)
    by_check = {}
    for node in nodes:
        by_check.setdefault(str(node["check_id"]), []).append(node)
    for check_id, check_nodes in by_check.items():
        results = {}
        for node in check_nodes:
            case = case_from_json(node, buffers, classes)
            results[case.case_id] = run_case(pkg, case)
        write_results(check_id, results, out)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # learner threads or atexit hooks must not change the outcome
