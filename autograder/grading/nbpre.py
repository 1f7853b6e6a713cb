"""nbgrader preprocessors of the course's autograde pipeline: no learner code runs unconfined.

The course's ``nbgrader_config.py`` (written by ``python -m autograder course``) replaces
nbgrader's defaults, so ``nbgrader autograde``, formgrader's Autograde button and
``python -m autograder grade`` all grade the same way:

- sanitize phase: ``KeepSafeOutputs`` stands where nbgrader's ``ClearOutput`` stood. The
  learner's saved outputs are kept for the instructor and the feedback page, but only
  as inert text and checked images (``autograder.grading.sanitize``); markdown is made inert.
- autograde phase: ``TrustedChecks`` stands where ``Execute`` stood. The notebook is
  never executed. Each check cell (``check("lstm.forget_gate")``) gets the score that
  the trusted judge gave the learner's ``rnnkit/`` run in the sandbox
  (``autograder.grading.checkrun``), written as the cell's output so that nbgrader's own
  ``SaveAutoGrades`` records it: full marks as plain output, partial credit as a number,
  zero as an error. Any other auto-graded code cell scores 0: only trusted checks give
  points. Written answers are graded by hand in formgrader, as before.

Executing a learner's notebook would decide no points (every point comes from the
sandboxed checks or from the instructor) and would run learner code as the grading
user, next to the gradebook; so it is not done.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import tempfile
import traceback
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from autograder.checks.compare import MISSING_RESULT, Outcome
from autograder.checks.registry import checks_for
from autograder.grading import checkrun, sandbox, sanitize
from autograder.grading.limits import CHECK_TIMEOUT
from autograder.specs.cases import make_cases

# In the text of the exception TrustedChecks raises when the grader itself failed: no grade is
# recorded for that notebook (never a 0 the learner did not earn), and the error is logged.
INTERNAL_ERROR = "internal grading error (not the learner's doing)"

NOT_TRUSTED = (
    "This cell is not a check of your rnnkit: at grading time notebooks are not run, so it "
    "cannot score. (Your instructor: only check(...) cells are auto-graded in this course.)"
)


def _coursedir(pp):
    """The CourseDirectory of the converter running this preprocessor (exporter -> converter)."""
    parent = pp.parent
    while parent is not None:
        coursedir = getattr(parent, "coursedir", None)
        if coursedir is not None:
            return coursedir
        parent = getattr(parent, "parent", None)
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=pp.config)


class KeepSafeOutputs(NbGraderPreprocessor):
    """Keep the learner's saved outputs as inert text and checked images; make markdown inert."""

    def preprocess(self, nb, resources):
        coursedir = _coursedir(self)
        notes = sanitize.sanitize_notebook(nb, placeholder_paths=[str(Path(coursedir.root).resolve())])
        resources.setdefault("nbgrader", {})["sanitize_notes"] = notes
        return nb, resources


def _stream(text):
    from nbformat.v4 import new_output

    return new_output("stream", name="stdout", text=text)


def _points(x):
    return f"{float(x):g}"


def check_outputs(score, max_score, message):
    """The outputs of a check cell that make nbgrader's ``determine_grade`` give ``score``."""
    from nbformat.v4 import new_output

    head = f"Graded outside the notebook: {_points(score)} / {_points(max_score)} points."
    outputs = [_stream(f"{head}\n{message}\n")]
    if score <= 0:
        outputs.append(new_output("error", ename="CheckFailed", evalue=head, traceback=[head]))
    elif score < max_score:
        outputs.append(
            new_output("execute_result", data={"text/plain": repr(float(score))}, execution_count=None)
        )
    return outputs


