#!/usr/bin/env python3
"""Build this repository's content/ into dist/: `python build.py` (flags: `python build.py --help`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))  # works before `pip install -e .` too

from deckgen.__main__ import run

if __name__ == "__main__":
    run(["--root", str(Path(__file__).resolve().parent), *sys.argv[1:]])
