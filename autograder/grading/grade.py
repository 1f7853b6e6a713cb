"""python -m autograder grade SUBS --out OUT [--jobs N]: grade a class.

SUBS holds one entry per learner: ``SUBS/<student_id>/`` (the learner's filled course
folder: lessons/, rnnkit/, ...) or ``SUBS/<student_id>.zip`` (a zip of one, with or
without a top-level folder). SUBS may also be what a class hands in through other
channels, taken as it comes: an nbgrader course directory or its ``submitted/`` folder
(``nbgrader collect``: ``submitted/<student>/<assignment>/`` with ``timestamp.txt``; see
``autograder.grading.exchange``), or a Moodle or Canvas "download all submissions" zip
or its extracted folder (see ``autograder.grading.lms``; ``--roster FILE`` maps the LMS's
learners to names, emails and SIS ids). Submissions are copied; SUBS is never written.

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
  ``course/feedback/`` for ``nbgrader release_feedback``. Both folders hold ``_mathjax/``,
  the local MathJax the pages load (a page moved without it loads MathJax from its CDN).
- ``submissions.csv``: student_id, assignment, source, submitted_at, late, seconds_late,
  intake: every hand-in taken in, with its time and lateness when known (nbgrader's
  timestamp.txt against the course's due dates, Canvas's LATE, Moodle's file time).
- LMS downloads: ``roster.csv`` (student_id, full name, LMS id, ...: who is who) and the
  files to import into the LMS's gradebook (``canvas-grades.csv``; ``moodle-worksheet.csv``,
  ``moodle-gradebook.csv``).
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

import contextlib
import csv
import functools
import hashlib
import json
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import paths, regions
from autograder.building import course as course_mod
from autograder.building.release import ReleaseError
from autograder.checks.registry import checks_for
from autograder.grading import checkrun, feedback, gradebook, nbpre, nbrunner, sandbox, staging, submissions
from autograder.grading.limits import CHECK_TIMEOUT
from autograder.specs.cases import make_cases

STATE = ".grading-state.json"  # in OUT/course: fingerprint of the course, hashes of graded submissions
SEED_FILE = ".grading-seed"  # in OUT/course, mode 600 (also read by nbgrader autograde there)




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
            roster=args.roster,
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
    extra_tables: list = field(default_factory=list)  # names of the intake's own tables (roster, LMS files)

    def absorb(self, phase):
        """Add a phase's ungradable pairs and notes to the batch's."""
        self.ungradable += phase.ungradable
        self.notes += phase.notes

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
        if self.extra_tables:
            lines.append("Also written: " + ", ".join(str(self.out / name) for name in self.extra_tables))
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


# --------------------------------------------------------------------------- the phases


def grade(
    subs,
    out,
    jobs=1,
    assignments=None,
    check_timeout=CHECK_TIMEOUT,
    seed=None,
    progress=True,
    allow_unsandboxed=False,
    rebuild_course=False,
    roster=None,
):
    """Grade every submission in ``subs`` into ``out``; returns a Batch (see the module docstring).

    The phases: intake -> stage -> check -> record (nbgrader autograde and feedback) -> tables.
    """
    started = time.monotonic()
    subs, out = _check_paths(subs, out)
    assignments = _check_assignments(assignments)
    batch = Batch(out)
    batch.sandbox = _decide_sandbox(allow_unsandboxed)
    jobs = max(1, int(jobs))
    logs = _fresh_logs(out)
    course, state = _prepare_course(out / "course", rebuild_course)
    if _prepare_seed(course, seed):
        state["submissions"] = {}  # a new seed: every submission is graded again
    batch.timings["course"] = time.monotonic() - started

    with tempfile.TemporaryDirectory(prefix="rnn-grade-") as tmp:
        tmp = Path(tmp)
        internal_file = tmp / "internal-errors.jsonl"  # the nbgrader workers append theirs too

        with _timed(batch, "intake"):
            taken = intake(subs, tmp / "subs", roster)
        batch.absorb(taken)
        batch.students = [s.student_id for s in taken.good]

        with _timed(batch, "stage"):
            staged = stage(taken.good, assignments, course, state["submissions"])
        batch.absorb(staged)
        batch.kept = staged.kept
        for key in staged.forget:
            state["submissions"].pop(key, None)

        with _timed(batch, "checks"):
            gradebook.add_students(course, batch.students)
            taken.whole.prepare_course(course)  # due dates, extensions, learners' names
            check(staged.todo, taken.good, course, tmp, logs, jobs, check_timeout, internal_file,
                  require_bwrap=batch.sandbox == "bubblewrap")

        with _timed(batch, "grading"):
            unsandboxed = allow_unsandboxed and batch.sandbox != "bubblewrap"
            recorded = record(staged.todo, course, tmp, logs, batch.out / "feedback", jobs, progress,
                              check_timeout, unsandboxed, internal_file)
        batch.absorb(recorded)
        batch.regraded = len(recorded.done)
        for student, assignment, text in recorded.internal:
            _append_internal(internal_file, student, assignment, text)
        for pair in recorded.done:
            state["submissions"][f"{pair[1]}/{pair[0]}"] = staged.fingerprints[pair]
        _save_state(course, state)
        batch.internal_errors += _internal_errors_log(internal_file, logs / "internal-errors.log")

    with _timed(batch, "tables"):
        batch.graded, batch.results = tables(course, state["submissions"], batch.ungradable)
    batch.seconds = time.monotonic() - started
    _write_tables(batch, out)
    batch.extra_tables = taken.whole.write_tables(out, batch.graded, assignments)
    return batch


@contextlib.contextmanager
def _timed(batch, phase):
    start = time.monotonic()
    yield
    batch.timings[phase] = time.monotonic() - start


def _check_paths(subs, out):
    subs, out = Path(subs).resolve(), Path(out).resolve()
    if not subs.is_dir() and not (subs.is_file() and subs.suffix.lower() == ".zip"):
        raise GradingError(f"{subs} is not a folder (nor a Moodle or Canvas download .zip)")
    if out == subs or subs in out.parents or (out in subs.parents and subs.is_dir()):
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


def _fresh_logs(out):
    """OUT/logs, emptied: it holds this run's logs only."""
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    if logs.is_dir() and not logs.is_symlink():
        shutil.rmtree(logs)
    logs.mkdir()
    return logs


