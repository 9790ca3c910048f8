// Model registry: registered models, their versions and aliases, and each version's
// evidence (validation reports with their plots) and promotion gate.

import { apiPaths, get, request, seg } from "../lib/api.js";
import { clear, el, errorBox, fmtNumber, fmtTime, section, table } from "../lib/dom.js";

function aliasBadges(aliases) {
  const entries = Array.isArray(aliases) ? aliases.map((a) => [a.alias, a.version]) : Object.entries(aliases || {});
  if (!entries.length) return el("span", { class: "muted" }, "none");
  return entries.map(([alias, version]) => el("span", { class: `badge ${alias === "production" ? "ok" : ""}` }, `${alias} → v${version}`));
}

function passedBadge(passed) {
  if (passed === null || passed === undefined) return el("span", { class: "badge" }, "n/a");
  return el("span", { class: `badge ${passed ? "ok" : "bad"}` }, passed ? "passed" : "failed");
}

async function listModels(root) {
  root.append(el("h1", {}, "Model registry"), el("p", { class: "muted" }, "Versioned simulation models; aliases such as production move only through evidence gates."));
  const body = await get("/v1/registry/models");
  const rows = body.models.map((m) => [
    el("a", { href: `#/registry/${encodeURIComponent(m.name)}` }, m.name),
    el("code", {}, m.model || "—"),
    m.twinModel ? el("code", {}, m.twinModel) : "—",
    `v${m.latest} (${m.versions} versions)`,
    aliasBadges(m.aliases),
  ]);
  root.append(section("Registered models", table(["Name", "Model", "Twin model", "Latest", "Aliases"], rows, { caption: "Registered models", empty: "No models registered yet: twinops registry register NAME FILE." })));
}

function artifactPath(jobId, name) {
  return `/v1/jobs/${seg(jobId)}/artifacts/${name.split("/").map(seg).join("/")}`;
}

function figure(url, alt, caption) {
  return el("figure", { class: "plot" }, el("img", { src: url, alt, loading: "lazy" }), el("figcaption", { class: "small muted" }, caption));
}

async function plotsOf(jobId, box) {
  // A validation job's report (outputs/report.html) carries its plots as inline SVG: each is
  // shown as an image of its own (a blob URL), so the report's styles stay inside it. Other
  // image artifacts are shown as they are. Fetched with the key.
  const all = (await get(`/v1/jobs/${seg(jobId)}/artifacts`)).data;
  let shown = 0;
  const report = all.find((a) => a.name === "outputs/report.html");
  if (report) {
    const html = await request(artifactPath(jobId, report.name), { as: "text" });
    const doc = new DOMParser().parseFromString(html, "text/html");
    const svgs = Array.from(doc.querySelectorAll("svg")).slice(0, 12);
    svgs.forEach((svg, i) => {
      if (!svg.getAttribute("xmlns")) svg.setAttribute("xmlns", "http://www.w3.org/2000/svg");
      const blob = new Blob([new XMLSerializer().serializeToString(svg)], { type: "image/svg+xml" });
      const caption = svg.closest("figure")?.querySelector("figcaption")?.textContent || `plot ${i + 1}`;
      box.append(figure(URL.createObjectURL(blob), `validation plot ${i + 1} of job ${jobId}`, `${jobId}: ${caption}`));
    });
    shown += svgs.length;
  }
  for (const artifact of all.filter((a) => (a.mediaType || "").startsWith("image/")).slice(0, 12)) {
    const blob = await request(artifactPath(jobId, artifact.name), { as: "blob" });
    box.append(figure(URL.createObjectURL(blob), `${artifact.name} of job ${jobId}`, artifact.name));
    shown += 1;
  }
  return shown;
}

