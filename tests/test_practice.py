"""Practice mode: seeded problems, their answers, checking a learner's terms, worksheets, the CLI."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.cli import main
from chainrule.errors import ChainruleError
from chainrule.practice import (
    ATOL,
    MAX_SEED,
    MIN_ANSWER,
    RTOL,
    TERMS,
    Problem,
    _fmt,
    check,
    new_problem,
    render_solutions,
    render_worksheet,
    tex_escape,
    worksheet,
)

seeds = st.integers(min_value=0, max_value=MAX_SEED)
kinds = st.sampled_from([None, "output", "hidden"])
activations = st.sampled_from(["sigmoid", "tanh"])


def _g(name, z):
    return 1 / (1 + np.exp(-z)) if name == "sigmoid" else np.tanh(z)


def _plain_C0(p: Problem, weights=None) -> float:
    """The loss C0 = sum_j (a_j^(L) - y_j)^2 by plain formulas, written here, not chainrule's."""
    Ws = weights if weights is not None else [p.net.W[l].copy() for l in (1, 2)]
    a = p.x.astype(float)
    for l, W in enumerate(Ws, 1):
        z = W @ a + (p.net.b[l] if p.net.b is not None else 0.0)
        a = _g(p.activation, z)
    return float(((a - p.y) ** 2).sum())


def _plain_forward(p: Problem):
    a, zs, acts = p.x.astype(float), [None], [p.x.astype(float)]
    for l in (1, 2):
        z = p.net.W[l] @ a + (p.net.b[l] if p.net.b is not None else 0.0)
        a = _g(p.activation, z)
        zs.append(z)
        acts.append(a)
    return zs, acts


def _hand(p: Problem, decimals: int = 4) -> dict[str, float]:
    """A learner with a calculator who rounds every number written down to ``decimals`` places."""

    def R(v):
        return round(float(v), decimals)

    net, acts = p.net, [[float(v) for v in p.x]]
    g = (lambda z: 1 / (1 + math.exp(-z))) if p.activation == "sigmoid" else math.tanh
    gp = (lambda a: R(a * (1 - a))) if p.activation == "sigmoid" else (lambda a: R(1 - a * a))
    for q in (1, 2):
        row = []
        for m in range(net.sizes[q]):
            z = sum(net.W[q][m, c] * acts[q - 1][c] for c in range(net.sizes[q - 1]))
            z = R(z + (net.b[q][m] if net.b is not None else 0.0))
            row.append(R(g(z)))
        acts.append(row)
    l, j, k = p.layer, p.j, p.k
    if l == 2:
        t1 = R(2 * (acts[2][j] - p.y[j]))
    else:
        t1 = R(sum(R(net.W[2][m, j] * gp(acts[2][m]) * R(2 * (acts[2][m] - p.y[m]))) for m in range(net.sizes[2])))
    t2, t3 = gp(acts[l][j]), acts[l - 1][k]
    return {"term1": t1, "term2": t2, "term3": t3, "product": R(t1 * t2 * t3)}


# ------------------------------------------------------------------------------------------ problems


@settings(max_examples=40)
@given(seed=seeds, layer=kinds, activation=activations)
def test_same_seed_same_problem(seed, layer, activation):
    p, q = new_problem(seed, layer=layer, activation=activation), new_problem(seed, layer=layer, activation=activation)
    assert p == q
    assert p.to_dict(answers=True) == q.to_dict(answers=True)
    assert new_problem(**p.spec) == p  # spec makes it again


@settings(max_examples=40)
@given(a=seeds, b=seeds)
def test_different_seeds_give_different_problems(a, b):
    assume(a != b)
    assert new_problem(a).to_dict() != new_problem(b).to_dict()
    assert new_problem(a) != new_problem(b)


def test_a_seed_gives_the_same_numbers_everywhere():
    """Pinned: the draws come from random.Random(seed).random(), whose sequence Python keeps; a
    change here means every saved seed (a shared link, a printed worksheet) shows another problem."""
    p = new_problem(7)
    assert p.net.sizes == (2, 3, 2) and p.net.b is not None and (p.layer, p.j, p.k) == (2, 0, 1)
    assert p.net.W[1].tolist() == [[0.4, 0.5], [0.2, 0.7], [-0.4, 0.4]]
    assert p.x.tolist() == [0.7, -0.5] and p.y.tolist() == [0.0, 1.0]
    assert [q.seed for q in worksheet(2, 0)] == [7605875871743422, 6827046333291546]


