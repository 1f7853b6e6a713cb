"""Run untrusted Python (a learner's rnnkit) in a separate, locked-down process.

The trusted grader never imports a learner's code. It starts a fresh interpreter
that can see only what it needs and reads plain result files back afterwards.

With bubblewrap (``bwrap``, Debian package ``bubblewrap``) the process gets:

- new user, pid, ipc, uts, cgroup and network namespaces (``--unshare-all``): no
  network at all, no other process visible, no nested user namespaces;
- a file system made of read-only bind mounts: ``/usr`` (shared libraries), the
  interpreter and its standard library *without* its site-packages, numpy alone
  (bound at ``/opt/pylib/numpy``), the trusted checks package, the submission and
  the case inputs; one writable result folder; a 16 MB ``/tmp``. The repository,
  the venv's site-packages (with the editable-install finder that points at the
  reference ``rnnkit``), the course directory, the gradebook and the home
  directory do not exist in there;
- ``python -I -S``: no user site, no ``.pth`` processing, no ``PYTHON*`` variables;
  ``sys.path`` is set explicitly to the standard library, numpy and the checks;
- a scrubbed environment (``--clearenv``; a handful of fixed variables);
- a seccomp filter that refuses to create processes (fork, vfork, clone without
  ``CLONE_THREAD``): a fork bomb gets ``PermissionError``. Threads still work, and
  their number is bounded by the address-space limit;
- rlimits: CPU seconds, address space, file size (caps stdout, stderr and every
  result file), open files, no core dumps; plus a wall-clock limit and a cap on
  the total size of the result folder enforced by the parent, which kills the
  whole process group.

Without bubblewrap (``bubblewrap_available()`` is False) the same interpreter
runs as a plain subprocess with the same rlimits, the seccomp filter, a scrubbed
environment and ``-I -S`` with a private ``sys.path``: it can still read any file
the grading user can read and reach the network. ``run_python`` then sets
``RunResult.sandboxed = False`` and the grader prints a loud warning.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import resource
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_SITE = "/opt/pylib"  # where numpy appears inside the sandbox


@dataclass
class Limits:
    """Resource limits for one sandboxed run."""

    cpu_seconds: int = 60
    wall_seconds: float = 90.0
    memory_bytes: int = 2 << 30  # address space: numpy plus a few MB arrays fit easily
    file_bytes: int = 8 << 20  # largest single file (stdout, stderr, each result file)
    out_dir_bytes: int = 64 << 20  # all result files together
    open_files: int = 256
    tmp_bytes: int = 16 << 20  # the sandbox's private /tmp (bubblewrap only)
    idle_seconds: float | None = None  # kill when no new file appears in the writable folders for this long


@dataclass
class RunResult:
    returncode: int | None  # None when killed by the parent
    stdout: bytes
    stderr: bytes
    killed_reason: str = ""  # "time limit", "output limit", or ""
    sandboxed: bool = True
    seconds: float = 0.0
    notes: list = field(default_factory=list)


# --------------------------------------------------------------------------- seccomp

_AUDIT_ARCH_X86_64 = 0xC000003E
_NR_CLONE, _NR_FORK, _NR_VFORK, _NR_CLONE3 = 56, 57, 58, 435
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38


def _bpf(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_filter():
    """BPF program (bytes) refusing new processes on x86-64; None on other machines.

    clone3 answers ENOSYS so that glibc falls back to clone, whose flags a classic
    BPF filter can read: threads (CLONE_THREAD) pass, processes get EPERM. Any
    other ABI (i386, x32) is refused outright.
    """
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, deny, nosys = 0x7FFF0000, 0x00050000 | _EPERM, 0x00050000 | _ENOSYS
    prog = [
        _bpf(ld, 4),  # 0 arch
        _bpf(jeq, _AUDIT_ARCH_X86_64, 1, 0),  # 1
        _bpf(ret, deny),  # 2 foreign ABI
        _bpf(ld, 0),  # 3 syscall number
        _bpf(jge, 0x40000000, 0, 1),  # 4 x32 ABI
        _bpf(ret, deny),  # 5
        _bpf(jeq, _NR_FORK, 6, 0),  # 6 -> 13
        _bpf(jeq, _NR_VFORK, 5, 0),  # 7 -> 13
        _bpf(jeq, _NR_CLONE3, 5, 0),  # 8 -> 14
        _bpf(jeq, _NR_CLONE, 0, 2),  # 9 -> 10 / 12
        _bpf(ld, 16),  # 10 clone flags (low 32 bits of args[0])
        _bpf(jset, _CLONE_THREAD, 0, 1),  # 11 thread -> 12 / 13
        _bpf(ret, allow),  # 12
        _bpf(ret, deny),  # 13
        _bpf(ret, nosys),  # 14
    ]
    return b"".join(prog)


def _install_seccomp_here(program):
    """Load the filter into the calling process (used after fork, before exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = SockFprog(len(program) // 8, program)
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS)")
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(SECCOMP)")


# --------------------------------------------------------------------------- runtime paths


@functools.lru_cache(maxsize=1)
def _runtime():
    """Host paths of the base interpreter, its stdlib, libpython and numpy."""
    import numpy

    base = Path(sys.base_prefix)
    python = Path(os.path.realpath(sys.executable))
    stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": str(base)}))
    if not stdlib.is_dir():
        stdlib = base / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    libdir = sysconfig.get_config_var("LIBDIR") or str(base / "lib")
    libpython = [p for p in Path(libdir).glob("libpython*.so*") if p.is_file()] if libdir else []
    numpy_dir = Path(numpy.__file__).parent
    numpy_libs = numpy_dir.parent / "numpy.libs"
    return {
        "python": python,
        "stdlib": stdlib,
        "libpython": libpython,
        "numpy": numpy_dir,
        "numpy_libs": numpy_libs if numpy_libs.is_dir() else None,
    }


@functools.lru_cache(maxsize=1)
def bubblewrap_available():
    """True when ``bwrap`` exists and can start a sandbox with our options here."""
    if shutil.which("bwrap") is None or os.environ.get("RNN_COURSE_NO_BWRAP"):
        return False
    try:
        result = _run(["print(6*7)"], extra_ro={}, rw_dirs={}, sys_path=[], limits=Limits(wall_seconds=30),
                      use_bwrap=True)
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == b"42"


def _environment():
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        # one thread for BLAS: predictable CPU use, and no surprise thread creation
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


def _bwrap_command(program_fd, extra_ro, rw_dirs, limits):
    rt = _runtime()
    cmd = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
           "--new-session", "--clearenv"]
    for key, value in _environment().items():
        cmd += ["--setenv", key, value]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin", "lib32"):
        target = Path("/") / name
        if target.is_symlink():
            cmd += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            cmd += ["--ro-bind", str(target), str(target)]
    cmd += ["--ro-bind", str(rt["python"]), str(rt["python"])]
    for lib in rt["libpython"]:
        cmd += ["--ro-bind", str(lib), str(lib)]
    cmd += ["--ro-bind", str(rt["stdlib"]), str(rt["stdlib"])]
    base_site = rt["stdlib"] / "site-packages"
    if base_site.is_dir():  # hide whatever the base interpreter has installed
        cmd += ["--tmpfs", str(base_site), "--remount-ro", str(base_site)]
    cmd += ["--ro-bind", str(rt["numpy"]), f"{SANDBOX_SITE}/numpy"]
    if rt["numpy_libs"]:
        cmd += ["--ro-bind", str(rt["numpy_libs"]), f"{SANDBOX_SITE}/numpy.libs"]
    for host, inside in extra_ro.items():
        cmd += ["--ro-bind", str(host), str(inside)]
    for host, inside in rw_dirs.items():
        cmd += ["--bind", str(host), str(inside)]
    # The root and /dev are tmpfs mounts without a size limit: make them read-only so that the
    # only writable places are the size-limited /tmp and the result folders.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--size", str(limits.tmp_bytes),
            "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp", "--uid", "65534", "--gid", "65534"]
    if program_fd is not None:
        cmd += ["--seccomp", str(program_fd)]
    return cmd


