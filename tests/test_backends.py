"""The compiled kernel and the NumPy path compute the same gradients, and each backend runs where it says."""

from __future__ import annotations

import contextvars
import sys
import weakref

import numpy as np
import pytest
from conftest import PATHS, computational_path
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.activations import Sigmoid
from chainrule.data import load_dataset
from chainrule.engine import backend as _backend

HIDDEN = ["identity", "sigmoid", "tanh", "relu", {"name": "leaky_relu", "alpha": 0.2}, "softplus", "softmax"]
OUTPUT_LOSS = [
    ("sigmoid", "squared_error"),
    ("identity", "mse"),
    ("tanh", "squared_error"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
    ("softplus", "mse"),
    ("identity", "half_mse"),
]


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 12), min_size=depth + 1, max_size=depth + 1))
    out, loss = draw(st.sampled_from(OUTPUT_LOSS))
    hidden = [draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1)]
    for l, g in enumerate([*hidden, out], start=1):
        if g == "softmax":  # one softmax node is the constant 1, which Network refuses
            sizes[l] = max(sizes[l], 2)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    net = cr.Network(sizes, [*hidden, out], bias=draw(st.booleans()), dtype=dtype, seed=draw(st.integers(0, 99)))
    n = draw(st.integers(1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 99)))
    X = rng.normal(size=(n, sizes[0])) * 2
    if loss == "cross_entropy":
        Y = rng.integers(0, sizes[-1], size=n)
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(size=(n, sizes[-1]))
    else:
        Y = rng.normal(size=(n, sizes[-1]))
    w = rng.uniform(0.1, 2, size=n) if draw(st.booleans()) else None
    return net, X, Y, loss, w


def _arrays(g: cr.Gradients) -> list[np.ndarray]:
    out = [np.array(g.C), g.C0, *g.dW, *g.dC0_da, *g.delta, *g.trace.a, *g.trace.z]
    return out + (list(g.db) if g.db is not None else [])


