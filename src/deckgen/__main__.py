"""The `deckgen` command and `python -m deckgen`.

A build with nothing changed since its last run ends here, after a stat of the files it read and
wrote, before the command line is parsed or the pipeline imported (builder/stamp.py); everything
else is `deckgen.cli`.
"""
import sys


def main(argv: list[str] | None = None) -> int:
    from deckgen.builder import stamp

    args = sys.argv[1:] if argv is None else list(argv)
    text = stamp.unchanged(args)
    if text is not None:
        sys.stdout.write(text)
        return 0
    from deckgen.cli import main as run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
