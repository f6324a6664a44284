// Bull 3/4 producer → cronq: jobs added with the stock `bull` Queue are run by cronq (queue
// `legacy`, layout = "bull" in tests/compat_bull.rs: plain = builtin echo, boom = builtin fail),
// and Bull reads back what its own worker would have left.
import Queue from 'bull';
import { assert, until } from '../lib.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

async function main() {
  const queue = new Queue('legacy', url);
  const completed = new Map();
  const failed = new Map();
  queue.on('global:completed', (id, val) => completed.set(String(id), val));
  queue.on('global:failed', (id, err) => failed.set(String(id), err));
  await queue.isReady();
  // Subscriptions are made on first listener; wait until they are registered.
  await new Promise((r) => setTimeout(r, 200));

  // Plain: job.finished() resolves with the return value.
  const plain = await queue.add('plain', { x: 1 });
  assert.deepEqual(await plain.finished(), { x: 1 });
  const p = await queue.getJob(plain.id);
  assert.equal(await p.getState(), 'completed');
  assert.deepEqual(p.returnvalue, { x: 1 });
  assert.ok(p.processedOn >= p.timestamp && p.finishedOn >= p.processedOn, 'timestamps ordered');
  await until('global:completed of plain', () => completed.has(String(plain.id)));

  // Delayed: starts at most 1 s late.
  const delayed = await queue.add('plain', { d: 1 }, { delay: 1000 });
  assert.equal(await delayed.getState(), 'delayed');
  await delayed.finished();
  const d = await queue.getJob(delayed.id);
  const late = d.processedOn - (d.timestamp + 1000);
  assert.ok(late >= 0 && late <= 1000, `delayed job started ${late} ms late`);

  // Priority: the priority set does not keep ids of jobs cronq ran.
  const prio = await queue.add('plain', { p: 1 }, { priority: 3 });
  assert.deepEqual(await prio.finished(), { p: 1 });
  assert.equal(await queue.client.zcard(queue.toKey('priority')), 0);

  // Custom id dedup.
  const a = await queue.add('plain', { c: 1 }, { jobId: 'custom-1' });
  const b = await queue.add('plain', { c: 2 }, { jobId: 'custom-1' });
  assert.equal(a.id, 'custom-1');
  assert.equal(b.id, 'custom-1');
  assert.deepEqual(await a.finished(), { c: 1 });

  // Attempts with exponential backoff: Bull reads attemptsMade, failedReason, stacktrace.
  const boom = await queue.add('boom', { reason: 'out of paper' },
    { attempts: 3, backoff: { type: 'exponential', delay: 100 } });
  await assert.rejects(boom.finished(), /out of paper/);
  const f = await queue.getJob(boom.id);
  assert.equal(await f.getState(), 'failed');
  assert.equal(f.attemptsMade, 3);
  assert.match(f.failedReason, /out of paper/);
  assert.equal(f.stacktrace.length, 3);
  await until('global:failed of boom', () => failed.has(String(boom.id)));

  // Counts.
  const counts = await queue.getJobCounts();
  assert.equal(counts.completed, 4, JSON.stringify(counts));
  assert.equal(counts.failed, 1, JSON.stringify(counts));
  assert.equal(counts.waiting + counts.active + counts.delayed, 0, JSON.stringify(counts));

  // Pause from Bull: cronq takes nothing; resume: it runs.
  await queue.pause();
  const held = await queue.add('plain', { h: 1 });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await held.getState(), 'paused');
  await queue.resume();
  assert.deepEqual(await held.finished(), { h: 1 });

  // Retention: removeOnComplete true leaves no hash behind.
  const gone = await queue.add('plain', { g: 1 }, { removeOnComplete: true });
  await until('removed job', async () => (await queue.getJob(gone.id)) === null);
  // One after the other: the queue runs 4 at once, and Bull keeps the two that finished last,
  // so jobs added together could finish in any order and keep any two.
  const kept = [];
  for (let i = 0; i < 4; i++) {
    const j = await queue.add('plain', { k: i }, { removeOnComplete: 2 });
    await until(`kept ${j.id}`, async () => completed.has(String(j.id)));
    kept.push(j);
  }
  assert.equal(await queue.getJob(kept[0].id), null);
  assert.ok(await queue.getJob(kept[3].id));

  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