@settings(max_examples=60)
@given(seed=seeds, layer=kinds, activation=activations, decimals=st.sampled_from([1, 2]))
def test_answers_are_explains_and_finite_differences_of_the_loss(seed, layer, activation, decimals):
    p = new_problem(seed, layer=layer, activation=activation, decimals=decimals)
    e = cr.explain(p.net, p.x, p.y, layer=p.layer, j=p.j, k=p.k)
    assert p.term1 == e.term1[0] and p.term2 == e.term2[0] and p.term3 == e.term3[0] and p.product == e.products[0]
    assert p.product == pytest.approx(p.term1 * p.term2 * p.term3, rel=1e-12)
    assert p.product == pytest.approx(e.backprop, rel=1e-9)
    # a central finite difference of the loss, by plain formulas written in this test
    h = 1e-6
    Ws = [p.net.W[l].copy() for l in (1, 2)]
    plus, minus = [W.copy() for W in Ws], [W.copy() for W in Ws]
    plus[p.layer - 1][p.j, p.k] += h
    minus[p.layer - 1][p.j, p.k] -= h
    fd = (_plain_C0(p, plus) - _plain_C0(p, minus)) / (2 * h)
    assert p.product == pytest.approx(fd, rel=1e-6, abs=1e-9)
    # and each term is the textbook formula
    zs, acts = _plain_forward(p)
    a = acts[p.layer][p.j]
    assert p.term2 == pytest.approx(a * (1 - a) if activation == "sigmoid" else 1 - a * a, rel=1e-12)
    assert p.term3 == pytest.approx(acts[p.layer - 1][p.k], rel=1e-12)
    if p.kind == "output":
        assert p.term1 == pytest.approx(2 * (a - p.y[p.j]), rel=1e-12)


@settings(max_examples=60)
@given(seed=seeds, layer=kinds, activation=activations, decimals=st.sampled_from([1, 2]))
def test_problems_are_small_and_hand_computable(seed, layer, activation, decimals):
    p = new_problem(seed, layer=layer, activation=activation, decimals=decimals)
    assert len(p.net.sizes) == 3 and all(1 <= n <= 4 for n in p.net.sizes)
    assert p.activation == activation and all(g.name == activation for g in p.net.g)
    scale = 10**decimals
    for l in (1, 2):
        W = p.net.W[l]
        assert np.all(np.abs(W) <= 0.9) and np.all(W != 0)
        assert np.allclose(W * scale, np.round(W * scale), atol=1e-9)
        if p.net.b is not None:
            assert np.all(np.abs(p.net.b[l]) <= 0.5) and np.allclose(p.net.b[l] * 10, np.round(p.net.b[l] * 10))
    assert np.all(np.abs(p.x) <= 1) and np.allclose(p.x * 10, np.round(p.x * 10))
    assert set(p.y.tolist()) <= {0.0, 1.0}
    assert min(abs(v) for v in p.answers().values()) >= MIN_ANSWER
    assert p.kind == ("output" if p.layer == 2 else "hidden")
    if layer is not None:
        assert p.kind == layer


def test_options_are_respected():
    p = new_problem(3, sizes=(3, 3, 2), bias=False, layer=1)
    assert p.net.sizes == (3, 3, 2) and p.net.b is None and p.layer == 1 and p.kind == "hidden"
    assert new_problem(3, bias=True).net.b is not None
    assert new_problem(3, layer="output").layer == 2
    two = [new_problem(s, decimals=2).net.W[1] for s in range(10)]
    assert any(not np.allclose(W * 10, np.round(W * 10)) for W in two)  # some weights have 2 decimals
    kinds_seen = {new_problem(s).kind for s in range(20)}
    assert kinds_seen == {"output", "hidden"}  # drawn, sometimes one, sometimes the other


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "seed must be a whole number"),
        ({"seed": MAX_SEED + 1}, "seed must be a whole number"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"seed": 0, "sizes": (2, 3)}, "sizes must be three node counts"),
        ({"seed": 0, "sizes": (2, 5, 2)}, "sizes[1]"),
        ({"seed": 0, "sizes": "232"}, "sizes must be three node counts"),
        ({"seed": 0, "layer": "middle"}, "unknown layer"),
        ({"seed": 0, "layer": 3}, "layer must be a whole number"),
        ({"seed": 0, "activation": "relu"}, "unknown practice activation"),
        ({"seed": 0, "decimals": 3}, "decimals must be a whole number"),
        ({"seed": 0, "bias": "yes"}, "bias must be True or False"),
    ],
)
def test_new_problem_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ChainruleError, match=re.escape(message)):
        new_problem(**kwargs)


