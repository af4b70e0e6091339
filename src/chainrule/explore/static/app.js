// chainrule explore: draws the network and typesets what the server computes. No number shown
// here is computed here: every value comes from /api (chainrule's explain and gradients).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MAX_NODES = 14; // a wider layer shows a window around the selected node, never a hairball
const state = { net: null, sel: null, sample: 0, byGradient: false, trail: [], timer: null, explained: null };

const $ = (id) => document.getElementById(id);

// A file written by `chainrule explain --html` carries the server's answers for its one
// explanation (window.CHAINRULE_EMBEDDED) and fetches nothing.
function embeddedAnswer(path, params) {
  const saved = window.CHAINRULE_EMBEDDED;
  if (path === "network" || path === "sample") return saved[path];
  const e = saved.explain;
  if (path === "explain" && String(params.layer) === String(e.layer) && String(params.j) === String(e.j)
      && String(params.k ?? null) === String(e.k)) return e;
  throw new Error("this file holds one explanation and no server: run 'chainrule explore' to click any weight or train");
}

async function api(path, params = {}) {
  if (window.CHAINRULE_EMBEDDED) return embeddedAnswer(path, params);
  const response = await fetch(`/api/${path}?${new URLSearchParams(params)}`, { credentials: "same-origin" });
  const value = await response.json();
  if (!response.ok) throw new Error(value.error || response.statusText);
  return value;
}

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function tex(target, source, display = true) {
  try {
    katex.render(source, target, { displayMode: display, throwOnError: false, output: "html" });
  } catch (err) {
    target.textContent = source;
  }
}

// The nodes of a layer to draw: all of a narrow layer; of a wide one the first and last few and
// the neighbourhood of `focus`, with {gap: count} markers for the nodes left out.
function visibleNodes(n, focus) {
  if (n <= MAX_NODES) return [...Array(n).keys()];
  const keep = new Set([0, 1, 2, n - 2, n - 1]);
  for (let i = focus - 2; i <= focus + 2; i++) if (i >= 0 && i < n) keep.add(i);
  const sorted = [...keep].sort((a, b) => a - b);
  const items = [];
  sorted.forEach((i, idx) => {
    if (idx > 0 && i - sorted[idx - 1] > 1) items.push({ gap: i - sorted[idx - 1] - 1 });
    items.push(i);
  });
  return items;
}

function focusOf(l) {
  const s = state.sel;
  if (!s) return 0;
  if (l === s.layer) return s.j;
  if (l === s.layer - 1 && s.k !== null) return s.k;
  if (l === s.layer + 1) return 0;
  return 0;
}

