// Shared by the interop scenarios: the test Redis from REDIS_URL, polling with a deadline, and
// a compact way to fail with context. Each scenario script exits 0 when every check held, or
// throws (exit 1) naming the check; tests/compat.rs runs them against a live cronq daemon.
import assert from 'node:assert/strict';
import { Queue, QueueEvents } from 'bullmq';

export { assert };

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6390');

/** BullMQ connection options for the test Redis (never a shared one: the test starts it). */
export const connection = {
  host: url.hostname,
  port: Number(url.port),
  maxRetriesPerRequest: null,
};

/** Polls `check` every 25 ms until it returns a truthy value; fails after `ms`. */
export async function until(what, check, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Observes `check` for `ms`: it must hold every time (used to show that nothing happens). */
export async function holds(what, check, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await check())) throw new Error(`stopped holding: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A queue plus a ready QueueEvents that records every event it sees, by name. */
export async function watched(name) {
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const seen = [];
  for (const e of ['active', 'progress', 'completed', 'failed', 'retries-exhausted', 'delayed',
    'waiting', 'stalled']) {
    events.on(e, (args) => seen.push({ event: e, ...args }));
  }
  events.on('error', (err) => seen.push({ event: 'error', message: String(err) }));
  await events.waitUntilReady();
  return { queue, events, seen, of: (id, e) => seen.filter((s) => s.jobId === id && s.event === e) };
}

/** Runs `main`, prints `ok`, closes everything it was given, exits 0; or prints the error. */
export async function run(main) {
  try {
    const closers = (await main()) ?? [];
    await Promise.all(closers.map((c) => c.close()));
    console.log('ok');
    process.exit(0);
  } catch (err) {
    console.error(err?.stack ?? String(err));
    process.exit(1);
  }
}
