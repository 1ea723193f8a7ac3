"""Every cache key, and every version that goes into one: what a cached result depends on.

In:  the inputs of a costly result (a figure's script, a sympy block's code, a note's Markdown...).
Out: a hex key; equal keys promise equal results.

A key starts with its `Kind` and the version of the code that makes that kind of result
(`VERSIONS`: bump one when the result for the same inputs changes), and holds the installed
versions of the libraries that shape it (`LIBRARIES`), so a new deckgen, matplotlib or sympy is a
miss, never a stale hit. Nothing here imports a heavy library: a no-op build computes keys only.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from importlib.abc import Traversable

CACHE_VERSION = "1"  # the layout of every key; bump to invalidate every cache entry at once


class Kind(StrEnum):
    """What a cache entry holds (its folder in the cache), or what a key stands for."""

    FIGURE = "figure"  # the day and night SVG of one figure
    SYMPY = "sympy"  # what one sympy block shows
    TOPIC = "topic"  # a compiled topic (rendered notes)
    TOPIC_DEPS = "topic-deps"  # the figures and referenced notes of a compiled topic (to find its full key)
    PARSED = "parsed"  # the notes of one topic file as the parser found them, by their lines
    MATH_SVG = "mathsvg"  # one formula drawn as SVG (--math-images)
    COLLECTION = "collection"  # the collection of one topic's package, the latest only (copied into the package of all topics)
    NOTE = "note"  # not stored: the inputs of one note's rendered fields
    PACKAGE = "package"  # not stored: the inputs of one .apkg's bytes
    INPUTS = "inputs"  # not stored: everything a build reads


STORED = frozenset({Kind.FIGURE, Kind.SYMPY, Kind.TOPIC, Kind.TOPIC_DEPS, Kind.PARSED, Kind.MATH_SVG, Kind.COLLECTION})  # kinds the cache holds

VERSIONS = {
    Kind.FIGURE: "3",  # 3: rendered in a confined worker (results of unconfined runs are not reused)
    Kind.SYMPY: "4",  # 4: likewise
    Kind.TOPIC: "3",  # 2: pickled records, not JSON; 3: with each note's question hash
    Kind.TOPIC_DEPS: "1",
    Kind.PARSED: "1",
    Kind.MATH_SVG: "1",
    Kind.COLLECTION: "1",
    Kind.NOTE: "1",
    Kind.PACKAGE: "1",
    Kind.INPUTS: "1",
}

# The libraries whose version changes a kind of result.
LIBRARIES = {
    "figures": ("matplotlib", "numpy", "scour", "noto-cjk-sans-otc"),
    "sympy": ("sympy",),
    "cards": ("markdown", "pygments", "pymdown-extensions", "genanki", "sympy", "pyyaml"),
}


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)  # json.dumps makes one per call


def key_for(*parts: object) -> str:
    """A key from any JSON-serialisable parts."""
    text = _ENCODER.encode([CACHE_VERSION, *parts])
    return hashlib.sha256(text.encode()).hexdigest()


def versioned(kind: Kind, *parts: object) -> str:
    """A key of `kind`: its name and version first, then the parts."""
    return key_for(kind.value, VERSIONS[kind], *parts)


def sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- the keys of each kind ---------------------------------------------------------------------


def figure_key(name: str, script: bytes, shared: str) -> str:
    """One figure: its name, its script, and `figure_shared_key` (style, helpers, libraries)."""
    return versioned(Kind.FIGURE, name, sha256(script), shared)


def figure_shared_key(helpers: list[bytes]) -> str:
    """What every figure depends on besides its own script: deckgen's figure package, the
    helpers in figures/_*.py and the drawing libraries."""
    return key_for(package_files_key("deckgen.figures"), [sha256(h) for h in helpers], library_versions("figures"))


def sympy_key(code: str) -> str:
    return versioned(Kind.SYMPY, library_versions("sympy"), code)


def topic_base_key(source_digest: str, code: str, assets: str) -> str:
    """A topic's own inputs (its file, deckgen's code, the images, sympy); figures come later."""
    return versioned(Kind.TOPIC, source_digest, code, assets, library_versions("sympy"))


def topic_key(base: str, figures: dict[str, str], refs: dict[str, str]) -> str:
    """The full key of a compiled topic: its base, the keys of the figures it shows and the
    questions of the notes it refers to (a reworded question changes every reference to it)."""
    return versioned(Kind.TOPIC, base, sorted(figures.items()), sorted(refs.items()))


def parsed_key(path: str) -> str:
    """The parsed notes of the file at `path`, as deckgen's code parses them (one entry per file:
    each build replaces it; the notes inside are found by their own lines)."""
    return versioned(Kind.PARSED, path, code_key())


def collection_key(deck_id: str) -> str:
    """The slot of one topic's collection: one per deck, replaced when its package is."""
    return versioned(Kind.COLLECTION, deck_id)


def math_svg_key(tex: str, display: bool, mathjax_version: str) -> str:
    return versioned(Kind.MATH_SVG, mathjax_version, tex, display)


def note_key(*inputs: object) -> str:
    """Everything a note's fields are rendered from: equal keys give equal fields."""
    return versioned(Kind.NOTE, *inputs)


def package_key(*inputs: object) -> str:
    """Everything the bytes of one package depend on: equal keys give equal bytes."""
    return versioned(Kind.PACKAGE, code_key(), *inputs)


def inputs_key(*inputs: object) -> str:
    return versioned(Kind.INPUTS, *inputs)


# ---- deckgen's own code and the installed libraries ---------------------------------------------


@lru_cache(maxsize=1)
def code_key() -> str:
    """deckgen's own code and data, and the libraries that shape cards and packages: a new
    version of any of them invalidates every rendered note."""
    return key_for(package_files_key("deckgen"), library_versions("cards"))


@cache
def package_files_key(package: str) -> str:
    """A hash of every file of a package and its subpackages (so moving a module cannot drop
    it from a key)."""
    digest = hashlib.sha256()
    root = resources.files(package)
    for name, entry in sorted(_files(root, "")):
        digest.update(name.encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()


def _files(folder: Traversable, prefix: str):
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            yield from _files(entry, f"{prefix}{entry.name}/")
        elif entry.is_file() and not entry.name.endswith(".pyc"):
            yield f"{prefix}{entry.name}", entry


@cache
def library_versions(group: str) -> tuple[str, ...]:
    return tuple(f"{name}=={installed_version(name)}" for name in LIBRARIES[group])


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
