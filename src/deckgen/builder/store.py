"""What a build keeps for the next one: compiled topics and the fingerprint of its inputs.

In:  `CompiledTopic` records and the state of the last successful build.
Out: the same records read back (through the integrity-checked `Cache`), so an unchanged topic is
     neither parsed nor rendered again, and a build whose inputs did not change does nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from deckgen.runtime.cache import Cache, atomic_write, key_for
from deckgen.records import CompiledTopic, Location, NoteKind, RenderedNote

STATE_VERSION = 1


def topic_to_json(topic: CompiledTopic) -> dict:
    return {
        "deck_id": topic.deck_id,
        "deck_name": topic.deck_name,
        "description": topic.description,
        "location": [topic.location.path, topic.location.line],
        "figures": list(topic.figures),
        "notes": [
            {
                "key": n.key,
                "kind": n.kind.value,
                "fields": list(n.fields),
                "tags": list(n.tags),
                "media": list(n.media),
                "location": [n.location.path, n.location.line],
                "render_key": n.render_key,
            }
            for n in topic.notes
        ],
    }


def topic_from_json(data: dict) -> CompiledTopic:
    notes = tuple(
        RenderedNote(
            key=n["key"],
            kind=NoteKind(n["kind"]),
            fields=tuple(n["fields"]),
            tags=tuple(n["tags"]),
            media=tuple(n["media"]),
            location=Location(*n["location"]),
            render_key=n["render_key"],
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
    )


def load_compiled(cache: Cache, base: str, figure_keys: dict[str, str]) -> tuple[CompiledTopic | None, str]:
    """The compiled topic saved under `base` (a hash of the topic's own inputs) whose figures
    still have the keys they had, and the full key it is saved under ("" when there is none).

    Only the figures a topic shows are part of its key, so editing a figure recompiles the
    topics that show it, not every topic.
    """
    names = cache.get_json("topic-figures", base)
    if not isinstance(names, list) or not all(name in figure_keys for name in names):
        return None, ""
    key = _full_key(base, names, figure_keys)
    return load_topic(cache, key), key


def save_compiled(cache: Cache, base: str, topic: CompiledTopic, figure_keys: dict[str, str]) -> str:
    """Save `topic` for `load_compiled`; returns its full key."""
    key = _full_key(base, list(topic.figures), figure_keys)
    save_topic(cache, key, topic)
    cache.put_json("topic-figures", base, list(topic.figures))
    return key


def _full_key(base: str, names: list[str], figure_keys: dict[str, str]) -> str:
    return key_for("topic", base, [(name, figure_keys[name]) for name in sorted(names)])


def load_topic(cache: Cache, key: str) -> CompiledTopic | None:
    data = cache.get_json("topic", key)
    if data is None:
        return None
    try:
        return topic_from_json(data)
    except (KeyError, TypeError, ValueError):
        return None  # an entry from an older layout: rebuilt


def save_topic(cache: Cache, key: str, topic: CompiledTopic) -> None:
    cache.put_json("topic", key, topic_to_json(topic))


def load_state(cache_dir: Path) -> dict:
    try:
        state = json.loads((cache_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if state.get("version") == STATE_VERSION else {}


def save_state(cache_dir: Path, state: dict) -> None:
    atomic_write(cache_dir / "state.json", json.dumps(dict(state, version=STATE_VERSION), ensure_ascii=False, sort_keys=True).encode())


@lru_cache(maxsize=1)
def code_key() -> str:
    """A hash of deckgen's own code and data: a new deckgen version invalidates every cache entry."""
    digest = hashlib.sha256()
    # The libraries that shape the HTML and the packages count as deckgen's code too.
    digest.update(repr([installed_version(name) for name in RENDERING_LIBRARIES]).encode())
    package = resources.files("deckgen")
    for entry in sorted(_files(package), key=lambda e: e.name):
        digest.update(entry.name.encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()


RENDERING_LIBRARIES = ("markdown", "pygments", "pymdown-extensions", "genanki", "sympy", "pyyaml")


def installed_version(name: str) -> str:
    """The installed version of a distribution, or "-".

    Read from the `*.dist-info` folder names on sys.path (a directory listing), because
    importlib.metadata costs ~20 ms to import and a no-op build must stay near instant.
    """
    version = _installed().get(_normalize(name))
    if version is None:
        from importlib import metadata

        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
    return version


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@lru_cache(maxsize=1)
def _installed() -> dict[str, str]:
    import sys

    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            if entry.endswith(".dist-info"):
                dist, _, version = entry[: -len(".dist-info")].partition("-")
                found.setdefault(_normalize(dist), version)
    return found


def _files(folder):
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            yield from _files(entry)
        elif entry.is_file() and not entry.name.endswith(".pyc"):
            yield entry