# --------------------------------------------------------------------------- the course and its state


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


def _prepare_course(course, rebuild):
    """The course directory to grade in, and its grading state: kept when current, else (re)built."""
    fingerprint = course_fingerprint()
    state = _load_state(course)
    if state is not None and state.get("fingerprint") == fingerprint and (course / "gradebook.db").is_file():
        return course, state
    if course.exists():
        try:
            entered = gradebook.hand_entered(course)
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
                f"(python -m autograder export {course.parent}) and pass --rebuild-course."
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


# --------------------------------------------------------------------------- intake and stage


@dataclass
class Intake:
    good: list  # submissions.Submission taken in (a folder to grade)
    ungradable: list = field(default_factory=list)  # (student, "*", reason)
    notes: list = field(default_factory=list)  # (student, "*" or assignment, note)
    whole: submissions.Intake | None = None  # as taken in (its tables: submissions.csv, roster.csv, ...)


def intake(subs, work, roster=None):
    """Take every submission of SUBS into ``work`` (copied, checked, repaired); returns an Intake."""
    from autograder.grading.lms import RosterError

    try:
        whole = submissions.take_in(subs, work, roster=roster)
    except (submissions.IntakeError, RosterError) as exc:
        raise GradingError(str(exc)) from exc
    return Intake(good=whole.good(), ungradable=whole.ungradable_rows(), notes=whole.note_rows(), whole=whole)