@settings(max_examples=150)
@given(problems())
def test_compiled_paths_equal_numpy(problem):
    net, X, Y, loss, w = problem
    with computational_path("numpy"):
        ref = cr.gradients(net, X, Y, loss, sample_weight=w)
    with computational_path("numba"):
        whole = cr.gradients(net, X, Y, loss, sample_weight=w)
    with computational_path("hybrid"):
        hybrid = cr.gradients(net, X, Y, loss, sample_weight=w)
    assert whole._make is not None and ref._make is None  # the kernel's result, the NumPy path's
    rtol, atol = (1e-10, 1e-12) if net.dtype == np.float64 else (2e-4, 2e-5)
    for got in (whole, hybrid):
        assert type(got.C) is float
        for a, b in zip(_arrays(got), _arrays(ref), strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_numba_backend_runs_the_kernel_for_every_built_in_activation_and_loss(monkeypatch):
    calls = []
    real = _backend._kernels

    class Spy:
        def mean_gradient(self, *args):
            calls.append(args[6])  # the loss code
            return real.mean_gradient(*args)

    monkeypatch.setattr(_backend, "_kernels", Spy())
    with cr.backend("numba"):
        for hidden in HIDDEN:
            for out, loss in OUTPUT_LOSS:
                net = cr.Network([3, 4, 2], [hidden, out], seed=0)
                cr.gradients(
                    net, np.ones((2, 3)), np.array([0, 1]) if loss == "cross_entropy" else np.full((2, 2), 0.5), loss
                )
    assert len(calls) == len(HIDDEN) * len(OUTPUT_LOSS)
    assert set(calls) == set(_backend.LOSS_CODES.values())


def test_auto_compiles_small_work_whole_and_leaves_large_products_to_numpy():
    loss = cr.get_loss("squared_error")
    small, large = cr.Network([4, 3, 2], seed=0), cr.Network([784, 128, 10], seed=0)
    with cr.backend("auto"):
        assert _backend.compiled_plan(small, loss, 32)[2] is True
        assert _backend.compiled_plan(large, loss, 256)[2] is False
    with cr.backend("numba"):
        assert _backend.compiled_plan(large, loss, 256)[2] is True
    with cr.backend("numpy"):
        assert _backend.compiled_plan(small, loss, 32) is None


def test_a_custom_activation_goes_to_numpy_and_is_still_right():
    class Steeper(Sigmoid):
        def g(self, z, out=None):
            return super().g(2 * z, out=out)

        def backward(self, z, a, dC0_da, out=None):
            return 2 * super().backward(z, a, dC0_da, out=out)

    net = cr.Network([2, 3, 1], [Steeper(), "identity"], seed=0)
    with cr.backend("numba"):
        assert _backend.compiled_plan(net, cr.get_loss("squared_error"), 1) is None
        g = cr.gradients(net, [[0.3, -0.2]], [[1.0]])
    assert g._make is None


def test_changing_an_activation_after_a_gradient_updates_the_plan():
    net = cr.Network([2, 3, 1], "sigmoid", seed=0)
    X, Y = np.array([[0.3, -0.2]]), np.array([[1.0]])
    with cr.backend("numba"):
        cr.gradients(net, X, Y)
        net.g[1] = cr.get_activation("tanh")
        got = cr.gradients(net, X, Y)
    with cr.backend("numpy"):
        ref = cr.gradients(net, X, Y)
    np.testing.assert_allclose(got.dW[1], ref.dW[1], rtol=1e-12)


@pytest.mark.parametrize("name", PATHS)
def test_non_finite_inputs_are_named_the_same_way_on_every_path(name):
    net = cr.Network([2, 3, 2], seed=0)
    X, Y = np.array([[0.5, -1.0], [1.0, 2.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    with computational_path(name):
        with pytest.raises(cr.ChainruleError, match=r"X contains nan .* row 1, column 0"):
            cr.gradients(net, np.array([[0.5, -1.0], [np.nan, 2.0]]), Y)
        with pytest.raises(cr.ChainruleError, match=r"Y contains inf .* row 0, column 1"):
            cr.gradients(net, X, np.array([[0.0, np.inf], [1.0, 0.0]]))
        net.W[2][1, 0] = np.nan
        with pytest.raises(cr.ChainruleError, match=r"W\[2\] \(layer 2\) contains nan \(NaN or inf\) at j 1, k 0"):
            cr.gradients(net, X, Y)


def test_training_takes_the_same_steps_on_every_path():
    X, y = load_dataset("iris")
    results = []
    for name in PATHS:
        net = cr.Network([4, 8, 3], "tanh", output_activation="softmax", seed=1)
        with computational_path(name):
            history = cr.fit(net, X, y, loss="cross_entropy", epochs=5, batch_size=16, optimizer=cr.SGD(0.1), seed=2)
        results.append((net._flat.copy(), history.loss))
    for weights, losses in results[1:]:
        np.testing.assert_allclose(weights, results[0][0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(losses, results[0][1], rtol=1e-9)


def test_the_compiled_exp_is_within_two_ulp_of_numpy():
    from chainrule.engine.kernels import exp

    x = np.concatenate([np.linspace(-745, 709.7, 20001), np.random.default_rng(0).normal(size=2000) * 30])
    got = np.array([exp(v) for v in x])
    ref = np.exp(x)
    normal = ref > np.finfo(np.float64).tiny
    assert np.all(np.abs(got[normal] - ref[normal]) <= 2 * np.spacing(ref[normal]))
    assert exp(-800.0) == 0.0 and np.isfinite(exp(800.0)) and np.isnan(exp(np.nan))


def test_the_compiled_float32_exp_is_within_two_ulp_of_the_rounded_exp():
    from chainrule.engine.kernels import exp32

    f32 = np.float32
    x = np.concatenate([np.linspace(-87, 88.7, 20001), np.random.default_rng(0).normal(size=2000) * 10]).astype(f32)
    got = np.array([exp32(v) for v in x], dtype=f32)  # float32 values, returned to Python as floats
    ref = np.exp(x.astype(np.float64)).astype(f32)  # the correctly rounded float32, but for double rounding
    normal = ref > np.finfo(f32).tiny
    assert np.all(np.abs(got[normal] - ref[normal]) <= 2 * np.spacing(ref[normal]))
    assert exp32(f32(-110)) == 0 and np.isfinite(exp32(f32(100))) and np.isnan(exp32(f32(np.nan)))


def test_backend_names_are_checked(monkeypatch):
    with pytest.raises(cr.ChainruleError, match="unknown backend 'gpu'; the backends are auto, numba, numpy"):
        cr.set_backend("gpu")
    monkeypatch.setattr(_backend, "_kernels", None)
    monkeypatch.setattr(_backend, "_installed", False)
    with pytest.raises(cr.ChainruleError, match="needs numba: pip install numba"):
        cr.set_backend("numba")
    previous = cr.set_backend("numpy")
    assert cr.get_backend() == "numpy"
    cr.set_backend(previous)


@pytest.mark.parametrize(
    "error", [ImportError("Numba needs NumPy 2.3 or less"), RuntimeError("cannot cache function: no locator available")]
)
def test_kernels_that_fail_to_load_leave_numpy_with_a_warning(monkeypatch, error):
    import builtins

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise error
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(_backend, "_kernels", None)
    monkeypatch.setattr(_backend, "_installed", True)
    monkeypatch.setattr(_backend, "_default", ["auto"])  # the process default
    monkeypatch.delitem(sys.modules, "chainrule.engine.kernels", raising=False)  # so that it is imported again
    monkeypatch.delattr(cr.engine, "kernels", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.warns(RuntimeWarning, match=rf"kernels could not be loaded \({error}\); chainrule computes on NumPy"):
        g = cr.gradients(cr.Network([2, 3, 1], seed=0), [[0.5, -1.0]], [[1.0]])
    assert cr.get_backend() == "numpy" and g._make is None


def test_without_numba_everything_runs_on_numpy():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numba'] = None\n"  # import numba now fails, as when it is not installed
        "import numpy as np, chainrule as cr\n"
        "net = cr.Network([2, 3, 2], seed=0)\n"
        "g = cr.gradients(net, [[0.5, -1.0]], [[0.0, 1.0]])\n"
        "print(cr.get_backend(), g.dW[2].shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["numpy", "(2,", "3)"]


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_per_sample_results_reuse_memory_only_once_nothing_holds_them(monkeypatch, name):
    from chainrule import _memory

    monkeypatch.setattr(_memory, "REUSE_MIN", 1 << 16)  # the result below takes about 1 MB
    net = cr.Network([30, 20, 3], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 30)), rng.normal(size=(200, 3))
    with cr.backend(name):
        first = cr.gradients(net, X, Y, per_sample=True)
        kept = first.dW[1].copy()
        second = cr.gradients(net, X * 2, Y, per_sample=True)  # first is alive: fresh memory
        assert not np.shares_memory(first.dW[1], second.dW[1])
        np.testing.assert_array_equal(first.dW[1], kept)
        block = weakref.ref(second.dW[1].base)
        del second
        third = cr.gradients(net, X, Y, per_sample=True)  # second is gone: its block again
        assert block() is not None and third.dW[1].base is block()
        np.testing.assert_array_equal(third.dW[1], kept)
        cr.release_memory()
        assert not _memory._kept


def test_per_sample_gradients_leave_the_blas_threads_as_they_found_them():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [(i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]

    net = cr.Network([8, 6, 3], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(50, 8)), rng.normal(size=(50, 3))
    with cr.backend("numba"):
        cr.gradients(net, X, Y)  # the kernels' BLAS (SciPy's) is loaded by now
        before = blas_threads()
        cr.gradients(net, X, Y, per_sample=True)
    assert blas_threads() == before and len(before) >= 1


def test_without_threadpoolctl_per_sample_gradients_run_on_one_thread(monkeypatch):
    monkeypatch.setattr(_backend, "_blas", [None])  # as when threadpoolctl is not installed
    with cr.backend("numba"):
        outer, _ = _backend.compiled_outer_products()
        assert outer is _backend._kernels.outer_products
        net = cr.Network([5, 4, 2], seed=0)
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(7, 5)), rng.normal(size=(7, 2))
        got = cr.gradients(net, X, Y, per_sample=True)
    with cr.backend("numpy"):
        ref = cr.gradients(net, X, Y, per_sample=True)
    for a, b in zip(got.dW, ref.dW):
        np.testing.assert_array_equal(a, b)


def test_mean_results_reuse_their_workspace_only_once_nothing_holds_any_of_it():
    net = cr.Network([30, 20, 3], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 30)), rng.normal(size=(200, 3))
    with computational_path("hybrid"):
        ref = cr.gradients(net, X, Y).dW[1].copy()
        first = cr.gradients(net, X, Y)
        second = cr.gradients(net, X * 2, Y)
        assert not np.shares_memory(first.dW[1], second.dW[1])
        for keep in (lambda g: g.dW[1], lambda g: g.dW[1][3], lambda g: g.trace, lambda g: g.C0[:2]):
            kept = keep(second)  # an array of the result, a view of one, the trace, ...
            block = weakref.ref(second.dW[1].base)
            del second
            second = cr.gradients(net, X, Y)
            assert second.dW[1].base is not block()  # still held: not written over
            del kept
        np.testing.assert_array_equal(first.dW[1], ref)
        block = weakref.ref(second.dW[1].base)
        del second
        third = cr.gradients(net, X, Y)  # nothing holds the previous one: its workspace again
        assert block() is not None and third.dW[1].base is block()
        np.testing.assert_array_equal(third.dW[1], ref)


@pytest.mark.parametrize("name", ["numpy", "hybrid"])
def test_a_loop_that_holds_the_previous_result_reuses_the_one_before(name):
    net = cr.Network([30, 20, 3], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 30)), rng.normal(size=(200, 3))
    with computational_path(name):
        expected = [cr.gradients(net, X * (1 + i % 2), Y).dW[1].copy() for i in range(2)]
        blocks = []
        g = cr.gradients(net, X, Y)
        for i in range(6):
            g = cr.gradients(net, X * (1 + i % 2), Y)  # the previous g is alive while this one is computed
            np.testing.assert_array_equal(g.dW[1], expected[i % 2])
            blocks.append(weakref.ref(g.dW[1].base))
    assert all(b() is not None for b in blocks) and len({id(b()) for b in blocks}) == 2  # two, taking turns


@pytest.mark.parametrize("name", PATHS)
def test_threads_computing_gradients_at_once_never_share_a_result(name):
    from concurrent.futures import ThreadPoolExecutor

    net = cr.Network([30, 20, 3], seed=0)
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(200, 3))
    inputs = [rng.normal(size=(200, 30)) for _ in range(2)]
    with computational_path(name):
        expected = [cr.gradients(net, X, Y).dW[1].copy() for X in inputs]

        def work(i):  # each result checked, then dropped, so that its memory may be reused
            return all(np.array_equal(cr.gradients(net, inputs[i], Y).dW[1], expected[i]) for _ in range(100))

        # the backend is context-local: a worker runs in a copy of this context to compute on its path
        context = contextvars.copy_context()
        with ThreadPoolExecutor(2) as pool:
            assert all(pool.map(lambda i: context.copy().run(work, i), [0, 1, 0, 1]))


def test_release_memory_lets_the_kept_memory_go():
    from chainrule import _memory

    net = cr.Network([30, 20, 3], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(500, 30)), rng.normal(size=(500, 3))
    with computational_path("hybrid"):
        cr.gradients(net, X, Y)
        cr.gradients(net, X, Y, per_sample=True)
    assert _memory.kept_workspaces and _memory._kept
    cr.release_memory()
    assert not _memory.kept_workspaces and not _memory._kept


@pytest.mark.parametrize("name", PATHS)
def test_results_pickle_and_copy_on_every_path(name):
    import copy
    import pickle

    net = cr.Network([4, 3, 2], seed=0)
    X, Y = np.random.default_rng(0).normal(size=(5, 4)), np.array([0, 1, 1, 0, 1])
    with computational_path(name):
        g = cr.gradients(net, X, Y)
    for h in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g), copy.copy(g)):
        assert h.C == g.C and h.loss == g.loss and not h.per_sample
        for a, b in zip(_arrays(h), _arrays(g), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(AttributeError, match="read-only"):
        g.C = 0.0
