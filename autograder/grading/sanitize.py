"""Make a learner's notebook inert before anyone opens it.

A submitted notebook is any JSON the learner wrote. Before it becomes the autograded
notebook (shown by nbgrader's formgrader, rendered by ``generate_feedback``) or a
feedback page, it goes through this module:

- ``sanitize_outputs(cell)``: outputs keep only text (stream, ``text/plain``, errors) and
  validated PNG/JPEG images, with size caps; everything else (HTML, SVG, JavaScript,
  Markdown, LaTeX, widgets, output metadata) is dropped.
- ``sanitize_markdown(source)``: raw HTML is shown as text, links with a scheme other
  than http(s)/mailto (or a ``#anchor``) are neutralized, images become links (nothing
  loads by itself). The result is checked by parsing it with nbconvert's own Markdown
  parser (the one formgrader and the feedback use); anything the check does not accept
  falls back to a plainer form, at worst the source shown as a code block.
- ``sanitize_notebook(nb, placeholder_paths)``: both of the above for every cell, raw
  cells shown as code blocks, metadata reduced to what nbgrader needs and to what the
  notebook shows collapsed, attachments and widget state removed, grader paths replaced by
  ``<grader folder>`` and the learner's own folder (named by the set-up cell's output) by
  ``<your course folder>``.
- ``feedback_html(nb, title)``: a standalone HTML page (nbconvert's "lab" template
  without require.js, widgets or mermaid; cells collapsed in the notebook collapsed on the
  page), checked by ``inert_problems`` before it is returned: the only scripts allowed are
  the page's MathJax loader (a local copy, by relative path), its configuration and the
  fallback to the CDN (each by exact text); ``with_mathjax_src`` makes the copy for
  nbgrader's feedback folder, one folder deeper.

Every function works on ``nbformat.NotebookNode`` objects and on plain dicts.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import functools
import hashlib
import html
import re
import uuid
from html.parser import HTMLParser

PLACEHOLDER = "<grader folder>"

MAX_OUTPUT_CHARS = 20_000  # text kept per output
MAX_IMAGE_CHARS = 1_000_000  # base64 characters kept per image (about 750 kB of PNG/JPEG)
MAX_NOTEBOOK_CHARS = 2_000_000  # all outputs of a notebook together, images included
MAX_MARKDOWN_CHARS = 200_000  # one markdown/raw cell's source

TEXT_MIME = "text/plain"
IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
KEPT_MIME = (TEXT_MIME, *IMAGE_MAGIC)

LINK_REMOVED = "#link-removed"
ALLOWED_URL_PREFIXES = ("http://", "https://", "mailto:", "#")

# Grader temporary folders (autograder.grading.grade, sandbox, ...): /tmp/rnn-grade-abc123/...
_TMP_PATH_RE = re.compile(r"(?:/private)?/tmp/rnn-[^/\s'\"<>:]*")
# SGR colour sequences are kept (nbconvert's ansi2html escapes the text and turns them into
# spans with classes or an rgb() colour); every other escape sequence and control character goes.
_SGR_RE = re.compile(r"\x1b\[[0-9;]*m")
_OTHER_ESCAPE_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.?)", re.S)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ----------------------------------------------------------------------------- text helpers


def _text(value):
    """Notebook text (a string or a list of strings) as one string; anything else as ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def clean_terminal_text(text):
    """Text with ANSI colour (SGR) sequences kept and all other escapes/control characters removed."""
    kept = []
    pos = 0
    for m in _SGR_RE.finditer(text):
        kept.append(_strip_controls(text[pos : m.start()]))
        kept.append(m.group())
        pos = m.end()
    kept.append(_strip_controls(text[pos:]))
    return "".join(kept)


def _strip_controls(text):
    return _CONTROL_RE.sub("", _OTHER_ESCAPE_RE.sub("", text))


def _cut(text, limit):
    """``text`` cut to ``limit`` characters with a note saying how much was cut; (text, cut?)."""
    if len(text) <= limit:
        return text, False
    keep = limit - 80  # the result, note included, fits in ``limit`` (so cutting twice changes nothing)
    return text[:keep] + f"\n[... {len(text) - keep:,} characters cut: too long to show ...]\n", True


# The lessons' set-up cell prints the learner's own folder (autograder.checks.notebook.show_setup):
# "Using your rnnkit in <folder>/rnnkit; checks from ..." or, when another rnnkit shadows it,
# "... not the copy in your course folder <folder>." That folder (a home folder, a temporary
# folder on the machine that ran it) is shown as LEARNER_FOLDER wherever it appears in outputs.
LEARNER_FOLDER = "<your course folder>"
_LEARNER_FOLDER_RES = (
    re.compile(r"Using your rnnkit in (?P<folder>[^\n;]{2,300}?)[/\\]rnnkit; checks from "),
    re.compile(r"not the copy in your course folder (?P<folder>[^\n]{2,300}?)\.\n"),
)
_ABSOLUTE_RE = re.compile(r"^(?:/|[A-Za-z]:[/\\]|\\\\)[^/\\]")  # /x, C:\x, \\server


def learner_folders(texts):
    """The learner's course folders named by the set-up cell's message in ``texts`` (strings).

    Only absolute paths with at least one name in them count (never "/" alone), and
    LEARNER_FOLDER itself is not one (so replacing is idempotent). At most 8 are returned.
    """
    found = []
    for text in texts:
        for regex in _LEARNER_FOLDER_RES:
            for m in regex.finditer(text):
                folder = m.group("folder").strip()
                if _ABSOLUTE_RE.match(folder) and LEARNER_FOLDER not in folder and folder not in found:
                    found.append(folder)
                if len(found) >= 8:
                    return found
    return found


