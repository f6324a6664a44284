#!/usr/bin/env python3
# A persistent cronq handler in Python (docs/process-protocol.md): started once, it takes one
# job per stdin line and answers on stdout. Expensive set-up (a database pool, a model) goes
# before the loop and is paid once per process, not once per job.
#
#   [queues.reports.handlers.render]
#   process = { command = "python3 examples/process-python/consume.py", instances = 2 }
import json
import sys


def send(**msg):
    print(json.dumps(msg), flush=True)


for line in sys.stdin:
    job = json.loads(line)
    try:
        send(type="progress", value=10)
        send(type="log", line=f"rendering report {job['id']}")
        send(type="result", value={"pages": len(job["data"].get("sections", []))})
    except Exception as e:  # any failure of one job; the process stays for the next
        send(type="error", message=str(e), unrecoverable=isinstance(e, (KeyError, ValueError)))
