// The `exec` way of running a processor file: one process per job. Loads the file (paying its
// start), calls it with the job from JOB_* variables, prints the return value as the last
// stdout line (cronq's exec handlers take that as the job's return value).
//   node run_once.cjs PROCESSOR_FILE
const processor = require(require('node:path').resolve(process.argv[2]));
const job = {
  id: process.env.JOB_ID,
  name: process.env.JOB_NAME,
  data: JSON.parse(process.env.JOB_DATA || '{}'),
  attemptsMade: Number(process.env.JOB_ATTEMPT || 1) - 1,
  updateProgress: async () => {},
  log: async () => {},
};
Promise.resolve((processor.default || processor)(job)).then(
  (value) => console.log(JSON.stringify(value ?? null)),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  },
);
