// Node → cronq: removeOnComplete / removeOnFail as a bool, a count and an age, set by the Node
// producer, are honoured when cronq finishes the jobs (queue `retain`: ok = builtin echo,
// no = builtin fail).
import { assert, run, until, watched } from './lib.mjs';

run(async () => {
  const { queue, events, seen } = await watched('retain');
  let removedEvents = 0;
  events.on('removed', () => removedEvents++);
  const finish = async (name, opts) => {
    const job = await queue.add(name, { reason: 'no' }, { attempts: 1, ...opts });
    await job.waitUntilFinished(events, 20000).catch(() => {});
    return job.id;
  };

  const gone = await finish('ok', { removeOnComplete: true });
  assert.equal(await queue.getJob(gone), undefined, 'removeOnComplete: true deletes the job');

  const counted = [];
  for (let i = 0; i < 3; i++) counted.push(await finish('ok', { removeOnComplete: { count: 1 } }));
  assert.equal(await queue.getJob(counted[0]), undefined);
  assert.equal(await queue.getJob(counted[1]), undefined);
  assert.ok(await queue.getJob(counted[2]), 'the newest completed job is kept');
  assert.deepEqual((await queue.getCompleted()).map((j) => j.id), [counted[2]]);

  const old = await finish('ok', { removeOnComplete: { age: 1 } });
  const oldJob = await queue.getJob(old);
  await until('the first aged job to be over a second old',
    () => Date.now() - oldJob.finishedOn > 1100, 5000);
  const young = await finish('ok', { removeOnComplete: { age: 1 } });
  assert.equal(await queue.getJob(old), undefined, 'a completed job older than age is trimmed');
  assert.ok(await queue.getJob(young), 'a young job is kept');

  const failed = [];
  for (let i = 0; i < 3; i++) failed.push(await finish('no', { removeOnFail: { count: 2 } }));
  assert.equal(await queue.getJob(failed[0]), undefined);
  const kept = (await queue.getFailed()).map((j) => j.id).sort();
  assert.deepEqual(kept, failed.slice(1).sort());

  const keptFail = await finish('no', { removeOnFail: false });
  assert.equal(await (await queue.getJob(keptFail)).getState(), 'failed');
  assert.equal(removedEvents, 0, 'retention does not emit removed events');
  assert.ok(!seen.some((e) => e.event === 'error'));
  return [events, queue];
});
