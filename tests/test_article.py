"""The article's equations on networks small enough to check by hand.

Part 4: dC0/dw_12^(L) = 2 (a_1^(L) - y_1) * g'^(L)(z_1^(L)) * a_2^(L-1)
Part 5: dC0/da_k^(L-1) = sum_j 2 (a_j^(L) - y_j) g'^(L)(z_j^(L)) w_jk^(L)
Conclusion: dC/dw = (1/n) sum_i dC_i/dw
"""

import math

import numpy as np
import pytest

import chainrule as cr

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on each computational path


def test_hand_worked_identity_network():
    # Identity activations and small integers: every number below is worked by hand.
    # Layer 1: z^(1) = W^(1) x = [1*1 + 0*2, 0*1 + 1*2, 1*1 + 1*2] = [1, 2, 3] = a^(1)
    # Layer 2: z^(2) = W^(2) a^(1) = [1*1 + 0*2 + 1*3, 0*1 + 1*2 - 1*3] = [4, -1] = a^(2)
    W1 = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    W2 = [[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]]
    net = cr.Network.from_weights([W1, W2], activation="identity")
    x, y = [[1.0, 2.0]], [[0.0, 1.0]]
    g = cr.gradients(net, x, y, loss="squared_error")
    assert g.trace.a[1].tolist() == [[1.0, 2.0, 3.0]]
    assert g.trace.a[2].tolist() == [[4.0, -1.0]]
    # C0 = (4 - 0)^2 + (-1 - 1)^2 = 16 + 4 = 20
    assert g.C == 20.0
    # Part 4, weight w_12^(2): 2(a_1 - y_1) * g'(z_1) * a_2^(1) = 2(-1 - 1) * 1 * 3 = -12
    assert g.dW[2][1, 2] == -12.0
    # Part 5, dC0/da_2^(1) = 2(4 - 0)*1*w_02 + 2(-1 - 1)*1*w_12 = 8*1 + (-4)*(-1) = 12
    assert g.dC0_da[1][0, 2] == 12.0
    # so dC0/dw_20^(1) = 12 * g'(z_2^(1)) * a_0^(0) = 12 * 1 * 1 = 12 and dC0/dw_21^(1) = 12 * 2 = 24
    assert g.dW[1][2].tolist() == [12.0, 24.0]


@pytest.fixture
def sigmoid_net():
    # The article's picture: at least 3 nodes in layer L-1 and 2 in layer L; sigmoid everywhere, no bias.
    W1 = np.array([[0.1, -0.2], [0.4, 0.3], [-0.5, 0.6]])
    W2 = np.array([[0.7, -0.1, 0.2], [-0.3, 0.8, 0.5]])
    return cr.Network.from_weights([W1, W2], activation="sigmoid"), W1, W2


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_three_terms_for_output_weight(sigmoid_net):
    net, W1, W2 = sigmoid_net
    x, y = [0.9, -0.4], [0.0, 1.0]
    # Forward pass, one scalar sum at a time: z_j^(l) = sum_k w_jk^(l) a_k^(l-1)
    a1 = [_sigmoid(sum(W1[j][k] * x[k] for k in range(2))) for j in range(3)]
    z2 = [sum(W2[j][k] * a1[k] for k in range(3)) for j in range(2)]
    a2 = [_sigmoid(v) for v in z2]
    term1 = 2 * (a2[1] - y[1])  # dC0/da_1^(L)
    term2 = _sigmoid(z2[1]) * (1 - _sigmoid(z2[1]))  # g'^(L)(z_1^(L))
    term3 = a1[2]  # a_2^(L-1)
    g = cr.gradients(net, [x], [y], fused=False)
    assert g.dW[2][1, 2] == pytest.approx(term1 * term2 * term3, rel=1e-14)
    # the three factors are also there as separate arrays on the explaining path
    assert g.dC0_da[2][0, 1] == pytest.approx(term1, rel=1e-14)
    assert g.g_prime[2][0, 1] == pytest.approx(term2, rel=1e-14)
    assert g.trace.a[1][0, 2] == pytest.approx(term3, rel=1e-14)


def test_part5_sum_for_hidden_weight(sigmoid_net):
    net, W1, W2 = sigmoid_net
    x, y = [0.9, -0.4], [0.0, 1.0]
    z1 = [sum(W1[j][k] * x[k] for k in range(2)) for j in range(3)]
    a1 = [_sigmoid(v) for v in z1]
    z2 = [sum(W2[j][k] * a1[k] for k in range(3)) for j in range(2)]
    a2 = [_sigmoid(v) for v in z2]
    # dC0/da_2^(L-1) = sum_j 2 (a_j^(L) - y_j) g'(z_j^(L)) w_j2^(L)
    dC0_da2 = sum(2 * (a2[j] - y[j]) * a2[j] * (1 - a2[j]) * W2[j][2] for j in range(2))
    # dC0/dw_20^(L-1) = dC0/da_2^(L-1) * g'(z_2^(L-1)) * a_0^(L-2)
    expected = dC0_da2 * a1[2] * (1 - a1[2]) * x[0]
    g = cr.gradients(net, [x], [y])
    assert g.dC0_da[1][0, 2] == pytest.approx(dC0_da2, rel=1e-14)
    assert g.dW[1][2, 0] == pytest.approx(expected, rel=1e-14)


def test_mean_over_n_samples_is_average_of_per_sample(sigmoid_net):
    net, _, _ = sigmoid_net
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(6, 2)), rng.uniform(size=(6, 2))
    per = [cr.gradients(net, X[i : i + 1], Y[i : i + 1]).dW[2][1, 2] for i in range(6)]
    # dC/dw_12^(L) = (1/n) sum_i dC_i/dw_12^(L)
    assert cr.gradients(net, X, Y).dW[2][1, 2] == pytest.approx(sum(per) / 6, rel=1e-13)
    ps = cr.gradients(net, X, Y, per_sample=True)
    np.testing.assert_allclose(ps.dW[2][:, 1, 2], per, rtol=1e-13)


def test_general_output_weight_formula_for_every_jk(sigmoid_net):
    net, _, _ = sigmoid_net
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(1, 2)), rng.uniform(size=(1, 2))
    g = cr.gradients(net, x, y)
    a_L, a_prev = g.trace.a[2][0], g.trace.a[1][0]
    for j in range(2):
        for k in range(3):
            expected = 2 * (a_L[j] - y[0, j]) * a_L[j] * (1 - a_L[j]) * a_prev[k]
            assert g.dW[2][j, k] == pytest.approx(expected, rel=1e-13)
