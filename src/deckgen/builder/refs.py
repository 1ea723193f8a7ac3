"""`[[note-id]]` references between cards: every note's question, and the check that each
reference points at a note that exists.

The questions come from the cache for unchanged files and from the parse for the others; a
file is read for them alone (its heading lines: a cheap pass that needs no parse) only when it
could not be parsed, or when a topic kept from the cache cites notes and the questions are
needed before anything is parsed. So a reference shows the current question of its target even
when the target's topic comes from the cache.
"""
from __future__ import annotations

import difflib

from deckgen.config import BuildConfig
from deckgen.errors import ErrorList
from deckgen.records import Topic
from deckgen.source.parse import heading_indexes, questions


def titles(config: BuildConfig, known: dict[str, dict[str, str] | None]) -> dict[str, str]:
    """Note id -> the question of its heading (without the `{#id}`), over every topic file.
    `known` maps each topic file to its questions when the cache or the parse has them for its
    current bytes (None: the file is read)."""
    found: dict[str, str] = {}
    for path, cached in known.items():
        for note_id, title in (cached if cached is not None else _questions(config, path)).items():
            found.setdefault(note_id, title)
    return found


def _questions(config: BuildConfig, path: str) -> dict[str, str]:
    """Note id -> question, read from the headings of one file (the first heading of an id wins)."""
    lines = (config.root / path).read_bytes().decode("utf-8-sig", errors="replace").replace("\r\n", "\n").split("\n")
    return questions(lines, heading_indexes(lines))


def check(topics: list[Topic], known: dict[str, str], errors: ErrorList) -> None:
    """Each reference must name a note of some topic."""
    for topic in topics:
        for note in topic.notes:
            for ref in note.refs:
                if ref.target not in known:
                    close = difflib.get_close_matches(ref.target, list(known), n=3, cutoff=0.4)
                    hint = f"did you mean {', '.join(f'[[{c}]]' for c in close)}?" if close else "write the id of an existing note, as in its heading's {#id}"
                    errors.add(ref.location, f"[[{ref.target}]] refers to no note", hint)
