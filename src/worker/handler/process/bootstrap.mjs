// cronq's Node bootstrap for BullMQ sandboxed processor files (written for cronq; the line
// protocol is in docs/process-protocol.md). Usage: node bootstrap.mjs PROCESSOR_FILE
//
// Loads the processor once, then reads one job per stdin line and answers on the protocol
// channel (the original stdout). What the processor prints on stdout (console.log) becomes
// `log` messages, one per line, on that same channel: a stray print cannot break the protocol,
// and it reaches the job's log in order, before the answer (stderr, a second pipe, has no
// order with stdout).
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const writeOut = process.stdout.write.bind(process.stdout);

function send(msg) {
  writeOut(JSON.stringify(msg) + '\n');
}

let printed = '';
process.stdout.write = (chunk, encoding, callback) => {
  printed += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const lines = printed.split('\n');
  printed = lines.pop();
  for (const line of lines) send({ type: 'log', line });
  const done = typeof encoding === 'function' ? encoding : callback;
  if (typeof done === 'function') done();
  return true;
};

/** The rest of a line printed without its newline, before the answer. */
function flushPrinted() {
  if (printed) send({ type: 'log', line: printed });
  printed = '';
}

function pickFunction(mod) {
  // ESM default export; CommonJS module.exports (seen as default); module.exports.default.
  for (const candidate of [mod.default, mod.default && mod.default.default, mod]) {
    if (typeof candidate === 'function') return candidate;
  }
  return null;
}

const file = process.argv[2];
let processor;
try {
  processor = pickFunction(await import(pathToFileURL(file).href));
} catch (err) {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.stderr.write(`cronq: cannot load the processor ${file}: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
}
if (!processor) {
  process.stderr.write(`cronq: ${file} exports no function: export one as default or as module.exports\n`);
  process.exit(1);
}

function jobOf(msg) {
  return {
    id: msg.id,
    name: msg.name,
    data: msg.data,
    queueName: msg.queue,
    opts: msg.opts || {},
    attemptsMade: msg.attemptsMade,
    progress: 0,
    async updateProgress(value) {
      this.progress = value;
      send({ type: 'progress', value: value === undefined ? null : value });
    },
    async updateData(data) {
      this.data = data;
      send({ type: 'data', value: data === undefined ? null : data });
    },
    async log(line) {
      send({ type: 'log', line: String(line) });
      return 0;
    },
  };
}

async function runOne(msg) {
  try {
    const value = await processor(jobOf(msg));
    let line;
    try {
      line = { type: 'result', value: value === undefined ? null : value };
      JSON.stringify(line);
    } catch (err) {
      throw new Error(`the return value cannot be stored as JSON: ${err.message}`);
    }
    flushPrinted();
    send(line);
  } catch (err) {
    flushPrinted();
    const isError = err !== null && typeof err === 'object';
    send({
      type: 'error',
      message: isError && err.message !== undefined ? String(err.message) : String(err),
      stack: isError && typeof err.stack === 'string' ? err.stack : undefined,
      unrecoverable: isError && err.name === 'UnrecoverableError',
    });
  }
}

// One job at a time: cronq sends the next only after the answer to this one.
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const msg = JSON.parse(line);
  if (msg.type === 'job') await runOne(msg);
}
process.exit(0);
