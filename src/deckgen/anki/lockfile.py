"""The lock file: each note's identity and when it last changed, kept in the repository.

In:  `deckgen.lock` from the last build; the rendered notes and note types of this build; the
     library versions (`pins.Libraries`).
Out: each note's GUID and `mod`, each note type's `mod`, the new lock, what changed per deck and
     why; `BuildFailed` for a damaged lock, or for a change that Anki would skip.

Why it exists (see anki-facts): Anki updates an existing note on re-import only if the incoming
`mod` is newer than the one it has, matches notes by GUID only, and skips (as *conflicting*) a
note whose note type changed. So the lock records, per note id (unique across the project):

- `guid`: the GUID the note was first published with. Moving the note to another topic, or
  renaming its id with `deckgen mv`, keeps it, so users keep the note and its history.
- `kind`: the published note type. A change is refused: Anki would never update the note again.
- `hash` (what the package carries: type, fields, tags) and `source` (what the author wrote:
  the note's Markdown, its deck id and tags, its figures' scripts and images, the questions it
  cites). A changed `hash` gets a newer `mod`, except when only the library versions differ
  from the pins (another machine's build, not an edit): then nothing is restamped.
- `mod`, and the `earlier` mods it was published with (`deckgen diff` tells a user's own edit
  in Anki from an older deckgen version by them).
- `removed`: kept for a note gone from the sources, so that it keeps its GUID when it returns.

The wall clock is read only here, and only for notes whose content changed.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from deckgen.anki.notetypes import NoteType, guid_for, published_schema_without_ids
from deckgen.anki.pins import Libraries
from deckgen.errors import BuildFailed, ContentError, ErrorList
from deckgen.records import DeckChanges, Location, NoteKind, RenderedNote, fields_hash
from deckgen.runtime.keys import sha256

LOCK_VERSION = 2
RESTORE = "restore it from version control (git checkout -- deckgen.lock) and build again; deleting it would make the next import re-send every note as new, without review history"
_KINDS = {kind.value for kind in NoteKind}


@dataclass(frozen=True)
class NoteEntry:
    topic: str  # deck id of the topic that holds it
    deck: str  # deck name its cards are imported into
    guid: str
    kind: str | None  # None: read from a version 1 lock, found from the hash on the next build
    hash: str
    source: str
    mod: int
    earlier: tuple[int, ...] = ()
    removed: bool = False
    was: str = ""  # the id before `deckgen mv`, until the next build reports it
    question: str = ""  # hash of the first field: a new id with a gone note's question was renamed by hand

    def published_mods(self) -> set[int]:
        """Every `mod` a package of deckgen gave this note (and its --math-images variant, +1)."""
        mods = {self.mod, *self.earlier}
        return mods | {m + 1 for m in mods}


@dataclass(frozen=True)
class TypeEntry:
    hash: str
    source: str
    mod: int
    fields: tuple[tuple[str, int | None], ...]
    templates: tuple[tuple[str, int | None], ...]
    without_ids: bool  # a version without field and template ids was published


class KeyLines:
    """(section, key) -> line, for the layout `dumps` writes (one entry per line). Found on the
    first lookup: only a damaged entry or a warning needs a line, and scanning a 100,000-note
    lock costs more than parsing it."""

    def __init__(self, text: str = "") -> None:
        self._text = text
        self._found: dict[tuple[str, str], int] | None = None

    def get(self, key: tuple[str, str], default: int) -> int:
        if self._found is None:
            self._found = _key_lines(self._text)
        return self._found.get(key, default)


@dataclass(frozen=True)
class Lock:
    notes: dict[str, NoteEntry] = field(default_factory=dict)  # note id -> entry
    notetypes: dict[str, TypeEntry] = field(default_factory=dict)  # kind -> entry
    libraries: dict[str, str] | None = None  # None: never recorded (a version 1 lock)
    lines: KeyLines = field(default_factory=KeyLines, compare=False)  # (section, key) -> line
    path: str = "deckgen.lock"
    # note id -> (the entry, its line in a lock `dumps` wrote): `dumps` writes an entry that is
    # still that object with that line, instead of encoding it again.
    texts: dict[str, tuple[NoteEntry, str]] = field(default_factory=dict, compare=False, repr=False)

    def line(self, section: str, key: str) -> int:
        return self.lines.get((section, key), 1)


@dataclass(frozen=True)
class LockResult:
    guids: dict[str, str]  # note key -> GUID
    note_mods: dict[str, int]  # note key -> mod
    notetype_mods: dict[str, int]
    lock: Lock
    changes: tuple[DeckChanges, ...]
    notices: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


# ---- reading ------------------------------------------------------------------------------------


class _Damaged(Exception):
    def __init__(self, line: int, what: str):
        self.line, self.what = line, what


def load(path: Path, display: str | None = None, written: str = "") -> Lock:
    """The lock at `path` (an empty one when there is none). Every damage is reported as
    `deckgen.lock:LINE: what — fix`. `written`: the SHA-256 of the lock the last build wrote;
    when the file still is that one, its note lines are kept for `dumps` to reuse."""
    name = display or path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Lock(libraries=None, path=name)
    try:
        return _parse(raw, name, trusted=bool(written) and sha256(raw) == written)
    except _Damaged as damage:
        raise BuildFailed([ContentError(Location(name, damage.line), f"the lock file is damaged: {damage.what}", _fix(damage.what))]) from None


def _fix(what: str) -> str:
    if "merge conflict" in what:
        return "keep one side (git checkout --theirs deckgen.lock, or --ours) and build again: notes that differ get a newer mod and reach users"
    if "newer deckgen" in what:
        return "build with the deckgen version that wrote it (pip install -c constraints.txt -e .), or " + RESTORE
    return RESTORE


def _parse(raw: bytes, name: str, trusted: bool = False) -> Lock:
    """`trusted`: the bytes are those `dumps` wrote (well-formed, no key twice): read without the
    checks a hand-edited lock needs, and each note's line is kept for `dumps` to reuse."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Damaged(raw[: exc.start].count(b"\n") + 1, f"byte 0x{raw[exc.start]:02x} is not UTF-8 text") from None
    markers = any(marker in text for marker in ("<<<<<<<", "=======", ">>>>>>>"))  # three substring tests cost far less than the regex
    if markers and (conflict := _CONFLICT_RE.search(text)):
        raise _Damaged(text.count("\n", 0, conflict.start()) + 1, "it holds a merge conflict")
    lines = KeyLines(text)
    try:
        data = json.loads(text) if trusted else json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise _Damaged(exc.lineno, f"not valid JSON ({exc.msg})") from None
    except _DuplicateKey as exc:
        raise _Damaged(_first_line(text, exc.key, lines), f"{json.dumps(exc.key, ensure_ascii=False)} appears twice") from None
    if not isinstance(data, dict):
        raise _Damaged(1, "not a JSON object")
    version = data.get("version")
    if version == 1:
        return _from_v1(data, lines, name)
    if version != LOCK_VERSION:
        what = f"version {version!r} was written by a newer deckgen" if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION else f"unknown version {version!r}"
        raise _Damaged(lines.get(("", "version"), 1), what)
    libraries = _mapping(data, "libraries", lines, ("", "libraries"))
    for lib, version_text in libraries.items():
        if not isinstance(version_text, str):
            raise _Damaged(lines.get(("", "libraries"), 1), f"the version of {lib} is not a string")
    found = _mapping(data, "notes", lines, ("", "notes"))
    notes = {note_id: _entry_of(value) for note_id, value in found.items()} if trusted else {note_id: _note_entry(note_id, value, lines) for note_id, value in found.items()}
    types = {kind: _type_entry(kind, value, lines) for kind, value in _mapping(data, "notetypes", lines, ("", "notetypes")).items()}
    _check_guids_unique(notes, lines)
    return Lock(notes, types, dict(libraries), lines, name, _note_lines(text, notes) if trusted else {})


