"""Command line: ``python -m autograder COMMAND``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches, importing the module lazily so
that ``--help`` stays fast.
"""

import argparse
import importlib

MODULES = {
    "release": "autograder.building.release",
    "course": "autograder.building.course",
    "grade": "autograder.grading.grade",
    "demo": "autograder.demo.run",
    "lessons": "autograder.building.lessons",
    "fixtures": "autograder.building.fixtures",
}

COMMANDS = {
    "release": "write the learner's course folder (lessons and a stubbed rnnkit)",
    "course": "write an nbgrader course directory",
    "grade": "grade a folder of submissions (learner folders or zips)",
    "demo": "release, simulate a small class, grade it and print the gradebook",
    "lessons": "regenerate lessons/ from solutions/ (or --check that it is current)",
    "fixtures": "regenerate the published check fixtures (or --check them)",
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=name)
        _module(name).add_arguments(p)
    args = parser.parse_args(argv)
    return _module(args._module).run(args)


def _module(name):
    return importlib.import_module(MODULES[name])
