// Bull Board (@bull-board/api from npm) pointed at the queues cronq works: its own API
// handlers, called through a minimal in-memory server adapter (no HTTP framework needed), list
// the queues with the right counts and show each job's data, progress, logs, result and error.
// Queue `board`: report = exec with progress and a log line, boom = builtin fail; queue
// `ticks` is fed by cronq's crontab.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { assert, run, until, watched } from './lib.mjs';
import { MemoryAdapter } from './board_adapter.mjs';

run(async () => {
  const { queue, events } = await watched('board');
  const ok = await queue.add('report', { r: 7 });
  const bad = await queue.add('boom', { reason: 'printer on fire' }, { attempts: 1 });
  await ok.waitUntilFinished(events, 20000);
  await bad.waitUntilFinished(events, 20000).catch(() => {});
  const ticks = await watched('ticks');
  await until('a cron tick to complete', async () =>
    (await ticks.queue.getJobCounts('completed')).completed >= 1);

  const server = new MemoryAdapter();
  createBullBoard({ queues: [new BullMQAdapter(queue), new BullMQAdapter(ticks.queue)],
    serverAdapter: server });

  const list = await server.call('get', '/api/queues',
    { activeQueue: 'board', status: 'latest', page: '1', jobsPerPage: '10' });
  const board = list.queues.find((q) => q.name === 'board');
  assert.ok(board, `queues listed: ${list.queues.map((q) => q.name)}`);
  assert.ok(list.queues.some((q) => q.name === 'ticks'), 'the cron-fed queue is listed');
  assert.equal(board.counts.completed, 1);
  assert.equal(board.counts.failed, 1);
  assert.equal(board.counts.active, 0);
  const tickCounts = list.queues.find((q) => q.name === 'ticks').counts;
  assert.ok(tickCounts.completed >= 1, JSON.stringify(tickCounts));

  const shown = await server.call('get', `/api/queues/board/${ok.id}`);
  assert.deepEqual(shown.job.data, { r: 7 });
  assert.equal(shown.job.progress, 50);
  assert.deepEqual(shown.job.returnValue, { done: true });
  assert.equal(shown.job.attempts, 1);
  assert.equal(shown.jobState ?? shown.status, 'completed');

  const failed = await server.call('get', `/api/queues/board/${bad.id}`);
  assert.equal(failed.job.failedReason, 'printer on fire');
  assert.equal(failed.job.isFailed, true);

  const logs = await server.call('get', `/api/queues/board/${ok.id}/logs`);
  assert.ok(JSON.stringify(logs).includes(`working on ${ok.id}`), JSON.stringify(logs));
  return [events, ticks.events, queue, ticks.queue];
});