def _boot_code(sys_path, code_lines):
    """Python source run by ``python -I -S -c``: fix sys.path, then the payload."""
    return "\n".join([
        "import sys",
        "sys.path[:] = [p for p in sys.path if 'site-packages' not in p and 'dist-packages' not in p]",
        f"sys.path += {list(map(str, sys_path))!r}",
        *code_lines,
    ])


def _set_limits(limits, seccomp_program=None):
    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if seccomp_program is not None:
            _install_seccomp_here(seccomp_program)

    return apply


def _dir_usage(folder):
    """(total bytes, number of files) below folder."""
    total = count = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            count += 1
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total, count


def _run(code_lines, extra_ro, rw_dirs, sys_path, limits, use_bwrap):
    program = seccomp_filter()
    notes = []
    with tempfile.TemporaryDirectory(prefix="rnn-sbx-") as scratch:
        scratch = Path(scratch)
        out_path, err_path = scratch / "stdout", scratch / "stderr"
        pass_fds = ()
        seccomp_file = None
        if use_bwrap:
            if program is not None:
                seccomp_file = open(scratch / "seccomp.bpf", "w+b")  # noqa: SIM115 (closed below)
                seccomp_file.write(program)
                seccomp_file.flush()
                seccomp_file.seek(0)
                pass_fds = (seccomp_file.fileno(),)
            cmd = _bwrap_command(seccomp_file.fileno() if seccomp_file else None, extra_ro, rw_dirs, limits)
            python = str(_runtime()["python"])
            preexec = _set_limits(limits)
            env = None  # bwrap --clearenv sets the environment
            cwd = None
        else:
            # Private sys.path: a folder holding only a link to numpy (never the venv's site-packages).
            site = scratch / "pylib"
            site.mkdir()
            (site / "numpy").symlink_to(_runtime()["numpy"])
            if _runtime()["numpy_libs"]:
                (site / "numpy.libs").symlink_to(_runtime()["numpy_libs"])
            code_lines = [line.replace(SANDBOX_SITE, str(site)) for line in code_lines]
            sys_path = [str(site) if str(p) == SANDBOX_SITE else p for p in sys_path]
            cmd = []
            python = str(_runtime()["python"])
            preexec = _set_limits(limits, program)
            env = _environment()
            env["HOME"] = env["TMPDIR"] = str(scratch)
            cwd = str(scratch)
            notes.append("no bubblewrap: plain subprocess with rlimits; files and network are NOT isolated")
        if use_bwrap:
            all_path = [SANDBOX_SITE, *sys_path]
        else:
            all_path = [str(scratch / "pylib"), *sys_path]
        cmd += [python, "-I", "-S", "-c", _boot_code(all_path, code_lines)]
        started = last_change = time.monotonic()
        last_count = 0
        killed = ""
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
                                    preexec_fn=preexec, start_new_session=True, pass_fds=pass_fds)
            while True:
                try:
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                usage = [_dir_usage(h) for h in rw_dirs]
                count = sum(c for _b, c in usage)
                if count != last_count:
                    last_count, last_change = count, now
                if now - started > limits.wall_seconds:
                    killed = "time limit"
                elif limits.idle_seconds and now - last_change > limits.idle_seconds:
                    killed = "time limit"
                elif sum(b for b, _c in usage) > limits.out_dir_bytes:
                    killed = "output limit"
                if killed:
                    _kill(proc)
                    break
        if seccomp_file is not None:
            seccomp_file.close()
        seconds = time.monotonic() - started
        stdout = _head(out_path, limits.file_bytes)
        stderr = _head(err_path, limits.file_bytes)
    returncode = None if killed else proc.returncode
    if returncode is not None and returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        killed = "CPU time limit"
    return RunResult(returncode, stdout, stderr, killed, use_bwrap, seconds, notes)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _head(path, limit):
    with open(path, "rb") as f:
        return f.read(limit)


