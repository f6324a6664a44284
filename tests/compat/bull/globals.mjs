// Bull's global events as cronq publishes them (queue `legacy`, layout = "bull", in
// tests/compat_bull_events.rs: report = progress 50 then {"done":true}, plain = echo; cronq's
// stalled check runs every second). A stock Bull `Queue` listens; a raw subscriber also
// records each channel, to show the events came from cronq (its token), not from Bull.
import Queue from 'bull';
import Redis from 'ioredis';
import { assert, until } from '../lib.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

async function main() {
  const queue = new Queue('legacy', url);
  const got = { waiting: [], active: [], progress: [], completed: [], stalled: [] };
  queue.on('global:waiting', (id) => got.waiting.push(String(id)));
  queue.on('global:active', (id) => got.active.push(String(id)));
  queue.on('global:progress', (id, p) => got.progress.push([String(id), p]));
  queue.on('global:completed', (id, val) => got.completed.push([String(id), val]));
  queue.on('global:stalled', (id) => got.stalled.push(String(id)));
  const raw = new Redis(url);
  const channels = [];
  raw.on('pmessage', (_p, channel, message) => channels.push([channel, message]));
  await raw.psubscribe('bull:legacy:*');
  await queue.isReady();
  // Each listener's subscription is a promise Bull keeps; all made before anything is added.
  await until('Bull subscriptions', () => queue.registeredEvents
    && ['waiting', 'active', 'progress', 'completed', 'stalled'].every((e) => queue.registeredEvents[e]));
  await Promise.all(Object.values(queue.registeredEvents));
  const fromCronq = (name, id) => channels.some(([c, m]) => c.startsWith(`bull:legacy:${name}@cronq-`) && m === id);

  // A delayed job: Bull's add announces only `delayed`; cronq promotes it (waiting), takes it
  // (active), reports progress and completes it. It starts at most 1 s late.
  const job = await queue.add('report', { r: 1 }, { delay: 1000 });
  const id = String(job.id);
  assert.deepEqual(await job.finished(), { done: true });
  await until('global:completed', () => got.completed.some(([j]) => j === id));
  assert.ok(got.waiting.includes(id), `global:waiting ${JSON.stringify(got)}`);
  assert.ok(fromCronq('waiting', id), 'waiting published by cronq');
  assert.ok(got.active.includes(id), `global:active ${JSON.stringify(got)}`);
  assert.ok(fromCronq('active', id), 'active published by cronq');
  assert.deepEqual(got.progress.filter(([j]) => j === id), [[id, 50]]);
  const done = await queue.getJob(id);
  const late = done.processedOn - (done.timestamp + 1000);
  assert.ok(late >= 0 && late <= 1000, `delayed job started ${late} ms late`);

  // A job left in `active` without a lock (its worker died right after taking it): cronq's
  // stalled check moves it back (stalled) and runs it.
  const lost = await queue.add('plain', { s: 1 }, { delay: 3600000 });
  const lostId = String(lost.id);
  await queue.client.multi()
    .zrem(queue.toKey('delayed'), lostId)
    .lpush(queue.toKey('active'), lostId)
    .exec();
  assert.deepEqual(await lost.finished(), { s: 1 });
  await until('global:stalled', () => got.stalled.includes(lostId));
  assert.ok(fromCronq('stalled', lostId), 'stalled published by cronq');

  await raw.quit();
  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
