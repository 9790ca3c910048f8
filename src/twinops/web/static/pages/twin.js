// A twin: properties, live telemetry (SSE) with history zoom, relationships, recent events.

import { all, get, query, seg } from "../lib/api.js";
import { align, timeChart, toSeconds } from "../lib/chart.js";
import { clear, el, errorBox, fmtAge, fmtNumber, fmtTime, section, shortModel, table } from "../lib/dom.js";
import { relationshipGraph } from "../lib/graph.js";
import { subscribe } from "../lib/sse.js";

const RANGES = [
  ["5 min", 300],
  ["1 h", 3600],
  ["24 h", 86400],
  ["7 d", 7 * 86400],
];
const RAW_LIMIT_SECONDS = 1800; // longer ranges are drawn from windows (downsampled)
const TARGET_POINTS = 400;

function flatten(twin) {
  const rows = [];
  const walk = (prefix, value) => {
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith("$")) continue;
      const name = prefix ? `${prefix}.${key}` : key;
      if (item && typeof item === "object" && !Array.isArray(item)) {
        const keys = Object.keys(item).filter((k) => !k.startsWith("$"));
        if (keys.length && keys.every((k) => typeof item[k] !== "object")) {
          if ("$metadata" in item) walk(name, item);
          else rows.push([name, keys.map((k) => `${k}: ${item[k]}`).join(", ")]);
        } else walk(name, item);
      } else rows.push([name, Array.isArray(item) ? JSON.stringify(item) : String(item)]);
    }
  };
  walk("", twin);
  return rows;
}

