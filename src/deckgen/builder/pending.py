"""The change report of a build that is writing, kept until it has finished.

In:  the report a build is about to make true, and the digest of the lock file it writes.
Out: `.deckgen-cache/pending.json` while the build replaces dist/ and deckgen.lock; the next
     build merges it into its own report when that lock file is the current one (the build was
     killed after replacing it, before it could print what changed), and deletes it.

Without it, a build killed after the lock was replaced would leave the next build with nothing to
report ("no note changed"), and the list of notes removed, moved or changed would be lost.
"""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from deckgen.records import BuildReport, DeckChanges
from deckgen.runtime.cache import atomic_write

PENDING = "pending.json"
_VERSION = 1


def write(cache_dir: Path, lock_sha: str, report: BuildReport) -> None:
    data = {"version": _VERSION, "lock": lock_sha, "changes": [asdict(deck) for deck in report.changes], "notices": list(report.notices)}
    atomic_write(cache_dir / PENDING, json.dumps(data, ensure_ascii=False, sort_keys=True).encode())


def read(cache_dir: Path, lock_sha: str) -> BuildReport | None:
    """The pending report whose lock file is `lock_sha`, else None (a damaged file is none)."""
    try:
        data = json.loads((cache_dir / PENDING).read_text(encoding="utf-8"))
        if data.get("version") != _VERSION or data.get("lock") != lock_sha or not lock_sha:
            return None
        changes = tuple(_deck(item) for item in data["changes"])
        return BuildReport((), (), changes, 0, notices=tuple(data["notices"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear(cache_dir: Path) -> None:
    (cache_dir / PENDING).unlink(missing_ok=True)


def merged(earlier: BuildReport, report: BuildReport) -> BuildReport:
    """`report` with the changes of `earlier` first, each note once per deck and kind of change."""
    decks: dict[str, DeckChanges] = {deck.deck_name: deck for deck in earlier.changes}
    for deck in report.changes:
        old = decks.get(deck.deck_name)
        if old is None:
            decks[deck.deck_name] = deck
            continue
        decks[deck.deck_name] = DeckChanges(
            deck.deck_name,
            added=_union(old.added, deck.added),
            changed=tuple(key for key in _union(old.changed, deck.changed) if key not in old.added),
            removed=_union(old.removed, deck.removed),
            reasons=_union(old.reasons, deck.reasons),
            moved_in=_union(old.moved_in, deck.moved_in),
            renamed_from=old.renamed_from or deck.renamed_from,
            topic=old.topic or deck.topic,
        )
    changes = tuple(decks[name] for name in sorted(decks))
    notices = tuple(dict.fromkeys((*earlier.notices, *report.notices)))
    return replace(report, changes=changes, notices=notices)


def _union(first: tuple, second: tuple) -> tuple:
    return tuple(dict.fromkeys((*first, *second)))


def _deck(item: dict) -> DeckChanges:
    pairs = {name: tuple(tuple(pair) for pair in item[name]) for name in ("reasons", "moved_in")}
    return DeckChanges(item["deck_name"], tuple(item["added"]), tuple(item["changed"]), tuple(item["removed"]), pairs["reasons"], pairs["moved_in"], item["renamed_from"], item["topic"])
