"""Command line: ``python -m autograder COMMAND``.

The command-line contract lives here, in one place: every command's arguments are declared
below, and the module that carries it out (imported only for the command that runs) exposes
``run(args) -> int``. So ``--help`` imports neither numpy nor nbformat nor nbgrader (nbformat
alone takes seconds to import here: its JSON-schema validator builds a URI grammar).
"""

import argparse
import ast
import importlib
import importlib.util
from pathlib import Path

from autograder import paths
from autograder.grading.limits import CHECK_TIMEOUT


def _release(p):
    p.add_argument("dest", metavar="DIR", help="folder to write (new or empty)")
    p.add_argument("--solutions", action="store_true", help="write the answer key (reference filled in)")
    p.add_argument("--force", action="store_true", help="replace DIR if it holds a previous course folder")


def _course(p):
    p.add_argument("dest", metavar="DIR", help="course directory to write (new or empty)")
    p.add_argument("--force", action="store_true", help="replace DIR if it holds a previous course directory")


def _grade(p):
    p.add_argument("subs", metavar="SUBS", help="folder of <student_id>/ folders and <student_id>.zip files, "
                   "an nbgrader course (submitted/), or a Moodle or Canvas download (.zip or extracted)")
    p.add_argument("--out", required=True, metavar="OUT", help="folder for the results (see below)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N notebooks at once (default 1)")
    p.add_argument("--assignments", nargs="*", metavar="A", help="only these assignments (default: all)")
    p.add_argument("--check-timeout", type=float, default=CHECK_TIMEOUT, metavar="S",
                   help=f"seconds one function's checks may take in the sandbox (default {CHECK_TIMEOUT:g})")
    p.add_argument("--seed", type=int,
                   help="grading seed for the hidden cases (default: the one kept in OUT/course, or a fresh "
                   "secret one); a different seed grades everything again")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade even without bubblewrap: learner code then runs in a plain subprocess with "
                   "resource limits only (it can read your files and use the network)")
    p.add_argument("--rebuild-course", action="store_true",
                   help="rebuild OUT/course even if it holds scores entered by hand (they are lost: export "
                   "them first with python -m autograder export OUT)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--roster", metavar="FILE",
                   help="CSV exported from the LMS (Canvas gradebook, Moodle grading worksheet or "
                   "participants) mapping a download's learners to names, emails and SIS ids")


def _export(p):
    p.add_argument("out", metavar="OUT", help="the --out folder of `python -m autograder grade`")


def _demo(p):
    p.add_argument("--out", metavar="DIR", help="folder to write into (default: a new temporary folder)")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="parallel grading jobs (default 2)")
    p.add_argument("--assignments", nargs="+", metavar="A",
                   help="grade only these assignments (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _lessons(p):
    p.add_argument("--check", action="store_true",
                   help="do not write; fail if the committed lessons/ differ from a fresh render")


def _fixtures(p):
    p.add_argument("--check", action="store_true",
                   help="regenerate in memory and fail if the committed fixtures differ")
    p.add_argument("--dir", default=str(paths.FIXTURES),
                   help="fixture folder (default: autograder/checks/fixtures)")


def _pretrained(p):
    p.add_argument("--check", action="store_true",
                   help="train again in memory and fail if the committed weights differ")
    p.add_argument("--path", help="the weights file (default: rnnkit/stacked_loudness.npz)")


def _corpus(p):
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail if the committed snapshot, notice or licence is stale")


# name: (module that runs it, one-line help, its arguments, whether its module docstring is the epilog)
COMMANDS = {
    "release": ("autograder.building.release",
                "write the learner's course folder (lessons and a stubbed rnnkit)", _release, False),
    "course": ("autograder.building.course", "write an nbgrader course directory", _course, False),
    "grade": ("autograder.grading.grade", "grade a folder of submissions (learner folders or zips)",
              _grade, True),
    "export": ("autograder.grading.export",
               "write the final grades, with the written answers graded by hand in formgrader",
               _export, True),
    "demo": ("autograder.demo.run", "release, simulate a small class, grade it and print the gradebook",
             _demo, True),
    "lessons": ("autograder.building.lessons",
                "regenerate lessons/ from solutions/ (or --check that it is current)", _lessons, False),
    "fixtures": ("autograder.building.fixtures",
                 "regenerate the published check fixtures (or --check them)", _fixtures, False),
    "pretrained": ("autograder.building.pretrained",
                   "retrain the small network lesson 3 ships (or --check the committed weights)", _pretrained,
                   False),
    "corpus": ("autograder.building.corpus",
               "rewrite the text snapshot lesson 8 trains on (or --check it)", _corpus, False),
}


def build_parser():
    """The whole command line, without importing any command's module."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text, add_arguments, epilog) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if epilog:
            first, _, rest = _docstring(module).partition("\n\n")
            p.formatter_class = argparse.RawDescriptionHelpFormatter
            p.description, p.epilog = first, rest
        add_arguments(p)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return importlib.import_module(COMMANDS[args.command][0]).run(args)


def _docstring(module):
    """A module's docstring, read from its source file (not imported)."""
    origin = importlib.util.find_spec(module).origin
    return ast.get_docstring(ast.parse(Path(origin).read_text(encoding="utf-8"))) or ""