@settings(max_examples=30)
@given(seed=seeds, layer=kinds)
def test_to_dict_is_json_and_shows_no_answers_unless_asked(seed, layer):
    p = new_problem(seed, layer=layer)
    d = p.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert "answers" not in d and "steps" not in d
    text = json.dumps(d)
    for name in ("term1", "term2", "product"):  # term 3 of a hidden weight is an input x_k, which is given
        value = p.answers()[name]
        assert repr(value) not in text and repr(-value) not in text
    assert d["x"] == p.x.tolist() and d["y"] == p.y.tolist() and d["activation"] == p.activation
    assert [layer_["W"] for layer_ in d["layers"]] == [p.net.W[1].tolist(), p.net.W[2].tolist()]
    assert d["weight"]["symbol"] == f"w_{{{p.j},{p.k}}}^{{({p.layer})}}"
    assert d["weight"]["value"] == p.weight and [t["name"] for t in d["terms"]] == list(TERMS)
    full = p.to_dict(answers=True)
    assert json.loads(json.dumps(full)) == full
    assert full["answers"] == p.answers()
    assert set(full["formulas"]) == {*TERMS, "activation_derivative"}
    assert "formulas" not in d and all(f not in text for f in full["formulas"].values())
    assert [f["layer"] for f in full["steps"]["forward"]] == [1, 2]


@settings(max_examples=30)
@given(seed=seeds)
def test_hidden_layer_problems_include_the_hidden_sum(seed):
    p = new_problem(seed, layer="hidden")
    hidden = p.to_dict(answers=True)["steps"]["hidden_sum"]
    assert [s["m"] for s in hidden] == list(range(p.net.sizes[2]))
    zs, acts = _plain_forward(p)
    for s in hidden:
        a = acts[2][s["m"]]
        assert s["w"] == p.net.W[2][s["m"], p.j]
        assert s["dC0_da"] == pytest.approx(2 * (a - p.y[s["m"]]), rel=1e-12)
        assert s["value"] == pytest.approx(s["w"] * s["g_prime"] * s["dC0_da"], rel=1e-12)
    assert sum(s["value"] for s in hidden) == pytest.approx(p.term1, rel=1e-12)
    text = render_solutions(p)
    assert "hidden sum" in text
    for s in hidden:
        assert f"m = {s['m']}" in text and _fmt(s["value"]) in text
    assert new_problem(seed, layer="output").to_dict(answers=True)["steps"]["hidden_sum"] == []


# ------------------------------------------------------------------------------------------ check


@settings(max_examples=40)
@given(seed=seeds, layer=kinds)
def test_check_accepts_the_right_answers(seed, layer):
    p = new_problem(seed, layer=layer)
    r = check(p, **p.answers())
    assert r.correct and bool(r) and r.right == list(TERMS) and r.wrong == [] and r.missing == []
    assert r.message.startswith("All right")
    assert json.loads(json.dumps(r.to_dict())) == r.to_dict()


@settings(max_examples=40)
@given(seed=seeds, layer=kinds, factor=st.floats(-0.99, 0.99))
def test_check_accepts_answers_within_the_tolerance(seed, layer, factor):
    p = new_problem(seed, layer=layer)
    close = {n: v + factor * max(ATOL, RTOL * abs(v)) for n, v in p.answers().items()}
    assert check(p, **close).correct
    as_text = {n: f"{v:.4g}" for n, v in p.answers().items()}  # 4 significant digits, as strings from a form
    assert check(p, **as_text).correct


@settings(max_examples=80)
@given(seed=seeds, layer=kinds, activation=activations)
def test_a_learner_rounding_to_4_decimals_is_accepted(seed, layer, activation):
    p = new_problem(seed, layer=layer, activation=activation)
    r = check(p, **_hand(p, 4))
    assert r.correct, r.feedback


