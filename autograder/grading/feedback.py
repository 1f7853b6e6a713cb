"""Feedback a learner may see: trusted check results in, hidden material and active content out.

``write_feedback`` renders one autograded notebook (already sanitised and scored by the
course's pipeline, ``autograder.grading.nbpre``: check cells show the trusted score and the
judge's message) to a standalone page:
- hidden-test regions (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) are
  removed from every cell;
- ``autograder.grading.sanitize`` keeps it inert (no script or active HTML from the learner,
  no grader paths, long outputs cut);
- the page is searched for what must never be shown (hidden-test lines, the grading
  seed, the markers); a page with a hit is not written;
- maths is rendered offline: the MathJax 2 that the ``jupyter-server-mathjax`` package
  ships is copied once into ``_mathjax/`` beside the pages' folders
  (``OUT/feedback/_mathjax`` and ``course/feedback/_mathjax``), and each page loads it by a
  relative path (falling back to nbgrader's usual CDN address only if that copy is not
  there, as when nbgrader's ``release_feedback`` sends the page alone).

``FORMGRADER_TEMPLATES`` holds the nbconvert template that makes formgrader load the MathJax
that ``jupyter-server-mathjax`` serves (see ``formgrader_template_dirs``).
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import nbgrader

from autograder import paths, regions
from autograder.grading import gradebook, sanitize
from autograder.grading.nbpre import NBGRADER_FILES
from autograder.grading.sanitize import MATHJAX_DIR

# Parts of MathJax a page never asks for here: other languages (English is built in), the
# accessibility explorer and the SVG output's fonts (the copy has no SVG output jax).
MATHJAX_SKIPPED = ("localization", "extensions/a11y", "jax/output/SVG")
MATHJAX_STAMP = ".copied-from"  # in the copy: where it came from, to notice an upgrade


def strip_hidden(source):
    """Source with every hidden-test region (marker lines included) removed; (text, removed?).

    A learner's notebook: an unclosed region runs to the end, and a stray marker line goes too."""
    lines = source.splitlines(keepends=True)
    found = regions.spans(lines, regions.HIDDEN_TESTS, strict=False)
    gone = {i for begin, end in found for i in range(begin, end + 1)}
    gone |= {i for i, line in enumerate(lines) if any(m in line for m in regions.HIDDEN_TESTS)}
    return "".join(line for i, line in enumerate(lines) if i not in gone), bool(gone)


def hidden_lines(source):
    """The stripped non-trivial lines inside hidden-test regions (what a page must not contain)."""
    lines = source.splitlines()
    found = regions.spans(lines, regions.HIDDEN_TESTS, strict=False)
    inside = [lines[i].strip() for begin, end in found for i in range(begin + 1, end + 1)]
    return [line for line in inside if len(line) >= 8 and not any(m in line for m in regions.HIDDEN_TESTS)]


def mathjax_source():
    """The folder holding MathJax 2 as the ``jupyter-server-mathjax`` package ships it, or None."""
    try:
        from jupyter_server_mathjax.app import STATIC_ASSETS_PATH
    except ImportError:
        return None
    source = Path(STATIC_ASSETS_PATH)
    return source if (source / "MathJax.js").is_file() else None


def ensure_mathjax(folder):
    """Copy MathJax (what the pages use of it) to ``folder/_mathjax`` unless an up-to-date copy is there.

    Safe when several grading processes call it at once: each copies to its own temporary
    folder and renames it into place; the copy that loses the race is removed.
    Returns the copy's Path, or None when the ``jupyter-server-mathjax`` package is missing
    (the pages then fall back to the CDN address).
    """
    source = mathjax_source()
    if source is None:
        return None
    dest = Path(folder) / MATHJAX_DIR
    stamp = f"{source}\n{(source / 'MathJax.js').stat().st_size}\n"
    if _read_stamp(dest) == stamp:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MATHJAX_DIR}-", dir=dest.parent))
    try:
        skipped = {source / rel for rel in MATHJAX_SKIPPED}
        shutil.copytree(source, tmp, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if Path(d) / n in skipped])
        shutil.copytree(source / "localization" / "en", tmp / "localization" / "en")
        (tmp / MATHJAX_STAMP).write_text(stamp, encoding="utf-8")
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.is_dir() and _read_stamp(dest) != stamp:
            shutil.rmtree(dest, ignore_errors=True)  # an older copy
        try:
            os.rename(tmp, dest)
        except OSError:
            if _read_stamp(dest) != stamp:  # not another process's fresh copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _read_stamp(copy):
    try:
        return (copy / MATHJAX_STAMP).read_text(encoding="utf-8")
    except OSError:
        return None


def formgrader_template_dirs():
    """``HTMLExporter.extra_template_basedirs`` for the course: nbgrader's own templates, then ours.

    nbgrader sets this option to its own folder for formgrader and ``generate_feedback``;
    the course's configuration keeps that folder and adds FORMGRADER_TEMPLATES, whose
    ``base/mathjax.html.j2`` is found before nbconvert's: formgrader's pages then load the
    MathJax that the ``jupyter-server-mathjax`` server extension serves (no CDN needed).
    """
    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    return [str(nbgrader_templates), str(paths.FORMGRADER_TEMPLATES)]


def learner_outputs(nb):
    """How many outputs the learner saved (check cells, whose output the grader wrote, not counted)."""
    return sum(
        len(cell.get("outputs") or [])
        for cell in nb.cells
        if cell.cell_type == "code" and not (cell.metadata.get("nbgrader") or {}).get("grade")
    )


