"""An instructor's day in formgrader and the feedback pages, in a real headless browser, offline.

``python -m autograder demo --out DIR`` grades a simulated class (lesson 04 only, for time); a
Jupyter server (127.0.0.1, a token) serves its nbgrader course, and Playwright drives Debian's
chromium (never a downloaded browser) with every request that leaves the server refused, as on
a machine without a network. As an instructor would: open formgrader's manual grading of
lesson 04, show the learners' names, open Amara Okafor's submission (maths rendered by the
MathJax the server serves), give points to her written answer in the page, then run
``python -m autograder export DIR/graded`` and find the points in the final grades. A
learner's feedback page, opened as a file with the network off, shows its maths rendered.

Each step leaves a screenshot in the test's tmp folder; a failure names them.
Skipped, with the reason, where Playwright's package or Debian's chromium is missing.
"""

import contextlib
import csv
import re
import secrets
import subprocess
import sys

import pytest
from servers import (  # beside this file
    CHROMIUM,
    free_port,
    stop_server,
    sync_playwright_or_skip,
    wait_until_serving,
)

from autograder.building.course import nbgrader_env

pytestmark = pytest.mark.slow

ASSIGNMENT = "04-lstm"
STUDENT, SHOWN_AS = "perfect", "Okafor, Amara"  # the demo's learner who wrote the answer key
WRITTEN = "lstm_q_memo_state"  # her written answer of lesson 04 (3 points)
POINTS = 2.5
TIMEOUT_MS = 60_000
# TeX that must not be left as text once MathJax ran (from the lesson's own prose).
RAW_TEX = re.compile(r"\$\\tanh|\$s_t\$|\$s_\{t-1\}\$|\\odot")



