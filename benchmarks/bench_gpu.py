"""GPU benchmark: chainrule's mean gradient on PyTorch tensors, float32, against PyTorch autograd.

A sigmoid network with the article's ``squared_error`` loss, its parameters and data on one
device (``net.to(torch.zeros(1, device=...))``), and these contenders, each computing the mean
gradient of every weight and bias:

* ``chainrule``: the public ``cr.gradients(net, X, Y, "squared_error")`` (input validation, the
  ``Gradients`` result, its float cost included),
* ``article``: ``chainrule.article.gradients`` called directly on the tensors (the same
  computation without the public call's checks),
* ``article compile``: that step in ``torch.compile`` (default mode),
* ``article graph`` (CUDA only): that step, eager, captured once in a CUDA graph
  (``torch.cuda.CUDAGraph`` on static input tensors) and replayed,
* ``article compile+graph`` (CUDA only): ``torch.compile(mode="reduce-overhead")``, which
  captures the compiled step in CUDA graphs,

against PyTorch: the same network as ``nn.Sequential`` of ``nn.Linear`` and ``nn.Sigmoid``, the
loss ``((a - y)^2).sum(1).mean()`` and ``backward()``:

* ``torch eager``: eager autograd,
* ``torch compile``: the forward pass and loss in ``torch.compile`` (AOTAutograd compiles the
  backward pass too), then ``backward()``,
* ``torch compile+graph`` (CUDA only): the same with ``mode="reduce-overhead"``.

Every contender's gradients are first checked against eager autograd's (rtol 1e-4, float32):
only contenders that compute the same numbers are timed. Each contender runs as one block of
rounds (never alternating call by call) after a short pause; its warm-up (building it, capturing
a graph, the first call, which compiles) is timed on its own, reported, and excluded. Each round
calls the contender enough times to last ``min_time / rounds`` between two
``torch.cuda.synchronize()``: the calls queue on the GPU as a training loop's would, and the
time per gradient is the round's time over its calls. Reported: the median time with the
min-max spread of the rounds, throughput in gradients and samples per second, and the ratio of
throughputs chainrule / peer (above 1: chainrule is faster). A contender that fails (a compiler
that is missing, a device error) prints ``ERROR`` and the run goes on.

Cases: tiny 2-3-2 (batch 1), mnist-like 784-128-64-10 (batch 256), wide 1024-1024-1024-10 (batch
512) and mnist-like at batch 8192. Aims: ``chainrule`` at least 0.9x ``torch eager``'s throughput
on mnist-like and wide; a captured chainrule step faster than ``torch eager`` on tiny.

Run (from the repository root, on a machine with a CUDA GPU; unset the OpenBLAS overrides this
machine may set):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_gpu.py --json gpu.json

Without CUDA it runs on the CPU as a smoke run (and says so): ``--device cpu --cases tiny
--no-compile --rounds 3`` checks the script in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from bench_engine import Timing as RoundTimes  # the same rounds, median and spread as the CPU benchmark

import chainrule as cr
from chainrule import article
from chainrule.losses import get_loss

CASES = {
    "tiny": ([2, 3, 2], 1),
    "mnist-like": ([784, 128, 64, 10], 256),
    "wide": ([1024, 1024, 1024, 10], 512),
    "mnist-8192": ([784, 128, 64, 10], 8192),
}
PAUSE = 0.2  # seconds of sleep before each block
RTOL = 1e-4  # float32 gradients against eager autograd's; atol is RTOL times the largest |entry|
PEERS = ("torch eager", "torch compile", "torch compile+graph")
# dynamo traces array_api_compat's lru_cache'd helpers and warns once about each: noise here
warnings.filterwarnings("ignore", message=".*lru_cache.*")


@dataclass(frozen=True)
class Timing(RoundTimes):
    """Seconds per gradient in each round of one contender's block (median, spread: bench_engine's),
    and its warm-up's seconds."""

    warmup: float = 0.0


@dataclass(frozen=True)
class Clock:
    """Times one contender as one block: ``rounds`` rounds in a row, each of enough calls to last
    ``min_time / rounds``, each between two ``sync()`` (``torch.cuda.synchronize`` on CUDA)."""

    sync: Callable[[], None]
    rounds: int = 7
    min_time: float = 0.4

    def calls(self, fn: Callable[[], object], number: int) -> float:
        """Seconds for ``number`` calls of ``fn``, from an idle device to an idle device."""
        self.sync()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        self.sync()
        return time.perf_counter() - start

    def block(self, fn: Callable[[], object], warmup: float) -> Timing:
        """After a pause, two more warm calls (a graph-capturing compiler records on them), calls
        that size the rounds, then all the rounds of ``fn`` in a row and nothing else."""
        time.sleep(PAUSE)
        self.calls(fn, 2)
        number = 1
        while (spent := self.calls(fn, number)) < 0.02 and number < 1 << 16:
            number *= 4
        number = max(1, int(self.min_time / self.rounds / (spent / number)))
        return Timing(tuple(self.calls(fn, number) / number for _ in range(self.rounds)), warmup=warmup)


