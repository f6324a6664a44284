#!/usr/bin/env python3
"""cronq benchmark: cronq (release build) side by side with BullMQ's Node Worker and the bare
bullmq-official engine, on one private redis-server. Prints tables, writes bench/results.json
(bench/results-quick.json with --quick).

    python3 bench/run.py            # the full run (about 16 minutes on 2 cores, after builds)
    python3 bench/run.py --quick    # smoke check, under 2 minutes

Not part of the test suite. Figures and ratios only, never pass/fail. See BENCHMARKS.md for
what each section measures and why it is measured that way.

How jobs are timed (the same for every contender): the queue is pre-filled by BullMQ's Node
`Queue.addBulk` (every job `{attempts: 1, removeOnComplete: false, removeOnFail: false}`), then
the contender is started; when every job is completed, each job hash is read back and
throughput = N / (last `finishedOn` - first `processedOn`). Those timestamps are written by
the consumer's own Lua calls, so a contender's start-up and connection time is excluded and
the same clock measures all three.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Redis  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
RELEASE = os.path.join(ROOT, "target", "release")
# The cronq binary measured (`--cronq-binary`: another build, e.g. a base commit's, side by side
# in one session); one slot, set once in `main`.
CRONQ_BIN = [os.path.join(RELEASE, "worker")]
NODE_DIR = os.path.join(BENCH, "node")
# The image's binary (Dockerfile.worker builds a static musl binary), when this machine can
# build it: `rustup target add x86_64-unknown-linux-musl` and musl-gcc (apt: musl-tools).
MUSL_TARGET = "x86_64-unknown-linux-musl"
MUSL_BIN = os.path.join(ROOT, "target", MUSL_TARGET, "release", "worker")
PREFIX = "bull"
CONTENDERS = ("cronq", "cronq-quiet", "node", "engine")
# cronq-quiet: the same daemon and config, with the per-job log lines (two `info` lines per
# job from the dispatcher) filtered out the way a user would: failures stay logged (warn).
QUIET_LOG = "info,cronq::worker::dispatch=warn"
ACTIVE = list(CONTENDERS)  # --contenders narrows the throughput and latency runs
CRONQ_ENV = {}  # --cronq-env KEY=VALUE: extra environment for every cronq run


# ---------------------------------------------------------------- processes and cleanup


class Procs:
    """Every process this script starts, so that an exception or Ctrl-C stops them all (by
    their own pid, nothing else)."""

    def __init__(self):
        self.live = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.live.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=15.0):
        """Signals `p` and waits for it; KILL after `wait` seconds. Returns seconds to exit."""
        started = time.perf_counter()
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)
        return time.perf_counter() - started

    def stop_all(self):
        for p in list(self.live):
            self.stop(p, wait=5.0)


PROCS = Procs()


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 6379:
            return port


def sh(args, **kw):
    return subprocess.run(args, check=True, **kw)


def out(args, **kw):
    try:
        return subprocess.run(args, capture_output=True, text=True, **kw).stdout.strip()
    except OSError:
        return ""


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- /proc readings


def proc_status_kb(pid, field):
    """VmRSS / VmHWM of `pid` in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_busy_s():
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid, children=False):
    """User + system CPU seconds of `pid` (all its threads); with `children`, of the children
    it has waited for instead (the processes its exec handler ran)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        i = 13 if children else 11
        return (int(fields[i]) + int(fields[i + 1])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


# ---------------------------------------------------------------- Redis


class RedisServer:
    """A private redis-server on a free loopback port, no persistence, in a temp dir."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = os.path.join(workdir, "redis")
        os.makedirs(self.dir)
        self.proc = PROCS.start(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--logfile",
             os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.r = Redis("127.0.0.1", self.port)
                self.r("PING")
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)
        self.url = f"redis://127.0.0.1:{self.port}"

    def flush(self):
        self.r("FLUSHALL")

    def cpu_s(self):
        info = self.r("INFO", "cpu")
        vals = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
        return float(vals["used_cpu_user"]) + float(vals["used_cpu_sys"])

    def finished(self, queue):
        c, f = self.r.pipeline([("ZCARD", f"{PREFIX}:{queue}:completed"),
                                ("ZCARD", f"{PREFIX}:{queue}:failed")])
        return c, f

    def jobs(self, queue, ids, fields=("processedOn", "finishedOn", "timestamp")):
        """HMGET of `fields` for each job id, pipelined; a list of dicts."""
        rows = []
        ids = list(ids)
        for i in range(0, len(ids), 2000):
            cmds = [("HMGET", f"{PREFIX}:{queue}:{j}", *fields) for j in ids[i:i + 2000]]
            for j, vals in zip(ids[i:i + 2000], self.r.pipeline(cmds)):
                rows.append({"id": j, **dict(zip(fields, vals))})
        return rows

    def stop(self):
        self.r.close()
        PROCS.stop(self.proc)