@dataclass
class Staged:
    todo: list = field(default_factory=list)  # (assignment, student) to autograde in this run
    fingerprints: dict = field(default_factory=dict)  # (assignment, student) -> hash of what was staged
    kept: int = 0  # pairs unchanged since an earlier run (not graded again)
    forget: list = field(default_factory=list)  # "student/assignment": the earlier grade no longer stands
    ungradable: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def stage(good, assignments, course, graded_before):
    """Stage every (student, assignment) into course/submitted; returns a Staged.

    ``graded_before`` maps "student/assignment" to the hash of the submission graded last
    time: an unchanged submission whose autograded notebook exists is kept, not graded again.
    """
    staged = Staged()
    for sub in good:
        for assignment in assignments:
            pair, key = (assignment, sub.student_id), f"{sub.student_id}/{assignment}"
            if not sub.submitted(assignment):  # nbgrader's exchange: not handed in, nothing to grade
                continue
            if sub.folder_for(assignment) is None:
                staged.ungradable.append((sub.student_id, assignment, sub.problem_for(assignment)))
                staged.forget.append(key)
                continue
            try:
                target = _stage_one(sub, assignment, course, staged.notes)
                submissions.stage_extras(sub, assignment, target)
                staged.fingerprints[pair] = _tree_hash(target)
            except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
                reason = f"could not be staged for nbgrader: {exc}"
                staged.ungradable.append((sub.student_id, assignment, reason))
                staged.forget.append(key)
                continue
            autograded = course / "autograded" / sub.student_id / assignment / f"{assignment}.ipynb"
            if graded_before.get(key) == staged.fingerprints[pair] and autograded.is_file():
                staged.kept += 1
            else:
                staged.todo.append(pair)
    return staged


def _stage_one(sub, assignment, course, notes):
    """Stage one (student, assignment) into course/submitted/ (notes go to ``notes``); returns that folder."""
    student, folder = sub.student_id, sub.folder_for(assignment)
    lessons = folder / "lessons"
    lessons.mkdir(exist_ok=True)
    target = lessons / f"{assignment}.ipynb"
    found = submissions.find_notebook(folder, assignment)
    released = course / "release" / assignment / f"{assignment}.ipynb"
    reason = ""
    if found is None:
        reason = "notebook missing"
    else:
        try:
            nb = submissions.read_notebook(found)
            notes += [(student, assignment, note) for note in submissions.repair_notebook(nb)]
            submissions.write_notebook(nb, target)
        except (submissions.IntakeError, OSError) as exc:
            reason = str(exc)
    if reason:
        shutil.copyfile(released, target)
        notes.append((student, assignment, f"{reason}: graded with the released notebook, so written "
                      "answers in it were not collected (your rnnkit was graded as usual)"))
    return staging.stage_submission(folder, course, student, assignment)


def _tree_hash(folder):
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# --------------------------------------------------------------------------- check


def check(todo, good, course, tmp, logs, jobs, check_timeout, internal_file, require_bwrap=True):
    """Run each learner's package checks once, in the sandbox, for all the assignments to grade.

    With ``require_bwrap`` (grading decided on bubblewrap), a check process where bubblewrap
    fails runs nothing: the failure is logged as the grader's own, and nbgrader's TrustedChecks
    refuses those learners in turn, so no learner code runs outside the sandbox unannounced.

    One sandbox run (and one time budget) per learner instead of one per notebook; the
    outcomes go to tmp/outcomes/<student>/<assignment>.json, where the course's
    TrustedChecks (run by nbgrader autograde) takes them instead of running them again.
    The learners are shared among ``jobs`` freshly started processes, each one thread: a
    process that forks (to start a sandbox) while another of its threads is inside
    OpenBLAS can deadlock in OpenBLAS's fork handler.
    """
    seed = int((course / SEED_FILE).read_text().strip())
    tasks = submissions.check_tasks(good, todo)  # one per learner (per hand-in for nbgrader's exchange)
    if not tasks:
        return
    (tmp / "sandbox").mkdir(exist_ok=True)
    common = (seed, float(check_timeout), str(tmp), str(logs), require_bwrap)
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
    student, folder, assignments = task
    seed, check_timeout, tmp, logs, require_bwrap = common
    ids = [c.check_id for a in assignments for c in checks_for(a)]
    if not ids:
        return
    limits = sandbox.Limits(cpu_seconds=int(check_timeout * len(ids)) + 30,
                            wall_seconds=check_timeout * len(ids) + 60, idle_seconds=check_timeout)
    cases = _cases_for(seed, tuple(ids))
    work = Path(tmp) / "sandbox"
    outcomes, runs = checkrun.run_submission_checks(Path(folder), cases, ids, limits, work_dir=work,
                                                    require_bwrap=require_bwrap)
    _sandbox_log(Path(logs) / f"sandbox-{student}.log", runs)
    # an internal error in an outcome is logged by TrustedChecks when it takes the outcome
    for assignment in assignments:
        mine = {c.check_id: outcomes[c.check_id] for c in checks_for(assignment) if c.check_id in outcomes}
        nbpre.write_outcomes(Path(tmp) / "outcomes" / student / f"{assignment}.json", mine)