def _note_lines(text: str, notes: dict[str, NoteEntry]) -> dict[str, tuple[NoteEntry, str]]:
    """Each note's line in a lock `dumps` wrote: its notes are one per line, in the order the
    parse read them (a JSON string holds no newline, so ',\\n' ends an entry and nothing else)."""
    start, end = text.find(_NOTES_OPEN), text.rfind(_NOTES_CLOSE)
    if start < 0 or end < start:
        return {}
    lines = text[start + len(_NOTES_OPEN):end].split(",\n")
    if len(lines) != len(notes):
        return {}
    return {note_id: (entry, line) for (note_id, entry), line in zip(notes.items(), lines, strict=True)}


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


_COMPACT = json.JSONEncoder(ensure_ascii=False, sort_keys=True)  # one encoder: json.dumps makes one per call
_CONFLICT_RE = re.compile(r"^(?:<<<<<<<|=======|>>>>>>>)", re.MULTILINE)
_KEY_RE = re.compile(r'^\s*("(?:[^"\\]|\\.)*")\s*:')


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _KEY_RE.match(line)
        if not match:
            continue
        try:
            key = json.loads(match.group(1))
        except ValueError:
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= 1:
            section = key if key in ("notes", "notetypes", "libraries") else ""
            found.setdefault(("", key), number)
        else:
            found.setdefault((section, key), number)
    return found


