"""python -m autograder grade SUBS --out OUT [--jobs N]: grade a class.

SUBS holds one entry per learner: ``SUBS/<student_id>/`` (the learner's filled course
folder: lessons/, rnnkit/, ...) or ``SUBS/<student_id>.zip`` (a zip of one, with or
without a top-level folder). Submissions are copied; SUBS is never written.

How a score is decided: learner code never runs unconfined and notebooks are not run.
Every submission goes through nbgrader's own autograde in the course directory
``OUT/course`` (built by ``autograder.building.course``), whose pipeline (``autograder.grading.nbpre``)
replaces nbgrader's Execute step: the learner's ``rnnkit/`` runs in a sandbox
(``autograder.grading.sandbox``: bubblewrap, no network, only the submission visible, limits),
the trusted judge compares its results with the reference, and each check cell's score
is recorded by nbgrader's ``SaveAutoGrades``, so formgrader, ``nbgrader export``,
``nbgrader autograde`` and the feedback agree with OUT/. Written answers are graded by
hand in formgrader; the learner's saved outputs are kept as inert text and images.

Re-running is safe: ``OUT/course`` is kept, with every score and comment entered by hand,
and only submissions that are new or changed are graded again (the others keep their
grades). If ``OUT/course`` was built from a different version of the course and holds
hand-entered scores, grading refuses and says how to proceed (``--rebuild-course``).

OUT is written as follows:
- ``grades.csv``: student_id, assignment, score, max_score. One row per graded
  (student, assignment) in the gradebook; score is the gradebook's total (answers graded
  by hand count once graded in formgrader: re-run grade, or ``nbgrader export``).
- ``results.csv``: student_id, assignment, test_id, score, max_score, message.
  One row per check (test_id = check id such as ``lstm.forget_gate``).
- ``ungradable.csv``: student_id, assignment, reason. A row for every (student,
  assignment) of this run that has no grade, with the reason; assignment is ``*``
  when the whole submission could not be taken in (a damaged zip, no rnnkit/ or
  lessons/ folder, an unusable name). These never appear in grades.csv.
- ``notes.csv``: student_id, assignment, note: what was repaired or left out on the
  way (a symbolic link, a split cell joined, a notebook nbgrader could not read that
  was replaced by the released one so that the package checks still count).
- ``feedback/<student_id>/<assignment>.html``: the learner's notebook with the trusted
  check results, inert (no script or active HTML from learner content), no hidden test,
  seed, hidden expected value or grader path. The same page is in
  ``course/feedback/`` for ``nbgrader release_feedback``.
- ``course/``: the nbgrader course directory (gradebook.db, submitted/, autograded/,
  feedback/) for formgrader and ``nbgrader export``; ``logs/``: this run's logs, with
  ``internal-errors.log`` holding any error of the grader itself.

Every submission ends graded or listed in ungradable.csv; one bad submission never
stops the batch. Exit status 0 when the batch ran through (whatever the grades), 1 when
grading could not run (no bubblewrap without --allow-unsandboxed, a course that cannot
be built or would lose hand-entered scores), 2 when the grader itself failed somewhere
(see logs/internal-errors.log; the learners concerned are listed as ungradable).
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import paths
from autograder.building import course as course_mod
from autograder.building.release import ReleaseError
from autograder.checks.registry import checks_for
from autograder.grading import feedback, nbpre, sandbox, submissions

TABLES = ["grades.csv", "results.csv", "ungradable.csv", "notes.csv"]
STATE = ".grading-state.json"  # in OUT/course: fingerprint of the course, hashes of graded submissions
SEED_FILE = ".grading-seed"  # in OUT/course, mode 600 (also read by nbgrader autograde there)
RECORDS = ".grading-records"  # in OUT/course: <student>/<assignment>.json, the trusted outcomes


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.split("\n\n", 1)[0]
    parser.epilog = __doc__.split("\n\n", 1)[1]
    parser.add_argument(
        "subs", metavar="SUBS", help="folder of <student_id>/ folders and <student_id>.zip files"
    )
    parser.add_argument("--out", required=True, metavar="OUT", help="folder for the results (see below)")
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="grade N notebooks at once (default 1)"
    )
    parser.add_argument("--assignments", nargs="*", metavar="A", help="only these assignments (default: all)")
    parser.add_argument(
        "--check-timeout",
        type=float,
        default=course_mod.CHECK_TIMEOUT,
        metavar="S",
        help="seconds one function's checks may take in the sandbox (default 20)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="grading seed for the hidden cases (default: the one kept in "
        "OUT/course, or a fresh secret one); a different seed grades everything again",
    )
    parser.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="grade even without bubblewrap: learner code then runs in a plain subprocess with "
        "resource limits only (it can read your files and use the network)",
    )
    parser.add_argument(
        "--rebuild-course",
        action="store_true",
        help="rebuild OUT/course even if it holds scores entered by hand (they are lost: "
        "export them first with nbgrader export)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    try:
        batch = grade(
            args.subs,
            args.out,
            jobs=args.jobs,
            assignments=args.assignments,
            check_timeout=args.check_timeout,
            seed=args.seed,
            progress=not args.quiet,
            allow_unsandboxed=args.allow_unsandboxed,
            rebuild_course=args.rebuild_course,
        )
    except GradingError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 1
    print(batch.summary())
    return 2 if batch.internal_errors else 0


class GradingError(Exception):
    """Grading could not run at all (not a problem of one submission)."""


@dataclass
class Batch:
    out: Path
    students: list = field(default_factory=list)  # student ids taken in this run
    graded: dict = field(default_factory=dict)  # (student, assignment) -> (score, max_score)
    results: list = field(default_factory=list)  # rows of results.csv
    ungradable: list = field(default_factory=list)  # (student, assignment, reason)
    notes: list = field(default_factory=list)  # (student, assignment, note)
    sandbox: str = ""  # "bubblewrap" or "plain subprocess (NOT isolated)"
    regraded: int = 0  # (student, assignment) pairs autograded in this run
    kept: int = 0  # pairs unchanged since an earlier run, not graded again
    internal_errors: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)  # phase -> seconds

    def summary(self):
        n_sub = len({s for s, _a in self.graded} | {s for s, _a, _r in self.ungradable})
        lines = [
            f"Graded {len(self.graded)} (student, assignment) pairs of {n_sub} learners in "
            f"{self.seconds:.0f} s ({self.regraded} graded in this run, {self.kept} unchanged and kept); "
            f"{len(self.ungradable)} ungradable. Learner code ran in: {self.sandbox}."
        ]
        for student, assignment, reason in self.ungradable:
            lines.append(f"  ungradable: {student} {assignment}: {reason}")
        if self.internal_errors:
            lines.append(
                f"{self.internal_errors} error(s) of the grader itself: see "
                f"{self.out / 'logs' / 'internal-errors.log'} (the learners concerned are listed "
                "as ungradable; fix the cause and run grade again)"
            )
        if self.sandbox != "bubblewrap":
            lines.append(LOUD_NO_SANDBOX)
        lines.append(
            f"Grades: {self.out / 'grades.csv'}; per check: {self.out / 'results.csv'}; "
            f"feedback: {self.out / 'feedback'}; gradebook: {self.out / 'course' / 'gradebook.db'}"
        )
        return "\n".join(lines)


LOUD_NO_SANDBOX = (
    "WARNING: bubblewrap (bwrap) was not used: learner code ran in a plain subprocess with "
    "resource limits only. It could read files and use the network. Install the Debian "
    "package 'bubblewrap' for trustworthy grades."
)
NO_SANDBOX_REFUSAL = (
    "bubblewrap (bwrap) cannot start a sandbox here, so learner code would run with the "
    "grading user's rights. Install the Debian package 'bubblewrap' (apt-get install "
    "bubblewrap), or pass --allow-unsandboxed to grade without isolation."
)


class _Progress:
    """One tqdm bar on stdout: a step per notebook graded (with its feedback page)."""

    def __init__(self, total, enabled):
        self.lock = threading.Lock()
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="grading", unit="notebook", file=sys.stdout, dynamic_ncols=True)

    def step(self, text=""):
        with self.lock:
            if self.bar is not None:
                self.bar.set_postfix_str(text[:40], refresh=False)
                self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- the phases


def grade(
    subs,
    out,
    jobs=1,
    assignments=None,
    check_timeout=course_mod.CHECK_TIMEOUT,
    seed=None,
    progress=True,
    allow_unsandboxed=False,
    rebuild_course=False,
):
    """Grade every submission in ``subs`` into ``out``; returns a Batch (see the module docstring)."""
    started = time.monotonic()
    subs, out = _check_paths(subs, out)
    assignments = _check_assignments(assignments)
    batch = Batch(out)
    batch.sandbox = _decide_sandbox(allow_unsandboxed)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    if logs.is_dir() and not logs.is_symlink():
        shutil.rmtree(logs)
    logs.mkdir()
    course, state = _prepare_course(out / "course", rebuild_course)
    batch.timings["course"] = time.monotonic() - started
    seed_changed = _prepare_seed(course, seed)
    if seed_changed:
        state["submissions"] = {}
    jobs = max(1, int(jobs))

    with tempfile.TemporaryDirectory(prefix="rnn-grade-") as tmp:
        tmp = Path(tmp)
        phase = time.monotonic()
        good = _intake(subs, tmp / "subs", batch)
        batch.timings["intake"] = time.monotonic() - phase

        phase = time.monotonic()
        todo, fingerprints = _stage_all(good, assignments, course, state, batch)
        batch.timings["stage"] = time.monotonic() - phase

        phase = time.monotonic()
        _add_students(course, batch.students)
        internal_file = tmp / "internal-errors.jsonl"
        _check_all(todo, good, course, tmp, logs, jobs, check_timeout, internal_file)
        batch.timings["checks"] = time.monotonic() - phase
        phase = time.monotonic()
        done = _autograde_all(
            todo,
            course,
            tmp,
            logs,
            batch,
            jobs,
            progress,
            check_timeout,
            allow_unsandboxed and batch.sandbox != "bubblewrap",
            internal_file,
        )
        batch.timings["grading"] = time.monotonic() - phase

        for pair in done:
            state["submissions"][f"{pair[1]}/{pair[0]}"] = fingerprints[pair]
        _save_state(course, state)
        batch.internal_errors += _internal_errors_log(internal_file, logs / "internal-errors.log", batch)

    phase = time.monotonic()
    _tables(course, state, batch)
    batch.timings["tables"] = time.monotonic() - phase
    batch.seconds = time.monotonic() - started
    _write_tables(batch, out)
    return batch


def _check_paths(subs, out):
    subs, out = Path(subs).resolve(), Path(out).resolve()
    if not subs.is_dir():
        raise GradingError(f"{subs} is not a folder")
    if out == subs or subs in out.parents or out in subs.parents:
        raise GradingError("OUT must not be inside SUBS or contain it (submissions are never written)")
    if out.exists() and not out.is_dir():
        raise GradingError(f"{out} exists and is not a folder")
    return subs, out


def _check_assignments(assignments):
    assignments = list(assignments or course_mod.ASSIGNMENTS)
    unknown = [a for a in assignments if a not in course_mod.ASSIGNMENTS]
    if unknown:
        raise GradingError(f"unknown assignments: {unknown}; known: {course_mod.ASSIGNMENTS}")
    return assignments


def _decide_sandbox(allow_unsandboxed):
    """Decided once per run, for every learner: bubblewrap, or (only if allowed) a plain subprocess."""
    if sandbox.bubblewrap_available():
        return "bubblewrap"
    if not allow_unsandboxed:
        raise GradingError(NO_SANDBOX_REFUSAL)
    return "plain subprocess (NOT isolated: --allow-unsandboxed)"


def course_fingerprint():
    """What the course directory is built from: config, instructor notebooks, package, checks."""
    digest = hashlib.sha256(course_mod.config_text().encode())
    for folder in (paths.SOLUTIONS, paths.RNNKIT, paths.CHECKS):
        for path in sorted(folder.rglob("*")):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix in (".py", ".ipynb", ".npz", ".json")
            ):
                digest.update(path.relative_to(folder).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def hand_entered(course):
    """How many scores, extra credits and comments were entered by hand in the course's gradebook."""
    from nbgrader.api import Comment, Grade, Gradebook

    db = Path(course) / "gradebook.db"
    if not db.is_file():
        return 0
    with Gradebook(f"sqlite:///{db}") as gb:
        grades = gb.db.query(Grade).filter(
            (Grade.manual_score.isnot(None)) | (Grade.extra_credit.isnot(None))
        )
        comments = gb.db.query(Comment).filter(Comment.manual_comment.isnot(None))
        return grades.count() + comments.count()


