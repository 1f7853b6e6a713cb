"""Speed of rnnkit's fast path (rnnkit.fast) against PyTorch on the CPU.

    python benchmarks/bench_cells.py                 # full run, markdown table on stdout
    python benchmarks/bench_cells.py --quick         # fewer repeats, for a smoke test
    python benchmarks/bench_cells.py --json out.json --markdown out.md

Measures the LSTM and the GRU, forward and forward+backward, in float32 and float64,
at two shapes (T, B, D, H), with 1 and 2 threads, and the machine's measured matrix
product (GEMM) peak. Every measurement runs in a child process whose thread settings
are fixed by environment variables before numpy or torch is imported, and numpy and
torch never share a process. The parent asks the numpy and the torch child for one
timed run each in turn (and a GEMM beside them), so that a change of load on the
machine hits both alike; the table shows medians over the repeats.

What is timed:
- rnnkit forward: ``fast.forward`` (keeps the cache a backward pass needs);
  forward+backward: ``fast.forward`` then ``fast.backward`` (gradients of the inputs,
  the initial state and every parameter, in the unfused LSTMParams / GRUParams form).
- torch forward: ``nn.LSTM`` / ``nn.GRU`` with autograd recording (a training forward);
  forward+backward: the same then ``backward`` with the same upstream gradient, the
  input requiring a gradient too. The GRUs compute different equations (torch applies
  the reset gate after the product) with the same number of multiply-adds.

GEMM peak: the best median rate of square products (n = 512, 1024, 2048) in numpy.
The fraction of peak counts the useful matrix-product work of the cell:
forward 2 T B (D + H) G H flops (G = 4 gate blocks for the LSTM, 3 for the GRU),
backward twice that (gradients of the inputs and of the weights).

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set on some machines for old OpenBLAS builds)
are removed from the children's environment: they would pin numpy's OpenBLAS to a
slower kernel. The kernel OpenBLAS picked is reported.
"""

import argparse
import json
import os
import subprocess
import sys
import time

SHAPES = [(100, 32, 64, 128), (50, 64, 128, 256)]
if os.environ.get("RNNKIT_BENCH_SHAPES"):  # e.g. "5,2,3,4;6,2,4,8" for a smoke test of the script
    SHAPES = [tuple(int(v) for v in shape.split(","))
              for shape in os.environ["RNNKIT_BENCH_SHAPES"].split(";")]
CELLS = ["lstm", "gru"]
DTYPES = ["float32", "float64"]
THREADS = [1, 2]
GATES = {"lstm": 4, "gru": 3}
GEMM_N = 1024
WALL, CPU = 0, 1  # index of the clock in a sample


def gemm_flops(cell, T, B, D, H, mode):
    forward = 2 * T * B * (D + H) * GATES[cell] * H
    return forward if mode == "fwd" else 3 * forward


def _time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    samples = []  # (wall-clock seconds, CPU seconds of the process)
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - start, time.process_time() - cpu_start))
    return samples


# ----------------------------------------------------------------------------- workers
#
# A worker is a child process serving one library. It builds every case once, then
# answers requests on stdin, one JSON line each: {"case": i, "repeats": n} -> samples.
# The parent alternates its requests between the numpy and the torch worker, one sample
# at a time, so that both see the same load on the machine.


def _blas_kernel():
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            return f"{info[0].get('internal_api')} {info[0].get('version')} {info[0].get('architecture')}"
    except ImportError:
        pass
    import ctypes
    import glob

    import numpy as np

    for lib in glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*")):
        so = ctypes.CDLL(lib)
        for sym in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            if hasattr(so, sym):
                fn = getattr(so, sym)
                fn.restype = ctypes.c_char_p
                return "openblas " + fn().decode()
    return "unknown"


def cases():
    """Every timed case, in a fixed order shared by parent and workers."""
    out = [("gemm", dtype) for dtype in DTYPES]
    for shape in SHAPES:
        for cell in CELLS:
            for dtype in DTYPES:
                for mode in ("fwd", "fwdbwd"):
                    out.append((shape, cell, dtype, mode))
    return out


