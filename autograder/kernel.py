"""The kernel that runs learners' notebooks during autograde, locked down.

nbgrader runs a learner's notebook in a Jupyter kernel on the grading machine. The
grader points ``Execute.kernel_name`` at a kernel spec (``write_kernelspec``) whose
command is ``python -m autograder.kernel -f {connection_file}``. This module then
replaces itself (exec) with:

- with bubblewrap: ``bwrap`` around ``python -m ipykernel_launcher`` that sees
  ``/usr``, the Python installation and the venv (read-only; the repository
  itself, hence the editable-install ``rnnkit`` and ``autograder``, is absent), the
  notebook's own folder (``autograded/<student>/<assignment>/``, writable), the
  connection file, and a private 256 MB ``/tmp``. The gradebook, ``source/``, the
  other learners' folders and the instructor's files do not exist in there. The
  network namespace is shared (the kernel talks to nbgrader over localhost).
- in every case: no new processes (the seccomp filter of ``autograder.sandbox``:
  a fork bomb or a daemon that would outlive the kernel cannot start), an
  address-space limit, a file-size limit and no core dumps.

The kernel keeps its process group, so nbgrader's interrupt on a cell time-out
(SIGINT to the group) and kill on shutdown reach it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "rnn-grading"
MEMORY_BYTES = 4 << 30
FILE_BYTES = 256 << 20


def write_kernelspec(jupyter_path):
    """Write kernels/rnn-grading/kernel.json under jupyter_path (put it on JUPYTER_PATH)."""
    folder = Path(jupyter_path) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "autograder.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (grading, sandboxed)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def _venv_root():
    prefix = Path(sys.prefix)
    return prefix if (prefix / "pyvenv.cfg").is_file() else None


def kernel_command(connection_file, cwd, seccomp_fd=None):
    """The bwrap command line for the kernel (see the module docstring)."""
    base = Path(sys.base_prefix).resolve()
    venv = _venv_root()
    python = str(Path(sys.prefix) / "bin" / "python") if venv else sys.executable
    cmd = ["bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
           "--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--clearenv"]
    env = {
        "PATH": (f"{venv}/bin:" if venv else "") + "/usr/bin:/bin",
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython", "JUPYTER_CONFIG_DIR": "/tmp/jupyter",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    # The private /tmp comes first: binds listed after it (the venv, the notebook's folder) then
    # sit on top of it even when they live under /tmp themselves, as in a checkout in /tmp.
    cmd += ["--size", str(256 << 20), "--tmpfs", "/tmp"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin", "lib32", "sbin"):
        target = Path("/") / name
        if target.is_symlink():
            cmd += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            cmd += ["--ro-bind", str(target), str(target)]
    for path in ("/etc/fonts", "/etc/localtime", "/etc/hosts", "/etc/nsswitch.conf"):
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind", str(base), str(base)]
    if venv and not str(venv.resolve()).startswith(str(base) + os.sep):
        cmd += ["--ro-bind", str(venv), str(venv)]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--bind", str(cwd), str(cwd),
            "--ro-bind", str(connection_file), str(connection_file), "--remount-ro", "/", "--chdir", str(cwd)]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    cmd += [python, "-m", "ipykernel_launcher", "-f", str(connection_file)]
    return cmd


def main(argv=None):
    from . import sandbox

    argv = sys.argv[1:] if argv is None else argv
    connection_file = os.path.abspath(argv[argv.index("-f") + 1])
    cwd = os.getcwd()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    program = None if os.environ.get('RNN_KERNEL_NO_SECCOMP') else sandbox.seccomp_filter()
    if sandbox.bubblewrap_available() and not os.environ.get('RNN_KERNEL_NO_BWRAP'):
        fd = None
        if program is not None:
            handle = tempfile.TemporaryFile()
            handle.write(program)
            handle.flush()
            handle.seek(0)
            fd = os.dup(handle.fileno())  # inheritable copy for bwrap
            os.set_inheritable(fd, True)
        cmd = kernel_command(connection_file, cwd, fd)
        # nbgrader interrupts a cell that runs too long with SIGINT to the kernel's process group:
        # bwrap must survive it (ignored dispositions are inherited; IPython installs its own
        # SIGINT handler while it runs a cell, so the interrupt still reaches the learner's code).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.execvp(cmd[0], cmd)
    # No bubblewrap: the same kernel with the limits and the seccomp filter only.
    if program is not None:
        sandbox._install_seccomp_here(program)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])


if __name__ == "__main__":
    main()