def _prepare_course(course, rebuild):
    """The course directory to grade in, and its grading state: kept when current, else (re)built."""
    fingerprint = course_fingerprint()
    state = _load_state(course)
    if state is not None and state.get("fingerprint") == fingerprint and (course / "gradebook.db").is_file():
        return course, state
    if course.exists():
        try:
            entered = hand_entered(course)
        except Exception as exc:  # noqa: BLE001 - an unreadable gradebook: do not guess
            raise GradingError(
                f"{course} exists but its gradebook cannot be read ({exc}); move it away or "
                "choose another --out"
            ) from exc
        if entered and not rebuild:
            why = (
                "was built from a different version of the course"
                if state is not None
                else "was not made by this command"
            )
            raise GradingError(
                f"{course} {why} and holds {entered} score(s) or comment(s) entered by hand. Grading into "
                "it would lose them. Either grade into a new --out folder, or export them first "
                f"(cd {course} && nbgrader export) and pass --rebuild-course."
            )
    try:
        course_mod.build_course(course, force=True)
    except ReleaseError as exc:
        raise GradingError(f"the nbgrader course could not be built: {exc}") from exc
    state = {"fingerprint": fingerprint, "submissions": {}}
    _save_state(course, state)
    return course, state


def _load_state(course):
    path = course / STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("submissions"), dict):
        return None
    return state


