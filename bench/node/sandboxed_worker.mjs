// The Node contender of bench/processors.py: a stock BullMQ `Worker` given the processor as a
// file path, so BullMQ runs it in its own child processes (a "sandboxed processor").
//   node sandboxed_worker.mjs REDIS_URL QUEUE CONCURRENCY FILE
// Prints `ready`, then runs until SIGTERM.
import { Worker } from 'bullmq';
import { resolve } from 'node:path';
import { connectionFrom } from './lib.mjs';

const [redisUrl, queueName, concurrency, file] = process.argv.slice(2);
const worker = new Worker(queueName, resolve(file), {
  connection: connectionFrom(redisUrl),
  concurrency: Number(concurrency),
});
await worker.waitUntilReady();
console.log('ready');
process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
