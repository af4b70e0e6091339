"""chainrule explore: the server's safety, its JSON against chainrule's own explain and gradients,
and the page in a real headless browser (Debian's Chromium driven by playwright; .ci/run installs
it, a machine without it skips the browser tests with that reason, CI never does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import article_example, load_dataset
from chainrule.explore import ExploreServer, Session


@pytest.fixture
def article_server():
    net, x, y = article_example()
    with ExploreServer(Session(net, x, y, "squared_error", title="the article's example")) as server:
        yield server


def _get(server, path, token=True, headers=None):
    sep = "&" if "?" in path else "?"
    url = f"http://127.0.0.1:{server.port}{path}" + (f"{sep}token={server.token}" if token else "")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            body = r.read()
            return r.status, (json.loads(body) if r.headers["Content-Type"] == "application/json" else body)
    except urllib.error.HTTPError as err:
        body = err.read()
        return err.code, (json.loads(body) if err.headers["Content-Type"] == "application/json" else body)


def test_requests_without_the_token_or_for_another_host_are_refused(article_server):
    assert _get(article_server, "/api/network", token=False)[0] == 401
    assert _get(article_server, "/?token=wrong", token=False)[0] == 403
    assert _get(article_server, "/static/app.js", token=False)[0] == 401
    status, _ = _get(article_server, "/api/network", headers={"Host": f"attacker.example:{article_server.port}"})
    assert status == 403
    assert _get(article_server, "/api/network")[0] == 200
    assert article_server.httpd.server_address[0] == "127.0.0.1"


def test_the_token_becomes_a_cookie_and_files_outside_static_are_not_served(article_server):
    url = f"http://127.0.0.1:{article_server.port}/?token={article_server.token}"
    with urllib.request.urlopen(url) as r:
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and b"app.js" in r.read()
    value = cookie.split(";")[0]
    req = urllib.request.Request(f"http://127.0.0.1:{article_server.port}/static/app.js", headers={"Cookie": value})
    assert urllib.request.urlopen(req).status == 200
    for path in ("/static/../session.py", "/static/%2e%2e/server.py", "/static/.hidden", "/session.py"):
        assert _get(article_server, path)[0] == 404


@pytest.mark.parametrize("layer,j,k", [(2, 1, 2), (1, 2, 0), (2, 0, 1)])
def test_explain_api_gives_chainrules_explain(article_server, layer, j, k):
    net, x, y = article_example()
    status, e = _get(article_server, f"/api/explain?layer={layer}&j={j}&k={k}&sample=0")
    ref = cr.explain(net, x, y, layer, j, k, loss="squared_error", sample=0)
    assert status == 200
    assert e["term1"] == ref.term1[0] and e["term2"] == ref.term2[0] and e["term3"] == ref.term3[0]
    assert e["product"] == ref.products[0] and e["backprop"] == ref.backprop
    assert e["finite_difference"] == pytest.approx(ref.finite_difference, rel=1e-12)
    assert f"w_{{{j},{k}}}^{{({layer})}}" in e["tex"]["symbol"]
    if layer < net.L:  # the hidden sum: one row per node of the next layer, each a link one layer on
        assert [s["next"] for s in e["hidden_sum"]] == [{"layer": layer + 1, "j": m, "k": j} for m in range(2)]
        assert sum(s["value"] for s in e["hidden_sum"]) == pytest.approx(e["term1"], rel=1e-12)


def test_bad_parameters_are_clear_json_errors(article_server):
    for path, words in [
        ("/api/explain?layer=3&j=0&k=0", "layer must be a whole number >= 1 and <= 2"),
        ("/api/explain?layer=2&j=0&k=9", "k must be a whole number >= 0 and <= 2"),
        ("/api/explain?layer=2&j=x&k=0", "j must be a whole number"),
        ("/api/explain?layer=2&j=0", "no biases"),
        ("/api/step?lr=-1", "lr must be"),
        ("/api/nothing", "no endpoint"),
    ]:
        status, body = _get(article_server, path)
        assert status in (400, 404) and words in body["error"], (path, body)


def test_a_step_moves_every_weight_by_minus_lr_times_its_gradient(article_server):
    net, x, y = article_example()
    g = cr.gradients(net, x, y, "squared_error")
    status, out = _get(article_server, "/api/step?lr=0.25")
    assert status == 200 and out["steps"] == 1
    moved = article_server.session.net
    np.testing.assert_allclose(moved._flat, net._flat - 0.25 * g.flat(), rtol=1e-15, atol=1e-15)
    assert out["cost"] == pytest.approx(cr.cost(moved, x, y, "squared_error"), rel=1e-14)
    assert out["cost"] < out["losses"][0]
    _get(article_server, "/api/reset")
    np.testing.assert_array_equal(article_server.session.net._flat, net._flat)


@pytest.mark.parametrize(
    "extra,describe",
    [
        ([], "from node 2 of layer 1 to node 1 of layer 2"),
        (["--dataset", "iris", "--hidden", "5"], "from node 2 of layer 1 to node 1 of layer 2"),
    ],
)
def test_cli_prints_the_url_first_and_serves_until_stopped(extra, describe):
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "explore", "--no-browser", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        with urllib.request.urlopen(url.replace("/?token=", "/api/explain?layer=2&j=1&k=2&token=")) as r:
            answer = json.loads(r.read())
            assert answer["describe"] == describe and answer["n_samples"] == (150 if extra else 1)
    finally:
        proc.send_signal(__import__("signal").SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in err and "Traceback" not in err


# ------------------------------------------------------------------ the page in a real browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium (installed by .ci/run) for the explore page's tests")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    pages = []

    def opener(server):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]", timeout=20000)
        pages.append(page)
        return page, requested

    yield opener
    for page in pages:
        page.close()


def _click_edge(page, layer, j, k):
    page.locator(f'g.edge[data-layer="{layer}"][data-j="{j}"][data-k="{k}"]').dispatch_event("click")
    page.wait_for_selector(f'body[data-explained="{layer},{j},{k}"]')


def _shown(page, name):
    return float(page.locator(f"#v-{name}").get_attribute("data-value"))


def test_page_shows_the_article_network_and_explains_a_clicked_edge(article_server, open_page):
    page, requested = open_page(article_server)
    net, x, y = article_example()
    assert page.locator("g.edge").count() == 2 * 3 + 3 * 2  # every edge of a small network
    _click_edge(page, 1, 2, 0)
    ref = cr.explain(net, x, y, 1, 2, 0, loss="squared_error", sample=0)
    for name, value in [
        ("term1", ref.term1[0]),
        ("term2", ref.term2[0]),
        ("term3", ref.term3[0]),
        ("product", ref.products[0]),
        ("backprop", ref.backprop),
    ]:
        assert _shown(page, name) == pytest.approx(value, rel=1e-12, abs=1e-15), name
    assert page.locator("#derivation .katex").count() >= 8  # typeset by the vendored KaTeX
    rows = page.locator("#derivation .summand")
    assert rows.count() == 2
    rows.nth(1).click()  # follow the chain to w_{1,2}^{(2)}
    page.wait_for_selector('body[data-explained="2,1,2"]')
    assert _shown(page, "product") == pytest.approx(cr.explain(net, x, y, 2, 1, 2, sample=0).products[0], rel=1e-12)
    assert all(u.startswith(f"http://127.0.0.1:{article_server.port}/") for u in requested), requested


def test_a_training_step_in_the_page_moves_the_selected_weight(article_server, open_page):
    page, _ = open_page(article_server)
    _click_edge(page, 2, 1, 2)
    before, gradient = _shown(page, "weight"), _shown(page, "mean")
    page.fill("#lr", "0.3")
    page.click("#step")
    page.wait_for_selector("#cost[data-steps='1']")
    moved = page.locator("#moved")  # the step of the selected weight, shown with its numbers
    assert float(moved.get_attribute("data-before")) == before
    assert float(moved.get_attribute("data-gradient")) == pytest.approx(gradient, rel=1e-12)
    assert "0.3" in moved.inner_text()
    page.wait_for_selector(f'#v-weight:not([data-value="{before!r}"])')
    assert _shown(page, "weight") == pytest.approx(before - 0.3 * gradient, rel=1e-9)
    page.click("#reset")
    page.wait_for_selector("#cost[data-steps='0']")
    page.wait_for_selector(f'#v-weight[data-value="{before!r}"]')


def test_page_on_a_trained_digits_network_stays_readable(open_page):
    X, y = load_dataset("digits")
    X = X / 16
    net = cr.Network([64, 16, 10], activation="sigmoid", output_activation="softmax", seed=0)
    cr.fit(net, X, y, loss="cross_entropy", epochs=2, batch_size=64, optimizer=cr.SGD(lr=0.5), verbose=0)
    with ExploreServer(Session(net, X[:50], y[:50], "cross_entropy", images=True)) as server:
        page, requested = open_page(server)
        assert page.locator("g.edge").count() <= 14 * 16 + 16 * 10  # 64 inputs: a window, not a hairball
        _click_edge(page, 1, 3, 2)
        ref = cr.explain(net, X[:50], y[:50], 1, 3, 2, loss="cross_entropy", sample=0)
        assert _shown(page, "product") == pytest.approx(ref.products[0], rel=1e-12, abs=1e-15)
        assert page.locator("#derivation .summand").count() == 10
        assert all(u.startswith(f"http://127.0.0.1:{server.port}/") for u in requested)


def test_explain_html_is_one_file_that_opens_offline_and_requests_nothing(tmp_path, open_page, browser):
    from chainrule.cli import main

    target = tmp_path / "w.html"
    assert main(["explain", "--layer", "1", "--j", "2", "--k", "1", "--html", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert "http://" not in text.replace("http://www.w3.org/", "") and "https://" not in text.split("katex")[0]
    assert "<link " not in text and "<script src" not in text and "CHAINRULE_EMBEDDED" in text
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(target.as_uri())
    page.wait_for_selector('body[data-explained="1,2,1"]', timeout=20000)
    net, x, y = article_example()
    ref = cr.explain(net, x, y, 1, 2, 1, loss="squared_error", sample=0)
    assert _shown(page, "product") == pytest.approx(ref.products[0], rel=1e-12)
    assert page.locator("#derivation .katex").count() >= 8
    fonts = page.evaluate("document.fonts.check('16px KaTeX_Main')")
    assert fonts
    assert [u for u in requested if not u.startswith(("file:", "data:"))] == []
    page.close()


def test_practice_api_checks_terms_and_names_the_wrong_one(article_server):
    from chainrule.practice import new_problem

    status, p = _get(article_server, "/api/practice?seed=5")
    assert status == 200 and "answers" not in p and p["seed"] == 5
    right = new_problem(5).answers()
    status, r = _get(article_server, "/api/check?seed=5&" + "&".join(f"{k}={v!r}" for k, v in right.items()))
    assert r["correct"] and r["wrong"] == []
    status, r = _get(article_server, f"/api/check?seed=5&term1={right['term1']}&term2=0.5&term3={right['term3']}")
    assert not r["correct"] and r["wrong"] == ["term2"] and r["missing"] == ["product"]
    assert "term 2" in r["terms"]["term2"]["feedback"] and "expected" not in r["terms"]["term2"]


def test_practice_mode_in_the_page(article_server, open_page):
    from chainrule.practice import new_problem

    page, requested = open_page(article_server)
    page.click("#practice-toggle")
    page.wait_for_selector('body[data-problem="1"]')
    answers = new_problem(1).answers()
    assert page.locator("g.edge.selected").count() == 1  # the asked weight, on the problem's own network
    for name in ("term1", "term3", "product"):
        page.fill(f"#answer-{name}", f"{answers[name]:.5f}")
    page.fill("#answer-term2", f"{answers['term2'] * 2:.5f}")  # a wrong middle term
    page.click("#check")
    page.wait_for_selector("body[data-checked=wrong]")
    page.fill("#answer-product", "")  # a term left out is named as missing, not an error
    page.click("#check")
    page.wait_for_selector('#feedback li.missing[data-term="product"]')
    assert page.locator("#practice-error").inner_text() == ""
    page.fill("#answer-product", f"{answers['product']:.5f}")
    page.click("#check")
    page.wait_for_selector('#feedback li.right[data-term="product"]')
    assert page.locator('#feedback li.wrong[data-term="term2"]').count() == 1
    assert "term 2" in page.locator('#feedback li[data-term="term2"]').inner_text()
    assert page.locator("#feedback li.right").count() == 3
    page.fill("#answer-term2", f"{answers['term2']:.5f}")
    page.click("#check")
    page.wait_for_selector("body[data-checked=right]")
    page.fill("#sheet-problems", "2")
    with page.expect_download() as download:
        page.click("#download-solutions")
    assert download.value.suggested_filename == "solutions.md"
    assert "## Problem" in open(download.value.path(), encoding="utf-8").read()
    page.click("#new-problem")
    page.wait_for_selector('body[data-problem="2"]')
    assert page.locator("#feedback li").count() == 0
    page.click("#practice-toggle")  # back: the explored network again
    assert page.locator("g.edge").count() == 12
    assert all(u.startswith(f"http://127.0.0.1:{article_server.port}/") for u in requested)


def test_step_on_one_sample_and_the_moved_parameter(article_server):
    net, x, y = article_example()
    g = cr.gradients(net, x[:1], y[:1], "squared_error")
    status, out = _get(article_server, "/api/step?lr=0.5&sample=0&layer=1&j=2")  # no k: the bias b_2^(1)
    assert status == 400 and "no biases" in out["error"]
    status, out = _get(article_server, "/api/step?lr=0.5&sample=0&layer=1&j=2&k=1")
    assert status == 200 and out["on"] == "sample 0"
    m = out["moved"]
    assert m["before"] == net.W[1][2, 1] and m["gradient"] == g.dW[1][2, 1]
    assert m["after"] == pytest.approx(net.W[1][2, 1] - 0.5 * g.dW[1][2, 1], rel=1e-15)
    assert r"w_{2,1}^{(1)} \leftarrow" in m["tex"]


def test_digits_page_sample_picker_bias_and_gradient_colours(open_page):
    X, y = load_dataset("digits")
    X = X[:40] / 16
    net = cr.Network([64, 12, 10], activation="sigmoid", output_activation="softmax", seed=1)
    with ExploreServer(Session(net, X, y[:40], "cross_entropy", images=True)) as server:
        page, _ = open_page(server)
        page.fill("#sample", "3")
        page.dispatch_event("#sample", "change")
        page.wait_for_selector('body[data-sample="3"]')
        assert "sample 3 of 40" in page.locator("#describe").inner_text()
        L, j, k = 2, 1, 2
        ref = cr.explain(net, X, y[:40], L, j, k, loss="cross_entropy", sample=3)
        assert _shown(page, "product") == pytest.approx(ref.products[0], rel=1e-12, abs=1e-15)
        assert page.locator("svg#network rect").count() == 64  # sample 3's 8x8 image
        page.locator('g.node[data-layer="1"][data-j="4"]').dispatch_event("click")  # a node: its bias
        page.wait_for_selector('body[data-explained="1,4,null"]')
        bias = cr.explain(net, X, y[:40], 1, 4, None, loss="cross_entropy", bias=True, sample=3)
        assert _shown(page, "product") == pytest.approx(bias.products[0], rel=1e-12, abs=1e-15)
        assert _shown(page, "term3") == 1.0
        edge = page.locator('g.edge[data-layer="2"][data-j="0"][data-k="0"] .edge-line')
        by_weight = edge.get_attribute("stroke-width")
        page.check("#by-gradient")
        assert edge.get_attribute("stroke-width") != by_weight


def test_a_wide_hidden_sum_shows_its_largest_terms_and_the_others_total():
    rng = np.random.default_rng(0)
    net = cr.Network([6, 5, 40, 3], activation="tanh", output_activation="softmax", seed=0)
    X, y = rng.normal(size=(4, 6)), rng.integers(0, 3, 4)
    e = Session(net, X, y, "cross_entropy").explain(1, 2, 3, 0)
    from chainrule.explore.session import HIDDEN_ROWS

    assert len(e["hidden_sum"]) == 40 and len(e["hidden_shown"]) == HIDDEN_ROWS - 2
    shown = {m: abs(e["hidden_sum"][m]["value"]) for m in e["hidden_shown"]}
    others = [abs(s["value"]) for m, s in enumerate(e["hidden_sum"]) if m not in shown]
    assert min(shown.values()) >= max(others) and e["hidden_rest"]["count"] == 40 - len(shown)
    total = sum(s["value"] for m, s in enumerate(e["hidden_sum"]) if m not in shown)
    assert e["hidden_rest"]["value"] == pytest.approx(total, rel=1e-12)
    assert sum(s["value"] for s in e["hidden_sum"]) == pytest.approx(e["term1"], rel=1e-10)


def test_worksheet_from_the_page_api(article_server):
    from chainrule.practice import render_solutions, worksheet

    status, sheet = _get(article_server, "/api/worksheet?problems=3&seed=4&format=latex&solutions=1")
    assert status == 200 and sheet["name"] == "solutions.tex"
    assert sheet["text"] == render_solutions(worksheet(3, 4), "latex")
    status, sheet = _get(article_server, "/api/worksheet?problems=2&seed=4")
    assert sheet["name"] == "worksheet.md" and sheet["text"].count("## Problem") == 2
    assert _get(article_server, "/api/worksheet?problems=2&seed=4&format=pdf")[0] == 400


def test_the_digit_picture_is_the_data_as_in_its_file_not_the_scaled_input(tmp_path):
    """A model trained on standardised inputs explains the scaled rows but draws the file's own pixels."""
    assert run_cli(["train", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]) == 0
    test = np.load(tmp_path / "run" / "test.npz")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chainrule",
            "explore",
            "--no-browser",
            "--model",
            str(tmp_path / "run" / "model.npz"),
            "--data",
            str(tmp_path / "run" / "test.npz"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        with urllib.request.urlopen(url.replace("/?token=", "/api/sample?i=3&token=")) as r:
            sample = json.loads(r.read())
    finally:
        proc.send_signal(__import__("signal").SIGINT)
        proc.communicate(timeout=20)
    np.testing.assert_array_equal(sample["picture"], test["X"][3])
    assert not np.allclose(sample["x"], test["X"][3])  # the network sees the scaled row


def run_cli(argv):
    from chainrule.cli import main

    return main(argv)
