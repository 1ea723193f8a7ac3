"""Identity checks across topics: what would make Anki merge decks or duplicate notes.

In:  every topic of the build (parsed, or compiled from the cache) and the lock file.
Out: errors at the front matter key or the note to edit: a deck id, deck name or note id used
     twice, or a deck id that changed while its notes stayed.
"""
from __future__ import annotations

import unicodedata
from collections import Counter

from deckgen.anki import lockfile
from deckgen.config import BuildConfig
from deckgen.errors import ErrorList
from deckgen.records import CompiledTopic, Location, Note, RenderedNote, Topic
from deckgen.source.frontmatter import key_line

AnyTopic = Topic | CompiledTopic


def check_unique(config: BuildConfig, topics: list[AnyTopic], errors: ErrorList) -> None:
    """Deck ids, deck names and note ids must be unique; a clash is reported in the later file by
    path, whether the topics came from the cache or not."""
    deck_ids: dict[str, tuple[Location, str]] = {}
    deck_names: dict[str, tuple[Location, str]] = {}
    note_ids: dict[str, Location] = {}
    for topic in sorted(topics, key=lambda t: t.location.path):
        for seen, value, key, what in ((deck_ids, topic.deck_id, "id", "deck id"), (deck_names, topic.deck_name, "deck", "deck name")):
            # Anki matches deck names ignoring case (and Unicode normalisation): two such decks merge.
            folded = unicodedata.normalize("NFC", value).casefold()
            if folded in seen:
                where, other = seen[folded]
                also = f" ('{other}': Anki ignores case)" if other != value else ""
                errors.add(key_location(config, topic, key), f"{what} '{value}' is also used by {where.path}{also}", f"give each topic its own {what}")
            else:
                seen[folded] = (topic.location, value)
        for note in topic.notes:
            note_id = note.note_id
            if note_id in note_ids:
                errors.add(note.location, f"note id '{note_id}' is also used at {note_ids[note_id]}", "note ids must be unique across all topics; rename one")
            else:
                note_ids[note_id] = note.location


def key_location(config: BuildConfig, topic: AnyTopic, key: str) -> Location:
    """The line of a front matter key, read again from the file (only when reporting an error)."""
    return Location(topic.location.path, key_line((config.root / topic.location.path).read_bytes(), key))


def check_deck_ids_kept(config: BuildConfig, topics: list[AnyTopic], errors: ErrorList) -> None:
    """A new deck id holding the notes of a deck id that is gone: the author changed `id:`.

    Every GUID derives from the deck id, so Anki would import all those notes as new ones and
    keep the old ones, with their review history, as duplicates.
    """
    old_keys = lockfile.load(config.lock_path).get("notes", {})
    current = {topic.deck_id for topic in topics}
    old_decks = {key.split("/", 1)[0] for key in old_keys}
    gone = {note_id: deck for deck, _, note_id in (key.partition("/") for key in old_keys) if deck not in current}
    for topic in topics:
        if topic.deck_id in old_decks:
            continue
        moved = Counter(gone[_note_id(note)] for note in topic.notes if _note_id(note) in gone)
        if moved:
            old, count = moved.most_common(1)[0]
            errors.add(
                key_location(config, topic, "id"),
                f"the deck id changed from '{old}' to '{topic.deck_id}': Anki would add its {count} notes again as new ones, and the old ones would keep their review history as duplicates",
                f"keep 'id: {old}' (change 'deck:' to rename the deck); to start over on purpose, first delete the '{old}/…' entries from {config.display(config.lock_path)}",
            )


def _note_id(note: Note | RenderedNote) -> str:
    return note.note_id
