"""`deckgen mv OLD NEW`: rename a note id and keep the note's GUID, so users keep its history.

In:  the project, the note id to rename and the new one.
Out: deckgen.lock with the note's entry under the new id (GUID and mods kept), then the heading
     `{#OLD}` and every `[[OLD]]` reference rewritten; the next build updates the note in place
     (its Meta field changes) and reports the rename. `BuildFailed` when OLD is not a note or NEW
     is taken by a note in the sources. (NEW may be the id of a removed note: the renamed note takes
the id, and the removed one's GUID is forgotten.)

The lock file is written first: a rename interrupted before the sources are written leaves the
sources with OLD and the lock with NEW, and the next build gives OLD its GUID back
(lockfile.update takes a GUID over from an id that is gone). The other order would publish the
new id as a new note.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from deckgen.anki import lockfile
from deckgen.builder.output import exclusive
from deckgen.config import BuildConfig
from deckgen.errors import BuildFailed, ContentError
from deckgen.records import Location
from deckgen.runtime.cache import atomic_write
from deckgen.source.discover import topic_files
from deckgen.source.ids import check_readable, defined_at, existing_ids, renamed
from deckgen.syntax import NAME_HINT, NAME_RE


@dataclass(frozen=True)
class Renamed:
    heading: Location  # where the note is defined
    references: int  # [[OLD]] references rewritten
    files: tuple[str, ...]  # files changed
    lock_updated: bool  # False: the note was never built, so it has no GUID yet
    replaced_removed: bool = False  # NEW was the id of a removed note, whose GUID is forgotten now


def rename_note(config: BuildConfig, old: str, new: str) -> Renamed:
    with exclusive(config):
        paths = topic_files(config.content_dir)
        check_readable(paths, config.display)
        where = _check(config, paths, old, new)
        lock = lockfile.load(config.lock_path, config.display(config.lock_path))
        entry = lock.notes.get(new)
        if entry is not None and not entry.removed:
            raise BuildFailed([ContentError(Location(config.display(config.lock_path), lock.line("notes", new)), f"'{new}' is the id of a note", "choose another id")])
        changes = {path: renamed(path.read_bytes(), old, new) for path in paths}
        changes = {path: change for path, change in changes.items() if change[1] or change[2]}
        has_entry = old in lock.notes and not lock.notes[old].removed
        if has_entry:
            atomic_write(config.lock_path, lockfile.dumps(lockfile.renamed(lock, old, new)).encode())
        for path, (data, _, _) in changes.items():
            atomic_write(path, data)
    return Renamed(where, sum(refs for _, _, refs in changes.values()), tuple(config.display(p) for p in changes), has_entry, entry is not None and has_entry)


def _check(config: BuildConfig, paths, old: str, new: str) -> Location:
    def fail(location: Location, what: str, fix: str):
        raise BuildFailed([ContentError(location, what, fix)])

    content = Location(config.display(config.content_dir))
    if not NAME_RE.fullmatch(new):
        fail(content, f"'{new}' is not a valid note id", NAME_HINT)
    if old == new:
        fail(content, f"'{old}' is already the note's id", "give the new id")
    found = defined_at(paths, old)
    if not found:
        close = difflib.get_close_matches(old, sorted(existing_ids(paths)), n=3, cutoff=0.5)
        fail(content, f"no note has the id '{old}'", f"did you mean {', '.join(close)}?" if close else "give the id of a note, as in its heading's {#id}")
    if len(found) > 1:
        fail(Location(config.display(found[1][0]), found[1][1]), f"note id '{old}' is defined twice", "make the ids unique first")
    taken = defined_at(paths, new)
    if taken:
        fail(Location(config.display(taken[0][0]), taken[0][1]), f"note id '{new}' is already used here", "choose another id")
    return Location(config.display(found[0][0]), found[0][1])