def wait_finished(redis, queue, n, timeout):
    """Polls every 20 ms until `n` jobs of `queue` are completed or failed."""
    deadline = time.time() + timeout
    while True:
        c, f = redis.finished(queue)
        if c + f >= n:
            return c, f
        if time.time() > deadline:
            raise TimeoutError(f"{queue}: {c} completed, {f} failed of {n} after {timeout:.0f} s")
        time.sleep(0.02)


def span_per_s(redis, queue, n):
    """Throughput from the jobs' own timestamps: N / (last finishedOn - first processedOn)."""
    rows = redis.jobs(queue, range(1, n + 1), ("processedOn", "finishedOn"))
    starts = [int(r["processedOn"]) for r in rows if r["processedOn"]]
    ends = [int(r["finishedOn"]) for r in rows if r["finishedOn"]]
    span_ms = max(ends) - min(starts)
    return n / (span_ms / 1000.0), span_ms


# ---------------------------------------------------------------- contenders


def health(port):
    """HTTP status of GET /health, or None while nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"GET /health HTTP/1.0\r\nHost: bench\r\n\r\n")
            line = s.makefile("rb").readline()
            return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None


def cronq_config(ws, redis, queues, crontab_text="", concurrency=5):
    """Writes a config (and crontab) for one cronq run; returns (config path, listen port).
    `queues`: {queue: (concurrency, {job name: handler TOML inline value})}."""
    port = free_port()
    tag = f"{time.time_ns()}"
    crontab = os.path.join(ws, f"crontab-{tag}")
    with open(crontab, "w") as f:
        f.write(crontab_text)
    lines = [
        "[redis]", f'url = "{redis.url}/0"', f'prefix = "{PREFIX}"', "",
        "[http]", f'listen = "127.0.0.1:{port}"', "",
        "[worker]", f"concurrency = {concurrency}", f'crontab = "{crontab}"',
        'shutdown_timeout = "5s"', "",
        # The jobs cronq adds itself (cron ticks) are kept like the producer's: readable after.
        "[defaults]", "attempts = 1", "remove_on_complete = false", "remove_on_fail = false", "",
    ]
    for q, (conc, handlers) in queues.items():
        lines += [f"[queues.{q}]", f"concurrency = {conc}"]
        for name, handler in handlers.items():
            lines += [f'[queues.{q}.handlers."{name}"]', handler]
        lines.append("")
    path = os.path.join(ws, f"worker-{tag}.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path, port


def cronq_env(config, extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REDIS_", "WORKER_", "CRONQ_")) and k not in
           ("CRONTAB", "RUST_LOG", "API_TOKEN", "LOG_FORMAT", "SHUTDOWN_TIMEOUT")}
    env["WORKER_CONFIG"] = config
    env.update(CRONQ_ENV)
    env.update(extra or {})
    return env


class Started:
    """A running contender: its process and how long it took to be ready."""

    def __init__(self, proc, ready_s):
        self.proc, self.ready_s = proc, ready_s


def start_cronq(ws, config, port, timeout=20.0, env=None, binary=None):
    """Spawns the daemon and polls /health every 2 ms until 200."""
    logf = open(os.path.join(ws, "cronq.log"), "ab")
    t0 = time.perf_counter()
    p = PROCS.start([binary or CRONQ_BIN[0]], cwd=ws,
                    env=cronq_env(config, env),
                    stdout=logf, stderr=logf)
    logf.close()
    while health(port) != 200:
        if p.poll() is not None:
            raise RuntimeError(f"cronq exited with {p.returncode}; see {ws}/cronq.log")
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("cronq not healthy")
        time.sleep(0.002)
    return Started(p, time.perf_counter() - t0)


def start_line_ready(args, cwd=None, timeout=30.0):
    """Spawns a contender that prints `ready` on stdout once it consumes."""
    t0 = time.perf_counter()
    p = PROCS.start(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        PROCS.stop(p)
        raise RuntimeError(f"{args[0]}: expected 'ready', got {line!r}")
    return Started(p, time.perf_counter() - t0)


def start_contender(kind, ws, redis, queue, concurrency, n=0, handler='builtin = "noop"',
                    name="noop", mode=None):
    """Starts `kind` consuming `queue`. cronq runs `handler` for job `name`; the Node and engine
    processors return at once, or with mode "stamp" return `{t}`, the time they were called
    (cronq gets the same from its `http` handler, see `latency`), or with mode "exec" (engine
    only) run `/bin/sh -c true`."""
    if kind in ("cronq", "cronq-quiet", "cronq-musl"):
        config, port = cronq_config(ws, redis, {queue: (concurrency, {name: handler})})
        env = {"RUST_LOG": QUIET_LOG} if kind == "cronq-quiet" else None
        binary = MUSL_BIN if kind == "cronq-musl" else None
        return start_cronq(ws, config, port, env=env, binary=binary)
    extra = [mode] if mode else []
    if kind == "node":
        return start_line_ready(["node", "worker.mjs", redis.url, queue, str(concurrency), str(n)]
                                + extra, cwd=NODE_DIR)
    if kind == "engine":
        return start_line_ready([os.path.join(RELEASE, "bench-engine-worker"), redis.url, queue,
                                 str(concurrency), str(n)] + extra)
    raise ValueError(kind)


def start_httpd():
    """The endpoint of cronq's http handler: answers 200 `{"t": arrival ms}`."""
    srv = PROCS.start([os.path.join(RELEASE, "bench-httpd"), "127.0.0.1:0"],
                      stdout=subprocess.PIPE, text=True)
    return srv, f"http://127.0.0.1:{int(srv.stdout.readline().split()[1])}/hook"


