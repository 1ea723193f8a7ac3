"""The child side of runtime/workers.py: run one handler's jobs, one by one, as the parent asks.

    python -P -m deckgen.runtime.child HANDLER JOBS_FD RESULTS_FD LIFELINE_FD CPU_SECONDS MEMORY_BYTES TMPDIR READABLE

Reads `{"index", "payload"}` lines from JOBS_FD; for each, writes `{"start": index}` to RESULTS_FD,
runs `HANDLER.run_job(payload)` and writes `{"done": index, "value": ...}` or
`{"done": index, "failure": {"kind", "message", "line", "trace"}}`. Whatever the job prints goes to
this process's stdout and stderr, which the parent reads apart from the results.

The handler is imported before the first job, so its imports do not count against a job's CPU
limit. Then, before any job runs, the process confines itself (runtime/isolation.py, Landlock):
from there on it and everything it starts may write only TMPDIR (its own temporary folder, also
its working folder) and read only what Python needs plus READABLE (folders joined by os.pathsep). During a job, the process's own CPU timer (ITIMER_PROF) raises `CpuLimit` where the code
is, so the handler can name the line; the parent's accounting, which also counts the processes
the job started, is the backstop.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading
from importlib import import_module
from pathlib import Path
from typing import Any, TextIO

from deckgen.runtime import isolation
from deckgen.runtime import jobs as jobs_module
from deckgen.runtime.jobs import CpuLimit, JobFailed


def main(argv: list[str]) -> None:
    handler, jobs_fd, results_fd, lifeline_fd, cpu, memory, tmpdir, readable = argv
    isolation.die_with_parent()
    try:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    except (ValueError, OSError):
        pass
    module = import_module(handler)
    try:
        jobs_module.CONFINED = isolation.confine(Path(tmpdir), [p for p in readable.split(os.pathsep) if p])
    except OSError as exc:  # never run a job unconfined where confinement was expected
        print(f"deckgen: could not confine the worker: {exc}", file=sys.stderr, flush=True)
        os._exit(70)
    # Started after confine(): Landlock binds the calling thread and the threads it starts. If
    # the build died meanwhile, the pipe is already closed and this ends the process at once.
    _watch_lifeline(int(lifeline_fd))
    signal.signal(signal.SIGPROF, _on_cpu_limit)
    results = os.fdopen(int(results_fd), "w", encoding="utf-8")
    with os.fdopen(int(jobs_fd), encoding="utf-8") as jobs:
        for line in jobs:
            job = json.loads(line)
            _send(results, {"start": job["index"]})
            _send(results, dict(_run(module, job["payload"], float(cpu)), done=job["index"]))
    results.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # At once, without waiting for threads a job left running: the parent waits for this exit,
    # so the launcher reaps this process and its CPU time reaches the build's own accounting.
    os._exit(0)


def _run(module: Any, payload: dict[str, Any], cpu: float) -> dict[str, Any]:
    signal.setitimer(signal.ITIMER_PROF, cpu)
    try:
        return {"value": module.run_job(payload)}
    except CpuLimit:
        return {"failure": {"kind": "cpu", "message": f"used more than {cpu:g} s of CPU time and was stopped"}}
    except MemoryError:
        return {"failure": {"kind": "memory", "message": "used more than its memory limit and was stopped"}}
    except JobFailed as failed:
        return {"failure": failed.as_json()}
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        sys.stdout.flush()
        sys.stderr.flush()


def _on_cpu_limit(signum: int, frame: object) -> None:
    raise CpuLimit()


def _send(results: TextIO, message: dict[str, Any]) -> None:
    results.write(json.dumps(message) + "\n")
    results.flush()


def _watch_lifeline(fd: int) -> None:
    """Exit when the build that started this process is gone (its end of the pipe closes)."""

    def wait() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        try:
            os.killpg(0, signal.SIGKILL)  # this process's group: whatever the job started, then itself
        finally:
            os._exit(1)

    threading.Thread(target=wait, name="deckgen-lifeline", daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
