"""A learner on the course's JupyterHub, in a browser: log in, fetch lesson 04, open it, run it.

The hub is the one `make class` runs (deploy/hub/rnnhub.py ``local``: 127.0.0.1, the demo
log-in, every server from the learner environment), driven with Playwright and Debian's
chromium. Screenshots of a failure are written under the test's temporary folder and named
in the failure message.
"""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy" / "hub"))
import rnnhub  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
LESSON = "04-lstm"

pytestmark = pytest.mark.slow


def _missing():
    if not rnnhub.ENVIRONMENTS.is_file():
        return "the hub's environments are not installed: run `make hub-deps`"
    if not os.path.exists(CHROMIUM):
        return f"no chromium at {CHROMIUM} (Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed"
    return ""


@pytest.fixture(scope="module")
def local_class(tmp_path_factory):
    missing = _missing()
    if missing:
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("class")
    s = rnnhub.make_local(root, learners=1, port=rnnhub.free_port())
    # the hub's inner ports too: another hub (tests/test_hub.py's) may be starting meanwhile
    s.hub_port, s.proxy_api_port, s.service_port = rnnhub.free_ports(3)
    rnnhub.prepare_course(s, log=lambda message: None)
    s.save()
    with rnnhub.Hub(s) as hub:
        yield s, hub


def test_a_learner_logs_in_fetches_lesson_04_and_opens_it(local_class, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    s, hub = local_class
    learner = s.learners[0]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        step = "open the login page"
        try:
            page.goto(f"{s.url}hub/login")
            step = "log in"
            page.fill("#username_input", learner)
            page.fill("#password_input", s.password)
            page.click("#login_submit")
            step = "wait for JupyterLab"
            nbgrader_menu = page.locator(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
            expect(nbgrader_menu).to_be_visible(timeout=180_000)
            step = "open the Assignments tab"
            nbgrader_menu.click()
            page.click(".lm-Menu-itemLabel:text-is('Assignment List')")
            released = page.locator("#released_assignments_list .list_item", has_text=LESSON)
            expect(released).to_be_visible(timeout=60_000)
            step = f"fetch {LESSON}"
            released.locator("button", has_text="Fetch").click()
            fetched = page.locator("#fetched_assignments_list > .list_item", has_text=LESSON)
            expect(fetched).to_be_visible(timeout=60_000)
            assert (s.homes / learner / LESSON / "rnnkit" / "lstm.py").is_file()
            step = f"open {LESSON}.ipynb from the downloaded assignment"
            fetched.locator("a.assignment-notebooks-link").click()
            fetched.locator(".nested_list_item a", has_text=LESSON).click()
            notebook = page.locator(".jp-NotebookPanel:visible")
            expect(notebook).to_be_visible(timeout=60_000)
            expect(page.locator(".lm-TabBar-tab.jp-mod-current", has_text=f"{LESSON}.ipynb")).to_be_visible()
            step = "start the learner's kernel"
            kernel_idle = page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first
            expect(kernel_idle).to_be_visible(timeout=120_000)
            step = "run the set-up cell (the first code cell) in the learner's kernel"
            setup = notebook.locator(".jp-CodeCell").first
            output = setup.locator(".jp-OutputArea-output")
            for _attempt in range(3):  # a run asked for while the kernel still connects can be dropped
                setup.locator(".jp-InputArea-editor").click()
                page.keyboard.press("Shift+Enter")
                try:
                    expect(output).to_be_visible(timeout=30_000)
                    break
                except AssertionError:
                    continue
            # the kernel imports the fetched, stubbed rnnkit: no other one is installed
            own = (s.homes / learner / LESSON / "rnnkit").resolve()
            expect(output).to_contain_text(f"Using your rnnkit in {own};", timeout=60_000)
            page.screenshot(path=str(shots / "opened.png"))
        except Exception as err:
            path = shots / "failure.png"
            page.screenshot(path=str(path), full_page=True)
            raise AssertionError(f"the learner could not {step}: {err}\nscreenshot: {path}\n"
                                 f"hub log: {hub.log_file}") from err
        finally:
            browser.close()
