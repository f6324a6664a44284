// Shared by the bench scripts: BullMQ connection options from a redis:// URL (the private
// redis-server bench/run.py starts; never a shared one).
export function connectionFrom(redisUrl) {
  const url = new URL(redisUrl);
  return { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
}

/** Wall-clock milliseconds with sub-millisecond resolution (Date.now() has 1 ms). */
export const nowMs = () => performance.timeOrigin + performance.now();

/** The job options every contender's jobs get, whoever consumes them: one attempt, and every
 * completed job kept (so run.py can read `processedOn`/`finishedOn` of each afterwards). */
export const JOB_OPTS = { attempts: 1, removeOnComplete: false, removeOnFail: false };
