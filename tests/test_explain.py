"""explain(): every factor computed independently here, by plain formulas, on fixed small networks."""

import itertools
import re

import numpy as np
import pytest
from conftest import ref_dC0_da, ref_g, ref_g_prime, ref_softmax_jacobian

import chainrule as cr
from chainrule.render import num

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on each computational path

ACTS = sorted(cr.ACTIVATIONS)
LOSS_OUTPUT = [("squared_error", a) for a in ACTS] + [
    ("mse", "tanh"),
    ("mse", "softmax"),
    ("cross_entropy", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
    ("poisson", "exp"),
]


def _problem(depth, hidden, out, loss, seed, n=3):
    rng = np.random.default_rng(seed)
    sizes = [3] + [4] * (depth - 1) + [3]
    net = cr.Network(sizes, activation=hidden, output_activation=out, seed=seed)
    for l in range(1, net.L + 1):
        net.b[l] = rng.normal(scale=0.3, size=sizes[l])
        if l > 1 and net.g[l - 1].name == "exp":  # e^(e^(e^z)) would overflow: tame what follows an exp layer
            net.W[l] = net.W[l] / 10
    X = rng.normal(size=(n, 3))
    if loss == "cross_entropy":
        Y = np.eye(3)[rng.integers(0, 3, size=n)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=(n, 3)).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(1.0, size=(n, 3)).astype(float)
    else:
        Y = rng.normal(size=(n, 3))
    return net, X, Y


def _reference(net, x, y, loss):
    """One sample: z, a per layer and dC0/da, delta per layer, by the article's recursion."""
    acts = [g.name for g in net.g]
    a, z = {0: x}, {}
    for l in range(1, net.L + 1):
        z[l] = net.W[l] @ a[l - 1] + net.b[l]  # z_j = sum_k w_jk a_k + b_j
        a[l] = ref_g(acts[l - 1], z[l][None])[0]
    dC0_da, delta = {net.L: ref_dC0_da(loss, a[net.L], y)}, {}
    for l in range(net.L, 0, -1):
        if acts[l - 1] == "softmax":
            delta[l] = ref_softmax_jacobian(a[l]).T @ dC0_da[l]  # sum_m dC0/da_m da_m/dz_j
        else:
            delta[l] = dC0_da[l] * ref_g_prime(acts[l - 1], z[l][None])[0]
        if l > 1:
            # Part 5: dC0/da_k^(l-1) = sum_j w_jk^(l) g'(z_j^(l)) dC0/da_j^(l)
            dC0_da[l - 1] = np.array(
                [sum(net.W[l][m, k] * delta[l][m] for m in range(len(delta[l]))) for k in range(len(a[l - 1]))]
            )
    return z, a, dC0_da, delta


CASES = [(d, h, o, loss) for d in (1, 2, 4) for h in ACTS for loss, o in LOSS_OUTPUT if d > 1 or h == "tanh"]


@pytest.mark.parametrize("depth,hidden,out,loss", CASES)
def test_terms_match_independent_formulas_at_every_layer(depth, hidden, out, loss):
    seed = depth * 1000 + len(hidden) * 10 + len(out) + len(loss)
    net, X, Y = _problem(depth, hidden, out, loss, seed)
    grads = cr.gradients(net, X, Y, loss=loss)
    refs = [_reference(net, X[i], Y[i], loss) for i in range(len(X))]
    rng = np.random.default_rng(seed)
    for l in range(1, net.L + 1):
        j, k = int(rng.integers(net.sizes[l])), int(rng.integers(net.sizes[l - 1]))
        e = cr.explain(net, X, Y, layer=l, j=j, k=k, loss=loss)
        for i, (z, a, dC0_da, delta) in enumerate(refs):
            assert e.term1[i] == pytest.approx(dC0_da[l][j], rel=1e-10, abs=1e-14)
            if net.g[l].name != "softmax":
                assert e.term2[i] == pytest.approx(ref_g_prime(net.g[l].name, z[l][None])[0][j], rel=1e-10, abs=1e-14)
            assert e.term3[i] == pytest.approx(a[l - 1][k], rel=1e-12, abs=1e-15)
            assert e.delta[i] == pytest.approx(delta[l][j], rel=1e-10, abs=1e-14)
            assert e.products[i] == pytest.approx(delta[l][j] * a[l - 1][k], rel=1e-10, abs=1e-14)
            if l < net.L:  # every summand of the hidden-layer sum, and their total
                assert len(e.hidden_sum) == net.sizes[l + 1]
                for s in e.hidden_sum:
                    assert s.value[i] == pytest.approx(net.W[l + 1][s.m, j] * delta[l + 1][s.m], rel=1e-10, abs=1e-14)
                assert sum(s.value[i] for s in e.hidden_sum) == pytest.approx(e.term1[i], rel=1e-10, abs=1e-14)
        # the mean over the samples equals backprop's entry and the finite difference
        assert e.mean == pytest.approx(float(grads.dW[l][j, k]), rel=1e-12, abs=1e-15)
        assert e.backprop == pytest.approx(float(grads.dW[l][j, k]), rel=1e-12, abs=1e-15)
        assert e.finite_difference == pytest.approx(e.mean, rel=1e-5, abs=1e-9)


def test_article_weight_w12_of_layer_L():
    W1 = np.array([[0.1, -0.2], [0.4, 0.3], [-0.5, 0.6]])
    W2 = np.array([[0.7, -0.1, 0.2], [-0.3, 0.8, 0.5]])
    net = cr.Network.from_weights([W1, W2], activation="sigmoid")
    x, y = np.array([0.9, -0.4]), np.array([0.0, 1.0])
    e = cr.explain(net, x, y, layer=2, j=1, k=2)
    a1 = 1 / (1 + np.exp(-(W1 @ x)))
    a2 = 1 / (1 + np.exp(-(W2 @ a1)))
    assert e.term1[0] == pytest.approx(2 * (a2[1] - y[1]), rel=1e-14)
    assert e.term2[0] == pytest.approx(a2[1] * (1 - a2[1]), rel=1e-14)
    assert e.term3[0] == pytest.approx(a1[2], rel=1e-14)
    assert e.products[0] == pytest.approx(2 * (a2[1] - y[1]) * a2[1] * (1 - a2[1]) * a1[2], rel=1e-14)
    assert e.describe() == "from node 2 of layer 1 to node 1 of layer 2"
    assert e.symbol == "w_{1,2}^(2)" and e.weight == 0.5


def test_bias_third_term_is_one():
    net, X, Y = _problem(2, "tanh", "sigmoid", "squared_error", 3)
    e = cr.explain(net, X, Y, layer=1, j=2, bias=True)
    assert e.bias and e.k is None and (e.term3 == 1).all()
    assert e.mean == pytest.approx(float(cr.gradients(net, X, Y).db[1][2]), rel=1e-12)
    assert e.describe() == "the bias of node 2 of layer 1" and e.symbol == "b_2^(1)"
    assert "b_2^(1)" in e.to_text()


def test_one_sample_of_several():
    net, X, Y = _problem(2, "tanh", "identity", "squared_error", 4, n=5)
    e = cr.explain(net, X, Y, layer=2, j=0, k=1, sample=3)
    assert e.samples == (3,) and e.n == 1
    assert e.mean == pytest.approx(float(cr.gradients(net, X[3:4], Y[3:4]).dW[2][0, 1]), rel=1e-12)


@pytest.mark.parametrize("layer,j", [(2, 1), (1, 2)])
def test_renderings_contain_the_numbers(layer, j):
    net, X, Y = _problem(2, "sigmoid", "sigmoid", "squared_error", 5, n=2)
    e = cr.explain(net, X, Y, layer=layer, j=j, k=1)
    for text in (e.to_text(), e.to_markdown(), e.to_latex()):
        for i in range(2):
            for value in (e.term1[i], e.term2[i], e.term3[i], e.products[i]):
                assert num(value) in text
        assert num(e.mean) in text and num(e.backprop) in text and num(e.finite_difference) in text
        assert "from node 1 of layer" in text
        if layer == 1:  # every summand of the hidden-layer sum is listed
            for s in e.hidden_sum:
                assert num(s.value[0]) in text
    text = e.to_text()
    assert f"dC0/dw_{{{j},1}}^({layer})" in text and "dC0/da" in text and f"g'^({layer})(z_{j}^({layer}))" in text


def test_two_digit_node_numbers_are_unambiguous():
    """w_jk with j = 6, k = 12 is w_{6,12}, never w_612 (which could be w_{61,2})."""
    net = cr.Network([13, 7, 14, 3], activation="tanh", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(2, 13)), np.zeros((2, 3))
    e = cr.explain(net, X, Y, layer=1, j=6, k=12)
    assert e.symbol == "w_{6,12}^(1)"
    text, markdown, latex = e.to_text(), e.to_markdown(), e.to_latex()
    for rendering in (text, markdown):
        assert "w_{6,12}^(1)" in rendering and "dC0/dw_{6,12}^(1)" in rendering
        assert "w_{m,6}^(2)" in rendering and "w_{13,6}^(2)" in rendering  # the hidden sum's weights
        assert "w_612" not in rendering and "w_m6" not in rendering and "w_136" not in rendering
    assert "### dC/dw_{6,12}^(1)" in markdown
    assert r"\partial w_{6,12}^{(1)}" in latex and r"w_{m,6}^{(2)}" in latex and r"w_{13,6}^{(2)}" in latex
    assert "w_{612}" not in latex
    b = cr.explain(net, X, Y, layer=2, j=13, bias=True)  # a bias has a single index: no comma
    assert b.symbol == "b_13^(2)" and "b_{13}^{(2)}" in b.to_latex()


def test_ten_digits_recompute_the_product():
    net, X, Y = _problem(1, "tanh", "tanh", "squared_error", 6, n=1)
    e = cr.explain(net, X, Y, layer=1, j=0, k=0)
    line = next(row for row in e.to_text().splitlines() if "product" in row)
    factors = [float(x) for x in re.findall(r"\(?(-?[\d.]+(?:e-?\d+)?)\)?", line.split("=")[2])]
    assert np.prod(factors) == pytest.approx(e.products[0], rel=1e-8)


def test_latex_structure_is_a_complete_amsmath_document():
    net, X, Y = _problem(2, "softmax", "softmax", "cross_entropy", 7, n=2)
    tex = cr.explain(net, X, Y, layer=1, j=1, k=0, loss="cross_entropy").to_latex()
    assert tex.startswith("\\documentclass{article}") and "\\usepackage{amsmath}" in tex
    assert tex.rstrip().endswith("\\end{document}")
    assert tex.count("\\begin{align*}") == tex.count("\\end{align*}") > 0
    depth = 0
    for ch in tex.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert "\\left(" not in tex or tex.count("\\left(") == tex.count("\\right)")
    body = cr.explain(net, X, Y, layer=1, j=1, k=0, loss="cross_entropy").to_latex(standalone=False)
    assert "\\documentclass" not in body and "\\begin{align*}" in body


def test_long_batches_are_summarised():
    net, X, Y = _problem(1, "tanh", "tanh", "squared_error", 8, n=20)
    text = cr.explain(net, X, Y, layer=1, j=0, k=0).to_text(max_samples=3)
    assert "Sample 2:" in text and "Sample 3:" not in text and "17 more samples" in text
    assert "(1/20)" in text


def test_poisson_renders_its_first_term():
    net, X, Y = _problem(2, "tanh", "exp", "poisson", 11, n=2)
    e = cr.explain(net, X, Y, layer=2, j=1, k=0, loss="poisson")
    text = e.to_text()
    assert "C0 = sum_j [y_j log(y_j / a_j) - y_j + a_j]" in text and "equals backprop's entry" in text
    assert "(1 - y_1 / a_1^(2))" in text and "exp(z_1^(2))" in text
    for i in range(2):
        assert e.term1[i] == pytest.approx(1 - Y[i, 1] / e.a[i], rel=1e-12)
        assert e.term2[i] == pytest.approx(e.a[i], rel=1e-15)
        assert e.delta[i] == pytest.approx(e.a[i] - Y[i, 1], rel=1e-10, abs=1e-15)  # the fused a - y
    tex = e.to_latex()
    assert r"1 - \frac{y_{1}}{a_{1}^{(2)}}" in tex and r"e^{z_{1}^{(2)}}" in tex


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"layer": 0, "j": 0, "k": 0},
            r"layer = 0 is out of range: weights and biases live in layers 1..2 \(layer 0 is the input layer",
        ),
        ({"layer": 3, "j": 0, "k": 0}, r"layer = 3 is out of range: weights and biases live in layers 1..2"),
        ({"layer": 2, "j": 3, "k": 0}, r"j = 3 is out of range: layer 2 has nodes 0..2"),
        ({"layer": 2, "j": 0, "k": 4}, r"k = 4 is out of range: layer 1 has nodes 0..3"),
        ({"layer": 1, "j": -1, "k": 0}, r"j = -1 is out of range: layer 1 has nodes 0..3"),
        ({"layer": 1, "j": 0}, r"k \(the node of layer 0 the weight comes from\) is needed"),
        ({"layer": 1, "j": 0, "k": 0, "sample": 9}, r"sample = 9 is out of range"),
        ({"layer": 1.5, "j": 0, "k": 0}, r"layer = 1.5 is out of range"),
    ],
)
def test_out_of_range_errors_name_the_valid_ranges(kwargs, match):
    net, X, Y = _problem(2, "tanh", "tanh", "squared_error", 9)
    with pytest.raises(cr.ChainruleError, match=match):
        cr.explain(net, X, Y, **kwargs)


