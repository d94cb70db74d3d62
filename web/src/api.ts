// The HTTP API from the browser: same-origin fetch with the session cookie, the CSRF
// token on every change, and errors as ApiError carrying the server's words. A read
// that a live topic continues answers with its position (the `Hearth-Position` header,
// docs/http-api.md): `api` puts it in the body's `position` field when the body lacks
// it, so that a view can subscribe from exactly where its read left off (live.ts).

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

let csrf = '';
export function setCsrf(token: string | undefined) {
  csrf = token ?? '';
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'The server cannot be reached. Check your connection; Hearth retries live updates by itself.');
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = json?.error;
    throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `The server answered ${res.status}.`);
  }
  const position = res.headers.get('Hearth-Position');
  if (position && json && typeof json === 'object' && !Array.isArray(json) && !json.position) json.position = position;
  return json as T;
}

export const enc = encodeURIComponent;
