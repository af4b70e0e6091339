"""The notebook displays (``_repr_html_``, ``_repr_markdown_``, ``_repr_latex_``): every number read back
from the HTML equals the object's own, the HTML is balanced, self-contained and escapes what it shows."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

import chainrule as cr
from chainrule import _html
from chainrule.activations import Sigmoid
from chainrule.gradcheck import GradcheckResult, GradcheckRow
from chainrule.losses import SquaredError
from chainrule.render import num
from chainrule.train import HTML_ROWS

EVIL = "<script>alert('x')</script>&<b onmouseover=\"y\">"
VOID = {"br", "hr", "img", "input", "meta", "link", "col", "area", "base", "embed", "param", "source", "track", "wbr"}


class Page(HTMLParser):
    """Checks that every tag closes in order; collects each table's rows of cell texts and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: set[str] = set()
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self.cell: list[str] | None = None
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs
        if tag not in VOID:
            self.open.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs

    def handle_endtag(self, tag):
        assert self.open, f"</{tag}> closes nothing"
        assert self.open[-1] == tag, f"</{tag}> closes <{self.open[-1]}>"
        self.open.pop()
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


def page(html: str) -> Page:
    """Parse ``html`` and check what every display must be: balanced, one block, self-contained."""
    assert isinstance(html, str) and html.startswith(f'<div class="{_html.CLASS}">')
    p = Page()
    p.feed(html)
    p.close()
    assert p.open == [], f"unclosed: {p.open}"
    lower = html.lower()
    assert "<script" not in lower and "http://" not in lower and "https://" not in lower
    assert "<style" not in lower and "javascript:" not in lower and "<link" not in lower and "<iframe" not in lower
    assert not [k for k, _ in p.attrs if k.startswith("on")]  # no event handlers
    assert "src" not in {k for k, _ in p.attrs} and "href" not in {k for k, _ in p.attrs}
    return p


def body(table: list[list[str]]) -> list[list[str]]:
    """The rows of a table after its header."""
    return table[1:]


def close(text: str, value: float, rtol: float = 5e-6) -> bool:
    return bool(np.isclose(float(text), value, rtol=rtol, atol=0))


def assert_escaped(html: str) -> None:
    assert EVIL not in html and "<script" not in html and "<b onmouseover" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&lt;b onmouseover=&quot;y&quot;&gt;" in html


class EvilSigmoid(Sigmoid):
    name = EVIL


class EvilLoss(SquaredError):
    name = EVIL


# ---------------------------------------------------------------- the shared helper
def test_helper_escapes_everything_but_its_own_markup():
    assert _html.esc(EVIL) == (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&lt;b onmouseover=&quot;y&quot;&gt;"
    )
    assert _html.esc(_html.tag("b", EVIL)).startswith("<b>&lt;script")  # markup built here is kept once
    assert _html.tag("td", "x", title=EVIL).startswith('<td title="&lt;script&gt;')
    assert _html.esc(None) == "" and _html.esc(-0.0) == "0" and _html.esc(np.int64(12)) == "12"
    assert _html.esc(True) == "True" and _html.number(1 / 3) == "0.333333"
    assert _html.cat("a", "<", _html.tag("sub", 1)) == "a&lt;<sub>1</sub>"


def test_table_leaves_out_the_middle_of_a_long_table_and_says_how_many():
    html = _html.block(_html.table(["i", "square"], [(i, i * i) for i in range(100)], caption="c", max_rows=6))
    (t,) = page(html).tables
    assert t[0] == ["i", "square"] and [r[0] for r in body(t)] == ["0", "1", "2", "… 94 more rows", "97", "98", "99"]
    assert 'colspan="2"' in html and "<caption>c</caption>" in html


def test_sparkline_draws_one_point_per_finite_value():
    svg = _html.sparkline({"loss": [3.0, 2.0, float("nan"), 1.0], "val_loss": [2.5, 2.0]})
    p = page(_html.block(svg))
    assert p.tags >= {"svg", "polyline", "title"} and svg.count("<polyline") == 2
    points = re.findall(r'points="([^"]*)"', svg)
    assert [len(ps.split()) for ps in points] == [3, 2] and 'stroke-dasharray="4 3"' in svg
    assert _html.sparkline({"loss": []}) == "" and _html.sparkline({"loss": [float("inf")]}) == ""
    assert page(_html.block(_html.sparkline({"loss": [1.0]}))).tags >= {"svg"}  # a single epoch: one point