@pytest.mark.parametrize("name", TERMS)
@pytest.mark.parametrize("layer", ["output", "hidden"])
def test_check_refuses_a_wrong_term_and_names_it(name, layer):
    for seed in range(5):
        p = new_problem(seed, layer=layer)
        answers = p.answers()
        answers[name] = answers[name] * 1.1 + math.copysign(0.01, answers[name])  # 10% off and more
        r = check(p, **answers)
        assert not r.correct and r.wrong == [name] and r.right == [t for t in TERMS if t != name]
        text = r.terms[name]["feedback"]
        label = {"term1": "term 1", "term2": "term 2", "term3": "term 3", "product": "the product"}[name]
        assert text.startswith(f"{label}, ") and "is wrong: you gave" in text
        assert f"it is {_fmt(p.answers()[name])}" in text
        assert r.feedback[0] == text and label in r.message
        assert r.terms[name]["expected"] == p.answers()[name] and r.terms[name]["correct"] is False


def test_feedback_names_the_term_and_its_formula():
    p = new_problem(3, layer="output", activation="sigmoid")
    l, j = p.layer, p.j
    r = check(p, term2=0.31)
    assert r.feedback == [
        f"term 2, g'(z_{j}^({l})) = a_{j}^({l}) (1 - a_{j}^({l})), is wrong: you gave 0.31, it is {_fmt(p.term2)}."
    ]
    assert r.missing == ["term1", "term3", "product"] and r.wrong == ["term2"] and not r.correct
    hidden = new_problem(3, layer="hidden")
    text = check(hidden, term1=hidden.term1 + 1).feedback[0]
    assert text.startswith(f"term 1, dC0/da_{hidden.j}^(1) = sum_m w_{{m,{hidden.j}}}^(2) g'(z_m^(2))")
    text = check(hidden, term3=hidden.term3 + 1).feedback[0]
    assert f"a_{hidden.k}^(0) = x_{hidden.k}" in text


def test_feedback_recognises_common_mistakes():
    p = new_problem(3, layer="output")
    a = p.explanation.a[0]
    y = p.y[p.j]
    assert "the sign is wrong" in check(p, term1=-p.term1).feedback[0]
    assert "has a factor 2" in check(p, term1=a - y).feedback[0]
    assert "itself" in check(p, term2=a).feedback[0]
    assert "the weight" in check(p, term3=p.weight).feedback[0]
    assert "missing term 2" in check(p, product=p.term1 * p.term3).feedback[0]
    mine = check(p, term1=p.term1, term2=p.term2 * 2, term3=p.term3, product=p.term1 * p.term2 * 2 * p.term3)
    assert mine.wrong == ["term2", "product"] and "product of your three terms" in mine.terms["product"]["feedback"]
    hidden = new_problem(3, layer="hidden")
    no_g = sum(s.w * s.dC0_da[0] for s in hidden.explanation.hidden_sum)
    assert "needs the factor g'" in check(hidden, term1=no_g).feedback[0]


def test_check_can_keep_the_answers_hidden():
    p = new_problem(4)
    r = check(p, term1=p.term1, term2=p.term2 + 1, reveal=False)
    assert "expected" not in r.terms["term2"] and "error" not in r.terms["term2"]
    assert "it is" not in r.terms["term2"]["feedback"] and _fmt(p.term2) not in json.dumps(r.to_dict())
    assert r.wrong == ["term2"] and r.right == ["term1"]


def test_check_takes_numbers_and_numeric_strings_and_refuses_the_rest():
    p = new_problem(5)
    assert check(p, term1=str(p.term1), term2=np.float32(p.term2), term3=p.term3).right == ["term1", "term2", "term3"]
    assert check(p, term1=f" {p.term1:.6f} ".replace(".", ",")).right == ["term1"]  # a decimal comma
    assert check(p, term1="", term2=None).missing == list(TERMS)
    assert check(p).message.startswith("Nothing to check")
    for bad in ("abc", "1,000.5", "1,2,3", True, float("nan"), float("inf"), [1.0]):
        with pytest.raises(ChainruleError, match="term1 must be a"):
            check(p, term1=bad)
    with pytest.raises(ChainruleError, match="problem must be a Problem"):
        check(p.to_dict(), term1=1.0)
    with pytest.raises(ChainruleError, match="rtol"):
        check(p, term1=1.0, rtol=-1)


