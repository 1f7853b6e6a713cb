"""Canonical text of the cells every lesson shares.

The set-up cell is the first code cell of every notebook in solutions/ and lessons/
(grade_id "setup", locked). It finds the course folder (the folder holding rnnkit/:
the working directory or one above it), puts it first on sys.path, imports the
checks (``rnncheck`` in a learner's folder, ``autograder.checks`` in this
repository), reports which rnnkit is in use and from then on reloads the files of
rnnkit the learner saves (``show_setup``; IPython's autoreload is not used: its
newer mode recompiles a changed function alone, so tracebacks named wrong lines, and a
file that failed to reload left the old code running behind two tracebacks on stderr).
Building the lessons (``python -m autograder lessons``, the course) refuses a lesson whose
first code cell differs from this text.
"""

SETUP_GRADE_ID = "setup"

SETUP_CELL = "\n".join([
    "# Set-up: use this course folder's own rnnkit (the one you edit) and its checks.",
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
    "show_setup(COURSE_DIR)  # says which rnnkit is in use; from now on, files you save there are reloaded",
])