def _score_summary(course, student, assignment, saved_outputs=1):
    """The gradebook's view of one submission: (summary, hand).

    Returns:
    - summary: markdown of the totals (numbers and fixed words only)
    - hand: {cell name: markdown note} for each cell the instructor graded or commented on by
      hand in formgrader (points given, extra credit, the comment: instructor text, made
      inert with the rest of the page)
    """
    with gradebook.open_gradebook(course) as gb:
        sub = gb.find_submission(assignment, student)
        nb = gb.find_submission_notebook(assignment, assignment, student)
        code = [g for g in nb.grades if getattr(g.cell, "cell_type", None) == "code"]
        auto, auto_max = sum(float(g.score) for g in code), sum(float(g.max_score) for g in code)
        pending = sum(1 for g in nb.grades if g.needs_manual_grade)
        by_hand = [g for g in nb.grades if g.manual_score is not None]
        hand, hand_max = sum(float(g.score) for g in by_hand), sum(float(g.max_score) for g in by_hand)
        total, total_max = float(sub.score), float(sub.max_score)
        notes = _hand_notes(nb)
    title = "Score so far" if pending else "Score"
    lines = [f"**{title}: {total:g} of {total_max:g} points.**", "",
             f"- Package checks: {auto:g} of {auto_max:g}, decided by the trusted grader from your "
             "`rnnkit/` (each check cell below shows its result and message)."]
    if by_hand:
        lines.append(f"- Graded by hand: {hand:g} of {hand_max:g} (the instructor's points and comments "
                     "are below each answer).")
    if pending:
        lines.append(f"- Written answers still to be graded by hand: {pending}.")
    if saved_outputs:
        lines.append("- Your notebook was not run for grading: the outputs below are the ones you saved.")
    else:
        lines.append("- Your notebook was not run for grading, and it was saved without outputs (its "
                     "cells had not been run, or their outputs were cleared), so this page shows none "
                     "beyond the check results. Run the notebook and save it to see them here.")
    return "\n".join(lines), notes


def _hand_notes(submitted):
    """{cell name: markdown note} of a SubmittedNotebook's hand grades and instructor comments."""
    points = {g.name: g for g in submitted.grades if g.manual_score is not None or g.extra_credit}
    comments = {c.name: c.manual_comment.strip() for c in submitted.comments
                if c.manual_comment and c.manual_comment.strip()}
    notes = {}
    for name in sorted(set(points) | set(comments)):
        parts = []
        grade = points.get(name)
        if grade is not None:
            given = ("" if grade.manual_score is None
                     else f"{float(grade.manual_score):g} of {float(grade.max_score):g} points")
            extra = f"{float(grade.extra_credit):g} extra credit" if grade.extra_credit else ""
            parts.append("**Graded by hand: " + ", ".join(p for p in (given, extra) if p) + ".**")
        if name in comments:
            parts += ["**Instructor's comment:**", comments[name]]
        notes[name] = "\n\n".join(parts)
    return notes


def _insert_hand_notes(nb, notes):
    """Put each note in a markdown cell right after the cell it is about (matched by nbgrader grade_id)."""
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        name = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if name in notes:
            cells.append(nbformat.v4.new_markdown_cell(notes[name]))
    nb.cells = cells


def write_feedback(course, student, assignment, out_dir, forbidden=()):
    """Render the autograded notebook of one submission to its feedback page.

    The page goes where ``nbgrader release_feedback`` looks for it
    (``course/feedback/<student>/<assignment>/<assignment>.html``, nothing else is put
    there) and to ``out_dir/<student>/<assignment>.html``. The notebook was sanitised
    when it was autograded (``autograder.grading.nbpre``); ``sanitize.feedback_html`` checks the
    page is inert. A page that shows anything in ``forbidden`` is not written.
    Returns "ok" or the reason the page was withheld.
    """
    course = Path(course)
    source = course / "autograded" / student / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(str(source), as_version=4)
    for cell in nb.cells:
        cell.source, _removed = strip_hidden(cell.source)
    paths = [str(course.resolve())]
    summary, notes = _score_summary(course, student, assignment, saved_outputs=learner_outputs(nb))
    _insert_hand_notes(nb, notes)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(summary))
    page = sanitize.feedback_html(nb, title=f"{assignment}: feedback for {student}", placeholder_paths=paths)
    hits = scan_text(page, forbidden)
    if hits:
        return "withheld: it showed hidden material"
    # nbgrader's page sits one folder deeper than OUT's: its MathJax path has one more "../".
    course_page = sanitize.with_mathjax_src(page, sanitize.MATHJAX_COURSE_SRC)
    for folder in (course / "feedback", Path(out_dir)):
        with contextlib.suppress(OSError):  # without the copy, the pages fall back to the CDN
            ensure_mathjax(folder)
    for name in NBGRADER_FILES:  # nbgrader's release_feedback needs them beside the page
        kept = source.parent / name
        if kept.is_file() and not kept.is_symlink() and kept.stat().st_size < 1000:
            dest = course / "feedback" / student / assignment / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, dest, follow_symlinks=False)
    for dest, text in (
        (course / "feedback" / student / assignment / f"{assignment}.html", course_page),
        (Path(out_dir) / student / f"{assignment}.html", page),
    ):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
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
