"""Which files of a project are topics: `content/*.md`, one definition for every command."""
from __future__ import annotations

from pathlib import Path


def topic_files(content_dir: Path) -> list[Path]:
    """The topic files, in name order (none when the folder does not exist)."""
    if not content_dir.is_dir():
        return []
    return sorted(path for path in content_dir.glob("*.md") if path.is_file())
