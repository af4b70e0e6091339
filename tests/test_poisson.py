"""The exp activation and the poisson loss (half the Poisson deviance, scikit-learn's
``MLPRegressor(loss="poisson")``): the loss against its formula and scikit-learn's, its gradient
and the fused ``delta = a - y`` against finite differences, whole networks against JAX and
central differences, fused and unfused, float64 and float32, on every computational path (the
compiled kernels know neither, so NumPy computes them everywhere)."""

import numpy as np
import pytest
from conftest import PATHS, assert_close_rel, computational_path, fd_gradients, jax_gradients, ref_C0
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.activations import _LOG_MAX, Exp
from chainrule.engine import backend as _backend
from chainrule.losses import PoissonDeviance

DTYPES = [np.float64, np.float32]


def _direct(a, y):
    """sum_j [y_j log(y_j / a_j) - y_j + a_j], term by term in Python floats (y log y = 0 at y = 0)."""
    rows = []
    for a_i, y_i in zip(np.asarray(a, dtype=float), np.asarray(y, dtype=float)):
        rows.append(sum((y * np.log(y / a) if y > 0 else 0.0) - y + a for a, y in zip(a_i, y_i)))
    return np.array(rows)


def _counts(rng, shape, lam=1.5):
    return rng.poisson(lam, size=shape).astype(np.float64)


