"""Sizing: what one learner's kernel and one learner's grading cost, and what a class needs.

    python benchmarks/bench_sizing.py [--learners 6] [--no-grading] [--no-server] [--json FILE]

1. Kernel: every notebook of solutions/ runs top to bottom with nbclient (in solutions/, like
   the test suite), in its own fresh kernel. For each lesson: the kernel process's peak
   resident memory (``VmHWM`` in /proc/<pid>/status, read after the last cell, before the
   kernel stops; plus the peak of its child processes, sampled every 0.1 s), its CPU seconds
   (user + system of the kernel and its children, from /proc, so other load on the machine
   does not inflate them) and the wall time. An idle kernel (no cell run) is the baseline.
2. Server: the single-user Jupyter server a hub starts per learner (``jupyter lab``, this
   environment's), its resident memory once it answers, with no notebook open.
3. Grading: the demo's class (answer key, memo LSTM, PyTorch GRU mix, untouched stub, numpy
   patcher, crasher; repeated to --learners) graded with ``grade`` for the whole course with
   --jobs 1, into a fresh OUT: wall seconds per learner, and CPU seconds per learner (this
   process and all its children, ``getrusage``), which is what a core must give per learner
   whatever else the machine does. The course build is a fixed cost per run, reported apart.
4. From these, a table for classes of 30, 300 and 3,000 (assumptions printed with it).

Prints markdown; --json keeps the raw figures.
"""

import argparse
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CELL_TIMEOUT = 900
# Assumptions of the class table, printed beside it.
ACTIVE = {30: 1.0, 300: 0.3, 3000: 0.1}  # share of the class with a running kernel at the busiest hour
SESSION_SECONDS = 90 * 60  # one working session on a lesson
RUNS_PER_SESSION = 3  # a learner runs the lesson's cells about three times over in a session
BURST_SECONDS = 120  # a burst: every active learner runs the heaviest lesson at once, done within this
HEADROOM = 1.25  # RAM: page cache, fragmentation, a second notebook opened for a while
HUB_BASE_GB = 1.0  # JupyterHub, its proxy and database