def test_bias_on_a_network_without_biases():
    net = cr.Network([2, 2], bias=False, seed=0)
    with pytest.raises(cr.ChainruleError, match=r"this network has no biases"):
        cr.explain(net, [1.0, 2.0], [0.0, 1.0], layer=1, j=0, bias=True)


@pytest.mark.parametrize(
    "act,loss",
    list(itertools.product(["sigmoid", "relu", "leaky_relu", "softplus", "identity", "exp"], ["mse", "squared_error"])),
)
def test_every_activation_renders(act, loss):
    net, X, Y = _problem(2, act, act, loss, 10, n=1)
    e = cr.explain(net, X, Y, layer=1, j=0, k=0, loss=loss)
    text = e.to_text()
    assert "equals backprop's entry" in text
    assert net.g[1].g_prime_text.split("{")[0] in text


def test_a_custom_activation_is_explained_in_every_format():
    """An activation outside the registry has no g' formula to print; its explanation still renders."""
    from conftest import Cube

    net = cr.Network([2, 3, 1], activation=[Cube(), "identity"], seed=0)
    e = cr.explain(net, np.ones((1, 2)), np.zeros((1, 1)), 1, 0, 1)
    for text in (e.to_text(), e.to_markdown(), e.to_latex(), e.to_html()):
        assert "cube" in text or "g'" in text or "g^{" in text
    assert e.mean == pytest.approx(e.finite_difference, rel=1e-6)


def test_a_hidden_weight_below_a_softmax_layer_writes_its_sum_with_delta():
    """Layer l+1 softmax has no g'(z_m): the sum over it is written with dC0/dz_m, as its rows are."""
    net = cr.Network([2, 3, 2], activation="sigmoid", output_activation="softmax", seed=0)
    text = cr.explain(net, np.ones((1, 2)), np.array([1]), 1, 0, 1, loss="cross_entropy").to_text()
    chain = text.split("Sample 0")[0]
    assert "g'^(2)" not in chain and "sum_m w_{m,0}^(2) * dC0/dz_m^(2)" in chain