def _first_line(text: str, key: str, lines: KeyLines) -> int:
    """The line of the second occurrence of `key` (the duplicate), else of the first."""
    needle = json.dumps(key, ensure_ascii=False) + ":"
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line.replace('": ', '":')]
    return hits[1] if len(hits) > 1 else (hits[0] if hits else 1)


def _mapping(data: dict, key: str, lines: KeyLines, where: tuple[str, str]) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _Damaged(lines.get(where, 1), f'"{key}" is not an object')
    return value


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _note_entry(note_id: str, value: object, lines: KeyLines) -> NoteEntry:
    if _well_formed(value):
        assert isinstance(value, dict)
        return _entry_of(value)
    return _checked_note_entry(note_id, value, lines)


def _entry_of(value: dict) -> NoteEntry:
    return NoteEntry(value["topic"], value["deck"], value["guid"], value["kind"], value["hash"], value["source"], value["mod"],
                     tuple(value.get("earlier", ())), value.get("removed", False), value.get("was", ""), value.get("question", ""))


def _well_formed(value: object) -> bool:
    """The entry as `dumps` writes it, in one pass of plain comparisons (it runs for every note of
    every build); anything else gets the checks that say what is wrong (`_checked_note_entry`)."""
    if type(value) is not dict:
        return False
    get = value.get
    mod, earlier = get("mod"), get("earlier", ())
    return (type(get("topic")) is str and type(get("deck")) is str and type(get("hash")) is str and type(get("source")) is str
            and type(get("guid")) is str and get("guid") != "" and type(mod) is int and 0 <= mod < 2**53
            and get("kind") in _KINDS and type(get("removed", False)) is bool and type(get("was", "")) is str
            and type(get("question", "")) is str and (earlier == () or (type(earlier) is list and all(map(_integer, earlier)))))


def _checked_note_entry(note_id: str, value: object, lines: KeyLines) -> NoteEntry:
    def damaged(what: str, where: tuple[str, str] = ("notes", note_id)) -> _Damaged:  # the line is looked up only for an error
        return _Damaged(lines.get(where, 1), what)

    if not isinstance(value, dict):
        raise damaged(f"the entry of note '{note_id}' is not an object")
    for key, kind in (("topic", str), ("deck", str), ("guid", str), ("hash", str), ("source", str), ("mod", int)):
        if key not in value:
            raise damaged(f"note '{note_id}' has no \"{key}\"")
        if kind is int and not _integer(value[key]):
            raise damaged(f"the \"mod\" of note '{note_id}' is not a whole number of seconds: {json.dumps(value[key], ensure_ascii=False)}")
        if kind is str and not isinstance(value[key], str):
            raise damaged(f"the \"{key}\" of note '{note_id}' is not a string")
    if not value["guid"]:
        raise damaged(f"note '{note_id}' has an empty GUID")
    kind_value = value.get("kind")
    if kind_value not in _KINDS:
        raise damaged(f"the \"kind\" of note '{note_id}' is {json.dumps(kind_value, ensure_ascii=False)}, not one of {', '.join(sorted(_KINDS))}")
    earlier = value.get("earlier", [])
    if not isinstance(earlier, list) or not all(_integer(m) for m in earlier):
        raise damaged(f"the \"earlier\" mods of note '{note_id}' are not a list of whole numbers")
    removed, was, question = value.get("removed", False), value.get("was", ""), value.get("question", "")
    if not isinstance(removed, bool) or not isinstance(was, str) or not isinstance(question, str):
        raise damaged(f"the \"removed\", \"was\" or \"question\" of note '{note_id}' has the wrong type")
    return NoteEntry(value["topic"], value["deck"], value["guid"], kind_value, value["hash"], value["source"], value["mod"], tuple(earlier), removed, was, question)