def _save_state(course, state):
    path = course / STATE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _prepare_seed(course, seed):
    """Make sure OUT/course holds the grading seed; True when it changed (everything is graded again)."""
    path = course / SEED_FILE
    try:
        old = int(path.read_text().strip())
    except (OSError, ValueError):
        old = None
    new = old if seed is None else int(seed)
    if new is None:
        new = secrets.randbits(62)
    if new == old:
        return False
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{new}\n")
    return old is not None


def _intake(subs, work, batch):
    taken = submissions.collect(subs, work)
    for sub in taken:
        for note in sub.notes:
            batch.notes.append((sub.student_id, "*", note))
        if sub.folder is None:
            batch.ungradable.append((sub.student_id, "*", sub.problem))
    good = [s for s in taken if s.folder is not None]
    batch.students = [s.student_id for s in good]
    return good


def _tree_hash(folder):
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _stage_all(good, assignments, course, state, batch):
    """Stage every (student, assignment) into course/submitted; returns (pairs to grade, fingerprints)."""
    todo, fingerprints = [], {}
    for sub in good:
        for assignment in assignments:
            pair = (assignment, sub.student_id)
            try:
                target = _stage(sub, assignment, course, batch)
                fingerprints[pair] = _tree_hash(target)
            except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
                batch.ungradable.append(
                    (sub.student_id, assignment, f"could not be staged for nbgrader: {exc}")
                )
                state["submissions"].pop(f"{sub.student_id}/{assignment}", None)
                continue
            autograded = course / "autograded" / sub.student_id / assignment / f"{assignment}.ipynb"
            if (
                state["submissions"].get(f"{sub.student_id}/{assignment}") == fingerprints[pair]
                and autograded.is_file()
            ):
                batch.kept += 1
            else:
                todo.append(pair)
    return todo, fingerprints


