"""autograder.grading.sanitize: a hostile notebook becomes an inert notebook and an inert feedback page."""

import base64
import copy
import html
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from autograder.grading import sanitize as s

ROOT = Path(__file__).resolve().parents[1]
REAL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5b3c0d90000000049454e44ae426082"
    )
).decode()
FAKE_PNG = base64.b64encode(b"<svg onload=alert('fakepng')></svg>").decode()
GRADER_PATH = "/srv/course-abc/rnn"

HOSTILE_MD = r"""# Answer <script>alert('md')</script>

My answer: the forget gate keeps the state. ANSWER_MARKER_42

<img src=x onerror=alert(1)>
[a](javascript:alert(2)) and [b]( JaVaScRiPt:alert(3)) and [c](&#106;avascript:alert(4))
[d](<javascript:alert(5)>) [e](java&#x09;script:alert(6)) [f](vbscript:msgbox(7))
[g](data:text/html;base64,PHNjcmlwdD4=) [h](\javascript:alert(17))
<svg onload=alert(8)><circle/></svg>
<iframe src="https://evil.example/"></iframe>
<object data="x.swf"></object><embed src="x.swf"><form action="https://evil.example"><input name=q></form>
<meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/">
<style>body{background:url(https://evil.example/track.png)}</style>
![remote](https://evil.example/track.png) ![att](attachment:pic.png) ![data](data:image/png;base64,AAAA)
[ref link][r1] and ![ref image][r2]

[r1]: javascript:alert(10)
[r2]: https://evil.example/pixel.gif

`code <b>bold?</b>` and math $a<b$ and $$\tanh(x) < 1$$, a [good link](https://example.org/x), [anchor](#top).

```mermaid
graph TD; A-->B; click A "javascript:alert(11)"
```

- item
  ```
<script>alert('fence-in-list')</script>
```
"""

PAYLOADS = [
    "<script",
    "onerror=",
    "onload=",
    "<iframe",
    "<object",
    "<embed",
    "<form",
    "<svg",
    "<meta http-equiv",
    "<base",
    'src="https://evil.example',
    "javascript:alert",
    "vbscript:",
    "data:text/html",
    "mermaid",
]


def hostile_notebook():
    nb = new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m": {}}}}
    nb.metadata["title"] = "</title><script>alert('title')</script>"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    md = new_markdown_cell(HOSTILE_MD)
    md.attachments = {"pic.png": {"image/png": REAL_PNG}}
    md.metadata["widgets"] = {"x": 1}
    md.metadata["nbgrader"] = {"grade_id": "answer", "solution": True, "grade": False, "locked": False}
    code = new_code_cell("print('hi')  # " + GRADER_PATH + "/lessons")
    code.metadata["tags"] = ['"><script>alert(12)</script>', "ok-tag"]
    code.outputs = [
        new_output(
            "display_data",
            data={"text/html": "<script>alert('html')</script><b>HTMLONLY</b>", "text/plain": "PLAIN_ONE"},
            metadata={"text/html": {"isolated": True}},
        ),
        new_output(
            "display_data", data={"image/svg+xml": "<svg onload=alert(13)/>", "text/plain": "SVG_PLAIN"}
        ),
        new_output("display_data", data={"application/javascript": "alert(14)"}),
        new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "a"},
                "text/plain": "WIDGET_PLAIN",
            },
        ),
        new_output("display_data", data={"image/png": FAKE_PNG, "text/plain": "FAKE_PNG_PLAIN"}),
        new_output("display_data", data={"image/png": REAL_PNG}),
        new_output(
            "execute_result",
            data={
                "text/markdown": "[x](javascript:alert(15))",
                "text/latex": "$x$",
                "text/plain": "RESULT_PLAIN",
            },
            execution_count=3,
        ),
        new_output("stream", name="stdout", text="x" * 50_000_000),
        new_output(
            "error",
            ename="FileNotFoundError",
            evalue="/tmp/rnn-grade-xyz/rnnkit/lstm.py is missing",
            traceback=[
                "\x1b[31mTraceback\x1b[0m \x1b]8;;javascript:alert(18)\x07link\x1b]8;;\x07",
                '  File "/tmp/rnn-grade-xyz/rnnkit/lstm.py", line 3, in forward',
                "<script>alert(16)</script> " + "long words " * 100,
            ],
        ),
    ]
    raw = new_raw_cell("<script>alert('raw')</script>", metadata={"raw_mimetype": "text/html"})
    nb.cells = [md, code, raw, new_code_cell("print(1)")]
    return nb


