// Events published by Bull itself, for cronq's SSE test: a stock Bull 4 producer and worker on
// queue `legacy` (which cronq declares but does not consume). Job `p` reports progress 42 and
// returns {"ok":1}; job `f` throws "bad". Prints {"p": id, "f": id} when both are finished.
import Queue from 'bull';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';
const queue = new Queue('legacy', url);
queue.process('*', async (job) => {
  if (job.name === 'f') throw new Error('bad');
  await job.progress(42);
  return { ok: 1 };
});
await queue.isReady();
const p = await queue.add('p', {});
const f = await queue.add('f', {}, { attempts: 1 });
await p.finished();
await f.finished().catch(() => {});
console.log(JSON.stringify({ p: String(p.id), f: String(f.id) }));
await queue.close();
process.exit(0);
