"""Where a build reads and writes, and its knobs. Plain data; the CLI and tests fill it in."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deckgen import limits

ALL_PACKAGE = "all"  # dist/all.apkg holds every topic; no topic may use this id


@dataclass(frozen=True)
class BuildConfig:
    root: Path
    content_dir: Path = field(default=None)  # type: ignore[assignment]
    figures_dir: Path = field(default=None)  # type: ignore[assignment]
    dist_dir: Path = field(default=None)  # type: ignore[assignment]
    cache_dir: Path = field(default=None)  # type: ignore[assignment]
    lock_path: Path = field(default=None)  # type: ignore[assignment]
    jobs: int = 0  # worker processes; 0 = one per core
    progress: str = "off"  # runtime.progress.Mode: "bar" on a terminal, "lines" in a log, "off"
    sympy_cpu_seconds: float = limits.SYMPY_CPU_SECONDS  # CPU time per sympy block
    figure_cpu_seconds: float = limits.FIGURE_CPU_SECONDS  # CPU time per figure
    now: int | None = None  # the clock for changed notes; None = the wall clock
    math_images: bool = False  # formulas as SVG images (mathimages.py) instead of MathJax
    language: str = "zh"  # of note-type names, card names and preview labels: "zh" or "en"

    def __post_init__(self) -> None:
        root = Path(self.root)
        object.__setattr__(self, "root", root)
        defaults = {
            "content_dir": root / "content",
            "figures_dir": root / "figures",
            "dist_dir": root / "dist",
            "cache_dir": root / ".deckgen-cache",
            "lock_path": root / "deckgen.lock",
        }
        for name, default in defaults.items():
            value = getattr(self, name)
            object.__setattr__(self, name, Path(value) if value is not None else default)

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the project root when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)
