"""Plain immutable records passed between the pipeline stages.

Every record that comes from a source file carries its `Location`, so any later stage can report
an error at the exact `path:line` the author has to edit.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; `path` is relative to the project root when possible."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class NoteKind(StrEnum):
    BASIC = "basic"
    REVERSED = "reversed"
    CLOZE = "cloze"


@dataclass(frozen=True)
class Formula:
    """One `$...$` or `$$...$$` formula as the author wrote it (without delimiters)."""

    tex: str
    display: bool
    location: Location


@dataclass(frozen=True)
class SympyBlock:
    """A fenced ```sympy block: source code run at build time, placed by `token` in the text."""

    code: str
    token: str
    location: Location


@dataclass(frozen=True)
class Show:
    """One formula a sympy block shows: LaTeX, as a display formula or inline."""

    latex: str
    inline: bool = False


@dataclass(frozen=True)
class MediaRef:
    """An image reference: `figure:NAME` or a path relative to the Markdown file."""

    target: str
    caption: str
    token: str
    location: Location

    @property
    def figure_name(self) -> str | None:
        return self.target[len("figure:"):] if self.target.startswith("figure:") else None


@dataclass(frozen=True)
class NoteRef:
    """`[[note-id]]`: a reference to another card, shown as that card's question."""

    target: str  # the note id it points to
    token: str
    location: Location


@dataclass(frozen=True)
class Details:
    """A `::: details LABEL` ... `:::` section of an answer: shown collapsed, skippable in review."""

    token: str  # where the section stands in the answer
    label: str
    text: str  # its Markdown, with tokens like the rest of the note


@dataclass(frozen=True)
class Note:
    """One note as parsed: Markdown with formulas, sympy blocks and images replaced by tokens."""

    note_id: str
    kind: NoteKind
    front: str  # question Markdown (heading text plus optional extra question lines)
    back: str  # answer Markdown (for cloze: extra text shown on the back)
    tags: tuple[str, ...]
    location: Location
    formulas: tuple[tuple[str, Formula], ...] = ()  # (token, formula) in text order
    sympy_blocks: tuple[SympyBlock, ...] = ()
    media: tuple[MediaRef, ...] = ()
    refs: tuple[NoteRef, ...] = ()
    details: tuple[Details, ...] = ()
    remote: bool = False  # `remote: true`: its images may come from the web (source/sanitize.py)


@dataclass(frozen=True)
class Topic:
    """One content file: a deck and its notes."""

    deck_id: str
    deck_name: str
    description: str
    tags: tuple[str, ...]
    notes: tuple[Note, ...]
    location: Location  # the file (line 1)
    warnings: tuple[str, ...] = ()  # `path:line: what — fix` found while parsing it
    allow_scripts: bool = False  # the deck opted out of the card allowlist (source/sanitize.py)
    questions: tuple[tuple[str, str], ...] = ()  # (note id, question) of each heading with an id, for [[id]] references


@dataclass(frozen=True)
class RenderedNote:
    """A note ready for packaging: final field HTML, tags and the media files it uses."""

    key: str  # "<deck id>/<note id>", the identity the GUID and the lock file use
    kind: NoteKind
    front: str  # the question (cloze notes: the text with the deletions)
    back: str  # the answer (cloze notes: the extra text shown on the back)
    tags: tuple[str, ...]
    media: tuple[str, ...]  # media file names (content-hashed) the fields reference
    location: Location
    render_key: str = ""  # hash of everything the fields were rendered from
    source_key: str = ""  # hash of what the author wrote for it (no library's output): see lockfile

    @cached_property
    def note_id(self) -> str:  # asked for several times per note by the lock file's update
        return self.key.split("/", 1)[1]

    @property
    def fields(self) -> tuple[str, str, str]:
        """The Anki fields in the note type's order: front, back, and Meta (the key, so that
        `"Meta:deck/note"` finds the note in Anki's browser)."""
        return (self.front, self.back, self.key)

    @cached_property
    def content_hash(self) -> str:
        """What the user sees of the note: its type, fields and tags (the lock file compares it).
        Worked out once per note and kept in the compiled-topic cache: a build of 10,000 notes
        asks for it several times for each."""
        return fields_hash(self.kind.value, self.fields, self.tags)

    @cached_property
    def question_hash(self) -> str:
        """The question alone (the lock file finds a renamed note by it); kept with content_hash."""
        return hashlib.sha256(self.front.encode()).hexdigest()[:12]


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps with options makes one per call


def fields_hash(kind: str, fields: tuple[str, ...] | list[str], tags: tuple[str, ...] | list[str]) -> str:
    text = _ENCODER.encode([kind, list(fields), sorted(tags)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CompiledTopic:
    """A topic after rendering: what packaging needs, and what the cache stores."""

    deck_id: str
    deck_name: str
    description: str
    notes: tuple[RenderedNote, ...]
    location: Location
    figures: tuple[str, ...] = ()  # names of the figures the notes show
    refs: tuple[str, ...] = ()  # ids of the notes its notes refer to with [[id]]
    warnings: tuple[str, ...] = ()  # found while parsing it, kept so a cached topic still says them

    @property
    def source_path(self) -> str:
        return self.location.path


@dataclass(frozen=True)
class DeckChanges:
    """Notes added, changed and removed in one deck since the last successful build."""

    deck_name: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()  # (note key, why) for changes that are not edits
    moved_in: tuple[tuple[str, str], ...] = ()  # (note key, the deck its cards stay in)
    renamed_from: str = ""  # the deck's name in the last build (same deck id)
    topic: str = ""  # the deck id of the topic, when the deck has one

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed or self.renamed_from)


@dataclass(frozen=True)
class BuildReport:
    """What a build did: packages written, changes per deck, warnings, and the time it took."""

    packages: tuple[str, ...]
    written: tuple[str, ...]  # packages whose bytes changed in this build
    changes: tuple[DeckChanges, ...]
    notes: int
    warnings: tuple[str, ...] = ()
    stats: dict = field(default_factory=dict)
    notices: tuple[str, ...] = ()  # what the user should know besides the notes: note types, libraries
