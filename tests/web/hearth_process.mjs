// `hearth serve` as a child process for the browser tests and benchmarks: started, its
// URL read from its "hearth listening on" line; and the API called as a signed-in user.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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

// What every browser test shares: `check` (prints ok/FAIL, keeps the failures), anything
// thrown outside the steps reported with its stack, and `run(main, cleanup)`, which runs
// the steps, always cleans up, prints the outcome and exits with it.
export function browserTest() {
  const failures = [];
  process.on('uncaughtException', (e) => { console.log(`FAIL uncaught: ${e?.stack ?? e}`); process.exit(1); });
  process.on('unhandledRejection', (e) => { console.log(`FAIL unhandled: ${e?.stack ?? e}`); process.exit(1); });
  const check = (ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) failures.push(what);
  };
  const run = async (main, cleanup) => {
    try {
      await main();
    } catch (e) {
      failures.push(String(e?.stack ?? e));
      console.log(`FAIL ${e?.stack ?? e}`);
    } finally {
      await cleanup();
    }
    console.log(failures.length ? `${failures.length} failed` : 'all passed');
    process.exit(failures.length ? 1 : 0);
  };
  return { check, run };
}

// SIGTERM to `child`, resolving once it has exited (at once when it has already).
export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

// A fake of an outside service as a process (tests/support/fake_*_main.cpp): it prints
// what it is as a JSON line first, then answers each command on its stdin with a line.
// Resolves with that JSON, `command(text)` (resolving with the answer once obeyed) and
// `child`.
export function startFakeProcess(binary, args) {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  let first;
  const ready = new Promise((r) => { first = r; });
  lines.on('line', (line) => {
    if (line.startsWith('{')) first(JSON.parse(line));
    else waiting.shift()?.(line);
  });
  const command = (text) => new Promise((r) => { waiting.push(r); child.stdin.write(text + '\n'); });
  return ready.then((info) => ({ ...info, command, child }));
}
