#!/usr/bin/env python3
"""Profile of cronq draining pre-filled no-op jobs (issue 18): `perf record` attached to the
daemon for the drain only, then the top entries by self time. Needs a release build with symbols:

    CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release --bin worker
    python3 bench/profile.py --jobs 20000 --concurrency 50 [--binary PATH] [--call-graph]

Prints cronq's CPU µs per job for the profiled run (perf adds a little) and `perf report`'s
top entries; the raw profile stays in the printed folder.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--binary", default=os.path.join(run.RELEASE, "worker"))
    ap.add_argument("--call-graph", action="store_true", help="dwarf call graphs (slower)")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    ws = tempfile.mkdtemp(prefix="cronq-profile-")
    redis = run.RedisServer(ws)
    try:
        redis.flush()
        run.fill(redis, "bench", "noop", args.jobs)
        config, port = run.cronq_config(ws, redis, {"bench": (args.concurrency,
                                                              {"noop": 'builtin = "noop"'})})
        # Paused through the config is not available: start, then perf attaches at once; the
        # first jobs run before perf does, which only shortens the profiled window.
        c = run.start_cronq(ws, config, port, binary=args.binary)
        data = os.path.join(ws, "perf.data")
        cmd = ["perf", "record", "-F", "2000", "-o", data, "-p", str(c.proc.pid)]
        if args.call_graph:
            cmd += ["--call-graph", "dwarf,16384"]
        perf = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0 = run.proc_cpu_s(c.proc.pid)
        done, failed = run.wait_finished(redis, "bench", args.jobs, timeout=300)
        cpu1 = run.proc_cpu_s(c.proc.pid)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        run.PROCS.stop(c.proc)
        per_s, span = run.span_per_s(redis, "bench", args.jobs)
        print(f"{args.jobs} jobs ({done} completed, {failed} failed): {per_s:.0f} jobs/s, "
              f"cronq {(cpu1 - cpu0) * 1e6 / args.jobs:.1f} us CPU/job (under perf)")
        report = ["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit",
                  "0.4", "--sort", "dso,symbol", "--width", "160"]
        if args.call_graph:
            report += ["-g", "none"]
        out = subprocess.run(report, capture_output=True, text=True).stdout
        lines = [l for l in out.splitlines() if l.strip() and not l.startswith("#")]
        print("\n".join(lines[:args.top]))
        print(f"profile: {data}")
    finally:
        redis.stop()
        run.PROCS.stop_all()


if __name__ == "__main__":
    main()
