"""Search a learner-visible course folder for graded answers in any form.

    python tests/answer_search.py FOLDER [--notebooks DIR ...] [--derived CASES.pkl] > findings.json

FOLDER is a released course folder (``rnnkit/``, ``rnncheck/`` and notebooks) or one
nbgrader assignment's release folder. Every function that a learner can see there is a
candidate: the functions and methods of every module of ``rnnkit/`` and ``rnncheck/``,
and every function a notebook's code cell defines. Each candidate is called on the
published cases of every graded function whose arguments it accepts. A candidate that
returns the expected output on every case of a check holds that check's answer, whatever
it looks like (another loop order, another weight layout, fused code), unless it got
there by calling the learner's own functions: those are stubs in a learner's folder, so
a candidate that leans on them raises instead of matching.

With ``--key``, the search for one graded function runs with every other graded function
answered from the answer key (and the one searched for raising everywhere), so a helper
that wraps the learner's other functions in the searched function's own logic (a loop of
``rnn_step`` calls is the ``unroll`` answer) is found too.

Helpers often specialise a graded function to one real cell (an RNN-only loop that takes
``xs, s0, W, b``). ``--derived`` adds cases of the sequence functions on the real cells,
computed by the caller from the reference: there each candidate is also tried without the
cell argument and with the state tuple and the parameters spread into separate
arguments, and returning the main output alone (``ys``) counts as well.

Runs in its own process (the learner's ``rnnkit`` is imported from FOLDER) and prints
one JSON list of findings: {"check": check id, "candidate": where it was found}.
"""

import argparse
import ast
import contextlib
import importlib
import inspect
import io
import json
import pathlib
import signal
import sys
import types

import numpy as np

CALL_SECONDS = 2


class _TimedOut(Exception):
    pass


def _alarm(signum, frame):
    raise _TimedOut()


def flat(value):
    """Every array of an output, in order, and a marker for anything else."""
    if isinstance(value, np.ndarray) or isinstance(value, (int, float, np.number)):
        return [np.asarray(value, dtype=float)]
    if isinstance(value, (tuple, list)):
        return [a for item in value for a in flat(item)]
    if isinstance(value, dict):
        return [a for key in sorted(value) for a in flat(value[key])]
    return [repr(type(value).__name__)]


def same(want, got, tol):
    """``got`` equals ``want`` within the checks' own tolerance (rncheck.compare.TOLERANCES)."""
    want, got = flat(want), flat(got)
    if len(want) != len(got):
        return False
    for w, g in zip(want, got, strict=True):
        if isinstance(w, str) or isinstance(g, str):
            if not (isinstance(w, str) and isinstance(g, str) and w == g):
                return False
            continue
        if w.shape != g.shape or not np.all(np.isfinite(g)):
            return False
        scale = max(1.0, float(np.max(np.abs(w), initial=0)))
        if np.any(np.abs(g - w) > tol.atol * scale + tol.rtol * np.abs(w)):
            return False
    return True


def module_candidates(folder):
    """(where, callable) for every function and method defined in rnnkit/ and rnncheck/."""
    found = []
    for package in ("rnnkit", "rnncheck"):
        for path in sorted((folder / package).rglob("*.py")):
            if "fixtures" in path.parts:
                continue
            rel = path.relative_to(folder).with_suffix("")
            name = ".".join(rel.parts).removesuffix(".__init__")
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    module = importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - a stubbed module may fail to import; nothing to find
                continue
            for attr, value in vars(module).items():
                where = f"{path.relative_to(folder).as_posix()}:{attr}"
                if inspect.isfunction(value) and value.__module__ == module.__name__:
                    found.append((where, value))
                elif inspect.isclass(value) and value.__module__ == module.__name__:
                    found += _methods(where, value)
    return found


def _methods(where, cls):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            instance = cls()
    except BaseException:  # noqa: BLE001 - not constructible without arguments: static methods only
        instance = None
    methods = []
    for attr, value in vars(cls).items():
        if isinstance(value, staticmethod):
            methods.append((f"{where}.{attr}", value.__func__))
        elif inspect.isfunction(value) and instance is not None:
            methods.append((f"{where}.{attr}", getattr(instance, attr)))
    return methods


