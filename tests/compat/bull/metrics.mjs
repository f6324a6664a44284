// Bull 4 reads cronq's job metrics on a `layout = "bull"` queue (`legacy`: plain = echo,
// boom = fail): `queue.getMetrics()` counts the jobs cronq finished. Then, with the series'
// clock moved two minutes back (as if time had passed), one more job closes the open minute:
// the per-minute list gains [0, n], newest first, as Bull's own worker writes it.
import Queue from 'bull';
import { assert, until } from '../lib.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

async function main() {
  const queue = new Queue('legacy', url);
  const finish = async (name) => {
    const job = await queue.add(name, {}, { attempts: 1 });
    await job.finished().catch(() => {});
  };
  for (let i = 0; i < 5; i++) await finish('plain');
  for (let i = 0; i < 2; i++) await finish('boom');
  const completed = await until('5 completed in the metrics', async () => {
    const m = await queue.getMetrics('completed');
    return m.meta.count === 5 && m;
  });
  const failed = await queue.getMetrics('failed');
  assert.equal(failed.meta.count, 2, "getMetrics('failed') counts cronq's failures");
  assert.ok(completed.meta.prevTS > 0, 'the series has started');

  await queue.client.hset(queue.toKey('metrics:completed'), 'prevTS',
    String(completed.meta.prevTS - 120000));
  await finish('plain');
  const after = await queue.getMetrics('completed');
  assert.equal(after.meta.count, 6);
  const open = completed.meta.count - completed.meta.prevCount;
  assert.deepEqual(after.data.slice(0, 2).map(Number), [0, open], 'one point per minute, newest first');
  assert.deepEqual(after.data.slice(2), completed.data, 'older points move down the list');
  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
