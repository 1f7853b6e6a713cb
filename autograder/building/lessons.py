"""python -m autograder lessons [--check]: lessons/ from solutions/.

Each solutions/<assignment>.ipynb becomes lessons/<assignment>.ipynb through
nbgrader's own clearing (autograder.building.notebooks.clear_notebook), so a lesson is
exactly what ``nbgrader generate_assignment`` would release. The output is
deterministic; ``--check`` compares it with the committed lessons/ and fails when
they differ. Every lesson is searched for solution text before it is written.

Two things a learner's JupyterLab needs are written on the way (and kept in solutions/,
which nbgrader's course releases as they are; a test keeps both in step):
- every check cell (an autograded code cell) is tagged ``raises-exception``: a failing
  check still fails its cell (it scores 0 in nbgrader's Validate), but Run All and
  nbclient go on to the next cell instead of stopping there;
- the notebook's ``kernelspec`` and ``language_info`` are what JupyterLab writes when it
  opens the lesson with this environment's Python kernel (ipykernel's own kernelspec and
  the language_info its kernel reports), so an unedited lesson closes without asking to
  save. ``language_info`` holds the Python version: lessons built with another Python
  differ there, and open clean on that Python.
"""

import sys
import tempfile
from pathlib import Path

import nbformat

from autograder import paths
from autograder.building import guard, notebooks
from autograder.building.setup_cell import SETUP_CELL, SETUP_GRADE_ID

CHECK_CELL_TAG = "raises-exception"


class LessonError(RuntimeError):
    """A lesson could not be generated, or would leak."""


def lab_metadata():
    """The notebook metadata JupyterLab writes for a lesson run by this environment's kernel.

    Returns:
    - {"kernelspec": {display_name, language, name}, "language_info": {...}}: the kernelspec
      as ipykernel installs it and the language_info its kernel puts in kernel_info_reply
      (JupyterLab copies both into the notebook when the kernel starts).
    """
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    spec = get_kernel_dict()
    kernelspec = {"display_name": spec["display_name"], "language": spec["language"], "name": KERNEL_NAME}
    return {"kernelspec": kernelspec, "language_info": dict(IPythonKernel.language_info)}


def is_check_cell(cell):
    """An autograded code cell: its failure is reported, and the notebook goes on."""
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("grade"))


def prepare_for_lab(nb, metadata=None):
    """Tag the check cells ``raises-exception`` and set the notebook's kernelspec and
    language_info to ``metadata`` (default ``lab_metadata()``). Changes nb in place; returns it."""
    metadata = metadata or lab_metadata()
    for cell in nb.cells:
        if is_check_cell(cell):
            tags = list(cell.metadata.get("tags", []))
            if CHECK_CELL_TAG not in tags:
                cell.metadata["tags"] = [*tags, CHECK_CELL_TAG]
    for key, value in metadata.items():
        nb.metadata[key] = nbformat.from_dict(value)
    return nb


def render_lessons(solutions=paths.SOLUTIONS):
    """The learner notebooks, as text.

    Inputs:
    - solutions: folder of instructor notebooks (nbgrader source form)

    Returns:
    - dict {file name "<assignment>.ipynb": notebook text}, check cells tagged and
      JupyterLab's metadata set (``prepare_for_lab``); raises LessonError if a notebook
      cannot be cleared or its cleared text still holds solution text.
    """
    solutions = Path(solutions)
    metadata = lab_metadata()
    rendered = {}
    for path in sorted(solutions.glob("*.ipynb")):
        source = nbformat.read(path, as_version=4)
        _check_setup_cell(source, path.name)
        try:
            lesson = notebooks.clear_notebook(source, name=path.name)
        except notebooks.NotebookError as err:
            raise LessonError(str(err)) from err
        rendered[path.name] = notebooks.dumps(prepare_for_lab(lesson, metadata))
    _guard(rendered, solutions)
    return rendered


def _check_setup_cell(nb, name):
    """Every lesson starts with the one set-up cell (setup_cell.SETUP_CELL, grade id "setup")."""
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    grade_id = first.metadata.get("nbgrader", {}).get("grade_id") if first is not None else None
    if first is None or grade_id != SETUP_GRADE_ID or first.source != SETUP_CELL:
        raise LessonError(f"{name}: its first code cell is not the course's set-up cell (grade id "
                          f"{SETUP_GRADE_ID!r}); copy SETUP_CELL from autograder/building/setup_cell.py")


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
