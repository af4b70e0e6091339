"""The picture of an explanation: readable for small and wide networks, measured after drawing."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import article_example, load_dataset

pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from chainrule.plot import plot_explanation  # noqa: E402


def _drawn(fig):
    """The node circles ``(cx, cy, r)`` and the label boxes ``(text, Bbox)`` in display pixels,
    after drawing; node numbers (written inside their circles) are returned apart."""
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    circles = []
    for c in ax.patches:
        if isinstance(c, Circle):
            cx, cy = ax.transData.transform(c.center)
            r = ax.transData.transform((c.center[0] + c.radius, c.center[1]))[0] - cx
            circles.append((cx, cy, r))
    labels, numbers = [], []
    for t in [*ax.texts, ax.title]:
        if not t.get_text() or not t.get_visible():
            continue
        bb = t.get_window_extent(renderer)
        if t.get_bbox_patch() is not None:
            bb = Bbox.union([bb, t.get_bbox_patch().get_window_extent(renderer)])
        (numbers if t.get_gid() == "node-number" else labels).append((t.get_text(), bb))
    images = [("image", im.get_window_extent(renderer)) for im in ax.images]
    return circles, labels, numbers, images


def _hits(circle, bb):
    cx, cy, r = circle
    dx, dy = max(bb.x0 - cx, 0.0, cx - bb.x1), max(bb.y0 - cy, 0.0, cy - bb.y1)
    return dx * dx + dy * dy < r * r


def _overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def assert_readable(fig):
    """No label or image covers a node circle or another label; every node number fits in its circle."""
    circles, labels, numbers, images = _drawn(fig)
    assert circles and labels
    boxes = labels + images
    for c, (text, bb) in itertools.product(circles, boxes):
        assert not _hits(c, bb), f"{text!r} covers the node at {c}"
    for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):
        assert not _overlap(b1, b2), f"{t1!r} and {t2!r} overlap"
    for text, bb in numbers:
        assert any(_hits(c, bb) and bb.width < 2 * c[2] and bb.height < 2 * c[2] for c in circles), text
    # every box lies in the figure
    W, H = fig.canvas.get_width_height()
    for text, bb in boxes:
        assert bb.x0 >= 0 and bb.y0 >= 0 and bb.x1 <= W and bb.y1 <= H, f"{text!r} is cut off"


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


@pytest.fixture(scope="module")
def digits_net():
    """A 64-64-10 network as ``chainrule train`` builds it on the digits (trained a little)."""
    X, y = load_dataset("digits")
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    net = cr.Network([64, 64, 10], activation="relu", output_activation="softmax", seed=0)
    cr.fit(net, X[:300], y[:300], loss="cross_entropy", epochs=2, batch_size=32, verbose=0)
    return net, X[300:303], y[300:303], load_dataset("digits")[0][300:303]


@pytest.fixture(scope="module")
def mnist_net():
    rng = np.random.default_rng(0)
    img = np.zeros((28, 28))
    img[6:22, 12:16] = 1.0
    net = cr.Network([784, 128, 64, 10], activation="relu", output_activation="softmax", seed=1)
    return net, (img + 0.05 * rng.random((28, 28))).ravel()


def test_the_articles_weight_on_2_3_2(tmp_path):
    net, x, y = article_example()
    e = cr.explain(net, x, y, layer=2, j=1, k=2)
    fig = plot_explanation(e, tmp_path / "w.png")
    assert_readable(fig)
    title = fig.axes[0].get_title()
    for value in (e.term1[0], e.term2[0], e.term3[0], e.products[0]):  # the three factors and the product
        assert f"{value:.6g}".lstrip("-") in title
    assert r"\partial C_0/\partial a_{1}^{(2)}" in title and r"\partial z_{1}^{(2)}/\partial w_{1,2}^{(2)}" in title
    texts = _texts(fig)
    assert any("w_{1,2}^{(2)} = 0.5" in t for t in texts)
    assert any("term 3" in t and f"{e.term3[0]:.4g}" in t for t in texts)
    assert any("term 1" in t and "term 2" in t for t in texts)
    heads = [t for t in texts if t.startswith("layer")]
    assert [h.split("\n")[0] for h in heads] == ["layer 0: input", "layer 1", "layer 2 = L: output"]
    numbers = sorted(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "node-number")
    assert numbers == sorted(["0", "1", "0", "1", "2", "0", "1"])  # every node, numbered from 0
    assert not any("more" in t for t in texts)


def test_hidden_weight_and_bias_on_2_3_2():
    net, x, y = article_example()
    e = cr.explain(net, x, y, layer=1, j=2, k=0)
    fig = plot_explanation(e)
    assert_readable(fig)
    assert any("a sum over the 2 nodes of layer 2" in t for t in _texts(fig))
    net = cr.Network([2, 3, 2], activation="sigmoid", seed=0)
    e = cr.explain(net, x, y, layer=1, j=1, bias=True)
    fig = plot_explanation(e)
    assert_readable(fig)
    title = fig.axes[0].get_title()
    assert r"\partial C_0/\partial b_{1}^{(1)}" in title and f"{e.products[0]:.6g}".lstrip("-") in title
    assert any("b_{1}^{(1)} = " in t and r"\partial z_{1}^{(1)}/\partial b_{1}^{(1)} = 1" in t for t in _texts(fig))


def test_two_digit_nodes_are_unambiguous_in_the_picture():
    net = cr.Network([13, 7, 14, 3], activation="tanh", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(1, 13)), np.zeros((1, 3))
    fig = plot_explanation(cr.explain(net, X, Y, layer=1, j=6, k=12))
    assert_readable(fig)
    assert any("$w_{6,12}^{(1)} = " in t for t in _texts(fig))
    assert r"\partial w_{6,12}^{(1)}" in fig.axes[0].get_title()
    assert not any("w_{612}" in t for t in [*_texts(fig), fig.axes[0].get_title()])


def test_64_64_10_is_a_neighbourhood_that_uses_the_width(digits_net, tmp_path):
    net, X, y, raw = digits_net
    e = cr.explain(net, X[:1], y[:1], layer=2, j=6, k=12, loss="cross_entropy")
    fig = plot_explanation(e, tmp_path / "n.png", x=raw[0])
    assert_readable(fig)
    w, h = fig.get_size_inches()
    assert w > 1.5 * h  # no longer a narrow column of 64 nodes with the width blank
    ax = fig.axes[0]
    assert ax.get_position().width > 0.99
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) < 30  # not 138 nodes
    numbers = {t.get_text() for t in ax.texts if t.get_gid() == "node-number"}
    assert {"0", "11", "12", "13", "63", "6"} <= numbers  # k, its neighbours, the first and last, j
    more = [t for t in _texts(fig) if "more" in t]
    assert more and all(t.startswith("\u22ee\n") for t in more)
    shown_0 = sum(1 for c in circles if abs(c.center[0] - min(p.center[0] for p in circles)) < 1e-9)
    assert sum(int(t.split("\n")[1].split()[0]) for t in more[:1]) + shown_0 <= 64
    # the input drawn as the 8x8 image it is
    (image,) = ax.images
    assert image.get_array().shape == (8, 8)
    np.testing.assert_array_equal(image.get_array(), raw[0].reshape(8, 8))
    # the softmax output: terms 1 and 2 are one sum, and the title says so with numbers, no ellipsis
    title = ax.get_title()
    for value in (e.delta[0], e.term3[0], e.products[0]):
        assert _in_title(value, title)
    assert "ldots" not in title and "\u2026" not in title and r"\sum_m" in title


def _in_title(value, title):
    from chainrule.plot import _tex

    return _tex(value, 6).lstrip("-") in title


def test_64_64_10_layer_1_marks_the_input_pixel(digits_net):
    net, X, y, raw = digits_net
    e = cr.explain(net, X, y, layer=1, j=6, k=12, loss="cross_entropy")
    fig = plot_explanation(e, x=raw, sample=2, color_by_gradient=True)  # x: the X given to explain
    assert_readable(fig)
    assert len(fig.axes) == 2  # the network and its colour bar
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), raw[2].reshape(8, 8))
    assert any("node 12 = row 1, column 4" in t for t in _texts(fig))
    title = ax.get_title()
    for value in (e.term1[2], e.term2[2], e.term3[2], e.products[2], e.mean):
        assert _in_title(value, title)
    assert "(sample 2)" in title and "mean over the 3 samples" in title


@pytest.mark.parametrize("layer,j,k", [(1, 100, 406), (2, 6, 100), (3, 1, 60), (2, 6, None)])
def test_784_128_64_10(mnist_net, tmp_path, layer, j, k):
    net, x = mnist_net
    e = cr.explain(net, x, 1, layer=layer, j=j, k=k, bias=k is None, loss="cross_entropy")
    fig = plot_explanation(e, tmp_path / "m.png", x=x)
    assert_readable(fig)
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (28, 28)
    assert len([p for p in ax.patches if isinstance(p, Circle)]) <= 4 * 12
    assert any(t.startswith("layer 0: input\n784 nodes") for t in _texts(fig))
    numbers = {t.get_text() for t in ax.texts if t.get_gid() == "node-number"}
    assert str(j) in numbers and (k is None or str(k) in numbers) and "783" in numbers
    assert fig.get_size_inches()[0] < 25


def test_x_of_the_wrong_shape_is_refused():
    net, x, y = article_example()
    e = cr.explain(net, x, y, layer=2, j=1, k=2)
    with pytest.raises(cr.ChainruleError, match=r"x has the shape \(3,\); give the drawn sample's 2 inputs"):
        plot_explanation(e, x=[1.0, 2.0, 3.0])
    assert not plot_explanation(e, x=[1.0, 2.0]).axes[0].images  # 2 inputs are no image
