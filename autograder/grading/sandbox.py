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
  result file), open files, no core dumps; plus a wall-clock limit, an idle limit
  (no new expected result for too long) and caps on the bytes and on the number
  of entries (files, folders, links, FIFOs) in the writable folders, enforced by
  the parent, which kills bubblewrap's process group and every process below it.
  The parent walks those folders without following links and removes them with
  ``remove_tree``, which copes with whatever learner code left there.

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
    out_dir_entries: int = 2000  # files, folders, links, FIFOs... in the writable folders together
    open_files: int = 256
    tmp_bytes: int = 16 << 20  # the sandbox's private /tmp (bubblewrap only)
    # Kill when no progress is made for this long: progress is a file name (one of
    # ``run_python``'s ``progress_names``) appearing in a writable folder for the first time.
    idle_seconds: float | None = None


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
    if shutil.which("bwrap") is None:
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
    # No /proc: /proc/self/mountinfo would tell learner code the host paths of every bound folder
    # (which it could then print into an error message). Python and numpy do not need it.
    cmd += ["--dev", "/dev", "--remount-ro", "/dev", "--size", str(limits.tmp_bytes),
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 32  # folders nested deeper than this in a writable folder stop the run


def _usage(folders, max_entries, max_bytes, top_names=None):
    """Walk the writable folders without following links: ``(total bytes, entries, problem)``.

    Every entry counts (files, folders, links, FIFOs...); bytes are the sizes of regular
    files. The walk stops as soon as a cap is passed. ``problem`` is "" or why the run must
    stop: too many entries, too many bytes, folders nested too deep, or something the
    walk cannot read (learner code has no business hiding files from it). Top-level names
    are added to ``top_names`` (a set) when given. Opens at most ``2 * MAX_DEPTH`` fds."""
    total = entries = 0
    for folder in folders:
        try:
            root = os.open(folder, _DIR_FLAGS)
        except OSError:
            return total, entries, "unreadable"
        stack = []
        try:
            stack.append((root, os.scandir(root), 0))
        except OSError:
            os.close(root)
            return total, entries, "unreadable"
        try:
            while stack:
                fd, it, depth = stack[-1]
                try:
                    entry = next(it, None)
                except OSError:
                    return total, entries, "unreadable"
                if entry is None:
                    it.close()
                    os.close(fd)
                    stack.pop()
                    continue
                entries += 1
                if depth == 0 and top_names is not None:
                    top_names.add(entry.name)
                if entries > max_entries:
                    return total, entries, "entries"
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if not is_dir and entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                        if total > max_bytes:
                            return total, entries, "bytes"
                except FileNotFoundError:
                    continue  # removed meanwhile
                except OSError:
                    return total, entries, "unreadable"
                if not is_dir:
                    continue
                if depth + 1 > MAX_DEPTH:
                    return total, entries, "depth"
                try:
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except (FileNotFoundError, NotADirectoryError):
                    continue  # removed or replaced meanwhile
                except OSError:
                    return total, entries, "unreadable"
                try:
                    stack.append((child, os.scandir(child), depth + 1))
                except OSError:
                    os.close(child)
                    return total, entries, "unreadable"
        finally:
            for fd, it, _depth in stack:
                it.close()
                os.close(fd)
    return total, entries, ""


_USAGE_NOTES = {
    "entries": "too many files or folders in the writable folders",
    "bytes": "too many bytes in the writable folders",
    "depth": "folders nested too deep in the writable folders",
    "unreadable": "something in the writable folders was made unreadable",
}


def remove_tree(path):
    """Delete a folder that untrusted code wrote into, whatever it left there.

    Never follows a link; gives back the owner's permissions that learner code took away
    (chmod 000 folders, read-only files); flattens deep nesting (each sub-sub-folder is
    moved up to ``path`` before its parent is removed) so that neither recursion nor open
    file descriptors grow with depth. Run it only once no sandboxed process is left.
    Raises OSError when something cannot be removed."""
    path = os.fspath(path)
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
        return
    os.chmod(path, 0o700)
    root = os.open(path, _DIR_FLAGS)
    serial = 0
    try:
        while True:
            with os.scandir(root) as it:
                top = list(it)
            if not top:
                break
            progress = False
            for entry in top:
                if not _is_dir(entry):
                    progress |= _ignore_missing(os.unlink, entry.name, dir_fd=root)
                    continue
                _ignore_missing(os.chmod, entry.name, 0o700, dir_fd=root)
                sub = os.open(entry.name, _DIR_FLAGS, dir_fd=root)
                try:
                    with os.scandir(sub) as it:
                        inner = list(it)
                    for child in inner:
                        if not _is_dir(child):
                            progress |= _ignore_missing(os.unlink, child.name, dir_fd=sub)
                            continue
                        _ignore_missing(os.chmod, child.name, 0o700, dir_fd=sub)
                        for _attempt in range(100):  # up to the top, under a name not in use
                            serial += 1
                            try:
                                os.rename(child.name, f".rm-{serial}", src_dir_fd=sub, dst_dir_fd=root)
                            except OSError:
                                continue
                            progress = True
                            break
                finally:
                    os.close(sub)
                try:
                    os.rmdir(entry.name, dir_fd=root)
                    progress = True
                except OSError:
                    pass
            if not progress:
                break
    finally:
        os.close(root)
    os.rmdir(path)


def _is_dir(entry):
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _ignore_missing(func, *args, **kwargs):
    """Run ``func``; True when it did something, False when its target was gone already."""
    try:
        func(*args, **kwargs)
    except FileNotFoundError:
        return False
    return True


def _run(code_lines, extra_ro, rw_dirs, sys_path, limits, use_bwrap, progress_names=None):
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
        # Progress for the idle limit: a name (of ``progress_names``, or any name when None)
        # seen at the top of a writable folder for the first time. Names present at the
        # start, and names seen once, never count again: touching, deleting and recreating
        # files does not keep a stalled run alive.
        seen = set()
        _usage(list(rw_dirs), limits.out_dir_entries, limits.out_dir_bytes, seen)
        wanted = None if progress_names is None else frozenset(progress_names)
        seen_cap = 10 * limits.out_dir_entries + len(wanted or ())
        started = last_change = time.monotonic()
        killed = ""
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
                                    preexec_fn=preexec, start_new_session=True, pass_fds=pass_fds)
            exited = False  # on its own, not killed here
            while True:
                try:
                    proc.wait(timeout=0.05)
                    exited = True
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                top = set()
                problem = _usage(list(rw_dirs), limits.out_dir_entries, limits.out_dir_bytes, top)[2]
                new = top - seen
                if wanted is not None:
                    new &= wanted
                if new and len(seen) < seen_cap:
                    seen |= new
                    last_change = now
                if problem:
                    killed = "output limit"
                    notes.append(f"stopped: {_USAGE_NOTES[problem]}")
                elif exited:
                    break
                elif now - started > limits.wall_seconds:
                    killed = "time limit"
                elif limits.idle_seconds and now - last_change > limits.idle_seconds:
                    killed = "time limit"
                    notes.append(f"stopped: no progress for {limits.idle_seconds:g} s")
                if exited:  # over a cap on the way out: nothing left to kill
                    break
                if killed:
                    if not _kill(proc):
                        notes.append("a sandboxed process could not be confirmed dead")
                    break
        if seccomp_file is not None:
            seccomp_file.close()
        seconds = time.monotonic() - started
        stdout = _head(out_path, limits.file_bytes, notes)
        stderr = _head(err_path, limits.file_bytes, notes)
    returncode = proc.returncode if exited else None
    if returncode is not None and returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        killed = "CPU time limit"
    return RunResult(returncode, stdout, stderr, killed, use_bwrap, seconds, notes)


