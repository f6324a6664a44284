// A NestJS-style BullMQ processor moved onto cronq unchanged: the file BullMQ would run as a
// sandboxed processor (`new Worker('email', path)`), now run by
//   [queues.email.handlers."*"]
//   node = { file = "dist/email.processor.cjs" }
//
// The application context is created once per process, when the file is loaded, and reused by
// every job that process runs. Nest itself is not installed in this example: `createContext`
// stands in for `NestFactory.createApplicationContext(AppModule)` with its cost (~0.3 s, the
// time a minimal context takes to start) and a service the jobs use.
const { UnrecoverableError } = (() => {
  try {
    return require('bullmq'); // present in a real app
  } catch {
    return { UnrecoverableError: class UnrecoverableError extends Error { name = 'UnrecoverableError'; } };
  }
})();

async function createContext() {
  await new Promise((r) => setTimeout(r, 300)); // NestFactory.createApplicationContext(AppModule)
  const sent = [];
  return {
    get(token) {
      if (token === 'MailService') {
        return { send: async (to, subject) => sent.push({ to, subject }) && sent.length };
      }
      throw new Error(`no provider for ${token}`);
    },
  };
}

// Started once per process; every job awaits the same promise.
const app = createContext();

// As an @Processor class's process(job) would: switch on the job name.
module.exports = async function process(job) {
  const mail = (await app).get('MailService');
  switch (job.name) {
    case 'welcome': {
      if (!job.data.to) throw new UnrecoverableError('welcome job without "to"');
      await job.updateProgress(50);
      const n = await mail.send(job.data.to, 'Welcome!');
      await job.log(`welcome mail queued for ${job.data.to}`);
      return { sent: n };
    }
    default:
      throw new UnrecoverableError(`unknown job name ${job.name}`);
  }
};
