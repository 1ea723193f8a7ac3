"""Write `.apkg` files with genanki: per-note `mod` times and byte-identical output.

In:  compiled topics, the note types, `mod` times from the lock file, and media file paths.
Out: the bytes of an `.apkg` (the caller writes them atomically).

genanki stamps one timestamp on every note, card and note type and zips with wall-clock file
times; both would break updates or reproducibility, so notes and note types take their own
`mod`, ids are derived from those times, and the zip is written with fixed entry times in a
fixed order. This is the only module that imports genanki.
"""
from __future__ import annotations

import functools
import io
import itertools
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# genanki decorates one method with the `cached_property` backport, which imports asyncio for
# coroutine support genanki does not use: 13 ms of a 0.5 s one-note edit. The standard library's
# functools.cached_property is the same descriptor for a plain method, and stands in for the
# backport unless something loaded the backport already.
if "cached_property" not in sys.modules:
    sys.modules["cached_property"] = _stand_in = types.ModuleType("cached_property", "functools.cached_property, for genanki")
    _stand_in.cached_property = functools.cached_property  # type: ignore[attr-defined]
import genanki

from deckgen.anki.notetypes import NoteType, deck_number
from deckgen.records import CompiledTopic, NoteKind
from deckgen.runtime.keys import key_for
from deckgen.runtime.keys import package_key as _package_key
from deckgen.syntax import CLOZE_OPEN_RE

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PARALLEL_MIN_NOTES = 2000
FILE_MIN_NOTES = 20_000  # a collection this big is written to a file, not kept in memory


class _Model(genanki.Model):
    def __init__(self, notetype: NoteType, mod: int):
        super().__init__(
            model_id=notetype.id,
            name=notetype.name,
            # Ids pair fields and templates on import (Anki 2.1.67+), so names can change.
            fields=[{"name": f, "id": i} for f, i in zip(notetype.fields, notetype.field_ids, strict=True)],
            templates=[{"name": n, "qfmt": q, "afmt": a, "id": i} for (n, q, a), i in zip(notetype.templates, notetype.template_ids, strict=True)],
            css=notetype.css,
            model_type=genanki.Model.CLOZE if notetype.kind is NoteKind.CLOZE else genanki.Model.FRONT_BACK,
            sort_field_index=0,
        )
        self.mod = mod

    def to_json(self, timestamp, deck_id):
        return super().to_json(self.mod, deck_id)


class _Deck(genanki.Deck):
    """A genanki deck whose notes are written with one `executemany` per table, or copied from
    the collection of the deck's own package.

    genanki writes a note with two `execute` calls after validating its tags and scanning its
    fields for stray HTML, which is most of the packaging time at 10,000 notes; our fields are
    generated HTML and our tags are validated by the parser, so the rows are built directly,
    exactly as genanki builds them (same ids, columns and card ords).

    A deck whose one-deck package was built from the same inputs (`source`, that package's
    collection) has those rows already: only their ids differ, by one number, since both count
    up from their package's first id. They are copied by sqlite with the ids moved, in the same
    order, so the package has the same bytes either way (tests/test_package_file.py).
    """

    def __init__(self, deck_id: int, name: str, description: str, source: bytes | memoryview | None = None):
        super().__init__(deck_id, name, description)
        self.rows: list[tuple] = []  # (mod, guid, model, fields, tags, due)
        self.source = source

    def add_row(self, row: tuple) -> None:
        self.rows.append(row)

    def write_to_db(self, cursor, timestamp, id_gen):
        if self.source is not None:  # before this deck's transaction starts: sqlite refuses to replace a database in use
            cursor.connection.deserialize(self.source, name=_SOURCE)
        super().write_to_db(cursor, timestamp, id_gen)  # the deck and model JSON; self.notes is empty
        if self.source is not None:
            _copy_rows(cursor, id_gen)
        else:
            _insert_rows(cursor, self.rows, self.deck_id, id_gen)
        # One transaction per deck, whichever way its rows came: the number of transactions is in
        # the file's header.
        cursor.connection.commit()


_SOURCE = "source"  # the schema a deck's own collection is attached as while its rows are copied
_NOTE_COLUMNS = "guid, mid, mod, usn, tags, flds, sfld, csum, flags, data"
_CARD_COLUMNS = "did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue, odid, flags, data"


def _insert_rows(cursor, rows: list[tuple], deck_id: int, id_gen) -> None:
    cards = []

    def notes():  # a generator: each note's joined fields exist only until sqlite has them
        for mod, guid, model, fields, tags, due in rows:
            note_id = next(id_gen)
            yield (note_id, guid, model.model_id, mod, -1, f" {' '.join(tags)} ", "\x1f".join(fields), fields[model.sort_field_index], 0, 0, "")
            for ord_ in _card_ords(model, fields):
                cards.append((next(id_gen), note_id, deck_id, ord_, mod, -1, 0, 0, due, 0, 0, 0, 0, 0, 0, 0, 0, ""))

    cursor.executemany("INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?);", notes())
    cursor.executemany("INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);", cards)