def numpy_functions():
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from rnnkit import fast
    from rnnkit.cells import CELLS as CELL_OBJECTS

    fns = []
    for case in cases():
        if case[0] == "gemm":
            a = np.random.default_rng(0).standard_normal((GEMM_N, GEMM_N)).astype(case[1])
            b = np.random.default_rng(1).standard_normal((GEMM_N, GEMM_N)).astype(case[1])
            fns.append(lambda a=a, b=b: a @ b)
            continue
        (T, B, D, H), cell, dtype, mode = case
        rng = np.random.default_rng(0)
        params = CELL_OBJECTS[cell].init_params(D, H, rng, dtype)
        xs = rng.standard_normal((T, B, D)).astype(dtype)
        dys = rng.standard_normal((T, B, H)).astype(dtype)
        if mode == "fwd":
            fns.append(lambda cell=cell, xs=xs, params=params: fast.forward(cell, xs, None, params))
        else:
            def fwdbwd(cell=cell, xs=xs, params=params, dys=dys):
                _, _, cache = fast.forward(cell, xs, None, params)
                return fast.backward(cache, dys)

            fns.append(fwdbwd)
    meta = {"numpy": np.__version__, "kernel": _blas_kernel()}
    return fns, meta


def torch_functions(threads):
    import torch

    torch.set_num_threads(threads)
    fns = []
    for case in cases():
        if case[0] == "gemm":
            fns.append(None)
            continue
        (T, B, D, H), cell, dtype, mode = case
        torch.manual_seed(0)
        tdtype = getattr(torch, dtype)
        module = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H).to(tdtype)
        xs = torch.randn(T, B, D, dtype=tdtype)
        dys = torch.randn(T, B, H, dtype=tdtype)
        if mode == "fwd":
            fns.append(lambda module=module, xs=xs: module(xs))
        else:
            def fwdbwd(module=module, xs=xs, dys=dys):
                module.zero_grad(set_to_none=True)
                x = xs.detach().requires_grad_(True)
                out, _ = module(x)
                out.backward(dys)
                return x.grad

            fns.append(fwdbwd)
    return fns, {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def serve(lib, threads):
    fns, meta = numpy_functions() if lib == "numpy" else torch_functions(threads)
    print(json.dumps(meta), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        fn = fns[request["case"]]
        samples = _time(fn, request["repeats"], request.get("warmup", 0))
        print(json.dumps(samples), flush=True)


# ----------------------------------------------------------------------------- parent


def child_env(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


class Worker:
    def __init__(self, lib, threads):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, env=child_env(threads), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.meta = json.loads(self.proc.stdout.readline())

    def time(self, case, repeats, warmup=0):
        self.proc.stdin.write(json.dumps({"case": case, "repeats": repeats, "warmup": warmup}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def collect(repeats, have_torch):
    """Time every case; return samples keyed by (lib, threads, case) and GEMM peaks."""
    samples, meta = {}, {"load_before": os.getloadavg()}
    all_cases = cases()
    gemm_index = {case[1]: i for i, case in enumerate(all_cases) if case[0] == "gemm"}
    for threads in THREADS:
        workers = {"numpy": Worker("numpy", threads)}
        if have_torch:
            workers["torch"] = Worker("torch", threads)
        for w in workers.values():
            meta.update(w.meta)
        for i, case in enumerate(all_cases):
            if case[0] == "gemm":
                continue
            print(f"{threads} thread(s): {case}", file=sys.stderr, flush=True)
            for w in workers.values():
                w.time(i, 0, warmup=2)
            for _ in range(repeats):
                # one sample each, in turn, and a GEMM beside them for the peak under the same load
                for lib, w in workers.items():
                    samples.setdefault((lib, threads, case), []).extend(w.time(i, 1))
                dtype = case[2]
                samples.setdefault(("numpy", threads, ("gemm", dtype)), []).extend(
                    workers["numpy"].time(gemm_index[dtype], 1))
        for w in workers.values():
            w.close()
    meta["load_after"] = os.getloadavg()
    peaks = {(threads, dtype, clock): 2 * GEMM_N**3 / _median(
                 [pair[clock] for pair in samples[("numpy", threads, ("gemm", dtype))]]) / 1e9
             for threads in THREADS for dtype in DTYPES for clock in (WALL, CPU)}
    return samples, peaks, meta


def make_rows(samples, peaks, clock=WALL, threads_list=THREADS):
    rows = []
    for (T, B, D, H) in SHAPES:
        for cell in CELLS:
            for mode in ("fwd", "fwdbwd"):
                for dtype in DTYPES:
                    for threads in threads_list:
                        case = ((T, B, D, H), cell, dtype, mode)
                        ours = _median([pair[clock] for pair in samples[("numpy", threads, case)]])
                        theirs_s = [pair[clock] for pair in samples.get(("torch", threads, case), [])]
                        theirs = _median(theirs_s) if theirs_s else None
                        flops = gemm_flops(cell, T, B, D, H, mode)
                        rows.append({
                            "shape": (T, B, D, H), "cell": cell, "mode": mode, "dtype": dtype,
                            "threads": threads, "rnnkit_ms": ours * 1e3,
                            "torch_ms": None if theirs is None else theirs * 1e3,
                            "ratio": None if theirs is None else ours / theirs,
                            "rnnkit_gflops": flops / ours / 1e9,
                            "peak_fraction": flops / ours / 1e9 / peaks[(threads, dtype, clock)],
                        })
    return rows


def _table(rows, lines):
    lines.append("| T, B, D, H | cell | pass | dtype | threads | rnnkit ms | torch ms | rnnkit / torch "
                 "| rnnkit GFLOP/s | % of GEMM peak |")
    lines.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        torch_ms = "-" if r["torch_ms"] is None else f"{r['torch_ms']:.1f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        mode = "forward" if r["mode"] == "fwd" else "fwd+bwd"
        lines.append(f"| {', '.join(map(str, r['shape']))} | {r['cell'].upper()} | {mode} | {r['dtype']} | "
                     f"{r['threads']} | {r['rnnkit_ms']:.1f} | {torch_ms} | {ratio} "
                     f"| {r['rnnkit_gflops']:.1f} | {100 * r['peak_fraction']:.0f}% |")
    lines.append("")


def _targets(rows, lines):
    big = SHAPES[-1]
    for r in rows:
        if r["shape"] != big or r["mode"] != "fwdbwd":
            continue
        label = f"{r['cell'].upper()} {r['dtype']} {r['threads']} thread(s)"
        if r["ratio"] is not None:
            limit = 1.3 if r["dtype"] == "float32" else 1.0
            verdict = "met" if r["ratio"] <= limit else f"MISSED by {100 * (r['ratio'] / limit - 1):.0f}%"
            lines.append(f"- {label}: {r['ratio']:.2f}x torch's time (target <= {limit}x): {verdict}")
        if r["threads"] == 1:
            verdict = "met" if r["peak_fraction"] >= 0.6 else "MISSED"
            fraction = f"{100 * r['peak_fraction']:.0f}%"
            lines.append(f"- {label}: {fraction} of GEMM peak (target >= 60%): {verdict}")
    lines.append("")


def markdown(rows, cpu_rows, peaks, meta):
    lines = []
    lines.append(f"numpy {meta.get('numpy')} ({meta.get('kernel')}), torch {meta.get('torch', 'not run')}; "
                 f"{os.cpu_count()} CPUs; load average (1 min) before {meta['load_before'][0]:.2f}, "
                 f"after {meta['load_after'][0]:.2f}")
    lines.append("")
    lines.append(f"Measured GEMM peak, GFLOP/s: median rate of a {GEMM_N} x {GEMM_N} product in numpy, "
                 "timed between the cases (wall clock; CPU time in brackets):")
    lines.append("")
    lines.append("| dtype | 1 thread | 2 threads |")
    lines.append("|---|---:|---:|")
    for dtype in DTYPES:
        lines.append(f"| {dtype} | {peaks[(1, dtype, WALL)]:.1f} ({peaks[(1, dtype, CPU)]:.1f}) "
                     f"| {peaks[(2, dtype, WALL)]:.1f} |")
    lines.append("")
    lines.append("Wall-clock time, median of the repeats:")
    lines.append("")
    _table(rows, lines)
    lines.append("Targets on wall-clock time (larger shape, forward+backward):")
    lines.append("")
    _targets(rows, lines)
    lines.append("CPU time of the process, one thread (insensitive to other processes waiting for the "
                 "CPU; % of the GEMM peak measured the same way):")
    lines.append("")
    _table(cpu_rows, lines)
    lines.append("Targets on CPU time, one thread:")
    lines.append("")
    _targets(cpu_rows, lines)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per case (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 repeats per case")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--markdown", help="write the markdown table here")
    args = parser.parse_args(argv)

    if args.worker:
        serve(args.worker, args.threads)
        return 0

    if args.quick:
        args.repeats = 3
    try:
        import importlib.util

        have_torch = importlib.util.find_spec("torch") is not None
    except ImportError:
        have_torch = False
    if not have_torch:
        print("torch is not installed: timing rnnkit only", file=sys.stderr)
    samples, peaks, meta = collect(args.repeats, have_torch)
    rows = make_rows(samples, peaks)
    cpu_rows = make_rows(samples, peaks, clock=CPU, threads_list=[1])
    text = markdown(rows, cpu_rows, peaks, meta)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows_wall": rows, "rows_cpu_1_thread": cpu_rows,
                       "gemm_peak_gflops": {f"{t} thread(s) {d} {'wall' if c == WALL else 'cpu'}": v
                                            for (t, d, c), v in peaks.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
