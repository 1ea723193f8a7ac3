"""The note types deckgen writes, and the identities that must never change once released.

Anki matches note types by id, then pairs their fields and templates (Anki 2.1.67+): by id when
both sides carry one, else by name, and the counts must agree. Any other change makes the import
add a copy of the note type and skip every existing note of it as *conflicting*, now and later.
So the ids, the number and order of fields and templates, and (for collections that never got
the ids) their names are frozen. Since ids are on every field and template, a collection that
imported a package with them matches by id, and names, CSS and template wording may change: the
lock file gives the note type a newer `mod` and Anki takes the new version in place.

Measured with Anki's engine (tests/test_notetypes.py): a collection that imported packages
without ids updates in place, nothing conflicting, from a package that carries them (the names
still pair the fields); after that, renamed note types and templates update in place too.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from deckgen.records import NoteKind

LANGUAGES = ("zh", "en")

# Frozen forever: changing any of these breaks every user's collection.
NOTETYPE_IDS = {NoteKind.BASIC: 1763800000101, NoteKind.REVERSED: 1763800000102, NoteKind.CLOZE: 1763800000103}
FIELDS = {
    NoteKind.BASIC: ("Front", "Back", "Meta"),
    NoteKind.REVERSED: ("Front", "Back", "Meta"),
    NoteKind.CLOZE: ("Text", "Back Extra", "Meta"),
}
# Field and template ids, in the note type's order. Below 2**31: Anki 2.1.67 reads them as int32.
FIELD_IDS = {
    NoteKind.BASIC: (1763801011, 1763801012, 1763801013),
    NoteKind.REVERSED: (1763801021, 1763801022, 1763801023),
    NoteKind.CLOZE: (1763801031, 1763801032, 1763801033),
}
TEMPLATE_IDS = {
    NoteKind.BASIC: (1763802011,),
    NoteKind.REVERSED: (1763802021, 1763802022),
    NoteKind.CLOZE: (1763802031,),
}

# What users see: the note type's name and its cards' names, per `BuildConfig.language`. The
# "zh" names are the published ones: collections that never got field ids pair templates by them.
NAMES = {
    "zh": {NoteKind.BASIC: "deckgen 问答", NoteKind.REVERSED: "deckgen 问答（双向）", NoteKind.CLOZE: "deckgen 填空"},
    "en": {NoteKind.BASIC: "deckgen Q&A", NoteKind.REVERSED: "deckgen Q&A (and reversed)", NoteKind.CLOZE: "deckgen Cloze"},
}
CARD_NAMES = {
    "zh": {NoteKind.BASIC: ("问答",), NoteKind.REVERSED: ("问答", "反向"), NoteKind.CLOZE: ("填空",)},
    "en": {NoteKind.BASIC: ("Q&A",), NoteKind.REVERSED: ("Q&A", "Reverse"), NoteKind.CLOZE: ("Cloze",)},
}

_FRONT = '<div class="dg dg-q">{{Front}}</div>'
_BACK = '<div class="dg dg-q">{{Front}}</div>\n<hr id="answer">\n<div class="dg dg-a">{{Back}}</div>'
FORMATS = {  # (question format, answer format) of each template
    NoteKind.BASIC: ((_FRONT, _BACK),),
    NoteKind.REVERSED: (
        (_FRONT, _BACK),
        ('<div class="dg dg-a">{{Back}}</div>', '<div class="dg dg-a">{{Back}}</div>\n<hr id="answer">\n<div class="dg dg-q">{{Front}}</div>'),
    ),
    NoteKind.CLOZE: (
        (
            '<div class="dg dg-cloze">{{cloze:Text}}</div>',
            '<div class="dg dg-cloze">{{cloze:Text}}</div>\n{{#Back Extra}}<hr id="answer">\n<div class="dg dg-a">{{Back Extra}}</div>{{/Back Extra}}',
        ),
    ),
}


@dataclass(frozen=True)
class NoteType:
    kind: NoteKind
    id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]  # (name, question format, answer format)
    css: str
    field_ids: tuple[int, ...] = ()
    template_ids: tuple[int, ...] = ()
    library_css: str = ""  # the part of `css` a library writes (Pygments' colours)

    @property
    def content_hash(self) -> str:
        """What decides the note type's `mod`: a change here must reach users."""
        text = repr((self.name, self.fields, self.templates, self.css, self.field_ids, self.template_ids))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def source_hash(self) -> str:
        """The same without what a library version writes: a new Pygments alone is no edit."""
        own_css = self.css.replace(self.library_css, "")
        text = repr((self.name, self.fields, self.templates, own_css, self.field_ids, self.template_ids))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def schema(self) -> dict[str, list]:
        """What Anki pairs on import: fields and templates, in order, as [name, id]."""
        return {
            "fields": [[name, id_] for name, id_ in zip(self.fields, self.field_ids, strict=True)],
            "templates": [[t[0], id_] for t, id_ in zip(self.templates, self.template_ids, strict=True)],
        }


def own_css() -> str:
    return resources.files("deckgen.data").joinpath("card.css").read_text(encoding="utf-8")


def code_css() -> str:
    from pygments.formatters import HtmlFormatter  # deferred: only needed when packaging

    day = HtmlFormatter(style="default").get_style_defs(".dg .codehilite")
    night = HtmlFormatter(style="monokai").get_style_defs(".nightMode .dg .codehilite")
    night_legacy = HtmlFormatter(style="monokai").get_style_defs(".night_mode .dg .codehilite")
    # The 'pre' rules Pygments emits for each style would override our layout; drop them.
    keep = [line for line in (day + "\n" + night + "\n" + night_legacy).splitlines() if " pre " not in line and "line-height" not in line]
    return "\n/* code highlighting (Pygments) */\n" + "\n".join(keep) + "\n"


def note_types(language: str = "zh", extra_css: str = "") -> dict[NoteKind, NoteType]:
    """The note types, labelled in `language`, with the project's own CSS (deckgen.toml) last."""
    library_css = code_css()  # Pygments' day and night code colours, after the card stylesheet
    css = own_css() + library_css
    if extra_css:
        css += f"\n/* the project's own style (deckgen.toml: css) */\n{extra_css}\n"
    names, card_names = NAMES[language], CARD_NAMES[language]
    return {
        kind: NoteType(
            kind, NOTETYPE_IDS[kind], names[kind], FIELDS[kind],
            tuple((card_name, q, a) for card_name, (q, a) in zip(card_names[kind], FORMATS[kind], strict=True)),
            css, FIELD_IDS[kind], TEMPLATE_IDS[kind], library_css,
        )
        for kind in NoteKind
    }


def published_schema_without_ids(kind: NoteKind) -> dict[str, list]:
    """The schema every package had before field and template ids (deckgen.lock version 1)."""
    return {"fields": [[name, None] for name in FIELDS[kind]], "templates": [[name, None] for name in CARD_NAMES["zh"][kind]]}


def guid_for(key: str) -> str:
    """The GUID a note gets when it is first published, from "<deck id>/<note id>" (never from
    its text). The lock file records it; a note keeps it when it moves or its id is renamed."""
    digest = hashlib.sha256(f"deckgen:{key}".encode()).digest()
    return "dg" + digest[:12].hex()


def deck_number(deck_name: str) -> int:
    """A stable numeric deck id (Anki matches decks by name; the number only has to be stable)."""
    return 1 << 30 | int.from_bytes(hashlib.sha256(deck_name.encode()).digest()[:4], "big") >> 2
