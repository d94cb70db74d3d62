// `hearth serve` as a child process for the browser tests and benchmarks: started, its
// URL read from its "hearth listening on" line; and the API called as a signed-in user.
import { spawn } from 'node:child_process';

// Spawns `binary` with `args` (the whole command line after the binary) and `env` added
// to this process's; resolves with {child, url} once it listens, rejects after 20 s.
export function serveHearth(binary, args, env = {}) {
  const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('hearth serve never said where it listens')), 20000);
    child.stdout.on('data', (d) => {
      text += d;
      const m = text.match(/hearth listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
  });
}

// Signs in to the server at `base` through the API; resolves with {token, call}, where
// call(method, path, body?) resolves with {status, body} (the parsed JSON answer).
export async function signInApi(base, username, password) {
  const r = await fetch(`${base}/v1/auth/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }) });
  const token = r.headers.getSetCookie().find((c) => c.startsWith('hearth_session=')).split(';')[0].slice('hearth_session='.length);
  const call = (method, path, body) => fetch(`${base}${path}`, { method, headers: { 'Content-Type': 'application/json',
    Authorization: `Bearer ${token}` }, body: body ? JSON.stringify(body) : undefined })
    .then(async (res) => ({ status: res.status, body: await res.json() }));
  return { token, call };
}
