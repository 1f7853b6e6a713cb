"""Lesson 2's spectral-radius slider, in JupyterLab in a real headless browser.

On the answer key's course folder (its rnn_step and unroll are written, so the experiment runs): open
lesson 02, Run All, find the slider under the experiment, drag it to the left end, and see the figure
under it redrawn in place for rho = 0.10 (one figure, a new image, the slider's readout at 0.10).
Screenshots of before and after are left in the test's tmp folder.
"""

import time

import pytest
from servers import CHROMIUM, jupyter_lab, sync_playwright_or_skip

from autograder.building import release

pytestmark = pytest.mark.slow

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def sync_playwright():
    return sync_playwright_or_skip()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, sync_playwright):
    """(url, token): JupyterLab serving the answer key's course folder, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    course = release.build_release(tmp / "course", solutions=True)
    # Every cell drawn (no windowing): the test can wait for the slider however slowly the lesson runs.
    with jupyter_lab(course, tmp, windowing=False) as served:
        yield served


def test_dragging_the_radius_slider_redraws_the_figure(lab, sync_playwright, tmp_path):
    url, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/lab/tree/lessons/02-basic-rnn.ipynb?token={token}&reset")
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=TIMEOUT_MS)
            # Run All only once the kernel is up: cells sent while it still starts can be lost on a
            # busy machine (the lesson then shows no output at all).
            idle = "document.querySelector('#jp-main-statusbar')?.innerText.includes('| Idle')"
            page.wait_for_function(idle, timeout=TIMEOUT_MS)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            # The lesson's one slider, and the figure in the same output area. (Located by the output:
            # JupyterLab draws only the cells and the editor lines near the view.)
            cell = page.locator(".jp-Notebook .jp-CodeCell .jp-Cell-outputWrapper",
                                has=page.locator(".widget-slider"))
            slider = cell.locator(".widget-slider").first
            image = cell.locator(".jp-OutputArea img")
            # Wait for the experiment's slider and figure (Run All may take a while on a busy machine),
            # then scroll to them, as a reader would.
            try:
                slider.wait_for(state="attached", timeout=TIMEOUT_MS)
                image.first.wait_for(state="attached", timeout=TIMEOUT_MS)
            except Exception as e:  # noqa: BLE001 - a Playwright timeout: say what was missing
                page.screenshot(path=str(tmp_path / "no-slider.png"))
                raise AssertionError(f"no slider and figure under the experiment ({tmp_path})") from e
            slider.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)                              # let the scrolling settle
            assert cell.locator(".widget-readout").first.text_content().strip() == "1.50"
            before = image.first.get_attribute("src")
            page.screenshot(path=str(tmp_path / "slider-before.png"))

            handle = cell.locator(".noUi-handle").first.bounding_box()
            y = handle["y"] + handle["height"] / 2
            page.mouse.move(handle["x"] + handle["width"] / 2, y)
            page.mouse.down()
            page.mouse.move(handle["x"] - 200, y, steps=5)       # past the left end: the minimum
            page.mouse.up()
            deadline = time.monotonic() + 60
            while image.first.get_attribute("src") == before:
                assert time.monotonic() < deadline, f"the figure was not redrawn; see {tmp_path}"
                page.wait_for_timeout(200)
            page.screenshot(path=str(tmp_path / "slider-after.png"))
            assert cell.locator(".widget-readout").first.text_content().strip() == "0.10"
            assert image.count() == 1                               # redrawn in place, not added
        finally:
            browser.close()
