// The live hub (web/src/live_hub.ts) against a fake server speaking the wire format of
// GET /v1/events (docs/http-api.md, Live updates): which streams it opens with which
// positions, what each subscriber receives, and what happens on ready, reset, closed,
// refusals and broken streams. No browser, no hearth: fetch is replaced.
// Usage: node live_hub_test.mjs
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '../../web');
const esbuild = createRequire(join(web, 'package.json'))('esbuild');
const bundled = await esbuild.build({ entryPoints: [join(web, 'src/live_hub.ts')], bundle: true, format: 'esm', write: false, logLevel: 'warning' });
const { Hub } = await import('data:text/javascript,' + encodeURIComponent(bundled.outputFiles[0].text));

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// --- The fake server: every fetch of /v1/events is a stream the test writes to. ----------
const streams = [];
const refusals = [];  // answers for the next opens: {status, message}
globalThis.fetch = async (url, opts) => {
  const topics = decodeURIComponent(new URL(url, 'http://x').searchParams.get('topics')).split(',');
  const refusal = refusals.shift();
  if (refusal) return new Response(JSON.stringify({ error: { code: 'x', message: refusal.message } }), { status: refusal.status });
  const s = { topics, closed: false };
  const body = new ReadableStream({ start(c) { s.controller = c; } });
  opts.signal.addEventListener('abort', () => {
    s.closed = true;
    try { s.controller.error(new Error('aborted')); } catch {}
  });
  s.send = (name, data) => s.controller.enqueue(new TextEncoder().encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`));
  s.event = (topic, position, payload = {}) => s.send('x.changed', { topic, position, name: 'x.changed', at: 1, payload });
  s.end = () => s.controller.close();
  streams.push(s);
  return new Response(body, { status: 200 });
};
const settle = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const latest = () => streams[streams.length - 1];

function subscriber(topic, last) {
  const sub = { topic, last, got: [], resets: [], event(e) { this.got.push(e.position); }, reset(r) { this.resets.push(r); } };
  return sub;
}

const hub = new Hub();
const states = [];
hub.watch((s) => states.push(s));

// A read's position opens the stream.
const a = subscriber('org:acme', 'e.5');
hub.add(a);
await settle();
check(streams.length === 1 && same(latest().topics, ['org:acme@e.5']), 'the first subscriber opens a stream from its read position');

// Ready, then events in order, a copy dropped.
const s1 = latest();
s1.send('ready', { topics: ['org:acme'] });
s1.event('org:acme', 'e.6');
s1.event('org:acme', 'e.6');
s1.event('org:acme', 'e.7');
await settle();
check(same(a.got, ['e.6', 'e.7']) && states.at(-1) === 'live', 'events arrive in order, once; the state is live');

// A new topic: a new stream with every topic at its position; the old one closes on ready.
const b = subscriber('task:acme/t_1', 'e.3');
hub.add(b);
await settle();
const s2 = latest();
check(streams.length === 2 && same(s2.topics, ['org:acme@e.7', 'task:acme/t_1@e.3']), 'a new topic opens a new stream naming every topic with its position');
s1.event('org:acme', 'e.8');  // the old stream goes on until the new one is ready
await settle();
check(same(a.got, ['e.6', 'e.7', 'e.8']) && !s1.closed, 'the old stream keeps delivering until its successor is ready');
s2.send('ready', { topics: ['org:acme', 'task:acme/t_1'] });
s2.event('org:acme', 'e.8');  // replayed: a copy
s2.event('org:acme', 'e.9');
s2.event('task:acme/t_1', 'e.4');
await settle();
check(s1.closed, 'the old stream closes once the new one is ready');
check(same(a.got, ['e.6', 'e.7', 'e.8', 'e.9']) && same(b.got, ['e.4']), 'what both streams delivered is delivered once');

// Late subscribers to a topic the stream carries.
const c = subscriber('org:acme', 'e.7');
hub.add(c);
check(same(c.got, ['e.8', 'e.9']) && streams.length === 2, 'a subscriber whose read is older gets what it missed from the buffer, no new stream');
const d = subscriber('org:acme', 'e.2');
hub.add(d);
await settle();
check(d.got.length === 0 && d.resets.length === 1, 'one whose read is older than the buffer is told to read again');
const e = subscriber('org:acme', null);
hub.add(e);
await settle();
check(e.resets.length === 1, 'one without a position is told to read now');
s2.event('org:acme', 'e.10');
await settle();
check(a.got.at(-1) === 'e.10' && c.got.at(-1) === 'e.10' && d.got.at(-1) === 'e.10' && e.got.at(-1) === 'e.10', 'then all get the live events');

// reset and closed frames.
s2.send('reset', { topic: 'task:acme/t_1', reason: 'the client fell behind' });
await settle();
check(same(b.resets, ['the client fell behind']), "a topic's reset tells its subscribers to read again");
s2.event('task:acme/t_1', 'e.2');  // after a reset anything that comes is new
await settle();
check(b.got.at(-1) === 'e.2', 'and its live events keep coming');

// A broken stream: offline, then a new stream from the last positions.
s2.end();
await settle();
check(states.at(-1) === 'offline', 'a broken stream is offline');
await settle(700);
const s3 = latest();
check(streams.length === 3 && same(s3.topics, ['org:acme@e.10', 'task:acme/t_1@e.2']), 'the next stream resumes every topic from its last position');
s3.send('ready', { topics: ['org:acme', 'task:acme/t_1'] });
s3.event('org:acme', 'e.11');
await settle();
check(states.at(-1) === 'live' && a.got.at(-1) === 'e.11', 'and is live again');

// A topic of an org the caller is not in: refused by name, the others go on.
const f = subscriber('org:other', 'e.1');
refusals.push({ status: 404, message: 'no organization "other"' });
hub.add(f);
await settle(50);
check(f.resets.length === 1 && f.resets[0].includes('no organization'), 'a refused topic tells its subscriber why');
check(latest() === s3 && !s3.closed, 'and the stream goes on without it');

// Dropping the last subscriber of a topic: it leaves the stream a moment later.
hub.remove(b);
await settle(1100);
check(same(latest().topics, ['org:acme@e.11']), 'a topic nobody follows leaves the stream');
latest().send('ready', { topics: ['org:acme'] });
await settle();
check(s3.closed, 'and the stream that carried it closes');

// The stream says the credential is gone.
latest().send('signed_out', {});
await settle();
check(states.at(-1) === 'signed_out', 'signed_out is a state of its own');
const opened = streams.length;
await settle(700);
check(streams.length === opened, 'and no stream is opened while signed out');
hub.resume();  // signed in again (in another tab)
await settle();
check(streams.length === opened + 1 && same(latest().topics, ['org:acme@e.11']), 'resume follows again from the last positions');

console.log(failures.length ? `${failures.length} failed` : 'all passed');
process.exit(failures.length ? 1 : 0);