function drawNetwork() {
  const net = state.net;
  const svg = $("network");
  svg.replaceChildren();
  const width = svg.clientWidth || 800;
  const height = svg.clientHeight || 500;
  const L = net.sizes.length - 1;
  const left = net.image_side ? 130 : 50;
  const right = 40;
  const top = 42;
  const bottom = 24;
  const xs = net.sizes.map((_, l) => left + (l * (width - left - right)) / L);
  const pos = net.sizes.map((n, l) => {
    const items = visibleNodes(n, focusOf(l));
    const step = (height - top - bottom) / Math.max(items.length, 1);
    const map = new Map();
    const gaps = [];
    items.forEach((item, idx) => {
      const y = top + step * (idx + 0.5);
      if (typeof item === "number") map.set(item, y);
      else gaps.push({ y, count: item.gap });
    });
    return { map, gaps, r: Math.max(6, Math.min(16, step * 0.36)) };
  });
  const edges = el("g", {}, svg);
  for (let l = 1; l <= L; l++) {
    const values = state.byGradient ? net.dW[l - 1] : net.W[l - 1];
    let biggest = 1e-300;
    for (const row of values) for (const v of row) biggest = Math.max(biggest, Math.abs(v));
    for (const [j, yj] of pos[l].map) {
      for (const [k, yk] of pos[l - 1].map) {
        const v = values[j][k];
        const selected = state.sel && state.sel.layer === l && state.sel.j === j && state.sel.k === k;
        const g = el("g", { class: "edge" + (selected ? " selected" : ""), "data-layer": l, "data-j": j, "data-k": k }, edges);
        const line = { x1: xs[l - 1], y1: yk, x2: xs[l], y2: yj };
        el("line", {
          ...line,
          class: "edge-line",
          stroke: v >= 0 ? "var(--pos)" : "var(--neg)",
          "stroke-width": (0.6 + 3.4 * Math.abs(v) / biggest).toFixed(2),
          "stroke-opacity": (0.25 + 0.75 * Math.abs(v) / biggest).toFixed(2),
        }, g);
        el("line", { ...line, class: "hit" }, g);
        const title = el("title", {}, g);
        title.textContent = `w_{${j},${k}}^{(${l})} = ${net.W[l - 1][j][k]}; dC/dw = ${net.dW[l - 1][j][k]}`;
        g.addEventListener("click", () => select({ layer: l, j, k }));
      }
    }
  }
  const nodes = el("g", {}, svg);
  net.sizes.forEach((n, l) => {
    // the first and last layers' labels grow inwards, so that none is cut at the picture's edge
    const anchor = l === 0 ? "start" : l === L ? "end" : "middle";
    const lx = xs[l] + (l === 0 ? -16 : l === L ? 16 : 0);
    const label = el("text", { x: lx, y: 16, class: "layer-label", "text-anchor": anchor }, nodes);
    label.textContent = l === 0 ? "layer 0 (input)" : `layer ${l}${l === L ? " (output)" : ""}: ${net.activations[l - 1]}`;
    const count = el("text", { x: lx, y: 30, class: "layer-label", "text-anchor": anchor }, nodes);
    count.textContent = `${n} node${n === 1 ? "" : "s"}`;
    for (const [j, y] of pos[l].map) {
      const selected = state.sel && state.sel.k === null && state.sel.layer === l && state.sel.j === j;
      const g = el("g", { class: "node" + (selected ? " selected" : ""), "data-layer": l, "data-j": j }, nodes);
      el("circle", { cx: xs[l], cy: y, r: pos[l].r }, g);
      const t = el("text", { x: xs[l], y }, g);
      t.textContent = j;
      if (l > 0 && net.bias) g.addEventListener("click", () => select({ layer: l, j, k: null }));
    }
    for (const gap of pos[l].gaps) {
      const t = el("text", { x: xs[l], y: gap.y, class: "more" }, nodes);
      t.textContent = `⋮ ${gap.count} more`;
    }
  });
  if (net.image_side && state.x) drawImage(svg, net.image_side, state.x, top);
}

function drawImage(svg, side, x, top) {
  const cell = Math.floor(96 / side);
  const g = el("g", { transform: `translate(8, ${top})` }, svg);
  const lo = Math.min(...x);
  const hi = Math.max(...x);
  x.forEach((v, i) => {
    const shade = Math.round(255 * (1 - (v - lo) / (hi - lo || 1)));
    el("rect", { x: (i % side) * cell, y: Math.floor(i / side) * cell, width: cell, height: cell, fill: `rgb(${shade},${shade},${shade})` }, g);
  });
  const t = el("text", { x: 0, y: side * cell + 14, class: "layer-label", "text-anchor": "start" }, g);
  t.textContent = `sample ${state.sample}`;
}

function row(table, name, symbol, value) {
  const tr = document.createElement("tr");
  const a = document.createElement("td");
  tex(a, symbol, false);
  const b = document.createElement("td");
  b.id = `v-${name}`;
  b.dataset.value = value === null ? "" : String(value);
  b.textContent = value === null ? "—" : Number(value).toPrecision(8);
  tr.append(a, b);
  table.appendChild(tr);
}