def _copy_rows(cursor, id_gen) -> None:
    """The notes and cards of the attached one-deck collection, their ids taken from `id_gen`."""
    first, count = cursor.execute(f"SELECT min(id), count(*) + (SELECT count(*) FROM {_SOURCE}.cards) FROM {_SOURCE}.notes").fetchone()
    if not count:
        return
    shift = next(id_gen) - first
    if count > 1:
        next(itertools.islice(id_gen, count - 2, None))  # the other ids the copied rows hold
    cursor.execute(f"INSERT INTO notes SELECT id + ?1, {_NOTE_COLUMNS} FROM {_SOURCE}.notes ORDER BY id", (shift,))
    cursor.execute(f"INSERT INTO cards SELECT id + ?1, nid + ?1, {_CARD_COLUMNS} FROM {_SOURCE}.cards ORDER BY id", (shift,))


# Every deletion opener counts, nested ones too (`{{c1::a {{c2::b}}}}` makes cards 1 and 2, as in
# Anki); genanki's own pattern stops at the first `}}` and loses the inner deletion's card.


def _card_ords(model: _Model, fields: tuple[str, ...]):
    """The cards genanki makes for a note (genanki.Note._front_back_cards / _cloze_cards)."""
    if model.model_type == genanki.Model.CLOZE:
        return sorted({int(m) - 1 for m in CLOZE_OPEN_RE.findall(fields[0]) if int(m) > 0})
    return [o for o, kind, required in model._req if (any if kind == "any" else all)(fields[i] for i in required)]


def package_keys(outputs: dict[str, list[CompiledTopic]], notetypes: dict[NoteKind, NoteType], note_hashes: dict[str, str], stamps: Stamps) -> dict[str, str]:
    """Everything the bytes of each package depend on: equal keys, equal bytes.

    `note_hashes` are the hashes of each note's type, fields and tags as packaged; media names
    are content-hashed, so the names stand for the files. Each topic is hashed once, and a
    package is keyed by the hashes of its topics: the package of all topics costs no second
    pass over every note.
    """
    note_mods, type_mods = stamps.note_mods, stamps.type_mods
    types = sorted((kind.value, nt.content_hash, type_mods[kind.value]) for kind, nt in notetypes.items())
    topic_hashes: dict[str, str] = {}

    def topic_hash(t: CompiledTopic) -> str:
        if t.deck_id not in topic_hashes:
            notes = [(n.key, stamps.guids[n.key], note_hashes[n.key], n.tags, n.media, note_mods[n.key]) for n in t.notes]
            topic_hashes[t.deck_id] = key_for(t.deck_name, t.description, notes)
        return topic_hashes[t.deck_id]

    return {name: _package_key([topic_hash(t) for t in topics], types) for name, topics in outputs.items()}


@dataclass(frozen=True)
class Stamps:
    """What the lock file decides for a package: each note's GUID and mod, each note type's mod."""

    guids: dict[str, str]  # note key -> GUID
    note_mods: dict[str, int]
    type_mods: dict[str, int]


class Collections(Protocol):
    """The collections of one-topic packages, kept between builds by the caller (builder/store),
    each under the key of its package: what the package of all topics copies its rows from."""

    def get(self, deck_id: str) -> bytes | memoryview | None: ...

    def put(self, deck_id: str, collection: bytes) -> None: ...


def build_packages(outputs: dict[str, list[CompiledTopic]], notetypes, stamps: Stamps, media: dict[str, Path], jobs: int = 0,
                   scratch: Path | None = None, collections: Collections | None = None) -> dict[str, bytes]:
    """Build every package; the biggest (the one holding all topics) is built in a second process
    when the others hold about as many notes, as in a full build. When they hold few (a rebuild
    after an edit), forking would cost more than it saves: the packages of one topic are built
    first, then the package of all topics copies their rows, and those of the unchanged topics
    from `collections`. `scratch`: a folder for the collections of big packages while they are
    written (see `_collection`)."""
    sizes = {name: sum(len(t.notes) for t in topics) for name, topics in outputs.items()}
    biggest = max(sizes, key=lambda name: sizes[name], default=None)
    workers = jobs or os.cpu_count() or 1
    args = (notetypes, stamps, media, scratch, collections)
    if workers < 2 or biggest is None or sum(sizes.values()) - sizes[biggest] < PARALLEL_MIN_NOTES:
        built = {name: build_package(topics, *args) for name, topics in outputs.items() if name != biggest}
        if biggest is not None:
            built[biggest] = build_package(outputs[biggest], *args)
        return {name: built[name] for name in outputs}
    import multiprocessing

    # One forked process and a pipe: a Pool of one costs three times as long to start and stop.
    # It builds from the notes: the collections it could copy are being built beside it.
    context = multiprocessing.get_context("fork")
    link, child_link = context.Pipe(duplex=False)
    child = context.Process(target=_build_and_send, args=(child_link, outputs[biggest], os.getpid(), *args[:-1]), daemon=True)
    child.start()
    child_link.close()
    try:
        built = {name: build_package(topics, *args) for name, topics in outputs.items() if name != biggest}
        try:
            outcome, value = link.recv()
        except EOFError:  # the process died (killed, out of memory): build it here, and see why
            outcome, value = "ok", build_package(outputs[biggest], *args)
        if outcome != "ok":
            raise value
        built[biggest] = value
    finally:
        link.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
    return {name: built[name] for name in outputs}


