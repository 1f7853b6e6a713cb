"""One process running nbgrader's autograde, then writing feedback, for a list of (assignment, student).

``python -m autograder.grading.nbworker JOB.json`` reads::

    {"course": "/abs/course", "pairs": [["04-lstm", "alice"], ...],
     "config": {"TrustedChecks": {...}, ...}, "results": "/abs/results.jsonl",
     "feedback": "/abs/OUT/feedback", "forbidden": ["..."]}

and calls nbgrader's own Python API (``NbGraderAPI.autograde``) once per pair, in this
one process: nbgrader is imported once and the course's ``nbgrader_config.py`` is loaded
once. The course's pipeline runs no learner code outside the sandbox (``autograder.grading.nbpre``).
For each pair that autograded, the feedback page is written (``autograder.grading.feedback``).
One learner's failure is one line of results (``{"assignment", "student", "success",
"error", "feedback"}``), not a failed batch. Several workers share the SQLite gradebook
(it exists before they start).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.grading import feedback


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    course = job["course"]
    os.chdir(course)
    config = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
    config.merge(Config(job.get("config", {})))
    config.CourseDirectory.root = course
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    with open(job["results"], "a", encoding="utf-8") as results:
        for assignment, student in job["pairs"]:
            try:
                outcome = api.autograde(assignment, student, force=True, create=True)
            except Exception:  # noqa: BLE001 - recorded for this pair, the others go on
                outcome = {"success": False, "error": traceback.format_exc()}
            error = str(outcome.get("error") or "")[-3000:]
            if not outcome.get("success"):  # nbgrader's exception says "see the log": keep the log's end
                error += "\n" + str(outcome.get("log") or "")[-3000:]
            page = ""
            if outcome.get("success") and job.get("feedback"):
                try:
                    page = feedback.write_feedback(
                        course, student, assignment, job["feedback"], forbidden=job.get("forbidden", [])
                    )
                except Exception:  # noqa: BLE001 - the grader's fault; reported, the grade stands
                    page = "error: " + traceback.format_exc()[-3000:]
            line = {
                "assignment": assignment,
                "student": student,
                "success": bool(outcome.get("success")),
                "error": error,
                "feedback": page,
            }
            sys.stderr.write(str(outcome.get("log") or "")[-20000:])
            results.write(json.dumps(line) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
