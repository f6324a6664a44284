// Node → cronq, traces: a producer using BullMQ's own `telemetry` queue option adds jobs, so
// BullMQ stores the producer's context on each job (opts.telemetry.metadata, `tm` in Redis).
// The telemetry provider here is a minimal one of ours (no @opentelemetry packages): a tracer
// whose producer span has fixed W3C ids, and a context manager that writes the W3C carrier as
// JSON, as `bullmq-otel` does. Prints the job ids as a JSON line; tests/traces.rs checks the
// spans cronq exports and what its handlers received.
//
// Usage: node traces.mjs QUEUE TRACE_ID SPAN_ID
import { Queue } from 'bullmq';
import { connection, run } from './lib.mjs';

const [queueName, traceId, spanId] = process.argv.slice(2);

const span = {
  setSpanOnContext: (ctx) => ({ ...ctx, span: true }),
  setAttribute() {},
  setAttributes() {},
  addEvent() {},
  recordException() {},
  end() {},
};
const telemetry = {
  tracer: { startSpan: () => span },
  contextManager: {
    active: () => ({}),
    with: (_ctx, fn) => fn(),
    getMetadata: () => JSON.stringify({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=x' }),
    fromMetadata: (ctx) => ctx,
  },
};

run(async () => {
  const queue = new Queue(queueName, { connection, telemetry });
  const ok = await queue.add('ok', { n: 1 });
  const bad = await queue.add('bad', { n: 2 });
  const hook = await queue.add('hook', { n: 3 });
  console.log(JSON.stringify({ ok: ok.id, bad: bad.id, hook: hook.id }));
  return [queue];
});