def problem(torch, sizes: list[int], batch: int, device: str):
    """A seeded float32 sigmoid network on ``device`` (chainrule's), its data, and the same
    network as ``nn.Sequential`` (``nn.Linear``'s weight is ``W^(l)``, shape ``(n_l, n_{l-1})``)."""
    rng = np.random.default_rng(0)
    net = cr.Network(sizes, activation="sigmoid", dtype=np.float32, seed=0).to(torch.zeros(1, device=device))
    X = torch.tensor(rng.normal(size=(batch, sizes[0])).astype(np.float32), device=device)
    Y = torch.tensor(rng.uniform(size=(batch, sizes[-1])).astype(np.float32), device=device)
    layers = []
    for W, b in zip(net.W, net.b):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], device=device)
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(b)
        layers += [linear, torch.nn.Sigmoid()]
    return net, X, Y, torch.nn.Sequential(*layers)


def article_step(net, X, Y):
    """chainrule's algorithm on the tensors with no checks: ``(dW, db)``, lists in layer order."""
    Ws, bs, gs, loss = net.W.to_list(), net.b.to_list(), net.g.to_list(), get_loss("squared_error")

    def step():
        g = article.gradients(Ws, bs, gs, X, Y, loss)
        return g.dW, g.db

    return step


def cuda_graph(torch, step):
    """``step`` (on static tensors) captured in a CUDA graph after warm-up calls on a side stream,
    as ``torch.cuda.graphs`` asks; the returned function replays it and returns the graph's outputs."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = step()

    def replay():
        graph.replay()
        return out

    return replay


def torch_step(torch, model, X, Y, compile_mode: str | None):
    """One autograd gradient of ``model`` (eager, or its forward pass and loss in ``torch.compile``
    with ``compile_mode``): ``(dW, db)``, the parameters' ``.grad``, set afresh by each call."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]

    def cost(X, Y):
        return ((model(X) - Y) ** 2).sum(1).mean()

    if compile_mode is not None:
        cost = torch.compile(cost, mode=compile_mode)

    def step():
        for p in model.parameters():
            p.grad = None
        cost(X, Y).backward()
        return [m.weight.grad for m in linears], [m.bias.grad for m in linears]

    return step


def static(torch, *tensors):
    """``tensors``, marked as the same memory on every call, as a CUDA graph's static inputs are:
    ``mode="reduce-overhead"`` then replays on them instead of copying them into its own buffers
    first (it does that by itself for ``nn.Module`` parameters, the PyTorch peer's weights)."""
    for t in tensors:
        torch._dynamo.mark_static_address(t)
    return tensors


def contenders(torch, device: str, compile_: bool) -> dict[str, Callable]:
    """Name -> builder ``(net, X, Y, model) -> step``; each step returns ``(dW, db)`` in layer order."""

    def public(net, X, Y, model):
        def step():
            g = cr.gradients(net, X, Y, "squared_error")
            return g.dW.to_list(), g.db.to_list()

        return step

    built: dict[str, Callable] = {
        "chainrule": public,
        "article": lambda net, X, Y, model: article_step(net, X, Y),
    }
    cuda = device.startswith("cuda")
    if compile_:
        built["article compile"] = lambda net, X, Y, model: torch.compile(article_step(net, X, Y))
    if cuda:
        built["article graph"] = lambda net, X, Y, model: cuda_graph(torch, article_step(net, X, Y))
    if cuda and compile_:
        built["article compile+graph"] = lambda net, X, Y, model: torch.compile(
            article_step(net, *static(torch, X, Y, *net.W, *net.b)[:2]), mode="reduce-overhead"
        )
    built["torch eager"] = lambda net, X, Y, model: torch_step(torch, model, X, Y, None)
    if compile_:
        built["torch compile"] = lambda net, X, Y, model: torch_step(torch, model, X, Y, "default")
    if cuda and compile_:
        built["torch compile+graph"] = lambda net, X, Y, model: torch_step(
            torch, model, *static(torch, X, Y), "reduce-overhead"
        )
    return built


def check_same(torch, ours, ref, device: str) -> None:
    """Timings count only for contenders that compute autograd's numbers, on the data's device."""
    for kind, mine, theirs in (("dW", ours[0], ref[0]), ("db", ours[1], ref[1])):
        if len(mine) != len(theirs):
            raise AssertionError(f"{len(mine)} {kind} for {len(theirs)} layers")
        for l, (m, t) in enumerate(zip(mine, theirs), start=1):
            if m.device != t.device:
                raise AssertionError(f"{kind}[{l}] is on {m.device}, the data on {t.device} ({device})")
            atol = RTOL * float(t.abs().max()) + 1e-12
            torch.testing.assert_close(m, t, rtol=RTOL, atol=atol, msg=lambda s, k=kind, l=l: f"{k}[{l}]: {s}")


