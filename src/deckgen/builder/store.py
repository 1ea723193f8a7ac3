"""What a build keeps for the next one: compiled topics and the state of the last good build.

In:  `CompiledTopic` records, and a `BuildState` after a successful build.
Out: the same records read back (through the integrity-checked `Cache`), so an unchanged topic is
     neither parsed nor rendered again, and a build whose inputs did not change does nothing.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deckgen.records import CompiledTopic, Location, NoteKind, RenderedNote
from deckgen.runtime.cache import Cache, atomic_write
from deckgen.runtime.keys import Kind, topic_key

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


def topic_to_json(topic: CompiledTopic) -> dict[str, Any]:
    return {
        "deck_id": topic.deck_id,
        "deck_name": topic.deck_name,
        "description": topic.description,
        "location": [topic.location.path, topic.location.line],
        "figures": list(topic.figures),
        "refs": list(topic.refs),
        "warnings": list(topic.warnings),
        "notes": [
            {
                "key": n.key,
                "kind": n.kind.value,
                "front": n.front,
                "back": n.back,
                "tags": list(n.tags),
                "media": list(n.media),
                "location": [n.location.path, n.location.line],
                "render_key": n.render_key,
                "source_key": n.source_key,
            }
            for n in topic.notes
        ],
    }


def topic_from_json(data: dict[str, Any]) -> CompiledTopic:
    notes = tuple(
        RenderedNote(
            key=n["key"],
            kind=NoteKind(n["kind"]),
            front=n["front"],
            back=n["back"],
            tags=tuple(n["tags"]),
            media=tuple(n["media"]),
            location=Location(*n["location"]),
            render_key=n["render_key"],
            source_key=n["source_key"],
        )
        for n in data["notes"]
    )
    return CompiledTopic(
        deck_id=data["deck_id"],
        deck_name=data["deck_name"],
        description=data["description"],
        notes=notes,
        location=Location(*data["location"]),
        figures=tuple(data["figures"]),
        refs=tuple(data["refs"]),
        warnings=tuple(data.get("warnings", ())),
    )


def load_compiled(cache: Cache, base: str, figure_keys: dict[str, str], titles: dict[str, str]) -> tuple[CompiledTopic | None, str]:
    """The compiled topic saved under `base` (a hash of the topic's own inputs) whose figures
    and referenced questions are still what they were, and the full key it is saved under ("" when
    there is none).

    Only the figures a topic shows and the notes it refers to are part of its key, so editing a
    figure or a question recompiles the topics that show or cite it, not every topic.
    """
    deps = cache.get_json(Kind.TOPIC_DEPS, base)
    if not isinstance(deps, dict):
        return None, ""
    figures, refs = deps.get("figures"), deps.get("refs")
    if not isinstance(figures, list) or not isinstance(refs, list) or not all(name in figure_keys for name in figures):
        return None, ""
    key = topic_key(base, {name: figure_keys[name] for name in figures}, {ref: titles.get(ref, "") for ref in refs})
    return load_topic(cache, key), key


def save_compiled(cache: Cache, base: str, topic: CompiledTopic, figure_keys: dict[str, str], titles: dict[str, str]) -> str:
    """Save `topic` for `load_compiled`; returns its full key."""
    key = topic_key(base, {name: figure_keys[name] for name in topic.figures}, {ref: titles.get(ref, "") for ref in topic.refs})
    cache.put_json(Kind.TOPIC, key, topic_to_json(topic))
    cache.put_json(Kind.TOPIC_DEPS, base, {"figures": list(topic.figures), "refs": list(topic.refs)})
    return key


def load_topic(cache: Cache, key: str) -> CompiledTopic | None:
    data = cache.get_json(Kind.TOPIC, key)
    if data is None:
        return None
    try:
        return topic_from_json(data)
    except (KeyError, TypeError, ValueError):
        return None  # an entry from an older layout: rebuilt


def load_state(cache_dir: Path) -> BuildState:
    try:
        data = json.loads((cache_dir / "state.json").read_text(encoding="utf-8"))
        if data.pop("version", None) != STATE_VERSION:
            return BuildState()
        return BuildState(**dict(data, warnings=tuple(data.get("warnings", ()))))
    except (OSError, ValueError, TypeError):
        return BuildState()


def save_state(cache_dir: Path, state: BuildState) -> None:
    data = dict(asdict(state), version=STATE_VERSION)
    atomic_write(cache_dir / "state.json", json.dumps(data, ensure_ascii=False, sort_keys=True).encode())
