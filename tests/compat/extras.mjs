// The rest of bullmq-layout.md §21 against cronq (queue `extra`: hold = builtin sleep, ok =
// builtin echo, no = builtin fail; cronq runs with a 1 s lock): worker discovery, lock renewal
// under a Node stalled checker, deduplication, retry of a failed job from Node (what Bull
// Board's Retry button does), global concurrency and the global rate limit.
import { Worker } from 'bullmq';
import { assert, connection, run, until, watched } from './lib.mjs';

run(async () => {
  const { queue, events, seen, of } = await watched('extra');
  const finish = (job) => job.waitUntilFinished(events, 20000);

  // Discovery: cronq's connection is named the way Node's Queue.getWorkers() looks for. An
  // idle queue holds no connection (issue 26): the queue has had a job within idle_release.
  await finish(await queue.add('ok', { n: 0 }));
  const workers = await until('cronq among the workers', async () => {
    const w = await queue.getWorkers();
    return w.length > 0 && w;
  });
  assert.ok(workers.every((w) => typeof w.name === 'string'), JSON.stringify(workers));

  // Lock renewal: a 3 s job under a 1 s lock, while a Node stalled checker runs every 300 ms.
  const checker = new Worker('extra', null, { connection, autorun: false, stalledInterval: 300 });
  const checking = setInterval(() => checker.moveStalledJobsToWait().catch(() => {}), 300);
  const held = await queue.add('hold', { ms: 3000 });
  await finish(held);
  clearInterval(checking);
  assert.equal(of(held.id, 'stalled').length, 0, 'no stalled event: cronq renewed the lock');
  assert.equal((await queue.getJob(held.id)).attemptsMade, 1);

  // Deduplication: one job for two adds, a `deduplicated` event, a new job after it finished.
  let deduplicated = 0;
  events.on('deduplicated', () => deduplicated++);
  // The queue is paused across both adds, so cronq cannot finish d1 (which frees the
  // deduplication id) before d2 is added, however fast it is.
  await queue.pause();
  const d1 = await queue.add('ok', { n: 1 }, { deduplication: { id: 'd' } });
  const d2 = await queue.add('ok', { n: 2 }, { deduplication: { id: 'd' } });
  assert.equal(d2.id, d1.id);
  await queue.resume();
  assert.deepEqual(await finish(d1), { n: 1 });
  await until('the deduplicated event', () => deduplicated === 1);
  const d3 = await queue.add('ok', { n: 3 }, { deduplication: { id: 'd' } });
  assert.notEqual(d3.id, d1.id);
  await finish(d3);

  // Retry from Node of a job cronq failed: it runs again and fails again.
  const failing = await queue.add('no', { reason: 'still broken' }, { attempts: 1 });
  await assert.rejects(finish(failing), /still broken/);
  await (await queue.getJob(failing.id)).retry('failed');
  await until('the retried job to run and fail again',
    async () => of(failing.id, 'active').length === 2
      && (await queue.getJob(failing.id)).finishedOn && (await failing.getState()) === 'failed');

  // Global concurrency 1: cronq (4 slots) never has two jobs active at once.
  await queue.setGlobalConcurrency(1);
  const slow = await queue.addBulk([1, 2, 3, 4].map(() => ({ name: 'hold', data: { ms: 150 } })));
  let maxActive = 0;
  const sampling = setInterval(async () => {
    maxActive = Math.max(maxActive, (await queue.getJobCounts('active')).active);
  }, 20);
  for (const j of slow) await finish(j);
  clearInterval(sampling);
  assert.equal(maxActive, 1, 'global concurrency 1 holds');
  await queue.removeGlobalConcurrency();

  // Global rate limit 2 per second: six jobs take at least two more windows.
  await queue.setGlobalRateLimit(2, 1000);
  const limited = await queue.addBulk([1, 2, 3, 4, 5, 6].map((n) => ({ name: 'ok', data: { n } })));
  for (const j of limited) await finish(j);
  const starts = (await Promise.all(limited.map((j) => queue.getJob(j.id))))
    .map((j) => j.processedOn).sort((a, b) => a - b);
  assert.ok(starts[5] - starts[0] >= 1900, `six starts spread over ${starts[5] - starts[0]} ms`);
  await queue.removeGlobalRateLimit();

  assert.ok(!seen.some((e) => e.event === 'error'));
  await checker.close();
  return [events, queue];
});
