"""Keep the cache from growing at every edit: what the last few builds used stays, the rest goes.

In:  after a build that wrote its outputs, the cache entries it used of the kinds made anew at
     each edit: compiled topics, their dependency records, parse memos, topic collections.
Out: `.deckgen-cache/recent.json` (those entries for the last `RECENT_BUILDS` builds); every entry
     of those kinds that none of these builds used is removed, and so are temporary files that
     an interrupted write left more than an hour ago.

Each edit of a topic file adds a compiled topic (1.2 MB for 1,000 notes) and a dependency
record; without a sweep the cache of a 10,000-note project held 108 MB of them after a day of
edits, where a build uses 12. Several builds are kept, not one, so that undoing an edit or going back
to another configuration (`--math-images`, another branch) finds its topics still compiled.

Figures, sympy results, formula SVGs and media files are not swept: they change only when a
figure script or a sympy block does, and they are what costs most to make again.

The sweep looks only at the cache's own folders: it follows no symbolic link (a link is removed
like an entry, never its target), removes only files named as entries or as this cache's
temporary files, and a failure to remove anything is ignored (the next build tries again).
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from deckgen.runtime.cache import atomic_write
from deckgen.runtime.keys import Kind, collection_key, parsed_key

if TYPE_CHECKING:
    from deckgen.builder.output import Gathered

SWEPT = (Kind.TOPIC, Kind.TOPIC_DEPS, Kind.PARSED, Kind.COLLECTION)
RECENT_BUILDS = 5
RECENT = "recent.json"
STALE_TEMPORARY_SECONDS = 3600  # a write still going on (another deckgen command) is younger
_ENTRY_RE = re.compile(r"[0-9a-f]{64}")
_TEMPORARY_RE = re.compile(r"\..+\.tmp")  # runtime/cache.atomic_write's names
_VERSION = 1


def used_entries(gathered: Gathered) -> dict[Kind, set[str]]:
    """The entries of the swept kinds that the build of `gathered` read or wrote."""
    return {
        Kind.TOPIC: set(gathered.topic_keys.values()),
        Kind.TOPIC_DEPS: set(gathered.bases.values()),
        Kind.PARSED: {parsed_key(path) for path in gathered.bases},
        Kind.COLLECTION: {collection_key(topic.deck_id) for topic in gathered.topics},
    }


def sweep(cache_dir: Path, used: dict[Kind, set[str]]) -> int:
    """Record `used` as the newest build's and remove what no recent build used; how many
    files were removed."""
    builds = [*_recent(cache_dir), {kind.value: sorted(keys) for kind, keys in used.items()}][-RECENT_BUILDS:]
    try:
        atomic_write(cache_dir / RECENT, json.dumps({"version": _VERSION, "builds": builds}).encode(), durable=False)
    except OSError:
        return 0  # without the record, removing would forget what the earlier builds used
    removed = 0
    for kind in SWEPT:
        kept = {key for build in builds for key in _keys(build, kind)}
        removed += _sweep_folder(cache_dir / kind.value, kept)
    return removed


def _recent(cache_dir: Path) -> list[dict[str, list[str]]]:
    try:
        data = json.loads((cache_dir / RECENT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("builds"), list):
        return []
    return [build for build in data["builds"] if isinstance(build, dict)]


def _keys(build: dict, kind: Kind) -> list[str]:
    """The keys a recorded build used of `kind` (none from a record someone else changed)."""
    keys = build.get(kind.value)
    return [key for key in keys if isinstance(key, str)] if isinstance(keys, list) else []


def _sweep_folder(folder: Path, kept: set[str]) -> int:
    """Entries live in `folder/<first two hex digits>/<key>` (runtime/cache.Cache._path)."""
    removed = 0
    old = time.time() - STALE_TEMPORARY_SECONDS
    for shard in _listing(folder):
        if not shard.is_dir(follow_symlinks=False):
            continue
        for entry in _listing(Path(shard.path)):
            if _ENTRY_RE.fullmatch(entry.name):
                doomed = entry.name not in kept
            else:
                doomed = bool(_TEMPORARY_RE.fullmatch(entry.name)) and _modified(entry) < old
            if doomed and not entry.is_dir(follow_symlinks=False):
                removed += _remove(entry.path)
    return removed


def _listing(folder: Path) -> list[os.DirEntry[str]]:
    if folder.is_symlink():
        return []
    try:
        with os.scandir(folder) as found:
            return list(found)
    except OSError:
        return []


def _modified(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return time.time()


def _remove(path: str) -> int:
    try:
        os.unlink(path)  # a symbolic link itself, never what it points to
        return 1
    except OSError:
        return 0
