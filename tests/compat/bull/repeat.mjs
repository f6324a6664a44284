// Bull 3/4 repeatable jobs on cronq (queue `legacy`, layout = "bull"; tick, cron and limited
// are builtin echo handlers): a stock Bull producer adds them with `repeat`, and cronq, as
// Bull's worker does, adds each next iteration when it takes one. So they keep repeating,
// each iteration under its own `repeat:<hash>:<millis>` id; `limit` stops the chain and
// `removeRepeatable` ends it.
import Queue from 'bull';
import { assert, until } from '../lib.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

async function done(queue, name) {
  return (await queue.getCompleted(0, -1)).filter((j) => j.name === name);
}

async function main() {
  const queue = new Queue('legacy', url);
  await queue.add('tick', { kind: 'every' }, { repeat: { every: 300 } });
  await queue.add('cron', { kind: 'cron' }, { repeat: { cron: '*/1 * * * * *' } });
  await queue.add('limited', {}, { repeat: { every: 200, limit: 3 } });

  const ticks = await until('5 iterations of `every`', async () => {
    const d = await done(queue, 'tick');
    return d.length >= 5 && d;
  }, 30000);
  const crons = await until('3 iterations of `cron`', async () => {
    const d = await done(queue, 'cron');
    return d.length >= 3 && d;
  }, 30000);
  for (const list of [ticks, crons]) {
    const ids = list.map((j) => String(j.id));
    assert.equal(new Set(ids).size, ids.length, `distinct ids: ${ids}`);
    assert.ok(ids.every((id) => /^repeat:[0-9a-f]{32}:\d+$/.test(id)), `Bull's ids: ${ids}`);
    assert.deepEqual(list[0].returnvalue, list[0].data);
  }
  // Each `every` iteration is due on a multiple of 300 ms.
  assert.ok(ticks.every((j) => Number(String(j.id).split(':')[2]) % 300 === 0));
  // Counted as Bull counts them.
  assert.ok(ticks.some((j) => j.opts.repeat.count >= 5), JSON.stringify(ticks.map((j) => j.opts.repeat)));

  // limit: 3 runs, then nothing further waits or is delayed.
  await until('3 iterations of `limited`', async () => (await done(queue, 'limited')).length === 3);
  const pending = [...await queue.getDelayed(), ...await queue.getWaiting(), ...await queue.getActive()];
  assert.deepEqual(pending.filter((j) => j.name === 'limited').map((j) => j.id), []);

  // Still registered, as getRepeatableJobs() shows them.
  const listed = (await queue.getRepeatableJobs()).map((r) => r.name).sort();
  assert.deepEqual(listed, ['cron', 'limited', 'tick']);

  // removeRepeatable ends the chain: nothing of `tick` is left to run once the iteration
  // that may be running when it is removed has finished.
  await queue.removeRepeatable('tick', { every: 300 });
  await until('no `tick` iteration left', async () => {
    const left = [...await queue.getDelayed(), ...await queue.getWaiting(), ...await queue.getActive()];
    return !left.some((j) => j.name === 'tick');
  });
  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
