// A stock Bull 4 worker on queue $QUEUE for the stalled-job scenarios: prints JSON lines
// {"ev":"ready"}, {"ev":"start","id"} and {"ev":"done","id"}; MODE=hang never finishes a job
// (the test kills it), MODE=ok returns {"by":"node"}. LOCK_MS / STALLED_MS set Bull's
// lockDuration / stalledInterval.
import Queue from 'bull';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';
const queue = new Queue(process.env.QUEUE, url, {
  settings: {
    lockDuration: Number(process.env.LOCK_MS ?? 30000),
    stalledInterval: Number(process.env.STALLED_MS ?? 30000),
  },
});
const say = (o) => console.log(JSON.stringify(o));
queue.process('*', async (job) => {
  say({ ev: 'start', id: String(job.id) });
  if (process.env.MODE === 'hang') await new Promise(() => {});
  return { by: 'node' };
});
queue.on('completed', (job) => say({ ev: 'done', id: String(job.id) }));
await queue.isReady();
say({ ev: 'ready' });