def _cell_tree(source):
    # IPython lines (%magic, !shell) are not Python; blank them so that the rest parses.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _defs(node):
    """Function definitions at a cell's top level, also inside if/for/with/try blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield child
        elif isinstance(child, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            yield from _defs(child)


def notebook_candidates(notebook, folder):
    """(where, callable) for every function the notebook's code cells define.

    The definitions run in a namespace holding the notebook's imports (from FOLDER's own
    packages) and nothing else of the notebook: a helper that needs the notebook's other
    globals raises when called, as it would without them."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    trees = [(i, _cell_tree("".join(c["source"]))) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    namespace = {"__name__": "__notebook__", "np": np}
    for _, tree in trees:
        for node in (tree.body if tree else []):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                with contextlib.suppress(BaseException), contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(ast.Module([node], []), str(notebook), "exec"), namespace)  # noqa: S102
    found = []
    for i, tree in trees:
        for node in (_defs(tree) if tree else []):
            scope = dict(namespace)
            try:
                exec(compile(ast.Module([node], []), f"{notebook.name} cell {i}", "exec"), scope)  # noqa: S102
            except BaseException:  # noqa: BLE001 - a default value from the notebook's globals
                continue
            where = f"{notebook.relative_to(folder).as_posix()} cell {i}:{node.name}"
            found.append((where, scope[node.name]))
    return found


def graded_cases(pkg):
    from rnncheck.notebook import load_fixture
    from rnncheck.registry import CHECKS

    cases = {}
    for check in CHECKS:
        try:
            loaded, expected, _ = load_fixture(check.check_id, pkg)
        except FileNotFoundError:
            continue
        cases[check.check_id] = [(case, expected[case.case_id]) for case in loaded]
    return cases


def holds_answer(candidate, cases):
    from rnncheck.compare import TOLERANCES, case_dtype
    from rnncheck.executor import frozen

    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):
        return False
    for case, want in cases:
        try:
            signature.bind(*case.args, **case.kwargs)
        except TypeError:
            return False
        signal.alarm(CALL_SECONDS)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    np.errstate(all="ignore"):
                got = candidate(*frozen(tuple(case.args)), **frozen(dict(case.kwargs)))
        except BaseException:  # noqa: BLE001 - raising (a stub, a wrong input) is not an answer
            return False
        finally:
            signal.alarm(0)
        if not same(want, got, TOLERANCES[case_dtype(case)]):
            return False
    return bool(cases)


def derived_cases(path, pkg):
    """[((check id, cell name), [argument variants], want)] from the caller's pickle of plain arrays:
    {"check": id, "cell": "lstm", "xs": ..., "state0": [...], "params": {field: array},
    "want": output}. The cell objects and parameter tuples are the learner's own."""
    import pickle

    from rnncheck.executor import submodule

    cells = submodule(pkg, "cells").CELLS
    found = []
    with open(path, "rb") as f:
        for item in pickle.load(f):  # noqa: S301 - written by the test process a moment ago
            cell = cells[item["cell"]]
            params = cell.Params(**item["params"])
            xs, state0 = item["xs"], tuple(item["state0"])
            if item["check"] == "multilayer.stacked_forward":
                layers = [cell.Params(**p) for p in item["layer_params"]]
                states0 = [tuple(s) for s in item["states0"]]
                variants = [(cell, xs, states0, layers), (xs, states0, layers)]
            else:
                variants = [(cell, xs, state0, params), (xs, state0, params),
                            (xs, *state0, params), (xs, *state0, *params)]
            found.append(((item["check"], item["cell"]), variants, item["want"]))
    return found


def holds_derived_answer(candidate, cases):
    """True when ``candidate`` gives every derived case's output (or its first part, ys)
    for one of the case's argument variants."""
    from rnncheck.compare import TOLERANCES
    from rnncheck.executor import frozen

    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):
        return False
    tol = TOLERANCES["float64"]
    for _, variants, want in cases:
        for args in variants:
            try:
                signature.bind(*args)
            except TypeError:
                continue
            signal.alarm(CALL_SECONDS)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                        np.errstate(all="ignore"):
                    got = candidate(*frozen(tuple(args)))
            except BaseException:  # noqa: BLE001 - raising is not an answer
                continue
            finally:
                signal.alarm(0)
            if same(want, got, tol) or same(want[0], got, tol):
                break
        else:
            return False
    return bool(cases)


