"""Run the code a deck brings (figure scripts, sympy blocks) in contained child processes.

In:  a handler module (its `run_job(payload) -> dict` runs one job in the child), JSON payloads,
     and `Limits` (CPU seconds per job, memory, how much printed output to keep).
Out: one `JobResult` per job, in order: the handler's value, or a `Failure` that says which limit
     was hit (CPU time, wall-clock backstop, memory), or how the job failed.

How the code is contained:
- Each child runs in its own session, in new user, network and PID namespaces where the kernel
  allows (runtime/isolation.py): no network, and every process it starts dies with it. Without
  namespaces, the whole process group is killed.
- Limits count work, not the clock: the CPU time of the job and of every process it started,
  read from /proc by the parent; a wall-clock backstop several times larger stops code that
  sleeps or hangs. A busy machine therefore slows a build down but never fails it.
- Jobs and results travel on private pipes, never on the child's stdout or stderr: what the code
  prints (or `os.system` runs) goes to a third pipe, is kept up to `Limits.output_bytes`, and is
  shown when the job fails. Each result names its job, so nothing printed can forge or shift one.
- A lifeline pipe stays open while the build runs: when the build dies, even by SIGKILL, the child
  sees it close and exits, taking its processes along.

Jobs are spread over up to `processes` children; each child imports the handler once and runs its
jobs one by one. If a child dies or is stopped, the job it was on is reported and a new child
takes the rest, so one bad job never takes the build (or the other jobs) down with it.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deckgen import limits, report
from deckgen.runtime import isolation

POLL_SECONDS = 0.2  # how often the parent reads the children's CPU time
START_SECONDS = 300.0  # wall-clock backstop for a child to import its handler
EXIT_SECONDS = 10.0  # wall-clock backstop for a child that finished its jobs to exit


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float  # per job: the child's CPU time and that of every process it starts
    memory_bytes: int = limits.WORKER_MEMORY_BYTES
    output_bytes: int = limits.WORKER_OUTPUT_BYTES
    what: str = "job"  # for messages: "figure", "sympy block"
    flag: str = ""  # the command-line flag that raises the CPU limit, for messages
    readable: tuple[str, ...] = ()  # folders the jobs may read besides Python's own (figures/)

    @property
    def wall_seconds(self) -> float:
        return limits.wall_backstop(self.cpu_seconds)


@dataclass(frozen=True)
class Failure:
    """Why a job has no value. `kind`: cpu, wall, memory, crash, or what the handler reported."""

    kind: str
    message: str
    line: int = 0  # a line in the job's own source, when the handler knows it
    trace: tuple[dict[str, Any], ...] = ()  # frames in the author's files, when the handler knows them


@dataclass(frozen=True)
class JobResult:
    value: dict[str, Any] | None = None  # the handler's result when the job succeeded
    failure: Failure | None = None
    output: str = ""  # what the job printed, bounded

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(eq=False)
class _Child:
    """One running child process and the pipes it talks on."""

    proc: subprocess.Popen[bytes]
    jobs: int  # write end: payloads
    results: int  # read end: {"start": i} / {"done": i, ...}
    output: int  # read end: the child's stdout and stderr
    lifeline: int  # write end, only held open
    output_limit: int  # bytes of printed output kept per job
    tmpdir: str  # the child's own temporary folder: the only place it may write
    buffer: bytearray = field(default_factory=bytearray)  # result bytes after the last newline
    scanned: int = 0  # how much of `buffer` is known to hold no newline
    ended: bool = False  # the results pipe closed: the child exited or died
    oversized: bool = False  # its result went past limits.WORKER_RESULT_BYTES
    printed: bytearray = field(default_factory=bytearray)
    dropped: int = 0


def run_jobs(handler: str, payloads: list[dict[str, Any]], job_limits: Limits, processes: int = 0, on_done: Callable[[int], None] | None = None) -> list[JobResult]:
    """Run `payloads` through `handler` (a module name); `on_done(n)` as jobs finish."""
    if not payloads:
        return []
    _say_what_is_not_confined()
    processes = max(1, min(processes or os.cpu_count() or 1, len(payloads)))
    shares = [list(range(i, len(payloads), processes)) for i in range(processes)]
    results: list[JobResult | None] = [None] * len(payloads)
    stop = threading.Event()
    live: set[_Child] = set()

    def work(indices: list[int]) -> None:
        pending = list(indices)
        while pending and not stop.is_set():
            done = _run_child(handler, [(i, payloads[i]) for i in pending], job_limits, on_done, live)
            for offset, result in enumerate(done):
                results[pending[offset]] = result
            pending = pending[len(done):]

    pool = ThreadPoolExecutor(processes)
    try:
        list(pool.map(work, shares))
    except BaseException:
        # Ctrl-C (or any failure) in the build: stop the children now instead of letting every
        # running job finish first.
        stop.set()
        for child in list(live):
            _stop(child)  # its own thread sees the pipes close, reports, and cleans up
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [result or JobResult(failure=Failure("crash", "the worker stopped before this job ran")) for result in results]


def _run_child(handler: str, jobs: list[tuple[int, dict[str, Any]]], job_limits: Limits, on_done: Callable[[int], None] | None, live: set[_Child]) -> list[JobResult]:
    """Run jobs in one child until all are done or one fails it; return the results it produced.

    A child that is stopped or dies always yields a result for the job it was on, so the caller
    makes progress.
    """
    child = _start(handler, job_limits)
    live.add(child)
    try:
        for index, payload in jobs:
            _send(child, {"index": index, "payload": payload})
        os.close(child.jobs)
        child.jobs = -1
        done = _collect(child, [index for index, _ in jobs], job_limits, on_done)
        if len(done) == len(jobs) and all(result.failure is None or result.failure.kind not in ("cpu", "wall", "crash", "memory", "output") for result in done):
            _let_exit(child)
        return done
    finally:
        live.discard(child)
        _kill(child)


_told = threading.Event()


def _say_what_is_not_confined() -> None:
    """Once per process: what of the confinement this system cannot give (a note, not a failure)."""
    if not _told.is_set():
        _told.set()
        missing = isolation.unavailable()
        if missing:
            report.note(f"{missing} (see docs/security.md)")


def _start(handler: str, job_limits: Limits) -> _Child:
    # The child must run this very deckgen, not whichever one `pip install -e` last pointed at.
    here = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    tmpdir = tempfile.mkdtemp(prefix="deckgen-worker-")
    # TMPDIR is the one folder the child may write, and its working folder, so that a relative
    # path or tempfile lands there and is deleted with it.
    env = dict(os.environ, PYTHONHASHSEED="0", MPLBACKEND="Agg", PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1", TMPDIR=tmpdir, TMP=tmpdir, TEMP=tmpdir)
    jobs_r, jobs_w = os.pipe()
    results_r, results_w = os.pipe()
    output_r, output_w = os.pipe()
    life_r, life_w = os.pipe()
    command = [
        *isolation.launcher(), sys.executable, "-P", "-m", "deckgen.runtime.child", handler,
        str(jobs_r), str(results_w), str(life_r), str(job_limits.cpu_seconds), str(job_limits.memory_bytes),
        tmpdir, os.pathsep.join(job_limits.readable),
    ]
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output_w, stderr=output_w, env=env, cwd=tmpdir,
            pass_fds=(jobs_r, results_w, life_r), start_new_session=True,
        )
    except BaseException:
        for fd in (jobs_w, results_r, output_r, life_w):
            os.close(fd)
        _remove(tmpdir)
        raise
    finally:
        for fd in (jobs_r, results_w, output_w, life_r):
            os.close(fd)
    return _Child(proc, jobs_w, results_r, output_r, life_w, job_limits.output_bytes, tmpdir)


def _send(child: _Child, message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    try:
        while data:
            data = data[os.write(child.jobs, data):]
    except BrokenPipeError:
        pass  # the child died early; _collect reports it


def _collect(child: _Child, indices: list[int], job_limits: Limits, on_done: Callable[[int], None] | None) -> list[JobResult]:
    results: list[JobResult] = []
    running: int | None = None  # the job the child said it started
    cpu_start = wall_start = 0.0
    started = time.monotonic()
    while len(results) < len(indices):
        expected = indices[len(results)]
        for message in _read(child):
            if "start" in message and message["start"] == expected:
                running, cpu_start, wall_start = expected, _cpu_seconds(child.proc.pid), time.monotonic()
                child.printed.clear()
                child.dropped = 0
            elif message.get("done") == expected and running == expected:
                results.append(_result(message, child))
                running = None
                if on_done:
                    on_done(1)
                if len(results) == len(indices):
                    break
                expected = indices[len(results)]
        if len(results) == len(indices):
            break
        stopped = _over_limit(child, running, cpu_start, wall_start, started, job_limits)
        if stopped is not None:
            results.append(JobResult(failure=stopped, output=_printed(child)))
            if on_done:
                on_done(1)
            break
    return results


def _read(child: _Child) -> list[dict[str, Any]]:
    """Wait up to POLL_SECONDS for the child; return the result messages it sent."""
    watched = [fd for fd in (child.results, child.output) if fd >= 0 and not (fd == child.results and child.ended)]
    if not watched:
        time.sleep(POLL_SECONDS)
        return []
    ready, _, _ = select.select(watched, [], [], POLL_SECONDS)
    messages: list[dict[str, Any]] = []
    if child.output in ready:
        _keep_output(child)
    if child.results in ready:
        chunk = os.read(child.results, 65536)
        if not chunk:
            child.ended = True
        # Appended in place and searched only where it is new: a 64 MiB result arrives in a
        # thousand reads, and copying or rescanning the whole buffer on each took 20 s.
        child.buffer += chunk
        if len(child.buffer) > limits.WORKER_RESULT_BYTES:  # a job returning gigabytes: stop it
            child.oversized = True
            child.ended = True
            return messages
        while (end := child.buffer.find(b"\n", child.scanned)) >= 0:
            line = bytes(child.buffer[:end])
            del child.buffer[: end + 1]
            child.scanned = 0
            try:
                messages.append(json.loads(line))
            except ValueError:
                continue  # not ours: only the child's protocol writes here
        child.scanned = len(child.buffer)
    return messages


def _over_limit(child: _Child, running: int | None, cpu_start: float, wall_start: float, started: float, job_limits: Limits) -> Failure | None:
    """A Failure when the running job (or the child's start-up) went past a limit or the child died."""
    now = time.monotonic()
    if child.oversized:
        return Failure("output", f"returned more than {limits.WORKER_RESULT_BYTES // 2**20} MiB (the limit for what one {job_limits.what} may put on cards) and was stopped")
    if child.ended:  # no result will come: the child is gone
        try:
            status = child.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = 0
        _drain(child)
        how = f"exit status {status}" if status >= 0 else f"killed by signal {-status}"
        return Failure("memory" if _looks_out_of_memory(child) else "crash", _died(child, how))
    if running is None:
        if now - started > START_SECONDS:
            return Failure("wall", f"the worker did not start within {START_SECONDS:g} s")
        return None
    cpu = _cpu_seconds(child.proc.pid) - cpu_start
    if cpu > job_limits.cpu_seconds + 1.0:  # the child's own timer usually fires first, with the line
        return Failure("cpu", f"used more than {job_limits.cpu_seconds:g} s of CPU time (the limit per {job_limits.what}) and was stopped")
    if now - wall_start > job_limits.wall_seconds:
        return Failure("wall", f"ran {job_limits.wall_seconds:g} s of wall-clock time while using only {cpu:.1f} s of CPU (the backstop for code that waits or hangs) and was stopped")
    return None


def _keep_output(child: _Child) -> bool:
    """Read what the child printed, keeping up to its limit; False once every writer is gone."""
    chunk = os.read(child.output, 65536)
    if not chunk:
        os.close(child.output)
        child.output = -1
        return False
    room = max(0, child.output_limit - len(child.printed))
    child.printed += chunk[:room]
    child.dropped += len(chunk) - min(len(chunk), room)
    return True


def _drain(child: _Child) -> None:
    """Read what the child printed before it died (its last words name the reason)."""
    while child.output >= 0 and select.select([child.output], [], [], 0.05)[0] and _keep_output(child):
        pass


def _looks_out_of_memory(child: _Child) -> bool:
    return b"MemoryError" in child.printed


def _died(child: _Child, how: str) -> str:
    lines = _printed(child).strip().splitlines()
    return f"the worker process died ({lines[-1] if lines else how})"


def _printed(child: _Child) -> str:
    text = child.printed.decode(errors="replace")
    if child.dropped:
        text += f"\n… {child.dropped} more bytes of output not shown"
    return text


def _result(message: dict[str, Any], child: _Child) -> JobResult:
    failure = message.get("failure")
    if failure:
        trace = tuple(failure.get("trace", ()))
        return JobResult(failure=Failure(failure["kind"], failure["message"], int(failure.get("line") or 0), trace), output=_printed(child))
    return JobResult(value=message.get("value") or {}, output=_printed(child))


def _cpu_seconds(session: int) -> float:
    """CPU seconds (user + system) of every process in `session`, with the children they reaped.

    Read from /proc: the kernel's own accounting, the same whatever else the machine runs.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        # fields[0] is the state (field 3 of stat(5)); session is field 6, times are 14-17
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / ticks


def _let_exit(child: _Child) -> None:
    """Give a child that finished its jobs a moment to exit on its own (it does so at once), so
    that the launcher reaps it and its CPU time is counted in the build's; whatever is left is
    killed by `_kill` right after."""
    try:
        child.proc.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pass


def _stop(child: _Child) -> None:
    """SIGKILL to the child's whole process group (safe from any thread)."""
    try:
        os.killpg(child.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(child: _Child) -> None:
    """Stop the child and everything it started; close its pipes (by the thread that reads them)."""
    _stop(child)
    child.proc.wait()
    for fd in (child.jobs, child.results, child.output, child.lifeline):
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
    child.jobs = child.results = child.output = child.lifeline = -1
    _remove(child.tmpdir)


def _remove(folder: str) -> None:
    """Delete a child's temporary folder, whatever it left there (also folders it made unreadable)."""
    try:
        os.chmod(folder, 0o700)
    except OSError:
        return  # already gone
    for parent, folders, _ in os.walk(folder):  # top-down: each folder is opened before the walk enters it
        for name in folders:
            try:
                os.chmod(os.path.join(parent, name), 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
    shutil.rmtree(folder, ignore_errors=True)
