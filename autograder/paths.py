"""Where things are in this repository: the one definition of each folder the toolkit reads."""

from pathlib import Path

AUTOGRADER = Path(__file__).resolve().parent  # the instructor toolkit
REPO = AUTOGRADER.parent  # the repository (or installed source tree)
RNNKIT = REPO / "rnnkit"  # the reference package, with solution regions filled in
SOLUTIONS = REPO / "solutions"  # instructor notebooks in nbgrader source form
LESSONS = REPO / "lessons"  # learner notebooks generated from SOLUTIONS
CHECKS = AUTOGRADER / "checks"  # the checks package that ships to learners (as rnncheck)
FIXTURES = CHECKS / "fixtures"  # the published cases of the visible checks
FORMGRADER_TEMPLATES = AUTOGRADER / "grading" / "formgrader_templates"  # formgrader loads the local MathJax
