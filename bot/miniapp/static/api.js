// The JSON API of docs/miniapp.md, relative to the page (/app/ → /app/api/…).
// Inside Telegram every request carries the signed initData; outside (the playground's link,
// the tests) a session token, which a one-time code in the address's fragment is exchanged for.

import { initData } from "./telegram.js";

const API = new URL("api/", location.href.split("#")[0]);
const SESSION_KEY = "salesbot.miniapp.session";

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || "");
    this.status = status;
    this.code = error.code || "internal";
    this.field = error.field || null;
  }
}

function authorization() {
  const data = initData();
  if (data) {
    return `tma ${data}`;
  }
  const session = sessionStorage.getItem(SESSION_KEY);
  return session ? `session ${session}` : null;
}

/** `#login=<code>` (the playground's link): taken out of the address bar at once, then traded
 * for a session token kept for this tab only. */
export async function login() {
  const match = /(?:^#|&)login=([^&]+)/.exec(location.hash);
  if (!match) {
    return;
  }
  history.replaceState(null, "", location.pathname + location.search);
  const answer = await request("POST", "login", { code: decodeURIComponent(match[1]) }, false);
  sessionStorage.setItem(SESSION_KEY, answer.session);
}

export async function request(method, path, body, authorized = true) {
  const headers = { Accept: "application/json" };
  if (authorized) {
    const auth = authorization();
    if (auth) {
      headers.Authorization = auth;
    }
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(new URL(path, API), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (exc) {
    // No network: no server sentence to show either; the page says it with its own text.
    throw new ApiError(0, { code: "network", message: "" });
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (exc) {
    payload = null;
  }
  if (!response.ok) {
    const error = (payload && payload.error) || { code: "internal", message: "" };
    throw new ApiError(response.status, error);
  }
  return payload;
}

export const api = {
  me: () => request("GET", "me"),
  texts: () => request("GET", "texts"),
  options: () => request("GET", "options"),
  fields: () => request("GET", "fields"),
  query: (body) => request("POST", "clients/query", body),
  card: (id) => request("GET", `clients/${Number(id)}`),
  history: (id, before) => request("GET", `clients/${Number(id)}/history?before=${Number(before)}`),
  save: (id, values) => request("PATCH", `clients/${Number(id)}`, { values }),
  nextContact: (id, body) => request("POST", `clients/${Number(id)}/next-contact`, body),
  note: (id, text) => request("POST", `clients/${Number(id)}/notes`, { text }),
  portfolio: (period, manager, top) =>
    request("GET", `portfolio?${params({ period, manager, top })}`),
  series: (period, manager) => request("GET", `portfolio/series?${params({ period, manager })}`),
  list: (period, manager, section, offset, limit) =>
    request("GET", `portfolio/list?${params({ period, manager, section, offset, limit })}`),
  cell: (period, manager, cell, offset, limit) =>
    request("GET", `portfolio/cell?${params({ period, manager, cell, offset, limit })}`),
};

function params(values) {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value !== null && value !== undefined && value !== "") {
      out.set(key, String(value));
    }
  }
  return out.toString();
}