def _output_texts(outputs):
    for output in outputs:
        yield _text(output.get("text"))
        yield _text((output.get("data") or {}).get(TEXT_MIME))
        yield _text(output.get("evalue"))
        yield from (line for line in output.get("traceback") or () if isinstance(line, str))


def _replace_learner_folders(value, folders):
    if isinstance(value, str):
        for folder in sorted(folders, key=len, reverse=True):
            value = value.replace(folder, LEARNER_FOLDER)
        return value
    if isinstance(value, list):
        return [_replace_learner_folders(v, folders) for v in value]
    if isinstance(value, dict):
        return {k: _replace_learner_folders(v, folders) for k, v in value.items()}
    return value


def replace_paths(text, placeholder_paths=()):
    """``text`` with each of ``placeholder_paths`` and every /tmp/rnn-* folder replaced by PLACEHOLDER."""
    for path in sorted({str(p) for p in placeholder_paths if str(p).strip("/")}, key=len, reverse=True):
        text = text.replace(path.rstrip("/"), PLACEHOLDER)
    return _TMP_PATH_RE.sub(PLACEHOLDER, text)


# ----------------------------------------------------------------------------- outputs


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def _image(value):
    """Canonical base64 of a PNG/JPEG payload, or None; (mime, b64) validated by the caller's magic."""
    raw = _text(value)
    if len(raw) > MAX_IMAGE_CHARS * 1.1:
        return None, "too large"
    try:
        data = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        return None, "not base64"
    return data, None


def sanitize_outputs(cell, budget=None):
    """Reduce a code cell's outputs, in place, to inert text and validated images.

    Kept: ``stream`` (name stdout/stderr, text), ``execute_result``/``display_data`` with
    only ``text/plain``, ``image/png`` and ``image/jpeg`` (base64 that decodes to bytes
    starting with the format's magic number, re-encoded canonically, at most
    MAX_IMAGE_CHARS), ``error`` (ename, evalue, traceback as strings). Output metadata,
    transient data and every other MIME type are dropped; an output left with no data is
    dropped. Text is cut at MAX_OUTPUT_CHARS per output; ``budget`` (a one-element list
    holding the characters still allowed for the notebook, default MAX_NOTEBOOK_CHARS)
    is spent by text and images alike, and an output that does not fit is replaced by a
    short note. ANSI colour sequences are kept (nbconvert renders them as escaped spans),
    other escape sequences and control characters are removed.

    Returns notes (strings) on what was dropped or cut.
    """
    if budget is None:
        budget = [MAX_NOTEBOOK_CHARS]
    notes = []
    outputs = cell.get("outputs")
    if not isinstance(outputs, list):
        if outputs is not None:
            notes.append("outputs that were not a list were removed")
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
        elif "outputs" in cell:
            del cell["outputs"]
        return notes
    kept = []
    over_budget = False

    def spend(n):
        nonlocal over_budget
        if over_budget or n > budget[0]:
            over_budget = True
            return False
        budget[0] -= n
        return True

    def text_of(value):
        text, cut = _cut(_text(value), MAX_OUTPUT_CHARS)
        if cut:
            notes.append("a long output was cut")
        return clean_terminal_text(text)

    for output in outputs:
        if not isinstance(output, dict):
            notes.append("an output that was not an object was removed")
            continue
        kind = output.get("output_type")
        if kind == "stream":
            name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
            new = _stream(text_of(output.get("text")), name)
            size = len(new["text"])
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") if isinstance(output.get("data"), dict) else {}
            dropped = sorted(str(k) for k in data if k not in KEPT_MIME)
            if dropped:
                notes.append("output types not shown: " + ", ".join(dropped))
            new_data, size = {}, 0
            if TEXT_MIME in data:
                new_data[TEXT_MIME] = text_of(data[TEXT_MIME])
                size += len(new_data[TEXT_MIME])
            for mime, magic in IMAGE_MAGIC.items():
                if mime not in data:
                    continue
                payload, why = _image(data[mime])
                if payload is None or not payload.startswith(magic):
                    notes.append(f"an {mime} output was removed ({why or 'not a real ' + mime[6:].upper()})")
                    continue
                b64 = base64.b64encode(payload).decode("ascii")
                if len(b64) > MAX_IMAGE_CHARS:
                    notes.append(f"an {mime} output was removed (too large)")
                    continue
                new_data[mime] = b64
                size += len(b64)
            if not new_data:
                if data:
                    kept.append(_stream("[output not shown: only text and PNG/JPEG images are shown]\n"))
                continue
            new = {"output_type": kind, "data": new_data, "metadata": {}}
            if kind == "execute_result":
                count = output.get("execution_count")
                new["execution_count"] = count if type(count) is int else None
        elif kind == "error":
            tb = output.get("traceback")
            tb = tb if isinstance(tb, list) else []
            lines, total = [], 0
            for line in tb:
                line = text_of(line)
                if total + len(line) > MAX_OUTPUT_CHARS:
                    lines.append("[... rest of the traceback cut: too long to show ...]")
                    notes.append("a long traceback was cut")
                    break
                lines.append(line)
                total += len(line)
            new = {
                "output_type": "error",
                "ename": text_of(output.get("ename"))[:1000],
                "evalue": text_of(output.get("evalue")),
                "traceback": lines,
            }
            size = total + len(new["ename"]) + len(new["evalue"])
        else:
            notes.append(f"an output of type {str(kind)[:40]!r} was removed")
            continue
        if not spend(size):
            continue
        kept.append(new)
    if over_budget:
        notes.append("outputs over the notebook's size limit were removed")
        kept.append(_stream("[output cut: the notebook's outputs are too large to show]\n"))
    cell["outputs"] = kept
    return notes