# ---------------------------------------------------------------- Network
@pytest.mark.parametrize("bias", [True, False])
def test_network_html_lists_every_layer(bias):
    net = cr.Network([3, 5, 4, 2], activation=["relu", "leaky_relu", "softmax"], bias=bias, dtype=np.float32, seed=0)
    html = net._repr_html_()
    p = page(html)
    (t,) = p.tables
    rows = body(t)
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    assert [int(r[1]) for r in rows] == list(net.sizes)
    assert [r[2] for r in rows] == ["input", "relu", "leaky_relu(alpha=0.01)", "softmax"]
    assert [r[3] for r in rows[1:]] == [str(net.W[l].shape) for l in range(1, 4)]
    assert [r[4] for r in rows[1:]] == ([str(net.b[l].shape) for l in range(1, 4)] if bias else ["", "", ""])
    counts = [int(r[5]) for r in rows]
    assert counts[0] == 0 and sum(counts) == net.n_params
    text = "".join(p.text)
    assert f"{net.n_params} parameters" in text and "dtype float32" in text and f"L = {net.L}" in text
    assert repr(net) == "Network([3, 5, 4, 2], activation=['relu', 'leaky_relu', 'softmax'], " + (
        f"bias={bias}, dtype=float32)"
    )


def test_network_html_escapes_an_activation_name():
    net = cr.Network([2, 2], activation=EvilSigmoid(), seed=0)
    html = net._repr_html_()
    page(html)
    assert_escaped(html)