def _stage(sub, assignment, course, batch):
    """Stage one (student, assignment) into course/submitted/; returns that folder."""
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
        batch.notes.append(
            (
                student,
                assignment,
                f"{reason}: graded with the released notebook, so written "
                "answers in it were not collected (your rnnkit was graded as usual)",
            )
        )
    return course_mod.stage_submission(sub.folder, course, student, assignment)


def _add_students(course, students):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            gb.update_or_create_student(student)


def _check_all(todo, good, course, tmp, logs, jobs, check_timeout, internal_file):
    """Run each learner's package checks once, in the sandbox, for all the assignments to grade.

    One sandbox run (and one time budget) per learner instead of one per notebook; the
    outcomes go to tmp/outcomes/<student>/<assignment>.json, where the course's
    TrustedChecks (run by nbgrader autograde) takes them instead of running them again.
    The learners are shared among ``jobs`` freshly started processes, each one thread: a
    process that forks (to start a sandbox) while another of its threads is inside
    OpenBLAS can deadlock in OpenBLAS's fork handler.
    """
    import multiprocessing

    seed = int((course / SEED_FILE).read_text().strip())
    folders = {s.student_id: str(s.folder) for s in good}
    wanted = {}
    for assignment, student in todo:
        wanted.setdefault(student, []).append(assignment)
    tasks = [(student, folders[student], wanted[student]) for student in sorted(wanted)]
    if not tasks:
        return
    (tmp / "sandbox").mkdir(exist_ok=True)
    common = (seed, float(check_timeout), str(tmp), str(logs))
    context = multiprocessing.get_context("spawn")
    # Twice as many processes as jobs: each mostly waits for its sandbox to start and finish.
    with ProcessPoolExecutor(max_workers=min(2 * jobs, len(tasks)), mp_context=context) as pool:
        futures = {pool.submit(_check_learner, task, common): task[0] for task in tasks}
        for future, student in futures.items():
            try:
                future.result()
            except Exception:  # noqa: BLE001 - the grader's fault; TrustedChecks tries again and reports it
                _append_internal(internal_file, student, "*", "sandbox phase:\n" + traceback.format_exc())


