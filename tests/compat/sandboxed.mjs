// Node → cronq, sandboxed processor files: jobs added with the stock `Queue.add` run in a
// processor file (processors/email.mjs or .cjs) that cronq's `node` handler loads unchanged.
// Node sees progress (QueueEvents and job.progress), data updated by job.updateData, job.opts as
// added, logs, return values, thrown errors retried
// per `attempts`, UnrecoverableError not retried, a timeout, and a crash mid-job after which
// the next attempt runs in a new process. Prints the processes' pids as a JSON line.
//
// Usage: node sandboxed.mjs QUEUE KIND (cronq's config is in tests/compat_sandboxed.rs).
import { Job } from 'bullmq';
import { assert, run, watched } from './lib.mjs';

const [queueName, kind] = process.argv.slice(2);

run(async () => {
  const { queue, events, of } = await watched(queueName);
  const done = (job, ms = 30000) => job.waitUntilFinished(events, ms);
  const get = (id) => Job.fromId(queue, id);

  const reportOpts = { attempts: 2, backoff: { type: 'fixed', delay: 10 }, keepLogs: 50, priority: 4 };
  const reports = await queue.addBulk(
    Array.from({ length: 20 }, (_, i) => ({ name: 'report', data: { i }, opts: reportOpts })),
  );
  for (const j of reports) await done(j);
  const pids = new Set();
  for (const j of reports) {
    const r = (await get(j.id)).returnvalue;
    assert.equal(r.kind, kind);
    // job.updateData: the processor's job object and the stored job both carry the new data.
    assert.deepEqual(r.data, { ...j.data, seen: true });
    assert.deepEqual((await get(j.id)).data, { ...j.data, seen: true });
    assert.equal(r.attemptsMade, 0);
    // job.opts as stored, with BullMQ's short keys (`kl`) read back under their names.
    for (const [k, v] of Object.entries(reportOpts)) assert.deepEqual(r.opts[k], v, `opts.${k}`);
    // Loaded once per process: each process's count of loads stays 1.
    assert.equal(r.loads, 1, `the processor was loaded ${r.loads} times in one process`);
    pids.add(r.pid);
  }
  assert.ok(pids.size >= 1 && pids.size <= 2, `instances = 2, yet ${pids.size} processes ran`);
  const first = reports[0];
  const j = await get(first.id);
  assert.deepEqual(j.progress, { step: 2 });
  assert.deepEqual(of(first.id, 'progress').map((e) => e.data), [30, { step: 2 }]);
  const { logs } = await queue.getJobLogs(first.id);
  assert.ok(logs.includes(`working on ${first.id}`), `logs: ${JSON.stringify(logs)}`);
  assert.ok(logs.some((l) => l.includes('printed by the processor')), `logs: ${JSON.stringify(logs)}`);

  const boom = await queue.add('boom', {}, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
  await assert.rejects(done(boom), /out of paper/);
  const b = await get(boom.id);
  assert.equal(await b.getState(), 'failed');
  assert.equal(b.failedReason, 'out of paper');
  assert.equal(b.attemptsMade, 2, 'a thrown error is retried per attempts');
  const boomLogs = (await queue.getJobLogs(boom.id)).logs;
  assert.ok(boomLogs.some((l) => l.includes('email.')), `the stack is in the log: ${JSON.stringify(boomLogs)}`);

  const never = await queue.add('never', {}, { attempts: 3 });
  await assert.rejects(done(never), /bad address/);
  assert.equal((await get(never.id)).attemptsMade, 1, 'UnrecoverableError is not retried');

  const crash = await queue.add('crash', {}, { attempts: 2 });
  await done(crash);
  const c = await get(crash.id);
  assert.equal(c.attemptsMade, 2);
  assert.equal(c.returnvalue.attemptsMade, 1);

  const hang = await queue.add('hang', {}, { attempts: 1 });
  await assert.rejects(done(hang));
  assert.equal(await (await get(hang.id)).getState(), 'failed');

  // Still answering after all of that.
  const after = await queue.add('report', { last: true });
  await done(after);
  pids.add((await get(after.id)).returnvalue.pid);
  console.log(JSON.stringify({ pids: [...pids, c.returnvalue.pid] }));
  return [events, queue];
});
