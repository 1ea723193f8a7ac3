"""Identity checks across topics: what would make Anki merge decks or duplicate notes.

In:  every topic of the build (parsed, or compiled from the cache).
Out: errors at the front matter key or the note to edit: a deck id, deck name or note id used
     twice. (A note's GUID follows its id, recorded in deckgen.lock, so changing a topic's
     `id:` or moving a note to another topic keeps every note's history: anki/lockfile.py.)
"""
from __future__ import annotations

import unicodedata

from deckgen.config import BuildConfig
from deckgen.errors import ErrorList
from deckgen.records import CompiledTopic, Location, Topic
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