function showExplanation(e) {
  state.explained = e;
  $("title").textContent = "";
  tex($("title"), (e.bias ? "\\frac{\\partial C_0}{\\partial " : "\\frac{\\partial C_0}{\\partial ") + e.tex.symbol + "}", false);
  $("describe").textContent = `${e.describe}, sample ${e.sample} of ${e.n_samples}; loss ${e.loss}`;
  const box = $("derivation");
  box.replaceChildren();
  const line = (source, cls = "line") => {
    const div = document.createElement("div");
    div.className = cls;
    tex(div, source);
    box.appendChild(div);
    return div;
  };
  const label = (text) => {
    const div = document.createElement("div");
    div.className = "label";
    div.textContent = text;
    box.appendChild(div);
  };
  label("the three terms of the chain rule, for this sample");
  for (const key of ["chain", "formulas", "numbers", "product"]) line(e.tex[key]).dataset.part = key;
  if (e.hidden_sum.length) {
    label(`the first term is a sum over layer ${e.layer + 1}: click a row to follow the chain one layer closer to the loss`);
    for (const m of e.hidden_shown) {
      const s = e.hidden_sum[m];
      const div = line(s.tex, "line summand");
      div.dataset.layer = s.next.layer;
      div.dataset.j = s.next.j;
      div.dataset.k = s.next.k;
      div.addEventListener("click", () => select({ layer: s.next.layer, j: s.next.j, k: s.next.k }));
    }
    if (e.hidden_rest) line(e.hidden_rest.tex, "line rest");
    line(e.tex.hidden);
  }
  label(e.n_samples === 1 ? "the cost of the one sample, and two independent checks of its gradient" : `the mean over all ${e.n_samples} samples, and two independent checks of it`);
  line(e.tex.mean);
  line(e.tex.backprop);
  line(e.tex.finite_difference);
  const table = document.createElement("table");
  row(table, "term1", "\\partial C_0 / \\partial a", e.term1);
  row(table, "term2", "g'(z)", e.term2);
  row(table, "term3", e.bias ? "\\partial z / \\partial b" : "a_k^{(l-1)}", e.term3);
  row(table, "product", "\\text{product}", e.product);
  row(table, "mean", "\\partial C / \\partial w", e.mean);
  row(table, "backprop", "\\text{backprop}", e.backprop);
  row(table, "finite_difference", "\\text{finite difference}", e.finite_difference);
  row(table, "weight", e.tex.symbol, e.weight);
  box.appendChild(table);
}

async function select(sel) {
  if (document.body.classList.contains("practicing")) return null; // the practice network is not the explored one
  state.sel = sel;
  $("error").textContent = "";
  try {
    const params = { layer: sel.layer, j: sel.j, sample: state.sample };
    if (sel.k !== null) params.k = sel.k;
    const e = await api("explain", params);
    showExplanation(e);
    drawNetwork();
    document.body.dataset.explained = `${sel.layer},${sel.j},${sel.k}`;
    document.body.dataset.sample = String(e.sample);
    return e;
  } catch (err) {
    $("error").textContent = err.message;
  }
}

function drawChart(svg, series) {
  svg.replaceChildren();
  const width = svg.clientWidth || 300;
  const height = svg.clientHeight || 110;
  series.forEach(({ values, color }) => {
    const finite = values.filter((v) => v !== null && Number.isFinite(v));
    if (!finite.length) return;
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const n = Math.max(values.length - 1, 1);
    const points = values
      .map((v, i) => (v === null ? null : `${(4 + (i * (width - 8)) / n).toFixed(1)},${(height - 6 - ((v - lo) / (hi - lo || 1)) * (height - 12)).toFixed(1)}`))
      .filter(Boolean)
      .join(" ");
    el("polyline", { points, stroke: color }, svg);
    if (values.length === 1) {
      const [x, y] = points.split(",");
      el("circle", { cx: x, cy: y, r: 3, fill: color }, svg);
    }
  });
}

function drawCharts() {
  drawChart($("loss-chart"), [{ values: state.net.losses, color: "#333" }]);
  drawChart($("trail-chart"), [
    { values: state.trail.map((t) => t.weight), color: "var(--pos)" },
    { values: state.trail.map((t) => t.mean), color: "var(--neg)" },
  ]);
  $("cost").textContent = `step ${state.net.steps}, C = ${state.net.cost === null ? "not finite" : state.net.cost.toPrecision(6)}`;
  $("cost").dataset.steps = state.net.steps;
}

async function refresh() {
  state.net = await api("network");
  const sample = await api("sample", { i: state.sample });
  state.x = sample.picture;
  $("sample-info").textContent = `of ${state.net.n_samples}`;
  $("sample").max = state.net.n_samples - 1;
  $("summary").textContent = `${state.net.title ? state.net.title + ": " : ""}layers ${state.net.sizes.join("-")}, loss ${state.net.loss}`;
  drawNetwork();
  drawCharts();
}

