// Server-sent events over fetch (EventSource cannot send Authorization), reconnecting
// with backoff whenever the stream ends or breaks, until stop() is called.

import { getKey } from "./api.js";

export function subscribe(makeUrl, { onEvent, onStatus = () => {} }) {
  let stopped = false;
  let controller = null;
  let retryMs = 2000;
  let failures = 0;
  let timer = null;

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    onStatus(failures ? "reconnecting" : "connecting");
    try {
      const response = await fetch(makeUrl(), {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${getKey()}` },
        signal: controller.signal,
        cache: "no-store",
      });
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      onStatus("live");
      failures = 0;
      await read(response.body.getReader());
    } catch (error) {
      if (stopped || (error && error.name === "AbortError")) return;
      failures += 1;
    }
    if (stopped) return;
    // A stream that ended cleanly (the server's maxSeconds) reconnects at once; a broken
    // one backs off, up to 15 s.
    const wait = failures ? Math.min(retryMs * 2 ** (failures - 1), 15000) : 50;
    onStatus(failures ? "reconnecting" : "live");
    timer = setTimeout(connect, wait);
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    let name = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
      else if (field === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (!data.length) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    onEvent(name, parsed);
  }

  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (controller) controller.abort();
      onStatus("stopped");
    },
  };
}