def _check_learner(task, common):
    """One learner's checks (in a check-phase process); writes the outcomes per assignment."""
    from autograder.grading import checkrun

    student, folder, assignments = task
    seed, check_timeout, tmp, logs = common
    ids = [c.check_id for a in assignments for c in checks_for(a)]
    if not ids:
        return
    limits = sandbox.Limits(cpu_seconds=int(check_timeout * len(ids)) + 30,
                            wall_seconds=check_timeout * len(ids) + 60, idle_seconds=check_timeout)
    cases = _cases_for(seed, tuple(ids))
    work = Path(tmp) / "sandbox"
    outcomes, runs = checkrun.run_submission_checks(Path(folder), cases, ids, limits, work_dir=work)
    _sandbox_log(Path(logs) / f"sandbox-{student}.log", runs)
    # an internal error in an outcome is logged by TrustedChecks when it takes the outcome
    for assignment in assignments:
        mine = {c.check_id: outcomes[c.check_id] for c in checks_for(assignment) if c.check_id in outcomes}
        nbpre.write_outcomes(Path(tmp) / "outcomes" / student / f"{assignment}.json", mine)


@functools.lru_cache(maxsize=16)
def _cases_for(seed, ids):
    """The cases of these checks (the same for every learner of a batch: made once per process)."""
    from autograder.specs.cases import make_cases

    return make_cases(seed, check_ids=list(ids))


