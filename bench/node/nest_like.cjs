// A processor with a Nest-sized start: loading it blocks 300 ms (what creating a minimal Nest
// application context costs, issue 27), once per process. No Nest installed: the cost is
// simulated. Each job returns at once, so what is measured is the cost of the handler kind.
const start = Date.now();
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
const bootedMs = Date.now() - start;

module.exports = async (job) => ({ i: job.data.i, bootedMs, pid: process.pid });
