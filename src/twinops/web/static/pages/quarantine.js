// Quarantine: rejected points with their rule and reason; replay the selected ones.

import { get, post, query } from "../lib/api.js";
import { clear, el, errorBox, fmtTime, table } from "../lib/dom.js";

export async function render(root, { query: params }, ctx) {
  const twin = params.get("twin") || "";
  const withReplayed = params.get("replayed") === "1";
  root.append(el("h1", {}, "Quarantine"), el("p", { class: "muted" }, "Points the pipeline rejected, with the rule they broke. Fix the model or mapping, then replay them: those that pass leave quarantine."));
  const twinInput = el("input", { id: "q-twin", value: twin, placeholder: "any twin", autocomplete: "off" });
  const replayed = el("input", { id: "q-replayed", type: "checkbox" });
  replayed.checked = withReplayed;
  const filter = el("form", { class: "controls", "aria-label": "Filter" },
    el("label", { for: "q-twin" }, "Twin "), twinInput, " ",
    el("label", { for: "q-replayed", class: "check" }, replayed, " include replayed"), " ",
    el("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate(`#/quarantine${query({ twin: twinInput.value.trim(), replayed: replayed.checked ? "1" : "" })}`);
  });
  const outcome = el("div", { id: "replay-outcome", "aria-live": "polite" });
  const list = el("div");
  const replay = el("button", { type: "button", class: "primary", id: "replay", disabled: true }, "Replay selected");
  root.append(filter, list, el("p", { class: "actions" }, replay), outcome);
  let boxes = [];

  async function load() {
    const page = await get(`/v1/quarantine${query({ twin: twin || undefined, include_replayed: withReplayed ? "true" : undefined, limit: 500 })}`);
    if (!ctx.isCurrent()) return;
    boxes = [];
    const rows = page.data.map((entry) => {
      const box = el("input", { type: "checkbox", value: String(entry.id), "aria-label": `select point ${entry.id}`, disabled: Boolean(entry.replayedAt) });
      box.addEventListener("change", () => (replay.disabled = !boxes.some((b) => b.checked)));
      boxes.push(box);
      return [box, fmtTime(entry.receivedAt), entry.twin || "—", entry.field || entry.name || "—", el("span", { class: "badge warn" }, entry.rule), entry.reason, el("code", { class: "clip" }, JSON.stringify(entry.payload)), entry.source, entry.replayedAt ? fmtTime(entry.replayedAt) : "—"];
    });
    clear(list).append(table(["", "Received", "Twin", "Field", "Rule", "Reason", "Payload", "Source", "Replayed"], rows, { caption: "Quarantined points", empty: "Nothing in quarantine." }));
    if (rows.length) {
      const all = el("button", { type: "button", class: "link" }, "Select all");
      all.addEventListener("click", () => {
        boxes.filter((b) => !b.disabled).forEach((b) => (b.checked = true));
        replay.disabled = !boxes.some((b) => b.checked);
      });
      list.prepend(el("p", {}, `${rows.length} points${page.next ? " (first page)" : ""}. `, all));
    }
    replay.disabled = !boxes.some((b) => b.checked);
  }

  replay.addEventListener("click", async () => {
    const ids = boxes.filter((b) => b.checked).map((b) => Number(b.value));
    if (!ids.length) return;
    clear(outcome);
    replay.disabled = true;
    try {
      const report = await post("/v1/quarantine/replay", { ids });
      const parts = Object.entries(report).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k}: ${v}`);
      outcome.append(el("p", { class: "notice" }, `Replayed ${ids.length} points — ${parts.join(", ") || JSON.stringify(report)}.`));
      await load();
    } catch (error) {
      outcome.append(errorBox(error));
      replay.disabled = false;
    }
  });
  await load();
  return undefined;
}