# ----------------------------------------------------------------------------- markdown


def safe_url(url):
    """True for http(s), mailto and #anchor URLs, judged the way a browser would read them."""
    decoded = html.unescape(url)
    decoded = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", decoded)  # markdown backslash escapes
    decoded = re.sub(r"[\x00-\x20\x7f]", "", decoded).lower()  # browsers drop these inside URLs
    return decoded.startswith(ALLOWED_URL_PREFIXES)


def _url_out(url):
    """An allowed URL in the plain (not <...>) destination form, with nothing markdown could misread."""
    url = html.unescape(url).strip()
    for ch, enc in ((" ", "%20"), ("<", "%3C"), (">", "%3E"), ("(", "%28"), (")", "%29"), ("\n", "")):
        url = url.replace(ch, enc)
    return url


def _math_text(body):
    # ``<`` never reaches the page as markup; MathJax reads \lt as "<".
    return re.sub(r"<([A-Za-z]?)", lambda m: r"\lt " + m.group(1) if m.group(1) else r"\lt", body)


_TAG_START_RE = re.compile(r"<(?=[A-Za-z/!?])")
_FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_REFDEF_RE = re.compile(r"(?P<head>\[(?:\\.|[^\]\\\n])+\]:[ \t]*\n?[ \t>]*)(?P<dest><[^>\n]*>|[^\s]+)")
_MATH_RES = (
    re.compile(r"\$\$(.*?)(?<!\\)\$\$", re.S),
    re.compile(r"\$(?!\$)(.+?)(?<![$\\])\$", re.S),
    re.compile(r"\\\\\((.*?)\\\\\)", re.S),
    re.compile(r"\\\\\[(.*?)\\\\\]", re.S),
    re.compile(r"\\begin\{([a-z]*\*?)\}(.*?)\\end\{\1\}", re.S),
)


class _MathSpans:
    """Where a math span opening at ``i`` ends, as the first matching ``_MATH_RES`` would say, in
    linear time overall: each closing delimiter's positions are found once (a regex tried at
    every ``$`` of a long unclosed run would take quadratic time: a learner's cell could stall
    grading)."""

    def __init__(self, text):
        self.text = text
        self.closings = {}

    def _positions(self, key, pattern):
        if key not in self.closings:
            self.closings[key] = [m.start() for m in re.finditer(pattern, self.text)]
        return self.closings[key]

    def _first(self, key, pattern, start):
        found = self._positions(key, pattern)
        k = bisect.bisect_left(found, start)
        return found[k] if k < len(found) else None

    def span_end(self, i):
        text = self.text
        if text.startswith("$$", i):
            j = self._first("$$", r"(?<!\\)(?=\$\$)", i + 2)
            if j is not None:
                return j + 2
        if text.startswith("$", i) and not text.startswith("$$", i):
            j = self._first("$", r"(?<![$\\])(?=\$)", i + 2)
            if j is not None:
                return j + 1
        for opening, closing in (("\\\\(", "\\\\)"), ("\\\\[", "\\\\]")):
            if text.startswith(opening, i):
                j = self._first(closing, "(?=" + re.escape(closing) + ")", i + len(opening))
                if j is not None:
                    return j + len(closing)
        m = _BEGIN_RE.match(text, i)
        if m:
            closing = "\\end{" + m.group(1) + "}"
            j = self._first(closing, "(?=" + re.escape(closing) + ")", m.end())
            if j is not None:
                return j + len(closing)
        return None


_BEGIN_RE = re.compile(r"\\begin\{([a-z]*\*?)\}")


def _link_destination(text, i):
    """Parse a link destination starting at ``text[i]`` (just after '('); (dest, end) or None."""
    j = i
    while j < len(text) and text[j] in " \t":
        j += 1
    if j < len(text) and text[j] == "\n":
        j += 1
        while j < len(text) and text[j] in " \t":
            j += 1
    if j < len(text) and text[j] == "<":
        k = text.find(">", j)
        if k < 0 or "\n" in text[j:k]:
            return None
        return text[j + 1 : k], j, k + 1
    k, depth = j, 0
    while k < len(text) and not text[k].isspace():
        ch = text[k]
        if ch == "\\" and k + 1 < len(text):
            k += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                break
            depth -= 1
        k += 1
    return text[j:k], j, k


_DIV_LINE_RE = re.compile(r'^ {0,3}(?:<div(?:\s+class="[\w\s-]*")?\s*>|</div\s*>)[ \t]*$', re.M)


