"""The explore page's speed in a real browser: load time, and click-to-rendered-derivation.

On a 784-128-64-10 relu network (softmax, cross-entropy; random inputs of the mnist shape, 100
samples by default) served by ``chainrule.explore`` and opened in Debian's Chromium through
playwright, it measures

* the page's load: from navigation to the page being ready (network fetched, drawn, the first
  weight explained and typeset);
* click to rendered derivation: from a click on an edge (inside the page, ``performance.now()``)
  to the derivation for that edge being in the page, typeset by KaTeX; for weights of the output
  layer, of layer 2 (the sum over the 10 outputs) and of layer 1 (the sum over layer 2's 64 nodes);
* the server's share: ``Session.explain`` alone, in Python, for the same weights.

Aim (the issue): a click under 100 ms. Each figure is the median over the rounds with the
min-max spread. Run (Chromium from ``apt-get install chromium``, playwright from the test extra):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_explore.py --json explore.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time

import numpy as np

import chainrule as cr
from chainrule.explore import ExploreServer, Session

CLICK = """async ([layer, j, k]) => {
  const target = document.querySelector(`g.edge[data-layer="${layer}"][data-j="${j}"][data-k="${k}"]`);
  const t0 = performance.now();
  target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
  while (document.body.dataset.explained !== `${layer},${j},${k}`) await new Promise((r) => setTimeout(r, 0));
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t0;
}"""


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    rng = np.random.default_rng(0)
    net = cr.Network([784, 128, 64, 10], activation="relu", output_activation="softmax", seed=0)
    X, y = rng.random((args.samples, 784)), rng.integers(0, 10, args.samples)
    session = Session(net, X, y, "cross_entropy", title="784-128-64-10", images=True)
    # edges drawn at start: the output layer's (all of layer 2's window to layer 3) and, after
    # selecting a hidden weight, its neighbourhood
    edges = {
        "output layer (3)": [(3, j, k) for j, k in [(0, 0), (1, 2), (5, 63), (9, 1), (3, 62)]],
        "hidden layer (2)": [(2, j, k) for j, k in [(0, 0), (1, 2), (2, 1), (63, 126), (62, 127)]],
        # a first-layer weight: its hidden sum runs over the 64 nodes of layer 2 (shown: the largest)
        "first layer (1)": [(1, j, k) for j, k in [(0, 0), (1, 2), (2, 1), (126, 783), (127, 782)]],
    }
    server_ms = {name: [] for name in edges}
    for _ in range(args.rounds):
        for name, chosen in edges.items():
            for layer, j, k in chosen:
                t = time.perf_counter()
                session.explain(layer, j, k, 0)
                server_ms[name].append((time.perf_counter() - t) * 1e3)
    results: dict = {"network": list(net.sizes), "samples": args.samples, "rounds": args.rounds}
    with ExploreServer(session) as server, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        loads = []
        for _ in range(args.rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t = time.perf_counter()
            page.goto(server.url)
            page.wait_for_selector("body[data-ready=true]", timeout=60000)
            loads.append((time.perf_counter() - t) * 1e3)
            page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]", timeout=60000)
        clicks = {}
        for name, chosen in edges.items():
            times = []
            for _ in range(args.rounds):
                for layer, j, k in chosen:
                    page.evaluate(
                        CLICK, [3, 0, 0] if name.startswith("hidden") else [2, 0, 0]
                    )  # a window that shows it
                    times.append(page.evaluate(CLICK, [layer, j, k]))
            clicks[name] = summary(times)
        browser.close()
    results["load_ms"] = summary(loads)
    results["click_ms"] = clicks
    results["server_explain_ms"] = {name: summary(v) for name, v in server_ms.items()}
    print(
        f"explore on {'-'.join(map(str, net.sizes))}, {args.samples} samples, {args.rounds} rounds; "
        "ms: median (min-max)"
    )
    s = results["load_ms"]
    print(f"page load to ready:              {s['median']:7.1f} ({s['min']:.1f}-{s['max']:.1f})")
    for name in edges:
        c, e = clicks[name], results["server_explain_ms"][name]
        print(
            f"click to derivation, {name:16s} {c['median']:7.1f} ({c['min']:.1f}-{c['max']:.1f})   "
            f"of which Session.explain {e['median']:.1f} ({e['min']:.1f}-{e['max']:.1f})  "
            f"{'PASS' if c['median'] < 100 else 'FAIL'} (aim < 100 ms)"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
