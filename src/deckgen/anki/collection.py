"""Read what a user has: the notes, cards, decks and note types of an `.apkg` or `.colpkg`.

In:  a package deckgen wrote (or the user imported earlier), a collection or deck exported from
     Anki (`.colpkg`, `.apkg`: `collection.anki21b`, zstd-compressed, schema 18; or the legacy
     `collection.anki21` / `collection.anki2`, schema 11), or a bare `collection.anki2`.
Out: a `Collection` record: plain data, enough to apply Anki's import rules to (anki/importing.py).

Schema 11 keeps note types and decks as JSON in the `col` table; schema 18 keeps them in tables
whose settings are protobuf messages (proto/anki/notetypes.proto): only the few numbered fields
Anki's import reads are decoded here, by a small reader of the protobuf wire format.
"""
from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path

from deckgen.errors import BuildFailed, ContentError
from deckgen.records import Location

SQLITE_MAGIC = b"SQLite format 3\x00"
# Preferred first: new exports also hold a `collection.anki2` that only asks to update Anki.
COLLECTION_FILES = ("collection.anki21b", "collection.anki21", "collection.anki2")


@dataclass(frozen=True)
class Notetype:
    id: int
    name: str
    mod: int
    cloze: bool
    fields: tuple[tuple[str, int | None], ...]  # (name, id) in order
    templates: tuple[tuple[str, int | None], ...]
    original_id: int | None = None  # for a copy the import made: the id it was imported with


@dataclass(frozen=True)
class Note:
    id: int
    guid: str
    notetype_id: int
    mod: int
    fields: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Card:
    note_id: int
    ord: int
    deck_id: int


@dataclass(frozen=True)
class Collection:
    notes: dict[str, Note]  # by GUID
    cards: tuple[Card, ...]
    decks: dict[int, str]  # deck id -> name ("A::B")
    notetypes: dict[int, Notetype]

    def cards_of(self, note_id: int) -> list[Card]:
        return [card for card in self.cards if card.note_id == note_id]


def read(path: Path, display: str | None = None) -> Collection:
    """The collection inside `path`; BuildFailed with what to do when it is not one."""
    where = Location(display or str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BuildFailed([ContentError(where, f"cannot read it: {exc.strerror or exc}", "give the path of an .apkg or .colpkg file")]) from None
    try:
        return read_bytes(raw)
    except (zipfile.BadZipFile, sqlite3.DatabaseError, KeyError, ValueError) as exc:
        raise BuildFailed([ContentError(where, f"not an Anki package or collection ({exc})", "export your collection from Anki (File → Export → 'Anki Collection Package', or 'Anki Deck Package' with all notes) and give that file")]) from None


def read_bytes(raw: bytes) -> Collection:
    if raw.startswith(SQLITE_MAGIC):
        return _from_sqlite(raw)
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = set(archive.namelist())
        for name in COLLECTION_FILES:
            if name in names:
                data = archive.read(name)
                return _from_sqlite(_unzstd(data) if name.endswith("21b") else data)
    raise ValueError("it holds no collection.anki21b, collection.anki21 or collection.anki2")


def _unzstd(data: bytes) -> bytes:
    import zstandard  # deferred: only newer exports need it

    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
        return reader.read()


def _from_sqlite(data: bytes) -> Collection:
    if data[18:20] == b"\x02\x02":  # a WAL-mode file: sqlite cannot open that from memory
        data = data[:18] + b"\x01\x01" + data[20:]
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        # Anki's tables sort names with its own collation; unknown to sqlite3, so give one.
        conn.create_collation("unicase", lambda a, b: (a.casefold() > b.casefold()) - (a.casefold() < b.casefold()))
        version = conn.execute("select ver from col").fetchone()[0]
        notetypes, decks = (_schema11(conn) if version <= 11 else _schema18(conn))
        notes = {}
        for nid, guid, mid, mod, flds, tags in conn.execute("select id, guid, mid, mod, flds, tags from notes"):
            notes[guid] = Note(nid, guid, mid, mod, tuple(flds.split("\x1f")), tuple(tags.split()))
        cards = tuple(Card(nid, ord_, did) for nid, ord_, did in conn.execute("select nid, ord, did from cards order by id"))
    finally:
        conn.close()
    return Collection(notes, cards, decks, notetypes)


def _schema11(conn: sqlite3.Connection) -> tuple[dict[int, Notetype], dict[int, str]]:
    models_json, decks_json = conn.execute("select models, decks from col").fetchone()
    notetypes = {}
    for value in json.loads(models_json or "{}").values():
        fields = tuple((f["name"], f.get("id")) for f in sorted(value["flds"], key=lambda f: f.get("ord") or 0))
        templates = tuple((t["name"], t.get("id")) for t in sorted(value["tmpls"], key=lambda t: t.get("ord") or 0))
        notetypes[int(value["id"])] = Notetype(int(value["id"]), value["name"], int(value.get("mod", 0)), value.get("type") == 1, fields, templates, value.get("originalId"))
    decks = {int(value["id"]): value["name"] for value in json.loads(decks_json or "{}").values()}
    return notetypes, decks


def _schema18(conn: sqlite3.Connection) -> tuple[dict[int, Notetype], dict[int, str]]:
    fields: dict[int, list[tuple[int, str, int | None]]] = {}
    for ntid, ord_, name, config in conn.execute("select ntid, ord, name, config from fields"):
        fields.setdefault(ntid, []).append((ord_, name, _signed(_proto(config).get(9))))
    templates: dict[int, list[tuple[int, str, int | None]]] = {}
    for ntid, ord_, name, config in conn.execute("select ntid, ord, name, config from templates"):
        templates.setdefault(ntid, []).append((ord_, name, _signed(_proto(config).get(8))))
    notetypes = {}
    for ntid, name, mod, config in conn.execute("select id, name, mtime_secs, config from notetypes"):
        settings = _proto(config)
        notetypes[ntid] = Notetype(
            ntid, name, mod, settings.get(1) == 1,
            tuple((n, i) for _, n, i in sorted(fields.get(ntid, []))),
            tuple((n, i) for _, n, i in sorted(templates.get(ntid, []))),
            _signed(settings.get(10)),
        )
    decks = {did: name.replace("\x1f", "::") for did, name in conn.execute("select id, name from decks")}
    return notetypes, decks


def _signed(value: int | bytes | None) -> int | None:
    """A protobuf int64 (negative numbers arrive as 64-bit two's complement varints)."""
    if not isinstance(value, int):
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def _proto(blob: bytes | None) -> dict[int, int | bytes]:
    """The top-level fields of a protobuf message: field number -> its last value (varints as
    int, length-delimited as bytes; fixed-size fields are skipped)."""
    found: dict[int, int | bytes] = {}
    data, pos = blob or b"", 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            found[number], pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            found[number], pos = data[pos:pos + size], pos + size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"protobuf wire type {wire} in a note type's settings")
    return found


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("a protobuf message ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
