// Pause and resume from Node: while `queue.pause()` holds, cronq takes nothing from the queue
// (the job stays waiting); after `resume()` cronq runs it. Queue `paused`: go = builtin echo.
import { assert, holds, run, until, watched } from './lib.mjs';

run(async () => {
  const { queue, events } = await watched('paused');
  // cronq is consuming: a first job runs at once.
  await (await queue.add('go', { n: 0 })).waitUntilFinished(events, 20000);

  await queue.pause();
  assert.equal(await queue.isPaused(), true);
  const held = await queue.add('go', { n: 1 });
  await holds('the job added while paused stays waiting',
    async () => (await held.getState()) === 'waiting', 2000);
  const c = await queue.getJobCounts('paused', 'waiting');
  assert.equal((c.paused ?? 0) + (c.waiting ?? 0), 1, JSON.stringify(c));

  await queue.resume();
  const value = await held.waitUntilFinished(events, 20000);
  assert.deepEqual(value, { n: 1 });
  await until('completed state', async () => (await held.getState()) === 'completed');
  return [events, queue];
});
