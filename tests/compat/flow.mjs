// Flows from Node's FlowProducer: cronq runs the children (in two queues), then the parent,
// whose handler receives the children's values (JOB_CHILDREN) and returns them; Node's
// `getChildrenValues()` agrees. Queues `flowp` (parent = exec `echo "$JOB_CHILDREN"`,
// child = echo) and `flowc` (child = echo, bad = builtin fail).
import { FlowProducer, Job } from 'bullmq';
import { assert, connection, run, watched } from './lib.mjs';

run(async () => {
  const parentQ = await watched('flowp');
  const childQ = await watched('flowc');
  const flows = new FlowProducer({ connection });
  await parentQ.queue.pause();
  await childQ.queue.pause();
  const tree = await flows.add({
    name: 'parent', queueName: 'flowp', data: { p: true },
    children: [
      { name: 'child', queueName: 'flowp', data: { v: 1 } },
      { name: 'child', queueName: 'flowc', data: { v: 2 } },
    ],
  });
  // Both queues are paused across the add and the check, so cronq cannot have finished the
  // children (moving the parent on) before the parent's state is read.
  assert.equal(await tree.job.getState(), 'waiting-children');
  await parentQ.queue.resume();
  await childQ.queue.resume();
  const value = await tree.job.waitUntilFinished(parentQ.events, 20000);
  const parent = await Job.fromId(parentQ.queue, tree.job.id);
  const children = await parent.getChildrenValues();
  assert.deepEqual(value, children, 'the parent handler saw the children values');
  assert.deepEqual(Object.values(children).sort((a, b) => a.v - b.v), [{ v: 1 }, { v: 2 }]);
  for (const c of tree.children) {
    const child = await Job.fromId(c.job.queueName === 'flowp' ? parentQ.queue : childQ.queue,
      c.job.id);
    assert.equal(await child.getState(), 'completed');
    // That the parent ran after its children is shown above: its handler saw both children's
    // return values, which exist only once they completed. (Comparing processedOn with
    // finishedOn is not a proof: each is a client's clock reading taken before its script ran,
    // so two fetchers can order them a few ms apart either way.)
  }

  // A child that fails for good with failParentOnFailure fails its parent.
  const doomed = await flows.add({
    name: 'parent', queueName: 'flowp', data: {},
    children: [{ name: 'bad', queueName: 'flowc', data: { reason: 'child broke' },
      opts: { attempts: 1, failParentOnFailure: true } }],
  });
  await assert.rejects(doomed.job.waitUntilFinished(parentQ.events, 20000), /child .* failed/);
  assert.equal(await doomed.job.getState(), 'failed');

  // With ignoreDependencyOnFailure the parent still runs, and can read the failure.
  const tolerant = await flows.add({
    name: 'parent', queueName: 'flowp', data: {},
    children: [{ name: 'bad', queueName: 'flowc', data: { reason: 'ignored' },
      opts: { attempts: 1, ignoreDependencyOnFailure: true } }],
  });
  await tolerant.job.waitUntilFinished(parentQ.events, 20000);
  const ignored = await (await Job.fromId(parentQ.queue, tolerant.job.id)).getIgnoredChildrenFailures();
  assert.deepEqual(Object.values(ignored), ['ignored']);
  return [flows, parentQ.events, childQ.events, parentQ.queue, childQ.queue];
});