@pytest.fixture(scope="module")
def hostile_page():
    return s.feedback_html(hostile_notebook(), "zoo", placeholder_paths=[GRADER_PATH])


def _markup(page):
    """The page without text content: tags and attributes only (what can be active)."""
    return "".join(re.findall(r"<[^>]*>", page))


def test_hostile_page_is_inert(hostile_page):
    assert s.inert_problems(hostile_page) == []
    markup = _markup(hostile_page).lower()
    for payload in PAYLOADS:
        if payload.startswith("<"):
            # the only script elements are the page's three MathJax ones: loader, configuration, fallback
            if payload == "<script":
                assert markup.count("<script") == 3
                continue
            assert payload not in markup, payload
        elif payload != "mermaid":
            assert payload not in markup, payload
    assert "jp-Mermaid" not in hostile_page
    assert "require.js" not in hostile_page
    for widget in ("widget-state", "widget-view", "jupyter-widgets", "model_id"):
        assert widget not in hostile_page, widget
    assert "alert('title')</script>" not in hostile_page
    assert "HTMLONLY" not in hostile_page


def test_hostile_page_shows_text(hostile_page):
    text = html.unescape(re.sub(r"<[^>]+>", "", hostile_page))
    for needle in (
        "PLAIN_ONE",
        "SVG_PLAIN",
        "WIDGET_PLAIN",
        "FAKE_PNG_PLAIN",
        "RESULT_PLAIN",
        "ANSWER_MARKER_42",
    ):
        assert needle in text, needle
    assert "<img src=x onerror=alert(1)>" in text  # the learner's HTML, shown as text
    assert "characters cut" in text
    assert "data:image/png;base64," + REAL_PNG in hostile_page
    assert FAKE_PNG not in hostile_page
    assert len(hostile_page) < 1_000_000
    assert "pre-wrap" in hostile_page


def test_hostile_page_has_no_grader_path(hostile_page):
    assert "/tmp/rnn-" not in hostile_page
    assert GRADER_PATH not in hostile_page
    assert "&lt;grader folder&gt;/rnnkit/lstm.py" in hostile_page


def test_sanitize_notebook_metadata_and_notes():
    nb = hostile_notebook()
    notes = s.sanitize_notebook(nb, [GRADER_PATH])
    assert isinstance(nb, nbformat.NotebookNode) and isinstance(nb.cells[0].metadata, nbformat.NotebookNode)
    assert set(nb.metadata) == {"kernelspec"}
    md, code, raw = nb.cells[:3]
    assert "attachments" not in md and set(md.metadata) == {"nbgrader"}
    assert code.metadata.tags == ["ok-tag"]
    assert raw.cell_type == "markdown" and raw.source.startswith("```")
    assert all(o.get("metadata", {}) == {} for o in code.outputs)
    kept = {k for o in code.outputs for k in o.get("data", {})}
    assert kept <= {"text/plain", "image/png", "image/jpeg"}
    assert any("text/html" in n for n in notes) and any("cut" in n for n in notes)
    assert any("attachments" in n for n in notes)
    assert GRADER_PATH not in json.dumps(nb) and "/tmp/rnn-" not in json.dumps(nb)
    nbformat.validate(nb)
    # idempotent: a second pass changes nothing
    again = copy.deepcopy(nb)
    s.sanitize_notebook(again, [GRADER_PATH])
    assert again == nb


