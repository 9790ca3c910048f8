// Scenarios: a what-if or a Monte Carlo from a twin's current or past state; run and see.

import { ApiError, get, post, seg } from "../lib/api.js";
import { clear, el, errorBox, fmtTime, section, statusBadge } from "../lib/dom.js";
import { renderResults } from "../lib/results.js";

const MODEL = "twinops.sim.library.pump:PumpModel";
const OUTPUTS = ["flowRate", "dischargePressure", "motorPower", "vibration", "wear", "windingTemperature", "bearingTemperature", "energy", "remainingUsefulLife", "failed"];
const DEFAULT_OUTPUTS = { "what-if": ["flowRate", "motorPower", "vibration", "wear"], "monte-carlo": ["wear", "vibration", "remainingUsefulLife"] };
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

function field(id, label, input, hint) {
  return el("div", { class: "field" }, el("label", { for: id }, label), input, hint ? el("small", { class: "muted", id: `${id}-hint` }, hint) : null);
}

function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function parseParameters(text) {
  const parameters = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const match = /^([A-Za-z][A-Za-z0-9_.]*)\s*[=:]\s*(\S+)$/.exec(line);
    if (!match || !Number.isFinite(Number(match[2]))) {
      throw new ApiError(422, { title: "Invalid input", detail: `parameter line ${index + 1} (${line}) is not "name = number"` });
    }
    parameters[match[1]] = Number(match[2]);
  }
  return parameters;
}

