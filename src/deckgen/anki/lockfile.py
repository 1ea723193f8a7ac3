"""The lock file: when each note and note type last changed, kept in the repository.

In:  the rendered notes and note types of this build, and `deckgen.lock` from the last build.
Out: each note's and note type's `mod` time, the new lock content, and what changed per deck.

Why it exists (see anki-facts): Anki updates an existing note on re-import only if the incoming
`mod` is newer than the one it has. An unchanged note must keep its old `mod` (so the user's own
edits are not overwritten and builds are reproducible); a changed one must get a newer one. The
wall clock is read only here, and only for notes whose content changed.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from deckgen.errors import BuildFailed, ContentError
from deckgen.records import DeckChanges, Location, RenderedNote

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockResult:
    note_mods: dict[str, int]
    notetype_mods: dict[str, int]
    data: dict  # the new lock file content
    changes: tuple[DeckChanges, ...]


def note_hash(note: RenderedNote) -> str:
    """What the user sees of a note: its note type, fields and tags."""
    text = json.dumps([note.kind.value, note.fields, sorted(note.tags)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load(path: Path) -> dict:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": LOCK_VERSION, "notetypes": {}, "notes": {}}
    try:
        data = json.loads(raw)
        if data.get("version") != LOCK_VERSION or not isinstance(data.get("notes"), dict):
            raise ValueError("unknown layout")
    except (ValueError, AttributeError) as exc:
        raise BuildFailed([ContentError(
            Location(path.name, 1),
            f"the lock file is unreadable ({exc})",
            "restore it from version control (git checkout -- deckgen.lock); deleting it makes the next import re-send every note",
        )]) from None
    data.setdefault("notetypes", {})
    return data


def dumps(data: dict) -> str:
    """Sorted JSON with one note per line: readable diffs in review, and json's C encoder per
    line (an indented dump runs json's pure-Python encoder: 0.13 s at 10,000 notes)."""

    def compact(value) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def block(mapping: dict) -> str:
        rows = [f"  {compact(key)}: {compact(mapping[key])}" for key in sorted(mapping)]
        return "{\n" + ",\n".join(rows) + "\n }" if rows else "{}"

    extra = [f" {compact(key)}: {compact(data[key])}," for key in sorted(data) if key not in ("notes", "notetypes")]
    return "\n".join(["{", *extra, f' "notetypes": {block(data["notetypes"])},', f' "notes": {block(data["notes"])}', "}"]) + "\n"


def update(old: dict, notes: list[tuple[str, RenderedNote]], notetype_hashes: dict[str, str], now: int | None = None) -> LockResult:
    """`notes` pairs each rendered note with its deck name."""
    now = int(time.time()) if now is None else now
    old_notes, old_types = old.get("notes", {}), old.get("notetypes", {})
    new_notes: dict[str, dict] = {}
    mods: dict[str, int] = {}
    per_deck: dict[str, dict[str, list[str]]] = {}

    def bucket(deck: str) -> dict[str, list[str]]:
        return per_deck.setdefault(deck, {"added": [], "changed": [], "removed": []})

    for deck, note in notes:
        digest = note_hash(note)
        previous = old_notes.get(note.key)
        if previous and previous.get("hash") == digest:
            mod = int(previous["mod"])
        else:
            mod = _newer(now, previous)
            bucket(deck)["changed" if previous else "added"].append(note.key)
        mods[note.key] = mod
        new_notes[note.key] = {"deck": deck, "hash": digest, "mod": mod}
    for key, previous in old_notes.items():
        if key not in new_notes:
            bucket(previous.get("deck", "?"))["removed"].append(key)

    type_mods, new_types = {}, {}
    for name, digest in notetype_hashes.items():
        previous = old_types.get(name)
        mod = int(previous["mod"]) if previous and previous.get("hash") == digest else _newer(now, previous)
        type_mods[name] = mod
        new_types[name] = {"hash": digest, "mod": mod}

    changes = tuple(
        DeckChanges(deck, tuple(b["added"]), tuple(b["changed"]), tuple(sorted(b["removed"])))
        for deck, b in sorted(per_deck.items())
    )
    data = {"version": LOCK_VERSION, "notetypes": new_types, "notes": new_notes}
    return LockResult(mods, type_mods, data, changes)


def _newer(now: int, previous: dict | None) -> int:
    """Now, but always later than the previous mod, so Anki sees the note as newer."""
    return max(now, int(previous["mod"]) + 1) if previous else now
