"""Networks of PyTorch tensors on every device this PyTorch offers (the CPU always; CUDA and MPS
where present: the cases of a device that is absent are not generated) give chainrule's NumPy
results (1e-10 in float64; float32 and 1e-4 on a device without float64) as tensors on that same
device, and inputs of another device or library are a clear ChainruleError."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

DEVICES = ["cpu"]
if torch.cuda.is_available():
    DEVICES.append("cuda")
if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    DEVICES.append("mps")


def _precision(device: str) -> tuple[type, float]:
    """float64 and 1e-10 where the device has float64, else float32 and 1e-4 (MPS)."""
    try:
        torch.zeros(1, dtype=torch.float64, device=device)
    except (RuntimeError, TypeError):
        return np.float32, 1e-4
    return np.float64, 1e-10


# hidden activation, output activation, loss, targets ("onehot", "labels", "real", "unit", "counts")
CASES = [
    ("sigmoid", "sigmoid", "squared_error", "real"),
    ("tanh", "softmax", "cross_entropy", "onehot"),
    ("relu", "softmax", "cross_entropy", "labels"),  # 1-D labels: one-hot rows made on the device
    ("leaky_relu", "identity", "half_mse", "real"),
    ("softplus", "sigmoid", "binary_cross_entropy", "unit"),
    ("tanh", "exp", "poisson", "counts"),
    ("sigmoid", "identity", "mse", "real"),
]


def _targets(kind: str, rng: np.random.Generator, n: int, n_L: int) -> np.ndarray:
    if kind == "onehot":
        return np.eye(n_L)[rng.integers(0, n_L, n)]
    if kind == "labels":
        return rng.integers(0, n_L, n).astype(np.float64)
    if kind == "unit":
        return rng.uniform(size=(n, n_L))
    if kind == "counts":
        return rng.poisson(2.0, size=(n, n_L)).astype(np.float64)
    return rng.normal(size=(n, n_L))


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _on(device: str):
    """To a tensor on ``device``, and back to NumPy (checking it is a tensor on ``device``)."""
    where = torch.zeros(1, device=device).device

    def make(a, dtype):
        return torch.tensor(np.asarray(a, dtype=dtype), device=device)

    def back(t):
        assert isinstance(t, torch.Tensor), type(t)
        assert t.device == where, f"a result on {t.device}, the network on {where}"
        return t.detach().cpu().numpy()

    return make, back


@pytest.mark.parametrize("hidden,out,loss,kind", CASES)
def test_gradients_cost_and_predict_equal_numpys_on_the_device(device, hidden, out, loss, kind):
    dtype, rtol = _precision(device)
    make, back = _on(device)
    rng = np.random.default_rng(3)
    net = cr.Network([4, 5, 3, 3], activation=hidden, output_activation=out, seed=2, dtype=dtype)
    tn = net.to(torch.zeros(1, device=device))
    assert tn.library == "torch" and tn.device == torch.zeros(1, device=device).device and tn.dtype == dtype
    for l in (1, 2, 3):
        np.testing.assert_array_equal(back(tn.W[l]), net.W[l])
        np.testing.assert_array_equal(back(tn.b[l]), net.b[l])
    X = rng.normal(size=(7, 4)).astype(dtype)
    Y = _targets(kind, rng, 7, 3).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=7).astype(dtype)
    Xt, Yt, wt = make(X, dtype), make(Y, dtype), make(w, dtype)
    Yref = Y.astype(np.int64) if kind == "labels" else Y
    for per_sample, weights in ((False, None), (False, "w"), (True, None)):
        ref = cr.gradients(net, X, Yref, loss, per_sample=per_sample, sample_weight=None if weights is None else w)
        g = cr.gradients(tn, Xt, Yt, loss, per_sample=per_sample, sample_weight=None if weights is None else wt)
        for l in (1, 2, 3):
            np.testing.assert_allclose(back(g.dW[l]), ref.dW[l], rtol=rtol, atol=rtol * 1e-2)
            np.testing.assert_allclose(back(g.db[l]), ref.db[l], rtol=rtol, atol=rtol * 1e-2)
        np.testing.assert_allclose(back(g.C0), ref.C0, rtol=rtol, atol=rtol * 1e-2)
        assert g.C == pytest.approx(ref.C, rel=rtol)
        for l in (0, 1, 2, 3):
            np.testing.assert_allclose(back(g.trace.a[l]), ref.trace.a[l], rtol=rtol, atol=rtol * 1e-2)
    assert cr.cost(tn, Xt, Yt, loss) == pytest.approx(cr.cost(net, X, Yref, loss), rel=rtol)
    assert cr.cost(tn, Xt, Yt, loss, sample_weight=wt) == pytest.approx(
        cr.cost(net, X, Yref, loss, sample_weight=w), rel=rtol
    )
    np.testing.assert_allclose(back(tn.predict(Xt)), net.predict(X), rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(back(tn.predict(Xt[0])), net.predict(X[:1]), rtol=rtol, atol=rtol * 1e-2)


def test_from_weights_keeps_the_device_and_to_numpy_comes_back(device):
    dtype, rtol = _precision(device)
    make, back = _on(device)
    net = cr.Network([3, 4, 2], activation="tanh", seed=1, dtype=dtype)
    tn = cr.Network.from_weights([make(W, dtype) for W in net.W], [make(b, dtype) for b in net.b], activation="tanh")
    assert tn.device == torch.zeros(1, device=device).device and tn.dtype == dtype
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    np.testing.assert_allclose(back(tn.predict(make(X, dtype))), net.predict(X), rtol=rtol, atol=rtol * 1e-2)
    assert type(tn.to(np)) is cr.Network and np.array_equal(tn.to(np)._flat, net._flat)


def _elsewhere(device: str) -> list[str]:
    """Other torch devices to put inputs on: every other device offered here, and ``meta`` (a
    device on every machine, whose tensors have shapes and no values)."""
    return [d for d in DEVICES if d != device] + ["meta"]


def test_inputs_of_another_device_or_library_are_a_clear_error(device):
    dtype, _ = _precision(device)
    make, _ = _on(device)
    tn = cr.Network([2, 3, 2], activation="sigmoid", seed=0, dtype=dtype).to(torch.zeros(1, device=device))
    X, Y, w = np.ones((4, 2), dtype), np.zeros((4, 2), dtype), np.ones(4, dtype)
    Xt, Yt = make(X, dtype), make(Y, dtype)
    with pytest.raises(cr.ChainruleError, match=r"X must be an array of the network's library \(torch\)"):
        cr.gradients(tn, X, Yt)
    with pytest.raises(cr.ChainruleError, match=r"sample_weight must be an array of the network's library \(torch\)"):
        cr.gradients(tn, Xt, Yt, sample_weight=w)
    with pytest.raises(cr.ChainruleError, match=r"Y must be an array of the network's library \(torch\)"):
        cr.gradients(tn, Xt, Y)
    with pytest.raises(cr.ChainruleError, match=r"X must be an array of the network's library \(torch\)"):
        tn.predict(X)
    with pytest.raises(cr.ChainruleError, match=r"X must be an array of the network's library \(torch\)"):
        cr.cost(tn, X, Yt)
    for other in _elsewhere(device):
        X2, Y2, w2 = (torch.tensor(a, device=other) for a in (X, Y, w))
        on = rf"is on device {torch.zeros(1, device=other).device}, the network on {tn.device}"
        with pytest.raises(cr.ChainruleError, match=f"X {on}"):
            cr.gradients(tn, X2, Yt)
        with pytest.raises(cr.ChainruleError, match=f"Y {on}"):
            cr.gradients(tn, Xt, Y2)
        with pytest.raises(cr.ChainruleError, match=f"sample_weight {on}"):
            cr.gradients(tn, Xt, Yt, sample_weight=w2)
        with pytest.raises(cr.ChainruleError, match=f"X {on}"):
            cr.gradients(tn, X2, Yt, per_sample=True)
        with pytest.raises(cr.ChainruleError, match=f"X {on}"):
            cr.cost(tn, X2, Yt)
        with pytest.raises(cr.ChainruleError, match=f"X {on}"):
            tn.predict(X2)


def test_fit_explain_and_gradcheck_on_the_device(device):
    """Training (Adam, a validation split), explaining a hidden weight below a softmax layer, and
    the gradient check all compute on the device and agree with the NumPy network's."""
    dtype, rtol = _precision(device)
    make, back = _on(device)
    rng = np.random.default_rng(4)
    net = cr.Network([4, 6, 3], activation="tanh", output_activation="softmax", seed=1, dtype=dtype)
    tn = net.to(torch.zeros(1, device=device))
    X, y = rng.normal(size=(40, 4)).astype(dtype), rng.integers(0, 3, 40)
    Xt, yt = make(X, dtype), torch.tensor(y, device=device)
    e_ref = cr.explain(net, X[:5], y[:5], layer=1, j=2, k=0, loss="cross_entropy")
    e = cr.explain(tn, Xt[:5], yt[:5], layer=1, j=2, k=0, loss="cross_entropy")
    np.testing.assert_allclose(e.products, e_ref.products, rtol=rtol, atol=rtol * 1e-3)
    assert e.mean == pytest.approx(e.backprop, rel=rtol) and e.rel_error < 1e-6
    assert cr.gradcheck(tn, Xt[:8], yt[:8], "cross_entropy").ok
    kw = dict(
        loss="cross_entropy", optimizer="adam", epochs=3, batch_size=8, seed=2, verbose=0, validation_fraction=0.25
    )
    h = cr.fit(tn, Xt, yt, **kw)
    h_ref = cr.fit(net, X, y, **kw)
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=100 * rtol)
    for l in (1, 2):
        np.testing.assert_allclose(back(tn.W[l]), net.W[l], rtol=100 * rtol, atol=rtol)
