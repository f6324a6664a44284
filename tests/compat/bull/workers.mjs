// Bull's own worker listing pointed at cronq: `legacy` (layout = "bull") is consumed by cronq,
// `idle` by nobody. `Queue.getWorkers()` must list cronq for `legacy` and nothing for `idle`,
// and Bull Board (BullAdapter) must say `hasWorkers` accordingly and list the worker.
import Queue from 'bull';
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { assert, until } from '../lib.mjs';
import { MemoryAdapter } from '../board_adapter.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

async function main() {
  const legacy = new Queue('legacy', url);
  const idle = new Queue('idle', url);
  const workers = await until('cronq listed by getWorkers()', async () => {
    const w = await legacy.getWorkers();
    return w.length > 0 && w;
  });
  assert.equal(workers[0].name, 'legacy', JSON.stringify(workers));
  assert.deepEqual(await idle.getWorkers(), []);

  const server = new MemoryAdapter();
  createBullBoard({ queues: [new BullAdapter(legacy), new BullAdapter(idle)], serverAdapter: server });
  const list = await server.call('get', '/api/queues', { status: 'latest', page: '1', jobsPerPage: '10' });
  const shown = Object.fromEntries(list.queues.map((q) => [q.name, q.hasWorkers]));
  assert.deepEqual(shown, { legacy: true, idle: false });
  const listed = await server.call('get', '/api/queues/legacy/workers');
  assert.ok(listed.workers.length >= 1, JSON.stringify(listed));

  // Still listed while it runs a job (the named connection is not the one running it).
  const job = await legacy.add('plain', { n: 1 });
  await job.finished();
  assert.ok((await legacy.getWorkers()).length >= 1);
  await legacy.close();
  await idle.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
