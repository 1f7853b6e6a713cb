"""One process running nbgrader's autograde or generate_feedback for a list of (assignment, student).

``python -m autograder.nbworker JOB.json`` reads::

    {"course": "/abs/course", "action": "autograde" | "feedback",
     "pairs": [["04-lstm", "alice"], ...], "config": {"Execute": {"timeout": 30}, ...},
     "skip": null | "experiments" | "all", "results": "/abs/results.jsonl"}

and calls nbgrader's own Python API (``NbGraderAPI.autograde`` / ``generate_feedback``)
once per pair, in this one process: nbgrader is imported once, the course's
``nbgrader_config.py`` is loaded once, and one learner's failure is one line of
results (``{"assignment", "student", "success", "error"}``), not a failed batch.
With ``skip`` "experiments" the notebooks' ungraded code cells are not run, with
"all" no code cell runs (``autograder.nbpre``).
Several workers may share the SQLite gradebook (it exists before they start).
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    course = job["course"]
    os.chdir(course)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
    config.merge(Config(job.get("config", {})))
    skip = job.get("skip")  # None, "experiments" or "all"
    if skip:
        from nbgrader.converters.autograde import Autograde

        from .nbpre import SkipAllCode, SkipExperiments

        defaults = Autograde.class_traits()["autograde_preprocessors"].default()
        first = SkipAllCode if skip == "all" else SkipExperiments
        config.Autograde.autograde_preprocessors = [first, *defaults]
    config.CourseDirectory.root = course
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    with open(job["results"], "a", encoding="utf-8") as results:
        for assignment, student in job["pairs"]:
            try:
                if job["action"] == "autograde":
                    outcome = api.autograde(assignment, student, force=True, create=True)
                else:
                    outcome = api.generate_feedback(assignment, student, force=True)
            except Exception:  # noqa: BLE001 - recorded for this pair, the others go on
                outcome = {"success": False, "error": traceback.format_exc()}
            error = str(outcome.get("error") or "")[-3000:]
            if not outcome.get("success"):  # nbgrader's exception says "see the log": keep the log's end
                error += "\n" + str(outcome.get("log") or "")[-3000:]
            line = {"assignment": assignment, "student": student, "success": bool(outcome.get("success")),
                    "error": error}
            sys.stderr.write(str(outcome.get("log") or "")[-20000:])
            results.write(json.dumps(line) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
