"""Isolation and limits of the sandbox that runs learners' rnnkit (autograder.grading.sandbox).

Each test runs a few lines of Python in the sandbox and looks at what came back;
the expected behaviour is the operating system's (a refused fork, a missing file),
not a value copied from the code under test.
"""

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from autograder.grading import sandbox

REPO = Path(__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(not sandbox.bubblewrap_available(), reason="bubblewrap cannot start here")


def run(code, submission=None, limits=None, **kwargs):
    read_only = {submission: "/sub"} if submission else {}
    return sandbox.run_python(code.splitlines(), read_only=read_only, sys_path=["/sub"] if submission else [],
                              limits=limits or sandbox.Limits(wall_seconds=60), **kwargs)


def last_json(result):
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


@pytest.fixture
def submission(tmp_path):
    pkg = tmp_path / "learner" / "rnnkit"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("WHO = 'learner'\n")
    return tmp_path / "learner"


def test_reference_rnnkit_is_not_importable_without_the_submission():
    # The venv holds an editable install of the reference rnnkit: one import away in a plain process.
    result = run("\n".join([
        "import json",
        "try:",
        "    import rnnkit",
        "    print(json.dumps({'imported': rnnkit.__file__}))",
        "except ImportError as e:",
        "    print(json.dumps({'imported': None}))",
    ]))
    assert last_json(result) == {"imported": None}


def test_autograder_package_is_not_importable():
    result = run("import json, importlib.util\n"
                 "print(json.dumps(importlib.util.find_spec('autograder') is None))")
    assert last_json(result) is True


def test_the_submission_rnnkit_is_the_one_imported(submission):
    result = run("import json, rnnkit\nprint(json.dumps([rnnkit.WHO, rnnkit.__file__]))", submission)
    assert last_json(result) == ["learner", "/sub/rnnkit/__init__.py"]


def test_numpy_works(submission):
    result = run("import json, numpy as np\nprint(json.dumps(float(np.tanh(np.ones(3)).sum())))", submission)
    assert last_json(result) == pytest.approx(3 * 0.7615941559557649)


@needs_bwrap
def test_instructor_files_are_not_readable(tmp_path, submission):
    gradebook = tmp_path / "gradebook.db"
    sqlite3.connect(gradebook).close()
    secrets = [str(REPO / "rnnkit" / "lstm.py"), str(REPO / "autograder" / "specs" / "cases.py"),
               str(REPO / "solutions"), str(gradebook), str(Path(sys.prefix)), "/etc/passwd",
               str(Path.home())]
    code = "\n".join([
        "import json, os",
        f"paths = {secrets!r}",
        "seen = {}",
        "for p in paths:",
        "    try:",
        "        if os.path.isdir(p):",
        "            seen[p] = os.listdir(p)",
        "        else:",
        "            seen[p] = open(p, 'rb').read(10).hex()",
        "    except OSError as e:",
        "        seen[p] = None",
        "print(json.dumps(seen))",
    ])
    seen = last_json(run(code, submission))
    # The home folder may exist as an empty mount point above the interpreter; nothing else may.
    readable = {p: v for p, v in seen.items() if v not in (None, [], [".pyenv"])}
    assert readable == {}


@needs_bwrap
def test_submission_is_read_only(submission):
    result = run("open('/sub/rnnkit/__init__.py', 'a').write('x = 1')", submission)
    assert result.returncode != 0
    assert b"Read-only file system" in result.stderr
    assert (submission / "rnnkit" / "__init__.py").read_text() == "WHO = 'learner'\n"


@needs_bwrap
def test_no_network():
    code = "\n".join([
        "import json, socket",
        "try:",
        "    socket.create_connection(('1.1.1.1', 53), timeout=3)",
        "    print(json.dumps('connected'))",
        "except OSError as e:",
        "    print(json.dumps('refused'))",
    ])
    assert last_json(run(code)) == "refused"


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("GRADING_SECRET_TOKEN", "s3cr3t")
    result = run("import json, os\nprint(json.dumps(dict(os.environ)))")
    env = last_json(result)
    assert "GRADING_SECRET_TOKEN" not in env
    assert "s3cr3t" not in json.dumps(env)
    assert not any(key.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER")) and key != "PYTHONDONTWRITEBYTECODE"
                   and key != "PYTHONHASHSEED" for key in env)


@pytest.mark.skipif(sandbox.seccomp_filter() is None, reason="the process filter is built for x86-64 only")
def test_new_processes_are_refused():
    code = "\n".join([
        "import json, os, subprocess, threading",
        "out = {}",
        "try:",
        "    pid = os.fork()",
        "    if pid == 0:",
        "        os._exit(0)",
        "    out['fork'] = 'ok'",
        "except OSError as e:",
        "    out['fork'] = e.errno",
        "try:",
        "    subprocess.run(['true'])",
        "    out['subprocess'] = 'ok'",
        "except OSError as e:",
        "    out['subprocess'] = e.errno",
        "t = threading.Thread(target=lambda: out.__setitem__('thread', 'ok'))",
        "t.start(); t.join()",
        "print(json.dumps(out))",
    ])
    import errno

    assert last_json(run(code)) == {"fork": errno.EPERM, "subprocess": errno.EPERM, "thread": "ok"}


@pytest.mark.skipif(sandbox.seccomp_filter() is None, reason="the process filter is built for x86-64 only")
def test_fork_bomb_is_contained():
    code = "\n".join([
        "import os",
        "n = 0",
        "while n < 10000:",
        "    try:",
        "        os.fork()",
        "    except OSError:",
        "        pass",
        "    n += 1",
        "print(n)",
    ])
    result = run(code, limits=sandbox.Limits(wall_seconds=30))
    # One process counted to the end (every fork refused), none was left behind printing.
    assert result.stdout.decode().split() == ["10000"]


def test_memory_limit():
    result = run("a = bytearray(3 << 30)\nprint('allocated')", limits=sandbox.Limits(memory_bytes=1 << 30))
    assert b"MemoryError" in result.stderr
    assert b"allocated" not in result.stdout


@pytest.mark.slow
def test_endless_loop_is_stopped():
    result = run("while True:\n    pass", limits=sandbox.Limits(wall_seconds=2, cpu_seconds=60))
    assert result.returncode is None
    assert result.killed_reason == "time limit"


@pytest.mark.slow
def test_cpu_limit():
    result = run("while True:\n    pass", limits=sandbox.Limits(wall_seconds=60, cpu_seconds=1))
    assert result.killed_reason == "CPU time limit"


def test_output_is_capped():
    limit = 1 << 20
    result = run("import sys\nfor i in range(60):\n    sys.stdout.write('x' * (1 << 20))",
                 limits=sandbox.Limits(file_bytes=limit))
    assert len(result.stdout) <= limit
    assert result.returncode != 0  # the write past the limit failed (File too large)


def test_result_folder_size_is_capped(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code = "\n".join([
        "import os",
        "for i in range(1000):",
        "    with open(f'/io/out/f{i}', 'wb') as f:",
        "        f.write(b'x' * (1 << 20))",
        "    import time; time.sleep(0.01)",
    ])
    result = run(code, writable={out: "/io/out"},
                 limits=sandbox.Limits(out_dir_bytes=8 << 20, file_bytes=2 << 20, wall_seconds=60))
    assert result.killed_reason == "output limit"
    assert sum(p.stat().st_size for p in out.iterdir()) < 100 << 20


@pytest.mark.slow
def test_idle_limit_stops_a_stalled_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code = "open('/io/out/first', 'w').write('done')\nimport time\ntime.sleep(600)"
    result = run(code, writable={out: "/io/out"}, limits=sandbox.Limits(idle_seconds=2, wall_seconds=120))
    assert result.killed_reason == "time limit"
    assert (out / "first").read_text() == "done"


@needs_bwrap
def test_private_tmp_is_small_and_root_is_read_only():
    code = "\n".join([
        "import json",
        "out = {}",
        "for path in ['/x', '/dev/x', '/usr/x']:",
        "    try:",
        "        open(path, 'w').write('x')",
        "        out[path] = 'written'",
        "    except OSError as e:",
        "        out[path] = 'refused'",
        "try:",
        "    with open('/tmp/big', 'wb') as f:",
        "        for i in range(64):",
        "            f.write(b'x' * (1 << 20))",
        "    out['/tmp'] = 'written'",
        "except OSError:",
        "    out['/tmp'] = 'refused'",
        "print(json.dumps(out))",
    ])
    limits = sandbox.Limits(tmp_bytes=16 << 20, file_bytes=256 << 20)
    assert last_json(run(code, limits=limits)) == {"/x": "refused", "/dev/x": "refused", "/usr/x": "refused",
                                                   "/tmp": "refused"}


@pytest.mark.skipif(sandbox.seccomp_filter() is None, reason="the process filter is built for x86-64 only")
def test_fallback_without_bubblewrap_keeps_limits_and_private_path(submission):
    # What runs on machines without bubblewrap: a plain subprocess, still without the
    # venv's site-packages (so no editable reference rnnkit) and without fork.
    code = ["import json, importlib.util, os",
            "out = {'autograder': importlib.util.find_spec('autograder') is not None}",
            "import rnnkit",
            "out['rnnkit'] = rnnkit.WHO",
            "try:",
            "    os.fork() or None",
            "    out['fork'] = 'ok'",
            "except OSError:",
            "    out['fork'] = 'refused'",
            "print(json.dumps(out))"]
    result = sandbox._run(code, {}, {}, [str(submission)], sandbox.Limits(wall_seconds=60), use_bwrap=False)
    assert result.sandboxed is False
    assert last_json(result) == {"autograder": False, "rnnkit": "learner", "fork": "refused"}
