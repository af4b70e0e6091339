"""Every activation x loss x bias/no-bias x output width against central finite differences.

The loss and its gradient are checked as a pair: the finite differences are taken of the cost
computed by plain formulas in conftest.py, so a loss whose gradient disagrees with its value by
a factor (the number of outputs, say) fails for the widths where the factor is not 1.
"""

import itertools
import zlib

import numpy as np
import pytest
from conftest import assert_close_rel, fd_gradients, ref_C0, ref_cost

import chainrule as cr

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on each computational path

# central differences with h = 1e-6 carry ~1e-10 of rounding noise
FD_RTOL, FD_ATOL = 1e-6, 1e-9
ACTS = sorted(cr.ACTIVATIONS)
OUTPUT_FOR_LOSS = {
    "squared_error": ACTS,
    "mse": ACTS,
    "half_mse": ["identity", "tanh"],
    "cross_entropy": ["softmax"],
    "binary_cross_entropy": ["sigmoid"],
    "poisson": ["exp"],
}
CASES = [
    (hidden, out, loss, bias, width)
    for loss, outs in OUTPUT_FOR_LOSS.items()
    for hidden, out, bias, width in itertools.product(ACTS, outs, (True, False), (1, 3))
    if not (out == "softmax" and width == 1)
] + [(h, "softmax", "cross_entropy", b, 2) for h in ACTS for b in (True, False)]


def _targets(loss: str, rng, n: int, width: int) -> np.ndarray:
    if loss == "cross_entropy":
        return np.eye(width)[rng.integers(0, width, size=n)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, width)).astype(float)
    if loss == "poisson":  # counts, zeros among them
        return rng.poisson(1.5, size=(n, width)).astype(float)
    return rng.normal(size=(n, width))


@pytest.mark.parametrize("hidden,out,loss,bias,width", CASES)
def test_gradients_match_finite_differences(hidden, out, loss, bias, width):
    seed = zlib.crc32(repr((hidden, out, loss, bias, width)).encode())
    rng = np.random.default_rng(seed)
    net = cr.Network([3, 4, width], activation=hidden, output_activation=out, bias=bias, seed=seed)
    if bias:  # non-zero biases, so their effect is tested too
        for l in (1, 2):
            net.b[l] = rng.normal(scale=0.5, size=net.sizes[l])
    X = rng.normal(size=(5, 3))
    Y = _targets(loss, rng, 5, width)
    g = cr.gradients(net, X, Y, loss=loss)
    fd_W, fd_b = fd_gradients(net, X, Y, loss)
    for l in (1, 2):
        assert_close_rel(g.dW[l], fd_W[l - 1], FD_RTOL, f"dW[{l}]", FD_ATOL)
        if bias:
            assert_close_rel(g.db[l], fd_b[l - 1], FD_RTOL, f"db[{l}]", FD_ATOL)
        else:
            assert g.db is None
    # the cost C is the plain-formula mean of C0
    ref = ref_cost(net.W.to_list(), None if not bias else net.b.to_list(), [a.name for a in net.g], X, Y, loss)
    assert g.C == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize(
    "loss,width",
    # cross_entropy reads the outputs as a distribution over at least 2 classes
    [(loss, w) for loss in sorted(cr.LOSSES) for w in (1, 2, 5) if not (loss == "cross_entropy" and w == 1)],
)
def test_loss_value_and_gradient_pair(loss, width):
    """dC0/da^(L) is the derivative of C0 itself, for one and several outputs."""
    rng = np.random.default_rng(width)
    L = cr.get_loss(loss)
    a = rng.uniform(0.05, 0.95, size=(4, width))
    if loss == "cross_entropy":
        a /= a.sum(axis=1, keepdims=True)
    Y = rng.uniform(size=(4, width)) if loss != "squared_error" else rng.normal(size=(4, width))
    np.testing.assert_allclose(L.C0(a, Y), ref_C0(loss, a, Y), rtol=1e-13)
    h = 1e-7
    fd = np.zeros_like(a)
    for i, j in np.ndindex(a.shape):
        ap, am = a.copy(), a.copy()
        ap[i, j] += h
        am[i, j] -= h
        fd[i, j] = (L.C0(ap, Y)[i] - L.C0(am, Y)[i]) / (2 * h)
    np.testing.assert_allclose(L.dC0_da(a, Y), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", sorted(cr.LOSSES))
def test_weighted_mean_matches_finite_differences(loss):
    rng = np.random.default_rng(11)
    out = {"cross_entropy": "softmax", "poisson": "exp"}.get(loss, "sigmoid")
    net = cr.Network([2, 3, 2], activation="tanh", output_activation=out, seed=5)
    X = rng.normal(size=(6, 2))
    Y = _targets(loss, rng, 6, 2)
    w = rng.uniform(0.1, 3.0, size=6)
    g = cr.gradients(net, X, Y, loss=loss, sample_weight=w)
    fd_W, fd_b = fd_gradients(net, X, Y, loss, sample_weight=w)
    for l in (1, 2):
        assert_close_rel(g.dW[l], fd_W[l - 1], FD_RTOL, f"dW[{l}]", FD_ATOL)
        assert_close_rel(g.db[l], fd_b[l - 1], FD_RTOL, f"db[{l}]", FD_ATOL)
    assert g.C == pytest.approx(
        ref_cost(net.W.to_list(), net.b.to_list(), [a.name for a in net.g], X, Y, loss, w), rel=1e-12
    )
    # integer weights are repetitions: weight 2 counts a sample twice
    reps = np.array([1, 2, 1, 3, 1, 1])
    gw = cr.gradients(net, X, Y, loss=loss, sample_weight=reps)
    gr = cr.gradients(net, np.repeat(X, reps, axis=0), np.repeat(Y, reps, axis=0), loss=loss)
    for l in (1, 2):
        np.testing.assert_allclose(gw.dW[l], gr.dW[l], rtol=1e-12, atol=1e-15)


def test_deep_network_all_layers_match_finite_differences():
    rng = np.random.default_rng(2)
    net = cr.Network([3, 5, 4, 6, 2], activation=["tanh", "softplus", "leaky_relu", "sigmoid"], seed=2)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    g = cr.gradients(net, X, Y)
    fd_W, fd_b = fd_gradients(net, X, Y, "squared_error")
    for l in range(1, 5):
        assert_close_rel(g.dW[l], fd_W[l - 1], FD_RTOL, f"dW[{l}]", FD_ATOL)
        assert_close_rel(g.db[l], fd_b[l - 1], FD_RTOL, f"db[{l}]", FD_ATOL)
