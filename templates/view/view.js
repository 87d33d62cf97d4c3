"use strict";
// resgen view: the levels are Graphviz SVGs in <template>s; one is in the document at a time.
const D = JSON.parse(document.getElementById("data").textContent);
const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const S = { stage: null, run: null, frag: null, block: "", svg: null, base: null, vb: null, edges: [] };
const NS = "http://www.w3.org/2000/svg";
const diags = {};
const fmt = (n) => n.toLocaleString("en-US");

for (const e of D.errors) {
  if (!e.node) continue;
  for (const key of new Set([e.node, runOf(e.block).id + ".add"])) (diags[key] = diags[key] || []).push(e.text);
}

function runOf(block) {
  const m = /^(.+)\.(\d+)$/.exec(block || "");
  if (!m) return null;
  const i = Number(m[2]);
  return D.runs.find((r) => r.stage === m[1] && r.first <= i && i <= r.last) || null;
}

// S.stage: null (stage level), "*" (every stage open: the block level) or the one open stage;
// S.run: the run open in place inside it, its ops named after block S.block.
function show(stage, run, block) {
  const tid = stage === null ? "level-stage" : stage === "*" ? "level-block" : run ? "run:" + run.id : "open:" + stage;
  const svg = $(tid).content.firstElementChild.cloneNode(true);
  block = run ? block || `${run.stage}.${run.first}` : "";
  const abs = (id) => (id.startsWith("@") ? block + "." + id.slice(1) : id);
  S.edges = [];
  for (const g of svg.querySelectorAll("g.node")) {
    g.id = abs(g.id);
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    g.setAttribute("aria-label", g.id);
  }
  for (const g of svg.querySelectorAll("g.edge")) {
    const [src, dst] = g.id.split("#")[0].split("->").map(abs);
    g.id = src + "->" + dst + (g.id.includes("#") ? "#" + g.id.split("#")[1] : "");
    S.edges.push({ g, src, dst });
  }
  const hadFocus = canvas.contains(document.activeElement);
  canvas.replaceChildren(svg);
  if (hadFocus) canvas.focus({ preventScroll: true }); // keys keep working after a level change
  const frag = run ? D.frags.find((f) => f.id === run.frag) : null;
  Object.assign(S, { stage, run: run || null, block, frag, svg });
  for (const [id, texts] of Object.entries(diags)) {
    const el = document.getElementById(id);
    if (!el) continue;
    const tip = document.createElementNS(NS, "title");
    tip.textContent = texts.join("\n"); // the diagnostic on the node itself, as a tooltip
    el.prepend(tip);
  }
  toggles();
  const b = svg.viewBox.baseVal;
  S.base = { x: b.x, y: b.y, w: b.width, h: b.height };
  legible();
  crumbs();
}

// A visible control on each node a click can open (+) and on the open stage and run (-).
function toggles() {
  const mark = (g, sign, title, go) => {
    const box = g.getBBox(), small = box.width < 60; // beside a small node, inside a big one
    const t = document.createElementNS(NS, "text");
    const x = small ? box.x + box.width + 3 : box.x + box.width - 3;
    Object.entries({ x, y: box.y + 13, "text-anchor": small ? "start" : "end", class: "toggle" })
      .forEach(([k, v]) => t.setAttribute(k, v));
    t.textContent = sign;
    const tip = document.createElementNS(NS, "title");
    tip.textContent = title;
    t.append(tip);
    t.addEventListener("click", (ev) => { ev.stopPropagation(); go(); });
    g.append(t);
  };
  for (const g of S.svg.querySelectorAll("g.node")) {
    if (!expandable(g.id)) continue;
    g.classList.add("expandable");
    g.setAttribute("aria-expanded", "false");
    g.setAttribute("aria-label", g.id + " (Enter expands)");
    if (D.open.includes(g.id) || D.runs.some((r) => r.id === g.id)) mark(g, "\u2295", "expand " + g.id, () => expand(g.id));
  }
  const open = [[S.stage, () => shut(S.stage)]];
  if (S.run) open.push([S.run.id, () => shut(S.run.id)]);
  for (const [id, go] of open) {
    const g = id && document.getElementById("cluster:" + id);
    if (g) mark(g, "\u2296", "collapse " + id, go);
  }
}

