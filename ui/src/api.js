// The admin API client. The session is the HttpOnly cookie the gateway set at sign-in (the page
// cannot read it); every request that changes something also sends the session's CSRF token,
// which lives only in this module's memory (after a reload, GET /admin/v1/session gives it again).

let csrfToken = null;
let onSignedOut = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

// Called when a request answers 401 (the session expired or was signed out elsewhere).
export function onUnauthorized(fn) {
  onSignedOut = fn;
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// api('GET', '/admin/v1/keys') -> parsed JSON; throws ApiError with the gateway's message
// ({"error": {"message", ...}}, OpenAI's shape) on any answer but 2xx.
export async function api(method, path, body, { params, quiet401 = false } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res;
  try {
    res = await fetch(path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `the gateway did not answer (${e.message}); is it running?`, 'network');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data?.error;
    const message = (e && typeof e.message === 'string' && e.message) || `${res.status} ${res.statusText || 'error'}`;
    const err = new ApiError(res.status, message, e?.code);
    if (res.status === 401 && !quiet401 && onSignedOut) onSignedOut(err);
    throw err;
  }
  return data;
}

export const get = (path, params) => api('GET', path, undefined, { params });
export const post = (path, body = {}) => api('POST', path, body);
export const del = (path) => api('DELETE', path);

// A path segment, escaped (key names, request ids, server/tool names).
export const seg = (s) => encodeURIComponent(s);