async function showVersion(box, name, number) {
  const v = await get(`/v1/registry/models/${seg(name)}/versions/${seg(number)}`);
  clear(box);
  const params = Object.entries(v.parameters || {}).map(([k, value]) => [k, fmtNumber(value, 6), v.intervals?.[k] ? `[${v.intervals[k].map((x) => fmtNumber(x)).join(", ")}]` : "—"]);
  const thresholds = Object.entries(v.thresholds || {}).map(([output, bounds]) => [output, Object.entries(bounds).map(([m, x]) => `${m} ${["r2", "coverage"].includes(m) ? "≥" : "≤"} ${x}`).join(", ")]);
  const gate = v.gate || {};
  box.append(
    el("h3", { id: "version-title" }, `${name} v${v.version}`),
    el("dl", { class: "facts" },
      el("dt", {}, "Model"), el("dd", {}, el("code", {}, v.model)),
      el("dt", {}, "Code sha256"), el("dd", {}, el("code", { class: "clip" }, v.codeSha256 || "—")),
      el("dt", {}, "Created"), el("dd", {}, `${fmtTime(v.createdAt)} by ${v.author || "?"}`),
      el("dt", {}, "Notes"), el("dd", {}, v.notes || "—"),
      el("dt", {}, "Production gate"), el("dd", {}, passedBadge(gate.passed), " ", (gate.reasons || []).join("; "))),
    el("h4", {}, "Parameters"),
    table(["Parameter", "Value", "Interval"], params, { caption: "Parameters", empty: "Model defaults." }),
    el("h4", {}, "Validation thresholds"),
    table(["Output", "Must meet"], thresholds, { caption: "Thresholds", empty: "No thresholds." }),
  );
  const evidence = v.evidence || [];
  box.append(el("h4", {}, "Evidence and validation reports"));
  box.append(table(["#", "Kind", "Label", "Job", "Result", "Metrics", "Reasons"], evidence.map((e) => [
    String(e.seq), e.kind, e.label || "—",
    e.job ? el("a", { href: `#/jobs/${encodeURIComponent(e.job)}` }, e.job) : "—",
    passedBadge(e.passed),
    el("code", { class: "clip" }, JSON.stringify(e.metrics)),
    (e.reasons || []).join("; ") || "—",
  ]), { caption: "Evidence", empty: "No evidence yet: attach a validation or regression job." }));
  const plots = el("div", { class: "plots" });
  box.append(plots);
  for (const e of evidence.filter((x) => x.job)) {
    await plotsOf(e.job, plots).catch((error) => plots.append(errorBox(error)));
  }
}

async function showModel(root, name, params) {
  root.append(el("p", { class: "crumbs" }, el("a", { href: "#/registry" }, "Registry"), " / ", name), el("h1", {}, name));
  const [model, history] = await Promise.all([
    get(`/v1/registry/models/${seg(name)}`),
    get(`/v1/registry/models/${seg(name)}/history`).catch(() => ({ moves: [] })),
  ]);
  const versions = model.versions || [];
  const selected = params.get("v") || (versions.length ? String(versions[versions.length - 1].version) : null);
  root.append(section("Aliases", el("p", {}, aliasBadges(model.aliases)),
    table(["Move", "Alias", "From", "To", "When", "By", "Reason"], history.moves.map((m) => [String(m.seq), m.alias, m.from ? `v${m.from}` : "—", m.to ? `v${m.to}` : "removed", fmtTime(m.movedAt), m.movedBy || "—", m.reason || "—"]), { caption: "Alias history", empty: "No alias moves yet." })));
  root.append(section("Versions", table(["Version", "Created", "Author", "Parameters", "Notes"], versions.slice().reverse().map((v) => [
    el("a", { href: `#/registry/${encodeURIComponent(name)}?v=${v.version}`, "aria-current": String(v.version) === selected ? "true" : null }, `v${v.version}`),
    fmtTime(v.createdAt), v.author || "—", String(Object.keys(v.parameters || {}).length), v.notes || "—",
  ]), { caption: "Versions", empty: "No versions." })));
  const detail = el("div", { id: "version-detail" });
  root.append(section("Version", detail));
  if (selected) await showVersion(detail, name, selected);
  else detail.append(el("p", { class: "muted" }, "No version yet."));
}

export async function render(root, { match, query: params }) {
  const paths = await apiPaths();
  if (!paths.has("/v1/registry/models")) {
    root.append(el("h1", {}, "Model registry"), el("p", { class: "notice", id: "registry-unavailable" }, "The model registry is not available on this server."));
    return undefined;
  }
  if (match[0]) await showModel(root, match[0], params);
  else await listModels(root);
  return undefined;
}