def test_the_tolerance_is_tight_enough_to_catch_real_mistakes():
    """Every drawn answer is >= MIN_ANSWER, so the absolute tolerance is at most 2.5% of it: a
    wrong sign, a lost factor 2 or a zero never passes."""
    assert ATOL / MIN_ANSWER <= 0.025
    for seed in range(30):
        p = new_problem(seed)
        for name, v in p.answers().items():
            assert not check(p, **{name: -v}).correct and name in check(p, **{name: -v}).wrong
            assert name in check(p, **{name: v / 2}).wrong and name in check(p, **{name: 0.0}).wrong


# ------------------------------------------------------------------------------------------ worksheets


def test_worksheet_is_seeded_and_alternates_layers():
    w = worksheet(6, seed=11)
    assert len(w) == 6 and all(isinstance(p, Problem) for p in w)
    assert [p.kind for p in w] == ["output", "hidden"] * 3
    assert len({p.seed for p in w}) == 6
    assert [p.to_dict(answers=True) for p in w] == [p.to_dict(answers=True) for p in worksheet(6, seed=11)]
    assert [p.seed for p in w] != [p.seed for p in worksheet(6, seed=12)]
    assert [p.seed for p in worksheet(3, seed=11)] == [p.seed for p in w[:3]]  # a longer sheet extends a shorter one
    assert all(p.kind == "hidden" for p in worksheet(3, seed=11, layer="hidden"))
    assert all(p.net.b is None for p in worksheet(3, seed=11, bias=False))
    for p in w:
        assert new_problem(**p.spec) == p  # one problem of the sheet, made again alone
    with pytest.raises(ChainruleError, match="n must be a whole number"):
        worksheet(0, seed=1)


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_worksheet_and_solutions_hold_every_problem(fmt):
    w = worksheet(4, seed=2)
    sheet, sol = render_worksheet(w, fmt), render_solutions(w, fmt)
    for i, p in enumerate(w, 1):
        head = f"Problem {i} (seed {p.seed})"
        assert head in sheet and head in sol
        symbol = f"w_{{{p.j},{p.k}}}^{{({p.layer})}}"
        assert f"{symbol} = {cr.render.num(p.weight)}" in sheet
        for W in (p.net.W[1], p.net.W[2]):
            for v in W.ravel():
                assert cr.render.num(v) in sheet
        for v in p.answers().values():
            assert _fmt(v) in sol  # the numbers are in the solutions
        steps = p.steps()
        for f in steps["forward"]:
            for z, a in zip(f["z"], f["a"]):
                assert _fmt(z) in sol and _fmt(a) in sol
        assert _fmt(steps["C0"]) in sol
    assert sheet.count("Problem ") == 4 and sol.count("Problem ") == 4
    assert "Forward pass" not in sheet and "Forward pass" in sol
    assert "answer" in sheet and ("| answer |" not in sheet)
    for p in w:  # the worksheet gives no answer away (its table has blanks)
        assert f"| {_fmt(p.product)} |" not in sheet and f"& {_fmt(p.product)} \\\\" not in sheet


def test_markdown_uses_unambiguous_subscripts_and_balanced_math():
    w = worksheet(3, seed=5)
    for text in (render_worksheet(w), render_solutions(w)):
        assert text.startswith("# Backpropagation practice")
        assert re.search(r"w_\{\d+,\d+\}\^\{\(\d\)\}", text)
        assert not re.search(r"w_\{?\d\d\}?\^", text)  # never w_12^(2)
        for line in text.splitlines():
            assert line.count("$") % 2 == 0, line
        for line in text.splitlines():
            if line.startswith("|"):
                assert line.endswith("|")


def _latex_problems(text: str) -> list[str]:
    """Structural checks of a LaTeX document, as far as they go without running LaTeX."""
    problems = []
    if not text.startswith("\\documentclass"):
        problems.append("no \\documentclass first")
    for env in ("document",):
        if text.count(f"\\begin{{{env}}}") != 1 or text.count(f"\\end{{{env}}}") != 1:
            problems.append(f"{env} not once")
    if not text.rstrip().endswith("\\end{document}"):
        problems.append("does not end with \\end{document}")
    stack = []
    for m in re.finditer(r"\\(begin|end)\{([^}]*)\}", text):
        if m.group(1) == "begin":
            stack.append(m.group(2))
        elif not stack or stack.pop() != m.group(2):
            problems.append(f"unbalanced \\end{{{m.group(2)}}}")
    if stack:
        problems.append(f"unclosed {stack}")
    plain = re.sub(r"\\[{}$%&#_]", "", text)
    depth = 0
    for ch in plain:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append("a } closes nothing")
            break
    if depth > 0:
        problems.append("an unclosed {")
    for line in plain.splitlines():
        if line.count("$") % 2:
            problems.append(f"odd $ in {line!r}")
        outside = re.sub(r"\$[^$]*\$", "", line)  # text outside inline math
        if "\\[" in line or line.startswith("  W^{"):
            continue
        for ch in "_^%#":
            if ch in outside:
                problems.append(f"unescaped {ch} in text: {line!r}")
    packages = re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", text)
    if not set(packages) <= {"amsmath", "geometry", "fontenc"}:
        problems.append(f"unexpected packages {packages}")
    return problems