def _type_entry(kind: str, value: object, lines: KeyLines) -> TypeEntry:
    def damaged(what: str, where: tuple[str, str] = ("notetypes", kind)) -> _Damaged:  # the line is looked up only for an error
        return _Damaged(lines.get(where, 1), what)

    if kind not in _KINDS:
        raise damaged(f"unknown note type '{kind}'")
    if not isinstance(value, dict):
        raise damaged(f"the entry of note type '{kind}' is not an object")
    if not isinstance(value.get("hash"), str) or not isinstance(value.get("source"), str):
        raise damaged(f"note type '{kind}' has no \"hash\" or \"source\" string")
    if not _integer(value.get("mod")):
        raise damaged(f"the \"mod\" of note type '{kind}' is not a whole number of seconds: {json.dumps(value.get('mod'), ensure_ascii=False)}")
    parts = []
    for key in ("fields", "templates"):
        items = value.get(key)
        if not isinstance(items, list) or not all(
            isinstance(i, list) and len(i) == 2 and isinstance(i[0], str) and (i[1] is None or _integer(i[1])) for i in items
        ):
            raise damaged(f"the \"{key}\" of note type '{kind}' are not a list of [name, id]")
        parts.append(tuple((name, id_) for name, id_ in items))
    without_ids = value.get("without_ids", False)
    if not isinstance(without_ids, bool):
        raise damaged(f"the \"without_ids\" of note type '{kind}' is not true or false")
    return TypeEntry(value["hash"], value["source"], value["mod"], parts[0], parts[1], without_ids)


def _check_guids_unique(notes: dict[str, NoteEntry], lines: KeyLines) -> None:
    owner: dict[str, str] = {}
    for note_id, entry in notes.items():
        if entry.guid in owner:
            raise _Damaged(lines.get(("notes", note_id), 1), f"notes '{owner[entry.guid]}' and '{note_id}' have the same GUID")
        owner[entry.guid] = note_id


def _from_v1(data: dict, lines: KeyLines, name: str) -> Lock:
    """A version 1 lock (keyed "deck id/note id", no GUIDs, kinds or sources): the GUIDs it
    implies are recorded, so every note keeps the one users have."""
    notes: dict[str, NoteEntry] = {}
    for key, value in _mapping(data, "notes", lines, ("", "notes")).items():
        def damaged(what: str, where: tuple[str, str] = ("notes", key)) -> _Damaged:  # the line is looked up only for an error
            return _Damaged(lines.get(where, 1), what)

        topic, _, note_id = key.partition("/")
        if not isinstance(value, dict) or not note_id:
            raise damaged(f"the entry '{key}' is not a note's")
        if not isinstance(value.get("hash"), str) or not isinstance(value.get("deck", ""), str):
            raise damaged(f"note '{key}' has no \"hash\" string")
        if not _integer(value.get("mod")):
            raise damaged(f"the \"mod\" of note '{key}' is not a whole number of seconds: {json.dumps(value.get('mod'), ensure_ascii=False)}")
        if note_id in notes:
            raise damaged(f"note id '{note_id}' appears in two decks")
        notes[note_id] = NoteEntry(topic, value.get("deck", ""), guid_for(key), None, value["hash"], "", value["mod"])
    types = {}
    for kind, value in _mapping(data, "notetypes", lines, ("", "notetypes")).items():
        def damaged(what: str, where: tuple[str, str] = ("notetypes", kind)) -> _Damaged:  # the line is looked up only for an error
            return _Damaged(lines.get(where, 1), what)

        if kind not in _KINDS or not isinstance(value, dict) or not isinstance(value.get("hash"), str) or not _integer(value.get("mod")):
            raise damaged(f"the entry of note type '{kind}' is damaged")
        schema = published_schema_without_ids(NoteKind(kind))
        types[kind] = TypeEntry(value["hash"], "", value["mod"], tuple(map(tuple, schema["fields"])), tuple(map(tuple, schema["templates"])), True)
    return Lock(notes, types, None, lines, name)


