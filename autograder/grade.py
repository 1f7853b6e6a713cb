"""python -m autograder grade SUBS --out OUT [--jobs N]: grade a class.

SUBS holds one entry per learner: ``SUBS/<student_id>/`` (the learner's filled course
folder: lessons/, rnnkit/, ...) or ``SUBS/<student_id>.zip`` (a zip of one, with or
without a top-level folder). Submissions are copied; SUBS is never written.

How a score is decided:
- the notebooks run through nbgrader's own autograde (its Python API, in
  ``--jobs`` worker processes, each taking many notebooks) in an nbgrader course
  directory built by ``autograder.course.build_course``, in a sandboxed kernel
  (``autograder.kernel``): the set-up cell, the answer cells and the graded cells
  run; the lessons' experiment cells decide no points and are skipped unless
  ``--run-experiments``;
- the points of every check cell (``check("module.function")``) are decided
  outside the learner's kernel: the learner's rnnkit runs in a sandbox
  (``autograder.sandbox``: bubblewrap, no network, only the submission visible,
  limits), the judge compares its results with the reference in this process, and
  the score is written into the gradebook with nbgrader's API (``Grade.auto_score``),
  so formgrader, ``nbgrader export`` and the feedback agree with OUT/.

OUT is written as follows (files of a previous run in OUT are replaced):
- ``grades.csv``: student_id, assignment, score, max_score. One row per graded
  (student, assignment); score is the gradebook's total (manually graded answers
  count once graded in formgrader; re-run ``nbgrader export`` later for those).
- ``results.csv``: student_id, assignment, test_id, score, max_score, message.
  One row per check (test_id = check id such as ``lstm.forget_gate``) and per other
  auto-graded notebook cell (test_id = its grade id).
- ``ungradable.csv``: student_id, assignment, reason. A row for every
  (student, assignment) that has no grade, with the reason; assignment is ``*``
  when the whole submission could not be taken in (a damaged zip, no rnnkit/ or
  lessons/ folder, an unusable name). These never appear in grades.csv.
- ``notes.csv``: student_id, assignment, note: what was repaired or left out on the
  way (a symbolic link, a split cell joined, a notebook that could not run and was
  replaced by the released one so that the package checks still count).
- ``feedback/<student_id>/<assignment>.html``: nbgrader's feedback, with the check
  cells showing the trusted result and no hidden test, seed or hidden expected value.
- ``course/``: the nbgrader course directory (gradebook.db, submitted/, autograded/,
  feedback/) for formgrader and ``nbgrader export``; ``logs/``: nbgrader's output.

Every submission ends graded or listed in ungradable.csv; one bad submission never
stops the batch. Exit status 0 when the batch ran through (whatever the grades), 1
when grading itself could not run (e.g. the course could not be built).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT_NAMES = ["grades.csv", "results.csv", "ungradable.csv", "notes.csv", "feedback", "course", "logs"]


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.split("\n\n", 1)[0]
    parser.epilog = __doc__.split("\n\n", 1)[1]
    parser.add_argument("subs", metavar="SUBS",
                        help="folder of <student_id>/ folders and <student_id>.zip files")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder for the results (see below)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="grade N things at once: sandboxed check runs and nbgrader commands (default 1)")
    parser.add_argument("--assignments", nargs="*", metavar="A", help="only these assignments (default: all)")
    parser.add_argument("--cell-timeout", type=int, metavar="S",
                        help="seconds a notebook cell may run (default: the course's Execute.timeout)")
    parser.add_argument("--check-timeout", type=float, default=20.0, metavar="S",
                        help="seconds one function's checks may take in the sandbox (default 20)")
    parser.add_argument("--run-experiments", action="store_true",
                        help="also run the lessons' ungraded experiment cells during autograde (slower; they "
                             "decide no points, so by default they are tagged skip-execution)")
    parser.add_argument("--seed", type=int, help="grading seed for the hidden cases (default: fresh, secret)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    from .sandbox import bubblewrap_available

    if not bubblewrap_available():
        print(LOUD_NO_SANDBOX, file=sys.stderr)
    try:
        batch = grade(args.subs, args.out, jobs=args.jobs, assignments=args.assignments,
                      cell_timeout=args.cell_timeout, check_timeout=args.check_timeout, seed=args.seed,
                      progress=not args.quiet, run_experiments=args.run_experiments)
    except GradingError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 1
    print(batch.summary())
    return 0


class GradingError(Exception):
    """Grading could not run at all (not a problem of one submission)."""


@dataclass
class Batch:
    out: Path
    students: list = field(default_factory=list)  # student ids taken in
    graded: dict = field(default_factory=dict)  # (student, assignment) -> (score, max_score)
    results: list = field(default_factory=list)  # rows of results.csv
    ungradable: list = field(default_factory=list)  # (student, assignment, reason)
    notes: list = field(default_factory=list)  # (student, assignment, note)
    sandboxed: bool = True
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)  # phase -> seconds (intake, course, grading, feedback)

    def summary(self):
        n_sub = len({s for s, _a in self.graded} | {s for s, _a, _r in self.ungradable})
        lines = [f"Graded {len(self.graded)} (student, assignment) pairs of {n_sub} submissions "
                 f"in {self.seconds:.0f} s; {len(self.ungradable)} ungradable."]
        for student, assignment, reason in self.ungradable:
            lines.append(f"  ungradable: {student} {assignment}: {reason}")
        if not self.sandboxed:
            lines.append(LOUD_NO_SANDBOX)
        lines.append(f"Grades: {self.out / 'grades.csv'}; per check: {self.out / 'results.csv'}; "
                     f"feedback: {self.out / 'feedback'}; gradebook: {self.out / 'course' / 'gradebook.db'}")
        return "\n".join(lines)


LOUD_NO_SANDBOX = ("WARNING: bubblewrap (bwrap) is not available: learner code ran in a plain "
                   "subprocess with resource limits only. It could read files and use the network. "
                   "Install the Debian package 'bubblewrap' for trustworthy grades.")


class _Progress:
    """One tqdm bar on stdout: a step per notebook autograded, per sandbox run, per feedback page."""

    def __init__(self, total, enabled):
        self.lock = threading.Lock()
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="grading", unit="step", file=sys.stdout, dynamic_ncols=True)

    def step(self, text=""):
        with self.lock:
            if self.bar is not None:
                self.bar.set_postfix_str(text[:40], refresh=False)
                self.bar.update(1)

    def add(self, n):
        with self.lock:
            if self.bar is not None:
                self.bar.total += n
                self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _clear_outputs(out):
    for name in OUTPUT_NAMES:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def grade(subs, out, jobs=1, assignments=None, cell_timeout=None, check_timeout=20.0, seed=None,
          progress=True, limits=None, run_experiments=False):
    """Grade every submission in ``subs`` into ``out``; returns a Batch (see the module docstring)."""
    from . import checkrun, sandbox, submissions
    from .cases import make_cases
    from .checks.registry import CHECKS, checks_for
    from .course import ASSIGNMENTS, build_course, nbgrader_env

    started = time.monotonic()
    subs, out = Path(subs).resolve(), Path(out).resolve()
    if not subs.is_dir():
        raise GradingError(f"{subs} is not a folder")
    if out == subs or subs in out.parents or out in subs.parents:
        raise GradingError("OUT must not be inside SUBS or contain it (submissions are never written)")
    assignments = list(assignments or ASSIGNMENTS)
    unknown = [a for a in assignments if a not in ASSIGNMENTS]
    if unknown:
        raise GradingError(f"unknown assignments: {unknown}; known: {ASSIGNMENTS}")
    jobs = max(1, int(jobs))
    out.mkdir(parents=True, exist_ok=True)
    _clear_outputs(out)
    (out / "logs").mkdir()
    batch = Batch(out)
    seed = secrets.randbits(62) if seed is None else int(seed)
    check_ids = [c.check_id for c in CHECKS if c.lesson in assignments]
    env = nbgrader_env()

    with tempfile.TemporaryDirectory(prefix="rnn-grade-") as tmp:
        tmp = Path(tmp)
        # 1. take the submissions in (copies)
        taken = submissions.collect(subs, tmp / "subs")
        for sub in taken:
            for note in sub.notes:
                batch.notes.append((sub.student_id, "*", note))
            if sub.folder is None:
                batch.ungradable.append((sub.student_id, "*", sub.problem))
        good = [s for s in taken if s.folder is not None]
        batch.students = [s.student_id for s in good]

        batch.timings["intake"] = time.monotonic() - started
        # 2. the course directory and its gradebook, before any worker starts
        course = out / "course"
        try:
            build_course(course, force=True)
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the CLI prints it
            raise GradingError(f"the nbgrader course could not be built: {exc}") from exc
        db_url = f"sqlite:///{course / 'gradebook.db'}"
        _add_students(db_url, batch.students)
        batch.timings["course"] = time.monotonic() - started - batch.timings["intake"]
        phase_started = time.monotonic()

        # 3. stage notebooks and packages where nbgrader looks for them
        replaced = {}  # (student, assignment) -> reason the released notebook stands in
        unstaged = set()
        for sub in good:
            for assignment in assignments:
                try:
                    reason = _stage(sub, assignment, course, batch)
                except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
                    unstaged.add((assignment, sub.student_id))
                    reason = f"could not be staged for nbgrader: {exc}"
                    batch.ungradable.append((sub.student_id, assignment, reason))
                    continue
                if reason:
                    replaced[(sub.student_id, assignment)] = reason

        cases = make_cases(seed, check_ids=check_ids) if good and check_ids else []
        check_limits = limits or sandbox.Limits(cpu_seconds=int(check_timeout * len(check_ids)) + 30,
                                                wall_seconds=check_timeout * len(check_ids) + 60,
                                                idle_seconds=check_timeout)
        trusted = {}
        bar = _Progress(len(good) * (1 + len(assignments)), progress)

        def sandbox_task(sub):
            try:
                outcomes, runs = checkrun.run_submission_checks(sub.folder, cases, check_ids, check_limits,
                                                                work_dir=tmp)
                with open(out / "logs" / f"sandbox-{sub.student_id}.log", "w", encoding="utf-8") as log:
                    for r in runs:
                        stdout, stderr = (x[-5000:].decode(errors="replace") for x in (r.stdout, r.stderr))
                        log.write(f"exit {r.returncode} stopped={r.killed_reason or '-'} {r.seconds:.1f}s "
                                  f"sandboxed={r.sandboxed}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n")
                if any(not r.sandboxed for r in runs):
                    batch.sandboxed = False
            except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
                outcomes = {c: checkrun.CheckOutcome(0.0, 0.0, f"internal grading error: {exc}")
                            for c in check_ids}
            trusted[sub.student_id] = outcomes
            bar.step(sub.student_id)

        # 4. notebooks through nbgrader (worker processes) and packages through the sandbox, together
        from .kernel import KERNEL_NAME, write_kernelspec

        write_kernelspec(tmp / "jupyter")
        env["JUPYTER_PATH"] = str(tmp / "jupyter")
        config = {"Execute": {"kernel_name": KERNEL_NAME}, "OverwriteCells": {"add_missing_cells": True}}
        if cell_timeout:
            config["Execute"]["timeout"] = int(cell_timeout)
        runner = _Workers(course, env, out / "logs", tmp, config, skip_experiments=not run_experiments)
        pairs = [(a, s.student_id) for s in good for a in assignments if (a, s.student_id) not in unstaged]
        autograded = {}  # assignment -> set of students autograded
        failures = {}  # (assignment, student) -> error text

        def autograde_task(chunk):
            outcome = runner.run("autograde", chunk, on_done=lambda: bar.step("notebook"))
            for (assignment, student), (ok, error) in outcome.items():
                if ok:
                    autograded.setdefault(assignment, set()).add(student)
                else:
                    failures[(assignment, student)] = error

        if good:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(autograde_task, chunk) for chunk in _chunks(pairs, jobs)]
                futures += [pool.submit(sandbox_task, s) for s in good]
                for f in futures:
                    f.result()
        # Failures, by cause: a locked gradebook is tried again as it is; a kernel that died or a cell
        # that could not be interrupted comes from the learner's rnnkit (the set-up and check cells
        # import it), so the learner's notebook is recorded without running any code (answers kept);
        # anything else (cells nbgrader cannot match) is tried with the released notebook, and then
        # without running code.
        # Either way the check cells get their trusted scores from the sandbox.
        nothing_ran = set()
        tried = {}  # (assignment, student) -> modes tried
        for _round in range(3):
            if not failures:
                break
            groups = {}
            for pair, error in sorted(failures.items()):
                mode = _next_mode(error, tried.setdefault(pair, []))
                tried[pair].append(mode)
                groups.setdefault(mode, []).append(pair)
            for mode, retry in groups.items():
                if mode == "released":
                    for assignment, student in retry:
                        if (student, assignment) in replaced:
                            continue
                        submitted = course / "submitted" / student / assignment / f"{assignment}.ipynb"
                        shutil.copyfile(course / "release" / assignment / f"{assignment}.ipynb", submitted)
                        replaced[(student, assignment)] = "could not run"
                        note = _failure_note(failures[(assignment, student)])
                        batch.notes.append((student, assignment, note))
                skip = "all" if mode == "nothing" else None
                for pair, (ok, error) in runner.run("autograde", retry, skip=skip).items():
                    assignment, student = pair
                    if ok:
                        autograded.setdefault(assignment, set()).add(student)
                        failures.pop(pair, None)
                        if skip:
                            nothing_ran.add(pair)
                            batch.notes.append((student, assignment, NOTHING_RAN))
                    else:
                        failures[pair] = error
        for (assignment, student), error in sorted(failures.items()):
            batch.ungradable.append((student, assignment, "nbgrader could not autograde the notebook, even "
                                     f"the released one: {_first_line(error)} (see logs/)"))

        batch.timings["grading"] = time.monotonic() - phase_started
        phase_started = time.monotonic()
        # 5. trusted scores into the gradebook, check cells of the autograded notebooks
        from . import feedback as fb
        from . import gradebook as gbk

        for assignment in assignments:
            specs = checks_for(assignment)
            for student in sorted(autograded.get(assignment, ())):
                scores = {c.grade_id: trusted.get(student, {}).get(c.check_id) for c in specs}
                scores = {g: (o.score, o.max_score, o.message) for g, o in scores.items() if o is not None}
                try:
                    gbk.write_check_scores(db_url, student, assignment, scores,
                                           zero_others=(assignment, student) in nothing_ran)
                except Exception as exc:  # noqa: BLE001 - never report a score the sandbox did not decide
                    autograded[assignment].discard(student)
                    reason = f"trusted scores could not be recorded: {exc}"
                    batch.ungradable.append((student, assignment, reason))
                    continue
                nb_path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
                try:
                    fb.rewrite_autograded(nb_path, scores)
                except (OSError, ValueError) as exc:
                    batch.notes.append((student, assignment, f"feedback notebook not rewritten: {exc}"))

        # 6. feedback, generated by nbgrader, then searched
        forbidden = [fb.HIDDEN_BEGIN, fb.HIDDEN_END, *_hidden_lines(course, assignments)]
        if len(str(seed)) >= 8:  # a short seed (tests) would match any page by chance
            forbidden.append(str(seed))
        graded_pairs = [(a, s) for a in assignments for s in sorted(autograded.get(a, ()))]
        bar.add(len(graded_pairs))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda chunk: runner.run("feedback", chunk, on_done=lambda: bar.step("feedback")),
                          _chunks(graded_pairs, jobs)))
        for assignment, student in graded_pairs:
            page = course / "feedback" / student / assignment / f"{assignment}.html"
            if not page.is_file():
                batch.notes.append((student, assignment, "nbgrader wrote no feedback page"))
                continue
            if fb.scan_feedback(page, forbidden):
                page.unlink()
                batch.notes.append((student, assignment, "feedback withheld: it showed hidden material"))
                continue
            dest = out / "feedback" / student / f"{assignment}.html"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, dest)
        bar.close()
        batch.timings["feedback"] = time.monotonic() - phase_started

        # 7. the tables, read back from the gradebook
        for assignment in assignments:
            specs = checks_for(assignment)
            for student in batch.students:
                if student not in autograded.get(assignment, ()):
                    continue
                try:
                    summary = gbk.read_submission(db_url, student, assignment)
                except Exception as exc:  # noqa: BLE001
                    batch.ungradable.append((student, assignment, f"the gradebook could not be read: {exc}"))
                    continue
                batch.graded[(student, assignment)] = (summary.score, summary.max_score)
                cells = {grade_id: (score, max_score) for grade_id, score, max_score in summary.auto_cells}
                for spec in specs:  # registry order
                    if spec.grade_id in cells:
                        outcome = trusted.get(student, {}).get(spec.check_id)
                        score, max_score = cells.pop(spec.grade_id)
                        batch.results.append((student, assignment, spec.check_id, score, max_score,
                                              outcome.message if outcome else ""))
                for grade_id, (score, max_score) in sorted(cells.items()):
                    message = "passed" if score >= max_score else "decided by running your notebook"
                    batch.results.append((student, assignment, grade_id, score, max_score, message))
    batch.seconds = time.monotonic() - started
    _write_tables(batch, out)
    return batch


def _add_students(db_url, students):
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        for student in students:
            gb.update_or_create_student(student)


def _stage(sub, assignment, course, batch):
    """Stage one (student, assignment); returns why the released notebook stands in, or ""."""
    from . import submissions
    from .course import stage_submission

    student = sub.student_id
    lessons = sub.folder / "lessons"
    lessons.mkdir(exist_ok=True)
    target = lessons / f"{assignment}.ipynb"
    found = submissions.find_notebook(sub.folder, assignment)
    released = course / "release" / assignment / f"{assignment}.ipynb"
    reason = ""
    if found is None:
        reason = "notebook missing"
    else:
        try:
            nb = submissions.read_notebook(found)
            for note in submissions.repair_notebook(nb):
                batch.notes.append((student, assignment, note))
            submissions.write_notebook(nb, target)
        except (submissions.IntakeError, OSError) as exc:
            reason = str(exc)
    if reason:
        shutil.copyfile(released, target)
        batch.notes.append((student, assignment, f"{reason}: graded with the released notebook, so written "
                            "answers in it were not collected (your rnnkit was graded as usual)"))
    stage_submission(sub.folder, course, student, assignment)
    return reason


NOTHING_RAN = ("the notebook could not be run with your rnnkit (the kernel died or a cell never finished): "
               "it was recorded without running any cell; your rnnkit was graded as usual (see results)")


class _Workers:
    """Runs ``autograder.nbworker`` processes over lists of (assignment, student)."""

    def __init__(self, course, env, logs, tmp, config, skip_experiments=True):
        self.course, self.env, self.logs, self.tmp, self.config = course, env, logs, tmp, config
        self.skip_experiments = skip_experiments
        self.lock = threading.Lock()
        self.count = 0

    def run(self, action, pairs, skip=None, on_done=None):
        """{(assignment, student): (ok, error text)} for every pair (a pair without a result failed)."""
        if not pairs:
            return {}
        with self.lock:
            self.count += 1
            n = self.count
        job_file = self.tmp / f"job-{n}.json"
        results = self.tmp / f"results-{n}.jsonl"
        job = {"course": str(self.course), "action": action, "pairs": [list(p) for p in pairs],
               "config": self.config, "results": str(results),
               "skip": skip or ("experiments" if self.skip_experiments else None)}
        job_file.write_text(json.dumps(job))
        with open(self.logs / f"{action}-{n}.log", "w", encoding="utf-8") as log:
            command = [sys.executable, "-m", "autograder.nbworker", str(job_file)]
            proc = subprocess.Popen(command, cwd=self.course, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            reported = 0
            while True:
                try:
                    proc.wait(timeout=0.5)
                    finished = True
                except subprocess.TimeoutExpired:
                    finished = False
                if on_done is not None and results.is_file():
                    with open(results, encoding="utf-8") as f:
                        count = sum(1 for _ in f)
                    for _ in range(count - reported):
                        on_done()
                    reported = count
                if finished:
                    break
        outcome = {tuple(p): (False, "the grading worker stopped before this notebook") for p in pairs}
        if results.is_file():
            for line in results.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                key = (item["assignment"], item["student"])
                outcome[key] = (bool(item["success"]), item.get("error", ""))
        return outcome


def _chunks(items, n):
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


def _next_mode(error, tried):
    """How to retry a notebook nbgrader could not autograde: "again", "released" or "nothing"."""
    text = str(error)
    if "database is locked" in text and "again" not in tried:
        return "again"
    if "DeadKernelError" in text or "Kernel died" in text or "CellTimeoutError" in text:
        return "nothing"
    return "released" if "released" not in tried else "nothing"


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if re.match(r"^[\w.]*(Error|Exception)\b", line) and "NbGraderException" not in line:
            return line[:200]
    return lines[-1][:200] if lines else "unknown error"


def _failure_note(error):
    text = str(error)
    if "DeadKernelError" in text or "Kernel died" in text:
        why = "the kernel died while running it (os._exit, a crash, or too much memory?)"
    elif "CellTimeoutError" in text or "timed out" in text:
        why = "a cell ran past the time limit and could not be interrupted (an endless loop?)"
    elif "KeyError" in text or "MissingEntry" in text:
        why = "its graded cells do not match the released notebook (cells deleted or changed?)"
    elif "checksum" in text.lower():
        why = "a locked or test cell was changed in a way nbgrader cannot repair"
    else:
        why = f"the autograder could not run it ({_first_line(text)})"
    return (f"your notebook could not be graded as submitted: {why}. The released notebook stands in, so "
            "written answers in it were not collected (your rnnkit was graded as usual)")


def _hidden_lines(course, assignments):
    import json

    from .feedback import hidden_lines

    lines = []
    for assignment in assignments:
        path = course / "source" / assignment / f"{assignment}.ipynb"
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            source = cell.get("source", "")
            lines += hidden_lines("".join(source) if isinstance(source, list) else source)
    return lines


def _write_tables(batch, out):
    def write(name, header, rows):
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    write("grades.csv", ["student_id", "assignment", "score", "max_score"],
          [(s, a, _num(sc), _num(mx)) for (s, a), (sc, mx) in sorted(batch.graded.items())])
    write("results.csv", ["student_id", "assignment", "test_id", "score", "max_score", "message"],
          [(s, a, t, _num(sc), _num(mx), m) for s, a, t, sc, mx, m in batch.results])
    write("ungradable.csv", ["student_id", "assignment", "reason"], sorted(batch.ungradable))
    write("notes.csv", ["student_id", "assignment", "note"], batch.notes)


def _num(x):
    return f"{float(x or 0):g}"

