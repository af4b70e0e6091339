"""The article's algorithm (chainrule.article) on every array library it is written for: NumPy,
array-api-strict and PyTorch (CPU here; the same code runs on CUDA tensors), float64 and float32,
against chainrule's engine (the compiled and NumPy paths), for every activation and loss."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Cube
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import article
from chainrule.errors import ChainruleError

strict = pytest.importorskip("array_api_strict")

OUTPUT_FOR_LOSS = {
    "squared_error": ["sigmoid", "identity", "tanh", "softmax"],
    "mse": ["identity", "softplus"],
    "half_mse": ["identity"],
    "cross_entropy": ["softmax"],
    "binary_cross_entropy": ["sigmoid"],
    "poisson": ["exp"],
}
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax"]


def _namespaces():
    yield "numpy", lambda a, dt: np.asarray(a, dtype=dt), lambda r: isinstance(r, (np.ndarray, np.generic)), np.asarray
    yield (
        "array_api_strict",
        lambda a, dt: strict.asarray(np.asarray(a, dtype=dt)),
        lambda r: type(r).__module__.startswith("array_api_strict"),
        lambda r: np.asarray(r),  # noqa: PLW0108 - array-api-strict's __array__
    )
    torch = pytest.importorskip("torch")
    yield (
        "torch",
        lambda a, dt: torch.tensor(np.asarray(a, dtype=dt)),
        lambda r: isinstance(r, torch.Tensor),
        lambda r: r.detach().cpu().numpy(),
    )


NAMESPACES = list(_namespaces())


def _targets(loss, out_act, n, m, rng):
    if loss == "cross_entropy" or out_act == "softmax":
        return np.eye(m)[rng.integers(0, m, n)]
    if loss in ("binary_cross_entropy",):
        return rng.integers(0, 2, (n, m)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, (n, m)).astype(float)
    return rng.normal(size=(n, m))


@settings(max_examples=40, deadline=None)
@given(
    loss=st.sampled_from(sorted(OUTPUT_FOR_LOSS)),
    hidden=st.sampled_from(HIDDEN),
    data=st.data(),
    depth=st.integers(1, 3),
    bias=st.booleans(),
    weighted=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_namespace_gives_the_engines_gradients(loss, hidden, data, depth, bias, weighted, seed):
    out = data.draw(st.sampled_from(OUTPUT_FOR_LOSS[loss]))
    rng = np.random.default_rng(seed)
    m = 3 if out == "softmax" else int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 5))] + [int(rng.integers(2, 6)) for _ in range(depth)] + [m]
    net = cr.Network(sizes, activation=hidden, output_activation=out, bias=bias, seed=seed)
    n = int(rng.integers(1, 7))
    X, Y = rng.normal(size=(n, sizes[0])), _targets(loss, out, n, m, rng)
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    ref = cr.gradients(net, X, Y, loss, sample_weight=w)
    for name, make, owns, back in NAMESPACES:
        for dtype, rtol in ((np.float64, 1e-10), (np.float32, 2e-3)):
            Ws = [make(W, dtype) for W in net.W]
            bs = None if net.b is None else [make(b, dtype) for b in net.b]
            g = article.gradients(
                Ws, bs, list(net.g), make(X, dtype), make(Y, dtype), loss, None if w is None else make(w, dtype)
            )
            assert owns(g.C) and all(owns(d) for d in g.dW), name
            scale = max(1.0, max(float(np.abs(d).max()) for d in ref.dW))
            for l in range(1, net.L + 1):
                np.testing.assert_allclose(back(g.dW[l - 1]), ref.dW[l], rtol=rtol, atol=rtol * scale, err_msg=name)
                if bias:
                    np.testing.assert_allclose(back(g.db[l - 1]), ref.db[l], rtol=rtol, atol=rtol * scale)
            assert float(back(g.C)) == pytest.approx(ref.C, rel=rtol, abs=rtol)


def test_the_article_example_on_torch_keeps_tensors_and_matches_autograd():
    torch = pytest.importorskip("torch")
    from chainrule.data import article_example

    net, x, y = article_example()
    Ws = [torch.tensor(W, requires_grad=True) for W in net.W]
    X, Y = torch.tensor(x), torch.tensor(y)
    g = article.gradients([W.detach() for W in Ws], None, list(net.g), X, Y)
    a = X
    for W in Ws:
        a = torch.sigmoid(a @ W.T)
    ((a - Y) ** 2).sum(dim=1).mean().backward()
    for ours, W in zip(g.dW, Ws):
        assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float64
        torch.testing.assert_close(ours, W.grad, rtol=1e-12, atol=1e-15)


def test_mixed_libraries_are_a_clear_error():
    torch = pytest.importorskip("torch")
    net = cr.Network([2, 3, 1], seed=0)
    with pytest.raises(ChainruleError, match="arrays of one array library"):
        article.gradients([torch.tensor(W) for W in net.W], None, list(net.g), np.ones((1, 2)), np.ones((1, 1)))


def test_a_numpy_only_custom_activation_works_on_numpy_and_says_so_elsewhere():
    net = cr.Network([2, 3, 1], activation=[Cube(), "identity"], seed=0)
    X, Y = np.ones((2, 2)), np.zeros((2, 1))
    g = article.gradients(list(net.W), list(net.b), list(net.g), X, Y)
    np.testing.assert_allclose(g.dW[0], cr.gradients(net, X, Y).dW[1], rtol=1e-12)
    with pytest.raises(ChainruleError, match="Cube computes on NumPy arrays only"):
        article.gradients([strict.asarray(W) for W in net.W], None, list(net.g), strict.asarray(X), strict.asarray(Y))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("per_sample", [False, True])
def test_every_array_the_article_makes_is_on_the_inputs_device(weighted, per_sample):
    """PyTorch's 'meta' device holds shapes without values: any array made without the inputs'
    device (which would land on the CPU, and break CUDA) shows up here on a machine without a GPU."""
    torch = pytest.importorskip("torch")
    net = cr.Network([3, 4, 2], activation="tanh", output_activation="softmax", seed=0)
    meta = {"device": "meta", "dtype": torch.float64}
    Ws = [torch.empty(tuple(W.shape), **meta) for W in net.W]
    bs = [torch.empty(tuple(b.shape), **meta) for b in net.b]
    X, Y = torch.empty((5, 3), **meta), torch.empty((5, 2), **meta)
    w = torch.empty((5,), **meta) if weighted and not per_sample else None
    g = article.gradients(Ws, bs, list(net.g), X, Y, "cross_entropy", w, per_sample=per_sample)
    for t in [g.C, g.C0, *g.dW, *g.db, *g.z, *g.a, *g.delta]:
        assert t.device.type == "meta"


def test_a_librarys_own_sigmoid_is_the_formula():
    """PyTorch's namespace has a one-kernel sigmoid, which the article's sigmoid uses; it is the
    formula ``1 / (1 + e^-z)`` to an ulp or two, and both are 0 to within 1e-300 in the far left tail
    (where the formula's cap leaves ~1e-308)."""
    torch = pytest.importorskip("torch")
    from array_api_compat import array_namespace

    z = np.concatenate([np.linspace(-800, 800, 4001), [-1e300, 1e300, 0.0]])
    own = cr.activations.Sigmoid().g_xp(torch.tensor(z), array_namespace(torch.tensor(z)))
    formula = cr.activations.Sigmoid().g_xp(z, array_namespace(z))  # NumPy has none: the formula
    assert hasattr(array_namespace(torch.tensor(z)), "sigmoid") and not hasattr(array_namespace(z), "sigmoid")
    np.testing.assert_allclose(own.numpy(), formula, rtol=5e-16, atol=1e-300)