def fill(redis, queue, name, n):
    sh(["node", "producer.mjs", "fill", redis.url, queue, name, str(n)], cwd=NODE_DIR,
       stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- measurements


def one_drain(kind, ws, redis, concurrency, n, queue="bench", handler='builtin = "noop"',
              name="noop", mode=None):
    """One pre-filled run of `kind`: jobs/s from the jobs' timestamps, CPU, peak RSS."""
    redis.flush()
    fill(redis, queue, name, n)
    cpu_redis0 = redis.cpu_s()
    # Every contender runs until told to stop (N = 0), so its /proc figures can be read first.
    c = start_contender(kind, ws, redis, queue, concurrency, 0, handler, name, mode)
    cpu0, kids0 = proc_cpu_s(c.proc.pid), proc_cpu_s(c.proc.pid, children=True)
    busy0, self0, t0 = machine_busy_s(), sum(os.times()[:4]), time.time()
    done, failed = wait_finished(redis, queue, n, timeout=max(120.0, n / 100))
    cpu1, hwm = proc_cpu_s(c.proc.pid), proc_status_kb(c.proc.pid, "VmHWM")
    kids = (proc_cpu_s(c.proc.pid, children=True) or 0.0) - (kids0 or 0.0)
    cpu_redis = redis.cpu_s() - cpu_redis0
    busy, own, wall = machine_busy_s() - busy0, sum(os.times()[:4]) - self0, time.time() - t0
    PROCS.stop(c.proc)
    per_s, span_ms = span_per_s(redis, queue, n)
    cpu = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
    # CPU the machine spent on anything but this run (someone else's build, say), as a share
    # of all its cores over the run: a run with much of it is suspect. (Redis's CPU is counted
    # from before the contender starts, so this slightly underestimates.)
    other = busy - cpu_redis - own - (cpu or 0.0) - kids
    return {
        "per_s": round(per_s, 1), "span_ms": span_ms, "completed": done, "failed": failed,
        "cpu_us_per_job": round(cpu * 1e6 / n, 1) if cpu is not None else None,
        "redis_cpu_us_per_job": round(cpu_redis * 1e6 / n, 1),
        "peak_rss_kb": hwm,
        "other_cpu_share": round(max(other, 0.0) / (max(wall, 1e-3) * os.cpu_count()), 3),
    }


def busiest(res):
    """The largest share of the machine that something else used during any one run."""
    shares = []

    def walk(v):
        if isinstance(v, dict):
            if v.get("other_cpu_share") is not None:
                shares.append(v["other_cpu_share"])
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(res)
    return max(shares) if shares else None


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(vals), 1) if vals else None


def throughput(ws, redis, concs, n, runs):
    res = {}
    for conc in concs:
        res[conc] = {k: [] for k in ACTIVE}
        for r in range(runs):
            k = r % len(ACTIVE)
            order = ACTIVE[k:] + ACTIVE[:k]  # alternate who goes first
            for kind in order:
                row = one_drain(kind, ws, redis, conc, n)
                res[conc][kind].append(row)
                log(f"  noop c={conc:<3} run {r + 1}/{runs} {kind:<11} {row['per_s']:>9.0f} jobs/s"
                    f"  (cpu {row['cpu_us_per_job']} us/job, redis {row['redis_cpu_us_per_job']}"
                    f" us/job, peak {row['peak_rss_kb']} KiB)")
    summary = {}
    for conc, by in res.items():
        s = {k: {"median_per_s": median_of(v, "per_s"),
                 "cpu_us_per_job": median_of(v, "cpu_us_per_job"),
                 "redis_cpu_us_per_job": median_of(v, "redis_cpu_us_per_job"),
                 "peak_rss_kb": median_of(v, "peak_rss_kb"),
                 "runs": v} for k, v in by.items()}
        cq, qq, nd, en = (s.get(k, {}).get("median_per_s") for k in CONTENDERS)
        ratio = lambda a, b: round(a / b, 2) if a and b else None  # noqa: E731
        s["ratio_cronq_node"], s["ratio_cronq_engine"] = ratio(cq, nd), ratio(cq, en)
        s["ratio_quiet_node"], s["ratio_quiet_engine"] = ratio(qq, nd), ratio(qq, en)
        summary[str(conc)] = s
    return summary


