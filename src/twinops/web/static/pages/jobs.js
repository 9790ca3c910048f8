// Jobs: the queue with progress; one job with its spec, log, artifacts, results,
// reproduce and cancel.

import { get, post, query, request, seg } from "../lib/api.js";
import { clear, el, errorBox, fmtTime, section, statusBadge, table } from "../lib/dom.js";
import { renderResults } from "../lib/results.js";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const STATUSES = ["", "queued", "running", "succeeded", "failed", "cancelled"];

function progressCell(job) {
  const fraction = job.progress?.fraction || 0;
  return el("span", { class: "progress-cell" }, el("progress", { max: "1", value: String(fraction), "aria-label": `${job.id} progress` }), ` ${Math.round(fraction * 100)} %`);
}

async function renderList(root, params, ctx) {
  const status = params.get("status") || "";
  const filter = el("select", { id: "status-filter" }, STATUSES.map((s) => el("option", { value: s }, s || "any status")));
  filter.value = status;
  filter.addEventListener("change", () => ctx.navigate(`#/jobs${filter.value ? `?status=${filter.value}` : ""}`));
  root.append(
    el("h1", {}, "Jobs"),
    el("p", { class: "controls" }, el("label", { for: "status-filter" }, "Show "), filter, " ", el("a", { class: "button", href: "#/scenario" }, "New scenario")),
  );
  const list = el("div", { id: "job-list" });
  root.append(list);
  let timer = null;
  const load = async () => {
    const page = await get(`/v1/jobs${query({ limit: 100, status })}`);
    if (!ctx.isCurrent()) return;
    const rows = page.data.map((job) => [
      el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.id),
      job.kind,
      statusBadge(job.status),
      progressCell(job),
      fmtTime(job.createdAt),
      job.submittedBy || "—",
    ]);
    clear(list).append(table(["Job", "Kind", "Status", "Progress", "Submitted", "By"], rows, { caption: "Jobs", empty: "No jobs yet. Start one from the Scenarios page." }));
    if (page.data.some((job) => !FINISHED.has(job.status))) timer = setTimeout(() => load().catch(() => {}), 2000);
  };
  await load();
  return () => clearTimeout(timer);
}

async function download(jobId, name) {
  const blob = await request(`/v1/jobs/${seg(jobId)}/artifacts/${name.split("/").map(seg).join("/")}`, { as: "blob" });
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name.split("/").pop() });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function renderJob(root, jobId, ctx) {
  root.append(el("p", { class: "crumbs" }, el("a", { href: "#/jobs" }, "Jobs"), " / ", jobId), el("h1", {}, jobId));
  const head = el("div");
  const actionsError = el("div", { role: "alert" });
  const results = el("div");
  const logBox = el("pre", { class: "log", id: "job-log", tabindex: "0", "aria-label": "Job log" }, "…");
  const artifactsBox = el("div");
  const specBox = el("pre", { class: "json", tabindex: "0", "aria-label": "Job spec" }, "…");
  root.append(head, actionsError, results);
  const cancel = el("button", { type: "button", id: "cancel-job" }, "Cancel");
  const reproduce = el("button", { type: "button", id: "reproduce-job" }, "Reproduce");
  cancel.addEventListener("click", async () => {
    clear(actionsError);
    try {
      await post(`/v1/jobs/${seg(jobId)}/cancel`);
      await refresh();
    } catch (error) {
      actionsError.append(errorBox(error));
    }
  });
  reproduce.addEventListener("click", async () => {
    clear(actionsError);
    try {
      const again = await post(`/v1/jobs/${seg(jobId)}/reproduce`);
      ctx.navigate(`#/jobs/${encodeURIComponent(again.id)}`);
    } catch (error) {
      actionsError.append(errorBox(error));
    }
  });
  root.append(
    el("div", { class: "grid" },
      section("Log", logBox),
      section("Artifacts", artifactsBox),
      section("Spec", specBox)),
  );
  let timer = null;
  let shownResults = false;
  let cleanupResults = null;
  const refresh = async () => {
    const job = await get(`/v1/jobs/${seg(jobId)}`);
    if (!ctx.isCurrent()) return;
    const facts = [
      ["Kind", job.kind],
      ["Status", statusBadge(job.status)],
      ["Progress", progressCell(job)],
      ["Message", job.progress?.message || "—"],
      ["Attempts", `${job.attempts} of ${job.maxAttempts}`],
      ["Submitted", `${fmtTime(job.createdAt)} by ${job.submittedBy || "?"}`],
      ["Started", fmtTime(job.startedAt)],
      ["Finished", fmtTime(job.finishedAt)],
      ["Spec sha256", el("code", { class: "clip" }, job.specSha256)],
    ];
    if (job.error) facts.push(["Error", el("span", { class: "error-text" }, `${job.error.type || job.error.kind}: ${job.error.message}`)]);
    if (job.reproduces) facts.push(["Reproduces", el("a", { href: `#/jobs/${encodeURIComponent(job.reproduces)}` }, job.reproduces)]);
    if (job.reproduction) {
      const r = job.reproduction;
      facts.push(["Reproduction", r.finished ? (r.matches ? el("span", { class: "badge ok" }, "outputs match") : el("span", { class: "badge bad" }, `differs: ${r.differing.join(", ")}`)) : "pending"]);
    }
    cancel.disabled = FINISHED.has(job.status);
    reproduce.disabled = job.status !== "succeeded";
    clear(head).append(
      el("dl", { class: "facts" }, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      el("p", { class: "actions" }, cancel, " ", reproduce),
    );
    const log = await get(`/v1/jobs/${seg(jobId)}/log`, { as: "text" }).catch((error) => `(${error.detail})`);
    logBox.textContent = log || "(empty)";
    const artifacts = (await get(`/v1/jobs/${seg(jobId)}/artifacts`)).data;
    clear(artifactsBox).append(table(["Name", "Role", "Size", "sha256"], artifacts.map((a) => {
      const button = el("button", { type: "button", class: "link" }, a.name);
      button.addEventListener("click", () => download(jobId, a.name).catch((error) => actionsError.replaceChildren(errorBox(error))));
      return [button, a.role, `${a.size} B`, el("code", { class: "clip" }, a.sha256.slice(0, 16))];
    }), { caption: "Artifacts", empty: "No artifacts yet." }));
    if (artifacts.some((a) => a.name === "spec.json") && specBox.textContent === "…") {
      const spec = await get(`/v1/jobs/${seg(jobId)}/artifacts/spec.json`).catch(() => null);
      specBox.textContent = spec ? JSON.stringify(spec, null, 2) : "(unavailable)";
    }
    if (job.status === "succeeded" && !shownResults && ["what-if", "monte-carlo", "sweep", "sensitivity"].includes(job.kind)) {
      shownResults = true;
      cleanupResults = await renderResults(results, job).catch((error) => {
        results.append(errorBox(error));
        return null;
      });
    }
    if (!FINISHED.has(job.status) && ctx.isCurrent()) timer = setTimeout(() => refresh().catch(() => {}), 1500);
  };
  await refresh();
  return () => {
    clearTimeout(timer);
    if (cleanupResults) cleanupResults();
  };
}

export async function render(root, { match, query: params }, ctx) {
  if (match[0]) return renderJob(root, match[0], ctx);
  return renderList(root, params, ctx);
}
