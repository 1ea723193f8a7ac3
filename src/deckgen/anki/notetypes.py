"""The note types deckgen writes, and the identities that must never change once released.

Anki matches note types by id and refuses to update one whose fields or templates changed
(it creates a "Name+" copy instead), so ids, field names and template *structure* here are frozen.
CSS and template wording may change: the lock file gives the note type a newer `mod` and Anki
takes the new version on re-import.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from deckgen.records import NoteKind

# Frozen forever: changing any of these breaks every user's collection.
NOTETYPE_IDS = {NoteKind.BASIC: 1763800000101, NoteKind.REVERSED: 1763800000102, NoteKind.CLOZE: 1763800000103}
FIELDS = {
    NoteKind.BASIC: ("Front", "Back", "Meta"),
    NoteKind.REVERSED: ("Front", "Back", "Meta"),
    NoteKind.CLOZE: ("Text", "Back Extra", "Meta"),
}
# The labels, per language (config.LANGUAGES). Anki finds a note type by its id, so its name may
# change; a card type is paired by name when the package carries no template ids, so renaming one
# makes Anki copy the note type and stop updating the notes (measured with Anki's engine): the
# build refuses to change the language of a deck already built (builder/output.py).
NAMES = {
    "zh": {NoteKind.BASIC: "deckgen 问答", NoteKind.REVERSED: "deckgen 问答（双向）", NoteKind.CLOZE: "deckgen 填空"},
    "en": {NoteKind.BASIC: "deckgen Q&A", NoteKind.REVERSED: "deckgen Q&A (both ways)", NoteKind.CLOZE: "deckgen cloze"},
}
CARD_NAMES = {"zh": ("问答", "反向", "填空"), "en": ("Q&A", "Reverse", "Cloze")}  # forward, reverse, cloze

_FRONT = '<div class="dg dg-q">{{Front}}</div>'
_BACK = '<div class="dg dg-q">{{Front}}</div>\n<hr id="answer">\n<div class="dg dg-a">{{Back}}</div>'
_REVERSE = ('<div class="dg dg-a">{{Back}}</div>', '<div class="dg dg-a">{{Back}}</div>\n<hr id="answer">\n<div class="dg dg-q">{{Front}}</div>')
_CLOZE = (
    '<div class="dg dg-cloze">{{cloze:Text}}</div>',
    '<div class="dg dg-cloze">{{cloze:Text}}</div>\n{{#Back Extra}}<hr id="answer">\n<div class="dg dg-a">{{Back Extra}}</div>{{/Back Extra}}',
)


def templates(kind: NoteKind, language: str = "zh") -> tuple[tuple[str, str, str], ...]:
    """(name, question format, answer format) of each card type of `kind`."""
    forward, reverse, cloze = CARD_NAMES[language]
    if kind is NoteKind.CLOZE:
        return ((cloze, *_CLOZE),)
    if kind is NoteKind.REVERSED:
        return ((forward, _FRONT, _BACK), (reverse, *_REVERSE))
    return ((forward, _FRONT, _BACK),)



@dataclass(frozen=True)
class NoteType:
    kind: NoteKind
    id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]  # (name, question format, answer format)
    css: str

    @property
    def content_hash(self) -> str:
        """What decides the note type's `mod`: a change here must reach users."""
        text = repr((self.name, self.fields, self.templates, self.css))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def card_css() -> str:
    """The card stylesheet plus Pygments' day and night code colours."""
    return resources.files("deckgen.data").joinpath("card.css").read_text(encoding="utf-8") + code_css()


def code_css() -> str:
    from pygments.formatters import HtmlFormatter  # deferred: only needed when packaging

    day = HtmlFormatter(style="default").get_style_defs(".dg .codehilite")
    night = HtmlFormatter(style="monokai").get_style_defs(".nightMode .dg .codehilite")
    night_legacy = HtmlFormatter(style="monokai").get_style_defs(".night_mode .dg .codehilite")
    # The 'pre' rules Pygments emits for each style would override our layout; drop them.
    keep = [line for line in (day + "\n" + night + "\n" + night_legacy).splitlines() if " pre " not in line and "line-height" not in line]
    return "\n/* code highlighting (Pygments) */\n" + "\n".join(keep) + "\n"


def note_types(language: str = "zh", extra_css: str = "") -> dict[NoteKind, NoteType]:
    """The note types, labelled in `language`, with the project's own CSS after the card style."""
    css = card_css() + (f"\n/* the project's own style (deckgen.toml: css) */\n{extra_css}\n" if extra_css else "")
    return {
        kind: NoteType(kind, NOTETYPE_IDS[kind], NAMES[language][kind], FIELDS[kind], templates(kind, language), css)
        for kind in NoteKind
    }


def guid_for(key: str) -> str:
    """The note's Anki GUID from its identity "<deck id>/<note id>" (never from its text). Frozen."""
    digest = hashlib.sha256(f"deckgen:{key}".encode()).digest()
    return "dg" + digest[:12].hex()


def deck_number(deck_name: str) -> int:
    """A stable numeric deck id (Anki matches decks by name; the number only has to be stable)."""
    return 1 << 30 | int.from_bytes(hashlib.sha256(deck_name.encode()).digest()[:4], "big") >> 2