def _inline(text):
    """Escape raw HTML, neutralize links and images in a chunk of markdown outside fenced code.

    Lines holding only ``<div>``, ``<div class="...">`` or ``</div>`` (the course's own
    alert boxes) are removed rather than shown as text; the box's content stays.
    """
    text = _DIV_LINE_RE.sub("", text)
    text = _REFDEF_RE.sub(
        lambda m: (
            m.group("head")
            + (
                _url_out(_strip_angle(m.group("dest")))
                if safe_url(_strip_angle(m.group("dest")))
                else LINK_REMOVED
            )
        ),
        text,
    )
    out = []
    math = _MathSpans(text)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "<":
                out.append("&lt;")
                i += 2
                continue
            if nxt == "\\" and text.startswith(("\\\\(", "\\\\["), i):
                pass  # LaTeX \( \[ written as \\( \\[ in markdown: handled as math below
            else:
                out.append(text[i : i + 2])
                i += 2
                continue
        if ch == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            closing = re.compile(r"(?<!`)" + "`" * run + r"(?!`)").search(text, i + run)
            end_para = text.find("\n\n", i)
            if closing and (end_para < 0 or closing.start() < end_para):
                # Renderers disagree on whether `<a title='`'>` is code or a tag: inside code
                # spans, a "<" that could open a tag or comment is escaped too (rarely seen).
                out.append(_TAG_START_RE.sub("&lt;", text[i : closing.end()]))
                i = closing.end()
            else:
                out.append("`" * run)
                i += run
            continue
        if ch in "$\\":
            end = math.span_end(i) if (ch != "$" or i == 0 or text[i - 1] not in "$\\") else None
            if end is not None:
                out.append(_math_text(text[i:end]))
                i = end
            else:
                out.append(ch)
                i += 1
            continue
        if ch == "<":
            out.append("&lt;")
            i += 1
            continue
        if ch == "!" and text.startswith("![", i):
            out.append("[image: ")
            i += 2
            continue
        if ch == "]" and text.startswith("](", i):
            parsed = _link_destination(text, i + 2)
            if parsed is not None:
                dest, start, end = parsed
                out.append("](" + text[i + 2 : start])
                out.append(_url_out(dest) if safe_url(dest) else LINK_REMOVED)
                i = end
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _strip_angle(dest):
    return dest[1:-1] if dest.startswith("<") and dest.endswith(">") else dest


def _fence_info(info):
    word = re.sub(r"[^A-Za-z0-9_+#.-]", "", info.strip().split(" ", 1)[0] if info.strip() else "")
    return "text" if word.lower().startswith("mermaid") else word


def _smart(source):
    """Markdown with HTML escaped and links neutralized outside fenced code blocks."""
    out, chunk = [], []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        # Only a fence at column 0 is certainly a top-level code block in every CommonMark
        # renderer (an indented one may sit in a list item that a later line leaves); others
        # are treated as ordinary text.
        m = _FENCE_RE.match(lines[i])
        if m and m.group(1):
            m = None
        if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
            out.append(_inline("\n".join(chunk)) if chunk else None)
            chunk = []
            indent, fence = m.group(1), m.group(2)
            out.append(f"{indent}{fence}{_fence_info(m.group(3))}")
            i += 1
            closing = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
            while i < len(lines):
                out.append(lines[i])
                i += 1
                if closing.match(out[-1]):
                    break
            continue
        chunk.append(lines[i])
        i += 1
    if chunk:
        out.append(_inline("\n".join(chunk)))
    return "\n".join(x for x in out if x is not None)


def _escape_all(source):
    """Every ``<`` escaped and every link/image bracket made literal, code included."""
    return re.sub(r"([\[\]!])", r"\\\1", source.replace("<", "&lt;"))


