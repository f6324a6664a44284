// The producer for every contender (cronq, Node Worker, bare engine): BullMQ's own Queue.
//
//   node producer.mjs fill   REDIS_URL QUEUE NAME N            addBulk in chunks of 1000
//   node producer.mjs steady REDIS_URL QUEUE NAME RATE SECONDS one add every 1/RATE s
//   node producer.mjs spread REDIS_URL BASE NAME QUEUES COUNT MS  add i to BASE<i % QUEUES + 1>,
//                                                                one every MS ms
//
// Job data: `{ i }` for fill; `{ i, t }` for steady, where `t` is the wall-clock time in ms
// (sub-ms resolution) taken just before `queue.add`, so run.py can compute enqueue → start
// latency as `processedOn - data.t`. Prints one JSON line when done.
import { Queue } from 'bullmq';
import { connectionFrom, nowMs, JOB_OPTS } from './lib.mjs';

const [mode, redisUrl, queueName, jobName, a, b] = process.argv.slice(2);
const queue = new Queue(queueName, { connection: connectionFrom(redisUrl) });
await queue.waitUntilReady();

if (mode === 'fill') {
  const n = Number(a);
  const started = nowMs();
  for (let from = 0; from < n; from += 1000) {
    const chunk = [];
    for (let i = from; i < Math.min(n, from + 1000); i++) {
      chunk.push({ name: jobName, data: { i }, opts: JOB_OPTS });
    }
    await queue.addBulk(chunk);
  }
  console.log(JSON.stringify({ added: n, elapsed_ms: nowMs() - started }));
} else if (mode === 'steady') {
  const rate = Number(a);
  const seconds = Number(b);
  const n = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const started = nowMs();
  let worstAddMs = 0;
  for (let i = 0; i < n; i++) {
    const due = started + i * interval;
    const wait = due - nowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = nowMs();
    await queue.add(jobName, { i, t }, JOB_OPTS);
    worstAddMs = Math.max(worstAddMs, nowMs() - t);
  }
  console.log(JSON.stringify({ added: n, elapsed_ms: nowMs() - started, worst_add_ms: worstAddMs }));
} else if (mode === 'spread') {
  // Each job to the next of QUEUES queues in turn, so each queue sits idle between its jobs
  // (bench/queue_scaling.py: first-job latency on idle queues).
  const [queues, count, ms] = process.argv.slice(6).map(Number);
  const handles = Array.from({ length: queues }, (_, i) =>
    new Queue(`${queueName}${i + 1}`, { connection: connectionFrom(redisUrl) }));
  await Promise.all(handles.map((q) => q.waitUntilReady()));
  const started = nowMs();
  for (let i = 0; i < count; i++) {
    const wait = started + i * ms - nowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await handles[i % queues].add(jobName, { i, t: nowMs() }, JOB_OPTS);
  }
  await Promise.all(handles.map((q) => q.close()));
  console.log(JSON.stringify({ added: count, elapsed_ms: nowMs() - started }));
} else {
  console.error('usage: producer.mjs fill|steady|spread ...');
  process.exit(2);
}
await queue.close();
process.exit(0);
