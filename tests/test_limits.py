"""Limits count work, not the clock: a figure or sympy block is stopped by the CPU time it (and
every process it starts) used, with a wall-clock backstop several times larger for code that
waits; a busy machine slows a build down but never fails it; no process outlives the build."""
from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from conftest import run_deckgen
from deckgen import limits

TOPIC = "---\ndeck: 限额\nid: lim\n---\n\n## 图 {#fig}\n\n![图](figure:work)\n"


def figure(*body: str) -> str:
    lines = "\n".join("    " + line for part in body for line in part.split("\n"))
    return (
        "import os, subprocess, sys, time\n"
        "from deckgen.figure_api import figure\n\n"
        '@figure("work")\n'
        "def work(fig, pal):\n"
        f"{lines}\n"
        "    fig.subplots().plot([0, 1], [0, 1], color=pal.c[0])\n"
    )


def busy(seconds: float) -> str:
    """Python that burns `seconds` of its own CPU time, however long that takes on the clock."""
    return f"start = time.process_time()\nwhile time.process_time() - start < {seconds}:\n    pass"


def test_wall_backstop_is_several_times_the_cpu_limit():
    assert limits.wall_backstop(2) == limits.WALL_FACTOR * 2 + limits.WALL_EXTRA_SECONDS
    assert limits.wall_backstop(limits.FIGURE_CPU_SECONDS) >= 5 * limits.FIGURE_CPU_SECONDS


def test_waiting_longer_than_the_cpu_limit_is_not_a_failure(project):
    """A figure that sleeps 3 s uses almost no CPU: with a 1 s CPU limit it still builds."""
    root = project({"content/t.md": TOPIC, "figures/f.py": figure("time.sleep(3)")})
    result = run_deckgen(root, "--figure-timeout", "1")
    assert result.code == 0, result.stderr


def test_code_that_waits_forever_meets_the_wall_clock_backstop(project):
    root = project({"content/t.md": TOPIC, "figures/f.py": figure("time.sleep(3600)")})
    result = run_deckgen(root, "--figure-timeout", "0.2")
    assert result.code == 1
    backstop = limits.wall_backstop(0.2)
    assert f"ran {backstop:g} s of wall-clock time while using only" in result.stderr
    assert "the backstop for code that waits or hangs" in result.stderr and "Traceback" not in result.stderr


def test_cpu_time_of_the_processes_a_figure_starts_counts_too(project):
    """The figure's own process only waits; the CPU is burnt by a child it started."""
    spin = "import time\\nwhile True: pass"
    root = project({"content/t.md": TOPIC, "figures/f.py": figure(f"subprocess.run([sys.executable, '-c', '{spin}'])")})
    result = run_deckgen(root, "--figure-timeout", "1")
    assert result.code == 1
    assert "failed: used more than 1 s of CPU time (the CPU time limit per figure) and was stopped" in result.stderr


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def test_a_build_passes_while_both_cores_are_busy_with_other_work(project):
    """0.7 s of CPU work per rendering (day and night: 1.4 s) under a 3 s CPU limit, with busy loops competing for both cores: the
    clock may run much longer than 3 s, the build must still pass."""
    root = project({"content/t.md": TOPIC, "figures/f.py": figure(busy(0.7))})
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(os.cpu_count() or 2)]
    for hog in hogs:
        hog.start()
    try:
        result = run_deckgen(root, "--figure-timeout", "3")
    finally:
        stop.set()
        for hog in hogs:
            hog.join()
    assert result.code == 0, result.stderr


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("how", ["background", "session", "orphan"])
def test_no_process_a_figure_starts_outlives_the_build(project, tmp_path, how):
    marker = f"deckgen-test-leftover-{how}-{os.getpid()}"
    start = {
        "background": f"subprocess.Popen(['sleep', '300', '{marker}'])",
        # a new session escapes a process-group kill; the PID namespace still ends it
        "session": f"subprocess.Popen(['sleep', '300', '{marker}'], start_new_session=True)",
        # a grandchild whose parent exits at once is adopted by init
        "orphan": f"subprocess.run(['sh', '-c', 'sleep 300 {marker} & exit 0'])",
    }[how]
    root = project({"content/t.md": TOPIC, "figures/f.py": figure(start)})
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    deadline = time.monotonic() + 10  # SIGKILL is delivered at once, but reaping is not instant
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker) == []