def _as_code_block(source):
    longest = max((len(r) for r in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{source}\n{fence}"


def markdown_problems(markdown):
    """What nbconvert's Markdown parser would turn into something not inert (empty list: inert).

    Raw HTML, images, links other than http(s)/mailto/#anchor and mermaid diagrams (which load
    a script) count; the check parses with nbconvert's own MarkdownWithMath (the parser used by
    formgrader and the feedback) and also renders the result through ``inert_problems``.
    """
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    problems = []
    renderer = IPythonRenderer(escape=False, exclude_anchor_links=True)
    md = MarkdownWithMath(renderer=renderer)
    tokens, _ = md.parse(markdown)

    def walk(items):
        for tok in items:
            if not isinstance(tok, dict):
                continue
            kind = tok.get("type")
            attrs = tok.get("attrs") or {}
            if kind in ("block_html", "inline_html"):
                problems.append(f"raw HTML: {tok.get('raw', '')[:60]!r}")
            elif kind == "image":
                problems.append("an image")
            elif kind == "link" and not safe_url(str(attrs.get("url", ""))):
                problems.append(f"a link to {str(attrs.get('url'))[:60]!r}")
            elif kind == "block_code" and str(attrs.get("info") or "").strip().lower().startswith("mermaid"):
                problems.append("a mermaid diagram")
            walk(tok.get("children") or [])

    walk(tokens)
    if not problems:
        problems += inert_problems(md.render(markdown), fragment=True)
    return problems


def sanitize_markdown(source):
    """A learner's markdown made inert but readable.

    Raw HTML shows as text (``<`` becomes ``&lt;`` outside code; inside math it becomes
    ``\\lt``, which MathJax shows as "<"); links and reference definitions whose URL (read
    as a browser would: entities decoded, whitespace and control characters dropped, case
    ignored) is not http(s), mailto or ``#anchor`` point to ``#link-removed``; every image
    becomes a link labelled "image: ..." (nothing loads by itself); a fenced code block
    labelled mermaid becomes plain text. Code spans, fenced code and math keep their text.
    The result is checked with ``markdown_problems``; if the check finds anything, the
    source is escaped everywhere (code included), and if even that is not accepted it is
    shown as a code block. Control characters are removed.
    """
    return _sanitize_markdown_text(_text(source))


@functools.lru_cache(maxsize=4096)
def _sanitize_markdown_text(source):
    # Cached: a lesson's prose cells are the same in every learner's notebook.
    source = _strip_controls(source.replace("\r\n", "\n"))
    source, _ = _cut(source, MAX_MARKDOWN_CHARS)
    for attempt in (_smart, _escape_all, _as_code_block):
        candidate = attempt(source)
        if not markdown_problems(candidate):
            return candidate
    return "[markdown not shown: it could not be made safe to display]"


# ----------------------------------------------------------------------------- notebook

_CELL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_KERNELSPEC_KEYS = ("name", "display_name", "language")
_LANGUAGE_INFO_KEYS = (
    "name",
    "version",
    "mimetype",
    "file_extension",
    "pygments_lexer",
    "nbconvert_exporter",
)


def _plain(value, limit=200):
    return value if isinstance(value, str) and len(value) <= limit else None


def _clean_nb_metadata(meta):
    meta = meta if isinstance(meta, dict) else {}
    new = {}
    kernelspec = meta.get("kernelspec")
    if isinstance(kernelspec, dict):
        new["kernelspec"] = {k: kernelspec[k] for k in _KERNELSPEC_KEYS if _plain(kernelspec.get(k))}
    info = meta.get("language_info")
    if isinstance(info, dict):
        clean = {k: info[k] for k in _LANGUAGE_INFO_KEYS if _plain(info.get(k))}
        mode = info.get("codemirror_mode")
        if _plain(mode):
            clean["codemirror_mode"] = mode
        elif isinstance(mode, dict) and _plain(mode.get("name")):
            clean["codemirror_mode"] = {"name": mode["name"]}
            if type(mode.get("version")) is int:
                clean["codemirror_mode"]["version"] = mode["version"]
        new["language_info"] = clean
    if isinstance(meta.get("nbgrader"), dict):
        new["nbgrader"] = meta["nbgrader"]
    return new


def _clean_cell_metadata(meta):
    meta = meta if isinstance(meta, dict) else {}
    new = {}
    if isinstance(meta.get("nbgrader"), dict):
        new["nbgrader"] = meta["nbgrader"]
    # What the notebook shows collapsed stays collapsed on the page (booleans only).
    jupyter = meta.get("jupyter")
    if isinstance(jupyter, dict):
        hidden = {k: True for k in ("source_hidden", "outputs_hidden") if jupyter.get(k) is True}
        if hidden:
            new["jupyter"] = hidden
    if meta.get("collapsed") is True:
        new["collapsed"] = True
    tags = meta.get("tags")
    if isinstance(tags, list):
        tags = [t for t in tags if isinstance(t, str) and _TAG_RE.match(t)]
        if tags:
            new["tags"] = tags
    return new


def _replace_paths_deep(value, paths):
    if isinstance(value, str):
        return replace_paths(value, paths)
    if isinstance(value, list):
        return [_replace_paths_deep(v, paths) for v in value]
    if isinstance(value, dict):
        return {k: _replace_paths_deep(v, paths) for k, v in value.items()}
    return value


def sanitize_notebook(nb, placeholder_paths=()):
    """Make a learner's notebook inert, in place; return notes on what was removed or changed.

    - notebook metadata: only ``kernelspec``, ``language_info`` (simple string fields) and
      ``nbgrader``; widget state and everything else removed;
    - cells: ``id`` kept when it is a valid nbformat id (otherwise a new one), metadata
      reduced to ``nbgrader`` and well-formed ``tags``, ``attachments`` removed;
    - markdown cells: ``sanitize_markdown``; raw cells become markdown cells that show their
      text as a code block; cells of any other type are removed;
    - code cells: ``sanitize_outputs`` (one size budget for the whole notebook), source kept;
    - all text (sources, outputs, tracebacks): each of ``placeholder_paths`` and any
      ``/tmp/rnn-*`` folder replaced by ``<grader folder>`` (before markdown is escaped).
    Works on ``nbformat.NotebookNode`` (nested values stay NotebookNodes) and plain dicts.
    """
    notes = []
    paths = tuple(str(p) for p in placeholder_paths)
    nb["metadata"] = _clean_nb_metadata(nb.get("metadata"))
    cells = nb.get("cells")
    if not isinstance(cells, list):
        notes.append("the notebook had no list of cells")
        cells = []
    budget = [MAX_NOTEBOOK_CHARS]
    new_cells, seen_ids = [], set()
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            notes.append("a cell of unknown type was removed")
            continue
        kind = cell["cell_type"]
        source = replace_paths(_text(cell.get("source")), paths)
        new = {"cell_type": kind, "metadata": _clean_cell_metadata(cell.get("metadata"))}
        cell_id = cell.get("id")
        if isinstance(cell_id, str) and _CELL_ID_RE.match(cell_id) and cell_id not in seen_ids:
            new["id"] = cell_id
        elif "id" in cell or nb.get("nbformat_minor", 0) >= 5:
            new["id"] = uuid.uuid4().hex[:8]
        if "id" in new:
            seen_ids.add(new["id"])
        if cell.get("attachments"):
            notes.append("cell attachments were removed")
        if kind == "raw":
            new["cell_type"] = "markdown"
            kind = "markdown"
            source = _as_code_block(source) if source.strip() else ""
            notes.append("a raw cell is shown as a code block")
        if kind == "markdown":
            safe = sanitize_markdown(source)
            if safe != source:
                notes.append("markdown was made inert (HTML shown as text, links/images neutralized)")
            new["source"] = safe
        else:
            new["source"] = _strip_controls(source)
            count = cell.get("execution_count")
            new["execution_count"] = count if type(count) is int else None
            new["outputs"] = cell.get("outputs")
            notes += sanitize_outputs(new, budget)  # cut first: a 50 MB print is not searched
            new["outputs"] = _replace_paths_deep(new["outputs"], paths)
        new_cells.append(new)
    code_cells = [c for c in new_cells if c["cell_type"] == "code"]
    folders = learner_folders(text for c in code_cells for text in _output_texts(c["outputs"]))
    for cell in code_cells if folders else ():
        cell["outputs"] = _replace_learner_folders(cell["outputs"], folders)
    nb["cells"] = new_cells
    for key in [k for k in nb if k not in ("cells", "metadata", "nbformat", "nbformat_minor")]:
        del nb[key]
    if type(nb.get("nbformat")) is not int:
        nb["nbformat"] = 4
    if type(nb.get("nbformat_minor")) is not int:
        nb["nbformat_minor"] = 5
    _as_nodes(nb)
    return list(dict.fromkeys(notes))


def _as_nodes(nb):
    try:
        from nbformat import NotebookNode, from_dict
    except ImportError:  # pragma: no cover
        return
    if isinstance(nb, NotebookNode):
        for key in list(nb):
            nb[key] = from_dict(nb[key])


# ----------------------------------------------------------------------------- HTML

# The page's own scripts, exactly:
# - the MathJax loader: a local copy of MathJax 2 (the one the ``jupyter-server-mathjax``
#   package ships, copied beside the pages by ``autograder.grading.feedback``) at a relative
#   path: ``../_mathjax/`` for ``OUT/feedback/<student>/<assignment>.html`` and ``../../_mathjax/``
#   for nbgrader's ``course/feedback/<student>/<assignment>/<assignment>.html``. Its
#   configuration file includes the Safe extension (no \href to javascript: and the like in
#   learner TeX);
# - MathJax's configuration (MATHJAX_CONFIG, exact sha256): nbconvert's settings, plus the
#   STIX-Web font, the only one the local copy has;
# - a fallback (exact sha256) that loads MathJax from nbconvert's default CDN address only when
#   the local copy did not load (a page moved away from its folder, e.g. by nbgrader's
#   release_feedback, which sends the page alone).
MATHJAX_DIR = "_mathjax"  # no student id starts with "_" (autograder.grading.submissions)
MATHJAX_QUERY = "?config=TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_SRC = f"../{MATHJAX_DIR}/MathJax.js{MATHJAX_QUERY}"  # OUT/feedback/<student>/<assignment>.html
MATHJAX_COURSE_SRC = f"../../{MATHJAX_DIR}/MathJax.js{MATHJAX_QUERY}"  # course/feedback/<s>/<a>/<a>.html
MATHJAX_SRCS = frozenset({MATHJAX_SRC, MATHJAX_COURSE_SRC})
MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"
MATHJAX_FALLBACK = (
    "\nif (!window.MathJax) {  // the local copy did not load: nbconvert's default address\n"
    '  var mathjax = document.createElement("script");\n'
    f'  mathjax.src = "{MATHJAX_CDN}";\n'
    "  document.head.appendChild(mathjax);\n"
    "}\n"
)
MATHJAX_CONFIG = """
MathJax.Hub.Config({
  tex2jax: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], preferredFont: null, imageFont: null, webFont: "STIX-Web",
               linebreaks: {automatic: true}},
  CommonHTML: {linebreaks: {automatic: true}},
  displayAlign: "center",
  messageStyle: "none"
});
"""
MATHJAX_CONFIG_SHA256 = hashlib.sha256(MATHJAX_CONFIG.encode()).hexdigest()
MATHJAX_FALLBACK_SHA256 = hashlib.sha256(MATHJAX_FALLBACK.encode()).hexdigest()

_ALLOWED_TAGS = frozenset(
    "html head meta title style script body main div span pre code p a em strong b i u s del "
    "h1 h2 h3 h4 h5 h6 ul ol li blockquote hr br table thead tbody tfoot tr th td img input "
    "dl dt dd sup sub details summary".split()
)
_URL_ATTRS = frozenset(
    "href src action formaction xlink:href srcset background poster data codebase cite ping lowsrc "
    "dynsrc manifest icon longdesc usemap archive classid profile".split()
)
_BAD_CSS = ("@import", "expression(", "javascript:", "vbscript:", "behavior:", "-moz-binding", "binding:")
_CSS_URL_RE = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.I)
_DATA_IMG_RE = re.compile(r"^data:image/(png|jpeg);base64,[A-Za-z0-9+/=]*$")
_CSS_DATA_OK = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/svg+xml")


def _norm(value):
    return re.sub(r"[\x00-\x20\x7f]", "", value or "").lower()


class _Inspector(HTMLParser):
    def __init__(self, fragment):
        super().__init__(convert_charrefs=True)
        self.fragment = fragment
        self.problems = []
        self._script = None  # attrs of the open script element, with its text collected
        self._style = None

    def handle_starttag(self, tag, attrs):
        self._element(tag, attrs)
        if tag == "script":
            self._script = (list(attrs), [])
        elif tag == "style":
            self._style = []

    def handle_startendtag(self, tag, attrs):
        self._element(tag, attrs)
        if tag == "script":
            self._end_script(list(attrs), "")

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            attrs, parts = self._script
            self._script = None
            self._end_script(attrs, "".join(parts))
        elif tag == "style" and self._style is not None:
            self._check_css("".join(self._style), "a style element")
            self._style = None

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)
        elif self._style is not None:
            self._style.append(data)

    def handle_comment(self, data):
        if "[if" in data.lower() or "<" in data:
            self.problems.append(f"a conditional or markup-bearing comment: {data[:60]!r}")

    def handle_decl(self, decl):
        if decl.lower() != "doctype html":
            self.problems.append(f"a declaration: {decl[:60]!r}")

    def handle_pi(self, data):
        self.problems.append(f"a processing instruction: {data[:60]!r}")

    def unknown_decl(self, data):
        self.problems.append(f"a declaration: {data[:60]!r}")

    def _end_script(self, attrs, text):
        # ``attrs`` is the parser's list: a repeated attribute (the browser uses the first) is refused.
        digest = hashlib.sha256(text.encode()).hexdigest()
        ok = not self.fragment and (
            (len(attrs) == 1 and attrs[0][0] == "src" and attrs[0][1] in MATHJAX_SRCS and not text.strip())
            or (attrs == [("type", "text/x-mathjax-config")] and digest in _ALLOWED_SCRIPT_HASHES)
            or (attrs == [] and digest in _ALLOWED_PLAIN_SCRIPT_HASHES)
        )
        if not ok:
            self.problems.append(f"a script element that is not the page's own: {attrs} {text[:60]!r}")

    def _check_css(self, css, where):
        low = css.lower()
        for bad in _BAD_CSS:
            if bad in _norm(low):
                self.problems.append(f"{bad!r} in {where}")
        for url in _CSS_URL_RE.findall(css):
            if not _norm(url).startswith(_CSS_DATA_OK):
                self.problems.append(f"a url({url[:60]!r}) in {where}")

    def _element(self, tag, attrs):
        where = f"<{tag}>"
        if tag not in _ALLOWED_TAGS:
            self.problems.append(f"element {where} is not allowed")
        if self.fragment and tag in ("html", "head", "meta", "title", "style", "script", "body", "main"):
            self.problems.append(f"element {where} is not allowed in rendered markdown")
        amap = dict(attrs)
        if tag == "meta" and not (
            attrs == [("charset", "utf-8")]
            or sorted(attrs) == [("content", "width=device-width, initial-scale=1.0"), ("name", "viewport")]
        ):
            self.problems.append(f"a meta element {amap}")
        if tag == "input" and not (amap.get("type") == "checkbox" and "disabled" in amap):
            self.problems.append(f"an input element {amap}")
        for name, value in attrs:
            value = value or ""
            norm = _norm(value)
            if name.startswith("on"):
                self.problems.append(f"an event handler attribute {name}= on {where}")
            elif name == "style":
                self._check_css(value, f"a style attribute on {where}")
            elif name in _URL_ATTRS:
                if tag == "a" and name == "href":
                    if not norm.startswith(ALLOWED_URL_PREFIXES):
                        self.problems.append(f"a link to {value[:60]!r}")
                elif tag == "img" and name == "src":
                    if not _DATA_IMG_RE.match(value):
                        self.problems.append(f"an image source {value[:60]!r}")
                elif tag == "script" and name == "src":
                    pass  # judged with the script's text in _end_script
                else:
                    self.problems.append(f"a URL attribute {name}= on {where}")
            if any(s in norm for s in ("javascript:", "vbscript:", "data:text", "data:application")):
                self.problems.append(f"a script URL in {name}= on {where}")
            if name == "http-equiv":
                self.problems.append(f"http-equiv on {where}")


