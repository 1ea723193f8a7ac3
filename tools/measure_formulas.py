"""Measure the formula checks and formula images on a project's content (default: this repo).

    python tools/measure_formulas.py [ROOT]

Prints: how many formulas (typed and computed), the fast check's time per formula, the exact
check's time for all of them in Anki's MathJax (and any formula either check rejects), and the
time and size of drawing every distinct formula as an SVG image into a scratch cache.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from deckgen.builder import mathimages
from deckgen.check import formulas as mathcheck
from deckgen.config import BuildConfig
from deckgen.math import texcheck
from deckgen.runtime.cache import Cache


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    formulas, errors = mathcheck.content_formulas(BuildConfig(root=root))
    for error in errors:
        print(f"content error: {error}")
    started = time.perf_counter()
    fast = [(formula, problem) for formula in formulas for problem in texcheck.problems(formula)]
    seconds = time.perf_counter() - started
    print(f"{len(formulas)} formulas; fast check: {1e6 * seconds / max(1, len(formulas)):.0f} µs each, {len(fast)} problems")
    for formula, problem in fast:
        print(f"  {formula.location}: {texcheck.shorten(formula.tex)}: {problem}")
    started = time.perf_counter()
    exact = mathcheck.exact_check(formulas)
    print(f"exact check (Anki's MathJax, headless Chromium): {time.perf_counter() - started:.1f} s, {len(exact)} errors")
    for error in exact:
        print(f"  {error}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        images = mathimages.draw(formulas, Cache(Path(tmp)), Path(tmp) / "media")
        seconds = time.perf_counter() - started
        sizes = [path.stat().st_size for path in (Path(tmp) / "media").iterdir()]
        print(f"formula images: {len(images)} distinct in {seconds:.1f} s ({1000 * seconds / max(1, len(images)):.0f} ms each), {sum(sizes) / max(1, len(sizes)) / 1024:.1f} KB each")
    return 1 if fast or exact else 0


if __name__ == "__main__":
    sys.exit(main())
