// Fleet overview: twins by model, freshness and data quality per twin, alerts.

import { all, apiPaths, get } from "../lib/api.js";
import { clear, el, errorBox, fmtAge, fmtNumber, section, shortModel, table } from "../lib/dom.js";

const STALE_SECONDS = 120;

function aggregate(quality) {
  const byTwin = new Map();
  for (const row of quality) {
    const entry = byTwin.get(row.twin) || { accepted: 0, duplicates: 0, late: 0, veryLate: 0, quarantined: 0, freshness: null, sources: [] };
    entry.accepted += row.accepted;
    entry.duplicates += row.duplicates;
    entry.late += row.late;
    entry.veryLate += row.veryLate;
    entry.quarantined += row.quarantined;
    entry.sources.push(row.source);
    if (row.freshnessSeconds !== null && (entry.freshness === null || row.freshnessSeconds < entry.freshness)) {
      entry.freshness = row.freshnessSeconds;
    }
    byTwin.set(row.twin, entry);
  }
  return byTwin;
}

function freshnessCell(q) {
  if (!q || q.freshness === null) return el("span", { class: "muted" }, "no telemetry");
  const stale = q.freshness > STALE_SECONDS;
  return el("span", { class: stale ? "badge warn" : "badge ok", title: `${q.freshness} s since the last event` }, fmtAge(q.freshness));
}

function qualityCell(q) {
  if (!q) return "—";
  const total = q.accepted + q.duplicates + q.quarantined;
  const bad = q.quarantined + q.veryLate;
  const text = `${fmtNumber(q.accepted, 6)} ok · ${q.duplicates} dup · ${q.late} late · ${q.quarantined} quar.`;
  return el("span", { class: bad ? "warn-text" : "", title: `${total} points from ${q.sources.join(", ")}` }, text);
}

async function driftAlerts() {
  // Drift comes from the fidelity context; shown only when this server has its route.
  const paths = await apiPaths();
  if (!paths.has("/v1/drift/alerts")) return { available: false, items: [] };
  try {
    const body = await get("/v1/drift/alerts?limit=50");
    return { available: true, items: body.alerts || [] };
  } catch {
    return { available: true, items: [], failed: true };
  }
}

function driftText(item) {
  const parts = [];
  if (item.field) parts.push(item.field);
  if (item.detector) parts.push(`${item.detector} statistic ${fmtNumber(item.statistic)} over ${fmtNumber(item.threshold)}`);
  if (item.model && item.model.name) parts.push(`model ${item.model.name} v${item.model.version}`);
  if (item.time) parts.push(`at ${item.time}`);
  return parts.join(" · ") || "drift detected";
}

export async function render(root, _params, ctx) {
  root.append(el("h1", {}, "Fleet"));
  const summary = el("p", { class: "muted", id: "fleet-summary" }, "Loading the fleet…");
  const alerts = el("div");
  const models = el("div");
  root.append(summary, section("Alerts", alerts), models);
  let timer = null;

  async function load() {
    const [twins, quality, drift] = await Promise.all([
      all("/v1/twins", { limit: 1000 }),
      get("/v1/quality").then((b) => b.data),
      driftAlerts(),
    ]);
    if (!ctx.isCurrent()) return;
    const q = aggregate(quality);
    const groups = new Map();
    for (const twin of twins) {
      const model = twin.$metadata?.$model || "unknown";
      if (!groups.has(model)) groups.set(model, []);
      groups.get(model).push(twin);
    }
    clear(summary).append(`${twins.length} twins of ${groups.size} models; ${q.size} send telemetry.`);

    const rows = [];
    const stale = [...q.entries()].filter(([, v]) => v.freshness !== null && v.freshness > STALE_SECONDS);
    const quarantined = [...q.entries()].filter(([, v]) => v.quarantined > 0);
    const veryLate = [...q.entries()].filter(([, v]) => v.veryLate > 0);
    for (const [id, v] of quarantined) {
      rows.push([el("span", { class: "badge bad" }, "quarantine"), el("a", { href: `#/twins/${encodeURIComponent(id)}` }, id), el("a", { href: `#/quarantine?twin=${encodeURIComponent(id)}` }, `${v.quarantined} points in quarantine`)]);
    }
    for (const [id, v] of stale) {
      rows.push([el("span", { class: "badge warn" }, "stale"), el("a", { href: `#/twins/${encodeURIComponent(id)}` }, id), `last event ${fmtAge(v.freshness)}`]);
    }
    for (const [id, v] of veryLate) {
      rows.push([el("span", { class: "badge warn" }, "very late"), el("a", { href: `#/twins/${encodeURIComponent(id)}` }, id), `${v.veryLate} points arrived over the lateness limit`]);
    }
    const drifted = new Set();
    for (const item of drift.items) {
      const id = item.twin || "?";
      if (drifted.has(`${id}/${item.field}`)) continue; // the latest alert per twin and field
      drifted.add(`${id}/${item.field}`);
      rows.push([el("span", { class: "badge bad" }, "drift"), el("a", { href: `#/twins/${encodeURIComponent(id)}` }, id), driftText(item)]);
    }
    clear(alerts);
    alerts.append(table(["Alert", "Twin", "Detail"], rows, { caption: "Alerts", empty: "No alerts: no quarantined, stale or very late telemetry." }));
    if (!drift.available) alerts.append(el("p", { class: "muted small" }, "Drift detection is not available on this server."));
    else if (drift.failed) alerts.append(el("p", { class: "muted small" }, "Drift alerts could not be read."));

    clear(models);
    const ordered = [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    for (const [model, members] of ordered) {
      const telemetry = members.some((t) => q.has(t.$dtId));
      const headers = telemetry ? ["Twin", "Status", "Freshness", "Data quality"] : ["Twin", "Properties"];
      const body = members.map((t) => {
        const link = el("a", { href: `#/twins/${encodeURIComponent(t.$dtId)}` }, t.$dtId);
        if (!telemetry) {
          const props = Object.entries(t).filter(([k, v]) => !k.startsWith("$") && typeof v !== "object").slice(0, 3);
          return [link, props.map(([k, v]) => `${k}: ${v}`).join(" · ") || "—"];
        }
        const status = t.status ? el("span", { class: `badge status-${t.status}` }, t.status) : "—";
        return [link, status, freshnessCell(q.get(t.$dtId)), qualityCell(q.get(t.$dtId))];
      });
      const card = section(`${shortModel(model)} (${members.length})`, el("p", { class: "muted small" }, el("code", {}, model)), table(headers, body, { caption: `${shortModel(model)} twins` }));
      card.dataset.model = model;
      models.append(card);
    }
  }

  await load();
  timer = setInterval(() => {
    load().catch((error) => {
      if (ctx.isCurrent() && error.status !== 401) clear(alerts).append(errorBox(error));
    });
  }, 10000);
  return () => clearInterval(timer);
}
