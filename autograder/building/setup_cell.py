"""Canonical text of the cells every lesson shares.

The set-up cell is the first code cell of every notebook in solutions/ and lessons/
(grade_id "setup", locked). It finds the course folder (the folder holding rnnkit/:
the working directory or one above it), puts it first on sys.path, imports the
checks (``rnncheck`` in a learner's folder, ``autograder.checks`` in this
repository) and reports which rnnkit is in use. A test keeps every lesson's cell
equal to this text.
"""

SETUP_GRADE_ID = "setup"

SETUP_CELL = "\n".join([
    "# Set-up: use this course folder's own rnnkit (the one you edit) and its checks.",
    "%load_ext autoreload",
    "%autoreload 2",
    "import pathlib",
    "import sys",
    "",
    "COURSE_DIR = next((d for d in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]"
    ' if (d / "rnnkit").is_dir()), None)',
    'assert COURSE_DIR, "No rnnkit/ folder here or above:'
    ' open this notebook from inside the course folder."',
    "sys.path.insert(0, str(COURSE_DIR))",
    "try:",
    "    from rnncheck import check, ready, show_setup",
    "except ImportError:  # the instructor's repository, where the checks live in autograder/",
    "    from autograder.checks import check, ready, show_setup",
    "show_setup(COURSE_DIR)",
])