def test_sanitize_notebook_plain_dict():
    nb = json.loads(nbformat.writes(hostile_notebook()))
    s.sanitize_notebook(nb)
    assert type(nb["cells"][0]) is dict
    assert "<script" not in nb["cells"][0]["source"]
    assert "/tmp/rnn-" not in json.dumps(nb)


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x]( JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;avascript&colon;alert(1))",
        "[x](<java script:alert(1)>)",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "[x][r]\n\n> [r]:\n>   vbscript:alert(1)",
        "![x](https://evil.example/p.gif)",
        "<a href='https://example.org' onclick='alert(1)'>x</a>",
        "<!-- x --><script>alert(1)</script>",
        "`<img src=x onerror='`'>",
        "\\`<img src=x onerror=alert(1)>`",
        "- item\n  ```\n<script>alert(1)</script>\n```",
        "```mermaid\ngraph TD; A-->B\n```",
        "$x$<script>alert(1)</script>$y$",
        '<div class="alert">\n<script>alert(1)</script>\n</div>',
    ],
)
def test_sanitize_markdown_is_inert(source):
    out = s.sanitize_markdown(source)
    assert s.markdown_problems(out) == []
    assert "javascript:" not in out.lower().replace("&#106;", "j") or "#link-removed" in out


def test_sanitize_markdown_keeps_prose_math_and_code():
    src = "Some *prose* with `a < b` in code, math $a<b$ and $$\\tanh(x)$$ and [link](https://example.org)."
    out = s.sanitize_markdown(src)
    assert "*prose*" in out and "`a < b`" in out and "$$\\tanh(x)$$" in out
    assert "$a\\lt b$" in out and "[link](https://example.org)" in out
    assert s.sanitize_markdown("```python\nif a < b:\n    pass\n```") == "```python\nif a < b:\n    pass\n```"


@pytest.mark.parametrize(
    ("name", "snippet"),
    [
        ("script", "<script>alert(1)</script>"),
        ("script src", '<script src="https://evil.example/x.js"></script>'),
        ("mathjax lookalike", "<script type='text/x-mathjax-config'>alert(1)</script>"),
        ("event handler", "<img src='data:image/png;base64,AAAA' onerror='alert(1)'>"),
        ("event handler on div", "<div onmouseover=alert(1)>x</div>"),
        ("javascript link", "<a href='javascript:alert(1)'>x</a>"),
        ("entity javascript link", "<a href='&#106;ava&#x09;script:alert(1)'>x</a>"),
        ("vbscript link", "<a href='vbscript:msgbox(1)'>x</a>"),
        ("data link", "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>"),
        ("relative link", "<a href='../../gradebook.db'>x</a>"),
        ("iframe", "<iframe src='https://evil.example'></iframe>"),
        ("object", "<object data='x.swf'></object>"),
        ("embed", "<embed src='x.swf'>"),
        ("form", "<form action='https://evil.example'><button>x</button></form>"),
        ("meta refresh", "<meta http-equiv='refresh' content='0;url=https://evil.example'>"),
        ("base", "<base href='https://evil.example/'>"),
        ("style url", "<style>body{background:url(https://evil.example/t.png)}</style>"),
        ("style import", "<style>@import 'https://evil.example/x.css';</style>"),
        ("style attribute url", "<p style='background:url(https://evil.example/t.png)'>x</p>"),
        ("remote image", "<img src='https://evil.example/t.png'>"),
        ("svg", "<svg><circle/></svg>"),
        ("math", "<math><mi>x</mi></math>"),
        ("link element", "<link rel='stylesheet' href='https://evil.example/x.css'>"),
        ("text input", "<input name='q'>"),
    ],
)
def test_inert_problems_catches(name, snippet):
    base = s.feedback_html(new_notebook(), "empty")
    assert s.inert_problems(base) == []
    page = base.replace("</main>", snippet + "</main>")
    assert s.inert_problems(page), name


def test_feedback_html_raises_when_check_fails(monkeypatch):
    monkeypatch.setattr(s, "MATHJAX_CONFIG_SHA256", "0" * 64)
    monkeypatch.setattr(s, "_ALLOWED_SCRIPT_HASHES", frozenset())
    with pytest.raises(s.UnsafeFeedback):
        s.feedback_html(new_notebook(), "empty")


