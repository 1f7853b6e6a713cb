"""python -m autograder lessons [--check]: lessons/ from solutions/.

Each solutions/<assignment>.ipynb becomes lessons/<assignment>.ipynb through
nbgrader's own clearing (autograder.building.notebooks.clear_notebook), so a lesson is
exactly what ``nbgrader generate_assignment`` would release. The output is
deterministic; ``--check`` compares it with the committed lessons/ and fails when
they differ. Every lesson is searched for solution text before it is written.
"""

import sys
import tempfile
from pathlib import Path

import nbformat

from autograder import paths
from autograder.building import guard, notebooks


class LessonError(RuntimeError):
    """A lesson could not be generated, or would leak."""


def render_lessons(solutions=paths.SOLUTIONS):
    """The learner notebooks, as text.

    Inputs:
    - solutions: folder of instructor notebooks (nbgrader source form)

    Returns:
    - dict {file name "<assignment>.ipynb": notebook text}; raises LessonError if a
      notebook cannot be cleared or its cleared text still holds solution text.
    """
    solutions = Path(solutions)
    rendered = {}
    for path in sorted(solutions.glob("*.ipynb")):
        source = nbformat.read(path, as_version=4)
        try:
            lesson = notebooks.clear_notebook(source, name=path.name)
        except notebooks.NotebookError as err:
            raise LessonError(str(err)) from err
        rendered[path.name] = notebooks.dumps(lesson)
    _guard(rendered, solutions)
    return rendered


def _guard(rendered, solutions):
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in rendered.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        findings = guard.find_leaks(tmp, notebook_lines=guard.notebook_secrets(solutions))
    if findings:
        findings = [f.replace(tmp, "lessons") for f in findings]
        raise LessonError("solution text would reach the learners' notebooks:\n  " + "\n  ".join(findings)
                          + "\nRewrite those cells of solutions/ so that they do not show what the learner "
                          "writes (a reference body of rnnkit, a model answer, a hidden test).")


def write_lessons(dest=None, solutions=paths.SOLUTIONS):
    """Write lessons/ (removing lessons whose solution notebook is gone). Returns the file names."""
    dest = Path(dest or paths.LESSONS)
    rendered = render_lessons(solutions)
    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob("*.ipynb"):
        if stale.name not in rendered:
            stale.unlink()
    for name, text in rendered.items():
        path = dest / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return sorted(rendered)


def stale_lessons(dest=None, solutions=paths.SOLUTIONS):
    """Names of lessons that are missing, different or extra compared with a fresh render."""
    dest = Path(dest or paths.LESSONS)
    rendered = render_lessons(solutions)
    stale = [n for n, text in rendered.items()
             if not (dest / n).exists() or (dest / n).read_text(encoding="utf-8") != text]
    stale += [p.name for p in dest.glob("*.ipynb") if p.name not in rendered]
    return sorted(stale)


def add_arguments(parser):
    parser.add_argument("--check", action="store_true",
                        help="do not write; fail if the committed lessons/ differ from a fresh render")


def run(args):
    try:
        if args.check:
            stale = stale_lessons()
            if stale:
                print("lessons/ is out of date with solutions/: " + ", ".join(stale)
                      + "\nRun `make lessons` (python -m autograder lessons) and commit lessons/.",
                      file=sys.stderr)
                return 1
            print("lessons/ is up to date.")
            return 0
        names = write_lessons()
    except LessonError as err:
        print(f"lessons: {err}", file=sys.stderr)
        return 1
    print(f"Wrote {len(names)} lessons to {paths.LESSONS}: " + ", ".join(names))
    return 0
