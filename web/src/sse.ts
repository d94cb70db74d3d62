// Live events: a Server-Sent Events stream read with fetch (so that Last-Event-ID can
// be sent on every reconnect), reconnecting with exponential backoff (0.5 s to 15 s).
// The state callback drives the "reconnecting" indicator. `onOpen` runs each time the
// stream is live: a view reads its state then, so that nothing published between a
// read and the subscription is missed (an event and the read may then arrive in either
// order: views keep the newer by version).

export type StreamState = 'live' | 'connecting' | 'offline';

export function follow(
  path: string,
  onEvent: (name: string, data: any) => void,
  onState: (s: StreamState) => void,
  onOpen: () => void = () => {},
): () => void {
  let stopped = false;
  let lastId = '';
  let delay = 500;
  let controller: AbortController | null = null;

  const run = async () => {
    while (!stopped) {
      onState('connecting');
      controller = new AbortController();
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const res = await fetch(path, { headers, credentials: 'same-origin', signal: controller.signal });
        if (res.status === 401 || res.status === 403) {
          onState('offline');
          return;  // signed out: no point retrying
        }
        // 404 too is retried: a task's stream opened a moment before its actor exists.
        if (!res.ok || !res.body) throw new Error(String(res.status));
        onState('live');
        onOpen();
        delay = 500;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = '', data = '', id = '';
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) name = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
              else if (line.startsWith('id: ')) id = line.slice(4);
            }
            if (id) lastId = id;
            if (!name) continue;
            let parsed: any = null;
            try {
              parsed = JSON.parse(data);
            } catch {
              parsed = null;
            }
            onEvent(name, parsed);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('offline');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