def exec_bench(ws, redis, concs, n, runs):
    """`exec` jobs running `true`: cronq (`exec = "true"`: /bin/sh -c true with its pipes,
    process group and job log) vs a plain tokio program spawning `/bin/sh -c true` the same
    number of times at the same concurrency (no queue), and vs the bare engine whose processor
    spawns the same (the queue's own cost, without cronq's handler)."""
    summary = {}
    kinds = ("cronq", "plain", "engine")
    for conc in concs:
        got = {k: [] for k in kinds}
        for r in range(runs):
            for kind in kinds[r % 3:] + kinds[:r % 3]:
                if kind == "cronq":
                    row = one_drain("cronq", ws, redis, conc, n, queue="execq",
                                    handler='exec = "true"', name="true")
                elif kind == "engine":
                    row = one_drain("engine", ws, redis, conc, n, queue="execq", mode="exec")
                else:
                    row = json.loads(out([os.path.join(RELEASE, "bench-spawner"), str(n),
                                          str(conc), "true"]))
                got[kind].append(row)
                log(f"  exec c={conc:<3} run {r + 1}/{runs} {kind:<6} {row['per_s']:>9.0f} jobs/s"
                    f"  (own cpu {row['cpu_us_per_job']} us/job)")
        a, b, e = (median_of(got[k], "per_s") for k in kinds)
        summary[str(conc)] = {
            "cronq_per_s": a, "plain_tokio_per_s": b, "engine_spawn_per_s": e,
            "ratio": round(a / b, 2) if a and b else None,
            "ratio_engine_spawn_plain": round(e / b, 2) if e and b else None,
            "cpu_us_per_job": {k: median_of(got[k], "cpu_us_per_job") for k in kinds},
            "redis_cpu_us_per_job": {k: median_of(got[k], "redis_cpu_us_per_job")
                                     for k in ("cronq", "engine")},
            "runs": got}
    return summary


def http_bench(ws, redis, concs, n, runs):
    """cronq `http` jobs against a local server answering 200 vs a plain reqwest client."""
    srv, url = start_httpd()
    summary = {}
    try:
        for conc in concs:
            cq, base = [], []
            for r in range(runs):
                for kind in (("cronq", "plain") if r % 2 == 0 else ("plain", "cronq")):
                    if kind == "cronq":
                        row = one_drain("cronq", ws, redis, conc, n, queue="httpq",
                                        handler=f'http = {{ url = "{url}" }}', name="hook")
                        cq.append(row)
                    else:
                        o = out([os.path.join(RELEASE, "bench-http-client"), url, str(n),
                                 str(conc)])
                        row = json.loads(o)
                        base.append(row)
                    log(f"  http c={conc:<3} run {r + 1}/{runs} {kind:<6} {row['per_s']:>9.0f}"
                        " jobs/s")
            a, b = median_of(cq, "per_s"), median_of(base, "per_s")
            summary[str(conc)] = {"cronq_per_s": a, "plain_reqwest_per_s": b,
                                  "ratio": round(a / b, 2) if a and b else None,
                                  "cronq_cpu_us_per_job": median_of(cq, "cpu_us_per_job"),
                                  "cronq_runs": cq, "plain_runs": base}
    finally:
        PROCS.stop(srv)
    return summary


def pct(vals, p):
    """Nearest-rank percentile."""
    s = sorted(vals)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def dist(vals):
    return {"n": len(vals), "p50": round(pct(vals, 50), 2), "p99": round(pct(vals, 99), 2),
            "max": round(max(vals), 2), "mean": round(statistics.mean(vals), 2)}


