"""python -m autograder fixtures [--check]: the published check fixtures.

For every check in the registry this writes ``autograder/checks/fixtures/<check_id>.npz``:
the visible cases (inputs from a fixed seed), the reference's expected output for
each (float64), and the outputs of the known mistakes (the check's spec in
``autograder/specs``) that differ from it, so that the learner's ``check`` can name a
mistake without any reference code. A sha256 manifest ``SHA256SUMS.txt`` lists every file.

``--check`` regenerates everything in memory and exits 1 when a committed file is
missing, extra, or differs (beyond 1e-12 relative in the numbers: matrix products
may round differently in the last bit on another CPU), or when the manifest does
not match the files.
"""

import hashlib
import io
import pathlib
import sys

import numpy as np

from autograder.checks import casefile
from autograder.checks.compare import TOLERANCES, matches
from autograder.checks.executor import normalize
from autograder.checks.registry import CHECKS
from autograder.specs.cases import check_cases
from autograder.specs.judge import expectations

MANIFEST = "SHA256SUMS.txt"





def build_fixture(check_id):
    """The bytes of one check's fixture file."""
    cases = check_cases(check_id, visible=True)
    expected = expectations(cases)
    store = casefile._Store()
    meta = {
        "version": casefile.FORMAT_VERSION,
        "check_id": check_id,
        "cases": [casefile.case_to_json(c, store) for c in cases],
        "expected": {},
        "mistakes": {},
    }
    for case in cases:
        want, mistakes = expected[(case.check_id, case.case_id)]
        meta["expected"][case.case_id] = casefile.encode(want, store)
        kept = []
        for name, hint, output in mistakes:
            if output is None:
                continue
            normal = _as_output(output)
            if matches(want, normal, TOLERANCES["float64"]):
                continue  # indistinguishable from the right answer on this case
            kept.append({"name": name, "hint": hint, "output": casefile.encode(output, store)})
        meta["mistakes"][case.case_id] = kept
    return casefile.save(io.BytesIO(), meta, store)


def _as_output(value):
    """A reference-side value in the executor's normalised form (for ``matches``)."""
    return normalize(value)


def build_all():
    """{file name: bytes} for every fixture, plus the manifest."""
    files = {f"{spec.check_id}.npz": build_fixture(spec.check_id) for spec in CHECKS}
    lines = [f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())]
    files[MANIFEST] = "".join(lines).encode()
    return files


def _close(a, b):
    """Fixture contents equal: same metadata, numbers equal within 1e-12 relative."""
    meta_a, buf_a = casefile.load(io.BytesIO(a))
    meta_b, buf_b = casefile.load(io.BytesIO(b))
    if meta_a != meta_b or set(buf_a) != set(buf_b):
        return False
    for key in buf_a:
        x, y = buf_a[key], buf_b[key]
        if x.shape != y.shape:
            return False
        if x.dtype.kind == "f" and not np.allclose(x, y, rtol=1e-12, atol=1e-14):
            return False
        if x.dtype.kind != "f" and not np.array_equal(x, y):
            return False
    return True


def check(directory):
    """Problems (list of text) between the committed fixtures and fresh ones."""
    directory = pathlib.Path(directory)
    fresh = build_all()
    problems = []
    on_disk = {p.name for p in directory.glob("*") if p.is_file()}
    for name in sorted(on_disk - set(fresh)):
        problems.append(f"extra file {name}")
    for name, data in fresh.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"missing {name}")
        elif name != MANIFEST and path.read_bytes() != data and not _close(path.read_bytes(), data):
            problems.append(f"{name} differs from a fresh build")
    manifest = directory / MANIFEST
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            digest, _, name = line.partition("  ")
            path = directory / name
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                problems.append(f"manifest entry for {name} does not match the file")
    return problems


def write(directory):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fresh = build_all()
    for old in directory.glob("*.npz"):
        if old.name not in fresh:
            old.unlink()
    for name, data in fresh.items():
        (directory / name).write_bytes(data)
    return fresh


def run(args):
    if args.check:
        problems = check(args.dir)
        if problems:
            print("fixtures are stale; run `python -m autograder fixtures`:", file=sys.stderr)
            for p in problems:
                print("  " + p, file=sys.stderr)
            return 1
        print(f"fixtures in {args.dir} are current")
        return 0
    files = write(args.dir)
    size = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files ({size / 1024:.0f} kB) to {args.dir}")
    return 0
