// Job schedulers created from Node (`upsertJobScheduler`, cron pattern and `every`, and one
// with a `limit`) keep producing their next runs when cronq is the only worker: the worker
// that takes an iteration must schedule the next one. Queue `sched`: tick = builtin echo.
import { assert, holds, run, until, watched } from './lib.mjs';

run(async () => {
  const { queue, events, seen } = await watched('sched');
  const ran = (k) => seen.filter((e) => e.event === 'completed' && e.returnvalue?.k === k).length;
  await queue.upsertJobScheduler('every-s', { every: 1000 }, { name: 'tick', data: { k: 'every' } });
  await queue.upsertJobScheduler('cron-s', { pattern: '*/1 * * * * *', tz: 'UTC' },
    { name: 'tick', data: { k: 'cron' } });
  await queue.upsertJobScheduler('limited', { every: 300, limit: 3 },
    { name: 'tick', data: { k: 'lim' } });

  await until('three runs of each scheduler',
    () => ran('every') >= 3 && ran('cron') >= 3 && ran('lim') === 3, 15000);
  // The limited scheduler stops at its limit; the others keep their next run in the future.
  await holds('the limited scheduler stays at 3 runs', () => ran('lim') === 3, 1500);
  const schedulers = await queue.getJobSchedulers();
  for (const id of ['every-s', 'cron-s']) {
    const s = schedulers.find((x) => x.key === id);
    assert.ok(s, `scheduler ${id} listed`);
    assert.ok(s.next > Date.now() - 1000, `${id} next run ${s.next} is current`);
  }
  const ids = seen.filter((e) => e.event === 'completed').map((e) => e.jobId);
  assert.ok(ids.every((id) => id.startsWith('repeat:')), `iteration ids: ${ids}`);
  await queue.removeJobScheduler('every-s');
  await queue.removeJobScheduler('cron-s');
  return [events, queue];
});