# ---- writing ------------------------------------------------------------------------------------


def dumps(lock: Lock) -> str:
    """Sorted JSON with one note per line: readable diffs in review. The notes are encoded by one
    call of json's C encoder and then split into lines (an indented dump runs json's pure-Python
    encoder: 0.13 s at 10,000 notes; a call per line 0.045 s)."""

    types = {kind: _type_json(entry) for kind, entry in lock.notetypes.items()}
    libraries = _COMPACT.encode(lock.libraries or {})
    return "\n".join(["{", f' "version": {LOCK_VERSION},', f' "libraries": {libraries},', f' "notetypes": {_lines(types)},', f' "notes": {_notes_text(lock)}', "}"]) + "\n"


_NOTES_OPEN, _NOTES_CLOSE = '\n "notes": {\n', "\n }\n}"  # around the note lines, as `dumps` writes them


def _notes_text(lock: Lock) -> str:
    """The notes, one per line. A line of the loaded lock is written again for an entry that did
    not change (most of them after an edit: 0.03 s at 10,000 notes to encode them all); when
    most changed, one call of the encoder is faster than a call per line."""
    texts = lock.texts
    kept = sum(1 for note_id, entry in lock.notes.items() if texts.get(note_id, (None, ""))[0] is entry)
    if kept * 2 < len(lock.notes):
        return _lines({note_id: _note_json(entry) for note_id, entry in lock.notes.items()})
    lines = []
    for note_id in sorted(lock.notes):
        entry = lock.notes[note_id]
        known, line = texts.get(note_id, (None, ""))
        lines.append(line if known is entry else "  " + _COMPACT.encode({note_id: _note_json(entry)})[1:-1])
    return "{\n" + ",\n".join(lines) + "\n }"


def _lines(mapping: dict[str, dict]) -> str:
    """`mapping` as sorted JSON, one entry per line. Each entry is a flat object (its values are
    strings, numbers and lists), so '}, "' can only stand between two entries: inside a string
    every '"' is escaped."""
    if not mapping:
        return "{}"
    text = _COMPACT.encode(mapping)
    return "{\n  " + text[1:-1].replace('}, "', '},\n  "') + "\n }"


def _note_json(entry: NoteEntry) -> dict:
    data: dict[str, object] = {"topic": entry.topic, "deck": entry.deck, "guid": entry.guid, "kind": entry.kind, "hash": entry.hash, "source": entry.source, "mod": entry.mod}
    if entry.question:
        data["question"] = entry.question
    if entry.earlier:
        data["earlier"] = list(entry.earlier)
    if entry.removed:
        data["removed"] = True
    if entry.was:
        data["was"] = entry.was
    return data


def _type_json(entry: TypeEntry) -> dict:
    data = {"hash": entry.hash, "source": entry.source, "mod": entry.mod, "fields": [list(f) for f in entry.fields], "templates": [list(t) for t in entry.templates]}
    if entry.without_ids:
        data["without_ids"] = True
    return data


def renamed(lock: Lock, old_id: str, new_id: str) -> Lock:
    """The lock with note `old_id` known as `new_id` from now on (its GUID and mods kept); a
    removed note that had `new_id` is forgotten."""
    notes = dict(lock.notes)
    notes.pop(new_id, None)
    entry = notes.pop(old_id)
    notes[new_id] = dataclasses.replace(entry, was=entry.was or old_id)
    return dataclasses.replace(lock, notes=notes)


# ---- one build ----------------------------------------------------------------------------------


@dataclass
class _Deck:
    """What changed in one deck, collected while the notes are stamped."""

    topic: str = ""
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reasons: list[tuple[str, str]] = field(default_factory=list)
    moved_in: list[tuple[str, str]] = field(default_factory=list)
    renamed_from: list[str] = field(default_factory=list)

    def result(self, name: str) -> DeckChanges:
        renamed = Counter(self.renamed_from).most_common(1)
        return DeckChanges(name, tuple(self.added), tuple(self.changed), tuple(sorted(self.removed)), tuple(self.reasons), tuple(self.moved_in), renamed[0][0] if renamed else "", self.topic)


