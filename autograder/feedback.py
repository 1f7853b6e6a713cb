"""Feedback a learner may see: trusted check results in, hidden material out.

Before ``nbgrader generate_feedback`` runs, every autograded notebook is rewritten:
- each check cell's output (produced in the learner's kernel, so possibly forged)
  is replaced by the trusted result: score and the judge's message;
- hidden-test regions (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) are
  removed from every cell, and the outputs of cells that had them are replaced by a
  short note (a traceback would quote the hidden test);
- long outputs are cut (a 50 MB print would make a 50 MB page).
After it runs, ``scan_feedback`` searches each HTML page for what must never be
shown (hidden-test lines, the grading seed, the markers); a page with a hit is
deleted and reported.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
MAX_OUTPUT_CHARS = 20_000


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


def _stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _cut_outputs(outputs):
    kept, budget = [], MAX_OUTPUT_CHARS
    for output in outputs:
        text = json.dumps(output)
        if len(text) <= budget:
            kept.append(output)
            budget -= len(text)
        else:
            kept.append(_stream("[output cut: too long to show]\n"))
            break
    return kept


def rewrite_autograded(nb_path, trusted):
    """Rewrite one autograded notebook in place for feedback.

    Inputs:
    - nb_path: autograded/<student>/<assignment>/<assignment>.ipynb
    - trusted: dict grade_id -> (score, max_score, message) for the check cells.
    """
    nb_path = Path(nb_path)
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        grade_id = meta.get("grade_id")
        stripped, removed = strip_hidden(source)
        cell["source"] = stripped
        if cell.get("cell_type") != "code":
            continue
        if grade_id in trusted:
            score, max_score, message = trusted[grade_id]
            head = f"Graded outside the notebook: {_points(score)} / {_points(max_score)} points."
            cell["outputs"] = [_stream(f"{head}\n{message}\n")]
        elif removed:
            cell["outputs"] = [_stream("[hidden tests ran here; their code and output are not shown]\n")]
        else:
            cell["outputs"] = _cut_outputs(cell.get("outputs", []))
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _points(x):
    return f"{x:g}"


def scan_feedback(html_path, forbidden):
    """The forbidden strings that appear in a feedback page (raw or HTML-escaped)."""
    text = Path(html_path).read_text(encoding="utf-8", errors="replace")
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    hits = []
    for needle in forbidden:
        if not needle:
            continue
        if needle in text or needle in plain or html.escape(needle) in text:
            hits.append(needle)
    return hits