def _build_and_send(link: Connection, topics: list[CompiledTopic], parent: int, *args: Any) -> None:
    from deckgen.runtime.isolation import die_with_parent

    die_with_parent(parent)
    try:
        link.send(("ok", build_package(topics, *args)))
    except BaseException as exc:  # raised again in the parent, where the build reports it
        link.send(("error", exc))
    finally:
        link.close()


def build_package(topics: list[CompiledTopic], notetypes: dict[NoteKind, NoteType], stamps: Stamps, media: dict[str, Path],
                  scratch: Path | None = None, collections: Collections | None = None) -> bytes:
    """One package holding `topics` as decks; `media` maps file names to files on disk. The
    collection of a one-topic package is given to `collections`; a package of several topics
    copies the rows of each topic whose collection `collections` has."""
    note_mods, type_mods = stamps.note_mods, stamps.type_mods
    models = {kind: _Model(nt, type_mods[kind.value]) for kind, nt in notetypes.items()}
    decks: list[_Deck] = []
    used_media: set[str] = set()
    for topic in topics:
        source = collections.get(topic.deck_id) if collections is not None and len(topics) > 1 else None
        deck = _Deck(deck_number(topic.deck_name), topic.deck_name, _description(topic.description), source)
        for position, note in enumerate(topic.notes):
            model = models[note.kind]
            deck.add_model(model)  # as genanki does for each note: the package holds the note types its notes use
            if source is None:
                deck.add_row((note_mods[note.key], stamps.guids[note.key], model, note.fields, note.tags, position))
            used_media.update(note.media)
        decks.append(deck)
    # Ids and the collection's own times come from the newest change in *this* package, so a
    # package whose notes did not change keeps its bytes.
    newest = max([*(note_mods[n.key] for t in topics for n in t.notes), *type_mods.values(), 1])
    in_file = scratch is not None and sum(len(t.notes) for t in topics) >= FILE_MIN_NOTES
    package, collection = _zip(genanki.Package(decks), newest, {name: media[name] for name in sorted(used_media)}, scratch if in_file else None)
    if collections is not None and len(topics) == 1 and collection:
        collections.put(topics[0].deck_id, collection)
    return package


def _description(text: str) -> str:
    return text.replace("\n", "<br>") if text else ""


def _zip(package: genanki.Package, timestamp: int, media: dict[str, Path], scratch: Path | None) -> tuple[bytes, bytes]:
    """The package's bytes, and its collection's when it was written in memory (b"" otherwise)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        if scratch is None:
            collection = _collection(package, timestamp, ":memory:")
            _add(z, "collection.anki2", collection)
        else:
            collection = b""
            with tempfile.TemporaryDirectory(dir=scratch, prefix=".package-") as folder:
                path = Path(folder) / "collection.anki2"
                _collection(package, timestamp, str(path))
                with path.open("rb") as source, z.open(_info("collection.anki2"), "w") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
        names = list(media)
        _add(z, "media", json.dumps({str(i): name for i, name in enumerate(names)}).encode())
        for i, name in enumerate(names):
            _add(z, str(i), media[name].read_bytes())
    return out.getvalue(), collection


def _collection(package: genanki.Package, timestamp: int, where: str) -> bytes:
    """Write the collection database at `where` (":memory:" for its bytes). A big collection goes
    to a file: in memory, it and its serialized copy were 330 MB at 100,000 notes. Without a journal
    or syncs, a file costs no more than memory (genanki's executescript commits each time)."""
    conn = sqlite3.connect(where)
    try:
        # 64 KiB pages (sqlite's largest; Anki reads any): all.apkg of 10,000 notes is written
        # and compressed in 85 ms instead of 100, and compresses 8 % smaller.
        conn.execute("PRAGMA page_size = 65536")
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        if any(deck.source is not None for deck in package.decks):
            conn.execute(f"ATTACH ':memory:' AS {_SOURCE}")
        # Ids come from the newest mod, not the clock, so the same inputs give the same bytes.
        package.write_to_db(conn.cursor(), timestamp, itertools.count(timestamp * 1000))
        conn.commit()
        return conn.serialize() if where == ":memory:" else b""
    finally:
        conn.close()


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    # Level 1: half the time of the default level on the collection of 10,000 notes, for a package
    # 30 % larger (1.6 MB); the flagship's all.apkg, mostly figures, grows 9 % (to 1.7 MB). (A
    # ZipInfo's level has no public name before Python 3.13.)
    info._compresslevel = 1  # type: ignore[attr-defined]
    return info


def _add(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    z.writestr(_info(name), data)
