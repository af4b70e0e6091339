"""Each activation's g and g' as a pair: g against the plain formula, g' against central differences of g."""

import numpy as np
import pytest
from conftest import ref_g

import chainrule as cr
from chainrule.activations import _LOG_MAX, Exp, LeakyReLU, Sigmoid, Softmax

ELEMENTWISE = sorted(n for n, c in cr.ACTIVATIONS.items() if c.elementwise)


@pytest.mark.parametrize("name", sorted(cr.ACTIVATIONS))
def test_g_matches_formula(name):
    z = np.random.default_rng(0).normal(scale=3, size=(6, 5))
    np.testing.assert_allclose(cr.get_activation(name).g(z), ref_g(name, z), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_g_prime_matches_finite_differences(name):
    g = cr.get_activation(name)
    z = np.random.default_rng(1).normal(scale=2, size=(4, 7))
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the relu kink
    h = 1e-6
    fd = (g.g(z + h) - g.g(z - h)) / (2 * h)
    np.testing.assert_allclose(g.g_prime(z, g.g(z)), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(cr.ACTIVATIONS))
def test_jacobian_matches_finite_differences(name):
    g = cr.get_activation(name)
    z = np.random.default_rng(2).normal(size=(3, 4))
    z[np.abs(z) < 1e-3] = 0.5
    J = g.jacobian(z, g.g(z))
    h = 1e-6
    for m in range(4):
        e = np.zeros(4)
        e[m] = h
        fd = (g.g(z + e) - g.g(z - e)) / (2 * h)  # column m: da_j/dz_m
        np.testing.assert_allclose(J[:, :, m], fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(cr.ACTIVATIONS))
def test_backward_is_jacobian_vector_product(name):
    """The fused backward equals the chain rule with the full Jacobian: delta_m = sum_j dC0/da_j da_j/dz_m."""
    g = cr.get_activation(name)
    rng = np.random.default_rng(3)
    z, v = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    a = g.g(z)
    v_before = v.copy()
    np.testing.assert_allclose(
        g.backward(z, a, v), np.einsum("nj,njm->nm", v, g.jacobian(z, a)), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_array_equal(v, v_before)  # dC0/da is not overwritten


def test_relu_derivative_at_zero_is_zero():
    g = cr.get_activation("relu")
    z = np.array([[-1.0, 0.0, 2.0]])
    assert g.g_prime(z, g.g(z)).tolist() == [[0.0, 0.0, 1.0]]
    assert g.backward(z, g.g(z), np.ones((1, 3))).tolist() == [[0.0, 0.0, 1.0]]


def test_leaky_relu_slope_parameter():
    g = LeakyReLU(alpha=0.2)
    z = np.array([[-2.0, 0.0, 3.0]])
    assert g.g(z).tolist() == [[-0.4, 0.0, 3.0]]
    assert g.g_prime(z, g.g(z)).tolist() == [[0.2, 0.2, 1.0]]
    assert cr.get_activation({"name": "leaky_relu", "alpha": 0.2}) == g
    assert g != LeakyReLU()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_large_z(dtype):
    z = np.array([[-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow warning escapes
        a = Sigmoid().g(z)
    assert a.dtype == dtype
    assert np.isfinite(a).all()
    assert 0 <= a[0, 0] < np.finfo(dtype).tiny and 0 <= a[0, 1] < np.finfo(dtype).tiny  # the true value underflows
    assert a[0, -1] == 1 and a[0, 3] == 0.5
    if dtype == np.float64:
        assert a[0, 2] == pytest.approx(np.exp(-40.0), rel=1e-14)  # accurate in the tail, not just finite


def test_softmax_is_stable_and_sums_to_one():
    z = np.array([[1000.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]])
    a = Softmax().g(z)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    np.testing.assert_allclose(a[0], [0.5, 0.5, 0.0])


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(cr.ChainruleError, match=r"softmax is not elementwise.*jacobian"):
        Softmax().g_prime(np.zeros((1, 2)), np.full((1, 2), 0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_is_e_to_the_z_and_its_own_derivative(dtype):
    g = Exp()
    z = np.random.default_rng(6).normal(scale=3, size=(5, 4)).astype(dtype)
    a = g.g(z)
    assert a.dtype == dtype and g.init == "glorot" and g.elementwise
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(a, np.exp(z.astype(np.float64)), rtol=rtol)
    gp = g.g_prime(z, a)
    assert gp.dtype == dtype and gp is not a
    np.testing.assert_array_equal(gp, a)  # g'(z) = e^z = a
    h = 1e-6  # g' against central differences, in float64
    z64 = z.astype(np.float64)
    fd = (g.g(z64 + h) - g.g(z64 - h)) / (2 * h)
    np.testing.assert_allclose(a, fd, rtol=1e-6 if dtype == np.float32 else 1e-8)
    v = np.random.default_rng(7).normal(size=z.shape).astype(dtype)
    np.testing.assert_array_equal(g.backward(z, a, v), a * v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_caps_z_just_below_overflow(dtype):
    cap = _LOG_MAX[np.dtype(dtype).char]
    z = np.array([[-1e4, -800.0, -40.0, 0.0, 40.0, cap, cap + 0.5, 800.0, 1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow warning escapes
        a = Exp().g(z)
        gp = Exp().g_prime(z, a)
    assert a.dtype == dtype and np.isfinite(a).all() and np.isfinite(gp).all()
    top = np.exp(dtype(cap))  # e^cap: 0.99 of the largest float, the most a can be
    assert np.isfinite(top) and top > 0.98 * np.finfo(dtype).max
    assert (a[0, 5:] == top).all()  # e^z is beyond the dtype above the cap: a saturates there
    assert a[0, 0] == 0 and a[0, 1] == 0  # e^z underflows, as it does
    assert a[0, 3] == 1
    assert a[0, 4] == pytest.approx(np.exp(40.0), rel=1e-14 if dtype == np.float64 else 1e-6)


def test_softplus_is_stable():
    g = cr.get_activation("softplus")
    z = np.array([[-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(g.g(z), [[0.0, np.log(2.0), 1000.0]])


@pytest.mark.parametrize("name", sorted(cr.ACTIVATIONS))
def test_float32_stays_float32(name):
    g = cr.get_activation(name)
    z = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    a = g.g(z)
    assert a.dtype == np.float32
    assert g.backward(z, a, np.ones_like(z)).dtype == np.float32
    assert g.jacobian(z, a).dtype == np.float32
    if g.elementwise:
        assert g.g_prime(z, a).dtype == np.float32


def test_registry_names_and_repr():
    assert sorted(cr.ACTIVATIONS) == [
        "exp",
        "identity",
        "leaky_relu",
        "relu",
        "sigmoid",
        "softmax",
        "softplus",
        "tanh",
    ]
    for name in cr.ACTIVATIONS:
        g = cr.get_activation(name)
        assert g.name == name and str(g) == name
    assert repr(LeakyReLU(0.1)) == "LeakyReLU(alpha=0.1)"
    assert cr.get_activation("SIGMOID") == Sigmoid()


@pytest.mark.parametrize("name", sorted(cr.ACTIVATIONS))
def test_out_buffers_give_the_same_values(name):
    g = cr.get_activation(name)
    rng = np.random.default_rng(5)
    z, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    a = g.g(z)
    out = np.full_like(z, np.nan)
    assert g.g(z, out=out) is out
    np.testing.assert_array_equal(out, a)
    out = np.full_like(z, np.nan)
    assert g.backward(z, a, v, out=out) is out
    np.testing.assert_array_equal(out, g.backward(z, a, v))