def latency(ws, redis, rate, seconds, concurrency):
    """Enqueue → handler start at a steady rate, each contender already running and idle.
    Enqueue = `data.t`, wall clock (sub-ms) taken by the producer just before `Queue.add`.
    Two readings of "start":
    - `processedOn` (the same field for all three; written by moveToActive as the job is handed
      to the processor; whole milliseconds, so each figure reads up to 1 ms low);
    - a sub-ms stamp taken by the handler itself: the Node and engine processors return the
      time they were called; cronq runs an `http` handler whose endpoint answers with the time
      the request arrived (so cronq's stamp also pays for the HTTP request)."""
    res = {}
    n = int(round(rate * seconds))
    srv, url = start_httpd()
    try:
        for kind in [k for k in ACTIVE if k != "cronq-quiet"]:
            redis.flush()
            c = start_contender(kind, ws, redis, "lat", concurrency,
                                handler=f'http = {{ url = "{url}" }}', mode="stamp")
            time.sleep(0.5)
            sh(["node", "producer.mjs", "steady", redis.url, "lat", "noop", str(rate),
                str(seconds)], cwd=NODE_DIR, stdout=subprocess.DEVNULL)
            wait_finished(redis, "lat", n, timeout=30)
            PROCS.stop(c.proc)
            rows = redis.jobs("lat", range(1, n + 1), ("processedOn", "returnvalue", "data"))
            added = [json.loads(r["data"])["t"] for r in rows]
            by_field = [int(r["processedOn"]) - t for r, t in zip(rows, added)]
            by_stamp = [json.loads(r["returnvalue"])["t"] - t for r, t in zip(rows, added)]
            res[kind] = {"enqueue_to_start_ms": dist(by_stamp),
                         "enqueue_to_processedOn_ms": dist(by_field)}
            d, f = res[kind]["enqueue_to_start_ms"], res[kind]["enqueue_to_processedOn_ms"]
            log(f"  latency {kind:<6} handler stamp p50 {d['p50']:.2f} p99 {d['p99']:.2f} max"
                f" {d['max']:.2f} ms; processedOn p50 {f['p50']:.2f} p99 {f['p99']:.2f} max"
                f" {f['max']:.2f} ms")
    finally:
        PROCS.stop(srv)
    return res


def cron_lateness(ws, redis, seconds):
    """A 7-field every-second crontab entry enqueueing to a noop queue. Lateness = the job's
    `timestamp` (ms, taken by the engine as cronq adds it) - the scheduled second (from the
    deterministic id `cron-<entry>-<unix-seconds>`); also the tick → handler start."""
    redis.flush()
    config, port = cronq_config(ws, redis, {"crontick": (5, {"tick": 'builtin = "noop"'})},
                                crontab_text="* * * * * * * enqueue crontick tick\n")
    c = start_cronq(ws, config, port)
    time.sleep(seconds)
    PROCS.stop(c.proc)
    ids = [k.split(":", 2)[2] for k in redis.r("KEYS", f"{PREFIX}:crontick:cron-*")
           if k.count(":") == 2]
    rows = redis.jobs("crontick", ids, ("timestamp", "processedOn"))
    late, start = [], []
    for r in rows:
        sched_ms = int(r["id"].rsplit("-", 1)[1]) * 1000
        late.append(int(r["timestamp"]) - sched_ms)
        if r["processedOn"]:
            start.append(int(r["processedOn"]) - sched_ms)
    res = {"ticks": len(rows), "seconds": seconds, "lateness_ms": dist(late),
           "tick_to_start_ms": dist(start) if start else None}
    d = res["lateness_ms"]
    log(f"  cron {len(rows)} ticks in {seconds} s: lateness p50 {d['p50']} ms p99 {d['p99']} ms"
        f" max {d['max']} ms")
    return res


def memory_startup(ws, redis, reps):
    """cronq: spawn → first 200 from /health (polled every 2 ms), idle RSS 2 s after, time to
    exit on SIGTERM. Node Worker and bare engine: spawn → `ready`, idle RSS 2 s after."""
    res = {}
    for kind in ("cronq", "node", "engine"):
        ready, rss, stop = [], [], []
        for _ in range(reps):
            redis.flush()
            c = start_contender(kind, ws, redis, "idle", 50)
            ready.append(c.ready_s * 1000)
            time.sleep(2.0)
            rss.append(proc_status_kb(c.proc.pid, "VmRSS"))
            stop.append(PROCS.stop(c.proc) * 1000)
        res[kind] = {"start_to_ready_ms": {"median": round(statistics.median(ready), 1),
                                           "max": round(max(ready), 1),
                                           "runs": [round(x, 1) for x in ready]},
                     "idle_rss_kb": {"median": statistics.median(rss), "max": max(rss)},
                     "sigterm_to_exit_ms": round(statistics.median(stop), 1)}
        log(f"  {kind:<6} ready {res[kind]['start_to_ready_ms']['median']} ms (max"
            f" {res[kind]['start_to_ready_ms']['max']}), idle RSS"
            f" {res[kind]['idle_rss_kb']['median']} KiB, exit on SIGTERM"
            f" {res[kind]['sigterm_to_exit_ms']} ms")
    return res


def musl_available():
    return (MUSL_TARGET in out(["rustup", "target", "list", "--installed"])
            and shutil.which("musl-gcc") is not None)