async function step() {
  try {
    const params = { lr: $("lr").value, count: 1, layer: state.sel.layer, j: state.sel.j };
    if (state.sel.k !== null) params.k = state.sel.k;
    if ($("batch").value === "sample") params.sample = state.sample;
    const out = await api("step", params);
    if (out.moved) {
      tex($("moved"), out.moved.tex);
      $("moved").dataset.before = out.moved.before;
      $("moved").dataset.gradient = out.moved.gradient;
      $("moved").dataset.after = out.moved.after;
    }
    await refresh();
    const e = await select(state.sel);
    if (e) state.trail.push({ weight: e.weight, mean: e.mean });
    drawCharts();
  } catch (err) {
    $("error").textContent = err.message;
    pause();
  }
}

function pause() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  $("play").textContent = "play";
}

async function start() {
  const saved = window.CHAINRULE_EMBEDDED;
  if (saved) {
    state.sample = saved.explain.sample;
    $("sample").value = state.sample;
    for (const id of ["sample", "step", "play", "reset", "lr", "batch"]) $(id).disabled = true;
  }
  await refresh();
  $("lr").value = state.net.lr;
  const L = state.net.sizes.length - 1;
  const first = await select(
    saved
      ? { layer: saved.explain.layer, j: saved.explain.j, k: saved.explain.k }
      : { layer: L, j: Math.min(1, state.net.sizes[L] - 1), k: Math.min(2, state.net.sizes[L - 1] - 1) },
  );
  if (first) state.trail = [{ weight: first.weight, mean: first.mean }];
  drawCharts();
  $("sample").addEventListener("change", async () => {
    state.sample = Math.max(0, Math.min(state.net.n_samples - 1, Number($("sample").value) || 0));
    await refresh();
    await select(state.sel);
  });
  $("by-gradient").addEventListener("change", () => {
    state.byGradient = $("by-gradient").checked;
    drawNetwork();
  });
  $("step").addEventListener("click", step);
  $("play").addEventListener("click", () => {
    if (state.timer) return pause();
    $("play").textContent = "pause";
    state.timer = setInterval(step, 400);
  });
  $("reset").addEventListener("click", async () => {
    pause();
    await api("reset");
    $("moved").replaceChildren();
    await refresh();
    const e = await select(state.sel);
    state.trail = e ? [{ weight: e.weight, mean: e.mean }] : [];
    drawCharts();
  });
  window.addEventListener("resize", () => { drawNetwork(); drawCharts(); });
  document.body.dataset.ready = "true";
}

// ------------------------------------------------------------------ practice mode
// A fresh small network from /api/practice (seeded); the learner types each term and /api/check
// says which are right, naming the wrong ones. The numbers shown are the problem's own.
const practice = { seed: 1, problem: null, saved: null };

function practiceNetwork(problem) {
  const W = problem.layers.map((layer) => layer.W);
  return {
    title: "practice", sizes: problem.sizes, activations: problem.layers.map((layer) => layer.activation),
    bias: problem.bias, image_side: null, W, dW: W.map((m) => m.map((r) => r.map(() => 0))),
  };
}

function matrixTable(caption, rows, rowName, colName) {
  const table = document.createElement("table");
  const head = document.createElement("tr");
  const corner = document.createElement("th");
  tex(corner, caption, false);
  head.appendChild(corner);
  rows[0].forEach((_, c) => {
    const th = document.createElement("th");
    if (colName) tex(th, `${colName} = ${c}`, false);
    head.appendChild(th);
  });
  table.appendChild(head);
  rows.forEach((r, i) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    if (rowName) tex(th, `${rowName} = ${i}`, false);
    tr.appendChild(th);
    for (const v of r) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    table.appendChild(tr);
  });
  return table;
}