def update(old: Lock, notes: list[tuple[str, RenderedNote]], notetypes: dict[NoteKind, NoteType], libraries: Libraries, now: int | None = None) -> LockResult:
    """`notes` pairs each rendered note with its deck name. Raises BuildFailed for a change Anki
    would skip (a published note's or note type's schema)."""
    now = int(time.time()) if now is None else now
    errors = ErrorList()
    decks: dict[str, _Deck] = {}

    def deck_of(name: str, topic: str) -> _Deck:
        deck = decks.get(name) or decks.setdefault(name, _Deck(topic))
        deck.topic = deck.topic or topic
        return deck

    current = {note.note_id for _, note in notes}
    owners = {entry.guid: note_id for note_id, entry in old.notes.items()}
    taken = set(owners)
    new_notes: dict[str, NoteEntry] = {}
    guids: dict[str, str] = {}
    mods: dict[str, int] = {}
    taken_over: set[str] = set()
    kept_for_drift = 0
    for deck_name, note in notes:
        previous, guid, reason = _identity(old, note, owners, current, taken)
        if previous is not None and not reason and _same(previous, deck_name, note):
            new_notes[note.note_id] = previous  # most notes of most builds: nothing to decide
            guids[note.key], mods[note.key] = previous.guid, previous.mod
            continue
        if reason:
            taken_over.add(owners[guid])
        kind = _published_kind(previous, note)
        if previous is not None and kind != note.kind.value:
            errors.add(note.location, f"note '{note.note_id}' was published as a {kind} note and is now {note.kind.value}: Anki would skip it as conflicting on every import from now on, and nothing would say so",
                       f"keep its type ({_type_line(kind)}); or give it a new id to publish it as a new note (users get it without review history, and keep the old one until they delete it)")
            continue
        fresh = NoteEntry(note.key.split("/", 1)[0], deck_name, guid, note.kind.value, note.content_hash, note.source_key, 0, question=note.question_hash)
        entry, change, why = _stamped(previous, fresh, note, libraries, now, reason)
        deck = deck_of(deck_name, entry.topic)
        if change == "kept for drift":
            kept_for_drift += 1
        elif change:
            getattr(deck, change).append(note.key)
        if why:
            deck.reasons.append((note.key, why))
        if previous is not None and not previous.removed and _folded(previous.deck) != _folded(deck_name):
            if previous.topic == entry.topic:
                deck.renamed_from.append(previous.deck)
            else:
                deck.moved_in.append((note.key, previous.deck))
        new_notes[note.note_id] = entry
        guids[note.key], mods[note.key] = entry.guid, entry.mod
    for note_id, previous in old.notes.items():
        if note_id in new_notes or note_id in taken_over or note_id in current:
            continue
        if not previous.removed:
            deck_of(previous.deck, previous.topic).removed.append(f"{previous.topic}/{note_id}")
        new_notes[note_id] = dataclasses.replace(previous, removed=True, was="")
    type_mods, new_types, notices = _notetypes(old, notetypes, libraries, now, errors)
    errors.raise_if_any()
    warnings = _renamed_by_hand(old, new_notes, notes, current)
    if libraries.drift:
        warnings.append(libraries.drift_warning() + (f" ({kept_for_drift} notes render differently here and keep their mod)" if kept_for_drift else ""))
    elif libraries.upgraded and old.libraries is not None:
        notices.append(f"{libraries.upgrade_reason()} ({libraries.pins_file or 'installed'}): deckgen.lock now records these versions")
    lock = Lock(new_notes, new_types, libraries.recorded, KeyLines(), old.path, old.texts)  # the lines of entries kept as they were
    changes = tuple(change for change in (decks[name].result(name) for name in sorted(decks)) if not change.empty)
    return LockResult(guids, mods, type_mods, lock, changes, tuple(notices), tuple(warnings))


