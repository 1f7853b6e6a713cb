"""Speed of rnnkit's fast path against the learner-level path (and PyTorch), forward+backward.

    python benchmarks/bench_fast.py              # markdown table on stdout
    python benchmarks/bench_fast.py --quick      # fewer repeats, for a smoke test

One layer of each cell (basic RNN, LSTM, GRU) over a whole sequence, forward and backward,
float64, one thread, at (T, B, D, H) = SHAPE:

- fast path: ``fast.forward`` then ``fast.backward`` (rnnkit/fast.py: fused gate blocks,
  the input projection of all T steps in one product, weight gradients summed over time
  in one product);
- learner path: ``rnnkit.sequence.bptt`` with the reference solutions, which runs the
  forward pass again and then ``step_backward`` step by step, every gate with its own
  matrix product (the code learners write in lessons 2 to 6);
- torch: ``nn.RNN`` (tanh) / ``nn.LSTM`` / ``nn.GRU`` forward with autograd, then
  ``backward`` with the same upstream gradient and an input requiring a gradient. Its GRU
  applies the reset gate after the product (same number of multiply-adds).

All three return the gradients of the inputs, the initial state and every parameter.
Before timing, the fast path's gradients are checked against the learner path's.

A second table times what training actually runs: one step of ``rnnkit.train.SequenceModel``
(forward, MSE on the last step's prediction, backward) at lesson 7's size, MODEL_SHAPE, with
each engine: ``engine="cells"`` (the default: ``multilayer.stacked_forward`` and
``stacked_backward`` with the cells, i.e. the learner's code; the backward runs the forward
pass twice more) and ``engine="fast"``.
The numpy paths and torch run in two child processes (numpy and torch never share a
process) with one BLAS thread set before either library is imported; the parent asks
for one sample of each path in turn, so that a change of load on the machine hits all
three alike. The table shows medians over the repeats and ratios of those medians.
"""

import argparse
import json
import os
import subprocess
import sys

from bench_cells import CPU, WALL, _blas_kernel, _median, _time, child_env

SHAPE = (50, 32, 64, 128)  # T, B, D, H
if os.environ.get("RNNKIT_BENCH_SHAPE"):  # e.g. "5,2,3,4" for a smoke test of the script
    SHAPE = tuple(int(v) for v in os.environ["RNNKIT_BENCH_SHAPE"].split(","))
CELLS = ["rnn", "lstm", "gru"]
PATHS = ["fast", "learner", "torch"]
MODEL_SHAPE = (40, 32, 2, 32)  # T, B, D, H: lesson 7's adding problem at its longest small length
MODEL_PATHS = ["step_cells", "step_fast"]  # one SequenceModel training step, per engine
DTYPE = "float64"
THREADS = 1


def cases():
    """Every timed case, (cell, path), in a fixed order shared by parent and workers."""
    return [(cell, path) for cell in CELLS for path in PATHS + MODEL_PATHS]


# ----------------------------------------------------------------------------- workers


def _problem(cell, np):
    """(cell object, params, xs, state0, dys) for one layer at SHAPE, seeded."""
    from rnnkit.cells import CELLS as CELL_OBJECTS

    T, B, D, H = SHAPE
    cell_object = CELL_OBJECTS[cell]
    rng = np.random.default_rng(0)
    params = cell_object.init_params(D, H, rng, DTYPE)
    xs = rng.standard_normal((T, B, D)).astype(DTYPE)
    dys = rng.standard_normal((T, B, H)).astype(DTYPE)
    return cell_object, params, xs, cell_object.zero_state(B, H, DTYPE), dys


def _check_same_gradients(fast_result, learner_result, np):
    """The fast path must compute what the learner path computes (else the timing is moot)."""
    (dxs, dstate0, dparams), (dxs_ref, dstate0_ref, dparams_ref) = fast_result, learner_result
    for got, want in zip([dxs, *dstate0, *dparams], [dxs_ref, *dstate0_ref, *dparams_ref], strict=True):
        if not np.allclose(got, want, rtol=1e-9, atol=1e-12):
            raise AssertionError("fast path and learner path disagree")


def _model_step(cell, engine, np):
    """One SequenceModel training step at MODEL_SHAPE (forward, MSE, backward); returns the gradients."""
    from rnnkit.train import SequenceModel, mse

    T, B, D, H = MODEL_SHAPE
    model = SequenceModel(cell, D, H, 1, rng=0, engine=engine)
    rng = np.random.default_rng(1)
    xs, target = rng.standard_normal((T, B, D)), rng.standard_normal((B, 1))

    def step():
        _, dpred = mse(model.forward(xs), target)
        return model.backward(dpred)

    return step


def numpy_functions():
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from rnnkit import fast, sequence

    fns = []
    for cell, path in cases():
        if path == "torch":
            fns.append(None)
            continue
        if path in MODEL_PATHS:
            step = _model_step(cell, path.removeprefix("step_"), np)
            if path == "step_fast":  # both engines must compute the same gradients
                pairs = zip(step(), _model_step(cell, "cells", np)(), strict=True)
                if not all(np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in pairs):
                    raise AssertionError("the two SequenceModel engines disagree")
            fns.append(step)
            continue
        cell_object, params, xs, state0, dys = _problem(cell, np)

        def fast_fwdbwd(cell=cell, xs=xs, state0=state0, params=params, dys=dys):
            _, _, cache = fast.forward(cell, xs, state0, params)
            return fast.backward(cache, dys)

        def learner_fwdbwd(cell_object=cell_object, xs=xs, state0=state0, params=params, dys=dys):
            return sequence.bptt(cell_object, xs, state0, params, dys)

        if path == "fast":
            _check_same_gradients(fast_fwdbwd(), learner_fwdbwd(), np)
        fns.append(fast_fwdbwd if path == "fast" else learner_fwdbwd)
    return fns, {"numpy": np.__version__, "kernel": _blas_kernel()}


