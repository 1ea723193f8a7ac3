"""Run the `deckgen` command with a fault at a chosen moment, the same on a fast or a slow machine.

- `DECKGEN_KILL_AT=N python tests/faultinject.py --root DIR ...`: SIGKILL (as a crash or a killed
  session does) just before its Nth file operation. The operations counted are the renames and
  deletions a build makes (os.replace, os.unlink): every cache entry, staged package, rename into
  dist/, the lock file, the state and the pending report.
- `DECKGEN_HOLD_PACKAGING=DIR`: when the build opens its first package database, it creates
  DIR/packaging-started and waits while DIR/hold exists, so a test can interrupt it there
  (waiting for the moment by polling would miss it on a fast machine).
- `DECKGEN_HOLD_CHILD_PACKAGING=DIR`: the same in a process the build forked to build a package;
  DIR/child-packaging-started holds that process's pid.

The code under test is not changed; only the calls it makes are watched, in this process
(workers are not affected).
"""
from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from pathlib import Path


def main() -> int:
    if "DECKGEN_HOLD_PACKAGING" in os.environ:
        _hold_packaging(Path(os.environ["DECKGEN_HOLD_PACKAGING"]), in_child=False)
    if "DECKGEN_HOLD_CHILD_PACKAGING" in os.environ:
        _hold_packaging(Path(os.environ["DECKGEN_HOLD_CHILD_PACKAGING"]), in_child=True)
    if "DECKGEN_KILL_AT" in os.environ:
        _kill_at(int(os.environ["DECKGEN_KILL_AT"]))
    from deckgen.cli import main as deckgen

    return deckgen(sys.argv[1:])


def _hold_packaging(folder: Path, in_child: bool) -> None:
    parent = os.getpid()
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        if (os.getpid() != parent) == in_child:
            marker = folder / ("child-packaging-started" if in_child else "packaging-started")
            marker.write_text(str(os.getpid()))
            while (folder / "hold").exists():
                time.sleep(0.01)
        return real_connect(*args, **kwargs)

    sqlite3.connect = connect


def _kill_at(limit: int) -> None:
    parent = os.getpid()
    count = 0
    real_replace, real_unlink = os.replace, os.unlink

    def step() -> None:
        nonlocal count
        if os.getpid() != parent:
            return
        count += 1
        if count == limit:
            os.kill(parent, signal.SIGKILL)

    def replace(*args, **kwargs):
        step()
        return real_replace(*args, **kwargs)

    def unlink(*args, **kwargs):
        step()
        return real_unlink(*args, **kwargs)

    os.replace, os.unlink = replace, unlink


if __name__ == "__main__":
    sys.exit(main())