class TrustedChecks(NbGraderPreprocessor):
    """Score the check cells from the sandboxed, trusted checks; run nothing of the notebook."""

    seed = Integer(None, allow_none=True, help="grading seed of the hidden cases (else seed_file)").tag(
        config=True
    )
    seed_file = Unicode("", help="file holding the grading seed (made on first use, mode 600)").tag(
        config=True
    )
    check_timeout = Float(CHECK_TIMEOUT, help="seconds one function's checks may take in the sandbox").tag(
        config=True)
    allow_unsandboxed = Bool(False, help="grade without bubblewrap (learner code is then NOT isolated)").tag(
        config=True
    )
    record_dir = Unicode("", help="folder for <student>/<assignment>.json outcome records").tag(config=True)
    internal_errors = Unicode("", help="JSON-lines file for errors of the grader itself").tag(config=True)
    precomputed_dir = Unicode(
        "", help="folder of <student>/<assignment>.json outcomes already decided by grade's sandbox phase"
    ).tag(config=True)
    work_dir = Unicode("", help="folder for the sandbox's temporary files (default: system temp)").tag(
        config=True
    )

    def _seed(self):
        if self.seed is not None:
            return int(self.seed)
        path = Path(self.seed_file or Path(_coursedir(self).root) / ".grading-seed")
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            pass
        value = secrets.randbits(62)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{value}\n")
        return value

    def _log_internal(self, student, assignment, text):
        self.log.error("internal grading error for %s/%s:\n%s", student, assignment, text)
        if self.internal_errors:
            with open(self.internal_errors, "a", encoding="utf-8") as f:
                f.write(json.dumps({"student": student, "assignment": assignment, "error": text}) + "\n")

    def outcomes(self, submitted, student, assignment):
        """{check_id: Outcome} of this assignment's checks for the submitted folder."""
        ids = [s.check_id for s in checks_for(assignment)]
        if not ids:
            return {}
        decided = None
        if self.precomputed_dir:
            decided = read_outcomes(Path(self.precomputed_dir) / student / f"{assignment}.json")
        if decided is None:
            decided = self._run_checks(submitted, ids)
        for check_id, outcome in decided.items():
            if getattr(outcome, "internal", ""):
                self._log_internal(student, assignment, f"{check_id}: {outcome.internal}")
        return decided

    def _run_checks(self, submitted, ids):
        if not self.allow_unsandboxed and not sandbox.bubblewrap_available():
            raise RuntimeError(
                "bubblewrap (Debian package 'bubblewrap') is not available, so learner code "
                "cannot be sandboxed; install it, or set TrustedChecks.allow_unsandboxed = True "
                "(grade: --allow-unsandboxed) to grade without isolation"
            )
        cases = make_cases(self._seed(), check_ids=ids)
        limits = sandbox.Limits(
            cpu_seconds=int(self.check_timeout * len(ids)) + 30,
            wall_seconds=self.check_timeout * len(ids) + 60,
            idle_seconds=self.check_timeout,
        )
        work = self.work_dir or None
        if work:
            Path(work).mkdir(parents=True, exist_ok=True)
        outcomes, _runs = checkrun.run_submission_checks(submitted, cases, ids, limits, work_dir=work,
                                                         require_bwrap=not self.allow_unsandboxed)
        return outcomes

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment = info["student"], info["assignment"]
        coursedir = _coursedir(self)
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        by_grade_id = {s.grade_id: s for s in checks_for(assignment)}
        # nbgrader copied the submitted files and source/'s package next to this notebook; nothing runs
        # here, and generate_feedback would hand those copies (earlier lessons' reference code) out.
        remove_all_but_notebooks(coursedir.format_path(coursedir.autograded_directory, student, assignment))
        links = _special_entries(submitted)
        if links:
            raise ValueError(
                f"the submission holds links or special files ({', '.join(links[:5])}): it is not "
                "graded; ask the learner to submit regular files only"
            )
        try:
            outcomes = self.outcomes(submitted, student, assignment)
        except Exception as exc:  # noqa: BLE001 - the grader's fault: logged, never blamed on the learner
            self._log_internal(student, assignment, traceback.format_exc())
            raise RuntimeError(f"{INTERNAL_ERROR}: {exc.__class__.__name__}") from exc
        internal = [c for c, o in outcomes.items() if getattr(o, "internal", "")]
        if internal:
            raise RuntimeError(f"{INTERNAL_ERROR} in the checks {', '.join(internal)}: see the log")
        recorded = {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {}) or {}
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            spec = by_grade_id.get(meta.get("grade_id"))
            if spec is None:
                cell.outputs = check_outputs(0.0, float(meta.get("points", 0) or 0), NOT_TRUSTED)
                continue
            outcome = outcomes.get(spec.check_id)
            if outcome is None:
                outcome = Outcome(0.0, float(spec.points), MISSING_RESULT)
            score = min(max(float(outcome.score), 0.0), float(spec.points))
            cell.outputs = check_outputs(score, float(spec.points), outcome.message)
            cell.execution_count = None
            recorded[spec.check_id] = {
                "grade_id": spec.grade_id,
                "score": score,
                "max_score": float(spec.points),
                "message": outcome.message,
                "internal": bool(getattr(outcome, "internal", "")),
            }
        if self.record_dir:
            path = Path(self.record_dir) / student / f"{assignment}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as f:
                json.dump(recorded, f)
            os.replace(f.name, path)
        return nb, resources


def guard_submitted_files():
    """Make nbgrader's Autograde refuse a submission holding links or special files before it copies
    anything: its ``init_assignment`` copies every submitted file with ``shutil.copy``, which
    follows links (a link to /dev/zero fills the disk) and opens FIFOs, before any preprocessor
    runs. nbgrader has no hook that can refuse (its pre-convert hook's errors are only logged), so
    the method is wrapped once, here. Called by the course's nbgrader_config.py."""
    from nbgrader.converters import Autograde

    if getattr(Autograde.init_assignment, "_rnn_guarded", False):
        return
    original = Autograde.init_assignment

    @functools.wraps(original)
    def init_assignment(self, assignment_id, student_id):
        folder = self.coursedir.format_path(self.coursedir.submitted_directory, student_id, assignment_id)
        special = _special_entries(folder)
        if special:
            raise ValueError(f"the submission holds links or special files ({', '.join(special[:5])}): it is "
                             "not graded; ask the learner to submit regular files only")
        return original(self, assignment_id, student_id)

    init_assignment._rnn_guarded = True
    Autograde.init_assignment = init_assignment


def write_outcomes(path, outcomes):
    """Save {check_id: Outcome} (written by the trusted side only) as JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {c: {"score": o.score, "max_score": o.max_score, "message": o.message,
                "internal": getattr(o, "internal", "")} for c, o in outcomes.items()}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(f.name, path)


def read_outcomes(path):
    """{check_id: Outcome} saved by ``write_outcomes``, or None if there is no such file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {c: Outcome(float(d["score"]), float(d["max_score"]), str(d["message"]),
                       str(d.get("internal", ""))) for c, d in data.items()}


def _special_entries(folder):
    """Relative paths of everything below folder that is neither a regular file nor a folder."""
    found = []
    stack = [Path(folder)]
    while stack and len(found) < 20:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                found.append(os.path.relpath(entry.path, folder))
    return found


NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")  # written by nbgrader's exchange


def remove_all_but_notebooks(folder):
    """Delete everything in folder but the notebooks and nbgrader's own small files (release_feedback
    needs them); links and anything else are deleted, never followed."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in os.scandir(folder):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        elif not (entry.is_file(follow_symlinks=False)
                  and (entry.name.endswith(".ipynb") or entry.name in NBGRADER_FILES)):
            path.unlink(missing_ok=True)