def inert_problems(page, fragment=False):
    """What in an HTML page could run, load or navigate somewhere on its own (empty: inert).

    Allowed elements are a fixed list (document structure, text, lists, tables, code,
    links, images, disabled checkboxes, details); scripts only the page's MathJax loader
    (one of MATHJAX_SRCS, no other attribute, no text), its configuration and its CDN
    fallback (each by exact sha256); ``<meta>`` only the charset and
    viewport lines; style only without @import/expression/script URLs and with ``url()``
    only to data: images. Any ``on*`` attribute, link other than http(s)/mailto/#anchor,
    image other than an inline base64 PNG/JPEG, other URL attribute, ``javascript:``,
    ``vbscript:`` or ``data:text``/``data:application`` in any attribute is a problem.
    ``fragment=True`` (rendered markdown) allows no script, style or document elements.
    """
    inspector = _Inspector(fragment)
    inspector.feed(page)
    inspector.close()
    if inspector._script is not None:
        inspector.problems.append("an unterminated script element")
    return inspector.problems


_WRAP_CSS = """
/* Long lines wrap inside their box instead of being cut at its edge: between words, and
   inside a word only when it is longer than the line (JupyterLab's style breaks anywhere). */
pre, .jp-RenderedText pre, .jp-OutputArea-output pre, .highlight pre {
  white-space: pre-wrap !important;
  word-break: normal !important;
  overflow-wrap: anywhere !important;
}
/* Code or output collapsed in the notebook stays collapsed: a line to click opens it. */
details.rnn-collapsed > summary {
  cursor: pointer;
  color: #555;
  font-family: var(--jp-content-font-family, sans-serif);
  font-size: 13px;
  padding: 4px 8px;
}
"""