def _proc_stat(pid):
    """(state, ppid, start time) of a process from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _descendants(pid):
    """{pid: start time} of every process below ``pid`` (Linux /proc; empty elsewhere)."""
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return {}
    children, start = {}, {}
    for p in pids:
        info = _proc_stat(p)
        if info:
            children.setdefault(info[1], []).append(p)
            start[p] = info[2]
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found[child] = start[child]
                todo.append(child)
    return found


def _kill(proc):
    """Kill the sandbox: bubblewrap's process group, and every process below it by pid (the
    sandboxed process runs in a session of its own, ``--new-session``; killing the init of
    its pid namespace ends all of the namespace). Returns True once none of them is left
    (gone, or a zombie)."""
    below = _descendants(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while True:
        alive = [pid for pid, started in below.items()
                 if (info := _proc_stat(pid)) and info[2] == started and info[0] not in "ZX"]
        if not alive or time.monotonic() > deadline:
            return not alive
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def _head(path, limit, notes):
    """At most ``limit`` bytes of the captured stdout/stderr (without bubblewrap the
    untrusted code can reach the scratch folder: read it as untrusted)."""
    from autograder.checks.casefile import UntrustedFileError, read_untrusted

    try:
        return read_untrusted(path, limit, truncate=True)
    except UntrustedFileError as exc:
        notes.append(f"captured output not read: {exc.problem}")
        return b""


def run_python(code_lines, *, read_only=None, writable=None, sys_path=(), limits=None, require_bwrap=False,
               progress_names=None):
    """Run Python source in the sandbox.

    Inputs:
    - code_lines: list of str, Python source lines run after sys.path is set.
    - read_only: dict host path -> path inside the sandbox, bound read-only.
    - writable: dict host dir -> path inside the sandbox, bound read-write (results).
      Without bubblewrap the host paths themselves are used: pass paths that are
      the same inside and out.
    - sys_path: paths (inside the sandbox) appended to sys.path after numpy's.
    - limits: Limits.
    - progress_names: file names whose first appearance at the top of a writable folder
      counts as progress for ``limits.idle_seconds`` (each name once, however often it is
      deleted and made again; names present at the start never count). None: any new name
      counts once.

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
    return _run(code_lines, read_only, writable, list(sys_path), limits, use_bwrap, progress_names)
