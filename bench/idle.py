#!/usr/bin/env python3
"""Idle cost: Redis commands sent by an idle cronq daemon serving 4 queues, against 4 idle
BullMQ Node Workers on the same queue names, each over the same window on its own fresh
private redis-server. Prints the figures by command and the ratio; never pass/fail.

    python3 bench/idle.py                 # 30 s windows
    python3 bench/idle.py --seconds 240   # one whole idle block (the figure BENCHMARKS.md uses)

cronq's queues each block on their marker for 4 minutes and all started together, so their
idle fetches fall in the same instant: a 30 s window holds all of them or none. A 240 s window
holds exactly one round; figures are also given per 30 s to compare with shorter runs.

How: `INFO commandstats` is read (after `CONFIG RESETSTAT`) at the start and end of the window;
the bench's own INFO/CONFIG calls are subtracted. cronq's `/health` answers read Redis too
(a probe is what a container runtime sends): they are counted in a separate window where
`--probes` GETs of /health are sent, and reported per probe, not mixed into the idle figure.
Also prints the idle RSS (anonymous vs file-mapped, from /proc/PID/smaps_rollup), and with
`--cpu-jobs N` cronq's own CPU per no-op job at concurrency 50 (getrusage-equivalent
/proc/PID/stat over a drain of N pre-filled jobs, median of `--runs`), with the per-job log
lines on (`RUST_LOG=info,cronq::worker::dispatch=debug`, as every release before issue 18
logged two lines per job) and off (the default).
"""
import statistics

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

QUEUES = ("q1", "q2", "q3", "q4")
# Our own calls in a window: CONFIG RESETSTAT at its start and INFO commandstats at its end.
OWN = {"config|resetstat": 1, "config": 1, "info": 1}


def commandstats(redis):
    stats = {}
    for line in redis.r("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[len("cmdstat_"):].split(":", 1)
            calls = int(dict(kv.split("=") for kv in rest.split(","))["calls"])
            stats[name] = calls
    for k, v in OWN.items():
        if k in stats:
            stats[k] -= v
            if stats[k] <= 0:
                del stats[k]
    return stats


def window(redis, seconds, during=None):
    redis.r("CONFIG", "RESETSTAT")
    t0 = time.time()
    if during:
        during()
    rest = seconds - (time.time() - t0)
    if rest > 0:
        time.sleep(rest)
    return commandstats(redis)


def smaps(pid):
    """(Rss, Anonymous, file-mapped) in KiB from /proc/PID/smaps_rollup."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                vals[parts[0][:-1]] = int(parts[1])
    rss, anon = vals.get("Rss", 0), vals.get("Anonymous", 0)
    return rss, anon, rss - anon


def show(title, stats, seconds):
    total = sum(stats.values())
    per_min_q = total / seconds * 60 / len(QUEUES)
    run.log(f"{title}: {total} commands in {seconds:.0f} s"
            f" ({total / seconds * 30:.1f} per 30 s, {per_min_q:.1f} per minute per queue)")
    for name, calls in sorted(stats.items(), key=lambda kv: -kv[1]):
        run.log(f"    {name:<28} {calls}")
    return total


def cpu(ws, n, runs):
    redis = run.RedisServer(os.path.join(ws, "cpu"))
    for label, level in (("per-job lines on", "info,cronq::worker::dispatch=debug"),
                         ("per-job lines off", "info")):
        run.CRONQ_ENV["RUST_LOG"] = level
        got = [run.one_drain("cronq", ws, redis, 50, n) for _ in range(runs)]
        med = lambda k: statistics.median(g[k] for g in got)  # noqa: E731
        run.log(f"cronq c=50 {label}: {med('cpu_us_per_job')} us CPU/job (runs:"
                f" {[g['cpu_us_per_job'] for g in got]}), Redis {med('redis_cpu_us_per_job')}"
                f" us/job, {med('per_s')} jobs/s")
    redis.stop()


def measure(ws, seconds, probes=10, settle=3.0):
    """Both idle windows and the probe window; returns the figures (also printed). Used by
    `main` here (which `bench/run.py --only idle` runs as a child process)."""
    res = {"seconds": seconds, "queues": len(QUEUES)}
    # cronq: one daemon, 4 queues.
    redis = run.RedisServer(os.path.join(ws, "idle-a"))
    config, port = run.cronq_config(
        ws, redis, {q: (5, {"noop": 'builtin = "noop"'}) for q in QUEUES})
    c = run.start_cronq(ws, config, port, env={"RUST_LOG": "info"})
    time.sleep(settle)
    stats = window(redis, seconds)
    res["cronq"] = show("cronq idle (no probes)", stats, seconds)
    res["cronq_by_command"] = stats
    rss, anon, filem = smaps(c.proc.pid)
    res["cronq_rss_kib"] = {"total": rss, "anonymous": anon, "file": filem}
    run.log(f"cronq idle RSS {rss} KiB: anonymous {anon} KiB, file-mapped {filem} KiB")

    def probe():
        for _ in range(probes):
            run.health(port)
    probe_stats = window(redis, 0.5, probe)
    res["health_commands_per_probe"] = sum(probe_stats.values()) / max(probes, 1)
    run.log(f"/health probes: {sum(probe_stats.values())} commands for {probes} probes"
            f" over 0.5 s ({res['health_commands_per_probe']:.1f} per probe, idle traffic"
            " included)")
    run.PROCS.stop(c.proc)
    redis.stop()

    # Node: 4 stock Workers, one per queue (as a Node deployment runs them).
    redis = run.RedisServer(os.path.join(ws, "idle-b"))
    nodes = [run.start_contender("node", ws, redis, q, 5) for q in QUEUES]
    time.sleep(settle)
    stats = window(redis, seconds)
    res["node"] = show("4 BullMQ Node Workers idle", stats, seconds)
    res["node_by_command"] = stats
    for n in nodes:
        run.PROCS.stop(n.proc)
    redis.stop()
    if res["node"]:
        res["ratio"] = round(res["cronq"] / res["node"], 3)
        run.log(f"ratio cronq / Node: {res['ratio']:.3f}")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--probes", type=int, default=10, help="/health GETs in the probe window")
    ap.add_argument("--cpu-jobs", type=int, default=0, help="jobs per CPU run (0: skip)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after start, unmeasured")
    ap.add_argument("--json", help="also write the idle figures to this file (bench/run.py reads it)")
    args = ap.parse_args()
    ws = tempfile.mkdtemp(prefix="cronq-idle-")
    try:
        res = measure(ws, args.seconds, args.probes, args.settle)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f)
        if args.cpu_jobs:
            cpu(ws, args.cpu_jobs, args.runs)
    finally:
        run.PROCS.stop_all()
        subprocess.run(["rm", "-rf", ws])


if __name__ == "__main__":
    main()
