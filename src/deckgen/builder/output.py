"""Write a gathered build: mod times from the lock file, packages, and the lock, all or nothing.

In:  the `Gathered` topics and media of a build, its `Inputs`, the last `BuildState`.
Out: the changed packages and `deckgen.lock` replaced in one step (staged next to their targets,
     then renamed), unchanged files untouched, packages of removed topics deleted, the new state
     saved; a `BuildReport`. One build at a time per project (`exclusive`).
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deckgen.builder import pending, store
from deckgen.builder.inputs import Inputs
from deckgen.builder.store import BuildState
from deckgen.builder.sweep import sweep, used_entries
from deckgen.config import ALL_PACKAGE, BuildConfig
from deckgen.errors import BuildFailed, ContentError
from deckgen.records import BuildReport, CompiledTopic, Location, NoteKind
from deckgen.runtime.cache import Cache, atomic_write
from deckgen.runtime.keys import sha256
from deckgen.syntax import WARNING_RE

if TYPE_CHECKING:
    from deckgen.anki.lockfile import LockResult
    from deckgen.anki.notetypes import NoteType
    from deckgen.anki.package import Stamps


@dataclass(frozen=True)
class Gathered:
    """Everything validated and rendered, ready to be written."""

    topics: list[CompiledTopic]  # as the default build renders them: what the lock records
    media_files: dict[str, Path]
    warnings: list[str]
    topic_keys: dict[str, str]  # topic path -> the key its compiled topic is cached under
    stats: dict[str, Any] = field(default_factory=dict)
    packaged: list[CompiledTopic] | None = None  # what the packages carry, when a build option changes it (--math-images)
    bases: dict[str, str] = field(default_factory=dict)  # topic path -> the base of its key (its dependency record's key)


@dataclass(frozen=True)
class Planned:
    """What a build would write: the packages' contents and the new lock, nothing written yet."""

    notetypes: dict[NoteKind, NoteType]
    lock: LockResult
    outputs: dict[str, list[CompiledTopic]]  # package file name -> the topics it holds
    stamps: Stamps
    hashes: dict[str, str]  # note key -> hash of what the package carries

    def package(self, name: str, media: dict[str, Path]) -> bytes:
        from deckgen.anki.package import build_package

        return build_package(self.outputs[name], self.notetypes, self.stamps, media)


def plan(config: BuildConfig, gathered: Gathered, state: BuildState | None = None) -> Planned:
    """Mod times and GUIDs from the lock file, and which topics go into which package. `state`:
    the last build's, whose lock file (when it is still the one in the project) need not be
    encoded again where it did not change."""
    from deckgen.anki import lockfile, pins
    from deckgen.anki.notetypes import note_types
    from deckgen.anki.package import Stamps

    types = note_types(config.language, config.extra_css)
    old_lock = lockfile.load(config.lock_path, config.display(config.lock_path), state.lock if state else "")
    pairs = [(topic.deck_name, note) for topic in gathered.topics for note in topic.notes]
    libraries = pins.libraries(config.root, old_lock.libraries)
    lock = lockfile.update(old_lock, pairs, types, libraries, config.now)
    packaged = gathered.packaged if gathered.packaged is not None else gathered.topics
    hashes = {note.key: note.content_hash for topic in packaged for note in topic.notes}
    mods = dict(lock.note_mods)
    for _, note in pairs:
        if hashes[note.key] != note.content_hash:
            # A variant (--math-images) is one second newer than the default build of the same
            # note: importing it after the default one takes it; every real change is 2 newer.
            mods[note.key] += 1
    outputs = {f"{topic.deck_id}.apkg": [topic] for topic in packaged}
    outputs[f"{ALL_PACKAGE}.apkg"] = packaged
    return Planned(types, lock, outputs, Stamps(lock.guids, mods, lock.notetype_mods), hashes)


