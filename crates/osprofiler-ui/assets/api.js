// The collector's API from the browser (docs/ui.md): JSON over `fetch`, with the bearer token
// kept in sessionStorage. A collector started with a token answers 401 without it; then the
// user is asked for the token once, and the request is retried with it. sessionStorage (not
// localStorage) so the token is forgotten when the tab closes.
"use strict";

(function (global) {
  const TOKEN_KEY = "osprofiler-token";

  /** The stored token, or null (sessionStorage can throw in sandboxed or file:// pages). */
  function token() {
    try {
      return global.sessionStorage.getItem(TOKEN_KEY);
    } catch (_) {
      return null;
    }
  }

  function storeToken(value) {
    try {
      if (value) global.sessionStorage.setItem(TOKEN_KEY, value);
      else global.sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      /* no storage: the token lives only for this request */
    }
  }

  /**
   * Asks for the token in a small form fixed at the top of the page; resolves to the
   * entered text, or null when cancelled. Falls back to window.prompt without a body.
   */
  function askToken(message) {
    const doc = global.document;
    if (!doc || !doc.body) {
      return Promise.resolve(global.prompt ? global.prompt(message) : null);
    }
    return new Promise((resolve) => {
      const form = doc.createElement("form");
      form.id = "token-prompt";
      form.className = "token-prompt";
      form.style.cssText =
        "position:fixed;top:8px;left:50%;transform:translateX(-50%);z-index:1000;" +
        "display:flex;gap:8px;align-items:center;padding:8px 12px;background:var(--bg,#fff);" +
        "border:1px solid var(--border,#ccc);border-radius:4px;box-shadow:0 2px 8px rgba(0,0,0,.2)";
      const label = doc.createElement("label");
      label.textContent = message;
      const input = doc.createElement("input");
      input.type = "password";
      input.autocomplete = "off";
      input.id = "token-input";
      label.appendChild(input);
      const ok = doc.createElement("button");
      ok.type = "submit";
      ok.className = "primary";
      ok.textContent = "Use token";
      const cancel = doc.createElement("button");
      cancel.type = "button";
      cancel.textContent = "Cancel";
      form.append(label, ok, cancel);
      const done = (value) => {
        form.remove();
        resolve(value);
      };
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        done(input.value.trim() || null);
      });
      cancel.addEventListener("click", () => done(null));
      doc.body.appendChild(form);
      input.focus();
    });
  }

  /** The token form being shown, so parallel requests that all get a 401 ask only once. */
  let pendingAsk = null;

  function askTokenOnce(message) {
    if (!pendingAsk) {
      pendingAsk = askToken(message).finally(() => {
        pendingAsk = null;
      });
    }
    return pendingAsk;
  }

  /** An Error for a failed response, with the API's JSON `error` (and `at`) when it has one. */
  async function responseError(response, path) {
    let detail = "";
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") {
        detail = body.error + (body.at ? " (at " + body.at + ")" : "");
      }
    } catch (_) {
      /* not JSON */
    }
    const err = new Error(
      "GET " + path + ": " + response.status + " " + response.statusText + (detail ? ": " + detail : "")
    );
    err.status = response.status;
    return err;
  }

  function request(path) {
    const headers = { Accept: "application/json" };
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    return fetch(path, { headers, credentials: "same-origin" });
  }

  /**
   * GET `path` (same origin, e.g. "/api/v1/traces?limit=50") and resolve to its JSON.
   * A 401 asks for the token and retries once; any other failure rejects with an Error
   * whose message holds the status and the API's `error` text.
   */
  async function getJson(path) {
    let response = await request(path);
    if (response.status === 401) {
      const sent = token();
      const entered = await askTokenOnce(
        sent ? "The token was refused. Collector token:" : "This collector needs a token:"
      );
      if (entered) storeToken(entered);
      if (token() && token() !== sent) response = await request(path);
      if (response.status === 401) storeToken(null);
    }
    if (!response.ok) throw await responseError(response, path);
    return response.json();
  }

  /** The path's segments after `prefix` (e.g. "traces"), URL-decoded, or null. */
  function segmentsAfter(prefix, pathname) {
    const parts = (pathname || "").split("/").filter((s) => s !== "");
    const at = parts.indexOf(prefix);
    if (at < 0) return null;
    try {
      return parts.slice(at + 1).map(decodeURIComponent);
    } catch (_) {
      return null;
    }
  }

  /** The base id of a trace page's URL, `/traces/{base_id}`, or null. */
  function baseId(pathname) {
    const rest = segmentsAfter("traces", pathname ?? global.location.pathname);
    return rest && rest.length >= 1 && rest[0] ? rest[0] : null;
  }

  /** The two base ids of a compare page's URL, `/compare/{a}/{b}`, or null. */
  function compareIds(pathname) {
    const rest = segmentsAfter("compare", pathname ?? global.location.pathname);
    return rest && rest.length >= 2 && rest[0] && rest[1] ? [rest[0], rest[1]] : null;
  }

  /** The UI's URLs, so pages link to each other the same way. */
  function traceUrl(id) {
    return "/traces/" + encodeURIComponent(id);
  }

  function compareUrl(a, b) {
    return "/compare/" + encodeURIComponent(a) + "/" + encodeURIComponent(b);
  }

  global.OspApi = { getJson, baseId, compareIds, traceUrl, compareUrl, token, storeToken };
})(typeof window !== "undefined" ? window : globalThis);
