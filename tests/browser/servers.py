"""What the browser tests share: Debian's chromium for Playwright, and Jupyter servers on 127.0.0.1."""

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium: Playwright never downloads a browser here


def sync_playwright_or_skip():
    """Playwright's ``sync_playwright``; skips the test, with the reason, when Playwright or chromium
    is missing."""
    api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed "
                              "(the Makefile's set-up installs it: pyproject's test extra)")
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed "
                    "(apt-get install chromium: needs root; .ci/run does it)")
    return api.sync_playwright


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(server, url, token):
    """Stop a Jupyter server and its kernels: its own shutdown request, then SIGTERM, then SIGKILL."""
    with contextlib.suppress(OSError):
        request = urllib.request.Request(f"{url}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=10)
    for stop in (None, server.terminate, server.kill):
        if stop is not None:
            stop()
        try:
            server.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until_serving(server, url, token, seconds, log_path):
    """Wait until the Jupyter server started as ``server`` answers at ``url``; fail the test, naming
    its log, if it exits or does not answer within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Jupyter server did not start; its log: {log_path}")
            time.sleep(0.3)


@contextlib.contextmanager
def jupyter_lab(course, tmp, windowing=True):
    """(url, token): JupyterLab serving ``course`` on 127.0.0.1 with a Jupyter home of its own under
    ``tmp``, stopped afterwards. ``windowing=False`` draws every cell of a notebook, not only those
    near the view (JupyterLab's default), so a test can wait for an output wherever the page is."""
    token, port = secrets.token_hex(16), free_port()
    home = Path(tmp) / "jupyter"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"), IPYTHONDIR=str(home / "ipython"))
    if not windowing:
        settings = home / "settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True)
        (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
        env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "settings")
    log_path = Path(tmp) / "jupyterlab.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={course}", f"--LabApp.workspaces_dir={home / 'workspaces'}"],
            cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(server, url, token, 60, log_path)
            yield url, token
        finally:
            stop_server(server, url, token)
