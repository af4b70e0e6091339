"""Random networks (depth 1-4, widths 1-20) against autograd in float64, to 1e-10 relative.

Two independent oracles: JAX (``jax.grad``/``jax.vmap``; the test extra installs it, CPU-only) and
PyTorch (``torch.autograd``; the ``oracle-torch`` extra, which ``.ci/run`` installs). A test whose
oracle is not installed is skipped, and says so in pytest's summary.
"""

import numpy as np
import pytest
from conftest import assert_close_rel, jax_gradients, torch_gradients
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr

ACTS = sorted(cr.ACTIVATIONS)


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4))
    loss = draw(st.sampled_from(sorted(cr.LOSSES)))
    sizes = [draw(st.integers(1, 20)) for _ in range(depth + 1)]
    hidden = [draw(st.sampled_from(ACTS)) for _ in range(depth - 1)]
    # e^(e^(e^z)) leaves float64 for inputs of a few units: one exp among the hidden layers at most
    first_exp = hidden.index("exp") if "exp" in hidden else len(hidden)
    hidden = [g if g != "exp" or l == first_exp else "tanh" for l, g in enumerate(hidden)]
    # a softmax layer needs 2 nodes or more
    for l, g in enumerate(hidden, start=1):
        if g == "softmax":
            sizes[l] = max(sizes[l], 2)
    if loss == "cross_entropy":
        out = "softmax"
        sizes[-1] = max(sizes[-1], 2)
    elif loss == "binary_cross_entropy":
        out = "sigmoid"
    elif loss == "poisson":
        out = "exp"
    else:
        out = draw(st.sampled_from(ACTS))
        if out == "softmax":
            sizes[-1] = max(sizes[-1], 2)
    bias = draw(st.booleans())
    n = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    return sizes, hidden + [out], loss, bias, n, seed


def _build(sizes, acts, loss, bias, n, seed):
    rng = np.random.default_rng(seed)
    net = cr.Network(sizes, activation=acts, bias=bias, seed=rng)
    # an exp layer's a reach tens: the next layer gets smaller weights, or a saturating g' there
    # (tanh's 1 - a^2 at a ~ 1) loses its digits and the two oracles disagree with each other at 1e-10
    for l in range(2, net.L + 1):
        if acts[l - 2] == "exp":
            net.W[l] = net.W[l] / 10
    if bias:
        for l in range(1, net.L + 1):
            net.b[l] = rng.normal(scale=0.3, size=sizes[l])
    X = rng.uniform(-2, 2, size=(n, sizes[0]))
    n_L = sizes[-1]
    if loss == "cross_entropy":
        Y = np.eye(n_L)[rng.integers(0, n_L, size=n)]
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(size=(n, n_L))
    elif loss == "poisson":  # counts, zeros among them
        Y = rng.poisson(1.0, size=(n, n_L)).astype(float)
    else:
        Y = rng.normal(size=(n, n_L))
    return net, X, Y


def _compare(ours, theirs, rtol, what):
    assert_close_rel(ours, theirs, rtol, what, atol=1e-300)


@pytest.mark.slow
@pytest.mark.usefixtures("each_backend")  # on each computational path
@given(problems())
def test_mean_gradients_match_torch(problem):
    pytest.importorskip("torch")
    _check_mean(torch_gradients, problem)


@pytest.mark.slow
@pytest.mark.usefixtures("each_backend")
@given(problems())
def test_per_sample_gradients_match_torch(problem):
    pytest.importorskip("torch")
    _check_per_sample(torch_gradients, problem)


# JAX compiles each operation for every new shape (0.3-2 s an example), so it sees fewer generated
# networks, on the default path; the paths are held equal to each other by test_backends.py.
@pytest.mark.slow
@settings(max_examples=15)
@given(problems())
def test_mean_gradients_match_jax(problem):
    pytest.importorskip("jax")
    _check_mean(jax_gradients, problem)


@pytest.mark.slow
@settings(max_examples=6)
@given(problems())
def test_per_sample_gradients_match_jax(problem):
    pytest.importorskip("jax")
    _check_per_sample(jax_gradients, problem)


def _check_mean(grads_of, problem):
    sizes, acts, loss, bias, n, seed = problem
    net, X, Y = _build(*problem)
    tW, tb = grads_of(net, X, Y, loss)
    for fused in (True, False):
        g = cr.gradients(net, X, Y, loss=loss, fused=fused)
        for l in range(1, net.L + 1):
            _compare(g.dW[l], tW[l - 1], 1e-10, f"dW[{l}] fused={fused}")
            if bias:
                _compare(g.db[l], tb[l - 1], 1e-10, f"db[{l}] fused={fused}")


def _check_per_sample(grads_of, problem):
    sizes, acts, loss, bias, n, seed = problem
    net, X, Y = _build(*problem)
    tW, tb = grads_of(net, X, Y, loss, per_sample=True)
    g = cr.gradients(net, X, Y, loss=loss, per_sample=True)
    for l in range(1, net.L + 1):
        assert g.dW[l].shape == (n, sizes[l], sizes[l - 1])
        _compare(g.dW[l], tW[l - 1], 1e-10, f"dW[{l}]")
        if bias:
            assert g.db[l].shape == (n, sizes[l])
            _compare(g.db[l], tb[l - 1], 1e-10, f"db[{l}]")
    # and their mean is the mean gradient
    mean = cr.gradients(net, X, Y, loss=loss)
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(g.mean().dW[l], mean.dW[l], rtol=1e-12, atol=1e-15)
