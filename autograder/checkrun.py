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

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from .checks.registry import CHECKS_BY_ID

CHECKS_DIR = Path(__file__).resolve().parent / "checks"


@dataclass
class CheckOutcome:
    score: float
    max_score: float
    message: str


def _executor_code(course, cases, out):
    return [
        "import os",
        "from rnncheck.executor import main",
        f"status = main(['--course', {course!r}, '--cases', {cases!r}, '--out', {out!r}])",
        "sys.stdout.flush()",
        "os._exit(status)  # learner threads or atexit hooks must not change the outcome",
    ]


def _done_checks(out_dir):
    return {p.stem for p in Path(out_dir).glob("*.npz")} | {p.stem for p in Path(out_dir).glob("*.json")}


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
        return "wrote far too much output; printing or saving inside rnnkit is not needed"
    if run.killed_reason:
        return f"was stopped ({run.killed_reason})"
    if run.returncode and run.returncode < 0 or run.returncode and run.returncode >= 128:
        return "crashed the Python process (a signal: out of memory, a segfault?)"
    return (f"ended the Python process (exit status {run.returncode}): remove sys.exit / os._exit "
            "and anything that stops Python from rnnkit")


def run_submission_checks(course_root, cases, check_ids=None, limits=None, work_dir=None, retries=25):
    """Scores of the package checks for one submission.

    Inputs:
    - course_root: the submission's working copy (the folder holding ``rnnkit/``).
    - cases: list of Case from ``autograder.cases.make_cases`` (kept in this process).
    - check_ids: which checks to run (default: every check present in ``cases``).
    - limits: sandbox.Limits for each sandbox run.

    Returns (outcomes, runs): outcomes maps check_id -> CheckOutcome (every requested
    check id, registry order); runs is the list of sandbox.RunResult, for the record.
    """
    from .checks.casefile import write_cases
    from .judge import judge

    limits = limits or sandbox.Limits()
    wanted = check_ids or _ordered_check_ids(cases)
    cases = [c for c in cases if c.check_id in wanted]
    order = _ordered_check_ids(cases)
    forced = {}  # check_id -> message decided here (the sandbox died while it ran)
    runs = []
    with tempfile.TemporaryDirectory(prefix="rnn-checks-", dir=work_dir) as tmp:
        tmp = Path(tmp)
        out_dir = tmp / "out"
        out_dir.mkdir()
        out_dir.chmod(0o777)  # the sandbox runs as another uid
        remaining = list(order)
        for attempt in range(retries):
            if not remaining:
                break
            in_dir = tmp / f"in{attempt}"
            write_cases([c for c in cases if c.check_id in remaining], in_dir)
            run = sandbox.run_python(
                _executor_code("/sub", "/io/in", "/io/out"),
                read_only={Path(course_root): "/sub", CHECKS_DIR: "/grader/rnncheck", in_dir: "/io/in"},
                writable={out_dir: "/io/out"},
                sys_path=["/grader"],
                limits=limits,
            )
            runs.append(run)
            done = _done_checks(out_dir) - {"_import"}
            remaining = [c for c in remaining if c not in done]
            if not _imported(out_dir):
                # rnnkit could not be loaded at all, or the process ended while importing it
                reason = _import_error(out_dir) or f"importing it {_what_happened(run)}"
                for check_id in remaining:
                    forced[check_id] = f"Your rnnkit could not be loaded: {reason}"
                break
            if not remaining:
                break
            # The process ended (or was stopped) before these checks: the first one was running.
            culprit = remaining.pop(0)
            fn = CHECKS_BY_ID[culprit].function if culprit in CHECKS_BY_ID else culprit
            forced[culprit] = f"Your `{fn}` {_what_happened(run)}."
        outcomes = {}
        try:
            judged = judge(cases, out_dir)
        except Exception as exc:  # noqa: BLE001 - a judge failure must not stop the batch
            judged = {}
            for check_id in order:
                forced.setdefault(check_id, f"Internal grading error ({exc.__class__.__name__}); "
                                  "your instructor has been told.")
        for check_id in order:
            spec = CHECKS_BY_ID.get(check_id)
            max_score = float(spec.points) if spec else 0.0
            if check_id in forced:
                outcomes[check_id] = CheckOutcome(0.0, max_score, forced[check_id])
            elif check_id in judged:
                o = judged[check_id]
                outcomes[check_id] = CheckOutcome(float(o.score), float(o.max_score), str(o.message))
            else:
                outcomes[check_id] = CheckOutcome(0.0, max_score, "No result was recorded for this function.")
    return outcomes, runs


def _imported(out_dir):
    """True when the executor recorded that the learner's rnnkit was loaded."""
    path = Path(out_dir) / "_import.json"
    try:
        return path.stat().st_size < 100_000 and "file" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def _import_error(out_dir):
    path = Path(out_dir) / "_import.json"
    try:
        if path.stat().st_size > 100_000:
            return ""
        error = json.loads(path.read_text()).get("error")
    except (OSError, ValueError, AttributeError):
        return ""
    return str(error)[:500] if error else ""
