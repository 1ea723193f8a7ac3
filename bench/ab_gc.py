"""A/B of pausing Python's cycle collector during a build (builder/pipeline._cycle_collector_paused).

    python bench/ab_gc.py ROOT [RUNS]

Alternates builds with the collector running as Python runs it by default and deckgen's builds
(collector paused), on one-note edits and on cold builds with the figures cached, so both see the
same machine load; prints the median CPU and wall time, the peak RSS of each and their ratio.
ROOT: a built project (e.g. from bench/generate.py).
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import generate
import run as bench

# The same build with gc.disable() made a no-op: the collector runs as it does in any Python program.
DEFAULT = "import gc, sys; gc.disable = lambda: None; from deckgen.cli import main; sys.exit(main(sys.argv[1:]))"


def main(root: Path, runs: int) -> None:
    commands = {
        "collector on": [sys.executable, "-c", DEFAULT, "build", "--root", str(root), "-q"],
        "paused": [sys.executable, "-m", "deckgen", "build", "--root", str(root), "-q"],
    }
    bench.run_child(commands["paused"])
    scenarios = {
        bench.NOTE: lambda run: generate.edit_note(root, run),
        bench.WARM: lambda run: bench.clean(root, keep_figures=True),
    }
    edits = iter(range(1000, 10**6))  # every edit a new text
    for scenario, prepare in scenarios.items():
        samples: dict[str, list[bench.Sample]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                prepare(next(edits))
                samples[name].append(bench.run_child(command))
        cpu = {name: statistics.median(s.cpu for s in found) for name, found in samples.items()}
        wall = {name: statistics.median(s.wall for s in found) for name, found in samples.items()}
        rss = {name: max(s.rss_mb for s in found) for name, found in samples.items()}
        print(f"{scenario}, {runs} runs each, alternated:")
        for name in commands:
            print(f"  {name:13s} CPU {cpu[name]:.3f} s  wall {wall[name]:.3f} s  peak RSS {rss[name]:.0f} MB")
        print(f"  paused / on: CPU {cpu['paused'] / cpu['collector on']:.2f}, wall {wall['paused'] / wall['collector on']:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 7)
