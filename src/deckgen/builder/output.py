"""Write a gathered build: mod times from the lock file, packages, and the lock, all or nothing.

In:  the `Gathered` topics and media of a build, its `Inputs`, the last `BuildState`.
Out: the changed packages and `deckgen.lock` replaced in one step (staged next to their targets,
     then renamed), unchanged files untouched, packages of removed topics deleted, the new state
     saved; a `BuildReport`. One build at a time per project (`exclusive`).
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deckgen.builder import store
from deckgen.builder.inputs import Inputs
from deckgen.builder.store import BuildState
from deckgen.config import ALL_PACKAGE, DEFAULT_LANGUAGE, PROJECT_FILE, BuildConfig
from deckgen.errors import BuildFailed, ContentError
from deckgen.records import BuildReport, CompiledTopic, Location
from deckgen.runtime.cache import atomic_write
from deckgen.runtime.keys import sha256


@dataclass(frozen=True)
class Gathered:
    """Everything validated and rendered, ready to be written."""

    topics: list[CompiledTopic]
    media_files: dict[str, Path]
    warnings: list[str]
    topic_keys: dict[str, str]  # topic path -> the key its compiled topic is cached under
    stats: dict[str, Any] = field(default_factory=dict)


def write(config: BuildConfig, gathered: Gathered, inputs: Inputs, state: BuildState) -> BuildReport:
    """Assign mod times, package every deck and replace the files in dist/ atomically."""
    from deckgen.anki import lockfile
    from deckgen.anki.notetypes import note_types
    from deckgen.anki.package import build_packages, package_key  # deferred: genanki only when writing

    types = note_types(config.language, config.extra_css)
    old_lock = lockfile.load(config.lock_path)
    _check_language_kept(config, old_lock)
    pairs = [(topic.deck_name, note) for topic in gathered.topics for note in topic.notes]
    lock = lockfile.update(old_lock, pairs, {kind.value: nt.content_hash for kind, nt in types.items()}, config.now)
    outputs = {f"{topic.deck_id}.apkg": [topic] for topic in gathered.topics}
    outputs[f"{ALL_PACKAGE}.apkg"] = gathered.topics
    hashes = {key: entry["hash"] for key, entry in lock.data["notes"].items()}
    keys = {name: package_key(topics, types, hashes, lock.note_mods, lock.notetype_mods) for name, topics in outputs.items()}
    kept = _intact_outputs(config, state, keys)  # packages whose inputs did not change: not rebuilt
    packages = build_packages({n: t for n, t in outputs.items() if n not in kept}, types, lock.note_mods, lock.notetype_mods, gathered.media_files, config.jobs)
    if config.language != DEFAULT_LANGUAGE:  # a lock without the key is in the default language
        lock.data["language"] = config.language
    lock_bytes = lockfile.dumps(lock.data).encode()
    written = _replace_outputs(config, packages, lock_bytes)
    _remove_stale_outputs(config, state, outputs)
    store.save_state(config.cache_dir, BuildState(
        inputs=inputs.key(sha256(lock_bytes)),
        outputs=dict(kept, **{name: sha256(data) for name, data in packages.items()}),
        package_keys=keys,
        code=inputs.code,
        topics=gathered.topic_keys,
        notes=len(pairs),
        warnings=tuple(gathered.warnings),
    ))
    return BuildReport(
        packages=tuple(str(config.dist_dir / name) for name in sorted(outputs)),
        written=tuple(written),
        changes=lock.changes,
        notes=len(pairs),
        warnings=tuple(gathered.warnings),
        stats=dict(gathered.stats, notes=len(pairs), packages_built=len(packages)),
    )


def _check_language_kept(config: BuildConfig, old_lock: dict) -> None:
    """The card types are named in the project's language, and Anki pairs card types by name:
    renamed ones would make it copy the note type and stop updating every published note."""
    built = old_lock.get("language", DEFAULT_LANGUAGE)
    if old_lock.get("notes") and built != config.language:
        raise BuildFailed([ContentError(
            Location(PROJECT_FILE),
            f"language '{config.language}' would rename the card types of the notes already built in '{built}' (deckgen.lock): Anki would then copy the note types and stop updating these notes in every collection that has them",
            f"keep language = \"{built}\" for this project (and no --lang); if nobody has imported this deck yet, delete {config.display(config.lock_path)} and build again",
        )])


def _replace_outputs(config: BuildConfig, packages: dict[str, bytes], lock_bytes: bytes) -> list[str]:
    """Stage every changed package and the lock file next to their targets, then rename them all;
    unchanged files are not touched. A full disk or an interrupt while staging leaves dist/ and
    the lock file as they were. Returns the packages written."""
    config.dist_dir.mkdir(parents=True, exist_ok=True)
    lock = config.lock_path
    for leftover in [*config.dist_dir.glob(".*.apkg.*"), *lock.parent.glob(f".{lock.name}.*")]:
        leftover.unlink(missing_ok=True)  # staged by a build that was killed
    files = {config.dist_dir / name: data for name, data in packages.items()}
    files[lock] = lock_bytes
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in sorted(files.items()):
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