def write(config: BuildConfig, gathered: Gathered, inputs: Inputs, state: BuildState) -> BuildReport:
    """Assign mod times, package every deck and replace the files in dist/ atomically."""
    from deckgen.anki import lockfile
    from deckgen.anki.package import build_packages, package_keys  # deferred: genanki only when writing

    planned = plan(config, gathered, state)
    lock = planned.lock
    keys = package_keys(planned.outputs, planned.notetypes, planned.hashes, planned.stamps)
    kept = _intact_outputs(config, state, keys)  # packages whose inputs did not change: not rebuilt
    collections = store.TopicCollections(Cache(config.cache_dir), {topics[0].deck_id: keys[name] for name, topics in planned.outputs.items() if len(topics) == 1})
    packages = build_packages({n: t for n, t in planned.outputs.items() if n not in kept}, planned.notetypes, planned.stamps, gathered.media_files, config.jobs,
                              config.cache_dir, collections)
    lock_bytes = lockfile.dumps(lock.lock).encode()
    lock_sha = sha256(lock_bytes)
    report = BuildReport(
        packages=tuple(str(config.dist_dir / name) for name in sorted(planned.outputs)),
        written=(),
        changes=lock.changes,
        notes=len(lock.note_mods),
        warnings=(*gathered.warnings, *lock.warnings),
        stats=dict(gathered.stats, notes=len(lock.note_mods), packages_built=len(packages)),
        notices=lock.notices,
    )
    report = merge_pending(config, report)  # what an interrupted build had not reported yet
    pending.write(config.cache_dir, lock_sha, report)
    written = _replace_outputs(config, packages, lock_bytes)
    _remove_stale_outputs(config, state, planned.outputs)
    store.save_state(config.cache_dir, BuildState(
        inputs=inputs.key(lock_sha),
        lock=lock_sha,
        outputs=dict(kept, **{name: sha256(data) for name, data in packages.items()}),
        package_keys=keys,
        code=inputs.code,
        topics=gathered.topic_keys,
        notes=len(lock.note_mods),
        warnings=tuple(report.warnings),
    ))
    sweep(config.cache_dir, used_entries(gathered))  # before the report is done with: a kill here must not lose it
    pending.clear(config.cache_dir)
    return dataclasses.replace(report, written=tuple(written))


def merge_pending(config: BuildConfig, report: BuildReport) -> BuildReport:
    """`report` with the changes of an interrupted build whose lock file is the current one:
    it replaced deckgen.lock but died before it could print what changed."""
    from deckgen.builder.inputs import lock_digest

    carried = pending.read(config.cache_dir, lock_digest(config))
    return pending.merged(carried, report) if carried else report


def _replace_outputs(config: BuildConfig, packages: dict[str, bytes], lock_bytes: bytes) -> list[str]:
    """Stage every changed package and the lock file next to their targets, then rename them,
    the lock file last: a build killed on the way leaves the old lock (the next build computes
    the same changes again) or the new lock with every new package (its report is in
    `pending`). Unchanged files are not touched. Returns the packages written."""
    config.dist_dir.mkdir(parents=True, exist_ok=True)
    lock = config.lock_path
    for leftover in [*config.dist_dir.glob(".*.apkg.*"), *lock.parent.glob(f".{lock.name}.*")]:
        leftover.unlink(missing_ok=True)  # staged by a build that was killed
    files = {config.dist_dir / name: data for name, data in packages.items()}
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in [*sorted(files.items()), (lock, lock_bytes)]:
            if target.exists() and target.stat().st_size == len(data) and target.read_bytes() == data:
                continue
            staged.append((target.with_name(f".{target.name}.staged"), target))
            atomic_write(staged[-1][0], data)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)
    return [str(target) for _, target in staged if target != lock]


def _intact_outputs(config: BuildConfig, state: BuildState, keys: dict[str, str]) -> dict[str, str]:
    """{name: sha256} of the packages in dist/ that the last build wrote from the same package key."""
    kept = {}
    for name, key in keys.items():
        digest = state.outputs.get(name)
        path = config.dist_dir / name
        if digest and state.package_keys.get(name) == key and path.exists() and sha256(path.read_bytes()) == digest:
            kept[name] = digest
    return kept


def _remove_stale_outputs(config: BuildConfig, state: BuildState, packages: dict[str, list[CompiledTopic]]) -> None:
    """Delete packages this tool wrote before for topics that no longer exist (never other files)."""
    for name in state.outputs:
        if name not in packages:
            (config.dist_dir / name).unlink(missing_ok=True)


@contextmanager
def exclusive(config: BuildConfig) -> Iterator[None]:
    """One build at a time per project: a second one is refused, not interleaved."""
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(config.cache_dir / "build.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildFailed([ContentError(Location(config.display(config.cache_dir)), "another deckgen build is running in this project", "wait for it to finish, then build again")]) from None
        yield
    finally:
        os.close(fd)


def fail_on_warnings(config: BuildConfig, warnings: tuple[str, ...] | list[str]) -> None:
    """`--strict`: every warning is an error, and nothing is written."""
    if not config.strict or not warnings:
        return
    errors = []
    for text in warnings:
        found = WARNING_RE.match(text)
        where = Location(found["path"], int(found["line"])) if found else Location(config.display(config.content_dir))
        errors.append(ContentError(where, f"warning: {found['message'] if found else text}", "fix it, or build without --strict"))
    raise BuildFailed(errors)
