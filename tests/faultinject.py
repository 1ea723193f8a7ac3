"""Run the `deckgen` command and kill it (SIGKILL, as a crash or a killed session does) just
before its Nth file operation: `DECKGEN_KILL_AT=N python tests/faultinject.py --root DIR ...`.

The operations counted are the renames and deletions a build makes (os.replace, os.unlink):
every cache entry, staged package, rename into dist/, the lock file, the state and the pending
report. The code under test is not changed; only the operating system calls it makes are
counted, in this process (workers are not killed).
"""
from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    limit = int(os.environ["DECKGEN_KILL_AT"])
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
    from deckgen.cli import main as deckgen

    return deckgen(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
