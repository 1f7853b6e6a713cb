"""Checks of the learner's rnnkit functions.

In the learner's course folder this package is ``rnncheck``; in the instructor's
repository it is ``autograder.checks``. It holds the published fixtures, the
comparison rules and the executor that calls the learner's functions, and no
reference code: expected values come from the fixture files.
"""

from .compare import GROUPS, TOLERANCES, Outcome, Tolerance
from .notebook import check, ready, show_setup
from .registry import CHECKS, CHECKS_BY_ID, LESSONS, checks_for

__all__ = [
    "CHECKS",
    "CHECKS_BY_ID",
    "GROUPS",
    "LESSONS",
    "TOLERANCES",
    "Outcome",
    "Tolerance",
    "check",
    "checks_for",
    "ready",
    "show_setup",
]
