// The REST client: the key from sessionStorage as a Bearer token, RFC 7807 errors as ApiError.

const KEY = "twinops.apiKey";
let unauthorizedHandler = () => {};
let openapi = null;

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = (problem && problem.detail) || `the server answered ${status}`;
    super(detail);
    this.status = status;
    this.title = (problem && problem.title) || "Error";
    this.detail = detail;
    this.errors = (problem && problem.errors) || [];
    this.problem = problem;
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY);
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY);
}

export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

function headers(extra = {}) {
  const result = { Accept: "application/json", ...extra };
  const key = getKey();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

async function problemOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") return body;
  } catch {
    // not JSON: a proxy's page or plain text; show its first line, never markup
  }
  const line = text.replace(/<[^>]*>/g, " ").trim().split("\n")[0].slice(0, 200);
  return { title: response.statusText || "Error", detail: line || `the server answered ${response.status}` };
}

export async function request(path, { method = "GET", body, as = "json", signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "Network error", detail: "the server cannot be reached; is it running?" });
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    const error = new ApiError(response.status, problem);
    if (response.status === 401) unauthorizedHandler(error);
    throw error;
  }
  if (as === "response") return response;
  if (response.status === 204) return null;
  if (as === "text") return response.text();
  if (as === "blob") return response.blob();
  return response.json();
}

export const get = (path, options) => request(path, options);
export const post = (path, body, options = {}) => request(path, { ...options, method: "POST", body });

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const seg = (value) => encodeURIComponent(value);

// Which API paths this server has (the OpenAPI document is open): optional features
// (model registry, drift) are shown only when their routes exist, without probing for 404s.
export async function apiPaths() {
  if (!openapi) {
    openapi = fetch("/openapi.json", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .then((doc) => new Set(Object.keys(doc.paths || {})))
      .catch(() => new Set());
  }
  return openapi;
}

// Every page of a listing ({"data": [...], "next": cursor}), up to `max` items.
export async function all(path, params = {}, { max = 5000, cursorName = "cursor" } = {}) {
  const items = [];
  let next = null;
  do {
    const page = await get(path + query({ ...params, [cursorName]: next }));
    items.push(...page.data);
    next = page.next;
  } while (next && items.length < max);
  return items;
}
