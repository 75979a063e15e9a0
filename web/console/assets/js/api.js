// The management API client. Every call sends the token the operator gave
// (kept in this tab's sessionStorage) as a bearer token; an answer of 401
// asks for the token and tries again. No cookies are involved.

const TOKEN_KEY = 'atom.token';

/** ApiError carries the API's error shape: message, stable code, details. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

let askToken = async () => null;
let pending = null; // one token prompt at a time, shared by concurrent calls
let declined = false; // the operator cancelled the prompt: do not ask again unprompted

/** allowTokenPrompt lets the next 401 ask for the token again, after a cancel. */
export function allowTokenPrompt() { declined = false; }

/** onTokenNeeded sets the function that asks the operator for a token. */
export function onTokenNeeded(fn) { askToken = fn; }

export const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
  document.dispatchEvent(new CustomEvent('atom:token'));
}

/** enc escapes a name for one path segment (listener names hold "/" and ":"). */
export const enc = (name) => encodeURIComponent(name);

/** qs builds a query string from an object, leaving out empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function errorOf(resp) {
  const text = await resp.text().catch(() => '');
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === 'string') return new ApiError(resp.status, j.code || 'http_' + resp.status, j.error, j.details);
  } catch { /* not JSON */ }
  const msg = text.trim() || resp.statusText || 'request failed';
  return new ApiError(resp.status, 'http_' + resp.status, `${resp.status} ${msg}`.slice(0, 500));
}

/**
 * api(method, path, body) calls the API and returns the decoded JSON (or
 * null for an empty answer). A body that is a string is sent as it is;
 * anything else as JSON. Failures throw ApiError.
 */
export async function api(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: 'application/json' };
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = typeof body === 'string' ? 'application/yaml' : 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'unreachable', `The atom did not answer (${e.message}). Is it still running?`);
    }
    if (resp.status === 401 && attempt < 3 && !declined) {
      const err = await errorOf(resp);
      pending = pending || askToken(err.message).finally(() => { pending = null; });
      const given = await pending;
      if (!given) {
        declined = true;
        throw err;
      }
      setToken(given);
      continue;
    }
    if (!resp.ok) throw await errorOf(resp);
    if (resp.status === 204) return null;
    const text = await resp.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/** items reads a list answer, whether it is an array or {"items": [...]}. */
export const items = (x) => (Array.isArray(x) ? x : (x && Array.isArray(x.items) ? x.items : []));
