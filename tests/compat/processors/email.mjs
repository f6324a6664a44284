// A BullMQ sandboxed processor file, ESM, as a team would have it in dist/processors/: run
// unchanged by cronq's `node` handler (tests/compat_sandboxed.rs). Counts its own loads, so the
// test can see it is loaded once per process, not once per job.
import { UnrecoverableError } from 'bullmq';

globalThis.loads = (globalThis.loads ?? 0) + 1;

export default async function (job) {
  switch (job.name) {
    case 'report':
      await job.updateProgress(30);
      await job.log(`working on ${job.id}`);
      console.log('printed by the processor');
      await job.updateProgress({ step: 2 });
      await job.updateData({ ...job.data, seen: true });
      return { pid: process.pid, loads: globalThis.loads, data: job.data, attemptsMade: job.attemptsMade, opts: job.opts, kind: 'esm' };
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
}
