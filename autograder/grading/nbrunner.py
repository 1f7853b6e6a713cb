"""The nbgrader runner: nbgrader's own autograde (and the feedback page) for many notebooks.

``autograde_all`` hands lists of (assignment, student) to ``nbworker`` processes (nbgrader's
Python API, with the course's trusted pipeline: no learner code runs there) and retries
what failed by the named policy below. Nothing here decides a score: nbgrader's
``SaveAutoGrades`` records what the course's ``TrustedChecks`` wrote.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from autograder.grading import nbpre

LOCKED = "database is locked"  # SQLite's words when another worker held the gradebook

# The retry policy. Each round grades some pairs; a pair that succeeds is done.
# - "as submitted": every pair, with the learner's notebook;
# - "locked": the pairs that failed only because the SQLite gradebook was busy, once more as they were;
# - "released": the pairs nbgrader could not grade for another reason (a notebook whose graded cells
#   were deleted, a broken file), with the released notebook standing in, so the package checks
#   still count. A pair whose failure is the grader's own (nbpre.INTERNAL_ERROR) is not retried:
#   it is reported for the instructor, never blamed on the learner.
RETRY_ROUNDS = ("as submitted", "locked", "released")


def pairs_for_round(round_name, todo, failures):
    """The (assignment, student) pairs one round of the retry policy grades.

    Inputs:
    - round_name: one of RETRY_ROUNDS
    - todo: every pair of the run
    - failures: {pair: error text} of the pairs that have failed so far

    Returns:
    - sorted list of pairs.
    """
    if round_name == "as submitted":
        return sorted(todo)
    if round_name == "locked":
        return [p for p in sorted(failures) if LOCKED in failures[p]]
    if round_name == "released":
        retried = [p for p in sorted(failures) if LOCKED not in failures[p]]
        return [p for p in retried if nbpre.INTERNAL_ERROR not in failures[p]]
    raise ValueError(f"unknown retry round {round_name!r}; known: {RETRY_ROUNDS}")


@dataclass
class Recorded:
    """What the autograde phase did."""

    done: set = field(default_factory=set)  # pairs graded and recorded in the gradebook
    notes: list = field(default_factory=list)  # (student, assignment, note)
    ungradable: list = field(default_factory=list)  # (student, assignment, reason)
    internal: list = field(default_factory=list)  # (student, assignment, text): the grader's own errors


def autograde_all(todo, course, workers, jobs, progress=True):
    """nbgrader autograde and the feedback page for every pair of ``todo``, with retries.

    Inputs:
    - todo: list of (assignment, student), staged in course/submitted/
    - course: the nbgrader course directory (Path)
    - workers: a Workers (how to start one nbgrader process)
    - jobs: how many worker processes at once
    - progress: show a progress bar on stdout

    Returns:
    - Recorded.
    """
    recorded = Recorded()
    failures = {}
    bar = tqdm(total=len(todo), desc="grading", unit="notebook", file=sys.stdout, dynamic_ncols=True,
               disable=not (progress and todo))
    lock = threading.Lock()

    def step():
        with lock:
            bar.update(1)

    for round_name in RETRY_ROUNDS:
        pairs = pairs_for_round(round_name, todo, failures)
        if round_name == "released":
            for assignment, student in pairs:
                submitted = course / "submitted" / student / assignment / f"{assignment}.ipynb"
                shutil.copyfile(course / "release" / assignment / f"{assignment}.ipynb", submitted)
                recorded.notes.append((student, assignment, failure_note(failures[(assignment, student)])))
        if not pairs:
            continue
        outcomes = {}
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for part in pool.map(lambda chunk: workers.run(chunk, on_done=step), chunks(pairs, jobs)):
                outcomes.update(part)
        for pair, (ok, error, page) in outcomes.items():
            if not ok:
                failures[pair] = error
                continue
            recorded.done.add(pair)
            failures.pop(pair, None)
            if page != "ok":
                assignment, student = pair
                if page.startswith("error:"):
                    recorded.internal.append((student, assignment, "feedback page: " + page))
                    page = "withheld: the page could not be made"
                recorded.notes.append((student, assignment, f"feedback {page}"))
    bar.close()
    for (assignment, student), error in sorted(failures.items()):
        if nbpre.INTERNAL_ERROR not in error:  # TrustedChecks logged its own errors already
            recorded.internal.append(
                (student, assignment, f"nbgrader autograde failed, even with the released notebook:\n{error}")
            )
        reason = ("the grader failed on this submission (not your doing); your instructor will see "
                  "logs/internal-errors.log and grade it again")
        recorded.ungradable.append((student, assignment, reason))
    return recorded


def failure_note(error):
    """The note for a learner whose notebook nbgrader could not grade (the released one stood in)."""
    text = str(error)
    if "KeyError" in text or "MissingEntry" in text:
        why = "its graded cells do not match the released notebook (cells deleted or changed?)"
    elif "checksum" in text.lower():
        why = "a locked or test cell was changed in a way nbgrader cannot repair"
    else:
        why = "nbgrader could not read it"
    return (
        f"your notebook could not be graded as submitted: {why}. The released notebook stands in, so "
        "written answers in it were not collected (your rnnkit was graded as usual)"
    )


class Workers:
    """Runs ``autograder.grading.nbworker`` processes over lists of (assignment, student)."""

    def __init__(self, course, env, logs, tmp, config, feedback_dir, forbidden):
        self.course, self.env, self.logs, self.tmp, self.config = course, env, logs, tmp, config
        self.feedback_dir, self.forbidden = feedback_dir, forbidden
        # A backstop: no notebook may hold the batch up for long (the worker is stopped; the
        # notebooks it had not finished are reported and tried again with the released one).
        self.seconds_per_pair = 120.0 + 10 * float(config["TrustedChecks"]["check_timeout"])
        self.lock = threading.Lock()
        self.count = 0

    def run(self, pairs, on_done=None):
        """{(assignment, student): (ok, error text, feedback status)} for every pair."""
        if not pairs:
            return {}
        with self.lock:
            self.count += 1
            n = self.count
        job_file = Path(self.tmp) / f"job-{n}.json"
        results = Path(self.tmp) / f"results-{n}.jsonl"
        job = {
            "course": str(self.course),
            "pairs": [list(p) for p in pairs],
            "config": self.config,
            "results": str(results),
            "feedback": str(self.feedback_dir),
            "forbidden": self.forbidden,
        }
        job_file.write_text(json.dumps(job))
        with open(Path(self.logs) / f"autograde-{n}.log", "w", encoding="utf-8") as log:
            command = [sys.executable, "-m", "autograder.grading.nbworker", str(job_file)]
            proc = subprocess.Popen(command, cwd=self.course, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + self.seconds_per_pair * len(pairs)
            reported = 0
            while True:
                try:
                    proc.wait(timeout=0.3)
                    finished = True
                except subprocess.TimeoutExpired:
                    finished = False
                    if time.monotonic() > deadline:
                        proc.kill()
                        proc.wait()
                        finished = True
                if on_done is not None and results.is_file():
                    with open(results, encoding="utf-8") as f:
                        count = sum(1 for _ in f)
                    for _ in range(count - reported):
                        on_done()
                    reported = count
                if finished:
                    break
        outcome = {tuple(p): (False, "the grading worker stopped before this notebook", "") for p in pairs}
        if results.is_file():
            for line in results.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                key = (item["assignment"], item["student"])
                outcome[key] = (bool(item["success"]), item.get("error", ""), item.get("feedback", ""))
        return outcome


def chunks(items, n):
    """n nearly equal contiguous slices of items (no empty ones)."""
    items = list(items)
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return [c for c in out if c]