def error_text(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def time_case(torch, clock: Clock, device: str, name: str, compile_: bool) -> dict[str, Timing | str]:
    """Every contender on one case, each checked against eager autograd, then timed as one block;
    a contender that fails gives its error text instead of a timing."""
    sizes, batch = CASES[name]
    net, X, Y, model = problem(torch, sizes, batch, device)
    ref = torch_step(torch, model, X, Y, None)()
    ref = [g.clone() for g in ref[0]], [g.clone() for g in ref[1]]
    results: dict[str, Timing | str] = {}
    for label, build in contenders(torch, device, compile_).items():
        if "compile" in label:
            torch._dynamo.reset()  # each compiled contender compiles afresh: its warm-up is its own
        try:
            clock.sync()
            start = time.perf_counter()
            step = build(net, X, Y, model)
            out = step()
            clock.sync()
            warmup = time.perf_counter() - start
            check_same(torch, out, ref, device)
            del out
            results[label] = clock.block(step, warmup)
        except Exception as exc:  # a compiler missing, a device error: say so, go on
            results[label] = error_text(exc)
            print(f"ERROR: {name} {label}: {results[label]}")
    return results


def aims(rows: dict[str, dict[str, Timing | str]]) -> list[tuple[str, float | None, bool | None]]:
    """The issue's aims, each as (text, ratio of throughputs, met), for the cases that ran."""

    def ratio(case: str, ours: str, peer: str) -> float | None:
        t = rows.get(case, {})
        a, b = t.get(ours), t.get(peer)
        return b.median / a.median if isinstance(a, Timing) and isinstance(b, Timing) else None

    out = []
    for case in ("mnist-like", "wide"):
        if case in rows:
            r = ratio(case, "chainrule", "torch eager")
            out.append((f"{case}: chainrule >= 0.9x torch eager", r, None if r is None else r >= 0.9))
    if "tiny" in rows:
        captured = [c for c in ("article graph", "article compile+graph", "article compile") if c in rows["tiny"]]
        best = [(r, c) for c in captured if (r := ratio("tiny", c, "torch eager")) is not None]
        r, c = max(best) if best else (None, "a captured step")
        out.append((f"tiny: {c} faster than torch eager", r, None if r is None else r > 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda if available, else cpu (a smoke run)")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per contender and case (default 7)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile contenders")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: PyTorch sees no CUDA device here")
    if device == "cpu":
        print("no CUDA device: a smoke run on the CPU (the timings say nothing about a GPU)")
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        sync, where = (lambda: None), platform.processor() or platform.machine()
    else:
        sync, where = torch.cuda.synchronize, torch.cuda.get_device_name()
    clock = Clock(sync, args.rounds, min_time=args.rounds * 0.4 / 7)
    rows = {name: time_case(torch, clock, device, name, not args.no_compile) for name in args.cases}

    print(
        f"torch {torch.__version__} on {device} ({where}), float32, TF32 matmul "
        f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}"
    )
    print(
        f"us per gradient: median (min-max) of {args.rounds} rounds, synchronized around each round; "
        f"each contender's rounds in one block, {PAUSE} s pause before each; warm-up (build, capture, "
        "first call) timed apart"
    )
    print("ratio: throughput chainrule / peer (above 1: chainrule faster)")
    header = f"{'case':<12}{'contender':<23}{'warm-up s':>10}{'us per gradient':>32}{'grad/s':>11}{'samples/s':>12}"
    print(header + "".join(f"{'/ ' + p.removeprefix('torch '):>18}" for p in PEERS))
    result_rows = []
    for name, results in rows.items():
        sizes, batch = CASES[name]
        for label, t in results.items():
            row = {"case": name, "sizes": sizes, "batch": batch, "contender": label}
            if isinstance(t, str):
                row["error"] = t
                print(f"{name:<12}{label:<23}ERROR {t}")
            else:
                ratios = {
                    p: results[p].median / t.median
                    for p in PEERS
                    if not label.startswith("torch") and isinstance(results.get(p), Timing)
                }
                row.update(
                    warmup_s=t.warmup,
                    us=t.median * 1e6,
                    us_range=[t.low * 1e6, t.high * 1e6],
                    gradients_per_s=1 / t.median,
                    samples_per_s=batch / t.median,
                    ratio=ratios,
                )
                shown = "".join(f"{ratios[p]:>18.2f}" if p in ratios else " " * 18 for p in PEERS)
                print(
                    f"{name:<12}{label:<23}{t.warmup:>10.3f}{t.us_text():>32}{1 / t.median:>11.0f}"
                    f"{batch / t.median:>12.3g}{shown}"
                )
            result_rows.append(row)
    goals = aims(rows)
    for text, r, met in goals:
        verdict = "n/a (a contender did not run)" if met is None else f"{r:.2f}x {'PASS' if met else 'FAIL'}"
        print(f"aim {text}: {verdict}{' (smoke run: the aims are for CUDA)' if device == 'cpu' else ''}")
    if args.json:
        result = {
            "machine": {
                "device": device,
                "name": where,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "numpy": np.__version__,
                "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            },
            "dtype": "float32",
            "rounds": args.rounds,
            "pause_s": PAUSE,
            "rtol": RTOL,
            "rows": result_rows,
            "aims": [{"aim": text, "ratio": r, "met": met} for text, r, met in goals],
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