def _net(sizes, hidden="tanh", dtype=np.float64, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    net = cr.Network(sizes, activation=hidden, output_activation="exp", bias=bias, dtype=dtype, seed=seed)
    if bias:
        for l in range(1, net.L + 1):
            net.b[l] = rng.normal(scale=0.3, size=sizes[l])
    return net


def test_registry_entries():
    loss = cr.get_loss("poisson")
    assert isinstance(loss, PoissonDeviance) and cr.LOSSES["poisson"] is PoissonDeviance and str(loss) == "poisson"
    assert loss.output is Exp and loss.target_range == (0.0, np.inf)
    assert cr.ACTIVATIONS["exp"] is Exp and cr.get_activation("EXP") == Exp() and Exp().init == "glorot"
    assert repr(Exp()) == "Exp()" and repr(loss) == "PoissonDeviance()"


@pytest.mark.parametrize("dtype", DTYPES)
def test_C0_matches_the_direct_formula_with_and_without_z(dtype):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=1.5, size=(7, 4))
    Y = _counts(rng, (7, 4))
    Y[0] = 0  # a row of zeros: y log y = 0 there
    z, Y = z.astype(dtype), Y.astype(dtype)
    a = Exp().g(z)
    loss = cr.get_loss("poisson")
    ref = _direct(a, Y)
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    for c in (loss.C0(a, Y), loss.C0(a, Y, z)):
        assert c.dtype == dtype and c.shape == (7,)
        assert_close_rel(c, ref, rtol, "C0")
    np.testing.assert_allclose(loss.C0(a, Y), ref_C0("poisson", a.astype(float), Y.astype(float)), rtol=rtol)
    assert (loss.C0(a, Y) >= -1e-12).all()
    np.testing.assert_allclose(loss.C0(Y[1:] + 1, Y[1:] + 1), 0, atol=1e-5)  # a = y: no deviance


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_cost_is_scikit_learns_poisson_loss(dtype, weighted):
    """C, the (weighted) mean over samples of C0, is scikit-learn's poisson_loss of the same outputs."""
    poisson_loss = pytest.importorskip("sklearn.neural_network._base").poisson_loss
    rng = np.random.default_rng(1)
    net = _net([5, 8, 3], dtype=dtype, seed=1)
    X, Y = rng.normal(size=(40, 5)), _counts(rng, (40, 3), lam=2.0)
    w = rng.uniform(0.1, 3.0, size=40) if weighted else None
    a = net.predict(X).astype(np.float64)
    ref = poisson_loss(Y, a, sample_weight=w)
    C = cr.cost(net, X, Y, "poisson", sample_weight=w)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert C == pytest.approx(ref, rel=rtol)
    assert cr.gradients(net, X, Y, "poisson", sample_weight=w).C == pytest.approx(ref, rel=rtol)
    if dtype == np.float64 and not weighted:  # the loss on its own, on outputs given directly
        assert cr.get_loss("poisson").C0(a, Y).mean() == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dC0_da_and_the_fused_delta_match_finite_differences(dtype):
    """dC0/da_j = 1 - y_j / a_j by differences of C0 in a; the fused delta = a - y by differences
    of C0(e^z, y, z) in z, the form the cost takes through an exp output."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(5, 3))
    Y = _counts(rng, (5, 3))
    loss, g = cr.get_loss("poisson"), Exp()
    a = g.g(z)
    h = 1e-6
    fd_a, fd_z = np.zeros_like(a), np.zeros_like(z)
    for i, j in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i, j] = h
        fd_a[i, j] = (loss.C0(a + e, Y)[i] - loss.C0(a - e, Y)[i]) / (2 * h)
        fd_z[i, j] = (loss.C0(g.g(z + e), Y, z + e)[i] - loss.C0(g.g(z - e), Y, z - e)[i]) / (2 * h)
    zt, at, Yt = z.astype(dtype), a.astype(dtype), Y.astype(dtype)
    rtol = 1e-7 if dtype == np.float64 else 1e-5
    da = loss.dC0_da(at, Yt)
    assert da.dtype == dtype
    np.testing.assert_allclose(da, fd_a, rtol=rtol, atol=1e-8 if dtype == np.float64 else 1e-5)
    np.testing.assert_allclose(da, 1 - Yt / at, rtol=1e-15 if dtype == np.float64 else 1e-6)
    delta = loss.fused_delta(g, g.g(zt), Yt)
    assert delta.dtype == dtype
    np.testing.assert_allclose(delta, fd_z, rtol=rtol, atol=1e-8 if dtype == np.float64 else 1e-5)
    np.testing.assert_allclose(delta, g.backward(zt, at, da), rtol=1e-14 if dtype == np.float64 else 1e-5, atol=1e-6)
    out = np.full_like(at, np.nan)
    assert loss.fused_delta(g, at, Yt, out=out) is out and loss.dC0_da(at, Yt, out=out) is out
    assert loss.fused_delta(cr.get_activation("softplus"), at, Yt) is None  # the shortcut is exp's alone


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,bias", [("tanh", True), ("relu", False), ("exp", True), ("softplus", True)])
def test_network_gradients_match_jax_and_finite_differences(path, dtype, hidden, bias):
    """Exp output, poisson loss, on every path (NumPy computes it on each), fused and unfused."""
    rng = np.random.default_rng(3)
    net = _net([4, 5, 3], hidden=hidden, dtype=dtype, seed=3, bias=bias)
    if hidden == "exp":
        net.W[2] = net.W[2] / 4  # a^(1) = e^z reach tens: keep z^(2) of a few units
    X, Y = rng.normal(size=(6, 4)), _counts(rng, (6, 3))
    Y[2] = 0
    net64 = cr.Network.from_weights(
        [W.astype(np.float64) for W in net.W],
        None if not bias else [b.astype(np.float64) for b in net.b],
        activation=[g.name for g in net.g],
    )
    jW, jb = jax_gradients(net64, X, Y, "poisson")
    fW, fb = fd_gradients(net64, X, Y, "poisson")
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    with computational_path(path):
        results = {fused: cr.gradients(net, X, Y, "poisson", fused=fused) for fused in (True, False)}
    for fused, g in results.items():
        assert g._make is None  # NumPy's result on every path: the kernels do not know exp or poisson
        for l in (1, 2):
            assert g.dW[l].dtype == dtype
            assert_close_rel(g.dW[l], jW[l - 1], rtol, f"dW[{l}] fused={fused} vs jax")
            assert_close_rel(g.dW[l], fW[l - 1], max(rtol, 1e-6), f"dW[{l}] fused={fused} vs fd", 1e-9)
            if bias:
                assert_close_rel(g.db[l], jb[l - 1], rtol, f"db[{l}] fused={fused} vs jax")
                assert_close_rel(g.db[l], fb[l - 1], max(rtol, 1e-6), f"db[{l}] fused={fused} vs fd", 1e-9)
    fast, slow = results[True], results[False]
    np.testing.assert_allclose(fast.delta[2], fast.trace.a[2] - Y.astype(dtype), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(slow.g_prime[2], slow.trace.a[2])  # exp's g' is a
    for l in (1, 2):
        tol = {"rtol": 1e-12, "atol": 1e-15} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
        np.testing.assert_allclose(fast.dW[l], slow.dW[l], **tol)
        np.testing.assert_allclose(fast.delta[l], slow.delta[l], **tol)


@pytest.mark.parametrize("path", PATHS)
def test_per_sample_gradients_match_jax(path):
    rng = np.random.default_rng(4)
    net = _net([3, 4, 2], hidden="exp", seed=4)
    X, Y = rng.normal(size=(5, 3)), _counts(rng, (5, 2))
    jW, jb = jax_gradients(net, X, Y, "poisson", per_sample=True)
    with computational_path(path):
        g = cr.gradients(net, X, Y, "poisson", per_sample=True)
    for l in (1, 2):
        assert_close_rel(g.dW[l], jW[l - 1], 1e-10, f"dW[{l}]")
        assert_close_rel(g.db[l], jb[l - 1], 1e-10, f"db[{l}]")


def test_the_compiled_kernels_leave_exp_and_poisson_to_numpy():
    """Exp and poisson are the built-ins the kernels lack: with any of them the plan is None on
    every backend (even "numba", even for a tiny network), and the result is NumPy's and right."""
    assert set(cr.ACTIVATIONS) - set(_backend.ACTIVATION_CODES) == {"exp"}
    assert set(cr.LOSSES) - set(_backend.LOSS_CODES) == {"poisson"}  # half_mse has a code of its own
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4, 3))
    cases = [
        (cr.Network([3, 4, 2], "tanh", output_activation="exp", seed=0), "poisson", _counts(rng, (4, 2))),
        (cr.Network([3, 4, 2], "exp", output_activation="identity", seed=0), "squared_error", rng.normal(size=(4, 2))),
        (cr.Network([3, 4, 2], "tanh", output_activation="exp", seed=0), "mse", rng.normal(size=(4, 2))),
    ]
    for net, loss, Y in cases:
        with computational_path("numpy"):
            ref = cr.gradients(net, X, Y, loss)
        for path in ("numba", "hybrid"):
            with computational_path(path):
                assert _backend.compiled_plan(net, cr.get_loss(loss), 4) is None
                got = cr.gradients(net, X, Y, loss)
            assert got._make is None
            for l in (1, 2):
                np.testing.assert_array_equal(got.dW[l], ref.dW[l])
    # the same network with a compiled loss and activations does go to the kernel
    net = cr.Network([3, 4, 2], "tanh", output_activation="softplus", seed=0)
    with computational_path("numba"):
        assert _backend.compiled_plan(net, cr.get_loss("poisson"), 4) is None
        assert _backend.compiled_plan(net, cr.get_loss("mse"), 4) is not None