def test_course_notebook_survives():
    path = ROOT / "solutions" / "04-lstm.ipynb"
    nb = nbformat.read(path, as_version=4)
    original = "\n".join(c.source for c in nb.cells)
    start = time.perf_counter()
    page = s.feedback_html(nb, "04-lstm")
    elapsed = time.perf_counter() - start
    print(f"04-lstm feedback page: {elapsed:.3f} s, {len(page):,} characters")
    assert s.inert_problems(page) == []
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    # prose, math and code from the lesson (picked from the notebook itself so they stay valid)
    prose = [line for line in original.splitlines() if len(line) > 40 and not re.search(r"[<$`*_\[\\]", line)]
    assert len(prose) >= 3
    for line in prose[:3] + prose[-3:]:
        assert " ".join(line.split()) in " ".join(text.split()), line
    maths = re.findall(r"\$[^$<\n]{3,40}\$", original)
    assert maths and all(m in text for m in maths[:5])
    code = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    for line in code[:3]:
        assert line.strip() in text, line
    # the sanitized notebook keeps everything nbgrader needs
    clean = copy.deepcopy(nb)
    s.sanitize_notebook(clean)
    assert [c.metadata.get("nbgrader") for c in clean.cells] == [c.metadata.get("nbgrader") for c in nb.cells]
    assert [c.get("id") for c in clean.cells] == [c.get("id") for c in nb.cells]
    assert [c.source for c in clean.cells if c.cell_type == "code"] == [
        c.source for c in nb.cells if c.cell_type == "code"
    ]


@pytest.mark.slow
def test_math_spans_are_found_as_the_regexes_find_them_in_linear_time():
    # the linear scanner must agree with the plain regex reading on every position
    import random
    import time

    from autograder.grading.sanitize import _MATH_RES, _MathSpans, sanitize_markdown

    def by_regex(text, i):
        for rx in _MATH_RES:
            m = rx.match(text, i)
            if m:
                return m.end()
        return None

    rng = random.Random(7)
    alphabet = ["$", "$$", "\\", "\\\\(", "\\\\)", "\\\\[", "\\\\]", "\\begin{eq}", "\\end{eq}", "\\end{x}",
                "x", " ", "\n", "<b>"]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        spans = _MathSpans(text)
        for i, ch in enumerate(text):
            if ch in "$\\":
                assert spans.span_end(i) == by_regex(text, i), (text, i)
    # a learner's cell built to make the regexes quadratic is read in linear time
    started = time.monotonic()
    sanitize_markdown("$$\\" * 60_000)
    print(f"120k-character hostile cell: {time.monotonic() - started:.2f} s")


# ----------------------------------------------------------------------------- MathJax offline


def _scripts(page):
    return re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)


def test_page_loads_the_local_mathjax_and_nothing_else_by_address():
    page = s.feedback_html(new_notebook(), "empty")
    scripts = _scripts(page)
    loaders = [attrs for attrs, _ in scripts if "src=" in attrs]
    assert loaders == [' src="../_mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"']
    # the configuration names the only web font the local copy has
    config = [text for attrs, text in scripts if "x-mathjax-config" in attrs]
    assert len(config) == 1 and 'webFont: "STIX-Web"' in config[0]
    # the fallback only runs when the local copy did not define MathJax
    fallback = [text for attrs, text in scripts if not attrs.strip()]
    assert len(fallback) == 1 and "if (!window.MathJax)" in fallback[0]
    assert "cdnjs.cloudflare.com" not in page.replace(fallback[0], "")


