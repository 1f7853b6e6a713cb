"""A learner's day in JupyterLab, in a real headless browser.

JupyterLab runs on 127.0.0.1 with a token, on a learner's course folder made by
``python -m autograder release``; Playwright drives Debian's chromium (never a downloaded
browser). As a learner would: open lesson 02 (it opens clean: nothing to save), Run All
(it reaches the last cell, the check failing with its message first), write ``rnn_step``
in JupyterLab's editor and save (the check passes), then save a syntax error (the check
names the file, the line Python reports and the error, and runs nothing).

Each step leaves a screenshot in the test's tmp folder; a failure names them.
Skipped, with the reason, where Playwright's package or Debian's chromium is missing.
"""

import contextlib
import json
import re
import time
from pathlib import Path

import pytest
from servers import CHROMIUM, jupyter_lab, sync_playwright_or_skip  # beside this file

from autograder.building import release

pytestmark = pytest.mark.slow

LESSON = "02-basic-rnn"
STUB = "raise NotImplementedError()"
BODY = "return np.tanh(np.concatenate([x, s_prev], axis=-1) @ W.T + b)"
TIMEOUT_MS = 60_000



@pytest.fixture(scope="module")
def sync_playwright():
    return sync_playwright_or_skip()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, sync_playwright):
    """(url, token, course folder): JupyterLab serving a fresh learner folder, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    course = release.build_release(tmp / "course")
    with jupyter_lab(course, tmp) as (url, token):
        yield url, token, course


class Learner:
    """A page of JupyterLab, with the few things the learner does in it."""

    def __init__(self, page, shots):
        self.page, self.shots = page, shots

    def shot(self, name):
        path = self.shots / f"{len(list(self.shots.iterdir())):02d}-{name}.png"
        with contextlib.suppress(Exception):
            self.page.screenshot(path=str(path))
        return path

    def menu(self, top, item):
        self.page.click(f".lm-MenuBar-itemLabel:text-is('{top}')")
        self.page.click(f".lm-Menu-itemLabel:text-is('{item}')")

    def wait_idle(self):
        self.page.wait_for_function(
            "document.querySelector('#jp-main-statusbar')?.innerText.includes('| Idle')", timeout=TIMEOUT_MS)

    def tab(self, title):
        return self.page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=title)

    def prompts(self):
        return self.page.eval_on_selector_all(
            ".jp-Notebook .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")

    def check_cell(self):
        return self.page.locator(".jp-Notebook .jp-CodeCell", has_text='check("rnn.rnn_step")')

    def run_check(self, expect):
        """Run the check cell (click into it, Shift+Enter) and wait for ``expect`` in its output."""
        self.tab(f"{LESSON}.ipynb").click()
        cell = self.check_cell()
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Shift+Enter")
        output = cell.locator(".jp-OutputArea")
        output.filter(has_text=expect).wait_for(timeout=TIMEOUT_MS)
        cell.scroll_into_view_if_needed()
        return output.text_content()

    def edit_and_save(self, path, old, new, course):
        """In rnnkit's file open in JupyterLab's editor: select the first line holding ``old``
        (from its indentation to its end), type ``new`` over it, Ctrl+S; wait until it is on disk."""
        before = (course / path).read_text()
        self.tab(path.name).click()
        line = self.page.locator(".jp-FileEditor .cm-line", has_text=old).first
        line.click()
        self.page.keyboard.press("End")
        self.page.keyboard.press("Shift+Home")
        self.page.keyboard.type(new)
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + 20
        while (course / path).read_text() == before or new not in (course / path).read_text():
            assert time.monotonic() < deadline, f"{path} was not saved with {new!r}"
            time.sleep(0.2)


def test_a_learners_day_in_jupyterlab(lab, sync_playwright, tmp_path):
    url, token, course = lab
    shots = tmp_path / "screenshots"
    shots.mkdir()
    rnn = Path("rnnkit/rnn.py")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        learner = Learner(browser.new_page(viewport={"width": 1400, "height": 1000}), shots)
        try:
            _day(learner, url, token, course, rnn)
        except Exception as e:
            failure = learner.shot("failure")
            taken = "\n".join(f"  {p}" for p in sorted(shots.iterdir()))
            raise AssertionError(f"{type(e).__name__}: {e}\nScreenshots (the last is {failure.name}):\n"
                                 f"{taken}") from e
        finally:
            browser.close()


def _day(learner, url, token, course, rnn):
    page = learner.page
    page.goto(f"{url}/lab/tree/lessons/{LESSON}.ipynb?token={token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=TIMEOUT_MS)
    learner.wait_idle()
    # The course folder is the root: lessons/ and rnnkit/ side by side.
    page.click(".jp-BreadCrumbs-home")
    page.locator(".jp-DirListing-item", has_text="rnnkit").wait_for(timeout=TIMEOUT_MS)
    learner.shot("opened")
    # Opening an unedited lesson changes nothing in it: no "save your changes?" on closing.
    page.wait_for_timeout(1000)
    assert "jp-mod-dirty" not in (learner.tab(f"{LESSON}.ipynb").get_attribute("class") or ""), \
        "the lesson is marked changed as soon as it opens (its kernelspec/language_info differ from Lab's)"

    # Run All reaches the last cell; the check fails with its message first.
    learner.menu("Run", "Run All Cells")
    page.wait_for_function(
        """() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
                    .map(e => e.textContent.trim());
                   return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t)); }""", timeout=TIMEOUT_MS)
    learner.wait_idle()
    prompts = learner.prompts()
    numbers = [int(re.sub(r"\D", "", p)) for p in prompts]
    code_cells = json.loads((course / "lessons" / f"{LESSON}.ipynb").read_text())["cells"]
    assert len(prompts) == sum(c["cell_type"] == "code" for c in code_cells), prompts
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), prompts  # each ran, in order
    learner.check_cell().scroll_into_view_if_needed()
    failing = learner.check_cell().locator(".jp-OutputArea").text_content()
    learner.shot("run-all")
    first = failing.strip().splitlines()[0]
    assert first == "AssertionError: rnn.rnn_step: 0 of 11 cases pass.", failing
    assert "`rnn_step` is not written yet" in failing and "Traceback" not in failing, failing

    # Write rnn_step in JupyterLab's editor, save, check again: it passes.
    learner.menu("File", "Open from Path…")
    page.fill(".jp-Dialog input", str(rnn))
    page.keyboard.press("Enter")
    page.locator(".jp-FileEditor .cm-line", has_text=STUB).first.wait_for(timeout=TIMEOUT_MS)
    learner.edit_and_save(rnn, STUB, BODY, course)
    learner.shot("written")
    passed = learner.run_check("visible cases pass")
    learner.shot("passed")
    assert passed.strip().startswith("rnn.rnn_step: all 11 visible cases pass"), passed

    # A missing parenthesis: the check names the file, Python's line and the error, and runs nothing.
    learner.edit_and_save(rnn, BODY, BODY[:-1], course)
    try:
        compile((course / rnn).read_text(), str(rnn), "exec")
    except SyntaxError as e:
        expected = f"rnnkit/rnn.py, line {e.lineno}: SyntaxError"
    else:
        raise AssertionError("the edit left rnn.py valid Python")
    broken = learner.run_check("does not load")
    learner.shot("syntax-error")
    assert broken.strip().startswith("AssertionError: rnn.rnn_step: not checked."), broken
    assert expected in broken and "visible cases pass" not in broken, broken
