"""The `deckgen` command and `python -m deckgen`.

A build with nothing changed since its last run ends here, after a stat of the files it read and
wrote, before the command line is parsed or the pipeline imported (builder/stamp.py); everything
else is `deckgen.cli`.
"""
import atexit
import os
import sys
from typing import NoReturn


def main(argv: list[str] | None = None) -> int:
    from deckgen.builder import stamp

    args = sys.argv[1:] if argv is None else list(argv)
    text = stamp.unchanged(args)
    if text is not None:
        sys.stdout.write(text)
        return 0
    from deckgen.cli import main as run

    return run(args)


def run(argv: list[str] | None = None) -> NoReturn:
    """The `deckgen` command: `main`, then exit without taking the interpreter apart.

    After a build the process holds every note it read; freeing them one by one and the
    collector's last pass over them took 36 ms of a 0.7 s one-note edit at 10,000 notes, for
    memory the system takes back at once. The exit functions still run (multiprocessing stops any
    child left over), and the output is flushed first."""
    code = main(argv)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (`deckgen ... | head`): nothing more can be told
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
