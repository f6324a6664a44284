#!/usr/bin/env python3
"""Queue scaling: what configured queues cost cronq while idle, and how fast an idle queue
starts its first job. For 1, 10 and 50 queues, each on its own fresh private redis-server:
Redis connections held (CLIENT LIST, minus the bench's own), the daemon's RSS (and its
anonymous part, /proc/PID/smaps_rollup), Redis commands per second while idle, and the
enqueue → start latency (p50/p99/max, `processedOn - data.t`) of jobs a Node producer adds,
one every `--interval` ms to the next queue in turn, so that each queue sits idle between
its jobs. Prints figures; never pass/fail.

    python3 bench/queue_scaling.py                     # the release build in target/release
    python3 bench/queue_scaling.py --binary OLD --no-idle-release   # a build before issue 26

`--idle-release` (default 1s) shortens `[worker] idle_release` so that the queues are let go
within the settle time and between their jobs; with 1 queue the interval is stretched to
`--single-interval` ms so its jobs also find it let go. `--no-idle-release` leaves the key
out (builds that do not know it refuse the config).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import json
import shutil

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
from idle import smaps, window  # noqa: E402


def connections(redis):
    return len(redis.r("CLIENT", "LIST").strip().splitlines()) - 1


def one(ws, n, args):
    redis = run.RedisServer(os.path.join(ws, f"q{n}"))
    queues = {f"s{i}": (5, {"noop": 'builtin = "noop"'}) for i in range(1, n + 1)}
    config, port = run.cronq_config(ws, redis, queues)
    if not args.no_idle_release:
        with open(config) as f:
            text = f.read()
        text = text.replace("[worker]\n", f'[worker]\nidle_release = "{args.idle_release}"\n', 1)
        with open(config, "w") as f:
            f.write(text)
    c = run.start_cronq(ws, config, port, env={"RUST_LOG": args.rust_log}, binary=args.binary)
    time.sleep(args.settle)
    res = {"queues": n, "connections": connections(redis)}
    rss, anon, _ = smaps(c.proc.pid)
    res["rss_kib"], res["anon_kib"] = rss, anon
    stats = window(redis, args.window)
    res["idle_commands_per_s"] = round(sum(stats.values()) / args.window, 2)
    interval = args.interval if n > 1 else args.single_interval
    count = args.adds
    run.sh(["node", "producer.mjs", "spread", redis.url, "s", "noop", str(n), str(count),
            str(interval)], cwd=run.NODE_DIR, stdout=subprocess.DEVNULL)
    lat = []
    deadline = time.time() + 60
    for i in range(count):
        q = f"s{i % n + 1}"
        while True:
            rows = redis.jobs(q, [i // n + 1], ("processedOn", "data"))
            if rows[0]["processedOn"] or time.time() > deadline:
                break
            time.sleep(0.02)
        r = rows[0]
        if r["processedOn"]:
            lat.append(int(r["processedOn"]) - json.loads(r["data"])["t"])
    res["first_job_ms"] = run.dist(lat) if lat else None
    res["started"] = len(lat)
    run.PROCS.stop(c.proc)
    redis.stop()
    if args.keep_log:
        # `cronq.log` holds every run of this session; kept for the wake timings
        # (`RUST_LOG=info,cronq::queue::redis::engine=debug`: "engine worker started").
        shutil.copy(os.path.join(ws, "cronq.log"), args.keep_log)
    d = res["first_job_ms"] or {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    run.log(f"{n:>3} queues: {res['connections']:>4} connections, RSS {rss / 1024:.1f} MiB"
            f" (anonymous {anon / 1024:.1f}), idle {res['idle_commands_per_s']} commands/s;"
            f" {res['started']}/{count} jobs, enqueue → start p50 {d['p50']:.1f} p99"
            f" {d['p99']:.1f} max {d['max']:.1f} ms (one add every {interval} ms, in turn)")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=None, help="worker binary (default target/release)")
    ap.add_argument("--queues", default="1,10,50")
    ap.add_argument("--adds", type=int, default=100)
    ap.add_argument("--interval", type=int, default=200, help="ms between adds")
    ap.add_argument("--single-interval", type=int, default=1500, help="ms between adds, 1 queue")
    ap.add_argument("--idle-release", default="1s")
    ap.add_argument("--no-idle-release", action="store_true")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds after start, unmeasured")
    ap.add_argument("--window", type=float, default=10.0, help="idle command window, s")
    ap.add_argument("--rust-log", default="info", help="RUST_LOG for the daemon")
    ap.add_argument("--keep-log", default=None, help="copy the daemon's log here at the end")
    args = ap.parse_args()
    ws = tempfile.mkdtemp(prefix="cronq-scaling-")
    try:
        out = [one(ws, int(n), args) for n in args.queues.split(",")]
        print(json.dumps(out))
    finally:
        run.PROCS.stop_all()
        subprocess.run(["rm", "-rf", ws])


if __name__ == "__main__":
    main()