def run_python(code_lines, *, read_only=None, writable=None, sys_path=(), limits=None, require_bwrap=False):
    """Run Python source in the sandbox.

    Inputs:
    - code_lines: list of str, Python source lines run after sys.path is set.
    - read_only: dict host path -> path inside the sandbox, bound read-only.
    - writable: dict host dir -> path inside the sandbox, bound read-write (results).
      Without bubblewrap the host paths themselves are used: pass paths that are
      the same inside and out, or build the code from ``sandbox_paths``.
    - sys_path: paths (inside the sandbox) appended to sys.path after numpy's.
    - limits: Limits.

    Returns a RunResult. Never raises for anything the untrusted code does.
    """
    limits = limits or Limits()
    use_bwrap = bubblewrap_available()
    if require_bwrap and not use_bwrap:
        raise RuntimeError("bubblewrap (bwrap) is required but cannot start a sandbox here")
    read_only = dict(read_only or {})
    writable = dict(writable or {})
    if not use_bwrap:
        # No mount namespace: the code sees the host paths. Translate the inside paths.
        mapping = {str(inside): str(host) for host, inside in {**read_only, **writable}.items()}

        def translate(text):
            for inside in sorted(mapping, key=len, reverse=True):
                text = text.replace(inside, mapping[inside])
            return text

        code_lines = [translate(line) for line in code_lines]
        sys_path = [translate(str(p)) for p in sys_path]
    return _run(code_lines, read_only, writable, list(sys_path), limits, use_bwrap)
