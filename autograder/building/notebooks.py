"""Learner notebooks from instructor notebooks, with nbgrader's own logic.

``clear_notebook`` runs the preprocessors of ``nbgrader generate_assignment`` in
its order (all but the ones that need a gradebook or a kernel), so that a lesson
in ``lessons/`` is the notebook nbgrader itself would release: same cell ids,
same locks, same checksums. ``secret_and_public_lines`` collects what must never reach a
learner (solution regions, model answers, hidden tests, mark schemes), for the
search that guards every release.
"""

import re

import nbformat
from nbgrader import utils as nbutils
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from autograder import regions

AUTOTEST = "AUTOTEST"


class NotebookError(ValueError):
    """An instructor notebook nbgrader could not release."""


def _pipeline():
    # GenerateAssignment.preprocessors minus IncludeHeaderFooter (no header is
    # configured), InstantiateTests (AUTOTEST is refused below) and SaveCells
    # (writes the gradebook; course does that through nbgrader itself).
    return [
        LockCells(),
        ClearSolutions(),
        ClearOutput(),
        CheckCellMetadata(),
        ComputeChecksums(),
        ClearHiddenTests(),
        ClearMarkScheme(),
        ComputeChecksums(),
        CheckCellMetadata(),
    ]


def clear_notebook(nb, name="notebook"):
    """The learner's version of an instructor notebook.

    Inputs:
    - nb: nbformat NotebookNode (nbformat 4) in nbgrader source form; not modified
    - name: used in error messages

    Returns:
    - a new NotebookNode: solution regions and answer cells stubbed, hidden tests
      and mark schemes removed, outputs and execution counts cleared, nbgrader
      checksums computed; cell ids unchanged.
    """
    nb = _copy(nb)
    for cell in nb.cells:
        if AUTOTEST in cell.source:
            raise NotebookError(f"{name}: AUTOTEST cells are not supported (they need a kernel to release)")
    # A repeated grade id makes nbgrader's autograde abort the whole batch; a repeated
    # cell id confuses it too. Refuse them here, where the author can fix them.
    for what, values in (("cell id", [c.get("id") for c in nb.cells]),
                          ("grade_id", [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells])):
        seen = [v for v in values if v]
        repeated = sorted({v for v in seen if seen.count(v) > 1})
        if repeated:
            raise NotebookError(f"{name}: repeated {what}: {', '.join(repeated)}")
    resources = {}
    try:
        for step in _pipeline():
            nb, resources = step.preprocess(nb, resources)
    except Exception as err:  # nbgrader raises RuntimeError/ValueError with the reason
        raise NotebookError(f"{name}: nbgrader could not clear it: {err}") from err
    return nb


def _copy(nb):
    return nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))


def dumps(nb):
    """Deterministic text of a notebook (nbformat's own layout, newline at the end)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def _split_regions(source, markers):
    """(inside lines, outside lines) of the regions of ``markers`` in source (marker lines in neither)."""
    lines = source.split("\n")
    found = regions.spans(lines, markers, strict=False)
    marker_lines = {i for span in found for i in span}
    inside_lines = {i for begin, end in found for i in range(begin + 1, end)}
    inside = [line for i, line in enumerate(lines) if i in inside_lines]
    outside = [line for i, line in enumerate(lines) if i not in inside_lines and i not in marker_lines]
    return inside, outside


def secret_and_public_lines(nb):
    """Split an instructor notebook's text into what must stay secret and what is public.

    Returns:
    - (secret, public): two lists of source lines. Secret: the lines inside
      solution, hidden-test and mark-scheme regions, and the whole text of
      solution cells that have no region (nbgrader replaces those wholesale: a
      model answer). Public: every other line.
    """
    secret, public = [], []
    for cell in nb.cells:
        source = cell.source
        if nbutils.is_solution(cell) and regions.SOLUTION[0] not in source:
            # nbgrader replaces the whole cell by the stub: all of it is the answer.
            secret.extend(source.split("\n"))
            continue
        for markers in (regions.SOLUTION, regions.HIDDEN_TESTS, regions.MARK_SCHEME):
            inside, outside = _split_regions(source, markers)
            secret.extend(inside)
            source = "\n".join(outside)
        public.extend(source.split("\n"))
    return secret, public


def distinctive(secret, public, min_length=16, public_within_lines=False):
    """The secret lines worth searching for: long enough, and not also public.

    Inputs:
    - secret, public: lists of lines
    - min_length: shorter stripped lines ("return y", "pass") are too common to search for
    - public_within_lines: also count a secret line as public when it is part of a
      longer public line (code that computes the same thing inside a bigger
      expression); otherwise only a whole public line makes it public

    Returns:
    - sorted list of stripped lines.
    """
    public_lines = {line.strip() for line in public}
    public_text = "\n".join(sorted(public_lines)) if public_within_lines else ""
    keep = set()
    for line in secret:
        text = line.strip()
        if len(text) < min_length or not re.search(r"\w", text) or text in public_lines:
            continue
        if public_within_lines and text in public_text:
            continue
        keep.add(text)
    return sorted(keep)
