// The Node contender: a stock BullMQ `Worker` whose processor returns at once.
//
//   node worker.mjs REDIS_URL QUEUE CONCURRENCY [N] [stamp]
//
// With `stamp`, the processor returns `{ t }`, the wall-clock time (ms, sub-ms resolution) at
// which it was called: the job's return value then says when it started.
//
// Prints `ready` once connected, then exits after N completions (N = 0: until SIGTERM),
// printing `{"completed":…,"elapsed_ms":…}` (from ready, for information only: run.py times
// every contender from the jobs' own timestamps in Redis).
import { Worker } from 'bullmq';
import { connectionFrom, nowMs } from './lib.mjs';

const [redisUrl, queueName, concurrency, nArg, mode] = process.argv.slice(2);
const n = Number(nArg ?? 0);
let completed = 0;
let started = 0;

const processor = mode === 'stamp' ? async () => ({ t: nowMs() }) : async () => null;
const worker = new Worker(queueName, processor, {
  connection: connectionFrom(redisUrl),
  concurrency: Number(concurrency),
  autorun: false,
});
const finish = async () => {
  console.log(JSON.stringify({ completed, elapsed_ms: nowMs() - started }));
  await worker.close();
  process.exit(0);
};
worker.on('completed', () => {
  completed += 1;
  if (n > 0 && completed === n) finish();
});
worker.on('error', (err) => console.error(String(err)));
process.on('SIGTERM', finish);
process.on('SIGINT', finish);

await worker.waitUntilReady();
started = nowMs();
console.log('ready');
worker.run();
