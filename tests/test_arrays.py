"""Networks held as another library's arrays (chainrule.arrays): PyTorch tensors and
array-api-strict arrays give NumPy's gradients (1e-10, float64) and come back in the caller's
library; mixing libraries is a clear error; NumPy networks are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.arrays import ArrayNetwork
from chainrule.interop import to_torch

torch = pytest.importorskip("torch")
strict = pytest.importorskip("array_api_strict")

LIBRARIES = {
    "torch": (lambda a: torch.tensor(np.asarray(a)), torch.Tensor, lambda r: r.detach().cpu().numpy()),
    "array_api_strict": (lambda a: strict.asarray(np.asarray(a)), type(strict.asarray(1.0)), np.asarray),
}


@pytest.fixture(params=sorted(LIBRARIES))
def library(request):
    return LIBRARIES[request.param]


@pytest.mark.parametrize(
    "hidden,out,loss",
    [("tanh", "softmax", "cross_entropy"), ("relu", "identity", "half_mse"), ("sigmoid", "sigmoid", "squared_error")],
)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_gradients_cost_and_predict_in_the_callers_library(library, hidden, out, loss, dtype, rtol):
    make, kind, back = library
    rng = np.random.default_rng(1)
    net = cr.Network([4, 5, 3, 2], activation=hidden, output_activation=out, seed=2, dtype=dtype)
    X = rng.normal(size=(6, 4)).astype(dtype)
    Y = np.eye(2)[rng.integers(0, 2, 6)].astype(dtype) if out != "identity" else rng.normal(size=(6, 2)).astype(dtype)
    theirs = cr.Network.from_weights(
        [make(W) for W in net.W], [make(b) for b in net.b], activation=[hidden, hidden, out]
    )
    assert isinstance(theirs, ArrayNetwork) and theirs.dtype == np.dtype(dtype) and isinstance(theirs.W[1], kind)
    for per_sample in (False, True):
        ref = cr.gradients(net, X, Y, loss, per_sample=per_sample)
        g = cr.gradients(theirs, make(X), make(Y), loss, per_sample=per_sample)
        for l in (1, 2, 3):
            assert isinstance(g.dW[l], kind) and isinstance(g.db[l], kind)
            np.testing.assert_allclose(back(g.dW[l]), ref.dW[l], rtol=rtol, atol=rtol * 1e-2)
            np.testing.assert_allclose(back(g.db[l]), ref.db[l], rtol=rtol, atol=rtol * 1e-2)
        assert g.C == pytest.approx(ref.C, rel=rtol)
        np.testing.assert_allclose(back(g.flat()), ref.flat(), rtol=rtol, atol=rtol * 1e-2)  # in their library
        np.testing.assert_allclose(back(g.mean().dW[2]), ref.mean().dW[2], rtol=rtol, atol=rtol * 1e-2)
        assert f"dtype {np.dtype(dtype).name}" in str(g._repr_html_())
    np.testing.assert_allclose(back(theirs.predict(make(X))), net.predict(X), rtol=rtol)
    ev, ev_ref = cr.evaluate(theirs, make(X), make(Y), loss), cr.evaluate(net, X, Y, loss)
    assert ev.keys() == ev_ref.keys() and ev["loss"] == pytest.approx(ev_ref["loss"], rel=rtol)
    if "confusion" in ev_ref:
        assert np.array_equal(ev["confusion"], ev_ref["confusion"]) and ev["accuracy"] == ev_ref["accuracy"]
    classes = theirs.predict_classes(make(X))
    assert isinstance(classes, kind) and np.array_equal(back(classes), net.predict_classes(X))
    assert f"{net.n_params} parameters" in str(theirs._repr_html_())
    assert cr.cost(theirs, make(X), make(Y), loss) == pytest.approx(cr.cost(net, X, Y, loss), rel=rtol)


def test_labels_sample_weights_and_the_article_example_on_torch():
    net = cr.Network([3, 4, 3], activation="tanh", output_activation="softmax", seed=0)
    X, y, w = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 2, 1, 1, 0]), np.arange(1.0, 6.0)
    tn = net.to(torch)
    g = cr.gradients(tn, torch.tensor(X), torch.tensor(y), "cross_entropy", sample_weight=torch.tensor(w))
    ref = cr.gradients(net, X, y, "cross_entropy", sample_weight=w)
    torch.testing.assert_close(g.dW[1], torch.tensor(ref.dW[1]), rtol=1e-10, atol=1e-13)
    from chainrule.data import article_example

    anet, x, yy = article_example()
    e = cr.gradients(anet.to(torch), torch.tensor(x), torch.tensor(yy))
    assert float(e.dW[2][1, 2]) == pytest.approx(cr.explain(anet, x, yy, 2, 1, 2).backprop, rel=1e-12)


@pytest.mark.parametrize(
    "acts,loss,layer,j,k",
    [
        (["sigmoid", "sigmoid"], "squared_error", 2, 1, 2),  # the article's output-layer weight
        (["tanh", "softmax"], "cross_entropy", 1, 2, 0),  # hidden, below a softmax layer
        (["relu", "softmax"], "cross_entropy", 2, 1, None),  # a softmax layer's bias
        (["leaky_relu", "identity"], "half_mse", 1, 0, None),  # a hidden bias
    ],
)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_explain_computes_in_the_networks_library_and_says_what_numpy_says(
    library, acts, loss, layer, j, k, dtype, rtol
):
    make, _, _ = library
    rng = np.random.default_rng(3)
    net = cr.Network([3, 4, 3], activation=acts[0], output_activation=acts[1], seed=5, dtype=dtype)
    X = rng.normal(size=(4, 3)).astype(dtype)
    Y = np.eye(3)[rng.integers(0, 3, 4)].astype(dtype)
    bias = k is None
    theirs = cr.Network.from_weights([make(W) for W in net.W], [make(b) for b in net.b], activation=acts)
    for sample in (None, 2):
        ref = cr.explain(net, X, Y, layer, j, k, loss=loss, bias=bias, sample=sample)
        e = cr.explain(theirs, make(X), make(Y), layer, j, k, loss=loss, bias=bias, sample=sample)
        assert e.samples == ref.samples and e.sizes == ref.sizes and e.weight == ref.weight
        for name in ("term1", "term2", "term3", "delta", "products", "a", "z", "softmax_terms", "layer_dC0_da"):
            mine, want = getattr(e, name), getattr(ref, name)
            assert (mine is None) == (want is None), name
            if want is not None:
                assert isinstance(mine, np.ndarray), name  # an Explanation holds NumPy numbers to read
                np.testing.assert_allclose(mine, want, rtol=rtol, atol=rtol * 1e-3, err_msg=name)
        for mine, want in zip(e.hidden_sum, ref.hidden_sum):
            np.testing.assert_allclose(mine.value, want.value, rtol=rtol, atol=rtol * 1e-3)
        assert e.mean == pytest.approx(ref.mean, rel=rtol, abs=rtol * 1e-3)
        assert e.backprop == pytest.approx(e.mean, rel=10 * rtol, abs=rtol * 1e-3)  # its library's fast path agrees
        assert e.rel_error < 1e-6 and e.to_text()  # the finite difference, on a float64 NumPy copy


def test_to_and_back_and_save(tmp_path):
    net = cr.Network([2, 3, 1], seed=0)
    tn = net.to(torch.zeros(1, dtype=torch.float32))  # like=x: its library, device and dtype kind
    assert tn.library == "torch" and str(tn.device) == "cpu" and tn.dtype == np.float64
    assert "library=torch" in repr(tn)
    back = tn.to(np)
    assert type(back) is cr.Network and np.array_equal(back._flat, net._flat)
    tn.save(tmp_path / "m.npz")
    assert np.array_equal(cr.Network.load(tmp_path / "m.npz")._flat, net._flat)


def test_mixing_libraries_or_numpy_only_functions_is_a_clear_error():
    net = cr.Network([2, 3, 2], seed=0).to(torch)
    X, Y = np.ones((1, 2)), np.zeros((1, 2))
    with pytest.raises(cr.ChainruleError, match=r"X must be an array of the network's library \(torch\)"):
        cr.gradients(net, X, Y)
    with pytest.raises(cr.ChainruleError, match=r"X must be an array of the network's library \(torch\)"):
        cr.explain(net, X, Y, 2, 0, 1)
    with pytest.raises(cr.ChainruleError, match=r"computes on NumPy networks so far.*net.to\(numpy\).*explain"):
        to_torch(net)
    with pytest.raises(cr.ChainruleError, match="weights and biases must be arrays of one library"):
        cr.Network.from_weights([torch.ones(3, 2), strict.ones((1, 3))])
    with pytest.raises(cr.ChainruleError, match="must have shape \\(n_samples, 2\\)"):
        cr.gradients(net, torch.ones(1, 3), torch.zeros(1, 2))
    with pytest.raises(cr.ChainruleError, match="NaN or inf"):
        cr.Network.from_weights([torch.tensor([[float("nan"), 1.0]])])


@pytest.mark.parametrize("optimizer", [cr.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01), cr.Adam(0.01)])
def test_fit_in_another_library_trains_exactly_as_numpy(library, optimizer, tmp_path):
    """The same loop, seed and optimizer: a network of tensors (or array-api-strict arrays) ends with
    the NumPy network's weights and History, validation split and early stopping included."""
    import copy

    from chainrule.data import load_dataset

    make, kind, back = library
    X, y = load_dataset("iris")
    X = (X - X.mean(0)) / X.std(0)
    net = cr.Network([4, 6, 3], activation="tanh", output_activation="softmax", seed=0)
    theirs = cr.Network.from_weights([make(W) for W in net.W], [make(b) for b in net.b], activation=["tanh", "softmax"])
    kw = dict(
        loss="cross_entropy", epochs=6, batch_size=16, seed=3, verbose=0, validation_fraction=0.2, early_stopping=2
    )
    h_ours = cr.fit(theirs, make(X), make(y), optimizer=copy.deepcopy(optimizer), checkpoint=tmp_path / "c.npz", **kw)
    h_ref = cr.fit(net, X, y, optimizer=copy.deepcopy(optimizer), **kw)
    assert isinstance(theirs.W[1], kind) and h_ours.status == h_ref.status
    np.testing.assert_allclose(h_ours.loss, h_ref.loss, rtol=1e-12)
    np.testing.assert_allclose(h_ours.val_loss, h_ref.val_loss, rtol=1e-12)
    assert h_ours.accuracy == h_ref.accuracy and h_ours.val_accuracy == h_ref.val_accuracy
    for l in (1, 2):
        np.testing.assert_allclose(back(theirs.W[l]), net.W[l], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(cr.Network.load(tmp_path / "c.npz")._flat, net._flat, rtol=1e-10, atol=1e-13)


def test_fit_in_another_library_keeps_the_last_finite_weights_when_it_diverges():
    net = cr.Network([2, 3, 1], activation="identity", seed=0).to(torch)
    X, Y = torch.tensor([[1e150, 1e150]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)
    before = net._vector.clone()
    h = cr.fit(net, X, Y, epochs=3, optimizer=cr.SGD(1.0), verbose=0)
    assert h.status == "diverged" and torch.isfinite(net._vector).all()
    torch.testing.assert_close(net._vector, before)


def test_gradcheck_checks_the_librarys_own_backprop(library, monkeypatch):
    make, _, _ = library
    net = cr.Network([3, 4, 2], activation="tanh", output_activation="softmax", seed=0)
    X, y = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    theirs = cr.Network.from_weights([make(W) for W in net.W], [make(b) for b in net.b], activation=["tanh", "softmax"])
    assert cr.gradcheck(theirs, make(X), make(y), "cross_entropy").ok
    from chainrule.activations import Tanh

    monkeypatch.setattr(Tanh, "backward_xp", lambda self, z, a, d, xp: (1 - a) * d)  # a wrong derivative
    result = cr.gradcheck(theirs, make(X), make(y), "cross_entropy")
    assert not result.ok and result.max_rel_error > 1e-3


def test_jax_arrays_compute_with_the_article_but_cannot_hold_a_network():
    """JAX's arrays are immutable: the article's algorithm runs on them (under jax.jit too), while a
    Network, which steps its parameters in place, refuses them clearly, however it is asked."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    from chainrule import article

    net = cr.Network([3, 4, 2], activation="sigmoid", output_activation="softmax", seed=0, dtype=np.float32)
    X, Y = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32), np.eye(2, dtype=np.float32)[[0, 1, 1, 0, 1]]
    gs = list(net.g)
    step = jax.jit(lambda Ws, bs, X, Y: article.gradients(Ws, bs, gs, X, Y, "cross_entropy").dW)
    dW = step([jnp.asarray(W) for W in net.W], [jnp.asarray(b) for b in net.b], jnp.asarray(X), jnp.asarray(Y))
    for l, d in enumerate(dW, start=1):
        np.testing.assert_allclose(np.asarray(d), cr.gradients(net, X, Y, "cross_entropy").dW[l], rtol=1e-5, atol=1e-7)
    for make in (
        lambda: net.to(jnp),
        lambda: net.to(jnp.zeros(2)),
        lambda: cr.Network.from_weights([jnp.ones((2, 3))]),
    ):
        with pytest.raises(cr.ChainruleError, match="JAX arrays are immutable.*article.gradients"):
            make()
    with pytest.raises(cr.ChainruleError, match="like must be an array or an array library's namespace.*'cuda'"):
        net.to("cuda")


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: cr.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), lambda: cr.optim.Adam(lr=0.01)],
)
def test_a_hand_written_loop_steps_a_network_of_another_library_as_numpys(library, make_optimizer):
    """``opt.step(net, g.dW, g.db)`` on the network's own arrays, in its library: the same steps as NumPy's."""
    make, kind, back = library
    rng = np.random.default_rng(0)
    net = cr.Network([3, 5, 2], activation="tanh", seed=1)
    theirs = net.to(make(np.zeros(1)))
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    ours, ref = make_optimizer(), make_optimizer()
    for _ in range(4):
        g = cr.gradients(theirs, make(X), make(Y))
        ours.step(theirs, g.dW, g.db)
        g_ref = cr.gradients(net, X, Y)
        ref.step(net, g_ref.dW, g_ref.db)
    assert isinstance(theirs.W[1], kind)
    np.testing.assert_allclose(back(theirs.flat_gradient(list(theirs.W), list(theirs.b))), net._flat, rtol=1e-12)
    with pytest.raises(cr.ChainruleError, match=r"dW\[1\] must be an array of the network's library"):
        ours.step(theirs, {1: np.zeros((5, 3)), 2: np.zeros((2, 5))}, g.db)
    with pytest.raises(
        cr.ChainruleError, match=r"db\[2\] must have the shape of layer 2's parameters \(2,\); got \(3,\)"
    ):
        ours.step(theirs, g.dW, {1: g.db[1], 2: make(np.zeros(3))})


def test_fit_in_another_library_counts_accuracy_as_numpy_does_for_one_logistic_output(library):
    """Classification is decided and counted as for NumPy (``a > 0.5`` for one output node, 0/1
    targets), not only for softmax: the History's accuracy columns are NumPy's."""
    make, _, _ = library
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    y = (X[:, :1] + 0.3 * X[:, 1:2] > 0).astype(np.float64)
    net = cr.Network([3, 4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    theirs = net.to(make(np.zeros(1)))
    kw = dict(loss="binary_cross_entropy", epochs=4, batch_size=8, seed=1, verbose=0, validation_fraction=0.25)
    h, h_ref = cr.fit(theirs, make(X), make(y), **kw), cr.fit(net, X, y, **kw)
    assert h_ref.accuracy and h.accuracy == pytest.approx(h_ref.accuracy, abs=1e-12)
    assert h.val_accuracy == pytest.approx(h_ref.val_accuracy, abs=1e-12)
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=1e-10)
