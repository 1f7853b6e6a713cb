"""Region markers, and the one parser of them.

nbgrader marks what a learner must not see with pairs of marker lines: a solution
(``### BEGIN SOLUTION`` ... ``### END SOLUTION``, in notebook cells and in rnnkit's .py
files), hidden tests and mark schemes. A marker is recognised anywhere in a line, as
nbgrader does. Building a release (stubs, notebooks, the leak guard) and making feedback
pages (hidden tests removed) all read regions through ``spans``.
"""

SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MARK_SCHEME = ("BEGIN MARK SCHEME", "END MARK SCHEME")
MARKERS = [*SOLUTION, *HIDDEN_TESTS, *MARK_SCHEME]


class RegionError(ValueError):
    """Markers that are not well formed (nested, unopened or unclosed)."""


def spans(lines, markers, filename="<text>", strict=True):
    """The regions of a list of lines, as (begin line index, end line index), in order.

    Inputs:
    - lines: list of str (one per line)
    - markers: (begin, end), e.g. SOLUTION
    - filename: for error messages only
    - strict: raise RegionError on a nested, unopened or unclosed region (an author's
      file). Otherwise (a learner's notebook) an END with no BEGIN is ignored and an
      unclosed region runs to the last line, so nothing after a stray BEGIN is shown.

    Returns:
    - list of (begin, end): both marker lines are part of the region.
    """
    begin_marker, end_marker = markers
    found, begin = [], None
    for i, line in enumerate(lines):
        if begin_marker in line:
            if begin is not None and strict:
                raise RegionError(f"{filename}:{i + 1}: nested {begin_marker} (the region opened on line "
                                  f"{begin + 1} is not closed)")
            if begin is None:
                begin = i
        elif end_marker in line:
            if begin is None:
                if strict:
                    raise RegionError(f"{filename}:{i + 1}: {end_marker} without {begin_marker}")
                continue
            found.append((begin, i))
            begin = None
    if begin is not None:
        if strict:
            raise RegionError(f"{filename}:{begin + 1}: {begin_marker} without {end_marker}")
        found.append((begin, len(lines) - 1))
    return found