def image_binary(ws, redis, runs, n):
    """The image's binary (static musl, built as Dockerfile.worker does) beside the glibc
    build: size, idle RSS, start-to-healthy, no-op throughput at concurrency 50."""
    res = {"bytes": os.path.getsize(MUSL_BIN), "file": out(["file", "-b", MUSL_BIN])}
    got = {"cronq": [], "cronq-musl": []}
    for r in range(runs):
        for kind in (("cronq", "cronq-musl") if r % 2 == 0 else ("cronq-musl", "cronq")):
            got[kind].append(one_drain(kind, ws, redis, 50, n))
    for kind, rows in got.items():
        res[kind] = {"median_per_s": median_of(rows, "per_s"),
                     "cpu_us_per_job": median_of(rows, "cpu_us_per_job"), "runs": rows}
    idle = []
    for _ in range(3):
        c = start_contender("cronq-musl", ws, redis, "idle", 50)
        time.sleep(2.0)
        idle.append((c.ready_s * 1000, proc_status_kb(c.proc.pid, "VmRSS")))
        PROCS.stop(c.proc)
    res["start_to_ready_ms"] = round(statistics.median(i[0] for i in idle), 1)
    res["idle_rss_kb"] = statistics.median(i[1] for i in idle)
    log(f"  image binary (musl): {res['bytes']:,} bytes; c=50"
        f" {res['cronq-musl']['median_per_s']} jobs/s ({res['cronq-musl']['cpu_us_per_job']}"
        f" us/job) vs glibc {res['cronq']['median_per_s']} ({res['cronq']['cpu_us_per_job']}"
        f" us/job); idle RSS {res['idle_rss_kb']} KiB; ready {res['start_to_ready_ms']} ms")
    return res


def sizes(ws):
    binary = os.path.join(RELEASE, "worker")
    res = {"release_bytes": os.path.getsize(binary), "file": out(["file", "-b", binary])}
    copy = os.path.join(ws, "worker-stripped")
    shutil.copy(binary, copy)
    if shutil.which("strip") and subprocess.run(["strip", copy]).returncode == 0:
        res["stripped_bytes"] = os.path.getsize(copy)
    # What the image's final stage holds, read from Dockerfile.worker (not built here).
    with open(os.path.join(ROOT, "Dockerfile.worker")) as f:
        stages = f.read().split("\nFROM ")
    final = "FROM " + stages[-1] if len(stages) > 1 else stages[0]
    res["image_stage"] = [l for l in final.splitlines()
                          if l.split(" ", 1)[0] in ("FROM", "RUN", "COPY", "ENTRYPOINT", "USER")]
    return res


# ---------------------------------------------------------------- machine, build, report


def machine():
    model = ""
    for line in out(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    return {"nproc": os.cpu_count(), "cpu": model, "ram": mem, "kernel": platform.release(),
            "redis": out(["redis-server", "--version"]), "node": out(["node", "--version"]),
            "rustc": out(["rustc", "--version"]), "load_before": os.getloadavg(),
            "git": out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
            "git_dirty": bool(out(["git", "-C", ROOT, "status", "--porcelain", "--", "src"]))}


def build(image):
    log("building cronq (release) and the baselines...")
    sh(["cargo", "build", "--release", "--bin", "worker"], cwd=ROOT)
    if image:
        log(f"building the image's binary ({MUSL_TARGET}, as Dockerfile.worker does)...")
        sh(["cargo", "build", "--release", "--locked", "--bin", "worker", "--target",
            MUSL_TARGET], cwd=ROOT)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target"))
    sh(["cargo", "build", "--release", "--locked", "--manifest-path",
        os.path.join(BENCH, "engine-worker", "Cargo.toml")], cwd=ROOT, env=env)
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules")):
        sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR)


def settle(limit_s=90.0, below=0.8):
    """Waits (up to `limit_s`) for the 1-minute load average to fall below `below`: the builds
    just before, or someone else's, would otherwise share the two cores with the first runs."""
    started = time.time()
    while os.getloadavg()[0] >= below and time.time() - started < limit_s:
        time.sleep(5)
    return round(time.time() - started, 1)


def fmt(v, spec=">9.0f"):
    return format(v, spec) if isinstance(v, (int, float)) else f"{'-':>9}"


