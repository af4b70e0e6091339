"""Each optimizer's update rule against hand-computed steps, and against torch.optim."""

import math

import numpy as np
import pytest

import chainrule as cr


def _net(dtype=np.float64):
    return cr.Network.from_weights([[[1.0, -2.0]]], [[0.5]], activation="identity", dtype=dtype)


G1 = ({1: np.array([[0.2, -0.4]])}, {1: np.array([1.0])})
G2 = ({1: np.array([[-0.6, 0.1]])}, {1: np.array([-2.0])})


def test_sgd_is_w_minus_lr_g():
    net = _net()
    cr.SGD(lr=0.5).step(net, *G1)
    np.testing.assert_allclose(net.W[1], [[1.0 - 0.1, -2.0 + 0.2]])
    np.testing.assert_allclose(net.b[1], [0.5 - 0.5])


def test_momentum_two_steps_by_hand():
    net, lr, mu = _net(), 0.1, 0.9
    opt = cr.SGD(lr=lr, momentum=mu)
    opt.step(net, *G1)  # v1 = g1
    opt.step(net, *G2)  # v2 = mu g1 + g2
    w0, g1, g2 = np.array([1.0, -2.0]), np.array([0.2, -0.4]), np.array([-0.6, 0.1])
    w2 = w0 - lr * g1 - lr * (mu * g1 + g2)
    np.testing.assert_allclose(net.W[1][0], w2, rtol=1e-15)
    np.testing.assert_allclose(net.b[1], [0.5 - lr * 1.0 - lr * (mu * 1.0 - 2.0)], rtol=1e-15)


def test_nesterov_two_steps_by_hand():
    net, lr, mu = _net(), 0.1, 0.9
    opt = cr.SGD(lr=lr, momentum=mu, nesterov=True)
    opt.step(net, *G1)
    opt.step(net, *G2)
    w0, g1, g2 = np.array([1.0, -2.0]), np.array([0.2, -0.4]), np.array([-0.6, 0.1])
    w1 = w0 - lr * (g1 + mu * g1)
    v2 = mu * g1 + g2
    np.testing.assert_allclose(net.W[1][0], w1 - lr * (g2 + mu * v2), rtol=1e-15)


def test_weight_decay_applies_to_weights_not_biases():
    net = _net()
    cr.SGD(lr=0.1, weight_decay=0.01).step(net, *G1)
    w0 = np.array([1.0, -2.0])
    np.testing.assert_allclose(net.W[1][0], w0 - 0.1 * (np.array([0.2, -0.4]) + 0.01 * w0), rtol=1e-15)
    np.testing.assert_allclose(net.b[1], [0.5 - 0.1], rtol=1e-15)


def test_adam_two_steps_by_hand():
    net, lr, b1, b2, eps = _net(), 0.01, 0.9, 0.999, 1e-8
    opt = cr.Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)
    opt.step(net, *G1)
    opt.step(net, *G2)
    w = np.array([1.0, -2.0])
    m = v = np.zeros(2)
    for t, g in ((1, np.array([0.2, -0.4])), (2, np.array([-0.6, 0.1]))):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(net.W[1][0], w, rtol=1e-14)


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (lambda: cr.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3), "sgd"),
        (lambda: cr.Adam(lr=0.01, weight_decay=1e-3), "adam"),
    ],
)
def test_ten_steps_match_torch_optim(ours, theirs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    net = cr.Network([3, 4, 2], activation="tanh", seed=0)
    net.b[1] = rng.normal(size=4)
    Ws = [torch.tensor(W.copy(), requires_grad=True) for W in net.W]
    bs = [torch.tensor(b.copy(), requires_grad=True) for b in net.b]
    groups = [{"params": Ws, "weight_decay": 1e-3}, {"params": bs, "weight_decay": 0.0}]
    if theirs == "sgd":
        topt = torch.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=True)
    else:
        # torch's Adam adds weight decay to the gradient (L2), as chainrule does
        topt = torch.optim.Adam(groups, lr=0.01)
    opt = ours()
    for _ in range(10):
        X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
        g = cr.gradients(net, X, Y)
        opt.step(net, g.dW, g.db)
        topt.zero_grad()
        for p, d in zip(Ws + bs, [*g.dW, *g.db]):
            p.grad = torch.tensor(d)
        topt.step()
    for l in (1, 2):
        np.testing.assert_allclose(net.W[l], Ws[l - 1].detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(net.b[l], bs[l - 1].detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("opt", [lambda: cr.SGD(lr=0.1, momentum=0.9), lambda: cr.Adam()])
def test_float32_stays_float32(opt):
    net = _net(np.float32)
    g = cr.gradients(net, [[1.0, 2.0]], [[0.0]])
    o = opt()
    o.step(net, g.dW, g.db)
    o.step(net, g.dW, g.db)
    assert net.W[1].dtype == np.float32 and net.b[1].dtype == np.float32


def test_updates_are_in_place():
    net = _net()
    W = net.W[1]
    cr.Adam().step(net, *G1)
    assert net.W[1] is W


def test_schedules():
    assert [cr.StepLR(2, 0.5).factor(e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert cr.ExponentialLR(0.9).factor(3) == pytest.approx(0.729)
    c = cr.CosineLR(10, min_factor=0.1)
    assert c.factor(0) == 1 and c.factor(10) == pytest.approx(0.1) and c.factor(5) == pytest.approx(0.55)
    assert c.factor(20) == pytest.approx(0.1)
    opt = cr.SGD(lr=0.2, schedule=cr.StepLR(1, 0.5))
    opt.set_epoch(2)
    assert opt.current_lr == pytest.approx(0.05)
    assert math.isclose(cr.SGD(lr=0.2).current_lr, 0.2)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: cr.SGD(lr=0), r"lr must be a finite number > 0"),
        (lambda: cr.SGD(lr=0.1, momentum=1.0), r"momentum must be a finite number >= 0 and < 1; got 1.0"),
        (lambda: cr.SGD(lr=0.1, nesterov=True), r"nesterov=True needs a momentum > 0"),
        (lambda: cr.Adam(beta1=1.0), r"beta1 must be a finite number >= 0 and < 1; got 1.0"),
        (lambda: cr.StepLR(0), r"step_size must be a whole number >= 1; got 0"),
        (lambda: cr.optim.get_optimizer("rmsprop"), r"unknown optimizer 'rmsprop'; valid names: adam, sgd"),
    ],
)
def test_bad_settings(make, match):
    with pytest.raises(cr.ChainruleError, match=match):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: cr.Adam(lr=0.01, weight_decay=0.01),
        lambda: cr.SGD(lr=0.3),
    ],
)
@pytest.mark.parametrize("bias", [True, False])
def test_step_flat_is_step_on_one_vector(make, bias):
    rng = np.random.default_rng(0)
    a = cr.Network([3, 4, 2], activation="tanh", bias=bias, seed=0)
    b = a.copy()
    per_layer, flat = make(), make()
    for _ in range(3):
        X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
        g = cr.gradients(a, X, Y)
        per_layer.step(a, g.dW, g.db)
        flat.step_flat(b, cr.gradients(b, X, Y).flat())
    for (_, _, p), (_, _, q) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p, q, rtol=1e-14, atol=1e-16)