_TEMPLATE = (
    "{%- extends 'index.html.j2' -%}\n"
    "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}\n"
    "{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}\n"
    "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}\n"
    # Code input: pygments output is already escaped; nbconvert's extra bleach pass over it
    # (clean_html) costs most of the rendering time and is dropped.
    '{% block input %}<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">'
    '<div class="cm-editor cm-s-jupyter">{{ cell.source | highlight_code(metadata=cell.metadata) }}'
    "</div></div>{%- endblock input %}\n"
    '{% block extra_css %}<style type="text/css">' + _WRAP_CSS + "</style>{% endblock extra_css %}\n"
    # MathJax: the local copy (resources.mathjax_url), its configuration, the fallback.
    '{%- block html_head_js_mathjax -%}\n<script src="{{ resources.mathjax_url }}"></script>\n'
    '<script type="text/x-mathjax-config">' + MATHJAX_CONFIG + "</script>\n"
    "<script>" + MATHJAX_FALLBACK + "</script>\n{%- endblock html_head_js_mathjax -%}\n"
    # What the notebook shows collapsed (jupyter.source_hidden, jupyter.outputs_hidden, or the
    # older "collapsed" for outputs) is collapsed on the page too.
    "{% block input_group -%}{%- if cell.metadata.jupyter and cell.metadata.jupyter.source_hidden -%}"
    '<details class="rnn-collapsed"><summary>Code collapsed in the notebook (click to show)</summary>'
    "{{ super() }}</details>{%- else -%}{{ super() }}{%- endif -%}{%- endblock input_group %}\n"
    "{% block output_group -%}{%- if (cell.metadata.jupyter and cell.metadata.jupyter.outputs_hidden)"
    " or cell.metadata.collapsed -%}"
    '<details class="rnn-collapsed"><summary>Output collapsed in the notebook (click to show)</summary>'
    "{{ super() }}</details>{%- else -%}{{ super() }}{%- endif -%}{%- endblock output_group %}\n"
)
_TEMPLATE_NAME = "rnn_feedback.html.j2"


