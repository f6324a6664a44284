// cronq → Bull worker: a stock Bull 4 worker processes queue `legacy` until it has run
// argv[2] jobs, printing one JSON line per job (id, name, data, attempts option), then exits.
import Queue from 'bull';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';
const want = Number(process.argv[2] ?? 1);

const queue = new Queue('legacy', url);
let seen = 0;
queue.process('*', async (job) => {
  console.log(JSON.stringify({ id: job.id, name: job.name, data: job.data, attempts: job.opts.attempts }));
  seen += 1;
  return { ok: job.id };
});
queue.on('completed', async () => {
  if (seen >= want) {
    await queue.close();
    process.exit(0);
  }
});
setTimeout(() => { console.error(`only ${seen} of ${want} jobs within 60 s`); process.exit(1); }, 60000);
