"""Mutation suite: every known mistake (and more) must lose points; the ways to write
a function right must get full marks.

Each mutant or right way (the ``mutants`` and ``right`` rewrites of the function's
spec, ``autograder/specs``) is a temporary copy of the reference rnnkit with one
function's solution region changed, loaded under a fresh package name and judged in
this process (the grading path runs the same executor and judge, in a sandbox).
"""

import importlib.util
import itertools
import pathlib
import shutil
import sys

import pytest

from autograder.checks.registry import CHECKS, CHECKS_BY_ID
from autograder.specs import SPECS
from autograder.specs.cases import make_cases
from autograder.specs.judge import expectations, grade_in_process
from autograder.specs.spec import mutate

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "rnnkit"
SEED = 31337
_counter = itertools.count()


def load_package(tmp_path, check_id, change):
    """A modified copy of the reference rnnkit, imported as a fresh package."""
    module, function = check_id.split(".")
    name = f"rnnkit_mutant_{next(_counter)}"
    root = tmp_path / name
    shutil.copytree(REFERENCE, root, ignore=shutil.ignore_patterns("__pycache__"))
    path = root / f"{module}.py"
    path.write_text(mutate(path.read_text(), function, change))
    spec = importlib.util.spec_from_file_location(
        name, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[name] = pkg
    spec.loader.exec_module(pkg)
    return pkg


def unload(pkg):
    for key in [k for k in sys.modules if k == pkg.__name__ or k.startswith(pkg.__name__ + ".")]:
        del sys.modules[key]


@pytest.fixture(scope="module")
def prepared():
    """Cases and expected values per check, computed once."""
    out = {}
    for spec in CHECKS:
        cases = make_cases(SEED, check_ids=[spec.check_id])
        out[spec.check_id] = (cases, expectations(cases))
    return out


def judge_change(tmp_path, prepared, check_id, change):
    pkg = load_package(tmp_path, check_id, change)
    try:
        cases, expected = prepared[check_id]
        return grade_in_process(pkg, SEED, check_ids=[check_id], cases=cases, expected=expected)[check_id]
    finally:
        unload(pkg)


def _params(field):
    """pytest parameters (check id, rewrite) of one rewrite list of every spec."""
    return [pytest.param(cid, rewrite, id=f"{cid}:{rewrite.name}")
            for cid, spec in SPECS.items() for rewrite in getattr(spec, field)]


MUTANT_PARAMS = _params("mutants")
VARIANT_PARAMS = _params("right")
SHORTCUT_PARAMS = _params("shortcuts")


def test_every_learner_function_has_mutants_and_variants():
    for spec in CHECKS:
        assert len(SPECS[spec.check_id].mutants) >= 3, spec.check_id
        assert len(SPECS[spec.check_id].right) >= 2, spec.check_id


def test_mutate_changes_only_the_region():
    source = (REFERENCE / "gru.py").read_text()
    changed = mutate(source, "final_output", "return u * y_prev + (1 - u) * a\n")
    assert changed != source
    assert changed.count("### BEGIN SOLUTION") == source.count("### BEGIN SOLUTION")
    assert "return u * y_prev + (1 - u) * a" in changed
    assert "(1 - u) * y_prev + u * a" not in changed.split("def final_output")[1].split("def gru_step")[0]
    with pytest.raises(ValueError, match="found 0 times"):
        mutate(source, "final_output", [("return y_prev", "return a")])


@pytest.mark.parametrize("check_id, mutant", MUTANT_PARAMS)
def test_mutant_loses_points(tmp_path, prepared, check_id, mutant):
    name, change, recognised = mutant
    outcome = judge_change(tmp_path, prepared, check_id, change)
    assert outcome.max_score == CHECKS_BY_ID[check_id].points
    assert outcome.score < outcome.max_score, f"mutant {name!r} got full marks: {outcome.message}"
    if recognised is not None:
        assert "known mistake" in outcome.message and recognised in outcome.message, outcome.message


@pytest.mark.parametrize("check_id, variant", VARIANT_PARAMS)
def test_correct_variant_gets_full_marks(tmp_path, prepared, check_id, variant):
    name, change = variant
    outcome = judge_change(tmp_path, prepared, check_id, change)
    assert outcome.score == outcome.max_score, f"variant {name!r}: {outcome.message}"


def test_reference_gets_full_marks(prepared):
    import rnnkit

    for check_id, (cases, expected) in prepared.items():
        outcome = grade_in_process(rnnkit, SEED, check_ids=[check_id], cases=cases, expected=expected)[
            check_id
        ]
        assert outcome.score == outcome.max_score, (check_id, outcome.message)


@pytest.mark.slow
@pytest.mark.parametrize("check_id, shortcut", SHORTCUT_PARAMS)
def test_shortcut_through_reference_tools_is_refused(tmp_path, prepared, check_id, shortcut, monkeypatch):
    name, change = shortcut
    refused = judge_change(tmp_path, prepared, check_id, change)
    assert refused.score == 0, f"shortcut {name!r} scored {refused.score}"
    assert "reference code" in refused.message, refused.message
    # Control: without the block the shortcut passes the float64 value checks (numerical
    # gradients miss only the float32 group), so the block is what stops it.
    import autograder.checks.executor as executor

    monkeypatch.setattr(executor, "REFERENCE_TOOLS", ())
    allowed = judge_change(tmp_path, prepared, check_id, change)
    assert allowed.score >= 0.75 * allowed.max_score, allowed.message
