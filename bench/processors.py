#!/usr/bin/env python3
"""Per-job cost of the handler kinds for a Node processor with an expensive start (issue 27):
cronq `exec` (one process per job), cronq `node` (persistent processes, the processor loaded
once per process) and a stock BullMQ Node `Worker` running the same file as a sandboxed
processor, side by side in one run on one private redis-server.

    python3 bench/processors.py [--jobs 40] [--concurrency 5] [--worker target/release/worker]

Needs `npm ci` in bench/node. The processor (bench/node/nest_like.cjs) blocks 300 ms when it is
loaded, as creating a minimal Nest application context does, and returns at once per job.

For each kind: the queue is pre-filled with N jobs by BullMQ's `Queue.addBulk`, the consumer is
started, and while it works the RSS of its handler processes (every descendant of the consumer
process, i.e. not cronq itself, nor BullMQ's parent Worker process) is sampled every 50 ms.
Reported: mean job duration (`finishedOn - processedOn`, the consumer's own Lua clock), jobs/s
over the whole batch (N / (last finishedOn - first processedOn)), the peak RSS of the handler
processes and the peak RSS of the consumer with them. Figures only, never pass/fail.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Redis  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
NODE_DIR = os.path.join(BENCH, "node")
PROCESSOR = os.path.join(NODE_DIR, "nest_like.cjs")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """PIDs of every descendant of `pid` (from /proc's ppid fields)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def counts(r, queue):
    return int(r("ZCARD", f"bull:{queue}:completed")), int(r("ZCARD", f"bull:{queue}:failed"))


def measure(kind, consumer_cmd, r, redis_url, queue, n, env=None):
    subprocess.run(["node", "producer.mjs", "fill", redis_url, queue, "job", str(n)],
                   cwd=NODE_DIR, check=True, capture_output=True)
    proc = subprocess.Popen(consumer_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    peak_handlers = peak_all = 0
    deadline = time.time() + 600
    try:
        while True:
            done, failed = counts(r, queue)
            if done + failed >= n:
                break
            if time.time() > deadline:
                raise SystemExit(f"{kind}: {done}/{n} done after 600 s")
            kids = descendants(proc.pid)
            handlers = sum(rss_kib(p) for p in kids)
            peak_handlers = max(peak_handlers, handlers)
            peak_all = max(peak_all, handlers + rss_kib(proc.pid))
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    ids = r("ZRANGE", f"bull:{queue}:completed", "0", "-1")
    durations, starts, ends = [], [], []
    for jid in ids:
        processed, finished = r("HMGET", f"bull:{queue}:{jid.decode() if isinstance(jid, bytes) else jid}",
                                "processedOn", "finishedOn")
        p, f = int(processed), int(finished)
        durations.append(f - p)
        starts.append(p)
        ends.append(f)
    return {
        "kind": kind,
        "jobs": n,
        "failed": counts(r, queue)[1],
        "mean_job_ms": round(statistics.mean(durations), 1),
        "median_job_ms": statistics.median(durations),
        "jobs_per_s": round(len(ids) / max((max(ends) - min(starts)) / 1000, 1e-9), 2),
        "peak_handler_rss_mib": round(peak_handlers / 1024, 1),
        "peak_total_rss_mib": round(peak_all / 1024, 1),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=5)
    ap.add_argument("--worker", default=os.path.join(ROOT, "target", "release", "worker"))
    args = ap.parse_args()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="cronq-bench-proc-")
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", tmp],
                             stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                r = Redis("127.0.0.1", port)
                r("PING")
                break
            except OSError:
                time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}"
        n, c = args.jobs, args.concurrency
        results = []
        handlers = {
            "exec": f'exec = "node bench/node/run_once.cjs {PROCESSOR}"',
            "node": f'node = {{ file = "{PROCESSOR}" }}',
            "node, instances = 2": f'node = {{ file = "{PROCESSOR}", instances = 2 }}',
        }
        for kind, table in handlers.items():
            queue = "proc-" + kind.replace(", instances = ", "-i")
            cfg = os.path.join(tmp, f"{kind}.toml")
            with open(cfg, "w") as f:
                f.write(f"[worker]\nconcurrency = {c}\nlog_output = false\n"
                        f"[queues.{queue}.handlers.job]\n{table}\n")
            env = dict(os.environ, REDIS_URL=url, WORKER_CONFIG=cfg,
                       WORKER_LISTEN=f"127.0.0.1:{free_port()}", CRONTAB=os.devnull)
            results.append(measure(f"cronq {kind}", [args.worker], r, url, queue, n, env))
        queue = "proc-bullmq"
        results.append(measure("BullMQ Worker, sandboxed file",
                               ["node", os.path.join(NODE_DIR, "sandboxed_worker.mjs"), url, queue,
                                str(c), PROCESSOR], r, url, queue, n))
        print(f"{'kind':32} {'mean job ms':>12} {'median':>7} {'jobs/s':>8} {'handler RSS MiB':>16} "
              f"{'total RSS MiB':>14}")
        for x in results:
            print(f"{x['kind']:32} {x['mean_job_ms']:>12} {x['median_job_ms']:>7} {x['jobs_per_s']:>8} "
                  f"{x['peak_handler_rss_mib']:>16} {x['peak_total_rss_mib']:>14}")
        print(json.dumps(results))
    finally:
        redis.terminate()
        redis.wait()


if __name__ == "__main__":
    main()
