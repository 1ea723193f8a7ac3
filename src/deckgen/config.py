"""Where a build reads and writes, and its knobs; the project's own settings in `deckgen.toml`.

`BuildConfig` is plain data; the CLI and tests fill it in. `project_config(root, ...)` reads the
project's `deckgen.toml` (the defaults a project sets for itself: output folder, jobs, formula
images, label language, extra card CSS, tags for every note), then applies what the command
line gave. An unknown or ill-typed setting is an error at its `deckgen.toml:line`.

Why a `deckgen.toml` and not `[tool.deckgen]` in `pyproject.toml`: a deck is not a Python
package, and most projects have no `pyproject.toml` to put it in.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deckgen import limits
from deckgen.errors import BuildFailed, ContentError, ErrorList
from deckgen.records import Location
from deckgen.syntax import TAG_RE

ALL_PACKAGE = "all"  # dist/all.apkg holds every topic; no topic may use this id
PROJECT_FILE = "deckgen.toml"
LANGUAGES = ("zh", "en")  # of note-type names, card names and preview labels
DEFAULT_LANGUAGE = "zh"  # what every deck built before languages existed has: never change it


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
    language: str = DEFAULT_LANGUAGE  # of note-type names, card names and preview labels: "zh" or "en"
    extra_css: str = ""  # the project's own CSS, after the card stylesheet
    tags: tuple[str, ...] = ()  # added to every note
    strict: bool = False  # warnings fail the build (and nothing is written)

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
        object.__setattr__(self, "tags", tuple(self.tags))

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the project root when inside it."""
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def output_options(self) -> tuple[str, ...]:
        """The settings that change the cards or packages, for the no-op check. Empty by default,
        so a project without settings keeps the fingerprint it had."""
        options = []
        if self.math_images:
            options.append("math-images")
        if self.language != DEFAULT_LANGUAGE:
            options.append(f"language={self.language}")
        if self.extra_css:
            options.append("css=" + hashlib.sha256(self.extra_css.encode()).hexdigest())
        if self.tags:
            options.append("tags=" + " ".join(self.tags))
        return tuple(options)


def require_project(root: Path) -> None:
    """A project folder that does not exist is an error, before anything is created in it."""
    if not Path(root).is_dir():
        what = "is not a folder" if Path(root).exists() else "does not exist"
        raise BuildFailed([ContentError(Location(str(root)), f"the project folder {what}", "give the folder that holds content/ with --root, or start a project there with 'deckgen init DIR'")])


def require_content(config: BuildConfig) -> None:
    if not config.content_dir.is_dir():
        raise BuildFailed([ContentError(Location(config.display(config.content_dir)), "content folder not found", "create it and put one Markdown file per topic in it, or start a project with 'deckgen init'")])


def project_config(root: Path, **given: Any) -> BuildConfig:
    """The `BuildConfig` of the project at `root`: its `deckgen.toml`, then `given` (`BuildConfig`
    fields from the command line; None means not given)."""
    root = Path(root)
    require_project(root)
    values = read_settings(root)
    values.update({name: value for name, value in given.items() if value is not None})
    return BuildConfig(root=root, **values)


# ---- deckgen.toml -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    field: str  # the BuildConfig field it sets
    parse: Callable[[Any, Path], Any]  # (value, project root) -> field value; ValueError says what it must be
    example: str  # a correct line, for the hint


def _whole(value: Any, root: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number, 0 or more (0 = one per core)")
    return value


def _seconds(value: Any, root: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError("must be a number of CPU seconds above 0")
    return float(value)


def _flag(value: Any, root: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false (without quotes)")
    return value


def _language(value: Any, root: Path) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"must be one of {', '.join(repr(v) for v in LANGUAGES)}")
    return value


def _folder(value: Any, root: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a folder name in quotes, relative to the project")
    return root / value


def _css(value: Any, root: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the name of a CSS file in quotes, relative to the project")
    path = root / value
    if not path.is_file():
        raise ValueError(f"names {value}, which is not a file")
    if path.stat().st_size > limits.MAX_FILE_BYTES:
        raise ValueError(f"names {value}, which is over {limits.MAX_FILE_BYTES // 2**20} MiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"names {value}, which is not UTF-8 text") from None


def _tags(value: Any, root: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and TAG_RE.fullmatch(t) for t in value):
        raise ValueError("must be a list of tags in quotes, without spaces")
    return tuple(value)


SETTINGS = {
    "dist": Setting("dist_dir", _folder, 'dist = "dist"'),
    "jobs": Setting("jobs", _whole, "jobs = 2"),
    "math-images": Setting("math_images", _flag, "math-images = true"),
    "language": Setting("language", _language, 'language = "en"'),
    "css": Setting("extra_css", _css, 'css = "cards.css"'),
    "tags": Setting("tags", _tags, 'tags = ["my-deck"]'),
    "figure-timeout": Setting("figure_cpu_seconds", _seconds, "figure-timeout = 120"),
    "sympy-timeout": Setting("sympy_cpu_seconds", _seconds, "sympy-timeout = 120"),
}
_POSITION_RE = re.compile(r"\s*\(at line (\d+), column \d+\)$|\s*\(at end of document\)$")


def settings_files(root: Path) -> list[Path]:
    """The files a project's settings are read from: deckgen.toml and the CSS file it names."""
    import tomllib

    files = [root / PROJECT_FILE]
    try:
        css = tomllib.loads((root / PROJECT_FILE).read_bytes().decode("utf-8-sig")).get("css")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return files
    return [*files, root / css] if isinstance(css, str) and css.strip() else files


def read_settings(root: Path) -> dict[str, Any]:
    """`BuildConfig` field values from `root/deckgen.toml` (none when there is no such file)."""
    import tomllib

    try:
        raw = (root / PROJECT_FILE).read_bytes()
    except FileNotFoundError:
        return {}
    try:
        text = raw.decode("utf-8-sig")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise BuildFailed([ContentError(Location(PROJECT_FILE, 1), "the file is not UTF-8 text", "save it as UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        found = _POSITION_RE.search(str(exc))
        line = int(found.group(1)) if found and found.group(1) else max(1, text.count("\n"))
        message = _POSITION_RE.sub("", str(exc))
        raise BuildFailed([ContentError(Location(PROJECT_FILE, line), f"not valid TOML: {message}", "write one setting per line as name = value, e.g. language = \"en\"")]) from None
    errors = ErrorList()
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = Location(PROJECT_FILE, _line_of(text, key))
        setting = SETTINGS.get(key)
        if setting is None:
            import difflib  # only for a mistake: the no-op build stays light

            close = difflib.get_close_matches(key, SETTINGS, n=1)
            errors.add(where, f"unknown setting '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""), f"the settings are {', '.join(SETTINGS)} (README, 'Project settings')")
            continue
        try:
            values[setting.field] = setting.parse(value, root)
        except ValueError as exc:
            errors.add(where, f"'{key}' {exc}", f"write e.g. {setting.example}")
    errors.raise_if_any()
    return values


def _line_of(text: str, key: str) -> int:
    """The line that sets `key` (or opens a table of that name); tomllib keeps no positions."""
    name = re.escape(key)
    pattern = re.compile(rf"""^\s*(?:\[+\s*)?(?:{name}|"{name}"|'{name}')\s*[=.\]]""")
    return next((number for number, line in enumerate(text.splitlines(), start=1) if pattern.match(line)), 1)