async function newProblem(seed) {
  practice.seed = seed;
  const p = await api("practice", { seed });
  practice.problem = p;
  $("question").textContent = p.question;
  const box = $("problem");
  box.replaceChildren();
  for (const layer of p.layers) {
    box.appendChild(matrixTable(`W^{(${layer.layer})}`, layer.W, "j", "k"));
    if (layer.b) box.appendChild(matrixTable(`b^{(${layer.layer})}`, layer.b.map((v) => [v]), "j", ""));
  }
  box.appendChild(matrixTable("x", [p.x], "", "k"));
  box.appendChild(matrixTable("y", [p.y], "", "j"));
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = `${p.activation_formula} in every layer; ${p.loss_formula}.`;
  box.appendChild(note);
  const fields = $("answer-fields");
  fields.replaceChildren();
  for (const term of p.terms) {
    const div = document.createElement("div");
    div.className = "field";
    const label = document.createElement("label");
    label.htmlFor = `answer-${term.name}`;
    tex(label, `\\text{${term.label}: } ${term.symbol}`, false);
    const input = document.createElement("input");
    input.id = `answer-${term.name}`;
    input.name = term.name;
    input.inputMode = "decimal";
    div.append(label, input);
    fields.appendChild(div);
  }
  $("feedback").replaceChildren();
  $("seed-info").textContent = `problem ${seed}`;
  state.net = practiceNetwork(p);
  state.sel = { layer: p.weight.layer, j: p.weight.j, k: p.weight.k };
  drawNetwork();
  document.body.dataset.problem = String(seed);
}

async function checkAnswers(reveal) {
  const params = { seed: practice.seed, reveal: reveal ? 1 : 0 };
  for (const name of ["term1", "term2", "term3", "product"]) params[name] = $(`answer-${name}`).value.trim();
  const result = await api("check", params);
  const list = $("feedback");
  list.replaceChildren();
  for (const name of ["term1", "term2", "term3", "product"]) {
    const t = result.terms[name];
    const li = document.createElement("li");
    li.dataset.term = name;
    const label = practice.problem.terms.find((term) => term.name === name).label;
    li.className = !t || t.given === null ? "missing" : t.correct ? "right" : "wrong";
    li.textContent = t ? t.feedback : `${label}: not given yet`;
    list.appendChild(li);
  }
  const summary = document.createElement("li");
  summary.id = "verdict";
  summary.className = result.correct ? "right" : "wrong";
  summary.textContent = result.message;
  list.appendChild(summary);
  document.body.dataset.checked = result.correct ? "right" : "wrong";
}

async function togglePractice() {
  const on = !document.body.classList.contains("practicing");
  document.body.classList.toggle("practicing", on);
  $("practice").hidden = !on;
  $("practice-toggle").textContent = on ? "back to the network" : "practice";
  if (on) {
    practice.saved = { net: state.net, sel: state.sel };
    await newProblem(practice.seed);
  } else {
    state.net = practice.saved.net;
    state.sel = practice.saved.sel;
    drawNetwork();
  }
}

function startPractice() {
  if (window.CHAINRULE_EMBEDDED) {
    $("practice-toggle").hidden = true;
    return;
  }
  const failing = (fn) => async (...a) => {
    try {
      $("practice-error").textContent = "";
      await fn(...a);
    } catch (err) {
      $("practice-error").textContent = err.message;
    }
  };
  $("practice-toggle").addEventListener("click", failing(togglePractice));
  $("answers").addEventListener("submit", failing(async (event) => { event.preventDefault(); await checkAnswers(false); }));
  $("reveal").addEventListener("click", failing(() => checkAnswers(true)));
  $("new-problem").addEventListener("click", failing(() => newProblem(practice.seed + 1)));
  for (const solutions of [false, true]) {
    $(solutions ? "download-solutions" : "download-worksheet").addEventListener("click", failing(async () => {
      const sheet = await api("worksheet", {
        problems: $("sheet-problems").value, seed: practice.seed, format: $("sheet-format").value, solutions: solutions ? 1 : 0,
      });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([sheet.text], { type: "text/plain" }));
      link.download = sheet.name;
      link.click();
      URL.revokeObjectURL(link.href);
    }));
  }
}

window.addEventListener("DOMContentLoaded", startPractice);
window.addEventListener("DOMContentLoaded", () => start().catch((err) => { $("error").textContent = err.message; }));