def _sandbox_log(path, runs):
    """What the sandbox runs printed (the ends of stdout and stderr), for the instructor."""
    with open(path, "w", encoding="utf-8") as log:
        for r in runs:
            stdout, stderr = (x[-5000:].decode(errors="replace") for x in (r.stdout, r.stderr))
            log.write(f"exit {r.returncode} stopped={r.killed_reason or '-'} {r.seconds:.1f}s "
                      f"sandboxed={r.sandboxed}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n")


def _autograde_all(
    todo, course, tmp, logs, batch, jobs, progress, check_timeout, allow_unsandboxed, internal_file
):
    """nbgrader autograde (with the trusted pipeline) and feedback for each pair; returns the pairs done."""
    config = {
        "TrustedChecks": {
            "check_timeout": float(check_timeout),
            "allow_unsandboxed": bool(allow_unsandboxed),
            "record_dir": str(course / RECORDS),
            "internal_errors": str(internal_file),
            "work_dir": str(tmp / "sandbox"),
            "precomputed_dir": str(tmp / "outcomes"),
        }
    }
    forbidden = [feedback.HIDDEN_BEGIN, feedback.HIDDEN_END, *_hidden_lines(course)]
    seed = (course / SEED_FILE).read_text().strip()
    if len(seed) >= 8:  # a short seed (tests) would match any page by chance
        forbidden.append(seed)
    runner = _Workers(course, course_mod.nbgrader_env(), logs, tmp, config, batch.out / "feedback", forbidden)
    bar = _Progress(len(todo), progress)
    done, failures = set(), {}

    def run_chunk(chunk):
        return runner.run(chunk, on_done=lambda: bar.step("notebook"))

    for attempt in ("as submitted", "locked", "released"):
        pairs = sorted(todo) if attempt == "as submitted" else sorted(failures)
        if attempt == "locked":  # a busy SQLite gradebook: the same notebooks once more
            pairs = [p for p in pairs if "database is locked" in failures[p]]
        if (
            attempt == "released"
        ):  # nbgrader could not grade the learner's notebook: the released one stands in
            pairs = [p for p in sorted(failures) if "database is locked" not in failures[p]
                     and nbpre.INTERNAL_ERROR not in failures[p]]
            for assignment, student in pairs:
                submitted = course / "submitted" / student / assignment / f"{assignment}.ipynb"
                shutil.copyfile(course / "release" / assignment / f"{assignment}.ipynb", submitted)
                batch.notes.append((student, assignment, _failure_note(failures[(assignment, student)])))
        if not pairs:
            continue
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes = {}
            for part in pool.map(run_chunk, _chunks(pairs, jobs)):
                outcomes.update(part)
        for pair, (ok, error, page) in outcomes.items():
            if ok:
                done.add(pair)
                failures.pop(pair, None)
                if page != "ok":
                    assignment, student = pair
                    if page.startswith("error:"):
                        _append_internal(internal_file, student, assignment, "feedback page: " + page)
                        page = "withheld: the page could not be made"
                    batch.notes.append((student, assignment, f"feedback {page}"))
            else:
                failures[pair] = error
    bar.close()
    for (assignment, student), error in sorted(failures.items()):
        if nbpre.INTERNAL_ERROR not in error:  # TrustedChecks logged its own errors already
            _append_internal(internal_file, student, assignment,
                             f"nbgrader autograde failed, even with the released notebook:\n{error}")
        reason = ("the grader failed on this submission (not your doing); your instructor will see "
                  "logs/internal-errors.log and grade it again")
        batch.ungradable.append((student, assignment, reason))
    batch.regraded = len(done)
    return done


def _append_internal(path, student, assignment, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"student": student, "assignment": assignment, "error": text}) + "\n")


