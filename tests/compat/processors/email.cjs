// The same processor as email.mjs, CommonJS (`module.exports = async (job) => …`).
const { UnrecoverableError } = require('bullmq');

globalThis.loads = (globalThis.loads ?? 0) + 1;

module.exports = async function (job) {
  switch (job.name) {
    case 'report':
      await job.updateProgress(30);
      await job.log(`working on ${job.id}`);
      console.log('printed by the processor');
      await job.updateProgress({ step: 2 });
      await job.updateData({ ...job.data, seen: true });
      return { pid: process.pid, loads: globalThis.loads, data: job.data, attemptsMade: job.attemptsMade, opts: job.opts, kind: 'cjs' };
    case 'boom':
      throw new Error('out of paper');
    case 'never':
      throw new UnrecoverableError('bad address');
    case 'crash':
      if (job.attemptsMade === 0) process.exit(7);
      return { pid: process.pid, attemptsMade: job.attemptsMade };
    case 'hang':
      await new Promise(() => {});
  }
  throw new Error(`unknown job name ${job.name}`);
};
