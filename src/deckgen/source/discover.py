"""Which files of a project are topics: `content/*.md`, one definition for every command.

In:  the content folder (and the project root, for links).
Out: the topic files; warnings for files that look like topics but are not built (`x.MD`,
     `sub/x.md`), so nothing is left out without a word; errors for topic files that are
     symbolic links to a file outside the project (a deck from a pull request could otherwise
     read any file the builder can, e.g. `content/a.md -> ~/.ssh/id_rsa`).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deckgen.errors import ErrorList
from deckgen.records import Location

LOOKALIKE_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")  # compared ignoring case


def is_topic(path: Path, content_dir: Path) -> bool:
    return path.suffix == ".md" and path.parent == content_dir


def topic_files(content_dir: Path) -> list[Path]:
    """The topic files, in name order (none when the folder does not exist)."""
    if not content_dir.is_dir():
        return []
    return sorted(path for path in content_dir.glob("*.md") if path.is_file())


def outside(path: Path, root: Path) -> bool:
    """True when `path` (through any symbolic link) is a file outside the project `root`."""
    return not path.resolve().is_relative_to(root.resolve())


def check_links(paths: list[Path], root: Path, display: Callable[[Path], str], errors: ErrorList) -> list[Path]:
    """The paths that stay inside the project; an error for each that leads out of it."""
    kept = []
    for path in paths:
        if outside(path, root):
            link = str(path.relative_to(root)) if path.is_relative_to(root) else display(path)
            errors.add(Location(link, 1), f"{link} is a symbolic link to {path.resolve()}, outside the project", "copy the file into the project instead of linking to it")
        else:
            kept.append(path)
    return kept


def ignored_warnings(content_dir: Path, display: Callable[[Path], str]) -> list[str]:
    """`path: what — fix` for each file under content/ that looks like a topic but is not one."""
    found: list[str] = []
    if not content_dir.is_dir():
        return found
    for path in sorted(content_dir.rglob("*")):
        relative = path.relative_to(content_dir)
        if path.suffix.lower() not in LOOKALIKE_SUFFIXES or is_topic(path, content_dir) or any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.parent != content_dir:
            hint = f"move it to content/{path.name} to build it (topics are the .md files directly in content/)"
        else:
            hint = f"rename it to {path.stem}.md to build it (only the lowercase .md extension makes a topic)"
        found.append(f"{display(path)}:1: this file is not built, it looks like a topic — {hint}")
    return found