def test_targets_and_output_layer_are_checked():
    net = _net([2, 3, 2])
    X = np.ones((2, 2))
    with pytest.raises(
        cr.ChainruleError, match=r"Y holds -1.0 at row 1, column 0: this loss needs targets in \[0, inf\]"
    ):
        cr.gradients(net, X, [[0.0, 2.0], [-1.0, 1.0]], "poisson")
    with pytest.raises(cr.ChainruleError, match=r"Y contains inf"):
        cr.gradients(net, X, [[0.0, np.inf], [1.0, 1.0]], "poisson")
    other = cr.Network([2, 3, 2], "tanh", output_activation="softplus", seed=0)
    with pytest.raises(
        cr.ChainruleError,
        match=r"loss 'poisson' does not fit a softplus output layer: it reads each output as a positive "
        r"mean, log a_j = z_j, so the output activation must be exp",
    ):
        cr.gradients(other, X, np.ones((2, 2)), "poisson")
    with pytest.raises(cr.ChainruleError, match=r"for exp outputs use poisson"):
        cr.gradients(net, X, [0, 1], "cross_entropy")


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_poisson_is_stable_when_exp_underflows_or_saturates(dtype):
    # z = -800: a underflows to 0, so 1 - y/a is -inf; the cost from z and the fused a - y stay exact
    net = cr.Network.from_weights([np.array([[800.0]])], [np.zeros(1)], activation="exp", dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        g = cr.gradients(net, [[-1.0]], [[1.0]], "poisson")
    assert g.trace.a[1][0, 0] == 0 and g.C == pytest.approx(799.0)  # y (log y - z) - y + a
    np.testing.assert_allclose(g.dW[1], [[1.0]])  # (a - y) x = (0 - 1)(-1)
    np.testing.assert_allclose(g.db[1], [-1.0])
    with np.errstate(invalid="ignore"):  # unfused: delta = -inf * 0, which the fused shortcut avoids
        slow = cr.gradients(net, [[-1.0]], [[1.0]], "poisson", fused=False)
    assert np.isneginf(slow.dC0_da[1][0, 0]) and slow.C == g.C  # the unfused first term, shown as it is
    # y = 0 there: the loss is a = 0 and its derivative in a is 1, not 0/0
    g0 = cr.gradients(net, [[-1.0]], [[0.0]], "poisson", fused=False)
    assert g0.C == 0 and g0.dC0_da[1][0, 0] == 1 and g0.dW[1][0, 0] == 0
    # z far above log(max float): a saturates at e^cap, finite, with no overflow warning
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        a = net.predict([[2.0]])
    cap = _LOG_MAX[np.dtype(dtype).char]
    assert a.dtype == dtype and a[0, 0] == np.exp(dtype(cap)) and np.isfinite(a).all()


@given(
    z=st.lists(st.floats(-30, 30), min_size=1, max_size=6),
    y=st.lists(st.one_of(st.just(0.0), st.integers(0, 40).map(float), st.floats(0, 1e3)), min_size=6, max_size=6),
)
def test_loss_properties(z, y):
    """For any outputs and targets >= 0: C0 from z equals C0 from a, each term is >= 0 (0 at a = y),
    the fused delta is dC0/da * g', and the formula is scikit-learn's (y log(y / a) - y + a)."""
    z = np.array([z])
    Y = np.array([y[: z.shape[1]]])
    g, loss = Exp(), cr.get_loss("poisson")
    a = g.g(z)
    from_z, from_a = loss.C0(a, Y, z), loss.C0(a, Y)
    scale = (Y + a).sum() + 1e-300
    assert abs(from_z[0] - from_a[0]) <= 1e-13 * scale + 1e-13 * np.abs(Y * z).sum()
    assert from_z[0] >= -1e-12 * scale
    assert from_z[0] == pytest.approx(_direct(a, Y)[0], rel=1e-12, abs=1e-12 * scale + 1e-13 * np.abs(Y * z).sum())
    np.testing.assert_allclose(loss.fused_delta(g, a, Y), a * loss.dC0_da(a, Y), rtol=1e-12, atol=1e-12 * (1 + Y.max()))
    at_y = np.where(Y > 0, Y, 1.0)
    assert loss.C0(at_y, at_y, np.log(at_y))[0] == pytest.approx(0, abs=1e-12 * scale)


@st.composite
def networks(draw):
    """Depth 1-3, widths 1-5, any hidden activations (one exp among them at most: e^(e^(e^z))
    leaves float64), an exp output; the layer after an exp layer gets smaller weights."""
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 5)) for _ in range(depth + 1)]
    hidden = [draw(st.sampled_from(sorted(cr.ACTIVATIONS))) for _ in range(depth - 1)]
    first_exp = hidden.index("exp") if "exp" in hidden else len(hidden)
    hidden = [g if g != "exp" or l == first_exp else "tanh" for l, g in enumerate(hidden)]
    for l, g in enumerate(hidden, start=1):
        if g == "softmax":  # one softmax node is the constant 1, which Network refuses
            sizes[l] = max(sizes[l], 2)
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    net = cr.Network(sizes, activation=[*hidden, "exp"], dtype=dtype, seed=seed)
    for l in range(2, net.L + 1):
        if net.g[l - 1].name == "exp":
            net.W[l] = net.W[l] / 4
    return net, draw(st.integers(1, 5)), seed


@given(networks())
def test_random_networks_fused_and_unfused_match_finite_differences(problem):
    net, n, seed = problem
    rng = np.random.default_rng(seed)
    sizes, dtype = net.sizes, net.dtype
    X, Y = rng.uniform(-2, 2, size=(n, sizes[0])), _counts(rng, (n, sizes[-1]))
    net64 = cr.Network.from_weights(
        [W.astype(np.float64) for W in net.W], [b.astype(np.float64) for b in net.b], [g.name for g in net.g]
    )
    fW, fb = fd_gradients(net64, X, Y, "poisson")
    rtol = 1e-6 if dtype == np.float64 else 1e-3
    for fused in (True, False):
        g = cr.gradients(net, X, Y, "poisson", fused=fused)
        for l in range(1, net.L + 1):
            assert_close_rel(g.dW[l], fW[l - 1], rtol, f"dW[{l}] fused={fused}", 1e-8)
            assert_close_rel(g.db[l], fb[l - 1], rtol, f"db[{l}] fused={fused}", 1e-8)