export async function render(root, { match }, ctx) {
  const twinId = match[0];
  const [twin, state, outgoing, incoming, events] = await Promise.all([
    get(`/v1/twins/${seg(twinId)}`),
    get(`/v1/twins/${seg(twinId)}/state`),
    all(`/v1/twins/${seg(twinId)}/relationships`, { limit: 1000 }),
    all(`/v1/twins/${seg(twinId)}/incomingrelationships`, { limit: 1000 }),
    get(`/v1/events${query({ subject: twinId, order: "desc", limit: 20 })}`).then((b) => b.data),
  ]);
  if (!ctx.isCurrent()) return undefined;
  const model = twin.$metadata?.$model;
  const fields = Object.keys(state.fields);
  root.append(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Fleet"), " / ", shortModel(model)),
    el("h1", {}, twinId),
    el("p", { class: "muted" }, el("code", {}, model)),
  );
  if (fields.length) {
    root.append(
      el("p", { class: "actions" },
        el("a", { class: "button primary", href: `#/scenario?twin=${encodeURIComponent(twinId)}`, id: "start-what-if" }, "What-if from this twin"),
        el("a", { class: "button", href: `#/scenario?twin=${encodeURIComponent(twinId)}&from=past` }, "From a past state")),
    );
  }
  const grid = el("div", { class: "grid" });
  root.append(grid);

  // Telemetry: current values and the chart.
  const live = el("span", { class: "badge", id: "stream-status", role: "status", "aria-live": "polite" }, "connecting");
  const current = el("div");
  const chartBox = el("div", { class: "chart-box" });
  const chartNote = el("p", { class: "muted small", id: "chart-note" });
  const fieldSelect = el("select", { id: "field", "aria-label": "Telemetry field" }, fields.map((f) => el("option", { value: f }, f)));
  if (fields.includes("flowRate")) fieldSelect.value = "flowRate";
  const rangeButtons = RANGES.map(([label, seconds]) =>
    el("button", { type: "button", class: "chip", dataset: { seconds }, "aria-pressed": String(seconds === 300) }, label));
  const controls = el("div", { class: "controls" }, el("label", { for: "field" }, "Field "), fieldSelect, el("span", { class: "chips", role: "group", "aria-label": "History range" }, rangeButtons));
  let view = { live: true, seconds: 300, start: null, end: null };
  let chart = null;
  let points = [];
  let values = { ...state.fields };

  function renderCurrent() {
    const rows = Object.entries(values).map(([name, v]) => [name, fmtNumber(v.value, 5), el("span", { title: v.time }, fmtAge(v.ageSeconds))]);
    clear(current).append(table(["Field", "Value", "Event time"], rows, { caption: "Current values", empty: "No telemetry yet." }));
  }

  function draw(data, { windowed, xRange }) {
    if (chart) chart.destroy();
    const series = windowed
      ? [{ label: "mean" }, { label: "max", band: true }, { label: "min", band: true }]
      : [{ label: fieldSelect.value }];
    chart = timeChart(chartBox, {
      title: `${fieldSelect.value} — ${windowed ? "downsampled (mean, min–max)" : "raw points"}`,
      series,
      data,
      bands: windowed ? [[2, 3, "#1d4ed8"]] : [],
      xRange,
      onZoom: (min, max) => {
        view = { live: false, seconds: max - min, start: min, end: max };
        for (const b of rangeButtons) b.setAttribute("aria-pressed", "false");
        loadHistory().catch(showChartError);
      },
    });
  }

  function showChartError(error) {
    if (!ctx.isCurrent()) return;
    clear(chartNote).append(errorBox(error));
  }

  async function loadHistory() {
    const field = fieldSelect.value;
    if (!field) return;
    const end = view.live ? Date.now() / 1000 : view.end;
    const start = view.live ? end - view.seconds : view.start;
    const span = end - start;
    clear(chartNote).append("Loading…");
    if (span <= RAW_LIMIT_SECONDS) {
      const body = await get(`/v1/twins/${seg(twinId)}/history/${seg(field)}${query({ start, end: view.live ? undefined : end, limit: 10000 })}`);
      if (!ctx.isCurrent() || field !== fieldSelect.value) return;
      points = body.data.filter((p) => typeof p.value === "number").map((p) => ({ t: toSeconds(p.time), v: p.value }));
      draw(align([points]), { windowed: false, xRange: view.live ? undefined : [start, end] });
      clear(chartNote).append(`Raw: ${points.length} points from ${fmtTime(start * 1000)} to ${view.live ? "now (live)" : fmtTime(end * 1000)}. Drag across the chart to zoom.`);
    } else {
      const interval = Math.max(1, Math.ceil(span / TARGET_POINTS));
      const body = await get(`/v1/twins/${seg(twinId)}/windows/${seg(field)}${query({ start, end, interval })}`);
      if (!ctx.isCurrent() || field !== fieldSelect.value) return;
      const rows = body.data.filter((w) => w.count > 0);
      points = [];
      const t = rows.map((w) => toSeconds(w.start));
      draw([t, rows.map((w) => w.mean), rows.map((w) => w.max), rows.map((w) => w.min)], { windowed: true, xRange: [start, end] });
      clear(chartNote).append(`${rows.length} windows of ${interval} s (downsampled) from ${fmtTime(start * 1000)} to ${fmtTime(end * 1000)}. Drag to zoom in; under 30 min shows raw points.`);
    }
  }

  let filling = false;
  async function appendLive() {
    // The stream says the field moved: fetch the points since the last one drawn.
    if (!view.live || view.seconds > RAW_LIMIT_SECONDS || !chart || filling) return;
    filling = true;
    try {
      const field = fieldSelect.value;
      const last = points.length ? points[points.length - 1].t : Date.now() / 1000 - view.seconds;
      const body = await get(`/v1/twins/${seg(twinId)}/history/${seg(field)}${query({ start: last, limit: 10000 })}`);
      if (!ctx.isCurrent() || field !== fieldSelect.value) return;
      const fresh = body.data.filter((p) => typeof p.value === "number").map((p) => ({ t: toSeconds(p.time), v: p.value })).filter((p) => p.t > last);
      if (!fresh.length) return;
      const cutoff = Date.now() / 1000 - view.seconds;
      points = points.concat(fresh).filter((p) => p.t >= cutoff);
      chart.setData(align([points]));
    } finally {
      filling = false;
    }
  }

  for (const button of rangeButtons) {
    button.addEventListener("click", () => {
      view = { live: true, seconds: Number(button.dataset.seconds), start: null, end: null };
      for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b === button));
      loadHistory().catch(showChartError);
    });
  }
  fieldSelect.addEventListener("change", () => loadHistory().catch(showChartError));

  if (fields.length) {
    grid.append(section("Live telemetry", el("p", {}, "Stream: ", live), controls, chartBox, chartNote), section("Current values", current));
  } else {
    grid.append(section("Telemetry", el("p", { class: "muted" }, "This twin has no telemetry.")));
  }
  renderCurrent();

  const props = flatten(twin);
  grid.append(section("Properties", table(["Property", "Value"], props, { caption: "Properties", empty: "No properties set." })));
  grid.append(section("Relationships", incoming.length || outgoing.length ? relationshipGraph(twinId, incoming, outgoing) : el("p", { class: "muted" }, "No relationships."),
    el("p", { class: "muted small" }, `${incoming.length} incoming, ${outgoing.length} outgoing; select a node to open that twin.`)));
  const eventList = el("div");
  const recent = events.slice();
  function renderEvents() {
    clear(eventList).append(table(["Seq", "Time", "Type", "Data"], recent.map((e) => [String(e.seq), el("span", { class: "nowrap" }, fmtTime(e.time)), e.type, el("code", { class: "clip" }, JSON.stringify(e.data))]), { caption: "Recent events", empty: "No events." }));
  }
  renderEvents();
  grid.append(section("Recent events", eventList));

  if (fields.length) await loadHistory().catch(showChartError);
  let lastSeq = events.length ? events[0].seq : 0;
  const stream = subscribe(() => `/v1/twins/${seg(twinId)}/stream${query({ after: lastSeq })}`, {
    onStatus: (status) => {
      live.textContent = status;
      live.className = `badge ${status === "live" ? "ok" : status === "reconnecting" ? "warn" : ""}`;
    },
    onEvent: (name, data) => {
      if (!ctx.isCurrent()) return;
      if (name === "state") {
        values = { ...values, ...data.fields };
        renderCurrent();
        if (fieldSelect.value in data.fields) appendLive().catch(() => {});
      } else if (name === "event" && data.seq > lastSeq) {
        lastSeq = data.seq;
        recent.unshift(data);
        recent.splice(20);
        renderEvents();
      }
    },
  });
  return () => {
    stream.stop();
    if (chart) chart.destroy();
  };
}