@functools.lru_cache(maxsize=8192)
def _highlighted_cached(highlight, lexer, source, language):
    return highlight(source, language=language)


def _highlighted(highlight, lexer, source, language):
    """Pygments HTML of a code cell, cached by (lexer, source): most cells are the lesson's own."""
    return _highlighted_cached(_HIGHLIGHTERS.setdefault(lexer, highlight), lexer, source, language)


_HIGHLIGHTERS = {}


@functools.lru_cache(maxsize=8192)
def _markdown_html_cached(exporter, source):
    from nbconvert.exporters.html import HTMLExporter

    return HTMLExporter.markdown2html(exporter, {}, source)


def _markdown_html(exporter, source):
    return _markdown_html_cached(exporter, source)


@functools.lru_cache(maxsize=1)
def _exporter():
    """One HTMLExporter per process (compiling the templates costs more than rendering)."""
    from jinja2 import DictLoader, pass_context
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class PageExporter(HTMLExporter):
        """HTMLExporter without its final BeautifulSoup pass over the whole page (it only adds
        alt texts and tab stops, and costs a third of the rendering time)."""

        @pass_context
        def markdown2html(self, context, source):
            # The sanitised notebook has no attachments: the HTML depends on the source alone, and a
            # lesson's prose is the same for every learner.
            return _markdown_html(self, source)

        def from_notebook_node(self, nb, resources=None, **kw):
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight = Highlight2HTML(pygments_lexer=lexer, parent=self)
            self.register_filter("highlight_code", lambda source, language=None, metadata=None:
                                 _highlighted(highlight, lexer, source, language))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return PageExporter(
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        mathjax_url=MATHJAX_SRC,
        skip_svg_encoding=True,  # no SVG is left to encode; saves a BeautifulSoup pass over the page
    )


class UnsafeFeedback(RuntimeError):
    """The rendered page failed ``inert_problems``; ``.problems`` lists why."""

    def __init__(self, problems):
        super().__init__("feedback page is not inert: " + "; ".join(problems[:5]))
        self.problems = problems


def feedback_html(nb, title, placeholder_paths=()):
    """A standalone, inert HTML page for a notebook.

    The notebook is copied and (again) passed through ``sanitize_notebook`` (idempotent),
    rendered with nbconvert's HTMLExporter ("lab" template, no require.js, widget or
    mermaid loader, prompts hidden, long lines wrapped, collapsed cells collapsed, MathJax
    from ``../_mathjax/``: see MATHJAX_SRC), and the page is checked with
    ``inert_problems``; ``UnsafeFeedback`` is raised if it finds anything.
    """
    import nbformat

    node = nbformat.from_dict(copy.deepcopy(dict(nb)))
    sanitize_notebook(node, placeholder_paths)
    page, _ = _exporter().from_notebook_node(node, resources={"metadata": {"name": str(title)}})
    problems = inert_problems(page)
    if problems:
        raise UnsafeFeedback(problems)
    return page


def with_mathjax_src(page, src):
    """``page`` (from ``feedback_html``) with its MathJax loader pointing at ``src``, one of MATHJAX_SRCS.

    Learner content never holds a ``<script`` (it is escaped), so the loader is found exactly
    once, or the page is refused. One allowed address (no quote, no ``<``) stands in for
    another in that one attribute: the page stays as inert as ``inert_problems`` found it
    (not parsed again: that takes longer than the rest of writing the page).
    """
    if src not in MATHJAX_SRCS or re.search(r"[\"'<>\s]", src):
        raise ValueError(f"not a MathJax address the pages may use: {src!r}")
    loader = f'<script src="{MATHJAX_SRC}">'
    if page.count(loader) != 1:
        raise UnsafeFeedback([f"{page.count(loader)} MathJax loaders instead of one"])
    return page.replace(loader, f'<script src="{src}">')


_ALLOWED_SCRIPT_HASHES = frozenset({MATHJAX_CONFIG_SHA256})  # text/x-mathjax-config scripts
_ALLOWED_PLAIN_SCRIPT_HASHES = frozenset({MATHJAX_FALLBACK_SHA256})  # scripts the browser runs
