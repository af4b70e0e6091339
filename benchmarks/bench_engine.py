"""Engine benchmark: the full mean gradient of a sigmoid network with squared_error.

Measures, in one run on the same data and dtype, the time of one gradient for

* ``chainrule.gradients`` (the public call, input validation included),
* a plain vectorised NumPy reference (written below, the textbook three lines per layer),
* PyTorch eager autograd (and ``torch.func.vmap(grad)`` per sample), JAX ``jit(grad)`` (and
  ``jit(vmap(grad))``), and micrograd for the tiny network, when installed, timed after the others,
  since importing torch or JAX changes how the C allocator behaves for the whole process,

and reports achieved GFLOP/s against this machine's matrix-multiply peak measured in the same run,
plus every ratio chainrule / peer. The flop are those of the matrix products a gradient actually
computes (see ``gradient_flop``): 2 b (3 sum_{l>=2} n_l n_{l-1} + 2 n_1 n_0) for batch b, since
the gradient with respect to the network's input, dC0/da^(0), is never computed.

Each contender's rounds run as one block (all of chainrule's, then all of NumPy's, ...), never
alternating call by call, with a short pause before each block: OpenBLAS's idle worker threads
spin on for a while after its last call and slow the next library's threads. Every time is the
median of the block's rounds, printed with their min-max spread.

Run (from the repository root; unset the OpenBLAS overrides this machine may set):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_engine.py [--json out.json]

and for a quick check ``--cases tiny small --no-per-sample --quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import chainrule as cr

CASES = {
    "tiny": ([2, 3, 2], 1),
    "small": ([64, 32, 10], 32),
    "mnist-like": ([784, 128, 64, 10], 256),
    "wide": ([1024, 1024, 1024, 10], 512),
    "deep": ([256] * 9 + [10], 256),  # 8 hidden layers of 256
}
PAUSE = 0.2  # seconds of sleep before each block: OpenBLAS's idle workers stop spinning by then


@dataclass(frozen=True)
class Timing:
    """Seconds per call in each round of one contender's block."""

    rounds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def low(self) -> float:
        return min(self.rounds)

    @property
    def high(self) -> float:
        return max(self.rounds)

    def us_text(self) -> str:
        """Microseconds: the median and the min-max spread."""
        return f"{self.median * 1e6:.1f} ({self.low * 1e6:.1f}-{self.high * 1e6:.1f})"


@dataclass(frozen=True)
class Clock:
    """Times one contender as one block: ``rounds`` rounds in a row, each of enough calls to last
    ``min_time / rounds``."""

    rounds: int = 7
    min_time: float = 0.4

    def block(self, fn: Callable[[], object]) -> Timing:
        """After a pause (the previous contender's BLAS workers go idle), one warm-up call, one
        call that sizes the rounds, then all the rounds of ``fn`` in a row and nothing else."""
        time.sleep(PAUSE)
        fn()
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        number = max(1, int(self.min_time / self.rounds / once))
        rounds = []
        for _ in range(self.rounds):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            rounds.append((time.perf_counter() - start) / number)
        return Timing(tuple(rounds))


def gradient_flop(sizes: list[int], batch: int) -> int:
    """Flop of the matrix products one mean gradient computes, for layer sizes n_0..n_L and batch b.

    Per layer l the forward z^(l) = a^(l-1) W^(l)T and dC/dW^(l) = delta^(l)T a^(l-1), 2 b n_l n_{l-1}
    flop each, and for l >= 2 only dC0/da^(l-1) = delta^(l) W^(l) (2 b n_l n_{l-1} more): the
    gradient with respect to the input, dC0/da^(0) = delta^(1) W^(1), is never computed. In all
    3L - 1 products and 2 b (3 sum_{l>=2} n_l n_{l-1} + 2 n_1 n_0) flop; the elementwise work
    (biases, activations, delta, bias sums, the 1/b) is not counted.
    """
    later = sum(sizes[l] * sizes[l - 1] for l in range(2, len(sizes)))
    return 2 * batch * (3 * later + 2 * sizes[1] * sizes[0])


