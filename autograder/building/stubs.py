"""Solution regions in the package's .py files, and nbgrader's stub for them.

A solution region is the block of lines between a line holding ``BEGIN SOLUTION``
and the next line holding ``END SOLUTION`` (``### BEGIN SOLUTION`` in rnnkit).
nbgrader replaces a region in a code cell by ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` at the indentation of the BEGIN line; the same
stub is used here so that a learner sees one convention in notebooks and files.

Each region belongs to a lesson, through the function it sits in: the region in
``rnnkit/lstm.py`` inside ``forget_gate`` is the check ``lstm.forget_gate`` of the
registry, taught in lesson 04-lstm.
"""

import ast
import re
from pathlib import Path
from typing import NamedTuple

from autograder import regions as regions_
from autograder.checks.registry import CHECKS_BY_ID, LESSONS

# nbgrader's ClearSolutions.code_stub["python"], line by line.
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]

LESSON_ORDER = {lesson.assignment: i for i, lesson in enumerate(LESSONS)}


class StubError(ValueError):
    """A file whose solution markers are not well formed."""


class Region(NamedTuple):
    start: int  # index of the BEGIN line (0-based)
    end: int  # index of the END line
    indent: str  # leading whitespace of the BEGIN line
    qualname: str  # enclosing function: "name" or "Class.method"; "" at module level


def regions(text, filename="<text>"):
    """The solution regions of a source text, in order.

    Inputs:
    - text: Python source
    - filename: used in error messages only

    Returns:
    - list of Region; raises StubError on a nested or unterminated region.
    """
    lines = text.split("\n")
    try:
        found = regions_.spans(lines, regions_.SOLUTION, filename)
    except regions_.RegionError as err:
        raise StubError(str(err)) from err
    if not found:
        return []
    owners = _function_spans(text, filename)
    result = []
    for start, end in found:
        # The innermost function holding the region's first line of code (the
        # marker lines are comments, outside the AST's line spans).
        code_line = start + 2
        inside = [(first, qual) for first, last, qual in owners if first <= code_line <= last]
        qualname = max(inside)[1] if inside else ""
        indent = re.match(r"\s*", lines[start]).group(0)
        result.append(Region(start, end, indent, qualname))
    return result


def _function_spans(text, filename):
    """(first line, last line, qualname) of every function, 1-based, outer ones first."""
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as err:
        raise StubError(f"{filename}: does not parse: {err}") from err
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                qual = prefix + child.name
                spans.append((child.lineno, child.end_lineno, qual))
                visit(child, qual + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def stub_text(text, keep=lambda region: False, filename="<text>"):
    """Replace solution regions by nbgrader's stub.

    Inputs:
    - text: Python source with solution regions
    - keep: keep(region) -> bool; a kept region keeps its body (the reference)
      and loses only its two marker lines
    - filename: used in error messages only

    Returns:
    - the new source text; every line outside the regions is unchanged.
    """
    return transform_regions(text, lambda region: FILL if keep(region) else STUB, filename)


FILL, MARK, STUB = "fill", "mark", "stub"


def transform_regions(text, action, filename="<text>"):
    """Rewrite each solution region as action(region) says.

    Inputs:
    - text: Python source with solution regions
    - action: action(region) -> FILL (reference body, marker lines removed),
      MARK (left as it is, markers included) or STUB (nbgrader's stub)
    - filename: used in error messages only

    Returns:
    - the new source text; every line outside the regions is unchanged.
    """
    lines = text.split("\n")
    out, pos = [], 0
    for region in regions(text, filename):
        out.extend(lines[pos:region.start])
        what = action(region)
        if what == FILL:
            out.extend(lines[region.start + 1:region.end])
        elif what == MARK:
            out.extend(lines[region.start:region.end + 1])
        elif what == STUB:
            out.extend(region.indent + stub for stub in CODE_STUB)
        else:
            raise ValueError(f"unknown region action {what!r}")
        pos = region.end + 1
    out.extend(lines[pos:])
    return "\n".join(out)


def package_regions(pkg_dir):
    """Solution regions of every .py file in a package folder.

    Returns:
    - dict {path relative to pkg_dir's parent, as posix str (e.g. "rnnkit/lstm.py"): [Region, ...]},
      only files that have regions, sorted by path.
    """
    pkg_dir = Path(pkg_dir)
    found = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(pkg_dir.parent).as_posix()
        found_here = regions(path.read_text(encoding="utf-8"), rel)
        if found_here:
            found[rel] = found_here
    return found


def region_lesson(module, region):
    """The lesson (assignment name) a region belongs to.

    Inputs:
    - module: module name inside rnnkit, e.g. "lstm"
    - region: a Region

    Returns:
    - the lesson of the check of the function the region sits in. Raises StubError if that
      function has no check in the registry: a region nobody checks would be released as a
      stub that no check, fixture or lesson cell covers.
    """
    top = region.qualname.split(".")[0]
    spec = CHECKS_BY_ID.get(f"{module}.{top}")
    if spec is None:
        where = region.qualname or "module level"
        raise StubError(f"rnnkit/{module}.py: the solution region in {where} has no check: add "
                        f"'{module}.{top}' to autograder/checks/registry.py (and its spec), or remove "
                        "the markers")
    return spec.lesson


def module_of(relpath):
    """"rnnkit/lstm.py" -> "lstm"; "rnnkit/sub/x.py" -> "sub.x"."""
    parts = Path(relpath).with_suffix("").parts[1:]
    return ".".join(parts)


def lesson_action(assignment):
    """action(module, region) for assignment N's source folder.

    Regions of earlier lessons are filled with the reference (released after
    their deadline), the lesson's own regions keep their markers (nbgrader
    strips them when it generates the release), later lessons' are stubbed.
    """
    order = LESSON_ORDER[assignment]

    def action(module, region):
        other = LESSON_ORDER[region_lesson(module, region)]
        return FILL if other < order else MARK if other == order else STUB

    return action