def load_key(key_folder):
    """The answer key's rnnkit, imported as the package ``answer_key_rnnkit``."""
    import importlib.util

    pkg_dir = key_folder.resolve() / "rnnkit"
    spec = importlib.util.spec_from_file_location("answer_key_rnnkit", pkg_dir / "__init__.py",
                                                  submodule_search_locations=[str(pkg_dir)])
    key = importlib.util.module_from_spec(spec)
    sys.modules["answer_key_rnnkit"] = key
    spec.loader.exec_module(key)
    return key


def _stub(check_id):
    def not_written(*args, **kwargs):
        raise NotImplementedError(check_id)

    return not_written


@contextlib.contextmanager
def others_answered(check_id, pkg, key, namespaces):
    """Every graded function but ``check_id`` is the answer key's; ``check_id`` raises, in the
    learner's package, the key's and every notebook namespace. A candidate that still gives
    ``check_id``'s output computes it itself: a loop around the learner's rnn_step is the
    unroll answer even though rnn_step is a stub in the learner's folder."""
    from rnncheck.executor import submodule
    from rnncheck.registry import CHECKS

    swap = {}
    for check in CHECKS:
        try:
            mine = getattr(submodule(pkg, check.module), check.function)
            theirs = getattr(importlib.import_module(f"{key.__name__}.{check.module}"), check.function)
        except Exception:  # noqa: BLE001 - a module that does not import: nothing to swap
            continue
        if check.check_id == check_id:
            stub = _stub(check_id)
            swap[id(mine)], swap[id(theirs)] = stub, stub
        else:
            swap[id(mine)] = theirs
    dicts = [vars(m) for name, m in list(sys.modules.items())
             if name.split(".")[0] in ("rnnkit", key.__name__)] + namespaces
    undo = []
    for d in dicts:
        for name, value in list(d.items()):
            if id(value) in swap and callable(value):
                undo.append((d, name, value))
                d[name] = swap[id(value)]
    try:
        yield
    finally:
        for d, name, value in reversed(undo):
            d[name] = value


def search(folder, notebook_dirs, derived=None, key_folder=None):
    folder = folder.resolve()
    sys.path.insert(0, str(folder))
    from rnncheck.executor import load_rnnkit

    pkg, _ = load_rnnkit(folder)
    if pathlib.Path(pkg.__file__).resolve().parent != folder / "rnnkit":
        raise SystemExit(f"imported the wrong rnnkit: {pkg.__file__}")
    signal.signal(signal.SIGALRM, _alarm)
    candidates = module_candidates(folder)
    notebooks = sorted({p for d in notebook_dirs for p in (folder / d).glob("*.ipynb")})
    for notebook in notebooks:
        candidates += notebook_candidates(notebook, folder)
    candidates = [(w, c) for w, c in candidates if not isinstance(c, types.BuiltinFunctionType)]
    key = load_key(key_folder) if key_folder else None
    namespaces = list({id(g): g for g in (getattr(c, "__globals__", None) for _, c in candidates)
                       if g is not None and g.get("__name__") == "__notebook__"}.values())
    by_cell = {}
    for case in derived_cases(derived, pkg) if derived else []:
        by_cell.setdefault(case[0], []).append(case)
    findings = []
    for check_id, cases in graded_cases(pkg).items():
        env = others_answered(check_id, pkg, key, namespaces) if key else contextlib.nullcontext()
        with env:
            for where, candidate in candidates:
                finding = {"check": check_id, "candidate": where}
                if holds_answer(candidate, cases):
                    findings.append(finding)
                    continue
                # A helper specialised to one cell holds the answer for that cell: judged cell by cell.
                for (derived_check, _), cell_cases in by_cell.items():
                    if derived_check == check_id and holds_derived_answer(candidate, cell_cases):
                        findings.append(finding)
                        break
    return {"candidates": [where for where, _ in candidates], "findings": findings}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--notebooks", nargs="*", default=["lessons", "."],
                        help="folders of FOLDER whose notebooks are searched (default: lessons and FOLDER)")
    parser.add_argument("--derived", type=pathlib.Path, help="pickle of cases on the real cells (see above)")
    parser.add_argument("--key", type=pathlib.Path,
                        help="the answer key's folder: every graded function but the one searched for "
                             "is answered from it (see others_answered)")
    args = parser.parse_args(argv)
    json.dump(search(args.folder, args.notebooks, args.derived, args.key), sys.stdout)


if __name__ == "__main__":
    main()
