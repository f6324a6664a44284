// Node → cronq: jobs added with the stock `Queue.add` / `addBulk` are run by cronq's handlers,
// and Node reads back exactly what a BullMQ Worker would have left (state, return value,
// attempts, failure, stack trace, progress, logs, counts) and gets valid QueueEvents payloads.
//
// cronq's config for queue `interop` (tests/compat.rs): plain = builtin echo, slow = builtin
// sleep, boom = builtin fail, flaky = exec failing on attempt 1, report = exec that reports
// progress and logs a line.
import { Job } from 'bullmq';
import { assert, run, until, watched } from './lib.mjs';

run(async () => {
  const { queue, events, seen, of } = await watched('interop');
  const done = (job, ms = 20000) => job.waitUntilFinished(events, ms);

  // An active job looks active from Node, with the count to match.
  const slow = await queue.add('slow', { ms: 1500 });
  await until('slow to be active', async () => (await slow.getState()) === 'active');
  assert.equal((await queue.getJobCounts('active')).active, 1);
  await done(slow);

  const plain = await queue.add('plain', { x: 1 });
  const bulk = await queue.addBulk([1, 2, 3].map((i) => ({ name: 'plain', data: { i } })));
  const delayed = await queue.add('plain', { d: 1 }, { delay: 400 });
  assert.equal(await delayed.getState(), 'delayed');
  const prio = await queue.add('plain', { p: 1 }, { priority: 3 });
  const custom = await queue.add('plain', { c: 1 }, { jobId: 'custom-1' });
  const report = await queue.add('report', { r: 1 });
  const flaky = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  const boom = await queue.add('boom', { reason: 'out of paper' },
    { attempts: 3, backoff: { type: 'exponential', delay: 100 } });

  for (const j of [plain, ...bulk, delayed, prio, custom, report, flaky]) {
    await done(j);
  }
  await assert.rejects(done(boom), /out of paper/);

  const get = (id) => Job.fromId(queue, id);
  const p = await get(plain.id);
  assert.equal(await p.getState(), 'completed');
  assert.deepEqual(p.returnvalue, { x: 1 });
  assert.equal(p.attemptsMade, 1);
  assert.ok(p.processedOn >= p.timestamp && p.finishedOn >= p.processedOn, 'timestamps ordered');
  for (const b of bulk) assert.deepEqual((await get(b.id)).returnvalue, b.data);
  const d = await get(delayed.id);
  assert.ok(d.processedOn >= d.timestamp + 400, `delayed ran ${d.processedOn - d.timestamp} ms after add`);
  assert.deepEqual((await get(prio.id)).returnvalue, { p: 1 });
  assert.deepEqual((await get('custom-1')).returnvalue, { c: 1 });

  const r = await get(report.id);
  assert.deepEqual(r.returnvalue, { done: true });
  assert.equal(r.progress, 50);
  const { logs } = await queue.getJobLogs(report.id);
  assert.ok(logs.includes(`working on ${report.id}`), `logs: ${JSON.stringify(logs)}`);
  assert.ok(!logs.some((l) => l.startsWith('cronq:progress')), 'progress lines are not logs');
  const progress = of(report.id, 'progress').map((e) => e.data);
  assert.deepEqual(progress, [{ step: 1 }, 50]);

  const f = await get(flaky.id);
  assert.equal(await f.getState(), 'completed');
  assert.equal(f.attemptsMade, 2);
  assert.deepEqual(f.returnvalue, { attempt: 2 });
  assert.ok(of(flaky.id, 'delayed').length >= 1, 'the retry went through delayed');

  const b = await get(boom.id);
  assert.equal(await b.getState(), 'failed');
  assert.equal(b.failedReason, 'out of paper');
  assert.equal(b.attemptsMade, 3);
  assert.equal(b.stacktrace.length, 3, `one stack trace entry per attempt: ${b.stacktrace}`);
  await until('retries-exhausted', () => of(boom.id, 'retries-exhausted').length === 1);
  assert.equal(Number(of(boom.id, 'retries-exhausted')[0].attemptsMade), 3);
  assert.equal(of(boom.id, 'failed').at(-1).failedReason, 'out of paper');

  // Every finished job: one active event per attempt, one completed event with the value.
  await until('all completed events', () => of(plain.id, 'completed').length === 1);
  assert.deepEqual(of(plain.id, 'completed')[0].returnvalue, { x: 1 });
  assert.equal(of(plain.id, 'active')[0].prev, 'waiting');
  assert.equal(of(flaky.id, 'active').length, 2);
  assert.ok(!seen.some((e) => e.event === 'error'), `QueueEvents errors: ${JSON.stringify(seen)}`);

  const counts = await queue.getJobCounts('active', 'completed', 'delayed', 'failed',
    'prioritized', 'waiting');
  assert.deepEqual(counts,
    { active: 0, completed: 10, delayed: 0, failed: 1, prioritized: 0, waiting: 0 });
  return [events, queue];
});
