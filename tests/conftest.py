"""Independent oracles for the tests: central finite differences written from scratch here
(not chainrule's gradcheck), and PyTorch autograd in float64."""

from __future__ import annotations

import contextlib
import os

# SciPy reads this when it is first imported: with it, scikit-learn's estimator checks also run
# check_array_api_input (array-api-strict, and PyTorch on the CPU) on chainrule's estimators
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.engine import backend as _backend  # noqa: E402

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@contextlib.contextmanager
def computational_path(name: str):
    """``"numpy"``; ``"numba"``: the whole pass compiled, for every network; ``"hybrid"``: NumPy's
    matrix products with compiled loops between them (what "auto" does for large networks)."""
    if name == "hybrid":
        with cr.backend("auto"), _patched(_backend, "COMPILED_WORK", -1):
            yield name
    else:
        with cr.backend(name):
            yield name


@contextlib.contextmanager
def _patched(obj, attr, value):
    old = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, old)


PATHS = ["numpy", "numba", "hybrid"]


@pytest.fixture(scope="module", params=PATHS)
def each_backend(request):
    """Runs a whole test module once per computational path (see :func:`computational_path`)."""
    with computational_path(request.param):
        yield request.param


# Plain formulas for every activation and loss, written independently of chainrule's code.
def ref_g(name: str, z: np.ndarray) -> np.ndarray:
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "softplus":
        return np.log1p(np.exp(z))
    if name == "exp":
        return np.exp(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise KeyError(name)


def ref_g_prime(name: str, z: np.ndarray) -> np.ndarray:
    """g'(z) by the textbook formulas (elementwise activations)."""
    s = 1 / (1 + np.exp(-z))
    return {
        "identity": np.ones_like(z),
        "sigmoid": s * (1 - s),
        "tanh": 1 - np.tanh(z) ** 2,
        "relu": (z > 0).astype(float),
        "leaky_relu": np.where(z > 0, 1.0, 0.01),
        "softplus": s,
        "exp": np.exp(z),
    }[name]


def ref_softmax_jacobian(a: np.ndarray) -> np.ndarray:
    """da_m/dz_j = a_m (1[m = j] - a_j) for one sample's softmax output ``a``."""
    return np.diag(a) - np.outer(a, a)


def ref_dC0_da(name: str, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The first chain-rule term at the output layer, by the textbook formulas."""
    if name == "squared_error":
        return 2 * (a - y)
    if name == "mse":
        return 2 * (a - y) / a.shape[-1]
    if name == "half_mse":
        return (a - y) / a.shape[-1]
    if name == "cross_entropy":
        return -y / a
    if name == "poisson":
        return 1 - y / a
    return (a - y) / (a * (1 - a))


def ref_C0(name: str, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    if name == "squared_error":
        return ((a - y) ** 2).sum(axis=1)
    if name == "mse":
        return ((a - y) ** 2).mean(axis=1)
    if name == "half_mse":
        return ((a - y) ** 2).mean(axis=1) / 2
    if name == "cross_entropy":
        return -(y * np.log(a)).sum(axis=1)
    if name == "binary_cross_entropy":
        return -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    if name == "poisson":  # half the Poisson deviance, y log(y / a) = 0 at y = 0
        return (np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / a), 0) - y + a).sum(axis=1)
    raise KeyError(name)


def ref_cost(weights, biases, acts, X, Y, loss, sample_weight=None) -> float:
    """The cost C by plain formulas: forward pass, per-sample loss, (weighted) mean."""
    a = X
    for l, W in enumerate(weights):
        z = a @ W.T + (biases[l] if biases is not None else 0.0)
        a = ref_g(acts[l], z)
    c0 = ref_C0(loss, a, Y)
    if sample_weight is None:
        return float(c0.mean())
    return float((sample_weight * c0).sum() / sample_weight.sum())


def fd_gradients(net: cr.Network, X, Y, loss: str, h: float = 1e-6, sample_weight=None):
    """Central finite differences of the plain-formula cost for every weight and bias."""
    weights = [np.array(W, dtype=np.float64) for W in net.W]
    biases = None if net.b is None else [np.array(b, dtype=np.float64) for b in net.b]
    acts = [g.name for g in net.g]
    params = weights + (biases or [])
    grads = []
    for p in params:
        gp = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            cp = ref_cost(weights, biases, acts, X, Y, loss, sample_weight)
            p[i] = old - h
            cm = ref_cost(weights, biases, acts, X, Y, loss, sample_weight)
            p[i] = old
            gp[i] = (cp - cm) / (2 * h)
        grads.append(gp)
    L = len(weights)
    return grads[:L], (grads[L:] if biases is not None else None)


def _oracle_loss(loss: str, a, y, log):
    """Each sample's loss for the autograd oracles, written out from the formulas (any array library)."""
    if loss == "squared_error":
        return ((a - y) ** 2).sum(1)
    if loss == "mse":
        return ((a - y) ** 2).sum(1) / a.shape[1]
    if loss == "half_mse":
        return ((a - y) ** 2).sum(1) / (2 * a.shape[1])
    if loss == "cross_entropy":
        return -(y * log(a)).sum(1)
    if loss == "poisson":  # y log y as y log(y + [y = 0]): 0 at y = 0 without a where
        return (y * log(y + (y == 0)) - y * log(a) - y + a).sum(1)
    if loss == "binary_cross_entropy":
        return -(y * log(a) + (1 - y) * log(1 - a)).sum(1)
    raise KeyError(loss)


def torch_gradients(net: cr.Network, X, Y, loss: str, per_sample: bool = False):
    """PyTorch autograd, float64, explicit reductions: sum over outputs, mean over samples."""
    torch = pytest.importorskip("torch")
    Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in net.W]
    bs = None if net.b is None else [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in net.b]
    acts = {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
        "softplus": lambda z: torch.nn.functional.softplus(z, threshold=50.0),
        "exp": torch.exp,
        "softmax": lambda z: torch.softmax(z, dim=1),
    }

    def per_sample_loss(x, y):
        a = x
        for l, W in enumerate(Ws):
            z = a @ W.T
            if bs is not None:
                z = z + bs[l]
            a = acts[net.g[l + 1].name](z)
        return _oracle_loss(loss, a, y, torch.log)

    X_t = torch.tensor(np.asarray(X, dtype=np.float64))
    Y_t = torch.tensor(np.asarray(Y, dtype=np.float64))
    params = Ws + (bs or [])
    if not per_sample:
        C = per_sample_loss(X_t, Y_t).sum() / X_t.shape[0]
        grads = torch.autograd.grad(C, params)
        out = [g.numpy() for g in grads]
    else:
        rows = []
        for i in range(X_t.shape[0]):  # the oracle may loop; chainrule may not
            Ci = per_sample_loss(X_t[i : i + 1], Y_t[i : i + 1]).sum()
            rows.append([g.numpy() for g in torch.autograd.grad(Ci, params)])
        out = [np.stack([r[p] for r in rows]) for p in range(len(params))]
    L = len(Ws)
    return out[:L], (out[L:] if bs is not None else None)


def jax_gradients(net: cr.Network, X, Y, loss: str, per_sample: bool = False):
    """JAX autograd (``jax.grad``, ``jax.vmap`` for per-sample), float64: the oracle the test extra
    installs (CPU-only from the package index). Same reductions as :func:`torch_gradients`."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    acts = {
        "identity": lambda z: z,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.01),
        "softplus": jax.nn.softplus,
        "exp": jnp.exp,
        "softmax": lambda z: jax.nn.softmax(z, axis=1),
    }
    names = [net.g[l].name for l in range(1, net.L + 1)]
    bias = net.b is not None

    def per_sample_loss(params, x, y):
        Ws, bs = params
        a = x
        for l, W in enumerate(Ws):
            z = a @ W.T
            if bias:
                z = z + bs[l]
            a = acts[names[l]](z)
        return _oracle_loss(loss, a, y, jnp.log)

    params = (
        [jnp.asarray(np.asarray(W, dtype=np.float64)) for W in net.W],
        [jnp.asarray(np.asarray(b, dtype=np.float64)) for b in net.b] if bias else [],
    )
    Xj, Yj = jnp.asarray(np.asarray(X, dtype=np.float64)), jnp.asarray(np.asarray(Y, dtype=np.float64))
    if not per_sample:
        dWs, dbs = jax.grad(lambda p: per_sample_loss(p, Xj, Yj).mean())(params)
    else:
        one = jax.grad(lambda p, x, y: per_sample_loss(p, x[None, :], y[None, :]).sum())
        dWs, dbs = jax.vmap(one, in_axes=(None, 0, 0))(params, Xj, Yj)
    return [np.asarray(g) for g in dWs], ([np.asarray(g) for g in dbs] if bias else None)


def assert_close_rel(actual, expected, rtol: float, what: str = "", atol: float = 0.0) -> None:
    """Relative agreement scaled by the array's magnitude (entries near 0 are judged against it),
    plus ``atol`` for the rounding noise of finite differences."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(np.abs(expected).max(initial=0.0), 1e-300)
    err = np.abs(actual - expected).max(initial=0.0) / scale
    assert err <= rtol + atol / scale, f"{what}: relative error {err:.3e} > {rtol:.1e}"


class Cube(cr.Activation):
    """A custom activation outside the registry, defined on NumPy only (``g(z) = z^3``, ``g' = 3 z^2``)."""

    name = "cube"

    def g(self, z, out=None):
        return np.power(z, 3, out=out)

    def g_prime(self, z, a):
        return 3 * z * z