def _identity(old: Lock, note: RenderedNote, owners: dict[str, str], current: set[str], taken: set[str]) -> tuple[NoteEntry | None, str, str]:
    """The note's entry in the old lock, its GUID, and why it took a GUID over ("" usually)."""
    previous = old.notes.get(note.note_id)
    if previous is not None:
        return previous, previous.guid, ""
    default = guid_for(note.key)
    holder = owners.get(default)
    if holder is not None and holder not in current:
        # The id that holds this note's own first GUID is gone: it is this note renamed back (a
        # `deckgen mv` undone by hand, or interrupted). Taking the GUID over updates that note.
        return old.notes[holder], default, f"takes back its GUID from '{holder}'"
    guid = _fresh_guid(note.key, taken)
    taken.add(guid)
    return None, guid, ""


def _same(previous: NoteEntry, deck_name: str, note: RenderedNote) -> bool:
    """The note is what its entry records, in the same deck and topic: the entry stays as it is
    (what `_stamped` would give for it, without building it)."""
    return (previous.hash == note.content_hash and previous.kind == note.kind.value and previous.deck == deck_name
            and not previous.removed and not previous.was and previous.source == note.source_key
            and previous.topic == note.key.split("/", 1)[0] and previous.question == note.question_hash)


def _stamped(previous: NoteEntry | None, entry: NoteEntry, note: RenderedNote, libraries: Libraries, now: int, reason: str) -> tuple[NoteEntry, str, str]:
    """The note's new entry with its mod, what kind of change it is ("added", "changed", "" or
    "kept for drift") and why, when that is not an edit."""
    if previous is None:
        return dataclasses.replace(entry, mod=now), "added", ""
    if previous.removed:
        return dataclasses.replace(entry, mod=_newer(now, previous), earlier=_earlier(previous)), "added", "back in the sources; it keeps its GUID, so collections that still have it update it"
    if previous.hash == entry.hash and not reason:
        return dataclasses.replace(entry, mod=previous.mod, earlier=previous.earlier), "", ""
    if libraries.drift and previous.source == entry.source and entry.source and not reason:
        # Only the libraries differ from the pins: another machine's rendering, not an edit.
        return dataclasses.replace(previous, deck=entry.deck, kind=entry.kind, was="", question=entry.question), "kept for drift", ""
    restamped = dataclasses.replace(entry, mod=_newer(now, previous), earlier=_earlier(previous))
    return restamped, "changed", reason or _why_changed(previous, restamped, note, libraries)


def _renamed_by_hand(old: Lock, new_notes: dict[str, NoteEntry], notes: list[tuple[str, RenderedNote]], current: set[str]) -> list[str]:
    """A new note with the question of a note gone in this build: most likely its id was renamed
    in the file, which publishes it as a new note without the old one's history."""
    gone = {entry.question: note_id for note_id, entry in old.notes.items() if entry.question and not entry.removed and note_id not in current}
    warnings = []
    for _, note in notes:
        if note.note_id in old.notes or new_notes.get(note.note_id) is None:
            continue
        was = gone.get(note.question_hash)
        if was:
            warnings.append(
                f"{note.location}: note '{note.note_id}' is new and has the question of '{was}', which is gone: if you renamed the id, Anki adds it as a new note without "
                f"the review history of '{was}' and keeps the old one — rename it back to '{was}', run 'deckgen mv {was} {note.note_id}' and build again before you publish"
            )
    return warnings


def _fresh_guid(key: str, taken: set[str]) -> str:
    """The GUID of a new note: from its key, or (when a moved or renamed note holds that one)
    from its key and a number."""
    guid, n = guid_for(key), 2
    while guid in taken:
        guid, n = guid_for(f"{key}#{n}"), n + 1
    return guid


def _published_kind(previous: NoteEntry | None, note: RenderedNote) -> str:
    """The note type users have for this note. A version 1 lock did not record it: the kind whose
    hash of these fields is the recorded one, else (the note changed as well) this build's."""
    if previous is None:
        return note.kind.value
    if previous.kind is not None:
        return previous.kind
    for kind in NoteKind:
        if fields_hash(kind.value, note.fields, note.tags) == previous.hash:
            return kind.value
    return note.kind.value


def _type_line(kind: str) -> str:
    return {"basic": "no 'type:' line, or 'type: basic'", "reversed": "'type: reversed'", "cloze": "a cloze note, written with {{c1::...}}"}[kind]


