"""The package checks of one submission: learner code in the sandbox, judging in here.

``run_submission_checks`` runs the trusted executor (the repository's
``autograder/checks``, bound read-only as ``/grader/rnncheck``; never the learner's
``rnncheck/``) against the submission's ``rnnkit/`` inside ``sandbox.run_python``,
then hands the result files to the judge, which compares them with the reference
in this process. The executor writes one result pair per check as soon as that
check is done; if the sandbox dies or stalls (an endless loop, ``os._exit``, a
crash), the finished checks are kept, the check that was running scores 0 with
a message saying what happened, and the remaining checks run in a fresh sandbox.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from autograder import paths
from autograder.checks.casefile import UntrustedFileError, read_results_checked, read_untrusted, write_cases
from autograder.checks.compare import MISSING_RESULT, Outcome
from autograder.checks.executor import import_failure_message
from autograder.checks.registry import CHECKS_BY_ID
from autograder.grading import provenance, sandbox
from autograder.specs.cases import BUDGET_CPU_SECONDS, BUDGET_WALL_SECONDS, budget_cases, budget_seed
from autograder.specs.judge import expectations, judge_results

HIDDEN_IMPORT_MESSAGE = ("Your rnnkit loaded for the published cases but failed to load, or stopped, when it "
                         "was run on the hidden cases: code that runs at import time must not depend on the "
                         "inputs. (The details are not shown for hidden cases.)")
INTERNAL_MESSAGE = ("This check could not be completed because of a problem in the grader, not in your code; "
                    "your instructor will re-run it.")
# What the learner reads when a check's result file cannot be used (never a host path).
RESULT_PROBLEMS = {
    "missing": ("No result was found for this check although the grading process went on: something in "
                "your rnnkit removed or renamed the grader's files. Do not create, delete or rename files "
                "from rnnkit, then submit again."),
    "too large": ("The result of this check was larger than the grader accepts: return only arrays of the "
                  "shapes asked for, and do not write files from rnnkit."),
    "malformed": ("The result of this check could not be read (damaged, or not in the grader's format): "
                  "something in your rnnkit changed the grader's files. Do not write files from rnnkit."),
    "not a regular file": ("In place of this check's result the grader found a link, a folder, a FIFO or a "
                           "device instead of a plain file: rnnkit must not create files, folders or links "
                           "in the grader's folders."),
}
BUDGET_MESSAGE = ("Not graded: the total time for grading your rnnkit ({seconds:.0f} s) was used up by the "
                  "functions checked before this one (endless loops or very slow code?). Fix those and this "
                  "function will be graded.")
REPEATED_MESSAGE = ("Not graded: the grading process stopped {n} times in a row the same way before any "
                    "function finished (it {what}). Fix the functions reported above and this one will be "
                    "graded.")
RETRIES_MESSAGE = ("Not graded: the grading process had to be restarted too often ({n} times) because of the "
                   "functions reported above. Fix those and this one will be graded.")
BUDGET_SLACK = 15.0  # seconds added to Limits.wall_seconds for the default total budget (restarts)
MIN_RUN_SECONDS = 1.0  # a restart with less budget left than this is not tried


def _executor_code(course, cases, out):
    return [
        "import os",
        "from rnncheck.executor import main",
        f"status = main(['--course', {course!r}, '--cases', {cases!r}, '--out', {out!r}])",
        "sys.stdout.flush()",
        "os._exit(status)  # learner threads or atexit hooks must not change the outcome",
    ]


def _done_checks(out_dir):
    """Stems of the ``.npz``/``.json`` entries (of any kind: never followed) in out_dir."""
    try:
        with os.scandir(out_dir) as it:
            names = [entry.name for entry in it]
    except OSError:
        return set()
    return {name.rsplit(".", 1)[0] for name in names if name.endswith((".npz", ".json"))}


def _ordered_check_ids(cases):
    seen = []
    for case in cases:
        if case.check_id not in seen:
            seen.append(case.check_id)
    return seen


def _what_happened(run):
    if run.killed_reason == "time limit":
        return "did not finish within the time limit (an endless loop, or far too slow?)"
    if run.killed_reason == "CPU time limit":
        return "used more than its CPU time limit (an endless loop, or far too slow?)"
    if run.killed_reason == "output limit":
        return ("wrote far too much output, or too many (or unreadable) files or folders; printing or "
                "saving files inside rnnkit is not needed")
    if run.killed_reason:
        return f"was stopped ({run.killed_reason})"
    if run.returncode and run.returncode < 0 or run.returncode and run.returncode >= 128:
        return "crashed the Python process (a signal: out of memory, a segfault?)"
    return (f"ended the Python process (exit status {run.returncode}): remove sys.exit / os._exit "
            "and anything that stops Python from rnnkit")


def run_submission_checks(course_root, cases, check_ids=None, limits=None, work_dir=None, retries=25,
                          budget_seconds=None, max_same_failures=3, require_bwrap=False):
    """Scores of the package checks for one submission.

    Inputs:
    - course_root: the submission's working copy (the folder holding ``rnnkit/``).
    - cases: list of Case from ``autograder.specs.cases.make_cases`` (kept in this process).
    - check_ids: which checks to run (default: every check present in ``cases``).
    - limits: sandbox.Limits for each sandbox run.
    - retries: at most this many sandbox runs (one more after each death or stall).
    - budget_seconds: total wall-clock time for all the sandbox runs together (default:
      ``limits.wall_seconds + BUDGET_SLACK``); once spent, every check not graded yet
      scores 0 with a message saying so.
    - max_same_failures: stop restarting after this many runs in a row that finished no
      check and ended the same way; the checks left score 0 with a message saying so.
    - require_bwrap: raise RuntimeError, running nothing, if bubblewrap cannot start a sandbox
      in this process (grading decided on bubblewrap: a process where it fails must not fall
      back to a plain subprocess). The answer is kept for the process, so every run agrees.

    Returns (outcomes, runs): outcomes maps check_id -> compare.Outcome (every requested
    check id, registry order); runs is the list of sandbox.RunResult, for the record.
    An exception in trusted code never costs the learner: the checks it hit get
    INTERNAL_MESSAGE and the traceback in ``Outcome.internal``, for the caller to log.
    Everything in the sandbox's folder is read as untrusted, and the folder is removed
    afterwards whatever the learner's code left in it.
    """
    if require_bwrap and not sandbox.bubblewrap_available():
        raise RuntimeError("bubblewrap (bwrap) cannot start a sandbox in this process; nothing was run")
    limits = limits or sandbox.Limits()
    budget = float(budget_seconds) if budget_seconds is not None else limits.wall_seconds + BUDGET_SLACK
    deadline = time.monotonic() + budget
    wanted = check_ids or _ordered_check_ids(cases)
    cases = [c for c in cases if c.check_id in wanted]
    order = _ordered_check_ids(cases)
    forced = {}  # check_id -> message decided here (the sandbox died while it ran)
    internal = {}  # check_id -> traceback of a failure in trusted code
    runs = []
    tmp = Path(tempfile.mkdtemp(prefix="rnn-checks-", dir=work_dir))
    try:
        staged = _stage_package(course_root, tmp / "sub")

        def execute(pass_cases, pass_order, label, shown):
            """Run ``pass_cases`` (restarting after deaths); returns the out folder. Messages that
            carry the learner's own text (import errors) are kept only when ``shown``: the hidden
            pass's case file holds the hidden inputs, which that text could quote."""
            out_dir = tmp / f"out-{label}"
            out_dir.mkdir()
            out_dir.chmod(0o777)  # the sandbox runs as another uid
            remaining = _grouped_by_module(pass_order)  # a module's checks together: one import each
            streak, last_what = 0, None  # runs in a row that finished nothing and ended alike
            pass_forced = {}
            try:
                for attempt in range(retries):
                    if not remaining:
                        break
                    left = deadline - time.monotonic()
                    if left < MIN_RUN_SECONDS:
                        for check_id in remaining:
                            pass_forced[check_id] = BUDGET_MESSAGE.format(seconds=budget)
                        remaining = []
                        break
                    in_dir = tmp / f"in-{label}{attempt}"
                    write_cases(sorted((c for c in pass_cases if c.check_id in remaining),
                                       key=lambda c: remaining.index(c.check_id)), in_dir)
                    run = sandbox.run_python(
                        _executor_code("/sub", "/io/in", "/io/out"),
                        read_only={staged: "/sub", paths.CHECKS: "/grader/rnncheck", in_dir: "/io/in"},
                        writable={out_dir: "/io/out"},
                        sys_path=["/grader"],
                        limits=dataclasses.replace(limits, wall_seconds=min(limits.wall_seconds, left)),
                        progress_names={f"{c}.npz" for c in remaining} | {"_import.json"},
                    )
                    runs.append(run)
                    _prune_out_dir(out_dir, {f"{c}.npz" for c in order})  # the next run starts clean
                    done = _done_checks(out_dir) - {"_import"}
                    finished = [c for c in remaining if c in done]
                    remaining = [c for c in remaining if c not in done]
                    if not _imported(out_dir):
                        # rnnkit could not be loaded at all, or the process ended while importing it
                        reason = _import_error(out_dir) if shown else ""
                        reason = reason or f"importing it {_what_happened(run)}"
                        for check_id in remaining:
                            pass_forced[check_id] = f"Your rnnkit could not be loaded: {reason}"
                        remaining = []
                        break
                    if not remaining:
                        break
                    stalled = _import_stall(out_dir, remaining, _what_happened(run))
                    if stalled:
                        # It died or stalled importing a module: that module's checks (and those of
                        # the modules importing it) score 0 at once, not one per restart.
                        if not shown:
                            stalled = {c: HIDDEN_IMPORT_MESSAGE for c in stalled}
                        pass_forced.update(stalled)
                        remaining = [c for c in remaining if c not in stalled]
                        streak, last_what = 0, None
                        continue
                    # The process ended (or was stopped) before these checks: the first one was running.
                    culprit = remaining.pop(0)
                    fn = CHECKS_BY_ID[culprit].function if culprit in CHECKS_BY_ID else culprit
                    what = _what_happened(run)
                    pass_forced[culprit] = f"Your `{fn}` {what}."
                    streak = 0 if finished else (streak + 1 if what == last_what else 1)
                    last_what = what
                    if streak >= max_same_failures and remaining:
                        for check_id in remaining:
                            pass_forced[check_id] = REPEATED_MESSAGE.format(n=streak, what=what)
                        remaining = []
                        break
                for check_id in remaining:  # out of retries
                    pass_forced[check_id] = RETRIES_MESSAGE.format(n=len(runs))
            except Exception:  # noqa: BLE001 - trusted code failed: not the learner's doing
                text = traceback.format_exc()
                for check_id in remaining:
                    pass_forced.pop(check_id, None)
                    internal[check_id] = text
            for check_id, message in _import_failures(out_dir, pass_order).items():
                if check_id not in pass_forced and check_id not in internal:
                    pass_forced[check_id] = message if shown else HIDDEN_IMPORT_MESSAGE
            forced.update(pass_forced)
            return out_dir

        # Published cases first, then the hidden ones in a run of their own: the learner's code
        # never sees a hidden input in a run whose error texts are shown.
        results, problems = {}, {}
        for label, shown in (("visible", True), ("hidden", False)):
            pass_cases = [c for c in cases if c.visible == shown]
            pass_order = [c for c in order if c not in forced and c not in internal
                          and any(x.check_id == c for x in pass_cases)]
            if not pass_order:
                continue
            out_dir = execute(pass_cases, pass_order, label, shown)
            # Read every result once, as untrusted data.
            for check_id in pass_order:
                if check_id in forced or check_id in internal:
                    results.pop(check_id, None)
                    continue
                got, problem = read_results_checked(check_id, out_dir)
                if problem:
                    problems.setdefault(check_id, problem)
                    results.pop(check_id, None)
                elif check_id not in problems:
                    results[check_id] = {**results.get(check_id, {}), **got}
        for check_id in list(results):
            if check_id in forced or check_id in internal:
                del results[check_id]
        # Copies of the shipped tools score 0; the backward passes meet their budget cases.
        cases = cases + _provenance_and_budget(staged, cases, order, results, forced, internal, runs,
                                               limits, tmp)
        judged = {}
        try:
            expected = expectations([c for c in cases if c.check_id in results]) if results else {}
        except Exception:  # noqa: BLE001 - the reference side failed: not the learner's doing
            text = traceback.format_exc()
            for check_id in list(results):
                internal[check_id] = text
                del results[check_id]
        for check_id in list(results):
            # One check at a time: a failure of the judge (results are checked to be plain numbers
            # first, casefile._numeric) costs that check's grade only, reported as the grader's.
            try:
                judged.update(judge_results([c for c in cases if c.check_id == check_id],
                                            {check_id: results[check_id]}, expected))
            except Exception:  # noqa: BLE001 - a judge failure must not stop the batch, nor cost the learner
                internal[check_id] = traceback.format_exc()
        outcomes = {}
        hide = _host_paths(tmp)
        forced = {c: _without_paths(m, hide) for c, m in forced.items()}
        judged = {c: o._replace(message=_without_paths(str(o.message), hide)) for c, o in judged.items()}
        for check_id in order:
            spec = CHECKS_BY_ID.get(check_id)
            max_score = float(spec.points) if spec else 0.0
            if check_id in internal:
                outcomes[check_id] = Outcome(0.0, max_score, INTERNAL_MESSAGE, internal[check_id])
            elif check_id in forced:
                outcomes[check_id] = Outcome(0.0, max_score, forced[check_id])
            elif check_id in problems:
                outcomes[check_id] = Outcome(0.0, max_score, RESULT_PROBLEMS[problems[check_id]])
            elif check_id in judged:
                o = judged[check_id]
                outcomes[check_id] = Outcome(float(o.score), float(o.max_score), str(o.message))
            else:
                outcomes[check_id] = Outcome(0.0, max_score, MISSING_RESULT)
    finally:
        try:
            sandbox.remove_tree(tmp)
        except OSError:
            logging.getLogger(__name__).warning("could not remove the sandbox folder %s", tmp, exc_info=True)
    return outcomes, runs


