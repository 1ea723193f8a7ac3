"""What Anki's import of a package will do to a collection, by Anki's own rules, without Anki.

In:  the user's `Collection` (anki/collection.py), the package's, and the mods deckgen published
     for each GUID (from deckgen.lock), with the desktop's default options: update notes and note
     types *if newer*, merge note types off.
Out: a `Prediction`: per note added, updated, unchanged or conflicting (and why), whether an
     update overwrites an edit the user made in Anki or the user's newer edit keeps it out, the
     cards that stay in another deck, the cards the import adds; per note type added, updated,
     unchanged or copied.

The rules, as rslib implements them (import_export/package/apkg/import, Anki 23.10+; the tests
compare every prediction with what Anki's engine then does):
- A note type is matched by id. Its schema matches when the field and template counts agree and
  each pair matches by id when both have one, else by name. A match is updated when the
  incoming `mod` is newer. A mismatch reuses a copy an earlier import made (same original id,
  matching schema) or adds a new copy; the package's notes then use the copy.
- A note is matched by GUID. If its note type (after that remapping) differs from the existing
  note's, it is *conflicting*: not updated, and none of its cards imported. Else it is updated
  when the incoming `mod` is newer, and left alone otherwise.
- Cards of new, updated and unchanged notes whose template number the note does not have yet are
  added, in the package's deck; existing cards never move. Decks are matched by name.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

from deckgen.anki.collection import Collection, Note, Notetype

COPY = -1  # the id of a note type copy the import will add


@dataclass(frozen=True)
class NoteOutcome:
    guid: str
    key: str  # deckgen's "deck id/note id" (the Meta field), else the GUID
    deck: str  # the deck the package puts its cards in
    action: str  # "added", "updated", "unchanged" or "conflicting"
    why: str = ""  # for "conflicting"
    overwrites_edit: bool = False  # updated, and the user had edited it in Anki
    edit_kept: bool = False  # unchanged because the user's edit in Anki is newer than this version
    elsewhere: tuple[tuple[str, int], ...] = ()  # (deck, cards) of its cards in other decks, which stay there
    new_cards: int = 0  # cards the import adds for it


@dataclass(frozen=True)
class NotetypeOutcome:
    id: int
    name: str
    action: str  # "added", "updated", "unchanged" or "copied"
    why: str = ""


@dataclass(frozen=True)
class Prediction:
    notes: tuple[NoteOutcome, ...]
    notetypes: tuple[NotetypeOutcome, ...]


def predict(mine: Collection, package: Collection, published: dict[str, set[int]]) -> Prediction:
    """`published`: GUID -> every mod deckgen gave that note (anything else is an edit in Anki)."""
    remap, notetypes = _notetypes(mine, package)
    outcomes = [_note(mine, package, note, remap, published) for note in package.notes.values()]
    return Prediction(tuple(outcomes), tuple(notetypes))


def equal_schema(a: Notetype, b: Notetype) -> bool:
    return len(a.fields) == len(b.fields) and len(a.templates) == len(b.templates) and all(
        _match(x, y) for x, y in (*zip(a.fields, b.fields, strict=True), *zip(a.templates, b.templates, strict=True))
    )


def _match(a: tuple[str, int | None], b: tuple[str, int | None]) -> bool:
    if a[1] is not None and b[1] is not None:
        return a[1] == b[1]
    return a[0] == b[0]


def _notetypes(mine: Collection, package: Collection) -> tuple[dict[int, int], list[NotetypeOutcome]]:
    remap: dict[int, int] = {}
    outcomes = []
    for incoming in package.notetypes.values():
        existing = mine.notetypes.get(incoming.id)
        if existing is None:
            outcomes.append(NotetypeOutcome(incoming.id, incoming.name, "added"))
            continue
        if equal_schema(existing, incoming):
            outcomes.append(NotetypeOutcome(incoming.id, incoming.name, "updated" if incoming.mod > existing.mod else "unchanged"))
            continue
        why = f"its fields or templates ({_schema_text(incoming)}) do not match your '{existing.name}' ({_schema_text(existing)})"
        copy = next((nt for nt in mine.notetypes.values() if nt.id != incoming.id and nt.original_id == incoming.id and equal_schema(nt, incoming)), None)
        if copy is not None:
            remap[incoming.id] = copy.id
            outcomes.append(NotetypeOutcome(incoming.id, incoming.name, "copied", f"{why}: Anki uses the copy '{copy.name}' an earlier import made"))
        else:
            remap[incoming.id] = COPY
            outcomes.append(NotetypeOutcome(incoming.id, incoming.name, "copied", f"{why}: Anki adds a copy of it"))
    return remap, outcomes


def _schema_text(nt: Notetype) -> str:
    return "fields " + ", ".join(name for name, _ in nt.fields) + "; cards " + ", ".join(name for name, _ in nt.templates)


def _note(mine: Collection, package: Collection, note: Note, remap: dict[int, int], published: dict[str, set[int]]) -> NoteOutcome:
    cards = package.cards_of(note.id)
    deck = package.decks.get(cards[0].deck_id, "?") if cards else "?"
    key = note.fields[-1] if package.notetypes.get(note.notetype_id) and package.notetypes[note.notetype_id].fields[-1][0] == "Meta" else note.guid
    existing = mine.notes.get(note.guid)
    if existing is None:
        return NoteOutcome(note.guid, key, deck, "added", new_cards=len(cards))
    notetype_id = remap.get(note.notetype_id, note.notetype_id)
    if notetype_id != existing.notetype_id:
        return NoteOutcome(note.guid, key, deck, "conflicting", _conflict(mine, package, note, existing, remap))
    edited = existing.mod not in published.get(note.guid, {existing.mod})
    have = {card.ord for card in mine.cards_of(existing.id)}
    new_cards = sum(1 for card in cards if card.ord not in have)
    elsewhere = Counter(mine.decks.get(card.deck_id, "?") for card in mine.cards_of(existing.id) if _folded(mine.decks.get(card.deck_id, "?")) != _folded(deck))
    if note.mod > existing.mod:
        changed_by_user = edited and (existing.fields, sorted(existing.tags)) != (note.fields, sorted(note.tags))
        return NoteOutcome(note.guid, key, deck, "updated", overwrites_edit=changed_by_user, elsewhere=tuple(sorted(elsewhere.items())), new_cards=new_cards)
    return NoteOutcome(note.guid, key, deck, "unchanged", edit_kept=edited and existing.mod > note.mod, elsewhere=tuple(sorted(elsewhere.items())), new_cards=new_cards)


def _conflict(mine: Collection, package: Collection, note: Note, existing: Note, remap: dict[int, int]) -> str:
    theirs = package.notetypes[note.notetype_id].name if note.notetype_id in package.notetypes else str(note.notetype_id)
    yours = mine.notetypes[existing.notetype_id].name if existing.notetype_id in mine.notetypes else str(existing.notetype_id)
    if note.notetype_id in remap:
        return f"note type '{theirs}' in the package does not match yours, so Anki imports it as a copy and skips this note, now and on every later import"
    return f"your note has note type '{yours}' and the package's has '{theirs}': Anki skips it, now and on every later import"


def _folded(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()
