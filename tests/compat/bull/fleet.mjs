// Mixed fleet: a stock Bull 4 worker and cronq share queue `fleet`. This script adds argv[2]
// jobs, runs its own worker (concurrency 2) until every job is completed, prints one line
// `node <id>` per job it ran, and checks nothing failed. tests/compat_bull.rs checks the union.
import Queue from 'bull';
import { assert, until } from '../lib.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';
const total = Number(process.argv[2] ?? 120);

async function main() {
  const queue = new Queue('fleet', url);
  queue.process('work', 2, async (job) => {
    await new Promise((r) => setTimeout(r, 20));
    console.log(`node ${job.id}`);
    return { by: 'node' };
  });
  const jobs = [];
  for (let i = 0; i < total; i++) jobs.push(await queue.add('work', { i }));
  await until('all completed', async () => (await queue.getJobCounts()).completed === total, 60000);
  const counts = await queue.getJobCounts();
  assert.equal(counts.failed, 0, JSON.stringify(counts));
  for (const j of jobs) {
    const back = await queue.getJob(j.id);
    assert.ok(['node', 'cronq'].includes(back.returnvalue?.by), `job ${j.id}: ${JSON.stringify(back.returnvalue)}`);
  }
  await queue.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