@pytest.mark.parametrize("bias", [True, False])
def test_latex_is_a_standalone_document(bias):
    w = worksheet(4, seed=9, bias=bias)
    for text in (render_worksheet(w, "latex"), render_solutions(w, "latex")):
        assert _latex_problems(text) == []
        assert "\\hrulefill" in text or "\\paragraph{Forward pass}" in text
    title = "A_B & 50% #1 {x} ~ ^ \\end{document}"
    text = render_worksheet(w, "latex", title=title)
    assert _latex_problems(text) == []
    assert f"\\section*{{{tex_escape(title)}}}" in text


def test_render_refuses_what_it_cannot_render():
    p = new_problem(1)
    assert render_worksheet(p).count("## Problem") == 1  # one problem is a worksheet too
    with pytest.raises(ChainruleError, match="unknown format"):
        render_worksheet([p], "html")
    with pytest.raises(ChainruleError, match="problems is empty"):
        render_solutions([])
    with pytest.raises(ChainruleError, match=r"problems\[1\] must be a Problem"):
        render_worksheet([p, p.to_dict()])
    with pytest.raises(ChainruleError, match="title must be a string"):
        render_worksheet([p], title=3)


# ------------------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize("fmt, suffix", [("markdown", ".md"), ("latex", ".tex")])
def test_cli_writes_the_worksheet_and_its_solutions(tmp_path, capsys, fmt, suffix):
    out = tmp_path / "sheets"
    args = ["worksheet", "--problems", "3", "--seed", "4", "--format", fmt, "--out", str(out)]
    assert main(args) == 0
    sheet, sol = out / f"worksheet{suffix}", out / f"solutions{suffix}"
    assert capsys.readouterr().out.split() == [str(sheet), str(sol)]
    w = worksheet(3, 4)
    title = "Backpropagation practice (seed 4, 3 problems)"
    assert sheet.read_text() == render_worksheet(w, fmt, title=f"{title}: worksheet")
    assert sol.read_text() == render_solutions(w, fmt, title=f"{title}: solutions")
    assert sorted(p.name for p in out.iterdir()) == sorted([sheet.name, sol.name])  # no temporary left


def test_cli_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "sheets"
    assert main(["worksheet", "--problems", "2", "--out", str(out)]) == 0
    before = {p.name: p.read_text() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["worksheet", "--problems", "2", "--seed", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds worksheet.md, solutions.md" in err and "--force" in err
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    (out / "worksheet.md").unlink()  # one of the two is enough to refuse
    assert main(["worksheet", "--problems", "2", "--seed", "1", "--out", str(out)]) == 2
    assert "already holds solutions.md" in capsys.readouterr().err
    assert main(["worksheet", "--problems", "2", "--seed", "1", "--out", str(out), "--force"]) == 0
    assert (out / "worksheet.md").read_text() == render_worksheet(
        worksheet(2, 1), title="Backpropagation practice (seed 1, 2 problems): worksheet"
    )
    file = tmp_path / "a-file"
    file.write_text("x")
    assert main(["worksheet", "--out", str(file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_cli_without_out_makes_a_fresh_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["worksheet", "--problems", "1"]) == 0
    assert main(["worksheet", "--problems", "1"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [
        "chainrule-worksheet-1/worksheet.md",
        "chainrule-worksheet-1/solutions.md",
        "chainrule-worksheet-2/worksheet.md",
        "chainrule-worksheet-2/solutions.md",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--problems", "0"], "must be >= 1"),
        (["--seed", "-1"], "must be >= 0"),
        (["--format", "html"], "invalid choice"),
    ],
)
def test_cli_refuses_bad_options(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["worksheet", "--out", str(tmp_path / "o"), *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
