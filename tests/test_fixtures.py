"""The published fixtures: current, listed in the manifest, small, pickle-free, deterministic."""

import functools
import hashlib
import io
import shutil

import numpy as np
import pytest

from autograder import paths
from autograder.building import fixtures
from autograder.checks import casefile
from autograder.checks.registry import CHECKS

FIXTURES = paths.FIXTURES
_fresh = functools.lru_cache(maxsize=1)(fixtures.build_all)


@pytest.fixture(autouse=True)
def build_once(monkeypatch):
    """Building every fixture takes seconds: build once for the whole module."""
    monkeypatch.setattr(fixtures, "build_all", _fresh)


def test_committed_fixtures_are_current():
    assert fixtures.check(FIXTURES) == []


def test_command_check_exit_status(capsys):
    from autograder import cli

    assert cli.main(["fixtures", "--check"]) == 0
    assert "current" in capsys.readouterr().out


def test_manifest_lists_every_fixture_with_its_sha256():
    lines = (FIXTURES / fixtures.MANIFEST).read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    expected_names = {f"{c.check_id}.npz" for c in CHECKS}
    assert set(listed) == expected_names
    for name, digest in listed.items():
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest


def test_fixtures_are_small():
    sizes = {p.name: p.stat().st_size for p in FIXTURES.glob("*.npz")}
    assert max(sizes.values()) < 80_000, sizes
    assert sum(sizes.values()) < 500_000


def test_fixtures_load_without_pickle_and_hold_every_case_kind():
    for spec in CHECKS:
        meta, buffers = casefile.load(FIXTURES / f"{spec.check_id}.npz")
        assert meta["check_id"] == spec.check_id
        groups = {c["group"] for c in meta["cases"]}
        assert {"values", "terms", "edges", "float32"} <= groups, spec.check_id
        assert set(meta["expected"]) == {c["case_id"] for c in meta["cases"]}
        assert all(not c["case_id"].startswith("h") for c in meta["cases"]), "no hidden case is published"
        for buf in buffers.values():
            assert buf.dtype != object


def test_generation_is_deterministic():
    a = fixtures.build_fixture("lstm.new_state")
    b = fixtures.build_fixture("lstm.new_state")
    assert a == b


@pytest.mark.parametrize("damage", ["value", "delete", "extra", "manifest"])
def test_check_detects_a_damaged_copy(tmp_path, damage):
    target = tmp_path / "fx"
    shutil.copytree(FIXTURES, target)
    victim = target / "lstm.forget_gate.npz"
    if damage == "value":
        meta, buffers = casefile.load(victim)
        store = casefile._Store()
        key = next(k for k in buffers if buffers[k].dtype.kind == "f")
        changed = buffers[key].copy()
        changed[0] += 1e-6
        store.chunks = {k[3:]: [v if k != key else changed] for k, v in buffers.items()}
        victim.write_bytes(casefile.save(io.BytesIO(), meta, store))
    elif damage == "delete":
        victim.unlink()
    elif damage == "extra":
        np.savez(target / "extra.npz", a=np.zeros(1))
    else:
        text = (target / fixtures.MANIFEST).read_text().replace("0", "1", 1)
        (target / fixtures.MANIFEST).write_text(text)
    assert fixtures.check(target)