def test_course_copy_of_a_page_points_one_folder_further_up():
    page = s.feedback_html(new_notebook(), "empty")
    course_page = s.with_mathjax_src(page, s.MATHJAX_COURSE_SRC)
    assert s.inert_problems(course_page) == []
    assert '<script src="../../_mathjax/MathJax.js?config=' in course_page
    assert course_page.replace("../../_mathjax/", "../_mathjax/") == page
    with pytest.raises(ValueError):
        s.with_mathjax_src(page, "https://evil.example/MathJax.js")
    loader = page[page.index("<script src="):page.index("</script>") + len("</script>")]
    with pytest.raises(s.UnsafeFeedback):
        s.with_mathjax_src(page.replace("</main>", loader + "</main>"), s.MATHJAX_COURSE_SRC)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("another local script", lambda l: l.replace("MathJax.js", "evil.js")),
        ("a deeper path", lambda l: l.replace('src="../', 'src="../../../')),
        ("the CDN address as loader", lambda l: l.replace(s.MATHJAX_SRC, s.MATHJAX_CDN)),
        ("a second src, read first by browsers", lambda l: l.replace("<script ", '<script src="x.js" ')),
        ("a type attribute", lambda l: l.replace("<script ", '<script type="module" ')),
        ("text inside the loader", lambda l: l.replace("></script>", ">alert(1)</script>")),
    ],
)
def test_inert_problems_allows_only_the_exact_loader(name, make):
    page = s.feedback_html(new_notebook(), "empty")
    loader = page[page.index("<script src="):page.index("</script>") + len("</script>")]
    changed = page.replace(loader, make(loader))
    assert changed != page, name
    assert s.inert_problems(changed), name


def test_inert_problems_allows_only_the_exact_fallback_and_configuration():
    page = s.feedback_html(new_notebook(), "empty")
    edited_fallback = page.replace(s.MATHJAX_CDN, "https://evil.example/x.js")
    edited_config = page.replace('webFont: "STIX-Web"', 'webFont: "TeX"')
    for changed in (edited_fallback, edited_config):
        assert changed != page
        assert s.inert_problems(changed)
    # the fallback's text as a mathjax-config script, or the configuration as a script, is refused
    swapped = page.replace('<script type="text/x-mathjax-config">', "<script>", 1)
    assert swapped != page and s.inert_problems(swapped)


# ----------------------------------------------------------------------------- collapsed cells, paths


def test_collapsed_cells_stay_collapsed_on_the_page():
    hidden_code = new_code_cell("FIGURE_CODE_LINE = 1")
    hidden_code.metadata["jupyter"] = {"source_hidden": True, "evil": "<script>"}
    hidden_output = new_code_cell("SHOWN_CODE = 2")
    hidden_output.metadata["collapsed"] = True
    hidden_output.outputs = [new_output("stream", text="HIDDEN_OUTPUT\n")]
    not_boolean = new_code_cell("PLAIN_CODE = 3")
    not_boolean.metadata["jupyter"] = {"source_hidden": "yes"}
    nb = new_notebook(cells=[hidden_code, hidden_output, not_boolean])
    clean = copy.deepcopy(nb)
    s.sanitize_notebook(clean)
    assert clean.cells[0].metadata == {"jupyter": {"source_hidden": True}}
    assert clean.cells[1].metadata == {"collapsed": True}
    assert clean.cells[2].metadata == {}
    nbformat.validate(clean)
    page = s.feedback_html(nb, "collapsed")
    assert s.inert_problems(page) == []
    details = re.findall(r'<details class="rnn-collapsed">(.*?)</details>', page, re.S)
    assert len(details) == 2
    assert "Code collapsed in the notebook" in details[0] and "FIGURE_CODE_LINE" in details[0]
    assert "Output collapsed in the notebook" in details[1] and "HIDDEN_OUTPUT" in details[1]
    assert "SHOWN_CODE" not in details[1] and "PLAIN_CODE" not in "".join(details)
    assert s.inert_problems("<details open ontoggle=alert(1)><summary>x</summary></details>")


