"""Feedback a learner may see: trusted check results in, hidden material and active content out.

``write_feedback`` renders one autograded notebook (already sanitised and scored by the
course's pipeline, ``autograder.grading.nbpre``: check cells show the trusted score and the
judge's message) to a standalone page:
- hidden-test regions (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) are
  removed from every cell;
- ``autograder.grading.sanitize`` keeps it inert (no script or active HTML from the learner,
  no grader paths, long outputs cut);
- the page is searched for what must never be shown (hidden-test lines, the grading
  seed, the markers); a page with a hit is not written.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def strip_hidden(source):
    """Source with every hidden-test region (marker lines included) removed; (text, removed?)."""
    lines = source.splitlines(keepends=True)
    out, inside, removed = [], False, False
    for line in lines:
        if HIDDEN_BEGIN in line:
            inside, removed = True, True
            continue
        if HIDDEN_END in line:
            inside = False
            continue
        if not inside:
            out.append(line)
    return "".join(out), removed


def hidden_lines(source):
    """The stripped non-trivial lines inside hidden-test regions (what a page must not contain)."""
    lines, inside = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            inside = True
        elif HIDDEN_END in line:
            inside = False
        elif inside and len(line.strip()) >= 8:
            lines.append(line.strip())
    return lines


def _score_summary(course, student, assignment):
    """Markdown summary of the gradebook's totals for one submission (numbers and fixed words only)."""
    from nbgrader.api import Gradebook

    db_url = f"sqlite:///{Path(course) / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        nb = gb.find_submission_notebook(assignment, assignment, student)
        code = [g for g in nb.grades if getattr(g.cell, "cell_type", None) == "code"]
        auto, auto_max = sum(float(g.score) for g in code), sum(float(g.max_score) for g in code)
        pending = sum(1 for g in nb.grades if g.needs_manual_grade)
        total, total_max = float(sub.score), float(sub.max_score)
    lines = [f"**Score so far: {total:g} of {total_max:g} points.**", "",
             f"- Package checks: {auto:g} of {auto_max:g}, decided by the trusted grader from your "
             "`rnnkit/` (each check cell below shows its result and message)."]
    if pending:
        lines.append(f"- Written answers still to be graded by hand: {pending}.")
    lines.append("- Your notebook was not run for grading: the outputs below are the ones you saved.")
    return "\n".join(lines)


def write_feedback(course, student, assignment, out_dir, forbidden=()):
    """Render the autograded notebook of one submission to its feedback page.

    The page goes where ``nbgrader release_feedback`` looks for it
    (``course/feedback/<student>/<assignment>/<assignment>.html``, nothing else is put
    there) and to ``out_dir/<student>/<assignment>.html``. The notebook was sanitised
    when it was autograded (``autograder.grading.nbpre``); ``sanitize.feedback_html`` checks the
    page is inert. A page that shows anything in ``forbidden`` is not written.
    Returns "ok" or the reason the page was withheld.
    """
    import nbformat

    from autograder.grading import sanitize
    from autograder.grading.nbpre import NBGRADER_FILES

    course = Path(course)
    source = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(str(source), as_version=4)
    for cell in nb.cells:
        cell.source, _removed = strip_hidden(cell.source)
    paths = [str(course.resolve())]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(_score_summary(course, student, assignment)))
    page = sanitize.feedback_html(nb, title=f"{assignment}: feedback for {student}", placeholder_paths=paths)
    hits = scan_text(page, forbidden)
    if hits:
        return "withheld: it showed hidden material"
    for name in NBGRADER_FILES:  # nbgrader's release_feedback needs them beside the page
        kept = source.parent / name
        if kept.is_file() and not kept.is_symlink() and kept.stat().st_size < 1000:
            dest = course / "feedback" / student / assignment / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, dest, follow_symlinks=False)
    for dest in (
        course / "feedback" / student / assignment / f"{assignment}.html",
        Path(out_dir) / student / f"{assignment}.html",
    ):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, dest)
    return "ok"


def scan_text(text, forbidden):
    """The forbidden strings that appear in a page's text (raw or HTML-escaped)."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    hits = []
    for needle in forbidden:
        if not needle:
            continue
        if needle in text or needle in plain or html.escape(needle) in text:
            hits.append(needle)
    return hits


def scan_feedback(html_path, forbidden):
    """The forbidden strings that appear in a feedback page (raw or HTML-escaped)."""
    return scan_text(Path(html_path).read_text(encoding="utf-8", errors="replace"), forbidden)
