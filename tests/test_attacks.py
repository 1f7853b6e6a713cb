"""Hostile and faulty submissions, graded together in one batch.

Every attacker is a baseline learner (the answer key, the untouched stub, or the
key with ``forget_gate`` not written) plus one trick. The rule: no attacker scores
more than its baseline without the trick (per check and in total), and the batch
always finishes with every submission graded or listed as ungradable with a reason.

One ``grade`` run (lesson 04-lstm only, short time limits) grades all of them; the
tests below read its outputs and the gradebook.
"""

import csv
import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from autograder.demo import classroom
from autograder.grading import sandbox

pytestmark = pytest.mark.slow

ASSIGNMENT = "04-lstm"
REPO = Path(__file__).resolve().parents[1]
NB = f"lessons/{ASSIGNMENT}.ipynb"

FORGET_GATE_STUB = '''
def forget_gate(x, y_prev, W_f, b_f):
    raise NotImplementedError()
'''


def _forget(body):
    """A forget_gate whose body is ``body`` (indented by 4)."""
    return "def forget_gate(x, y_prev, W_f, b_f):\n" + "\n".join("    " + line for line in body.splitlines())


def _cell(source):
    def edit(nb):
        classroom.insert_cell(nb, source)
    return edit


def _replace_check_cells(new_source):
    def edit(nb):
        for cell in nb["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if str(meta.get("grade_id", "")).startswith("check_"):
                cell["source"] = new_source
    return edit


def _delete_check_cells(nb):
    nb["cells"] = [c for c in nb["cells"]
                   if not str(c["metadata"].get("nbgrader", {}).get("grade_id", "")).startswith("check_")]


def _split_check_cell(nb):
    # JupyterLab's "split cell" on a check cell: two cells, same id and nbgrader metadata.
    for i, cell in enumerate(nb["cells"]):
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "check_lstm_forget_gate":
            first, second = json.loads(json.dumps(cell)), json.loads(json.dumps(cell))
            first["source"], second["source"] = "check(", '"lstm.forget_gate")'
            nb["cells"][i:i + 1] = [first, second]
            return


def _duplicate_cells(nb):
    # Copy-pasted cells keep their ids: every check cell twice, far apart.
    copies = [json.loads(json.dumps(c)) for c in nb["cells"]
              if str(c["metadata"].get("nbgrader", {}).get("grade_id", "")).startswith("check_")]
    nb["cells"].extend(copies)


GRADEBOOK_WRITER = '''
import glob, sqlite3
# where the gradebook is, seen from autograded/<student>/<assignment>/ (were it run there) or the repository
for path in glob.glob("../../../gradebook.db") + glob.glob("/work/*/gradebook.db"):
    try:
        db = sqlite3.connect(path)
        db.execute("UPDATE grade SET manual_score = 100, extra_credit = 100")
        db.commit()
    except Exception:
        pass
'''

# Baselines: "key" (answer key), "stub" (nothing written), "noforget" (key, forget_gate not written).


def _py(relpath, function, source):
    def build(folder):
        classroom.replace_function(folder / relpath, function, source)
    return build


def _append(relpath, code):
    def build(folder):
        classroom.append_code(folder / relpath, code)
    return build


def _notebook(edit):
    def build(folder):
        classroom.edit_notebook(folder / NB, edit)
    return build


def _write(relpath, text):
    def build(folder):
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return build


def _symlink_lstm(folder):
    target = folder / "rnnkit" / "lstm.py"
    target.unlink()
    target.symlink_to(REPO / "rnnkit" / "lstm.py")  # the reference, solutions included


def _symlink_package(folder):
    import shutil

    shutil.rmtree(folder / "rnnkit")
    (folder / "rnnkit").symlink_to(REPO / "rnnkit", target_is_directory=True)


def _broken_notebook(folder):
    (folder / NB).write_text('{"cells": [ this is not json')


READ_REFERENCE = _forget('''
import importlib.util, glob
for path in ["{path}", "../../../source/04-lstm/rnnkit/lstm.py"] + glob.glob("/*/*/rnnkit/lstm.py"):
    try:
        spec = importlib.util.spec_from_file_location("ref_lstm", path)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        if "YOUR CODE HERE" not in open(path).read():
            return ref.forget_gate(x, y_prev, W_f, b_f)
    except Exception:
        pass
raise NotImplementedError()'''.format(path=REPO / "rnnkit" / "lstm.py"))

IMPORT_INSTRUCTOR = _forget(f'''
import sys
sys.path.insert(0, "{REPO}")
for name in [m for m in sys.modules if m == "rnnkit" or m.startswith("rnnkit.")]:
    sys.modules.pop(name)
try:
    import autograder  # noqa
    from rnnkit import lstm as ref
    return ref.forget_gate(x, y_prev, W_f, b_f)
except Exception:
    raise NotImplementedError()''')

READ_FIXTURES = _forget('''
# Answer from the published fixtures when the inputs match one of them.
import glob, numpy as np
for path in glob.glob("/grader/*/fixtures/lstm.forget_gate*") + glob.glob("rnncheck/fixtures/lstm.forget*"):
    data = np.load(path, allow_pickle=False)
    for key in data.files:
        arr = data[key]
        if arr.shape[-1:] == (W_f.shape[0],) and arr.ndim == np.ndim(x):
            return arr
raise NotImplementedError()''')

# A token only the fork bomb's package holds: its processes are found by the file they see at
# /sub/rnnkit/__init__.py (the sandbox's own root), which no host path or command line shows.
LEFTOVER_TOKEN = "leftover-token-5c1d3b7e"
FORK_BOMB = f"""
# {LEFTOVER_TOKEN}
import os, time
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    except OSError:
        break
"""
SWALLOW = """
_check = check
def check(check_id):
    try:
        _check(check_id)
    except BaseException:
        print('ok')
"""
READ_SOURCE = """
import glob
for p in glob.glob('../../../source/*/*.ipynb') + glob.glob('/work/*/solutions/*.ipynb'):
    print(open(p).read())
"""
# Written to the batch's root by a notebook cell if notebooks ran at grading time.
MARKER_WRITER = "for p in ['NOTEBOOK-RAN', '../../../NOTEBOOK-RAN']:\n    open(p, 'w').write('ran')"
SWAP_FOR_LINK = ("import os\nos.replace('04-lstm.ipynb', 'x.ipynb')\n"
                 "os.symlink('../../../gradebook.db', '04-lstm.ipynb')")
XSS = ["<script>alert('xss')</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(2))",
       "<svg onload=alert(3)>"]


def _active_content(nb):
    """Saved outputs with HTML and script, and a written answer full of active HTML."""
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "setup":
            cell["outputs"] = [
                {"output_type": "display_data", "metadata": {},
                 "data": {"text/html": XSS[0] + XSS[1], "text/plain": "plain fallback shown"}},
                {"output_type": "display_data", "metadata": {},
                 "data": {"application/javascript": "alert(4)"}},
            ]
        if meta.get("solution") and cell["cell_type"] == "markdown":
            cell["source"] = "My answer. " + " ".join(XSS)


FAKE_CHECK = "def check(check_id):\n    print('All cases pass.')"
FAKE_RNNCHECK = ("def check(check_id):\n    print('All cases pass.')\ndef ready(*a):\n    return True\n"
                 "def show_setup(d):\n    pass\n")
KILL_PARENT = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
LSTM = "rnnkit/lstm.py"
INIT = "rnnkit/__init__.py"

# name -> (baseline, how to build it from the baseline). Every one must end graded.
ATTACKS = {
    # --- the learner's package, run in the sandbox
    "patch-numpy": ("stub", _append(INIT, classroom.NUMPY_PATCH)),
    "patch-rnncheck": ("stub", _write("rnncheck/notebook.py", FAKE_RNNCHECK)),
    "swallow-in-package": ("noforget", _py(LSTM, "forget_gate", _forget(
        "try:\n    raise NotImplementedError()\nexcept BaseException:\n    import numpy as np\n"
        "    return np.full((np.shape(x)[:-1] or ()) + (W_f.shape[0],), 0.5)"))),
    "read-reference": ("noforget", _py(LSTM, "forget_gate", READ_REFERENCE)),
    "import-instructor": ("noforget", _py(LSTM, "forget_gate", IMPORT_INSTRUCTOR)),
    "read-fixtures": ("noforget", _py(LSTM, "forget_gate", READ_FIXTURES)),
    "gradebook-from-package": ("stub", _append(INIT, GRADEBOOK_WRITER)),
    "sys-exit": ("noforget", _py(LSTM, "forget_gate", _forget("import sys\nsys.exit(0)"))),
    "os-exit": ("noforget", _py(LSTM, "forget_gate", _forget("import os\nos._exit(0)"))),
    "exit-at-import": ("stub", _append(INIT, "import os\nos._exit(0)")),
    "endless-loop": ("noforget", _py(LSTM, "forget_gate", _forget("while True:\n    pass"))),
    "flood-output": ("noforget", _py(LSTM, "forget_gate", _forget(
        "import sys\nsys.stdout.write('x' * (50 << 20))\nraise NotImplementedError()"))),
    "memory-bomb": ("noforget", _py(LSTM, "forget_gate", _forget(
        "hog = [bytearray(1 << 30) for _ in range(64)]\nraise NotImplementedError()"))),
    "fork-bomb": ("key", _append(INIT, FORK_BOMB)),
    "shadow-numpy": ("stub", _write("numpy/__init__.py", "def allclose(*a, **k):\n    return True\n")),
    "sitecustomize": ("stub", _write("sitecustomize.py", classroom.NUMPY_PATCH)),
    "symlink-to-reference": ("stub", _symlink_lstm),
    "symlinked-package": ("stub", _symlink_package),
    # --- the notebook: its code never runs at grading time (these would attack a kernel)
    "notebook-redefines-check": ("stub", _notebook(_cell(FAKE_CHECK))),
    "notebook-swallows-errors": ("stub", _notebook(_cell(SWALLOW))),
    "notebook-reads-test-source": ("stub", _notebook(_cell(READ_SOURCE))),
    "notebook-writes-gradebook": ("stub", _notebook(_cell(GRADEBOOK_WRITER))),
    "notebook-os-exit": ("stub", _notebook(_cell("import os\nos._exit(1)"))),
    "notebook-kills-parent": ("stub", _notebook(_cell(KILL_PARENT))),
    "notebook-endless-loop": ("stub", _notebook(_cell("while True:\n    pass"))),
    "notebook-flood": ("stub", _notebook(_cell("for i in range(50):\n    print('x' * (1 << 20))"))),
    "notebook-fork-bomb": ("stub", _notebook(_cell(FORK_BOMB))),
    "edited-test-cells": ("stub", _notebook(_replace_check_cells("print('All cases pass.')"))),
    "deleted-test-cells": ("stub", _notebook(_delete_check_cells)),
    "split-cell": ("stub", _notebook(_split_check_cell)),
    "duplicated-cells": ("stub", _notebook(_duplicate_cells)),
    "broken-notebook": ("stub", _broken_notebook),
    "missing-notebook": ("stub", lambda folder: (folder / NB).unlink()),
    "exit-at-import-key": ("key", _append(INIT, "import os\nos._exit(0)")),
    # --- the notebook's own code never runs at grading time; what it saved is shown inert
    "notebook-writes-marker": ("stub", _notebook(_cell(MARKER_WRITER))),
    "notebook-swaps-itself-for-a-link": ("stub", _notebook(_cell(SWAP_FOR_LINK))),
    "active-content": ("stub", _notebook(_active_content)),
}


def _tree_digest(folder):
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _zip_folder(folder, zip_path, top="course"):
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, f"{top}/{path.relative_to(folder)}" if top else str(path.relative_to(folder)))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from autograder.grading.grade import grade

    root = tmp_path_factory.mktemp("attacks")
    templates = classroom.Templates(root / "templates")
    subs = root / "subs"
    subs.mkdir()
    templates.learner(subs / "key")
    templates.learner(subs / "stub", base="stub")
    noforget = templates.learner(subs / "noforget")
    classroom.replace_function(noforget / "rnnkit" / "lstm.py", "forget_gate", FORGET_GATE_STUB)
    for name, (base, build) in ATTACKS.items():
        folder = subs / name
        if base == "noforget":
            import shutil

            shutil.copytree(noforget, folder, symlinks=True)
        else:
            templates.learner(folder, base="key" if base == "key" else "stub")
        build(folder)
    # zips: a zip-slip entry beside a stub course (graded as the stub), a damaged zip, a zip bomb,
    # and the answer key as a zip without a top-level folder
    stub_zip = subs / "zip-slip.zip"
    _zip_folder(templates.stub, stub_zip)
    with zipfile.ZipFile(stub_zip, "a") as zf:
        zf.writestr("../../escaped-by-zip.py", "print('outside')\n")
        zf.writestr("/tmp/absolute-by-zip.py", "print('outside')\n")
    (subs / "corrupt-zip.zip").write_bytes(b"PK\x03\x04 this is not a zip file" * 10)
    with zipfile.ZipFile(subs / "zip-bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("course/lessons/big.bin", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(320):
                f.write(block)
    _zip_folder(templates.key, subs / "key-zip-flat.zip", top="")
    before = _tree_digest(subs)
    out = root / "out"
    result = grade(subs, out, jobs=2, assignments=[ASSIGNMENT], check_timeout=3, seed=20261125,
                   progress=False)
    return {"root": root, "subs": subs, "out": out, "result": result, "before": before}


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _totals(batch):
    return {r["student_id"]: float(r["score"]) for r in _csv(batch["out"] / "grades.csv")
            if r["assignment"] == ASSIGNMENT}


def _checks(batch):
    table = {}
    for r in _csv(batch["out"] / "results.csv"):
        table.setdefault(r["student_id"], {})[r["test_id"]] = float(r["score"])
    return table


def test_there_are_at_least_twenty_attacks():
    assert len(ATTACKS) + 4 >= 20  # plus the four zips


def test_baselines_score_as_expected(batch):
    totals, checks = _totals(batch), _checks(batch)
    assert set(checks["key"].values()) and all(v > 0 for v in checks["key"].values())
    assert all(v == 0 for v in checks["stub"].values())
    assert checks["noforget"]["lstm.forget_gate"] == 0
    assert checks["noforget"]["lstm.input_gate"] == checks["key"]["lstm.input_gate"] > 0
    assert totals["key"] > totals["noforget"] > totals["stub"] == 0


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_no_attack_beats_its_baseline(batch, name):
    base, _build = ATTACKS[name]
    totals, checks = _totals(batch), _checks(batch)
    assert name in totals, f"{name} was not graded"
    assert totals[name] <= totals[base]
    for check_id, score in checks[name].items():
        assert score <= checks[base][check_id], check_id


def test_every_submission_ends_in_exactly_one_state(batch):
    graded = set(_totals(batch))
    ungradable = _csv(batch["out"] / "ungradable.csv")
    ungradable_ids = {r["student_id"] for r in ungradable}
    names = {p.name.removesuffix(".zip") for p in batch["subs"].iterdir()}
    assert graded | ungradable_ids == names
    assert graded & ungradable_ids == set()
    assert all(r["reason"].strip() for r in ungradable)
    assert ungradable_ids == {"corrupt-zip", "zip-bomb"}


def test_zips(batch):
    totals, checks = _totals(batch), _checks(batch)
    assert totals["zip-slip"] == totals["stub"]
    assert checks["key-zip-flat"] == checks["key"]
    for escaped in [batch["root"] / "escaped-by-zip.py", batch["root"].parent / "escaped-by-zip.py",
                    Path("/tmp/absolute-by-zip.py")]:
        assert not escaped.exists()
    notes = _csv(batch["out"] / "notes.csv")
    assert any(r["student_id"] == "zip-slip" and "unsafe path" in r["note"] for r in notes)


def test_submissions_are_never_modified(batch):
    assert _tree_digest(batch["subs"]) == batch["before"]


def test_gradebook_agrees_with_grades_csv(batch):
    from nbgrader.api import Gradebook

    totals = _totals(batch)
    with Gradebook(f"sqlite:///{batch['out'] / 'course' / 'gradebook.db'}") as gb:
        for student, score in totals.items():
            sub = gb.find_submission(ASSIGNMENT, student)
            assert sub.score == pytest.approx(score)
            for grade in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades:
                assert grade.manual_score is None and grade.extra_credit is None


def _processes_in(root, token=LEFTOVER_TOKEN):
    """Pids of processes left from a batch: their command line or working folder lies below root
    (host processes), or their sandbox's package, /sub/rnnkit/__init__.py seen through their own
    root, holds ``token`` (a sandboxed process shows neither host paths nor a telling command line)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if str(root).encode() in cmdline or cwd.startswith(str(root)):
            found.append(pid)
            continue
        try:
            seen = Path(f"/proc/{pid}/root/sub/rnnkit/__init__.py").read_bytes()
        except OSError:
            continue
        if token.encode() in seen:
            found.append(pid)
    return found


def test_the_leftover_process_search_finds_a_leaked_process(tmp_path):
    # the search below can fail: a process left running in a folder is found
    import subprocess

    proc = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        assert str(proc.pid) in _processes_in(tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert _processes_in(tmp_path) == []


def test_the_leftover_process_search_sees_inside_the_sandbox(tmp_path):
    # A process running in the sandbox (where the fork bomb's children would sleep) is found
    # by its token while it runs, and is gone once the sandbox run is over.
    import threading
    import time

    if not sandbox.bubblewrap_available():
        pytest.skip("needs bubblewrap (Debian package bubblewrap)")
    package = tmp_path / "pkg" / "rnnkit"
    package.mkdir(parents=True)
    token = "leftover-token-search-" + os.urandom(4).hex()
    (package / "__init__.py").write_text(f"# {token}\n")
    limits = sandbox.Limits(wall_seconds=20, idle_seconds=20)
    code = ["import time", "time.sleep(30)"]
    run = threading.Thread(target=sandbox.run_python, args=(code,),
                           kwargs={"read_only": {package.parent: "/sub"}, "limits": limits})
    run.start()
    try:
        deadline, seen = time.monotonic() + 15, []
        while not seen and time.monotonic() < deadline:
            seen = _processes_in(tmp_path / "elsewhere", token=token)
            time.sleep(0.2)
        assert seen, "a sleeping sandboxed process was not found by the leftover search"
    finally:
        run.join()
    assert _processes_in(tmp_path / "elsewhere", token=token) == []


def test_attacks_left_no_process_behind(batch):
    # The fork bombs were refused; nothing sleeping from a learner survives the batch.
    if sandbox.seccomp_filter() is None:
        pytest.skip("the process filter is built for x86-64 only")
    assert _processes_in(batch["root"]) == []


def test_no_notebook_code_ran_at_grading_time(batch):
    assert not list(batch["root"].rglob("NOTEBOOK-RAN"))
    # the notebook that would have swapped itself for a link to the gradebook is graded as the stub
    assert _totals(batch)["notebook-swaps-itself-for-a-link"] == _totals(batch)["stub"]
    assert not [p for p in (batch["out"] / "course").rglob("*") if p.is_symlink()]


def test_what_the_instructor_opens_is_inert(batch):
    from autograder.grading import sanitize

    page = (batch["out"] / "feedback" / "active-content" / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert sanitize.inert_problems(page) == []
    for raw in ("<script>alert", "<img src=x onerror", "<svg onload", 'href="javascript:', "alert(4)"):
        assert raw not in page, raw
    assert "plain fallback shown" in page and "My answer." in page
    # formgrader shows the autograded notebook: no active output, markdown made inert
    graded = json.loads((batch["out"] / "course" / "autograded" / "active-content" / ASSIGNMENT /
                         f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8"))
    kinds = {k for c in graded["cells"] for o in c.get("outputs", []) for k in o.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "image/jpeg"}
    answers = [c for c in graded["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    assert answers and not any("<script>" in "".join(c["source"]) or "javascript:" in "".join(c["source"])
                               for c in answers)
    # no grader path in any page
    for page in (batch["out"] / "feedback").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "/rnn-grade-" not in text and str(batch["out"]) not in text, page


def test_feedback_shows_trusted_result_not_the_forged_one(batch):
    page = batch["out"] / "feedback" / "notebook-redefines-check" / f"{ASSIGNMENT}.html"
    text = page.read_text(encoding="utf-8")
    assert "Graded outside the notebook: 0 / 1 points." in text
    assert str(20261125) not in text


@pytest.mark.parametrize("name", ["sys-exit", "os-exit", "endless-loop", "flood-output", "memory-bomb"])
def test_a_crash_costs_only_the_function_that_crashed(batch, name):
    # Fair as well as safe: the sandbox restarts after the crash, so the learner's other functions count.
    checks = _checks(batch)
    assert checks[name]["lstm.forget_gate"] == 0
    others = {k: v for k, v in checks[name].items() if k != "lstm.forget_gate"}
    assert others == {k: v for k, v in checks["noforget"].items() if k != "lstm.forget_gate"}
    assert sum(others.values()) > 0
