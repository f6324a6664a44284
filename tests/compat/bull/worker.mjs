// cronq → Bull worker: a stock Bull 4 worker processes queue `legacy` until it has run
// a job of each name in argv[2] (comma-separated), printing one JSON line per job (id, name,
// data, opts, timestamps), then exits.
import Queue from 'bull';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';
const want = new Set((process.argv[2] ?? '').split(','));

const queue = new Queue('legacy', url);
const seen = new Set();
queue.process('*', async (job) => {
  console.log(JSON.stringify({ id: String(job.id), name: job.name, data: job.data, opts: job.opts,
    timestamp: job.timestamp, processedOn: job.processedOn }));
  seen.add(job.name);
  return { ok: job.id };
});
queue.on('completed', async () => {
  if ([...want].every((n) => seen.has(n))) {
    await queue.close();
    process.exit(0);
  }
});
setTimeout(() => { console.error(`only ${[...seen]} of ${[...want]} within 60 s`); process.exit(1); }, 60000);