# Shipped complete with the learner's rnnkit, for training and checking: never given to the
# sandbox (a graded function could otherwise load them under another name and answer with them).
SHIPPED_TOOLS = ("fast", "gradcheck", "train", "demo")
STAGE_LIMITS = {"files": 400, "file_bytes": 1 << 20, "total_bytes": 16 << 20, "depth": 6}


def _stage_package(course_root, dest):
    """Copy the learner's ``rnnkit/`` to dest/rnnkit for the sandbox: Python source files and
    folders only (no links, FIFOs, compiled or native modules), without the shipped tools, read
    with O_NOFOLLOW and capped. Returns dest (bound as the sandbox's /sub)."""
    src = Path(course_root) / "rnnkit"
    (dest / "rnnkit").mkdir(parents=True)
    budget = {"files": STAGE_LIMITS["files"], "bytes": STAGE_LIMITS["total_bytes"]}

    def copy(folder, target, depth):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            top_tool = depth == 0 and (entry.name.removesuffix(".py") in SHIPPED_TOOLS)
            if top_tool or entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < STAGE_LIMITS["depth"]:
                    (target / entry.name).mkdir()
                    copy(entry.path, target / entry.name, depth + 1)
            elif entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                if budget["files"] <= 0:
                    return
                try:
                    data = read_untrusted(entry.path, STAGE_LIMITS["file_bytes"])
                except UntrustedFileError:
                    continue
                if len(data) > budget["bytes"]:
                    return
                budget["files"] -= 1
                budget["bytes"] -= len(data)
                (target / entry.name).write_bytes(data)

    if src.is_dir() and not src.is_symlink():
        copy(src, dest / "rnnkit", 0)
    return dest


