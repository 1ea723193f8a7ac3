"""Run untrusted-ish build jobs (sympy blocks, figure scripts) in child processes.

In:  a job kind ("sympy" or "figure"), a list of JSON jobs, a time limit per job.
Out: one JSON result per job, in order: the handler's result, or {"error": ...} when the job
     raised, ran past its limit, exhausted its memory cap, or killed its process.

Jobs are spread over up to `processes` children; each child imports the heavy library once and
runs its jobs one by one, each in a fresh namespace, under SIGALRM and an address-space cap. If a
child dies or stops answering, the job it was on is reported and a new child takes the rest, so one
bad block never takes the build (or the other jobs) down with it.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space per child
GRACE = 10.0  # seconds the parent waits beyond a job's own limit before killing the child


def run_jobs(kind: str, jobs: list[dict], timeout: float, processes: int = 0, on_done=None) -> list[dict]:
    """Run `jobs`; `on_done(n)` is called as jobs finish (for a progress bar)."""
    if not jobs:
        return []
    processes = max(1, min(processes or os.cpu_count() or 1, len(jobs)))
    shares = [list(range(i, len(jobs), processes)) for i in range(processes)]
    results: list[dict | None] = [None] * len(jobs)

    stop = threading.Event()
    live: set[subprocess.Popen] = set()

    def work(indices: list[int]) -> None:
        pending = list(indices)
        while pending and not stop.is_set():
            done = _run_child(kind, [jobs[i] for i in pending], timeout, on_done, live)
            for offset, result in enumerate(done):
                results[pending[offset]] = result
            pending = pending[len(done):]

    pool = ThreadPoolExecutor(processes)
    try:
        list(pool.map(work, shares))
    except BaseException:
        # Ctrl-C (or any failure) in the build: stop the children now instead of letting every
        # running figure finish first.
        stop.set()
        for proc in list(live):
            proc.kill()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results  # type: ignore[return-value]


def _run_child(kind: str, jobs: list[dict], timeout: float, on_done, live: set) -> list[dict]:
    """Run jobs in one child until all are done or it fails; return the results it produced.

    A failing child always yields at least one result (the error of the job it was on), so the
    caller makes progress.
    """
    # The child must run this very deckgen, not whichever one `pip install -e` last pointed at.
    here = str(Path(__file__).resolve().parents[2])  # the folder holding the deckgen package
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONHASHSEED="0", MPLBACKEND="Agg", PYTHONPATH=path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deckgen.runtime.workers", kind, str(timeout)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    live.add(proc)
    proc.stdin.write("".join(json.dumps(job) + "\n" for job in jobs).encode())
    proc.stdin.close()
    results: list[dict] = []
    buffer = b""
    deadline = time.monotonic() + timeout + GRACE + 10  # the first job also pays the imports
    try:
        while len(results) < len(jobs):
            wait = deadline - time.monotonic()
            ready = select.select([proc.stdout], [], [], max(0.0, wait))[0] if wait > 0 else []
            if not ready:
                results.append({"error": f"ran longer than {timeout:g} s and was stopped", "kind": "timeout"})
                on_done and on_done(1)
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                stderr = proc.stderr.read().decode(errors="replace").strip().splitlines()
                reason = stderr[-1] if stderr else f"exit status {proc.wait()}"
                results.append({"error": f"the worker process died ({reason})", "kind": "crash"})
                on_done and on_done(1)
                break
            buffer += chunk
            while b"\n" in buffer and len(results) < len(jobs):
                line, buffer = buffer.split(b"\n", 1)
                results.append(json.loads(line))
                deadline = time.monotonic() + timeout + GRACE
                if on_done:
                    on_done(1)
    finally:
        live.discard(proc)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return results


# ---- child side -------------------------------------------------------------------------------


class JobTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that user code's `except Exception` cannot swallow it."""


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the build that started it dies, even by SIGKILL."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _child_main(kind: str, timeout: float) -> None:
    import resource
    import signal

    _die_with_parent()

    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ValueError, OSError):
        pass

    def on_alarm(signum, frame):
        raise JobTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    from importlib import import_module

    run_job = import_module(kind).run_job  # the job kind is the handler's module name
    out = sys.stdout
    sys.stdout = sys.stderr  # prints in user code must not corrupt the result stream
    for line in sys.stdin.read().splitlines():
        job = json.loads(line)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = run_job(job)
        except JobTimeout:
            result = {"error": f"ran longer than {timeout:g} s and was stopped", "kind": "timeout"}
        except MemoryError:
            result = {"error": "used more memory than allowed and was stopped", "kind": "memory"}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    _child_main(sys.argv[1], float(sys.argv[2]))