function setView(x, y, w, h) {
  S.vb = { x, y, w, h };
  S.svg.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
}

function fit() {
  const { x, y, w, h } = S.base;
  setView(x, y, w, h);
}

// At the default zoom text stays readable: a drawing too tall to fit is shown at 1:1 from its top.
function legible() {
  const cw = canvas.clientWidth || 800, ch = canvas.clientHeight || 600;
  const whole = Math.min(cw / S.base.w, ch / S.base.h);
  if (whole >= 0.8) return fit();
  const s = Math.max(0.8, Math.min(1, cw / S.base.w));
  setView(S.base.x, S.base.y, cw / s, ch / s);
}

function zoom(f, px, py) {
  const { x, y, w, h } = S.vb;
  const cx = px === undefined ? x + w / 2 : px, cy = py === undefined ? y + h / 2 : py;
  setView(cx - (cx - x) / f, cy - (cy - y) / f, w / f, h / f);
}

function pan(dx, dy) {
  setView(S.vb.x + dx, S.vb.y + dy, S.vb.w, S.vb.h);
}

function centre(el) {
  const box = el.getBBox();
  const m = el.getCTM(), root = S.svg.getCTM();
  const t = root.inverse().multiply(m);
  const cx = t.a * (box.x + box.width / 2) + t.e, cy = t.d * (box.y + box.height / 2) + t.f;
  const cw = canvas.clientWidth || 800, ch = canvas.clientHeight || 600;
  const s = Math.max(0.8, Math.min(1.5, cw / (box.width + 40), ch / (box.height + 40)));
  setView(cx - cw / s / 2, cy - ch / s / 2, cw / s, ch / s);
}

function infoOf(id) {
  const rel = S.block && id.startsWith(S.block + ".") ? "@" + id.slice(S.block.length + 1) : id;
  const found = S.frag && S.frag.nodes[rel];
  if (found) return Object.assign({}, found, { path: id });
  const order = S.stage === "*" ? ["block", "stage"] : ["stage", "block"];
  for (const level of order) if (D.levels[level][id]) return D.levels[level][id];
  const seg = D.frags.find((f) => !f.block && id in f.nodes);
  return seg ? seg.nodes[id] : null;
}

function panel(id) {
  const info = infoOf(id);
  const box = $("panel");
  if (!info) { box.innerHTML = `<p class="muted">${esc(id)}</p>`; return; }
  const rows = [["path", info.path], ["kind", info.kind], ["arguments", info.args],
    ["output", info.shape], ["params", fmt(info.params)], ["MACs", fmt(info.macs)]];
  if (S.run && S.block && D.blocks[S.block]) {
    const [p, m] = D.blocks[S.block];
    rows.push(["block", S.block], ["block params", fmt(p)], ["block MACs", fmt(m)]);
  }
  let html = "<dl>" + rows.filter((r) => r[1] !== "").map(([k, v]) =>
    `<dt>${k}</dt><dd data-field="${k}">${esc(String(v))}</dd>`).join("") + "</dl>";
  for (const text of diags[id] || []) html += `<p class="diag">${esc(text)}</p>`;
  const inside = openAround(id);
  if (expandable(id)) html += `<p><button id="expand">Expand \u25b8</button></p>`;
  else if (inside) html += `<p><button id="shut">Collapse ${esc(inside)} \u25c2</button></p>`;
  box.innerHTML = html;
  if ($("expand")) $("expand").onclick = () => expand(id);
  if ($("shut")) $("shut").onclick = () => shut(inside);
}

