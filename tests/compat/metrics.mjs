// Node reads cronq's job metrics: a Node producer adds jobs to queue `m` (ok = builtin echo,
// no = builtin fail), cronq runs them, and `queue.getMetrics()` — what Bull Board charts —
// counts them. Then, with the series' clock moved two minutes back (as if time had passed),
// one more job closes the open minute: the per-minute list gains [0, n] as BullMQ writes it.
// Usage: node metrics.mjs (REDIS_URL in the environment)
import { assert, connection, run, until, watched } from './lib.mjs';
import { Redis } from 'ioredis';

run(async () => {
  const { queue, events } = await watched('m');
  const finish = async (name) => {
    const job = await queue.add(name, {}, { attempts: 1 });
    await job.waitUntilFinished(events, 20000).catch(() => {});
  };
  for (let i = 0; i < 5; i++) await finish('ok');
  for (let i = 0; i < 2; i++) await finish('no');
  const completed = await until('5 completed in the metrics', async () => {
    const m = await queue.getMetrics('completed');
    return m.meta.count === 5 && m;
  });
  const failed = await queue.getMetrics('failed');
  assert.equal(failed.meta.count, 2, 'getMetrics(failed) counts cronq\'s failures');
  assert.ok(completed.meta.prevTS > 0, 'the series has started');

  const redis = new Redis(connection);
  await redis.hset('bull:m:metrics:completed', 'prevTS', String(completed.meta.prevTS - 120000));
  await finish('ok');
  const after = await queue.getMetrics('completed');
  assert.equal(after.meta.count, 6);
  // The jobs counted since prevTS (all 5, unless a minute turned while they ran) close the
  // minute two back; the minute between them is a 0.
  const open = completed.meta.count - completed.meta.prevCount;
  assert.deepEqual(after.data.slice(0, 2), [0, open], 'one point per minute, newest first');
  assert.deepEqual(after.data.slice(2), completed.data, 'older points move down the list');
  await redis.quit();
  return [queue, events];
});