@pytest.fixture(scope="module")
def sync_playwright():
    return sync_playwright_or_skip()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, sync_playwright):
    """DIR of ``python -m autograder demo --out DIR`` (lesson 04 only)."""
    out = tmp_path_factory.mktemp("instructor") / "demo"
    proc = subprocess.run([sys.executable, "-m", "autograder", "demo", "--out", str(out), "--quiet",
                           "--assignments", ASSIGNMENT], capture_output=True, text=True, timeout=1200,
                          env=nbgrader_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def formgrader(demo):
    """(url, token): a Jupyter server on the demo's nbgrader course, stopped afterwards."""
    course = demo / "graded" / "course"
    token, port = secrets.token_hex(16), free_port()
    home = demo.parent / "jupyter"
    env = dict(nbgrader_env(), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               IPYTHONDIR=str(home / "ipython"))
    log_path = demo.parent / "jupyter-server.log"
    log = log_path.open("w")
    # Run from the course directory: formgrader reads its nbgrader_config.py there.
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={course}"],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, url, token, 90, log_path)
        yield url, token
    finally:
        stop_server(server, url, token)
        log.close()




@pytest.fixture
def browser(sync_playwright):
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Steps:
    """Screenshots of each step in the test's tmp folder; a failure's message names them all."""

    def __init__(self, page, folder):
        self.page, self.folder = page, folder
        folder.mkdir(exist_ok=True)
        self.taken = []

    def shot(self, name):
        path = self.folder / f"{len(self.taken):02d}-{name}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path))
            self.taken.append(path)
        return path

    @contextlib.contextmanager
    def failing_with_screenshots(self):
        try:
            yield
        except Exception as err:
            self.shot("failure")
            raise AssertionError(f"{err}\nscreenshots: {', '.join(map(str, self.taken))}") from err


def _offline_except(context, allowed_prefix):
    """Refuse every request the page makes except to ``allowed_prefix`` (and the page's own files)."""
    refused = []

    def route(r):
        if r.request.url.startswith(allowed_prefix) or r.request.url.startswith(("file:", "data:", "about:")):
            return r.continue_()
        refused.append(r.request.url)
        return r.abort()

    context.route("**/*", route)
    return refused


def _wait_for_mathjax(page):
    """Wait until MathJax has typeset the page; return how many formulas it rendered."""
    page.wait_for_function(
        "() => window.MathJax && MathJax.Hub && MathJax.Hub.queue && MathJax.isReady"
        " && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0"
        " && document.querySelectorAll('.MathJax').length > 0", timeout=TIMEOUT_MS)
    return page.locator(".MathJax").count()


def _prose_text(page):
    """The page's text outside code (code keeps its $...$: matplotlib labels), scripts and styles."""
    return page.evaluate("""() => {
        const body = document.body.cloneNode(true);
        body.querySelectorAll("pre, code, script, style").forEach(e => e.remove());
        return body.textContent;
    }""")


def _grades(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}


def test_hand_grading_in_formgrader_reaches_the_exported_grades(demo, formgrader, browser, tmp_path):
    url, token = formgrader
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    refused = _offline_except(context, url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    steps = Steps(page, tmp_path / "screenshots")
    with steps.failing_with_screenshots():
        page.goto(f"{url}/formgrader?token={token}")
        page.goto(f"{url}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}")
        page.get_by_text("Submission #1", exact=True).wait_for()
        page.get_by_role("button", name="Show All Names").click()
        learner = page.get_by_role("link", name=SHOWN_AS)
        learner.wait_for(state="visible")  # the demo's learners have names, not "None, None"
        assert page.get_by_text("None, None").count() == 0
        steps.shot("manual-grading-list")
        learner.click()

        page.wait_for_url(re.compile(r"/formgrader/submissions/\w+/"))
        rendered = _wait_for_mathjax(page)
        mathjax_root = page.evaluate("() => MathJax.Hub.config.root")
        assert mathjax_root == f"{url}/static/jupyter_server_mathjax", mathjax_root
        assert rendered > 20, f"only {rendered} formulas rendered"
        raw = RAW_TEX.findall(_prose_text(page))
        assert not raw, f"TeX left as text: {raw[:5]}"
        score = page.locator(f"input#{WRITTEN}")
        score.scroll_into_view_if_needed()
        answer = page.locator(".nbgrader_cell", has=score)
        assert "exact accumulation for free" in answer.inner_text()  # her written answer, rendered
        steps.shot("written-answer-before")
        assert "needs_manual_grade" in score.get_attribute("class")  # formgrader marks it as to grade
        score.fill(f"{POINTS:g}")
        with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                                  and r.request.method == "PUT") as saved:
            score.press("Tab")  # formgrader saves a score when the field loses focus
        assert saved.value.ok, saved.value.status
        page.locator(f"input#{WRITTEN}:not(.needs_manual_grade)").wait_for()
        steps.shot("written-answer-graded")
        assert refused == [], f"requests that left the server: {refused}"

    before = _grades(demo / "graded" / "grades.csv")
    proc = subprocess.run([sys.executable, "-m", "autograder", "export", str(demo / "graded")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    final = _grades(demo / "graded" / "final-grades.csv")
    assert final[(STUDENT, ASSIGNMENT)] == before[(STUDENT, ASSIGNMENT)] + POINTS
    assert _grades(demo / "graded" / "grades.csv") == before


@pytest.mark.parametrize("where", ["OUT/feedback", "course/feedback"])
def test_a_feedback_page_opened_as_a_file_renders_its_maths_offline(demo, browser, tmp_path, where):
    if where == "OUT/feedback":
        page_path = demo / "graded" / "feedback" / STUDENT / f"{ASSIGNMENT}.html"
    else:
        page_path = demo / "graded" / "course" / "feedback" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.html"
    context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=True)
    refused = _offline_except(context, "file:")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    steps = Steps(page, tmp_path / "screenshots")
    with steps.failing_with_screenshots():
        page.goto(page_path.as_uri())
        rendered = _wait_for_mathjax(page)
        root = page.evaluate("() => MathJax.Hub.config.root")
        assert root == (demo / "graded" / where.replace("OUT/", "") / "_mathjax").as_uri(), root
        assert rendered > 20, f"only {rendered} formulas rendered"
        raw = RAW_TEX.findall(_prose_text(page))
        assert not raw, f"TeX left as text: {raw[:5]}"
        text = page.evaluate("() => document.body.innerText")
        # 2 answers wait for a hand grade, or 1 once the formgrader test above graded one and exported
        # (export refreshes the pages)
        assert re.search(r"Written answers still to be graded by hand: [12]\.", text), text[:2000]
        assert "saved without outputs" in text  # the demo's notebooks were never run
        # the figure's drawing code, collapsed in the lesson, is collapsed on the page
        collapsed = page.locator("details.rnn-collapsed", has_text="Code collapsed in the notebook")
        assert collapsed.count() >= 1 and not collapsed.first.evaluate("d => d.open")
        assert not page.get_by_text("def draw_lstm_cell").first.is_visible()
        page.get_by_text("exact accumulation for free").first.scroll_into_view_if_needed()
        steps.shot("written-answer-rendered")
        assert refused == [], f"requests that left the machine: {refused}"
