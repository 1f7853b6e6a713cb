"""Speed of rnnkit's fast path (rnnkit.fast) against PyTorch on the CPU.

    python benchmarks/bench_cells.py                 # full run, markdown table on stdout
    python benchmarks/bench_cells.py --quick         # fewer repeats, for a smoke test
    python benchmarks/bench_cells.py --json out.json --markdown out.md

Measures the LSTM and the GRU, forward and forward+backward, in float32 and float64,
at two shapes (T, B, D, H), with 1 and 2 threads, and the machine's measured matrix
product (GEMM) peak. Every measurement runs in a child process whose thread settings
are fixed by environment variables before numpy or torch is imported, and numpy and
torch never share a process. Children are run in rounds that alternate numpy and
torch, so that a change of load on the machine hits both alike; the table shows the
median over all repeats of all rounds.

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
CELLS = ["lstm", "gru"]
DTYPES = ["float32", "float64"]
THREADS = [1, 2]
GATES = {"lstm": 4, "gru": 3}


def gemm_flops(cell, T, B, D, H, mode):
    forward = 2 * T * B * (D + H) * GATES[cell] * H
    return forward if mode == "fwd" else 3 * forward


def _time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


# ----------------------------------------------------------------------------- workers


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


def worker_numpy(repeats):
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from rnnkit import fast
    from rnnkit.cells import CELLS as CELL_OBJECTS

    results = {"kernel": _blas_kernel(), "numpy": np.__version__, "timings": [], "gemm": []}
    for dtype in DTYPES:
        for n in (512, 1024, 2048):
            a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
            b = np.random.default_rng(1).standard_normal((n, n)).astype(dtype)
            samples = _time(lambda a=a, b=b: a @ b, max(3, repeats // 2), warmup=1)
            results["gemm"].append({"dtype": dtype, "n": n, "samples": samples})
    for T, B, D, H in SHAPES:
        for cell in CELLS:
            for dtype in DTYPES:
                rng = np.random.default_rng(0)
                params = CELL_OBJECTS[cell].init_params(D, H, rng, dtype)
                xs = rng.standard_normal((T, B, D)).astype(dtype)
                dys = rng.standard_normal((T, B, H)).astype(dtype)

                def fwd(cell=cell, xs=xs, params=params):
                    return fast.forward(cell, xs, params)

                def fwdbwd(cell=cell, xs=xs, params=params, dys=dys):
                    _, _, cache = fast.forward(cell, xs, params)
                    return fast.backward(cache, dys)

                for mode, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
                    results["timings"].append({"shape": [T, B, D, H], "cell": cell, "dtype": dtype,
                                               "mode": mode, "samples": _time(fn, repeats)})
    return results


def worker_torch(repeats, threads):
    import torch

    torch.set_num_threads(threads)
    results = {"torch": torch.__version__, "timings": []}
    for T, B, D, H in SHAPES:
        for cell in CELLS:
            for dtype in DTYPES:
                torch.manual_seed(0)
                tdtype = getattr(torch, dtype)
                module = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H).to(tdtype)
                xs = torch.randn(T, B, D, dtype=tdtype)
                dys = torch.randn(T, B, H, dtype=tdtype)

                def fwd(module=module, xs=xs):
                    return module(xs)

                def fwdbwd(module=module, xs=xs, dys=dys):
                    module.zero_grad(set_to_none=True)
                    x = xs.detach().requires_grad_(True)
                    out, _ = module(x)
                    out.backward(dys)
                    return x.grad

                for mode, fn in (("fwd", fwd), ("fwdbwd", fwdbwd)):
                    results["timings"].append({"shape": [T, B, D, H], "cell": cell, "dtype": dtype,
                                               "mode": mode, "samples": _time(fn, repeats)})
    return results


# ----------------------------------------------------------------------------- parent


def child_env(threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_child(lib, threads, repeats):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--threads", str(threads),
           "--repeats", str(repeats)]
    out = subprocess.run(cmd, env=child_env(threads), check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def collect(rounds, repeats, have_torch):
    """Run the children; return merged samples keyed by (lib, threads, shape, cell, dtype, mode)."""
    samples, gemm, meta = {}, {}, {"load_before": os.getloadavg()}
    for r in range(rounds):
        for threads in THREADS:
            for lib in ("numpy", "torch") if have_torch else ("numpy",):
                print(f"round {r + 1}/{rounds}: {lib}, {threads} thread(s)", file=sys.stderr, flush=True)
                res = run_child(lib, threads, repeats)
                meta.update({k: v for k, v in res.items() if k not in ("timings", "gemm")})
                for t in res["timings"]:
                    key = (lib, threads, tuple(t["shape"]), t["cell"], t["dtype"], t["mode"])
                    samples.setdefault(key, []).extend(t["samples"])
                for g in res.get("gemm", []):
                    gemm.setdefault((threads, g["dtype"], g["n"]), []).extend(g["samples"])
    meta["load_after"] = os.getloadavg()
    peaks = {}
    for (threads, dtype, n), s in gemm.items():
        rate = 2 * n**3 / _median(s) / 1e9
        peaks[(threads, dtype)] = max(peaks.get((threads, dtype), 0.0), rate)
    return samples, peaks, meta


def make_rows(samples, peaks):
    rows = []
    for (T, B, D, H) in SHAPES:
        for cell in CELLS:
            for mode in ("fwd", "fwdbwd"):
                for dtype in DTYPES:
                    for threads in THREADS:
                        ours = _median(samples[("numpy", threads, (T, B, D, H), cell, dtype, mode)])
                        theirs_s = samples.get(("torch", threads, (T, B, D, H), cell, dtype, mode))
                        theirs = _median(theirs_s) if theirs_s else None
                        flops = gemm_flops(cell, T, B, D, H, mode)
                        rows.append({
                            "shape": (T, B, D, H), "cell": cell, "mode": mode, "dtype": dtype,
                            "threads": threads, "rnnkit_ms": ours * 1e3,
                            "torch_ms": None if theirs is None else theirs * 1e3,
                            "ratio": None if theirs is None else ours / theirs,
                            "rnnkit_gflops": flops / ours / 1e9,
                            "peak_fraction": flops / ours / 1e9 / peaks[(threads, dtype)],
                        })
    return rows


def markdown(rows, peaks, meta):
    lines = []
    lines.append(f"numpy {meta.get('numpy')} ({meta.get('kernel')}), torch {meta.get('torch', 'not run')}; "
                 f"load average before {meta['load_before'][0]:.2f}, after {meta['load_after'][0]:.2f}")
    lines.append("")
    lines.append("Measured GEMM peak (GFLOP/s, best median over n = 512, 1024, 2048):")
    lines.append("")
    lines.append("| dtype | 1 thread | 2 threads |")
    lines.append("|---|---:|---:|")
    for dtype in DTYPES:
        lines.append(f"| {dtype} | {peaks[(1, dtype)]:.1f} | {peaks[(2, dtype)]:.1f} |")
    lines.append("")
    lines.append("| T, B, D, H | cell | pass | dtype | threads | rnnkit ms | torch ms | rnnkit / torch "
                 "| rnnkit GFLOP/s | % of GEMM peak |")
    lines.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        torch_ms = "-" if r["torch_ms"] is None else f"{r['torch_ms']:.1f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        mode = "forward" if r["mode"] == "fwd" else "fwd+bwd"
        lines.append(f"| {', '.join(map(str, r['shape']))} | {r['cell'].upper()} | {mode} | {r['dtype']} | "
                     f"{r['threads']} | {r['rnnkit_ms']:.1f} | {torch_ms} | {ratio} | {r['rnnkit_gflops']:.1f} "
                     f"| {100 * r['peak_fraction']:.0f}% |")
    lines.append("")
    lines.append("Targets (larger shape, forward+backward):")
    lines.append("")
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
            lines.append(f"- {label}: {100 * r['peak_fraction']:.0f}% of GEMM peak (target >= 60%): {verdict}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per child (default 7)")
    parser.add_argument("--rounds", type=int, default=3, help="numpy/torch rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 repeats")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--markdown", help="write the markdown table here")
    args = parser.parse_args(argv)

    if args.worker == "numpy":
        print(json.dumps(worker_numpy(args.repeats)))
        return 0
    if args.worker == "torch":
        print(json.dumps(worker_torch(args.repeats, args.threads)))
        return 0

    if args.quick:
        args.rounds, args.repeats = 1, 3
    try:
        import importlib.util

        have_torch = importlib.util.find_spec("torch") is not None
    except ImportError:
        have_torch = False
    if not have_torch:
        print("torch is not installed: timing rnnkit only", file=sys.stderr)
    samples, peaks, meta = collect(args.rounds, args.repeats, have_torch)
    rows = make_rows(samples, peaks)
    text = markdown(rows, peaks, meta)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "gemm_peak_gflops": {f"{t}-{d}": v for (t, d), v in peaks.items()},
                       "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
