"""What a build keeps for the next one: compiled topics and the state of the last good build.

In:  `CompiledTopic` records, and a `BuildState` after a successful build.
Out: the same records read back (through the integrity-checked `Cache`), so an unchanged topic is
     neither parsed nor rendered again, and a build whose inputs did not change does nothing.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deckgen.config import BuildConfig
from deckgen.records import CompiledTopic
from deckgen.runtime.cache import Cache, atomic_write
from deckgen.runtime.keys import Kind, collection_key, parsed_key, topic_key

if TYPE_CHECKING:
    from deckgen.source.parse import NoteMemo

STATE_VERSION = 2


@dataclass(frozen=True)
class BuildState:
    """The last successful build, as the next build needs it (`.deckgen-cache/state.json`)."""

    inputs: str = ""  # the key of everything it read
    outputs: dict[str, str] = field(default_factory=dict)  # package file name -> sha256 of its bytes
    package_keys: dict[str, str] = field(default_factory=dict)  # package file name -> package key
    code: str = ""  # the code that checked and rendered the notes kept in the cache
    topics: dict[str, str] = field(default_factory=dict)  # topic path -> compiled topic key
    notes: int = 0
    warnings: tuple[str, ...] = ()
    lock: str = ""  # sha256 of the deckgen.lock it wrote


def load_deps(cache: Cache, base: str) -> dict[str, Any] | None:
    """What `save_compiled` recorded under `base`: the figures and references of the topic and the
    questions of its notes (so an unchanged file is not read again for them)."""
    deps = cache.get_json(Kind.TOPIC_DEPS, base)
    if not isinstance(deps, dict) or not isinstance(deps.get("figures"), list) or not isinstance(deps.get("refs"), list):
        return None
    if not isinstance(deps.get("titles"), dict):
        deps["titles"] = None  # saved by an older deckgen: the file is read for its questions
    return deps


def load_compiled(cache: Cache, base: str, deps: dict[str, Any] | None, figure_keys: dict[str, str], titles: dict[str, str]) -> tuple[CompiledTopic | None, str]:
    """The compiled topic saved under `base` (a hash of the topic's own inputs) whose figures
    and referenced questions are still what they were, and the full key it is saved under ("" when
    there is none). `deps` is what `load_deps` found under `base`.

    Only the figures a topic shows and the notes it refers to are part of its key, so editing a
    figure or a question recompiles the topics that show or cite it, not every topic.
    """
    if deps is None or not all(name in figure_keys for name in deps["figures"]):
        return None, ""
    key = topic_key(base, {name: figure_keys[name] for name in deps["figures"]}, {ref: titles.get(ref, "") for ref in deps["refs"]})
    return load_topic(cache, key), key


def save_compiled(cache: Cache, base: str, topic: CompiledTopic, figure_keys: dict[str, str], titles: dict[str, str]) -> str:
    """Save `topic` for `load_compiled`; returns its full key."""
    key = topic_key(base, {name: figure_keys[name] for name in topic.figures}, {ref: titles.get(ref, "") for ref in topic.refs})
    for note in topic.notes:  # computed before pickling: a loaded note has them without hashing again
        _ = note.content_hash, note.question_hash
    cache.put_records(Kind.TOPIC, key, topic)
    own = {note.note_id: titles[note.note_id] for note in topic.notes if note.note_id in titles}
    cache.put_json(Kind.TOPIC_DEPS, base, {"figures": list(topic.figures), "refs": list(topic.refs), "titles": own})
    return key


def load_topic(cache: Cache, key: str) -> CompiledTopic | None:
    topic = cache.get_records(Kind.TOPIC, key)
    return topic if isinstance(topic, CompiledTopic) else None


def load_parsed(cache: Cache, path: str) -> NoteMemo:
    """The notes the last parse of `path` found clean (see `NoteMemo`); none when the entry is
    missing or unreadable (everything is parsed again)."""
    from deckgen.source.parse import NoteMemo  # deferred: a no-op build loads no parser

    earlier = cache.get_records(Kind.PARSED, parsed_key(path))
    return NoteMemo(earlier if isinstance(earlier, dict) else {})


def save_parsed(cache: Cache, path: str, memo: NoteMemo) -> None:
    if memo.worth_saving():
        cache.put_records(Kind.PARSED, parsed_key(path), memo.now)


class TopicCollections:
    """The collection of each topic's own package, kept for the package of all topics to copy
    (anki/package.Collections). One entry per topic, replaced when the topic's package is: the
    cache does not grow by a collection at each edit. An entry is used only under the package key
    it was built with, so it holds the rows the topic's notes would make now."""

    def __init__(self, cache: Cache, keys: dict[str, str]):
        self.cache = cache
        self.keys = keys  # deck id -> the package key of the topic's own package

    def get(self, deck_id: str) -> memoryview | None:
        key = self.keys.get(deck_id)
        entry = self.cache.get_view(Kind.COLLECTION, collection_key(deck_id)) if key else None
        if key is None or entry is None:
            return None
        built_for = key.encode() + b"\n"  # not split off: the collection is not copied
        return entry[len(built_for):] if entry[:len(built_for)] == built_for else None

    def put(self, deck_id: str, collection: bytes) -> None:
        if key := self.keys.get(deck_id):
            self.cache.put(Kind.COLLECTION, collection_key(deck_id), key.encode() + b"\n" + collection)


STATE = "state.json"


def load_state(cache_dir: Path) -> BuildState:
    try:
        data = json.loads((cache_dir / STATE).read_text(encoding="utf-8"))
        if data.pop("version", None) != STATE_VERSION:
            return BuildState()
        return BuildState(**dict(data, warnings=tuple(data.get("warnings", ()))))
    except (OSError, ValueError, TypeError):
        return BuildState()


def save_state(cache_dir: Path, state: BuildState) -> None:
    data = dict(asdict(state), version=STATE_VERSION)
    atomic_write(cache_dir / "state.json", json.dumps(data, ensure_ascii=False, sort_keys=True).encode())


def load_unchanged(config: BuildConfig, bases: dict[str, str], deps: dict[str, dict | None], cache: Cache, figure_keys: dict[str, str],
                   titles: dict[str, str]) -> tuple[dict[str, CompiledTopic], list[str], dict[str, str]]:
    """Topics unchanged since they were compiled come from the cache; the paths of the others."""
    compiled: dict[str, CompiledTopic] = {}
    changed: list[str] = []
    topic_keys: dict[str, str] = {}
    for path, base in bases.items():
        cached, topic_keys[path] = load_compiled(cache, base, deps[path], figure_keys, titles)
        if cached is not None and _media_present(config, cached):
            compiled[path] = cached
        else:
            changed.append(path)
    return compiled, changed, topic_keys


def _media_present(config: BuildConfig, topic: CompiledTopic) -> bool:
    return all((config.cache_dir / "media" / name).exists() for note in topic.notes for name in note.media)
