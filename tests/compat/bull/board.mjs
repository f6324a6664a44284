// Bull Board (@bull-board/api with its Bull adapter) pointed at a Bull 3/4 queue cronq works
// (`legacy`, layout = "bull"; report = exec with progress and a log line, boom = builtin fail):
// it lists the queue with the right counts and shows each job's data, progress, logs, result
// and error. Routes are called through a minimal in-memory server adapter.
import Queue from 'bull';
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { assert } from '../lib.mjs';
import { MemoryAdapter } from '../board_adapter.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

async function main() {
  const queue = new Queue('legacy', url);
  const ok = await queue.add('report', { r: 7 });
  const bad = await queue.add('boom', { reason: 'printer on fire' });
  assert.deepEqual(await ok.finished(), { done: true });
  await assert.rejects(bad.finished(), /printer on fire/);

  const server = new MemoryAdapter();
  createBullBoard({ queues: [new BullAdapter(queue)], serverAdapter: server });
  const list = await server.call('get', '/api/queues',
    { activeQueue: 'legacy', status: 'latest', page: '1', jobsPerPage: '10' });
  const board = list.queues.find((q) => q.name === 'legacy');
  assert.ok(board, `queues listed: ${list.queues.map((q) => q.name)}`);
  assert.equal(board.counts.completed, 1, JSON.stringify(board.counts));
  assert.equal(board.counts.failed, 1, JSON.stringify(board.counts));
  assert.equal(board.counts.active, 0, JSON.stringify(board.counts));

  const shown = await server.call('get', `/api/queues/legacy/${ok.id}`);
  assert.deepEqual(shown.job.data, { r: 7 });
  assert.equal(shown.job.progress, 50);
  assert.deepEqual(shown.job.returnValue, { done: true });
  assert.equal(shown.jobState ?? shown.status, 'completed');

  const failed = await server.call('get', `/api/queues/legacy/${bad.id}`);
  assert.equal(failed.job.failedReason, 'printer on fire');
  assert.equal(failed.job.isFailed, true);

  const logs = await server.call('get', `/api/queues/legacy/${ok.id}/logs`);
  assert.ok(JSON.stringify(logs).includes(`working on ${ok.id}`), JSON.stringify(logs));
  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
