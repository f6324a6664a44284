// Adds COUNT jobs named NAME with DATA (JSON) to QUEUE with the stock `Queue.addBulk`, and
// prints their ids as a JSON array. Usage: node add.mjs QUEUE NAME COUNT [DATA] [OPTS]
import { Queue } from 'bullmq';
import { connection, run } from './lib.mjs';

const [queueName, name, count, data = '{}', opts = '{}'] = process.argv.slice(2);
run(async () => {
  const queue = new Queue(queueName, { connection });
  const jobs = await queue.addBulk(Array.from({ length: Number(count) },
    () => ({ name, data: JSON.parse(data), opts: JSON.parse(opts) })));
  console.log(JSON.stringify(jobs.map((j) => j.id)));
  return [queue];
});