function esc(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function select(id) {
  for (const el of S.svg.querySelectorAll(".sel, .nbr, .hl")) el.classList.remove("sel", "nbr", "hl");
  const el = document.getElementById(id);
  if (!el) return;
  el.classList.add("sel");
  for (const e of S.edges) {
    if (e.src !== id && e.dst !== id) continue;
    e.g.classList.add("hl");
    const other = document.getElementById(e.src === id ? e.dst : e.src);
    if (other) other.classList.add("nbr");
  }
  const add = S.run && id.startsWith(S.block + ".") ? S.block + ".add" : runAdd(id);
  const addEl = add && document.getElementById(add);
  if (addEl && add !== id) addEl.classList.add("nbr");
  panel(id);
}

function runAdd(id) {
  const r = D.runs.find((x) => id === x.id || id.startsWith(x.id + "."));
  return r ? r.id + ".add" : null;
}

function runFor(id) {
  return D.runs.find((x) => id === x.id || id === x.id + ".shortcut" || id === x.id + ".add") || null;
}

function stageOf(id) {
  const r = runFor(id) || runOf((/^(.+?\.\d+)(\.|$)/.exec(id) || [])[1]);
  if (r) return r.stage;
  const seg = D.frags.find((f) => !f.block && id in f.nodes);
  return seg ? seg.id.split("#")[0] : D.open.includes(id) ? id : null;
}

function expandable(id) {
  if (D.open.includes(id)) return id !== S.stage;
  const r = runFor(id);
  return !!r && r !== S.run;
}

// The open stage or run a node sits in: what a double-click or the panel button collapses.
function openAround(id) {
  if (S.run && (id.startsWith(S.block + ".") || id === S.run.id)) return S.run.id;
  if (S.stage && S.stage !== "*" && stageOf(id) === S.stage) return S.stage;
  return null;
}

function expand(id) {
  if (D.open.includes(id)) {
    show(id);
    const r = D.runs.find((x) => x.stage === id);
    const seg = D.frags.find((f) => f.id === id && !f.block);
    const g = seg && [...S.svg.querySelectorAll("g.node")].find((x) => x.id in seg.nodes);
    const first = r ? r.id : g ? g.id : null;
    if (!(first && focusEl(first))) centre(document.getElementById("cluster:" + id));
    return;
  }
  const r = runFor(id);
  if (!r) return;
  show(r.stage, r);
  const first = [...S.svg.querySelectorAll("g.node")].find((g) => g.id.startsWith(S.block + "."));
  if (first) focusEl(first.id);
  $("found").textContent = "";
}

function shut(id) {
  if (S.run && id === S.run.id) { show(S.stage); focusEl(id); return; }
  show(null);
  if (id !== "*") focusEl(id);
}

function collapse() {
  if (S.run) shut(S.run.id);
  else if (S.stage !== null) shut(S.stage);
}

function focusEl(id) {
  const el = document.getElementById(id);
  if (!el) return false;
  centre(el);
  el.focus({ preventScroll: true });
  select(id);
  return true;
}

function find(path) {
  path = path.trim();
  const m = /^(.+?\.\d+)(?:\.(.+))?$/.exec(path);
  const run = m && runOf(m[1]);
  if (run && (!m[2] || ("@" + m[2]) in D.frags.find((f) => f.id === run.frag).nodes)) {
    if (!m[2]) { show(run.stage); return focusEl(run.id); }
    show(run.stage, run, m[1]);
    return focusEl(path);
  }
  if (path in D.levels.block && !D.open.includes(path) || D.frags.some((f) => !f.block && path in f.nodes)) {
    show(stageOf(path));
    return focusEl(path);
  }
  if (path in D.levels.stage) { show(null); return focusEl(path); }
  return false;
}

function crumbs() {
  const nav = $("crumbs");
  const parts = [[D.name, () => show(null)]];
  if (S.stage === "*") parts.push(["every stage", null]);
  else if (S.stage) parts.push([S.stage, () => show(S.stage)]);
  if (S.run) parts.push([`${S.block} ops (run ${S.run.id})`, null]);
  const items = parts.map(([label, go], i) => {
    const el = document.createElement(go && i < parts.length - 1 ? "button" : "span");
    el.textContent = label;
    if (go && i < parts.length - 1) el.onclick = go;
    return el;
  }).flatMap((el, i) => (i ? [document.createTextNode(" \u203a "), el] : [el]));
  if (S.stage !== "*") {
    const all = document.createElement("button");
    all.id = "open-all";
    all.textContent = "open every stage";
    all.onclick = () => show("*");
    items.push(document.createTextNode(" \u00b7 "), all);
  }
  nav.replaceChildren(...items);
}

function table() {
  const body = $("stages").tBodies[0];
  for (const s of D.info.stages) {
    const tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.dataset.stage = s.name;
    for (const v of [s.name, s.blocks, (s.output || []).join("x"), fmt(s.params), fmt(s.macs)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    tr.onclick = tr.onkeydown = (ev) => {
      if (ev.type === "keydown" && ev.key !== "Enter") return;
      if (D.open.includes(s.name)) expand(s.name);
    };
    body.append(tr);
  }
  const tr = document.createElement("tr");
  tr.innerHTML = `<td><b>total</b></td><td></td><td></td><td>${fmt(D.info.params)}</td><td>${fmt(D.info.macs)}</td>`;
  body.append(tr);
}

function errors() {
  if (!D.errors.length) return;
  $("errors").hidden = false;
  for (const e of D.errors) {
    const li = document.createElement("li");
    li.tabIndex = 0;
    li.textContent = e.text;
    li.title = e.hint;
    li.onclick = li.onkeydown = (ev) => {
      if (ev.type === "keydown" && ev.key !== "Enter") return;
      if (e.node) find(e.node);
    };
    $("error-list").append(li);
  }
}

function nodeOf(target) {
  const g = target.closest && target.closest("g.node");
  return g && S.svg.contains(g) ? g : null;
}

let drag = null;
canvas.addEventListener("pointerdown", (ev) => {
  drag = { x: ev.clientX, y: ev.clientY, moved: false };
});
canvas.addEventListener("pointermove", (ev) => {
  if (drag && ev.buttons) {
    const s = S.vb.w / canvas.clientWidth;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) { pan(-dx * s, -dy * s); drag.x = ev.clientX; drag.y = ev.clientY; }
    return;
  }
  const g = nodeOf(ev.target);
  if (g) panel(g.id);
});
canvas.addEventListener("click", (ev) => {
  if (drag && drag.moved) return;
  const g = nodeOf(ev.target);
  if (g) { g.focus({ preventScroll: true }); select(g.id); }
});
canvas.addEventListener("dblclick", (ev) => {
  const g = nodeOf(ev.target);
  if (!g) return;
  const inside = openAround(g.id);
  if (expandable(g.id)) expand(g.id);
  else if (inside) shut(inside);
});
canvas.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const r = canvas.getBoundingClientRect();
  const px = S.vb.x + ((ev.clientX - r.left) / r.width) * S.vb.w;
  const py = S.vb.y + ((ev.clientY - r.top) / r.height) * S.vb.h;
  zoom(Math.pow(1.0015, -ev.deltaY), px, py);
}, { passive: false });
canvas.addEventListener("focusin", (ev) => {
  const g = nodeOf(ev.target);
  if (g) panel(g.id);
});
canvas.addEventListener("keydown", (ev) => {
  const g = nodeOf(ev.target);
  const step = S.vb.w * 0.1;
  const keys = {
    "+": () => zoom(1.25), "=": () => zoom(1.25), "-": () => zoom(0.8), "0": fit,
    ArrowLeft: () => pan(-step, 0), ArrowRight: () => pan(step, 0),
    ArrowUp: () => pan(0, -step), ArrowDown: () => pan(0, step), Backspace: collapse,
    Enter: () => g && (expandable(g.id) ? expand(g.id) : select(g.id)),
    " ": () => g && select(g.id),
  };
  if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
});
$("fit").onclick = fit;
$("zoom-in").onclick = () => zoom(1.25);
$("zoom-out").onclick = () => zoom(0.8);
$("collapse").onclick = collapse;
$("search").onsubmit = (ev) => {
  ev.preventDefault();
  const q = $("q").value;
  $("found").textContent = find(q) ? "" : `no node ${q}`;
};

table();
errors();
show(null);
