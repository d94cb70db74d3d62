// The SharedWorker that owns the one event stream of every tab of this origin (bundled
// as assets/live-worker.js). Each tab talks to it through its port (live.ts):
//   tab → worker  {op:'sub', id, topic, last} · {op:'unsub', id} · {op:'resume'} (signed in
//                 again after signed_out) · {op:'bye'} (the tab goes)
//   worker → tab  {t:'ev', id, e} · {t:'reset', id, reason} · {t:'state', s}
// Subscriptions of a tab are its own (ids are per tab); the hub merges their topics.
import { Hub, HubSub, LiveState } from './live_hub';

const hub = new Hub();
const ports = new Set<MessagePort>();
let state: LiveState = 'connecting';
hub.watch((s) => {
  state = s;
  for (const p of ports) p.postMessage({ t: 'state', s });
});

(self as any).onconnect = (c: MessageEvent) => {
  const port = c.ports[0];
  const mine = new Map<number, HubSub>();
  const drop = (id: number) => {
    const sub = mine.get(id);
    if (!sub) return;
    mine.delete(id);
    hub.remove(sub);
  };
  port.onmessage = (m: MessageEvent) => {
    const d = m.data;
    if (d?.op === 'sub') {
      drop(d.id);
      ports.add(port);
      const sub: HubSub = {
        topic: d.topic,
        last: d.last ?? null,
        event: (e) => port.postMessage({ t: 'ev', id: d.id, e }),
        reset: (reason) => port.postMessage({ t: 'reset', id: d.id, reason }),
      };
      mine.set(d.id, sub);
      hub.add(sub);
    } else if (d?.op === 'unsub') {
      drop(d.id);
    } else if (d?.op === 'resume') {
      hub.resume();
    } else if (d?.op === 'bye') {
      for (const id of [...mine.keys()]) drop(id);
      ports.delete(port);
    }
  };
  ports.add(port);
  port.start();
  port.postMessage({ t: 'state', s: state });
};
