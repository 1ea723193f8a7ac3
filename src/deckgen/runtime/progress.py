"""How far a long stage has got, told the way the output can show it.

A terminal gets a bar (tqdm) that disappears when the stage ends; a pipe or a CI log gets a plain
line when the stage starts, then at most every `LINE_SECONDS`, then when it ends, so nobody waits
minutes in silence and logs stay short; `--quiet` gets nothing.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TextIO

from deckgen.report import plural

LINE_SECONDS = 10.0


class Mode(StrEnum):
    BAR = "bar"
    LINES = "lines"
    OFF = "off"


def mode_for(stream: TextIO, quiet: bool) -> Mode:
    if quiet:
        return Mode.OFF
    return Mode.BAR if stream.isatty() else Mode.LINES


class Stage:
    """One stage's count of finished items; `advance` may be called from any thread."""

    def __init__(self, name: str, total: int, mode: Mode, stream: TextIO, unit: str):
        self.name, self.total, self.mode, self.stream, self.unit = name, total, mode, stream, unit
        self.done = 0
        self._lock = threading.Lock()
        self._started = self._last = time.monotonic()
        self._bar = None
        if mode is Mode.BAR:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=name, unit=unit, leave=False, file=stream)
        elif mode is Mode.LINES:
            self._line(f"{name}: 0 of {plural(total, unit)}")

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
            elif self.mode is Mode.LINES and time.monotonic() - self._last >= LINE_SECONDS:
                self._line(f"{self.name}: {self.done} of {plural(self.total, self.unit)}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode is Mode.LINES:
            self._line(f"{self.name}: {self.done} of {plural(self.total, self.unit)} done in {time.monotonic() - self._started:.0f} s")

    def _line(self, text: str) -> None:
        self._last = time.monotonic()
        print(text, file=self.stream, flush=True)


@contextmanager
def stage(name: str, total: int, mode: Mode = Mode.OFF, unit: str = "item", stream: TextIO | None = None) -> Iterator[Stage]:
    """`with stage("figures", 12, mode, "figure") as s: ... s.advance()`."""
    current = Stage(name, total, mode, stream or sys.stderr, unit)
    try:
        yield current
    finally:
        current.close()
