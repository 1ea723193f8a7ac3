"""`deckgen diff --against FILE`: a dry run of Anki's import of today's build.

In:  the project, and what the user has: a package they imported earlier, or their collection
     exported from Anki (`.colpkg`, or `.apkg` with all notes).
Out: per deck, what importing today's package will do (anki/importing.py): notes added,
     updated, unchanged, skipped as conflicting and why, the user's edits in Anki that the update
     overwrites or that keep it out, cards that stay in another deck, and notes of the user's
     that are no longer in the sources. Nothing is written: the package is built in memory.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from deckgen.anki import collection, importing
from deckgen.anki.notetypes import NOTETYPE_IDS
from deckgen.config import ALL_PACKAGE, BuildConfig
from deckgen.errors import BuildFailed, ContentError
from deckgen.records import Location
from deckgen.report import moved_search, note_search, plural


@dataclass
class DeckDiff:
    deck: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicting: list[tuple[str, str]] = field(default_factory=list)  # (note, why)
    overwrites_edits: list[str] = field(default_factory=list)  # updated notes the user had edited in Anki
    edits_kept: list[str] = field(default_factory=list)  # unchanged: the user's edit is newer than this version
    elsewhere: list[tuple[str, str, int]] = field(default_factory=list)  # (note, deck its cards stay in, cards)
    gone: list[str] = field(default_factory=list)  # in the user's collection, no longer in the sources
    new_cards_of_existing: int = 0  # cards the import adds to notes the user already has


@dataclass(frozen=True)
class DiffResult:
    against: str
    package: str
    decks: tuple[DeckDiff, ...]
    notetypes: tuple[importing.NotetypeOutcome, ...]
    topics: dict[str, str]  # deck name -> its topic's deck id (for searches)

    def summary(self) -> dict[str, int]:
        names = ("added", "updated", "unchanged", "conflicting", "overwrites_edits", "edits_kept", "elsewhere", "gone")
        return {name: sum(len(getattr(deck, name)) for deck in self.decks) for name in names}

    def as_json(self) -> dict:
        return {
            "against": self.against,
            "package": self.package,
            "summary": self.summary(),
            "notetypes": [dataclasses.asdict(nt) for nt in self.notetypes],
            "decks": [
                {
                    "deck": d.deck,
                    "added": d.added,
                    "updated": d.updated,
                    "unchanged": d.unchanged,
                    "conflicting": [{"note": key, "why": why} for key, why in d.conflicting],
                    "overwrites_edits": d.overwrites_edits,
                    "edits_kept": d.edits_kept,
                    "elsewhere": [{"note": key, "deck": deck, "cards": cards} for key, deck, cards in d.elsewhere],
                    "gone": d.gone,
                    "new_cards_of_existing": d.new_cards_of_existing,
                }
                for d in self.decks
            ],
        }


def diff(config: BuildConfig, against: Path, package: str = ALL_PACKAGE) -> DiffResult:
    from deckgen.builder import output, store
    from deckgen.builder.inputs import read_inputs
    from deckgen.builder.pipeline import gather

    mine = collection.read(against, str(against))
    with output.exclusive(config):
        inputs = read_inputs(config)
        gathered = gather(config, inputs, store.load_state(config.cache_dir))
        planned = output.plan(config, gathered)
    name = f"{package}.apkg"
    if name not in planned.outputs:
        known = ", ".join(sorted(n.removesuffix(".apkg") for n in planned.outputs))
        raise BuildFailed([ContentError(Location("--package"), f"today's build has no package '{package}'", f"give one of: {known}")])
    theirs = collection.read_bytes(planned.package(name, gathered.media_files))
    lock = planned.lock.lock
    published = {entry.guid: entry.published_mods() for entry in lock.notes.values()}
    prediction = importing.predict(mine, theirs, published)
    decks: dict[str, DeckDiff] = {}

    def deck_of(deck_name: str) -> DeckDiff:
        return decks.setdefault(deck_name, DeckDiff(deck_name))

    for outcome in prediction.notes:
        deck = deck_of(outcome.deck)
        if outcome.action == "conflicting":
            deck.conflicting.append((outcome.key, outcome.why))
        else:
            getattr(deck, outcome.action).append(outcome.key)
        if outcome.overwrites_edit:
            deck.overwrites_edits.append(outcome.key)
        if outcome.edit_kept:
            deck.edits_kept.append(outcome.key)
        deck.elsewhere += [(outcome.key, other, count) for other, count in outcome.elsewhere]
        if outcome.action != "added":
            deck.new_cards_of_existing += outcome.new_cards
    live = {entry.guid for entry in lock.notes.values() if not entry.removed}
    ours = set(NOTETYPE_IDS.values())
    for note in mine.notes.values():
        notetype = mine.notetypes.get(note.notetype_id)
        deckgen_note = note.guid in published or note.notetype_id in ours or (notetype is not None and notetype.original_id in ours)
        if deckgen_note and note.guid not in live:
            cards = mine.cards_of(note.id)
            where = mine.decks.get(cards[0].deck_id, "?") if cards else "?"
            deck_of(where).gone.append(note.fields[-1] if note.fields else note.guid)
    topics = {topic.deck_name: topic.deck_id for topic in gathered.topics}
    return DiffResult(str(against), name, tuple(decks[d] for d in sorted(decks)), prediction.notetypes, topics)


def format_text(result: DiffResult) -> str:
    lines = [f"importing {result.package} (today's build, not written) into {result.against}:"]
    for nt in result.notetypes:
        if nt.action != "unchanged":
            lines.append(f"  note type '{nt.name}': {nt.action}" + (f" — {nt.why}" if nt.why else ""))
    for deck in result.decks:
        lines.append(deck.deck)
        lines += [f"  + {key}  added" for key in deck.added]
        edits = set(deck.overwrites_edits)
        lines += [f"  ~ {key}  updated" + ("; this overwrites your edits in Anki (fields or tags) with the deck's version" if key in edits else "") for key in deck.updated]
        kept = set(deck.edits_kept)
        lines += [f"  · {key}  not updated: your edit in Anki is newer than this version, so you keep yours and do not get it" for key in deck.unchanged if key in kept]
        rest = len(deck.unchanged) - len(kept)
        if rest:
            lines.append(f"  = {plural(rest, 'note')} unchanged")
        lines += [f"  ! {key}  skipped as conflicting: {why}" for key, why in deck.conflicting]
        if deck.elsewhere:
            olds = sorted({other for _, other, _ in deck.elsewhere})
            cards = sum(count for _, _, count in deck.elsewhere)
            topic = result.topics.get(deck.deck) or deck.elsewhere[0][0].split("/", 1)[0]
            lines.append(f"  → {plural(cards, 'card')} of {plural(len({k for k, _, _ in deck.elsewhere}), 'note')} stay in {', '.join(olds)} (Anki's import never moves existing cards): search  {moved_search(topic, deck.deck)}  in Anki's browser, select all, Change Deck → {deck.deck}")
        if deck.new_cards_of_existing:
            lines.append(f"  + {plural(deck.new_cards_of_existing, 'new card')} of notes you have go to {deck.deck}")
        lines += [f"  - {key}  no longer in the sources: import never deletes it; it stays with its review history (to delete it, and its history with it, search  {note_search(key)})" for key in deck.gone]
    s = result.summary()
    lines.append(
        f"{s['added']} added, {s['updated']} updated ({s['overwrites_edits']} overwriting your edits), {s['unchanged']} unchanged ({s['edits_kept']} keeping your newer edit), "
        f"{s['conflicting']} conflicting, {s['elsewhere']} with cards in another deck, {s['gone']} no longer in the sources"
    )
    return "\n".join(lines)
