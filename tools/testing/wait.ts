// What integration tests wait with: a condition polled until a deadline (never a pause standing in
// for synchronisation), and a port nothing listens on.
import { once } from 'node:events';
import { createServer } from 'node:net';

/** Polls `read` until `done` says so; fails with the last value after `timeoutMs`. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A port free right now on 127.0.0.1 (taken, then released): for a service that must know its URL before it starts, or an address where nothing answers. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('cannot find a free port');
  return address.port;
}
