"""Size limits on what authors give the build, checked before anything is read.

Kept apart from the parser and the media stage so that a no-op build, which only sizes and
hashes its inputs, needs neither.
"""
from __future__ import annotations

from deckgen.errors import ErrorList
from deckgen.records import Location

MAX_FILE_BYTES = 2 * 1024 * 1024  # a topic file; larger is a mistake (and slow to parse)
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # an image; phones sync every byte


def size_ok(size: int, path: str, errors: ErrorList) -> bool:
    """A topic file over MAX_FILE_BYTES is refused before it is read."""
    if size <= MAX_FILE_BYTES:
        return True
    errors.add(Location(path, 1), f"the file is {size / 2**20:.1f} MiB; a topic file may be at most {MAX_FILE_BYTES // 2**20} MiB", "split it into several topic files")
    return False