@functools.lru_cache(maxsize=16)
def _cases_for(seed, ids):
    """The cases of these checks (the same for every learner of a batch: made once per process)."""
    return make_cases(seed, check_ids=list(ids))


def _sandbox_log(path, runs):
    """What the sandbox runs printed (the ends of stdout and stderr), for the instructor."""
    with open(path, "a", encoding="utf-8") as log:  # a learner's hand-ins may each have a run
        for r in runs:
            stdout, stderr = (x[-5000:].decode(errors="replace") for x in (r.stdout, r.stderr))
            log.write(f"exit {r.returncode} stopped={r.killed_reason or '-'} {r.seconds:.1f}s "
                      f"sandboxed={r.sandboxed}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n")


# --------------------------------------------------------------------------- record and feedback


def record(todo, course, tmp, logs, feedback_dir, jobs, progress, check_timeout, allow_unsandboxed,
           internal_file):
    """nbgrader autograde (with the trusted pipeline) and the feedback page for each pair.

    Returns a nbrunner.Recorded (the pairs done, notes, ungradable pairs, the grader's own errors).
    """
    config = {
        "TrustedChecks": {
            "check_timeout": float(check_timeout),
            "allow_unsandboxed": bool(allow_unsandboxed),
            "record_dir": str(course / gradebook.RECORDS),
            "internal_errors": str(internal_file),
            "work_dir": str(tmp / "sandbox"),
            "precomputed_dir": str(tmp / "outcomes"),
        }
    }
    forbidden = feedback_forbidden(course)
    workers = nbrunner.Workers(course, course_mod.nbgrader_env(), logs, tmp, config, feedback_dir, forbidden)
    return nbrunner.autograde_all(todo, course, workers, jobs, progress)


def feedback_forbidden(course):
    """What no feedback page of this course may show: ``write_feedback``'s ``forbidden`` list.

    Inputs:
    - course: the nbgrader course directory grading wrote (OUT/course, holding source/ and the seed)

    Returns:
    - list of str: the hidden-test region markers, the lines inside hidden-test regions of the
      source notebooks, and the grading seed (unless shorter than 8 characters)
    """
    course = Path(course)
    forbidden = [*regions.HIDDEN_TESTS, *_hidden_lines(course)]
    seed = (course / SEED_FILE).read_text().strip()
    if len(seed) >= 8:  # a short seed (tests) would match any page by chance
        forbidden.append(seed)
    return forbidden


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


def _append_internal(path, student, assignment, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"student": student, "assignment": assignment, "error": text}) + "\n")


def _internal_errors_log(jsonl, log_path):
    """Turn the JSON lines of the grader's own errors into logs/internal-errors.log; returns their count."""
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


# --------------------------------------------------------------------------- tables


def tables(course, graded_state, ungradable):
    """grades.csv and results.csv rows, read back from the gradebook and the trusted records.

    Every pair graded in this run or before is listed, except those this run found ungradable
    and every pair of a learner whose whole submission was refused this time.
    Returns (graded, results) as gradebook.read_grades does.
    """
    this_run = {(s, a) for s, a, _r in ungradable}
    refused = {s for s, a, _r in ungradable if a == "*"}
    pairs = [tuple(key.split("/", 1)) for key in sorted(graded_state)]
    pairs = [(s, a) for s, a in pairs if (s, a) not in this_run and s not in refused]
    return gradebook.read_grades(course, pairs)


def _write_tables(batch, out):
    def write(name, header, rows):
        tmp = out / (name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            # names, notes and messages come from learners' files: no cell may run as a formula
            writer.writerows([[submissions.csv_cell(v) for v in row] for row in rows])
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