# ---------------------------------------------------------------- Gradients
def _data(seed=0, n=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_html_shows_shapes_norms_and_the_cost(per_sample, bias):
    net = cr.Network([3, 4, 2], activation="tanh", bias=bias, seed=1)
    X, Y = _data()
    g = cr.gradients(net, X, Y, loss="mse", per_sample=per_sample)
    p = page(g._repr_html_())
    (t,) = p.tables
    assert len(t[0]) == (5 if bias else 3)
    mean = g.mean()
    for row, l in zip(body(t), (1, 2)):
        assert int(row[0]) == l and row[1] == str(g.dW[l].shape)
        assert close(row[2], np.linalg.norm(mean.dW[l]))
        if bias:
            assert row[3] == str(g.db[l].shape) and close(row[4], np.linalg.norm(mean.db[l]))
    text = "".join(p.text)
    assert f"over {len(X)} samples" in text or f"{len(X)} samples" in text
    c = re.search(r"cost C = (\S+),", text)
    assert c and close(c.group(1), g.C)
    assert "loss mse" in text and f"per_sample={per_sample}" in text and "dtype float64" in text


def test_gradients_html_escapes_a_loss_name():
    net = cr.Network([3, 2], activation="identity", seed=0)
    X, Y = _data()
    html = cr.gradients(net, X, Y, loss=EvilLoss())._repr_html_()
    page(html)
    assert_escaped(html)


# ---------------------------------------------------------------- GradcheckResult
def test_gradcheck_html_is_its_table():
    net = cr.Network([3, 4, 2], activation="sigmoid", seed=2)
    X, Y = _data(1)
    r = cr.gradcheck(net, X, Y, max_checks=5)
    p = page(r._repr_html_())
    (t,) = p.tables
    assert t[0][:4] == ["param", "checked", "max abs err", "max rel err"]
    for cells, row in zip(body(t), r.rows):
        assert cells[0] == row.name and cells[1] == f"{row.checked}/{row.total}"
        assert close(cells[2], row.max_abs_error) and close(cells[3], row.max_rel_error) and cells[4] == "OK"
    text = "".join(p.text)
    m = re.search(r"max relative error (\S+) \(tolerance (\S+)\): OK", text)
    assert m and close(m.group(1), r.max_rel_error) and close(m.group(2), r.tol)
    assert (
        repr(r)
        == f"GradcheckResult(OK: max relative error {r.max_rel_error:.3e}, tolerance 1.0e-05, 4 parameter arrays)"
    )
    assert str(r).splitlines()[0].split() == ["param", "checked", "max", "abs", "err", "max", "rel", "err"]  # unchanged


def test_gradcheck_html_marks_the_failing_array_and_escapes_names():
    r = GradcheckResult(
        rows=(GradcheckRow("W", 1, 4, 4, 1e-12, 1e-9), GradcheckRow(EVIL, 2, 2, 2, 0.5, 0.25)), tol=1e-5
    )
    html = r._repr_html_()
    p = page(html)
    assert [row[4] for row in body(p.tables[0])] == ["OK", "FAILED"]
    assert "): FAILED" in "".join(p.text) and repr(r).startswith("GradcheckResult(FAILED: max relative error 2.500e-01")
    assert_escaped(html)


# ---------------------------------------------------------------- History
def _history(epochs=4, **kw):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    net = cr.Network([2, 4, 2], activation="tanh", output_activation="softmax", seed=0)
    return cr.fit(net, X, y, loss="cross_entropy", epochs=epochs, verbose=0, **kw)


def test_history_html_has_every_epoch_and_a_sparkline():
    h = _history(6, validation_fraction=0.25)
    html = h._repr_html_()
    p = page(html)
    (t,) = p.tables
    assert t[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    rows = body(t)
    assert [int(r[0]) for r in rows] == list(range(1, 7))
    for i, r in enumerate(rows):
        for cell, name in zip(r[1:], t[0][1:]):
            assert close(cell, getattr(h, name)[i]), (name, i)
    text = "".join(p.text)
    assert "6 epochs, status completed" in text and f"best epoch {h.best_epoch}" in text
    assert p.tags >= {"svg", "polyline"} and html.count("<polyline") == 2  # loss and val_loss
    points = re.findall(r'points="([^"]*)"', html)
    ys = [float(pt.split(",")[1]) for pt in points[0].split()]
    assert len(ys) == 6 and np.argmax(ys) == np.argmin(h.loss)  # SVG y grows downwards: the lowest loss is lowest
    assert repr(h).startswith("History(loss=[")  # the dataclass repr stays


def test_history_html_of_a_long_run_shows_its_first_and_last_epochs():
    h = _history(HTML_ROWS + 15, batch_size=None)
    p = page(h._repr_html_())
    rows = body(p.tables[0])
    assert len(rows) == HTML_ROWS + 1 and rows[HTML_ROWS // 2][0] == "… 15 more rows"
    assert rows[0][0] == "1" and rows[-1][0] == str(h.epochs) and close(rows[-1][1], h.loss[-1])
    assert len(re.findall(r'points="([^"]*)"', h._repr_html_())[0].split()) == h.epochs  # the sparkline has all


def test_history_html_of_an_empty_or_hand_made_history_escapes_what_it_shows():
    empty = cr.History(status="diverged", stopped="diverged: the loss became nan")
    p = page(empty._repr_html_())
    assert "0 epochs, status diverged" in "".join(p.text) and "svg" not in p.tags
    hand = cr.History(loss=[2.0, 1.0], lr=[0.1], stopped=EVIL, warnings=[EVIL])  # lr shorter: a blank cell
    html = hand._repr_html_()
    p = page(html)
    assert [r[2] for r in body(p.tables[0])] == ["0.1", ""]
    assert_escaped(html)
    assert html.count("&lt;script&gt;") == 2


# ---------------------------------------------------------------- Explanation
def _explanation(hidden="sigmoid", out="identity", loss="squared_error", layer=2, j=1, k=2, bias=False, n=3):
    rng = np.random.default_rng(3)
    net = cr.Network([2, 3, 3], activation=hidden, output_activation=out, seed=3)
    X = rng.normal(size=(n, 2))
    Y = np.eye(3)[rng.integers(0, 3, size=n)]
    return cr.explain(net, X, Y, layer=layer, j=j, k=None if bias else k, bias=bias, loss=loss)


@pytest.mark.parametrize(
    "kw",
    [
        {},  # output layer, weight
        {"layer": 1, "j": 2, "k": 0},  # hidden layer: the sum behind term 1
        {"layer": 1, "j": 0, "bias": True, "out": "softmax", "loss": "cross_entropy"},  # next layer softmax
        {"layer": 2, "j": 1, "k": 0, "out": "softmax", "loss": "mse"},  # softmax layer itself: no term 2
    ],
)
def test_explanation_html_has_the_three_terms_of_every_sample(kw):
    e = _explanation(**kw)
    html = e._repr_html_()
    p = page(html)
    terms = p.tables[0]
    assert terms[0][0] == "sample" and len(terms[0]) == 5
    middle = e.delta if e.term2 is None else e.term2  # softmax: terms 1 x 2 are one sum, the delta
    for i, row in enumerate(body(terms)):
        assert int(row[0]) == e.samples[i]
        for cell, values in zip(row[1:], (e.term1, middle, e.term3, e.products)):
            assert close(cell, values[i], rtol=1e-9)
    assert ("Σm" in terms[0][2]) == (e.term2 is None)
    summary = body(p.tables[-1])
    assert close(summary[0][1], e.mean, 1e-9) and close(summary[1][1], e.backprop, 1e-9)
    assert close(summary[2][1], e.finite_difference, 1e-9) and summary[3][1] == f"{e.rel_error:.1e}"
    assert len(p.tables) == (3 if e.hidden_sum else 2)
    text = "".join(p.text)
    assert e.describe() in text and f"loss {e.loss.name}" in text and f"= {e.activation}" in text
    if e.hidden_sum:
        rows = body(p.tables[1])
        for s, row in zip(e.hidden_sum, rows):
            assert int(row[0]) == s.m and close(row[1], s.w, 1e-9) and close(row[5], s.value[0], 1e-9)
            assert row[2] == "" if s.g_prime is None else close(row[2], s.g_prime[0], 1e-9)
        assert rows[-1][0] == "Σ" and close(rows[-1][-1], e.term1[0], 1e-9)


def test_explanation_html_limits_the_samples_like_the_text():
    e = _explanation(n=9)
    rows = body(page(e.to_html(max_samples=4)).tables[0])
    assert [r[0] for r in rows] == ["0", "1", "… 5 more rows", "7", "8"]
    assert len(body(page(e._repr_html_()).tables[0])) == 6  # the default: 5 samples and the gap
    with pytest.raises(cr.ChainruleError, match="max_samples"):
        e.to_html(max_samples=0)


def test_explanation_html_escapes_activation_and_loss_names():
    rng = np.random.default_rng(0)
    net = cr.Network([2, 2], activation=EvilSigmoid(), seed=0)
    e = cr.explain(net, rng.normal(size=(2, 2)), rng.normal(size=(2, 2)), layer=1, j=0, k=1, loss=EvilLoss())
    html = e.to_html()
    page(html)
    assert_escaped(html)
    assert html.count("&lt;script&gt;") == 2


def test_explanation_markdown_and_latex_for_notebooks():
    e = _explanation(layer=1, j=2, k=0)
    assert e._repr_markdown_() == e.to_markdown()
    tex = e._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}\n") and tex.endswith("\n\\end{aligned}$$") and tex.count("$$") == 2
    for absent in ("\\documentclass", "\\paragraph", "align*", "\\begin{document}"):
        assert absent not in tex
    assert tex.count("{") == tex.count("}") and tex.count("\\left(") == tex.count("\\right)")
    assert tex.count("\\begin{") == tex.count("\\end{") == 1
    for title in ("The chain rule", "Sample 0", "Sample 2", "Over the 3 samples"):
        assert f"\\textbf{{{title}}}" in tex
    for value in (e.mean, e.backprop, e.finite_difference, *e.products, *e.term1, *e.term3):
        assert num(value) in tex
    # every row of the document's align* blocks is in the notebook's block
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", e.to_latex(), re.S):
        assert block in tex
    assert "more samples" in _explanation(n=7)._repr_latex_()
