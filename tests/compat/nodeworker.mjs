// A stock BullMQ Node `Worker`, driven by tests/compat.rs: it prints one JSON line per event
// (`ready`, `start` with the job as Node sees it, `done`) so the Rust test can check what cronq
// produced and who ran what.
//
// env: QUEUE, MODE (ok: return {by:'node'} | hang: never finish | sleep: wait data.ms first),
// COUNT (exit after this many completions; 0 = run until SIGTERM), CONCURRENCY, LOCK_MS,
// STALLED_MS.
import { Worker } from 'bullmq';
import { connection } from './lib.mjs';

const env = process.env;
const mode = env.MODE ?? 'ok';
const count = Number(env.COUNT ?? 0);
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let completed = 0;
const worker = new Worker(env.QUEUE, async (job) => {
  print({ ev: 'start', id: job.id, name: job.name, data: job.data, opts: job.opts,
    attemptsMade: job.attemptsMade, delay: job.delay, priority: job.priority,
    timestamp: job.timestamp, processedOn: job.processedOn });
  if (mode === 'hang') await new Promise(() => {});
  if (mode === 'sleep') await new Promise((r) => setTimeout(r, job.data?.ms ?? 10));
  return { by: 'node', id: job.id };
}, {
  connection,
  concurrency: Number(env.CONCURRENCY ?? 1),
  lockDuration: Number(env.LOCK_MS ?? 30000),
  stalledInterval: Number(env.STALLED_MS ?? 30000),
  maxStalledCount: 1,
  name: 'node',
});
worker.on('completed', async (job) => {
  print({ ev: 'done', id: job.id });
  if (count > 0 && ++completed >= count) {
    await worker.close();
    process.exit(0);
  }
});
worker.on('stalled', (id) => print({ ev: 'stalled', id }));
worker.on('error', (err) => print({ ev: 'error', message: String(err) }));
process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
await worker.waitUntilReady();
print({ ev: 'ready' });
