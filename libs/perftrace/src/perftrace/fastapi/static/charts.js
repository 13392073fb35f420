// The /performance pictures as hand-written SVG: no library, no CDN. The server works out the numbers
// (perftrace/fastapi/charts.py, perftrace.compare); this file only draws them.
(() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#5b8def", "#f0a500", "#2e9e6b", "#d9534f", "#8e6bd9", "#1aa3b8", "#c76b2e", "#6b7a99", "#d94fa3", "#7fae2e"];
  const color = (i) => COLORS[i % COLORS.length];
  const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(2)) + " ms";
  const pct = (f) => (f >= 0 ? "+" : "") + (f * 100).toFixed(1) + "%";
  // Where the routes are, behind the app's root path: the server passes them (perftrace/paths.py).
  const urls = JSON.parse(document.getElementById("perftrace-urls")?.textContent || "{}");

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function svg(container, width, height) {
    container.replaceChildren();
    return el("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img" }, container);
  }

  // Stages differ by orders of magnitude (a rate-limit check vs a model call): a log axis shows them all.
  function logScale(min, max, x0, x1) {
    const lo = Math.log10(Math.max(min, 0.001)), hi = Math.log10(Math.max(max, min * 10, 0.01));
    return (v) => x0 + ((Math.log10(Math.max(v, 0.001)) - lo) / (hi - lo)) * (x1 - x0);
  }

  function distribution(container, stages) {
    const row = 28, left = 190, right = 880, height = stages.length * row + 30;
    const all = stages.flatMap((s) => s.values);
    const x = logScale(Math.min(...all), Math.max(...all), left, right);
    const root = svg(container, 900, height);
    for (let p = -3; p <= 6; p++) {
      const v = 10 ** p, px = x(v);
      if (px < left - 1 || px > right + 1) continue;
      el("line", { x1: px, x2: px, y1: 0, y2: height - 24, stroke: "#e3e6ef" }, root);
      el("text", { x: px, y: height - 8, "text-anchor": "middle", class: "axis" }, root, fmt(v));
    }
    stages.forEach((s, i) => {
      const g = el("g", { class: "stage", "data-stage": s.name }, root);
      const y = i * row + 14;
      el("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, g, s.name);
      el("line", { x1: x(s.p5), x2: x(s.p95), y1: y, y2: y, stroke: "#667" }, g);
      el("rect", { x: x(s.p25), y: y - 8, width: Math.max(1, x(s.p75) - x(s.p25)), height: 16, fill: color(i), "fill-opacity": 0.25, stroke: color(i) }, g);
      el("line", { x1: x(s.p50), x2: x(s.p50), y1: y - 9, y2: y + 9, stroke: "#1d2433", "stroke-width": 2 }, g);
      s.values.forEach((v, j) => el("circle", { cx: x(v), cy: y + ((j * 7) % 13) - 6, r: 1.8, fill: color(i), "fill-opacity": 0.7 }, g));
      el("title", {}, g, `${s.name}: p50 ${fmt(s.p50)}, p95 ${fmt(s.p95)}, ${s.values.length} calls`);
    });
  }

  // What the timeline and a conversation's turns share: one bar per request (or turn), its time stacked by stage,
  // `fill` of its slot wide (`centred` in the slot or at its left), over a time axis, the stages' legend below.
  // `each(g, bar, i, centre, bottom)` adds to a bar's group; the geometry returned places what a chart adds.
  function stackedBars(container, names, bars, { right, fill, centred, kind, each }) {
    const left = 60, top = 10, bottom = 200;
    const max = Math.max(...bars.map((b) => Math.max(b.total, b.parts.reduce((a, c) => a + c, 0))), 0.001);
    const y = (ms) => bottom - (ms / max) * (bottom - top);
    const step = (right - left) / bars.length, width = Math.max(1, step * fill);
    const centre = (i) => left + (i + 0.5) * step;
    const root = svg(container, 900, bottom + 36 + Math.ceil(names.length / 4) * 14);
    for (const f of [0, 0.5, 1]) {
      el("line", { x1: left, x2: right, y1: y(max * f), y2: y(max * f), stroke: "#e3e6ef" }, root);
      el("text", { x: left - 6, y: y(max * f) + 4, "text-anchor": "end", class: "axis" }, root, fmt(max * f));
    }
    bars.forEach((b, i) => {
      const g = el("g", { class: kind, "data-trace-id": b.trace_id }, root);
      let base = 0;
      b.parts.forEach((ms, j) => {
        if (ms <= 0) return;
        el("rect", { x: left + i * step + (centred ? (step - width) / 2 : 0), y: y(base + ms), width, height: Math.max(0.5, y(base) - y(base + ms)), fill: color(j) }, g);
        base += ms;
      });
      each(g, b, i, centre(i), bottom);
    });
    names.forEach((name, i) => {
      const g = el("g", { class: "legend" }, root);
      const lx = left + (i % 4) * 205, ly = bottom + 30 + Math.floor(i / 4) * 14;
      el("rect", { x: lx, y: ly - 9, width: 10, height: 10, fill: color(i) }, g);
      el("text", { x: lx + 14, y: ly, class: "axis" }, g, name);
    });
    return { root, left, right, top, bottom, centre };
  }

  function timeline(container, stages, requests) {
    const time = (t) => new Date(t).toLocaleTimeString();
    const each = (g, r) => el("title", {}, g, `${time(r.t)}: ${fmt(r.total)}`);
    const chart = stackedBars(container, stages.map((s) => s.name), requests, { right: 880, fill: 0.8, centred: false, kind: "request", each });
    el("text", { x: chart.left, y: chart.bottom + 16, class: "axis" }, chart.root, time(requests[0].t));
    el("text", { x: chart.right, y: chart.bottom + 16, "text-anchor": "end", class: "axis" }, chart.root, time(requests[requests.length - 1].t));
  }

  // A conversation's turns: each turn's time stacked by stage (left axis), the input tokens the model read as a
  // line (right axis) and the input budget dashed, so the history growing toward it shows.
  function conversationTurns(container, data) {
    const each = (g, t, i, centre, bottom) => {
      el("text", { x: centre, y: bottom + 16, "text-anchor": "middle", class: "axis" }, g, `${i + 1}`);
      el("title", {}, g, `turn ${i + 1}: ${fmt(t.total)}, ${t.input_tokens ?? "?"} input tokens`);
    };
    const { root, left, right, top, bottom, centre } = stackedBars(container, data.stages, data.turns, { right: 840, fill: 0.6, centred: true, kind: "turn", each });
    const tokens = data.turns.map((t) => t.input_tokens).filter((v) => v !== null);
    const maxTokens = Math.max(1, data.budget || 0, ...tokens);
    const yt = (n) => bottom - (n / maxTokens) * (bottom - top);
    for (const f of [0, 0.5, 1]) el("text", { x: right + 6, y: yt(maxTokens * f) + 4, class: "axis" }, root, `${Math.round(maxTokens * f)} tok`);
    const points = data.turns.flatMap((t, i) => (t.input_tokens === null ? [] : [`${centre(i)},${yt(t.input_tokens)}`]));
    if (points.length) el("polyline", { class: "input-tokens", points: points.join(" "), fill: "none", stroke: "#1d2433", "stroke-width": 2 }, root);
    if (data.budget) el("line", { class: "budget", x1: left, x2: right, y1: yt(data.budget), y2: yt(data.budget), stroke: "#d9534f", "stroke-dasharray": "6 4" }, root);
  }

  function comparison(container, result) {
    // Time rows, then tokens and cost per request (verdicts more/less): the same intervals, the same drawing.
    const rows = [...result.stages, ...(result.usage || [])];
    const row = 34, left = 190, right = 580, height = rows.length * row + 40;
    const bounds = rows.flatMap((s) => Object.values(s.changes).flatMap((c) => [c.low, c.high, c.change])).filter((v) => v !== null);
    const span = Math.max(0.1, ...bounds.map(Math.abs));
    const x = (f) => left + ((f + span) / (2 * span)) * (right - left);
    const root = svg(container, 900, height);
    el("line", { x1: x(0), x2: x(0), y1: 0, y2: height - 24, stroke: "#1d2433" }, root);
    for (const f of [-span, 0, span]) el("text", { x: x(f), y: height - 8, "text-anchor": "middle", class: "axis" }, root, pct(f));
    rows.forEach((s, i) => {
      const g = el("g", { class: "stage", "data-stage": s.name, "data-verdict": s.verdict }, root);
      const y = i * row + 16, tone = { slower: "#d9534f", more: "#d9534f", faster: "#2e9e6b", less: "#2e9e6b" }[s.verdict] || "#667";
      el("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, g, s.name);
      ["p50", "p95"].forEach((label, k) => {
        const c = s.changes[label], cy = y - 5 + k * 10;
        if (c.low !== null) el("line", { x1: x(c.low), x2: x(c.high), y1: cy, y2: cy, stroke: tone, "stroke-width": 2 }, g);
        if (c.change !== null) el(k ? "rect" : "circle", k ? { x: x(c.change) - 3, y: cy - 3, width: 6, height: 6, fill: tone } : { cx: x(c.change), cy, r: 3.5, fill: tone }, g);
      });
      const p50 = s.changes.p50;
      const note = p50.change === null ? s.verdict : `${s.verdict} · p50 ${pct(p50.change)} · p95 ${s.changes.p95.change === null ? "—" : pct(s.changes.p95.change)}`;
      el("text", { x: right + 14, y: y + 4, fill: tone }, g, note);
    });
  }

  async function compareFiles(files, container, status) {
    const [before, after] = await Promise.all(files.map((f) => f.text().then(JSON.parse).catch(() => null)));
    if (!before || !after) {
      status.textContent = `Not JSON: a snapshot is written by \`snapshot -o FILE\` or GET ${urls.snapshot}.`;
      return;
    }
    const response = await fetch(urls.compare, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ before, after }) });
    const body = await response.json();
    if (!response.ok) {
      container.replaceChildren();
      status.textContent = body.detail;
      return;
    }
    status.textContent = `${files[0].name} → ${files[1].name}: ${body.requests_before} → ${body.requests_after} requests; dot p50, square p95, lines ${Math.round(body.confidence * 100)}% simultaneous intervals.`;
    comparison(container, body);
  }

  // Two slots, before and after; each takes a picked or a dropped file. Both filled: compare.
  function setUpCompare() {
    const slots = ["before", "after"].map((side) => ({ zone: document.getElementById(`compare-${side}`), file: null }));
    if (slots.some((s) => !s.zone)) return;
    const out = document.getElementById("compare-chart"), status = document.getElementById("compare-status");
    const take = (slot, file) => {
      slot.file = file;
      slot.zone.querySelector("span").textContent = file.name;
      if (slots.every((s) => s.file)) compareFiles(slots.map((s) => s.file), out, status);
    };
    for (const slot of slots) {
      const input = slot.zone.querySelector("input");
      input.addEventListener("change", () => input.files[0] && take(slot, input.files[0]));
      slot.zone.addEventListener("dragover", (e) => e.preventDefault());
      slot.zone.addEventListener("drop", (e) => {
        e.preventDefault();
        if (e.dataTransfer.files[0]) take(slot, e.dataTransfer.files[0]);
      });
    }
  }

  const data = JSON.parse(document.getElementById("chart-data")?.textContent || "null");
  if (data && data.requests.length) {
    distribution(document.getElementById("stage-distribution"), data.stages);
    timeline(document.getElementById("stage-timeline"), data.stages, data.requests);
  }
  setUpCompare();
  const conversation = JSON.parse(document.getElementById("conversation-data")?.textContent || "null");
  if (conversation && conversation.turns.length) conversationTurns(document.getElementById("conversation-turns"), conversation);
})();