def _host_paths(tmp):
    """Folders of this machine that a message must not show (learner code in the sandbox can
    read them from /proc/self/mountinfo and put them in an error text)."""
    here = paths.REPO
    found = {str(here), str(Path(sys.prefix)), str(Path(sys.base_prefix)), str(Path(tmp).parent),
             os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), tempfile.gettempdir(),
             str(Path.home())}
    return sorted((p for p in found if len(p) > 1), key=len, reverse=True)


def _without_paths(text, paths):
    for path in paths:
        text = text.replace(path, "<grader folder>")
    return text


def _prune_out_dir(out_dir, keep):
    """Remove whatever learner code left in out_dir (so that a restart is not over the output
    caps at once), except the entries named in ``keep`` (results) and the executor's
    ``_*.json`` records. A folder under such a name is emptied but kept: it is then reported
    as "not a regular file". Never follows a link."""
    out_dir.chmod(0o777)  # learner code owns it inside the sandbox and may have locked it
    with os.scandir(out_dir) as it:
        entries = list(it)
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        kept = entry.name in keep or (entry.name.startswith("_") and entry.name.endswith(".json"))
        if is_dir:
            sandbox.remove_tree(entry.path)
            if kept:
                os.mkdir(entry.path)
        elif not kept:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


def _read_import_record(out_dir):
    """The executor's ``_import.json`` (untrusted: no link followed, no FIFO read, 100 kB at
    most), or None."""
    try:
        record = json.loads(read_untrusted(Path(out_dir) / "_import.json", 100_000))
    except (UntrustedFileError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _imported(out_dir):
    """True when the executor recorded that the learner's rnnkit was loaded."""
    record = _read_import_record(out_dir)
    return record is not None and "file" in record


def _import_error(out_dir):
    record = _read_import_record(out_dir)
    error = record.get("error") if record is not None else None
    return str(error)[:500] if error else ""


# ---- modules that could not be imported ----------------------------------------------------
# The executor imports each learner module when its checks come, announcing it in
# ``_importing.json`` while it runs, and lists in ``_modules.json`` which modules import which
# (from their source) and which failed to import (with why). Both files are untrusted: they
# can only make the learner lose points (a module declared broken), never gain any.


def _module_of(check_id):
    return check_id.split(".")[0]


def _grouped_by_module(check_ids):
    """``check_ids`` with each module's checks together (modules in order of first appearance)."""
    modules = list(dict.fromkeys(_module_of(c) for c in check_ids))
    return [c for m in modules for c in check_ids if _module_of(c) == m]


def _read_json_record(out_dir, name, max_bytes=1_000_000):
    try:
        record = json.loads(read_untrusted(Path(out_dir) / name, max_bytes))
    except (UntrustedFileError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _module_name(value):
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 60 else None


def _importers(modules, graph):
    """``modules`` and every module that (transitively) imports one of them, per ``graph``."""
    bad = set(modules)
    grew = True
    while grew:
        grew = False
        for module, imports in graph.items():
            if module not in bad and isinstance(imports, list) and bad.intersection(map(str, imports)):
                bad.add(module)
                grew = True
    return bad


def _import_stall(out_dir, remaining, what):
    """{check_id: message} for the checks lost because the sandbox died or stalled while
    importing a learner module (``_importing.json`` left behind); {} when it did not. The
    marker is removed so that the next run starts clean."""
    marker = _read_json_record(out_dir, "_importing.json", 100_000)
    with contextlib.suppress(OSError):
        os.unlink(Path(out_dir) / "_importing.json")
    module = _module_name((marker or {}).get("module"))
    if module is None:
        return {}
    chain = [m for m in map(_module_name, marker.get("chain") or [])
             if m] if isinstance(marker.get("chain"), list) else []
    graph = (_read_json_record(out_dir, "_modules.json") or {}).get("imports")
    graph = {k: v for k, v in graph.items() if _module_name(k)} if isinstance(graph, dict) else {}
    bad = _importers([module, *chain], graph)
    lost = [c for c in remaining if _module_of(c) in bad]
    running = marker.get("check")
    if running in remaining and running not in lost:
        lost.append(running)
    why = f"importing it {what}"
    return {c: import_failure_message(_module_of(c), module, why) for c in lost}


def _import_failures(out_dir, check_ids):
    """{check_id: message} for the checks of modules the executor could not import (a
    syntax error, an exception at module level), as it reported them."""
    failed = (_read_json_record(out_dir, "_modules.json") or {}).get("failed")
    if not isinstance(failed, dict):
        return {}
    out = {}
    for check_id in check_ids:
        message = failed.get(_module_of(check_id))
        if isinstance(message, str) and message:
            out[check_id] = message[:1500]
    return out


# ---- trusted checks of how a result was obtained (provenance.py, cases.budget_cases) -------------

TOO_SLOW_MESSAGE = (
    "Your `{fn}` did not finish a large hidden case ({shapes}) within its budget of {seconds} s of CPU "
    "time, where a backward pass built with the chain rule needs a few milliseconds: it is far too slow. "
    "Numerical differentiation (finite differences: forward passes with each number nudged) is not "
    "accepted as a backward pass: compute the gradients with the chain rule, as in the lesson. "
    "This function scores 0."
)


def _provenance_and_budget(course_root, cases, order, results, forced, internal, runs, limits, tmp):
    """Score 0 the functions that copy a shipped tool (``provenance``), and run the budget case of
    every backward check that still has results, one sandbox run each under a tight CPU limit.

    Updates ``forced``, ``internal``, ``results`` and ``runs`` in place; returns the budget cases
    whose results were added to ``results`` (to be judged with the other cases, as "values")."""
    for check_id, message in provenance.copied_functions(course_root, order).items():
        forced[check_id] = message
        results.pop(check_id, None)
    # Functions that raised on every case (not written yet) score 0 anyway: no budget run.
    todo = [c for c in order if c in results and any(not r.get("error") for r in results[c].values())]
    judged_extra = []
    try:
        extra = budget_cases(budget_seed(cases), todo) if todo else []
        budget_limits = dataclasses.replace(
            limits, cpu_seconds=min(limits.cpu_seconds, BUDGET_CPU_SECONDS),
            wall_seconds=min(limits.wall_seconds, BUDGET_WALL_SECONDS), idle_seconds=None)
        # All budget cases in one sandbox run (honest code needs a fraction of a second for all of
        # them); the case running when the CPU limit strikes is the culprit, the rest run again.
        remaining, n = list(extra), 0
        while remaining:
            in_dir, out_dir = tmp / f"budget-in{n}", tmp / f"budget-out{n}"
            n += 1
            out_dir.mkdir()
            out_dir.chmod(0o777)  # the sandbox runs as another uid
            write_cases(remaining, in_dir)
            run = sandbox.run_python(
                _executor_code("/sub", "/io/in", "/io/out"),
                read_only={Path(course_root): "/sub", paths.CHECKS: "/grader/rnncheck", in_dir: "/io/in"},
                writable={out_dir: "/io/out"},
                sys_path=["/grader"],
                limits=budget_limits,
                progress_names={f"{c.check_id}.npz" for c in remaining} | {"_import.json"},
            )
            runs.append(run)
            left, charged = [], False
            stopped = run.killed_reason in ("CPU time limit", "time limit") or run.returncode in (-9, 137)
            for case in remaining:
                check_id = case.check_id
                got, problem = read_results_checked(check_id, out_dir)
                if got is not None and case.case_id in got:
                    results[check_id] = {**results[check_id], case.case_id: got[case.case_id]}
                    judged_extra.append(case)
                    continue
                if charged and problem in (None, "missing"):
                    left.append(case)  # not reached in this run: it runs again
                    continue
                charged = charged or problem in (None, "missing")  # the first without a result was running
                results.pop(check_id, None)
                fn = CHECKS_BY_ID[check_id].function
                if problem not in (None, "missing"):
                    forced[check_id] = RESULT_PROBLEMS.get(problem, f"Your `{fn}` {_what_happened(run)}.")
                elif stopped:
                    forced[check_id] = TOO_SLOW_MESSAGE.format(fn=fn, shapes=case.label.split("; ", 1)[-1],
                                                               seconds=budget_limits.cpu_seconds)
                else:
                    forced[check_id] = f"Your `{fn}` {_what_happened(run)}."
            remaining = left
    except Exception:  # noqa: BLE001 - trusted code failed: not the learner's doing
        text = traceback.format_exc()
        for check_id in todo:
            if check_id not in forced:
                internal[check_id] = text
        return []
    return judged_extra