export async function render(root, { query: params }, ctx) {
  const fromPast = params.get("from") === "past";
  root.append(el("h1", {}, "Scenarios"), el("p", { class: "muted" }, "Start a what-if or a Monte Carlo run from a twin's current or past state, change its parameters, run it as a job and compare."));
  const kind = el("select", { id: "kind" }, el("option", { value: "what-if" }, "What-if (baseline vs changed)"), el("option", { value: "monte-carlo" }, "Monte Carlo (percentile bands)"));
  const twins = el("input", { id: "twins", value: params.get("twin") || "pump-01-01-01", required: true, autocomplete: "off" });
  const startMode = el("select", { id: "start-mode" }, el("option", { value: "now" }, "its current state"), el("option", { value: "past" }, "a past state (as of)"));
  startMode.value = fromPast ? "past" : "now";
  const asOf = el("input", { id: "as-of", type: "datetime-local", value: localInputValue(new Date(Date.now() - 10 * 60000)) });
  const horizon = el("input", { id: "horizon", value: fromPast ? "10min" : "1d" });
  const step = el("input", { id: "step", value: fromPast ? "5s" : "1min" });
  const record = el("input", { id: "record", value: fromPast ? "30s" : "1h" });
  const baseSpeed = el("input", { id: "base-speed", type: "number", value: "95", min: "0", max: "150", step: "1" });
  const newSpeed = el("input", { id: "new-speed", type: "number", value: "110", min: "0", max: "150", step: "1" });
  const parameters = el("textarea", { id: "parameters", rows: "3", placeholder: "wearRate = 6e-5" });
  const runs = el("input", { id: "runs", type: "number", value: "200", min: "1", max: "100000" });
  const seed = el("input", { id: "seed", type: "number", value: "42", min: "0" });
  const sigma = el("input", { id: "sigma", type: "number", value: "0.5", min: "0", step: "0.05" });
  const outputs = el("fieldset", { class: "outputs" }, el("legend", {}, "Outputs"));
  const boxes = OUTPUTS.map((name) => {
    const box = el("input", { type: "checkbox", id: `out-${name}`, value: name });
    outputs.append(el("label", { for: `out-${name}`, class: "check" }, box, ` ${name}`));
    return box;
  });
  const setOutputs = () => boxes.forEach((b) => (b.checked = DEFAULT_OUTPUTS[kind.value].includes(b.value)));
  setOutputs();
  const specText = el("textarea", { id: "spec", rows: "12", spellcheck: "false", class: "mono", "aria-describedby": "spec-hint" });
  let edited = false;
  specText.addEventListener("input", () => (edited = true));

  const whatIfPart = el("div", { class: "row" }, field("new-speed", "What-if speed, % of rated (constant)", newSpeed), field("parameters", "Parameter changes (name = value per line)", parameters, "e.g. wearRate = 6e-5, systemResistance…"));
  const mcPart = el("div", { class: "row" }, field("runs", "Runs", runs), field("seed", "Seed", seed), field("sigma", "Wear-rate spread (lognormal σ)", sigma));
  const pastPart = field("as-of", "As of (your local time)", asOf, "Starting in the past lets you compare the simulation with what was observed.");

  function build() {
    const twinList = twins.value.split(/[\s,]+/).filter(Boolean);
    const spec = {
      kind: kind.value,
      name: `${kind.value} from the console`,
      model: MODEL,
      twins: twinList,
      horizon: horizon.value.trim(),
      step: step.value.trim(),
      record: record.value.trim() || undefined,
      inputs: { speed: { profile: "sine", mean: Number(baseSpeed.value) / 100, amplitude: 0.05, period: "24h", phase: "2h", relativeTo: "ratedSpeed" } },
      outputs: boxes.filter((b) => b.checked).map((b) => b.value),
    };
    if (startMode.value === "past" && asOf.value) spec.asOf = new Date(asOf.value).toISOString();
    if (kind.value === "what-if") {
      spec.changes = { inputs: { speed: { profile: "constant", value: Number(newSpeed.value) / 100, relativeTo: "ratedSpeed" } } };
      const changed = parseParameters(parameters.value);
      if (Object.keys(changed).length) spec.changes.parameters = changed;
    } else {
      spec.runs = Number(runs.value);
      spec.seed = Number(seed.value);
      spec.distributions = { wearRate: { distribution: "lognormal", mu: -10.18, sigma: Number(sigma.value) } };
      spec.percentiles = [5, 50, 95];
    }
    return spec;
  }

  function sync() {
    whatIfPart.hidden = kind.value !== "what-if";
    mcPart.hidden = kind.value !== "monte-carlo";
    pastPart.hidden = startMode.value !== "past";
    if (edited) return;
    try {
      specText.value = JSON.stringify(build(), null, 2);
    } catch (error) {
      specText.value = `// ${error.message}`;
    }
  }
  kind.addEventListener("change", () => {
    setOutputs();
    sync();
  });
  startMode.addEventListener("change", () => {
    if (startMode.value === "past") {
      horizon.value = "10min";
      step.value = "5s";
      record.value = "30s";
    }
    sync();
  });

  const run = el("button", { type: "submit", class: "primary", id: "run" }, "Run");
  const reset = el("button", { type: "button", id: "reset-spec" }, "Rebuild the spec from the form");
  reset.addEventListener("click", () => {
    edited = false;
    sync();
  });
  const form = el(
    "form",
    { class: "card scenario-form", "aria-label": "Scenario" },
    el("div", { class: "row" }, field("kind", "Kind", kind), field("twins", "Twins (comma-separated)", twins), field("start-mode", "Start from", startMode)),
    pastPart,
    el("div", { class: "row" }, field("horizon", "Horizon", horizon, "e.g. 7d, 12h, 10min"), field("step", "Step", step), field("record", "Record every", record), field("base-speed", "Baseline speed, % of rated (daily cycle ±5 %)", baseSpeed)),
    whatIfPart,
    mcPart,
    outputs,
    el("details", {}, el("summary", {}, "The spec as JSON (edit to change anything)"), el("p", { class: "muted small", id: "spec-hint" }, "This is what Run submits to POST /v1/jobs. Once you edit it, the form no longer overwrites it."), specText, reset),
    el("p", { class: "actions" }, run),
  );
  form.addEventListener("input", (event) => {
    if (event.target !== specText) sync();
  });
  const status = el("div", { id: "job-status", "aria-live": "polite" });
  const results = el("div");
  root.append(form, status, results);
  sync();

  let timer = null;
  let cleanupResults = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    if (cleanupResults) cleanupResults();
    cleanupResults = null;
    clear(status);
    clear(results);
    let spec;
    try {
      spec = edited ? JSON.parse(specText.value) : build();
    } catch (error) {
      status.append(errorBox(error instanceof ApiError ? error : new ApiError(400, { title: "Not JSON", detail: `the spec is not valid JSON: ${error.message}` })));
      return;
    }
    run.disabled = true;
    let job;
    try {
      job = await post("/v1/jobs", spec);
    } catch (error) {
      run.disabled = false;
      if (error.status !== 401) status.append(errorBox(error));
      return;
    } finally {
      run.disabled = false;
    }
    const progress = el("progress", { max: "1", value: "0", "aria-label": "Job progress" });
    const line = el("p", {}, "Job ", el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.id), " ", statusBadge(job.status), " ", progress);
    const message = el("p", { class: "muted small" });
    status.append(section("Run", line, message));
    const poll = async () => {
      if (!ctx.isCurrent()) return;
      try {
        job = await get(`/v1/jobs/${seg(job.id)}`);
      } catch (error) {
        message.replaceChildren(errorBox(error));
        timer = setTimeout(poll, 3000);
        return;
      }
      if (!ctx.isCurrent()) return;
      line.replaceChild(statusBadge(job.status), line.querySelector(".badge"));
      progress.value = job.progress.fraction || 0;
      message.textContent = `${job.progress.message || ""}${job.finishedAt ? ` — finished ${fmtTime(job.finishedAt)}` : ""}`;
      if (!FINISHED.has(job.status)) {
        timer = setTimeout(poll, 1000);
        return;
      }
      if (job.status === "succeeded") {
        cleanupResults = await renderResults(results, job).catch((error) => {
          results.append(errorBox(error));
          return null;
        });
      } else {
        const detail = job.error ? `${job.error.type || job.error.kind || "error"}: ${job.error.message}` : `the job was ${job.status}`;
        message.replaceChildren(errorBox(new ApiError(0, { title: `Job ${job.status}`, detail })), " ", el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, "See its log"));
      }
    };
    poll();
  });
  return () => {
    clearTimeout(timer);
    if (cleanupResults) cleanupResults();
  };
}