def _why_changed(previous: NoteEntry, entry: NoteEntry, note: RenderedNote, libraries: Libraries) -> str:
    if previous.was:
        return f"renamed from '{previous.was}'; it keeps its GUID and review history"
    if previous.topic != entry.topic:
        return f"moved from topic '{previous.topic}'; it keeps its GUID and review history"
    if previous.source == note.source_key and previous.source:
        return libraries.upgrade_reason() if libraries.upgraded else "deckgen renders it differently (no edit in the sources)"
    return ""


def _notetypes(old: Lock, notetypes: dict[NoteKind, NoteType], libraries: Libraries, now: int, errors: ErrorList) -> tuple[dict[str, int], dict[str, TypeEntry], list[str]]:
    mods: dict[str, int] = {}
    entries: dict[str, TypeEntry] = {}
    notices: list[str] = []
    for kind, nt in notetypes.items():
        previous = old.notetypes.get(kind.value)
        if previous is not None:
            problem = _schema_problem(previous, nt)
            if problem:
                errors.add(Location(old.path, old.line("notetypes", kind.value)), f"note type '{nt.name}' no longer matches the one users have: {problem}; Anki would add a copy of it and skip every existing note of it as conflicting, now and on every later import", _schema_fix(previous))
                continue
        schema = nt.schema
        entry = TypeEntry(nt.content_hash, nt.source_hash, 0, tuple(map(tuple, schema["fields"])), tuple(map(tuple, schema["templates"])), bool(previous and previous.without_ids))
        if previous is not None and previous.hash == nt.content_hash:
            entry = dataclasses.replace(entry, mod=previous.mod)
        elif previous is not None and libraries.drift and previous.source == nt.source_hash:
            entry = previous
        else:
            entry = dataclasses.replace(entry, mod=now if previous is None else max(now, previous.mod + 1))
            if previous is not None:
                if any(id_ is None for _, id_ in (*previous.fields, *previous.templates)):
                    why = "its fields and templates now carry ids, so that later renames update in place"
                elif previous.source == nt.source_hash and libraries.upgraded:
                    why = libraries.upgrade_reason()
                else:
                    why = "its name, templates or style changed"
                notices.append(f"note type '{nt.name}' changed ({why}): Anki updates it in place on import")
        entries[kind.value], mods[kind.value] = entry, entry.mod
    return mods, entries, notices


def _schema_problem(previous: TypeEntry, nt: NoteType) -> str:
    """What would make Anki's schema match fail (rslib: counts equal, then each field and template
    paired by id when both have one, else by name)."""
    current = nt.schema
    for what, old_items, new_items in (("fields", previous.fields, current["fields"]), ("templates", previous.templates, current["templates"])):
        old_names, new_names = [n for n, _ in old_items], [n for n, _ in new_items]
        if len(old_items) != len(new_items):
            return f"its {what} are {', '.join(new_names)} where users have {', '.join(old_names)}"
        for (old_name, old_id), (new_name, new_id) in zip(old_items, new_items, strict=True):
            if old_id is not None and new_id != old_id:
                return f"the id of {what[:-1]} '{new_name}' changed from {old_id} to {new_id}"
            if (old_id is None or previous.without_ids) and new_name != old_name:
                return f"{what[:-1]} '{old_name}' is now named '{new_name}', and collections that imported it before field ids (deckgen.lock version 1) pair {what} by name"
    return ""


def _schema_fix(previous: TypeEntry) -> str:
    if previous.without_ids:
        return "keep the published names (language 'zh' for note types published before field ids), fields and templates (src/deckgen/anki/notetypes.py); once every user has imported a build with field ids, delete '\"without_ids\": true' from this note type's line to allow renames"
    return "keep its fields and templates, with their ids, as published (src/deckgen/anki/notetypes.py); a new note type needs a new id"


def _newer(now: int, previous: NoteEntry) -> int:
    """Now, but at least 2 later than the previous mod, so Anki sees the note as newer than both
    the default build and the --math-images variant (which carries mod + 1)."""
    return max(now, previous.mod + 2)


def _earlier(previous: NoteEntry) -> tuple[int, ...]:
    return tuple(sorted({*previous.earlier, previous.mod}))


def _folded(deck: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", deck).casefold()