def _proc_status(pid, field):
    """A kB field of /proc/<pid>/status (VmHWM, VmRSS) in bytes, or 0."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid):
    """User + system seconds of a process and its waited-for children (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class ChildPeak(threading.Thread):
    """Samples the summed resident memory of a process's children (subprocesses a notebook starts)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        import psutil

        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.wait(0.1):
            total = 0
            try:
                for child in proc.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak = max(self.peak, total)


def run_notebook(path, cwd, keep_cells=True):
    """{peak_rss, child_peak_rss, cpu_seconds, wall_seconds, errors} of one notebook in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if not keep_cells:
        nb.cells = []
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    errors = 0
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        watcher = ChildPeak(pid)
        watcher.start()
        cpu0, start = _cpu_seconds(pid), time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
            errors += sum(1 for o in cell.get("outputs", []) if o.get("output_type") == "error")
        wall = time.perf_counter() - start
        cpu = _cpu_seconds(pid) - cpu0
        peak = _proc_status(pid, "VmHWM")
        watcher.stop.set()
        watcher.join(2)
    return {"peak_rss": peak, "child_peak_rss": watcher.peak, "cpu_seconds": cpu, "wall_seconds": wall,
            "errors": errors}


def measure_kernels():
    solutions = sorted((REPO / "solutions").glob("*.ipynb"))
    rows = {"(idle kernel)": run_notebook(solutions[0], solutions[0].parent, keep_cells=False)}
    for path in solutions:
        rows[path.stem] = run_notebook(path, path.parent)
        r = rows[path.stem]
        print(f"  {path.stem}: peak {r['peak_rss'] / 2**20:.0f} MiB "
              f"(+children {r['child_peak_rss'] / 2**20:.0f}), {r['cpu_seconds']:.1f} CPU s, "
              f"{r['wall_seconds']:.1f} s, {r['errors']} errors", flush=True)
    return rows


def measure_server():
    """Resident memory of an idle single-user `jupyter lab` server, once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="sizing-server-") as root:
        env = dict(os.environ, JUPYTER_TOKEN="sizing", JUPYTER_CONFIG_DIR=str(Path(root) / "config"),
                   JUPYTER_RUNTIME_DIR=str(Path(root) / "runtime"))
        proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
                                 "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--allow-root"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
                    break
                except urllib.error.HTTPError:
                    break  # it answers
                except OSError:
                    time.sleep(0.5)
            else:
                return None
            time.sleep(3)  # extensions finish loading
            return {"rss": _proc_status(proc.pid, "VmRSS"), "peak_rss": _proc_status(proc.pid, "VmHWM")}
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure_grading(learners):
    from autograder.building.course import nbgrader_env
    from autograder.demo.classroom import Templates, demo_class
    from autograder.grading.grade import grade

    os.environ["PATH"] = nbgrader_env()["PATH"]
    with tempfile.TemporaryDirectory(prefix="sizing-grading-") as tmp:
        tmp = Path(tmp)
        templates = Templates(tmp / "templates")
        base = tmp / "base"
        demo_class(base, templates)
        names = sorted(p.name for p in base.iterdir())
        subs = tmp / "subs"
        subs.mkdir()
        for i in range(learners):
            shutil.copytree(base / names[i % len(names)], subs / f"{names[i % len(names)]}-{i:02d}")

        def cpu():
            usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
            return sum(u.ru_utime + u.ru_stime for u in usage)

        cpu0, start = cpu(), time.monotonic()
        batch = grade(subs, tmp / "out", jobs=1, progress=False)
        wall, cpu_used = time.monotonic() - start, cpu() - cpu0
    course = batch.timings.get("course", 0.0)
    return {"learners": learners, "wall_seconds": wall, "cpu_seconds": cpu_used, "course_seconds": course,
            "graded_pairs": len(batch.graded), "ungradable": len(batch.ungradable), "timings": batch.timings,
            "wall_per_learner": (wall - course) / learners,
            # the course build is mostly one process: its CPU time is about its wall time
            "cpu_per_learner": max(cpu_used - course, 0.0) / learners}


def class_table(kernels, server, grading):
    lessons = {k: v for k, v in kernels.items() if not k.startswith("(")}
    heaviest = max(lessons, key=lambda k: lessons[k]["peak_rss"] + lessons[k]["child_peak_rss"])
    kernel_gb = (lessons[heaviest]["peak_rss"] + lessons[heaviest]["child_peak_rss"]) / 2**30
    server_gb = (server or {}).get("rss", 0) / 2**30
    per_learner_gb = (kernel_gb + server_gb) * HEADROOM
    cpu_lesson = max(v["cpu_seconds"] for v in lessons.values())
    rows = []
    for size, share in ACTIVE.items():
        active = max(1, math.ceil(size * share))
        ram = HUB_BASE_GB + active * per_learner_gb
        demand = active * cpu_lesson * RUNS_PER_SESSION / SESSION_SECONDS  # mean cores in use
        burst = max(2, math.ceil(active * cpu_lesson / BURST_SECONDS))
        row = {"size": size, "active": active, "ram_gb": ram, "mean_cores": demand, "cores": burst}
        if grading:
            core_seconds = size * grading["cpu_per_learner"]
            row["grading_core_hours"] = core_seconds / 3600
            row["grading_minutes"] = {c: (core_seconds / c + grading["course_seconds"]) / 60
                                      for c in (2, 8, 32)}
        rows.append(row)
    return heaviest, kernel_gb, server_gb, per_learner_gb, cpu_lesson, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=6, help="learners graded (default 6: the demo class)")
    parser.add_argument("--no-grading", action="store_true")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="keep the raw figures in FILE")
    parser.add_argument("--from-json", metavar="FILE", help="print the tables of an earlier --json run")
    args = parser.parse_args(argv)

    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        kernels, server, grading = saved["kernels"], saved["server"], saved["grading"]
        load_before, load_after = saved["load_before"], saved["load_after"]
    else:
        load_before = os.getloadavg()
        print(f"{os.cpu_count()} cores; load average before "
              f"{load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}", flush=True)
        print("kernels:", flush=True)
        kernels = measure_kernels()
        server = None if args.no_server else measure_server()
        grading = None if args.no_grading else measure_grading(args.learners)
        load_after = os.getloadavg()
    heaviest, kernel_gb, server_gb, per_learner_gb, cpu_lesson, rows = class_table(kernels, server, grading)
    lessons = {k: v for k, v in kernels.items() if not k.startswith("(")}
    heaviest_cpu = max(lessons, key=lambda k: lessons[k]["cpu_seconds"])

    print(f"\nload average (1, 5, 15 min) before {load_before[0]:.1f} {load_before[1]:.1f} "
          f"{load_before[2]:.1f}, after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f}; "
          f"{os.cpu_count()} cores\n")
    print("| lesson | kernel peak RSS (MiB) | children peak (MiB) | CPU s | wall s |")
    print("|---|---:|---:|---:|---:|")
    for name, r in kernels.items():
        print(f"| {name} | {r['peak_rss'] / 2**20:.0f} | {r['child_peak_rss'] / 2**20:.0f} | "
              f"{r['cpu_seconds']:.1f} | {r['wall_seconds']:.1f} |")
    if server:
        print(f"\nidle single-user server (jupyter lab): {server['rss'] / 2**20:.0f} MiB resident")
    if grading:
        print(f"\ngrading {grading['learners']} learners, whole course, --jobs 1: "
              f"{grading['wall_per_learner']:.1f} s per learner (wall, without the course build), "
              f"{grading['cpu_per_learner']:.1f} CPU s per learner; course build "
              f"{grading['course_seconds']:.0f} s; {grading['graded_pairs']} pairs graded, "
              f"{grading['ungradable']} ungradable")
    print(f"\nper active learner: {per_learner_gb:.2f} GB (kernel {kernel_gb:.2f} GB in {heaviest}, server "
          f"{server_gb:.2f} GB, x{HEADROOM} headroom); heaviest lesson {cpu_lesson:.0f} CPU s a run\n")
    print(f"Assumptions: active share of the class as shown; one running kernel per active learner; "
          f"{RUNS_PER_SESSION} runs of a lesson per {SESSION_SECONDS // 60} min session (mean cores); burst: "
          f"every active learner runs {heaviest_cpu} at the same moment and all finish within "
          f"{BURST_SECONDS} s; RAM x{HEADROOM} plus {HUB_BASE_GB:g} GB for the hub.\n")
    head = "| class | active at once | RAM (GB) | cores: mean in use | cores: burst |"
    line = "|---:|---:|---:|---:|---:|"
    if grading:
        head += " grading (core-hours) | grading time on 2 / 8 / 32 cores (min) |"
        line += "---:|---|"
    print(head)
    print(line)
    for r in rows:
        text = (f"| {r['size']:,} | {r['active']:,} ({ACTIVE[int(r['size'])]:.0%}) | {r['ram_gb']:.0f} | "
                f"{r['mean_cores']:.1f} | {r['cores']} |")
        if grading:
            minutes = " / ".join(f"{m:.0f}" if m >= 10 else f"{m:.1f}" for m in r["grading_minutes"].values())
            text += f" {r['grading_core_hours']:.2g} | {minutes} |"
        print(text)
    if args.json and not args.from_json:
        Path(args.json).write_text(json.dumps({
            "load_before": load_before, "load_after": load_after, "cores": os.cpu_count(), "kernels": kernels,
            "server": server, "grading": grading, "table": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