def report(res):
    if res.get("throughput"):
        log("\n== no-op throughput (jobs/s, median; same pre-filled queue) ==")
        log(f"{'conc':>5} {'cronq':>9} {'quiet':>9} {'node':>9} {'engine':>9} {'cq/node':>8}"
            f" {'cq/eng':>7} {'qt/node':>8} {'qt/eng':>7}  {'cpu us/job cq/qt/node/eng':>26}"
            f"  {'redis us/job cq/qt/node/eng':>28}")
    for conc, s in res.get("throughput", {}).items():
        get = lambda k, f: s.get(k, {}).get(f)  # noqa: E731
        cpu = "/".join(str(get(k, "cpu_us_per_job")) for k in CONTENDERS)
        red = "/".join(str(get(k, "redis_cpu_us_per_job")) for k in CONTENDERS)
        log(f"{conc:>5} {fmt(get('cronq', 'median_per_s'))}"
            f" {fmt(get('cronq-quiet', 'median_per_s'))} {fmt(get('node', 'median_per_s'))}"
            f" {fmt(get('engine', 'median_per_s'))} {fmt(s['ratio_cronq_node'], '>8.2f')}"
            f" {fmt(s['ratio_cronq_engine'], '>7.2f')} {fmt(s['ratio_quiet_node'], '>8.2f')}"
            f" {fmt(s['ratio_quiet_engine'], '>7.2f')}  {cpu:>26}  {red:>28}")
    if "exec" in res:
        log("\n== exec `true` (jobs/s, median) ==")
        for conc, s in res["exec"].items():
            log(f"  c={conc:<4} cronq {fmt(s['cronq_per_s'])}   plain tokio {fmt(s['plain_tokio_per_s'])}"
                f"   engine+spawn {fmt(s['engine_spawn_per_s'])}   cronq/plain"
                f" {fmt(s['ratio'], '.2f')}   engine+spawn/plain"
                f" {fmt(s['ratio_engine_spawn_plain'], '.2f')}")
    if "http" in res:
        log("\n== http 200 (jobs/s, median) ==")
        for conc, s in res["http"].items():
            log(f"  c={conc:<4} cronq {fmt(s['cronq_per_s'])}   plain reqwest"
                f" {fmt(s['plain_reqwest_per_s'])}   ratio {fmt(s['ratio'], '.2f')}")
    if "latency" in res:
        log("\n== enqueue -> handler start (ms): handler's own stamp | processedOn (1 ms) ==")
        for kind, d in res["latency"].items():
            s, f = d["enqueue_to_start_ms"], d["enqueue_to_processedOn_ms"]
            log(f"  {kind:<6} p50 {s['p50']:>6.2f}  p99 {s['p99']:>6.2f}  max {s['max']:>6.2f}"
                f"  |  p50 {f['p50']:>6.2f}  p99 {f['p99']:>6.2f}  max {f['max']:>6.2f}")
    if "cron" in res:
        d = res["cron"]["lateness_ms"]
        log(f"\n== cron lateness (ms, {res['cron']['ticks']} ticks) == p50 {d['p50']}"
            f"  p99 {d['p99']}  max {d['max']}")
    if "memory" in res:
        log("\n== memory and start-up ==")
        for kind, d in res["memory"].items():
            peak = res.get("throughput", {}).get("200", {}).get(kind, {}).get("peak_rss_kb")
            log(f"  {kind:<6} ready {d['start_to_ready_ms']['median']:>6} ms (max"
                f" {d['start_to_ready_ms']['max']})  idle RSS {d['idle_rss_kb']['median']} KiB"
                f"  peak RSS at c=200 {peak} KiB")
    if "size" in res:
        s = res["size"]
        log(f"\n== binary == {s['release_bytes']:,} bytes (stripped {s.get('stripped_bytes', 0):,})")
    if "image" in res:
        i = res["image"]
        log(f"== image binary (musl) == {i['bytes']:,} bytes; no-op c=50"
            f" {i['cronq-musl']['median_per_s']} jobs/s vs glibc {i['cronq']['median_per_s']};"
            f" idle RSS {i['idle_rss_kb']} KiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke check, under 2 minutes")
    ap.add_argument("--only", default="", help="comma list of sections: throughput,exec,http,"
                    "latency,cron,memory,size,idle,image (image: the musl binary of Dockerfile.worker,"
                    " when the musl target and musl-gcc are installed; not with --quick)")
    ap.add_argument("--jobs", type=int, help="jobs per throughput run (default 40000; 4000 quick)")
    ap.add_argument("--runs", type=int, help="runs per contender and point (default 5; 1 quick)")
    ap.add_argument("--concurrency", default="1,10,50,200")
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help="subset of cronq,cronq-quiet,node,engine for throughput (latency and"
                    " memory: cronq, node, engine)")
    ap.add_argument("--cronq-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for cronq (e.g. RUST_LOG=warn); default: none")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--cronq-binary", help="the cronq binary to measure (default"
                    " target/release/worker; implies nothing about --no-build)")
    ap.add_argument("--settle", type=float, default=90.0,
                    help="at most this many seconds waiting for the load to settle (default 90)")
    ap.add_argument("--out", help="where to write the figures (default bench/results.json;"
                    " bench/results-quick.json with --quick, so a smoke check never replaces"
                    " the full run's file)")
    args = ap.parse_args()
    q = args.quick
    args.out = args.out or os.path.join(BENCH, "results-quick.json" if q else "results.json")
    n = args.jobs or (4000 if q else 40000)
    runs = args.runs or (1 if q else 5)
    concs = [int(c) for c in args.concurrency.split(",")]
    only = set(filter(None, args.only.split(",")))
    ACTIVE[:] = [c for c in CONTENDERS if c in args.contenders.split(",")]
    CRONQ_ENV.update(kv.split("=", 1) for kv in args.cronq_env)
    if args.cronq_binary:
        CRONQ_BIN[0] = os.path.abspath(args.cronq_binary)
    want = lambda s: not only or s in only  # noqa: E731

    signal.signal(signal.SIGTERM, on_signal)
    image = want("image") and not q and musl_available()
    if not args.no_build:
        build(image)
    elif not os.path.isdir(os.path.join(NODE_DIR, "node_modules")):
        sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR)
    if not q:
        waited = settle(args.settle)
        log(f"load average {os.getloadavg()[0]:.2f} after waiting {waited} s for it to settle")
    res = {"command": " ".join(["python3", "bench/run.py"] + sys.argv[1:]), "machine": machine(),
           "params": {"jobs": n, "runs": runs, "concurrency": concs, "quick": q,
                      "cronq_env": CRONQ_ENV}}
    started = time.time()
    ws = tempfile.mkdtemp(prefix="cronq-bench-")
    redis = None
    try:
        redis = RedisServer(ws)
        log(f"redis-server on port {redis.port}; work dir {ws}")
        load = res["machine"]["load_by_section"] = {}
        if want("throughput"):
            load["throughput"] = os.getloadavg()
            log("no-op throughput...")
            res["throughput"] = throughput(ws, redis, concs, n, runs)
        if want("exec"):
            load["exec"] = os.getloadavg()
            log("exec handler...")
            res["exec"] = exec_bench(ws, redis, [10] if q else [10, 50], 400 if q else 3000,
                                     runs)
        if want("http"):
            load["http"] = os.getloadavg()
            log("http handler...")
            res["http"] = http_bench(ws, redis, [10] if q else [10, 50], 1000 if q else 10000,
                                     runs)
        if want("latency"):
            load["latency"] = os.getloadavg()
            log("enqueue -> start latency...")
            res["latency"] = latency(ws, redis, 50, 3 if q else 10, 10)
        if want("cron"):
            load["cron"] = os.getloadavg()
            log("cron lateness...")
            res["cron"] = cron_lateness(ws, redis, 6 if q else 30)
        if want("memory"):
            load["memory"] = os.getloadavg()
            log("memory and start-up...")
            res["memory"] = memory_startup(ws, redis, 1 if q else 5)
        if want("size"):
            res["size"] = sizes(ws)
        if want("idle"):
            # Idle Redis commands by command, cronq (4 queues) against 4 Node Workers, each on
            # its own fresh redis-server (bench/idle.py). The long window holds one whole
            # 4-minute idle block of every queue. idle.py uses this module's helpers, so it
            # runs as a child process (the import stays one-way) and hands its figures back
            # in a file.
            load["idle"] = os.getloadavg()
            log("idle Redis commands (4 queues)...")
            out = os.path.join(ws, "idle.json")
            idle_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idle.py")
            subprocess.run([sys.executable, idle_py, "--seconds", str(30.0 if q else 240.0),
                            "--json", out], check=True)
            with open(out) as f:
                res["idle"] = json.load(f)
        if image and os.path.exists(MUSL_BIN):
            log("the image's binary (musl)...")
            res["image"] = image_binary(ws, redis, runs, n)
        elif want("image") and not q:
            log(f"image binary skipped: needs `rustup target add {MUSL_TARGET}` and musl-gcc")
    finally:
        PROCS.stop_all()
        if redis:
            try:
                redis.stop()
            except OSError:
                pass
        shutil.rmtree(ws, ignore_errors=True)
    res["machine"]["load_after"] = os.getloadavg()
    res["machine"]["max_other_cpu_share"] = busiest(res)
    res["elapsed_s"] = round(time.time() - started, 1)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    report(res)
    log(f"\nbusiest run: {res['machine']['max_other_cpu_share']} of the machine's CPU went to"
        " other processes (above ~0.1, re-run when the machine is quieter)")
    log(f"wrote {os.path.relpath(args.out)} in {res['elapsed_s']} s"
        f" (load before {res['machine']['load_before'][0]:.2f}, after"
        f" {res['machine']['load_after'][0]:.2f})")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        PROCS.stop_all()
        sys.exit(130)