def matmul_peak(dtype: np.dtype, clock: Clock, n: int = 1024) -> float:
    """GFLOP/s of an n x n x n matrix product (2 n^3 flop) in its fastest round: the machine's
    practical peak (the median moves with whatever else the machine is doing)."""
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(n, n)).astype(dtype), rng.normal(size=(n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    return 2 * n**3 / clock.block(lambda: np.matmul(A, B, out=C)).low / 1e9


def numpy_reference(Ws, bs, X, Y):
    """The textbook vectorised backprop for sigmoid layers and C0 = sum_j (a_j - y_j)^2, mean over rows."""
    a_s, a = [X], X
    for W, b in zip(Ws, bs):
        a = 1 / (1 + np.exp(-(a @ W.T + b)))
        a_s.append(a)
    n = X.shape[0]
    delta = 2 * (a - Y) * a * (1 - a)
    dWs, dbs = [], []
    for l in range(len(Ws) - 1, -1, -1):
        dWs.append(delta.T @ a_s[l] / n)
        dbs.append(delta.sum(axis=0) / n)
        if l:
            delta = (delta @ Ws[l]) * a_s[l] * (1 - a_s[l])
    return dWs[::-1], dbs[::-1]


def torch_step(torch, net, X, Y):
    """One eager autograd gradient of the same network, loss and mean; returns the weights' gradients."""
    Ws = [torch.tensor(W, requires_grad=True) for W in net.W]
    bs = [torch.tensor(b, requires_grad=True) for b in net.b]
    X, Y = torch.tensor(X), torch.tensor(Y)

    def run():
        for p in Ws + bs:
            p.grad = None
        a = X
        for W, b in zip(Ws, bs):
            a = torch.sigmoid(a @ W.T + b)
        C = ((a - Y) ** 2).sum() / X.shape[0]
        C.backward()
        return [W.grad for W in Ws]

    return run


def numpy_per_sample_reference(Ws, bs, X, Y):
    """Per-sample gradients the plain NumPy way: one backward pass, then outer products by einsum."""
    a_s, a = [X], X
    for W, b in zip(Ws, bs):
        a = 1 / (1 + np.exp(-(a @ W.T + b)))
        a_s.append(a)
    delta = 2 * (a - Y) * a * (1 - a)
    out = []
    for l in range(len(Ws) - 1, -1, -1):
        out.append(np.einsum("nj,nk->njk", delta, a_s[l]))
        if l:
            delta = (delta @ Ws[l]) * a_s[l] * (1 - a_s[l])
    return out[::-1]


def torch_func_per_sample(torch, net, X, Y):
    """Per-sample gradients with ``torch.func.vmap(grad(...))``: the weights' then the biases'."""
    from torch.func import grad, vmap

    L = net.L

    def C0(params, x, y):
        a = x[None]
        for W, b in zip(params[:L], params[L:]):
            a = torch.sigmoid(a @ W.T + b)
        return ((a - y[None]) ** 2).sum()

    params = tuple(torch.tensor(p) for p in [*net.W, *net.b])
    per_sample = vmap(grad(C0), in_dims=(None, 0, 0))
    X, Y = torch.tensor(X), torch.tensor(Y)
    return lambda: per_sample(params, X, Y)


def problem(sizes: list[int], batch: int, dtype: np.dtype):
    rng = np.random.default_rng(0)
    net = cr.Network(sizes, activation="sigmoid", dtype=dtype, seed=0)
    X = rng.normal(size=(batch, sizes[0])).astype(dtype)
    Y = rng.uniform(size=(batch, sizes[-1])).astype(dtype)
    return net, X, Y


def check_same(ours, ref, dtype) -> None:
    """Timings count only for implementations that compute the same numbers."""
    for l, r in enumerate(ref, start=1):
        np.testing.assert_allclose(ours[l], r, rtol=1e-3 if dtype == np.float32 else 1e-10, atol=1e-6)


def time_numpy_peers(clock: Clock, kind: str, sizes: list[int], batch: int, dtype: np.dtype) -> dict[str, Timing]:
    """chainrule and the NumPy reference, each as one block, timed before torch is imported (it
    changes how the C allocator behaves in the whole process)."""
    net, X, Y = problem(sizes, batch, dtype)
    Ws, bs = net.W.to_list(), net.b.to_list()
    if kind == "mean":
        check_same(cr.gradients(net, X, Y).dW, numpy_reference(Ws, bs, X, Y)[0], dtype)
        return {
            "chainrule": clock.block(lambda: cr.gradients(net, X, Y)),
            "numpy": clock.block(lambda: numpy_reference(Ws, bs, X, Y)),
        }
    check_same(cr.gradients(net, X, Y, per_sample=True).dW, numpy_per_sample_reference(Ws, bs, X, Y), dtype)
    kept: list = []

    def keeping():  # the caller keeps its last two results: every call needs fresh memory
        kept.append(cr.gradients(net, X, Y, per_sample=True))
        del kept[:-2]

    return {
        "chainrule": clock.block(lambda: cr.gradients(net, X, Y, per_sample=True)),
        "chainrule kept": clock.block(keeping),
        "numpy": clock.block(lambda: numpy_per_sample_reference(Ws, bs, X, Y)),
    }


def time_torch(clock: Clock, torch, kind: str, sizes: list[int], batch: int, dtype: np.dtype) -> dict[str, Timing]:
    """PyTorch eager autograd (``torch.func.vmap(grad)`` per sample), checked against chainrule first."""
    net, X, Y = problem(sizes, batch, dtype)
    if kind == "mean":
        fn = torch_step(torch, net, X, Y)
        check_same(cr.gradients(net, X, Y).dW, [g.numpy() for g in fn()], dtype)
        return {"pytorch": clock.block(fn)}
    fn = torch_func_per_sample(torch, net, X, Y)
    check_same(cr.gradients(net, X, Y, per_sample=True).dW, [g.numpy() for g in fn()[: net.L]], dtype)
    return {"torch.func": clock.block(fn)}


def time_products(clock: Clock, torch, sizes: list[int], batch: int, dtype: np.dtype) -> tuple[Timing, Timing]:
    """The matrix products of one mean gradient alone, the 3L - 1 that ``gradient_flop`` counts (L
    forward, L for dW, L - 1 for dC0/da^(1..L-1)), into preallocated outputs: NumPy's BLAS, then
    PyTorch's, each as one block. What is left of a gradient's time beyond these is everything
    else an implementation does."""
    net, X, _ = problem(sizes, batch, dtype)
    rng = np.random.default_rng(1)
    a = [X] + [rng.random((batch, m)).astype(dtype) for m in sizes[1:-1]]
    d = [rng.random((batch, m)).astype(dtype) for m in sizes[1:]]
    Ws = net.W.to_list()
    z, dW = [np.empty((batch, m), dtype) for m in sizes[1:]], [np.empty_like(W) for W in Ws]
    da = [np.empty((batch, m), dtype) for m in sizes[1:-1]]

    def products(mm, Ws, a, d, z, dW, da):
        for l in range(len(Ws)):
            mm(a[l], Ws[l].T, out=z[l])
            mm(d[l].T, a[l], out=dW[l])
            if l:
                mm(d[l], Ws[l], out=da[l - 1])

    counted: list[int] = []

    def counting(A, B, out):  # (m x k) @ (k x n): 2 m k n flop
        assert A.shape[1] == B.shape[0] and out.shape == (A.shape[0], B.shape[1])
        counted.append(2 * A.shape[0] * A.shape[1] * B.shape[1])

    arrays = (Ws, a, d, z, dW, da)
    products(counting, *arrays)
    if len(counted) != 3 * len(Ws) - 1 or sum(counted) != gradient_flop(sizes, batch):
        raise RuntimeError(f"{len(counted)} products of {sum(counted)} flop: not what gradient_flop counts")
    tensors = tuple([torch.from_numpy(x) for x in group] for group in arrays)
    return clock.block(lambda: products(np.matmul, *arrays)), clock.block(lambda: products(torch.matmul, *tensors))


def time_jax(clock: Clock, kind: str, sizes: list[int], batch: int, dtype: np.dtype) -> dict[str, Timing]:
    """JAX ``jit(grad)`` (``jit(vmap(grad))`` per sample), checked against chainrule before timing."""
    import jax

    jax.config.update("jax_enable_x64", True)
    net, X, Y = problem(sizes, batch, dtype)
    params = [(jax.numpy.asarray(W), jax.numpy.asarray(b)) for W, b in zip(net.W, net.b)]

    def C0_sum(params, X, Y):
        a = X
        for W, b in params:
            a = jax.nn.sigmoid(a @ W.T + b)
        return ((a - Y) ** 2).sum()

    Xj, Yj = jax.numpy.asarray(X), jax.numpy.asarray(Y)
    if kind == "mean":
        fn = jax.jit(jax.grad(lambda p, X, Y: C0_sum(p, X, Y) / X.shape[0]))
        check_same(cr.gradients(net, X, Y).dW, [np.asarray(g[0]) for g in fn(params, Xj, Yj)], dtype)
        name = "jax"
    else:
        fn = jax.jit(jax.vmap(jax.grad(lambda p, x, y: C0_sum(p, x[None], y[None])), in_axes=(None, 0, 0)))
        check_same(cr.gradients(net, X, Y, per_sample=True).dW, [np.asarray(g[0]) for g in fn(params, Xj, Yj)], dtype)
        name = "jax.vmap"
    return {name: clock.block(lambda: jax.block_until_ready(fn(params, Xj, Yj)))}


def time_micrograd(clock: Clock, sizes: list[int], dtype: np.dtype) -> dict[str, Timing]:
    """micrograd (scalar autograd in pure Python), one sample; it has no sigmoid, so the benchmark
    adds one op in micrograd's own style (the value and its local derivative side by side)."""
    import math

    from micrograd.engine import Value

    net, X, Y = problem(sizes, 1, dtype)

    def sigmoid(v):
        s = 1.0 / (1.0 + math.exp(-v.data))
        out = Value(s, (v,), "sigmoid")

        def _backward():
            v.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    Ws = [[[Value(float(w)) for w in row] for row in W] for W in net.W]
    bs = [[Value(float(v)) for v in b] for b in net.b]
    params = [p for layer in Ws for row in layer for p in row] + [p for b in bs for p in b]

    def run():
        for p in params:
            p.grad = 0.0
        a = [Value(float(v)) for v in X[0]]
        for W, b in zip(Ws, bs):
            a = [sigmoid(sum((w * x for w, x in zip(row, a)), bj)) for row, bj in zip(W, b)]
        C = sum((aj - float(yj)) ** 2 for aj, yj in zip(a, Y[0]))
        C.backward()

    run()
    check_same(cr.gradients(net, X, Y).dW, [np.array([[w.grad for w in row] for row in W]) for W in Ws], np.float64)
    return {"micrograd": clock.block(run)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--no-per-sample", action="store_true", help="skip the per-sample gradient rows")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch peers")
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX peers")
    parser.add_argument("--rounds", type=int, help="timed rounds per contender and row (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="3 short rounds per block, a shorter peak: a trial run")
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 7)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    clock = Clock(rounds, min_time=rounds * (0.05 if args.quick else 0.4 / 7))
    peak_clock = Clock(5, min_time=0.3) if args.quick else Clock(15, min_time=1.0)

    jobs = [("mean", name, *CASES[name], dt) for name in args.cases for dt in (np.float64, np.float32)]
    if not args.no_per_sample:
        jobs += [("per-sample", "mnist-like", *CASES["mnist-like"], dt) for dt in (np.float64, np.float32)]
    peak = {d: matmul_peak(np.dtype(d), peak_clock) for d in ("float64", "float32")}
    times = [time_numpy_peers(clock, kind, sizes, batch, dt) for kind, _, sizes, batch, dt in jobs]
    products: dict[tuple[str, str], tuple[Timing, Timing, int]] = {}
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: no PyTorch rows (pip install -e '.[bench]')")
        else:
            torch.set_num_threads(min(2, os.cpu_count() or 1))
            for t, (kind, name, sizes, batch, dt) in zip(times, jobs):
                t.update(time_torch(clock, torch, kind, sizes, batch, dt))
                if kind == "mean" and name in ("mnist-like", "wide", "deep"):
                    ours, theirs = time_products(clock, torch, sizes, batch, dt)
                    products[(name, np.dtype(dt).name)] = (ours, theirs, gradient_flop(sizes, batch))
    if not args.no_jax:
        try:
            import jax  # noqa: F401
        except ImportError:
            print("jax is not installed: no JAX rows (pip install -e '.[bench]')")
        else:
            for t, (kind, _, sizes, batch, dt) in zip(times, jobs):
                t.update(time_jax(clock, kind, sizes, batch, dt))
    try:
        import micrograd  # noqa: F401
    except ImportError:
        print("micrograd is not installed: no micrograd row (pip install -e '.[bench]')")
    else:
        for t, (kind, name, sizes, _, dt) in zip(times, jobs):
            if name == "tiny" and kind == "mean":
                t.update(time_micrograd(clock, sizes, dt))
    try:
        from threadpoolctl import threadpool_info

        blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
    except ImportError:
        blas = []

    print(f"matmul peak: float64 {peak['float64']:.1f} GFLOP/s, float32 {peak['float32']:.1f} GFLOP/s   BLAS {blas}")
    print(
        "flop per mean gradient: 2 b (3 sum_{l>=2} n_l n_{l-1} + 2 n_1 n_0), its 3L - 1 matrix products "
        "(dC0/da^(0), the input's gradient, is not computed)"
    )
    print(
        f"us per gradient: median (min-max) of {rounds} rounds; each contender's rounds in one block, "
        f"{PAUSE} s pause before each block"
    )
    print(
        f"{'case':<12}{'gradient':<17}{'dtype':<9}{'peer':<12}{'chainrule us':>30} {'peer us':>30}{'ratio':>7}"
        f"{'cr GFLOP/s':>12}{'% peak':>8}"
    )
    rows = []
    for t, (kind, name, sizes, batch, dt) in zip(times, jobs):
        dtype = np.dtype(dt).name
        flop = gradient_flop(sizes, batch)
        peers = {k: v for k, v in t.items() if not k.startswith("chainrule")}
        # "chainrule kept": the caller keeps its results, so each call needs fresh memory
        for ours, label in (("chainrule", kind), ("chainrule kept", f"{kind} kept")):
            if ours not in t:
                continue
            gflops = flop / t[ours].median / 1e9
            shown = {"chainrule": t[ours], **peers}
            row = {
                "case": name,
                "gradient": label,
                "sizes": sizes,
                "batch": batch,
                "dtype": dtype,
                "us": {k: v.median * 1e6 for k, v in shown.items()},
                "us_range": {k: [v.low * 1e6, v.high * 1e6] for k, v in shown.items()},
                "ratio": {k: t[ours].median / v.median for k, v in peers.items()},
                "flop": flop if kind == "mean" else None,
                "chainrule_gflops": gflops if kind == "mean" else None,
            }
            rows.append(row)
            for peer, ratio in row["ratio"].items():
                perf = f"{gflops:>12.1f}{100 * gflops / peak[dtype]:>7.0f}%" if kind == "mean" else ""
                print(
                    f"{name:<12}{label:<17}{dtype:<9}{peer:<12}{t[ours].us_text():>30}"
                    f" {peers[peer].us_text():>30}{ratio:>7.2f}{perf}"
                )
    if products:
        print("the 3L - 1 matrix products of one mean gradient alone, us: NumPy's BLAS, PyTorch's, ratio, GFLOP/s")
        for (name, dtype), (ours, theirs, flop) in products.items():
            print(
                f"{name:<12}{dtype:<9}{ours.us_text():>30} {theirs.us_text():>30}{ours.median / theirs.median:>7.2f}"
                f"{flop / ours.median / 1e9:>9.1f}{flop / theirs.median / 1e9:>9.1f}"
            )
    if args.json:
        result = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__},
            "blas": blas,
            "rounds": rounds,
            "pause_s": PAUSE,
            "matmul_peak_gflops": peak,
            "rows": rows,
            "products_us": [
                {
                    "case": name,
                    "dtype": dtype,
                    "flop": flop,
                    "numpy": ours.median * 1e6,
                    "pytorch": theirs.median * 1e6,
                    "numpy_range": [ours.low * 1e6, ours.high * 1e6],
                    "pytorch_range": [theirs.low * 1e6, theirs.high * 1e6],
                }
                for (name, dtype), (ours, theirs, flop) in products.items()
            ],
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
