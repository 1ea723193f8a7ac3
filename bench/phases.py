"""Where one build's time goes, in real time (no profiler slowing the small calls down).

    python bench/phases.py ROOT edit|cold [deckgen options]

ROOT: a built project (e.g. from bench/generate.py). `edit` changes one answer first (as the
benchmark's one-note edit does), `cold` removes the cache but the rendered figures. The build runs
in this process with a timer around each stage function listed below; prints the import time, the
build's wall and CPU time, and each function's total, largest first. Functions that forked worker
processes run are not seen.
"""
from __future__ import annotations

import collections
import importlib
import random
import sys
import time
from pathlib import Path

import generate
import run as bench

TIMED = [
    ("deckgen.builder.inputs", "read_inputs"), ("deckgen.builder.refs", "titles"), ("deckgen.builder.store", "load_unchanged"),
    ("deckgen.builder.compiling", "parse"), ("deckgen.builder.compiling", "compile_parsed"), ("deckgen.builder.notes", "compile_topics"),
    ("deckgen.builder.store", "save_compiled"), ("deckgen.builder.identity", "check_unique"), ("deckgen.anki.lockfile", "load"),
    ("deckgen.anki.lockfile", "update"), ("deckgen.anki.lockfile", "dumps"), ("deckgen.anki.package", "package_keys"),
    ("deckgen.anki.package", "build_packages"), ("deckgen.anki.package", "build_package"), ("deckgen.anki.package", "_collection"),
    ("deckgen.builder.output", "_replace_outputs"), ("deckgen.builder.store", "save_state"),
]


def _timed(totals: dict[str, float], module: str, name: str) -> None:
    owner = importlib.import_module(module)
    function = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[f"{module.rsplit('.', 1)[-1]}.{name}"] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def main(root: Path, scenario: str, options: list[str]) -> None:
    if scenario == "edit":
        generate.edit_note(root, random.randrange(10**9))
    else:
        bench.clean(root, keep_figures=True)
    totals: dict[str, float] = collections.defaultdict(float)
    started = time.perf_counter()
    for module, name in TIMED:
        _timed(totals, module, name)
    from deckgen.cli import main as deckgen

    imported = time.perf_counter()
    cpu = time.process_time()
    deckgen(["build", "--root", str(root), "-q", *options])
    print(f"imports {imported - started:.3f} s, build {time.perf_counter() - imported:.3f} s wall, {time.process_time() - cpu:.3f} s CPU")
    for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {name:32s} {seconds:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