def _internal_errors_log(jsonl, log_path, batch):
    """Turn the workers' JSON lines into logs/internal-errors.log; returns how many there were."""
    try:
        lines = Path(jsonl).read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    if entries:
        with open(log_path, "w", encoding="utf-8") as log:
            for e in entries:
                log.write(f"=== {e.get('student')} {e.get('assignment')}\n{e.get('error')}\n\n")
    return len(entries)


class _Workers:
    """Runs ``autograder.grading.nbworker`` processes over lists of (assignment, student)."""

    def __init__(self, course, env, logs, tmp, config, feedback_dir, forbidden):
        self.course, self.env, self.logs, self.tmp, self.config = course, env, logs, tmp, config
        self.feedback_dir, self.forbidden = feedback_dir, forbidden
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
        job_file = self.tmp / f"job-{n}.json"
        results = self.tmp / f"results-{n}.jsonl"
        job = {
            "course": str(self.course),
            "pairs": [list(p) for p in pairs],
            "config": self.config,
            "results": str(results),
            "feedback": str(self.feedback_dir),
            "forbidden": self.forbidden,
        }
        job_file.write_text(json.dumps(job))
        with open(self.logs / f"autograde-{n}.log", "w", encoding="utf-8") as log:
            command = [sys.executable, "-m", "autograder.grading.nbworker", str(job_file)]
            proc = subprocess.Popen(
                command,
                cwd=self.course,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            reported = 0
            # A backstop: no notebook may hold the batch up for long (the worker is stopped; the
            # notebooks it had not finished are reported and tried again with the released one).
            deadline = time.monotonic() + self.seconds_per_pair * len(pairs)
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


def _failure_note(error):
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


def _hidden_lines(course):
    lines = []
    for path in sorted((course / "source").glob("*/*.ipynb")):
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            source = cell.get("source", "")
            lines += feedback.hidden_lines("".join(source) if isinstance(source, list) else source)
    return lines


def _tables(course, state, batch):
    """grades.csv and results.csv rows, read back from the gradebook and the trusted records."""
    from nbgrader.api import Gradebook, MissingEntry

    this_run = {(s, a) for s, a, _r in batch.ungradable}
    refused = {s for s, a, _r in batch.ungradable if a == "*"}  # the whole submission, this time
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for key in sorted(state["submissions"]):
            student, assignment = key.split("/", 1)
            if (student, assignment) in this_run or student in refused:
                continue
            try:
                sub = gb.find_submission(assignment, student)
                nb = gb.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                continue
            batch.graded[(student, assignment)] = (float(sub.score), float(sub.max_score))
            try:
                record = json.loads(
                    (course / RECORDS / student / f"{assignment}.json").read_text(encoding="utf-8")
                )
            except (OSError, ValueError):
                record = {}
            scores = {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
            for spec in checks_for(assignment):
                if spec.grade_id in scores:
                    score, max_score = scores[spec.grade_id]
                    message = (record.get(spec.check_id) or {}).get("message", "")
                    batch.results.append((student, assignment, spec.check_id, score, max_score, message))


def _write_tables(batch, out):
    def write(name, header, rows):
        tmp = out / (name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, out / name)

    write(
        "grades.csv",
        ["student_id", "assignment", "score", "max_score"],
        [(s, a, _num(sc), _num(mx)) for (s, a), (sc, mx) in sorted(batch.graded.items())],
    )
    write(
        "results.csv",
        ["student_id", "assignment", "test_id", "score", "max_score", "message"],
        [(s, a, t, _num(sc), _num(mx), m) for s, a, t, sc, mx, m in batch.results],
    )
    write("ungradable.csv", ["student_id", "assignment", "reason"], sorted(batch.ungradable))
    write("notes.csv", ["student_id", "assignment", "note"], batch.notes)


def _num(x):
    return f"{float(x or 0):g}"
