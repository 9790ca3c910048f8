// A finished job's results: baseline vs what-if overlays, Monte Carlo percentile bands,
// observed vs simulated, and the summary figures.

import { get, query, seg } from "./api.js";
import { COLORS, align, timeChart, toSeconds } from "./chart.js";
import { clear, el, errorBox, fmtNumber, section, table } from "./dom.js";

// Simulated outputs that a pump twin also measures (the model's bindings).
const OBSERVED_FIELD = {
  motorPower: "motor.power",
  motorCurrent: "motor.current",
  windingTemperature: "motor.windingTemperature",
};

async function tableOf(jobId, name) {
  return get(`/v1/jobs/${seg(jobId)}/tables/${seg(name)}${query({ limit: 200000 })}`);
}

function rowsOf(t) {
  const out = [];
  for (let i = 0; i < t.rows; i += 1) {
    const row = {};
    for (const column of t.columns) row[column] = t.data[column][i];
    out.push(row);
  }
  return out;
}

async function observed(twin, output, start, end, stateFields) {
  const field = stateFields.includes(output) ? output : OBSERVED_FIELD[output];
  if (!field || !stateFields.includes(field)) return [];
  const span = end - start;
  if (span <= 3 * 3600) {
    const body = await get(`/v1/twins/${seg(twin)}/history/${seg(field)}${query({ start, end, limit: 10000 })}`);
    return body.data.filter((p) => typeof p.value === "number").map((p) => ({ t: toSeconds(p.time), v: p.value }));
  }
  const interval = Math.max(1, Math.ceil(span / 400));
  const body = await get(`/v1/twins/${seg(twin)}/windows/${seg(field)}${query({ start, end, interval })}`);
  return body.data.filter((w) => w.count > 0).map((w) => ({ t: toSeconds(w.start), v: w.mean }));
}

function twinPicker(twins, onChange) {
  if (twins.length < 2) return null;
  const select = el("select", { id: "result-twin", "aria-label": "Twin" }, twins.map((t) => el("option", { value: t }, t)));
  select.addEventListener("change", () => onChange(select.value));
  return el("p", {}, el("label", { for: "result-twin" }, "Twin "), select);
}

async function stateFieldsOf(twin) {
  try {
    return Object.keys((await get(`/v1/twins/${seg(twin)}/state`)).fields);
  } catch {
    return [];
  }
}

async function whatIfCharts(container, job, summary, twin) {
  const rows = rowsOf(await tableOf(job.id, "series")).filter((r) => r.twin === twin);
  const start = toSeconds(summary.start);
  const end = toSeconds(summary.end);
  const fields = await stateFieldsOf(twin);
  const charts = [];
  for (const output of summary.outputs) {
    const mine = rows.filter((r) => r.output === output);
    const baseline = mine.filter((r) => r.variant === "baseline").map((r) => ({ t: toSeconds(r.time), v: r.value }));
    const scenario = mine.filter((r) => r.variant !== "baseline").map((r) => ({ t: toSeconds(r.time), v: r.value }));
    const seen = await observed(twin, output, start, end, fields).catch(() => []);
    const series = [
      { label: "baseline", color: "#6b7280", dash: [6, 4] },
      { label: "what-if", color: COLORS[0] },
    ];
    const lists = [baseline, scenario];
    if (seen.length) {
      series.push({ label: "observed", color: COLORS[2], width: 1, points: seen.length < 200 });
      lists.push(seen);
    }
    charts.push(timeChart(container, { title: `${output} — baseline vs what-if${seen.length ? " vs observed" : ""}`, series, data: align(lists), height: 220 }));
  }
  return charts;
}

async function monteCarloCharts(container, job, summary, twin) {
  const rows = rowsOf(await tableOf(job.id, "percentiles")).filter((r) => r.twin === twin);
  const ps = (summary.percentiles || []).map((p) => `p${Number.isInteger(p) ? p : String(p).replace(".", "_")}`);
  const low = ps[0];
  const high = ps[ps.length - 1];
  const mid = ps.includes("p50") ? "p50" : ps[Math.floor(ps.length / 2)];
  const start = toSeconds(summary.start);
  const end = toSeconds(summary.end);
  const fields = await stateFieldsOf(twin);
  const charts = [];
  for (const output of summary.outputs) {
    const mine = rows.filter((r) => r.output === output);
    const t = mine.map((r) => ({ t: toSeconds(r.time) }));
    const col = (name) => mine.map((r, i) => ({ t: t[i].t, v: r[name] }));
    const series = [
      { label: `${mid} (median)`, color: COLORS[0] },
      { label: high, color: COLORS[0], band: true },
      { label: low, color: COLORS[0], band: true },
      { label: "mean", color: "#6b7280", dash: [4, 4], width: 1 },
    ];
    const lists = [col(mid), col(high), col(low), col("mean")];
    const seen = await observed(twin, output, start, end, fields).catch(() => []);
    if (seen.length) {
      series.push({ label: "observed", color: COLORS[2], width: 1, points: seen.length < 200 });
      lists.push(seen);
    }
    charts.push(timeChart(container, { title: `${output} — ${low}–${high} band over ${summary.runs} runs`, series, data: align(lists), bands: [[2, 3, COLORS[0]]], height: 220 }));
  }
  return charts;
}

function whatIfTable(summary, twin) {
  const deltas = (summary.deltas || {})[twin] || {};
  const rows = Object.entries(deltas).map(([output, d]) => [output, fmtNumber(d.mean?.baseline), fmtNumber(d.mean?.scenario), fmtNumber(d.mean?.delta), fmtNumber(d.final?.baseline), fmtNumber(d.final?.scenario)]);
  return table(["Output", "Mean baseline", "Mean what-if", "Δ mean", "Final baseline", "Final what-if"], rows, { caption: "What-if against baseline" });
}

function monteCarloTable(summary, twin) {
  const finals = (summary.final || {})[twin] || {};
  const ps = (summary.percentiles || []).map((p) => `p${p}`);
  const rows = Object.entries(finals).map(([output, f]) => [output, ...ps.map((p) => fmtNumber(f[p])), fmtNumber(f.mean), fmtNumber(f.sd)]);
  return table(["Output (final)", ...ps, "mean", "sd"], rows, { caption: "Final values over the runs" });
}

// Renders into `container`; answers a cleanup function (charts observe their size).
export async function renderResults(container, job) {
  const summary = await get(`/v1/jobs/${seg(job.id)}/summary`);
  const twins = summary.twins || [];
  const body = el("div", { class: "results", id: "results" });
  const charts = [];
  const kind = summary.kind || job.kind;
  const draw = async (twin) => {
    for (const c of charts.splice(0)) c.destroy();
    clear(body);
    try {
      if (kind === "what-if") {
        body.append(whatIfTable(summary, twin));
        charts.push(...(await whatIfCharts(body, job, summary, twin)));
      } else if (kind === "monte-carlo") {
        body.append(monteCarloTable(summary, twin));
        charts.push(...(await monteCarloCharts(body, job, summary, twin)));
      } else {
        body.append(el("pre", { class: "json" }, JSON.stringify(summary, null, 2)));
      }
    } catch (error) {
      body.append(errorBox(error));
    }
  };
  container.append(
    section(
      "Results",
      el("p", { class: "muted small" }, `${kind} of ${summary.model} from ${summary.start} to ${summary.end}; ${summary.steps} steps, ${summary.records} recorded.`),
      twinPicker(twins, draw),
      body,
    ),
  );
  if (twins.length) await draw(twins[0]);
  return () => charts.forEach((c) => c.destroy());
}