def torch_functions():
    import torch

    torch.set_num_threads(THREADS)
    T, B, D, H = SHAPE
    modules = {"rnn": lambda: torch.nn.RNN(D, H, nonlinearity="tanh"), "lstm": lambda: torch.nn.LSTM(D, H),
               "gru": lambda: torch.nn.GRU(D, H)}
    fns = []
    for cell, path in cases():
        if path != "torch":
            fns.append(None)
            continue
        torch.manual_seed(0)
        tdtype = getattr(torch, DTYPE)
        module = modules[cell]().to(tdtype)
        xs = torch.randn(T, B, D, dtype=tdtype)
        dys = torch.randn(T, B, H, dtype=tdtype)

        def fwdbwd(module=module, xs=xs, dys=dys):
            module.zero_grad(set_to_none=True)
            x = xs.detach().requires_grad_(True)
            out, _ = module(x)
            out.backward(dys)
            return x.grad

        fns.append(fwdbwd)
    return fns, {"torch": torch.__version__}


def serve(lib):
    fns, meta = numpy_functions() if lib == "numpy" else torch_functions()
    print(json.dumps(meta), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        samples = _time(fns[request["case"]], request["repeats"], request.get("warmup", 0))
        print(json.dumps(samples), flush=True)


# ----------------------------------------------------------------------------- parent


class Worker:
    def __init__(self, lib):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib]
        self.proc = subprocess.Popen(cmd, env=child_env(THREADS), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.meta = json.loads(self.proc.stdout.readline())

    def time(self, case, repeats, warmup=0):
        self.proc.stdin.write(json.dumps({"case": case, "repeats": repeats, "warmup": warmup}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def collect(repeats, have_torch):
    """Time every case, one sample of each path in turn; return {case: [(wall, cpu), ...]}."""
    meta = {"load_before": os.getloadavg()}
    workers = {"numpy": Worker("numpy")}
    if have_torch:
        workers["torch"] = Worker("torch")
    for w in workers.values():
        meta.update(w.meta)
    samples = {}
    all_cases = cases()
    for cell in CELLS:
        indices = [i for i, case in enumerate(all_cases) if case[0] == cell
                   and (have_torch or case[1] != "torch")]
        print(f"{cell}: {repeats} repeats", file=sys.stderr, flush=True)
        for i in indices:
            _worker(workers, all_cases[i]).time(i, 0, warmup=2)
        for _ in range(repeats):
            for i in indices:
                samples.setdefault(all_cases[i], []).extend(_worker(workers, all_cases[i]).time(i, 1))
    for w in workers.values():
        w.close()
    meta["load_after"] = os.getloadavg()
    return samples, meta


def _worker(workers, case):
    return workers["torch" if case[1] == "torch" else "numpy"]


def markdown(samples, meta, repeats):
    lines = [f"numpy {meta.get('numpy')} ({meta.get('kernel')}), torch {meta.get('torch', 'not run')}; "
             f"{os.cpu_count()} CPUs; load average (1 min) before {meta['load_before'][0]:.2f}, "
             f"after {meta['load_after'][0]:.2f}; (T, B, D, H) = {SHAPE}, {DTYPE}, {THREADS} thread, "
             f"median of {repeats} repeats.", ""]
    for clock, title in ((WALL, "Wall-clock time"), (CPU, "CPU time of the process")):
        lines += [f"{title}, forward+backward over the sequence:", "",
                  "| cell | fast path ms | learner path (`sequence.bptt`) ms | learner / fast | torch ms "
                  "| fast / torch |",
                  "|---|---:|---:|---:|---:|---:|"]
        for cell in CELLS:
            ms = {path: _median([s[clock] for s in samples[(cell, path)]]) * 1e3
                  for path in PATHS if (cell, path) in samples}
            torch_ms = f"{ms['torch']:.1f}" if "torch" in ms else "-"
            vs_torch = f"{ms['fast'] / ms['torch']:.2f}x" if "torch" in ms else "-"
            lines.append(f"| {cell.upper()} | {ms['fast']:.1f} | {ms['learner']:.1f} | "
                         f"{ms['learner'] / ms['fast']:.1f}x | {torch_ms} | {vs_torch} |")
        lines.append("")
        lines += [f"{title}, one SequenceModel training step at (T, B, D, H) = {MODEL_SHAPE}:", "",
                  "| cell | engine=\"fast\" ms | engine=\"cells\" (default) ms | cells / fast |",
                  "|---|---:|---:|---:|"]
        for cell in CELLS:
            ms = {path: _median([s[clock] for s in samples[(cell, path)]]) * 1e3 for path in MODEL_PATHS}
            lines.append(f"| {cell.upper()} | {ms['step_fast']:.2f} | {ms['step_cells']:.2f} | "
                         f"{ms['step_cells'] / ms['step_fast']:.1f}x |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=11, help="timed repeats per case (default 11)")
    parser.add_argument("--quick", action="store_true", help="3 repeats per case")
    parser.add_argument("--markdown", help="also write the markdown table here")
    args = parser.parse_args(argv)
    if args.worker:
        serve(args.worker)
        return 0
    if args.quick:
        args.repeats = 3
    import importlib.util

    have_torch = importlib.util.find_spec("torch") is not None
    if not have_torch:
        print("torch is not installed: timing rnnkit only", file=sys.stderr)
    samples, meta = collect(args.repeats, have_torch)
    text = markdown(samples, meta, args.repeats)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
