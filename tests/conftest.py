"""Shared pytest set-up for the project's suite.

Markers (``slow``, ``torch``) are registered in pyproject.toml, not here.

Tests marked ``torch`` use PyTorch as an independent oracle. PyTorch is a
test-only extra (``pip install torch==2.13.0``): when it cannot be imported those
tests are skipped one by one, and the end of the run says so plainly, with the
number skipped, so that a green run without the cross-checks is not mistaken
for a run with them.
"""

import pytest

TORCH_PIN = "torch==2.13.0"
TORCH_SKIP_REASON = f"PyTorch not installed ({TORCH_PIN} runs the cross-checks)"

_torch_state = {}


def torch_available():
    """True when ``import torch`` works (checked once per process)."""
    if "ok" not in _torch_state:
        try:
            import torch  # noqa: F401
        except (ImportError, OSError):
            _torch_state["ok"] = False
        else:
            _torch_state["ok"] = True
    return _torch_state["ok"]


def pytest_collection_modifyitems(config, items):
    torch_items = [item for item in items if item.get_closest_marker("torch") is not None]
    if torch_items and not torch_available():
        skip = pytest.mark.skip(reason=TORCH_SKIP_REASON)
        for item in torch_items:
            item.add_marker(skip)


def _is_torch_skip(report):
    # Works for reports coming back from xdist workers too: their keywords
    # travel with them as a plain dict of names.
    return "torch" in getattr(report, "keywords", {}) and TORCH_SKIP_REASON in str(report.longrepr)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if _is_torch_skip(r)]
    if skipped:
        terminalreporter.write_sep("=", "PyTorch cross-checks", yellow=True, bold=True)
        terminalreporter.write_line(
            f"PyTorch not installed: {len(skipped)} cross-checks skipped; "
            f"pip install {TORCH_PIN} to run them",
            yellow=True,
            bold=True,
        )
