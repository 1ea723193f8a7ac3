"""The lock file is written again line by line from the loaded one where its notes did not change
(anki/lockfile.dumps): the bytes are always those of encoding every entry, whatever changed."""
from __future__ import annotations

import dataclasses
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import topic, write_project
from deckgen import BuildConfig, build
from deckgen.anki import lockfile
from deckgen.anki.lockfile import Lock, NoteEntry
from deckgen.builder import store

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_IDS = st.text("abcdefghij-0123456789\"\\é\n,}", min_size=1, max_size=6)


def _entry(draw, note_id: str) -> NoteEntry:
    return NoteEntry(draw(_TEXT), draw(_TEXT), "dg" + draw(st.uuids()).hex, draw(st.sampled_from(["basic", "cloze", "reversed"])), draw(_TEXT),
                     draw(_TEXT), draw(st.integers(0, 2**53 - 1)), tuple(draw(st.lists(st.integers(0, 2**40), max_size=2))), draw(st.booleans()),
                     draw(_TEXT), draw(_TEXT))


@st.composite
def _locks(draw) -> Lock:
    ids = draw(st.lists(_IDS, unique=True, max_size=12))
    return Lock({note_id: _entry(draw, note_id) for note_id in ids}, {}, {"genanki": "0.13.1"})


def _loaded(tmp_path, lock: Lock, written: bool = True) -> Lock:
    path = tmp_path / "deckgen.lock"
    raw = lockfile.dumps(lock).encode()
    path.write_bytes(raw)
    return lockfile.load(path, written=hashlib.sha256(raw).hexdigest() if written else "")


def _encoded_in_full(lock: Lock) -> str:
    return lockfile.dumps(dataclasses.replace(lock, texts={}))


@settings(max_examples=150, deadline=None)
@given(lock=_locks(), data=st.data())
def test_a_lock_changed_in_any_way_is_written_as_encoding_every_entry_writes_it(tmp_path_factory, lock, data):
    loaded = _loaded(tmp_path_factory.mktemp("lock"), lock)
    assert loaded == lock and len(loaded.texts) == len(lock.notes)  # the loaded lines are there to reuse
    notes = dict(loaded.notes)
    for note_id in data.draw(st.lists(st.sampled_from(sorted(notes)), max_size=4)) if notes else []:
        if note_id in notes:
            action = data.draw(st.sampled_from(["restamp", "remove", "forget"]))
            if action == "restamp":
                notes[note_id] = dataclasses.replace(notes[note_id], mod=notes[note_id].mod // 2 + 1, hash="new")
            elif action == "remove":
                notes[note_id] = dataclasses.replace(notes[note_id], removed=True, was="")
            else:
                del notes[note_id]
    for note_id in data.draw(st.lists(_IDS, max_size=3)):
        notes.setdefault(note_id, _entry(data.draw, note_id))
    changed = dataclasses.replace(loaded, notes=notes)
    assert lockfile.dumps(changed) == _encoded_in_full(changed)
    if len(notes) >= 2:
        old, new = sorted(notes)[:2]
        renamed = lockfile.renamed(changed, old, new + "x") if new + "x" not in notes else changed
        assert lockfile.dumps(renamed) == _encoded_in_full(renamed)
        # an id that had a line takes another note's entry: its old line must not come back
        swapped = dataclasses.replace(changed, notes={**notes, old: notes[new], new: notes[old]})
        assert lockfile.dumps(swapped) == _encoded_in_full(swapped)


def test_a_lock_edited_by_hand_is_not_reused_line_by_line(tmp_path):
    lock = Lock({"a": NoteEntry("t", "T", "dg1", "basic", "h", "s", 5)}, {}, {})
    path = tmp_path / "deckgen.lock"
    raw = lockfile.dumps(lock).encode()
    path.write_bytes(raw.replace(b'"mod": 5', b'"mod":   6'))
    loaded = lockfile.load(path, written=hashlib.sha256(raw).hexdigest())
    assert loaded.texts == {} and loaded.notes["a"].mod == 6
    assert lockfile.dumps(loaded) == lockfile.dumps(Lock({"a": NoteEntry("t", "T", "dg1", "basic", "h", "s", 6)}, {}, {}))


def test_after_an_edit_the_lock_has_the_bytes_of_one_encoded_in_full(tmp_path):
    files = {"content/a.md": topic("a", 8, more_kinds=True), "content/b.md": topic("b", 5)}
    locks = []
    for forget in (False, True):
        root = write_project(tmp_path / f"p{forget}", files)
        build(BuildConfig(root=root, now=1_800_000_000))
        state = store.load_state(root / ".deckgen-cache")
        assert state.lock == hashlib.sha256((root / "deckgen.lock").read_bytes()).hexdigest()
        if forget:  # the next build does not know the lock: every entry is encoded
            store.save_state(root / ".deckgen-cache", dataclasses.replace(state, lock=""))
        write_project(root, {"content/a.md": topic("a", 9, more_kinds=True, version="（改）"), "content/c.md": topic("c", 2)})
        (root / "content/b.md").unlink()
        build(BuildConfig(root=root, now=1_800_000_100))
        locks.append((root / "deckgen.lock").read_bytes())
    assert locks[0] == locks[1]
    assert b'"removed": true' in locks[0] and b'"c/c-q1"' not in locks[0]  # b's notes are kept as removed; ids are note ids