def test_the_learners_own_folder_is_not_shown():
    setup = new_code_cell("show_setup(COURSE_DIR)")
    folder = "/tmp/pytest-of-ann/course-7"
    setup.outputs = [new_output("stream", text=f"Using your rnnkit in {folder}/rnnkit; checks from "
                                                f"{folder}/rnncheck.\n")]
    failing = new_code_cell("1/0")
    failing.outputs = [new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                  traceback=[f'File "{folder}/rnnkit/lstm.py", line 3'])]
    shadowed = new_code_cell("show_setup(COURSE_DIR)")
    shadowed.outputs = [new_output("stream", text="!!! WARNING: this notebook is using the rnnkit in "
                                   "/opt/conda/lib/python3.11/site-packages/rnnkit,\n!!! not the copy in "
                                   "your course folder C:\\Users\\bo\\rnn.\n")]
    nb = new_notebook(cells=[setup, failing, shadowed])
    s.sanitize_notebook(nb)
    text = json.dumps(nb)
    assert folder not in text and "C:\\\\Users" not in text
    assert "Using your rnnkit in <your course folder>/rnnkit; checks from <your course folder>/rnncheck." \
        in nb.cells[0].outputs[0]["text"]
    assert nb.cells[1].outputs[0]["traceback"] == ['File "<your course folder>/rnnkit/lstm.py", line 3']
    # the other rnnkit's place is what the learner must act on: kept
    assert "/opt/conda/lib/python3.11/site-packages/rnnkit" in nb.cells[2].outputs[0]["text"]
    again = copy.deepcopy(nb)
    s.sanitize_notebook(again)
    assert again == nb


@pytest.mark.parametrize("claimed", ["/", "/rnnkit", "rnn", "<your course folder>"])
def test_a_folder_claim_that_is_not_a_path_replaces_nothing(claimed):
    cell = new_code_cell("x")
    cell.outputs = [new_output("stream", text=f"Using your rnnkit in {claimed}/rnnkit; checks from x.\n"
                                              "a/b /usr/lib rnn text\n")]
    nb = new_notebook(cells=[cell])
    s.sanitize_notebook(nb)
    assert "a/b /usr/lib rnn text" in nb.cells[0].outputs[0]["text"]


def test_a_notebook_full_of_unfinished_setup_lines_keeps_them():
    # as much text as a notebook may show, every line opening a set-up message that never ends
    text = ("Using your rnnkit in " + "/a" * 200 + "\n") * 45
    cells = [new_code_cell("x") for _ in range(100)]
    for cell in cells:
        cell.outputs = [new_output("stream", text=text)]
    nb = new_notebook(cells=cells)
    started = time.monotonic()
    s.sanitize_notebook(nb)
    print(f"100 cells of 45 unfinished set-up lines ({100 * len(text):,} characters): "
          f"{time.monotonic() - started:.2f} s")
    assert [c.outputs[0]["text"] for c in nb.cells] == [text] * 100


def test_the_mathjax_copy_is_made_once_and_replaced_when_outdated(tmp_path):
    from autograder.grading import feedback

    if feedback.mathjax_source() is None:
        pytest.skip("jupyter-server-mathjax is not installed")
    copy_dir = feedback.ensure_mathjax(tmp_path)
    assert copy_dir == tmp_path / s.MATHJAX_DIR
    assert (copy_dir / "MathJax.js").read_bytes() == (feedback.mathjax_source() / "MathJax.js").read_bytes()
    assert (copy_dir / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()  # named by the loader
    assert (copy_dir / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").is_dir()  # the configured web font
    assert not (copy_dir / "extensions" / "a11y").exists()
    assert [p.name for p in (copy_dir / "localization").iterdir()] == ["en"]
    size = sum(f.stat().st_size for f in copy_dir.rglob("*") if f.is_file())
    print(f"MathJax copy: {size / 1e6:.1f} MB")
    marker = copy_dir / "config" / "kept"
    marker.write_text("x")
    assert feedback.ensure_mathjax(tmp_path) == copy_dir and marker.exists()  # up to date: left alone
    (copy_dir / feedback.MATHJAX_STAMP).write_text("an older copy")
    assert feedback.ensure_mathjax(tmp_path) == copy_dir and not marker.exists()  # replaced whole
    assert [p.name for p in tmp_path.iterdir()] == [s.MATHJAX_DIR]  # no temporary folder left
