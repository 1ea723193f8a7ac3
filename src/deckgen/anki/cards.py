"""A note's cards as Anki renders them: template, field and cloze substitution.

In:  a `RenderedNote` (its field HTML) and its `NoteType` (templates as packaged).
Out: one `Card` per template (per cloze number for cloze notes) with the question and answer HTML
     that Anki's own engine produces for it, byte for byte (tests/test_preview.py compares every
     card with `card.render_output()` from the `anki` package).

Why not Anki's engine itself: the `anki` wheel is a test dependency (11 MB, glibc >= 2.35); a user
who only wants `deckgen preview` should not need it. The templates deckgen writes use three
constructs only ({{Field}}, {{cloze:Field}}, {{#Field}}..{{/Field}}), and the cloze rules below
follow Anki's rslib/src/cloze.rs, including nested deletions, hints and MathJax.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from deckgen.anki.notetypes import NoteType
from deckgen.limits import CLOZE_NESTING
from deckgen.records import NoteKind, RenderedNote
from deckgen.syntax import CLOZE_OPEN_RE, HTML_TAG_RE

_SECTION_RE = re.compile(r"\{\{([#^])([^}]+)\}\}(.*?)\{\{/\2\}\}", re.S)
_FIELD_RE = re.compile(r"\{\{(?:(cloze):)?([^#^/}][^}]*)\}\}")
_MATHJAX_RE = re.compile(r"(\\[(\[])(.*?)(\\[)\]])", re.S)
_EMPTY_FIELD_RE = re.compile(r"^(?:\s|</?(?:br|div) ?/?>)*$", re.I)


@dataclass(frozen=True)
class Card:
    ordinal: int  # 1-based: the template number, or the cloze number
    name: str  # template name, e.g. "问答", "反向", "填空 c2"
    question: str
    answer: str


def render_cards(note: RenderedNote, notetype: NoteType) -> list[Card]:
    fields = dict(zip(notetype.fields, note.fields, strict=True))
    if note.kind is NoteKind.CLOZE:
        name, qfmt, afmt = notetype.templates[0]
        text = fields[notetype.fields[0]]
        return [
            Card(n, f"{name} c{n}", _render(qfmt, fields, n, True), _render(afmt, fields, n, False))
            for n in cloze_numbers(text)
        ]
    return [
        Card(i, name, _render(qfmt, fields, i, True), _render(afmt, fields, i, False))
        for i, (name, qfmt, afmt) in enumerate(notetype.templates, start=1)
    ]


def _render(template: str, fields: dict[str, str], ordinal: int, question: bool) -> str:
    def section(match: re.Match) -> str:
        filled = not _EMPTY_FIELD_RE.match(fields.get(match.group(2).strip(), ""))
        return match.group(3) if filled == (match.group(1) == "#") else ""

    def field(match: re.Match) -> str:
        value = fields.get(match.group(2).strip(), "")
        return cloze_side(value, ordinal, question) if match.group(1) else value

    return _FIELD_RE.sub(field, _SECTION_RE.sub(section, template))


# ---- cloze deletions, as rslib/src/cloze.rs does them -----------------------------------------


@dataclass
class _Cloze:
    ordinal: int
    nodes: list  # str | _Cloze
    hint: str | None = None


def _parse(text: str) -> list:
    """Nested deletions; a stray `}}` stays text, an unclosed `{{cN::` is dropped (as in Anki)."""
    output: list = []
    open_: list[_Cloze] = []
    i = 0
    while i < len(text):
        opener = CLOZE_OPEN_RE.match(text, i)
        if opener:
            if len(open_) < CLOZE_NESTING:
                open_.append(_Cloze(int(opener.group(1)), []))
            i = opener.end()
            continue
        if text.startswith("}}", i):
            if open_:
                done = open_.pop()
                (open_[-1].nodes if open_ else output).append(done)
            else:
                output.append("}}")
            i += 2
            continue
        end = _next_marker(text, i)
        piece = text[i:end]
        if open_:
            head, sep, tail = piece.partition("::")
            if sep:
                piece, open_[-1].hint = head, tail
            open_[-1].nodes.append(piece)
        else:
            output.append(piece)
        i = end
    return output


def _next_marker(text: str, start: int) -> int:
    for j in range(start + 1, len(text)):
        if text.startswith("}}", j) or CLOZE_OPEN_RE.match(text, j):
            return j
    return len(text)


def cloze_numbers(text: str) -> list[int]:
    """The deletion numbers in a cloze field, ascending (each one is a card)."""
    found: set[int] = set()

    def walk(nodes: list) -> None:
        for node in nodes:
            if isinstance(node, _Cloze) and node.ordinal != 0:
                found.add(node.ordinal)
                walk(node.nodes)

    walk(_parse(text))
    return sorted(found)


def cloze_side(text: str, ordinal: int, question: bool) -> str:
    """Anki's {{cloze:Field}} for card `ordinal`; empty when the card has no such deletion."""
    found = [False]
    out: list[str] = []
    for node in _parse(text):
        out.append(node if isinstance(node, str) else _reveal(node, ordinal, question, found))
    if not found[0]:
        return ""
    return _MATHJAX_RE.sub(lambda m: m.group(1) + HTML_TAG_RE.sub("", m.group(2)) + m.group(3), "".join(out))


def _reveal(cloze: _Cloze, ordinal: int, question: bool, found: list[bool]) -> str:
    active = cloze.ordinal == ordinal
    found[0] |= active
    inner = "".join(n if isinstance(n, str) else _reveal(n, ordinal, question, found) for n in cloze.nodes)
    hint = cloze.hint if cloze.hint is not None else "..."
    if question and active:
        return f'<span class="cloze" data-cloze="{encode_attribute(inner)}" data-ordinal="{cloze.ordinal}">[{hint}]</span>'
    kind = "cloze" if active else "cloze-inactive"
    return f'<span class="{kind}" data-ordinal="{cloze.ordinal}">{inner}</span>'


_NAMED = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#x27;"}


def encode_attribute(text: str) -> str:
    """The htmlescape crate's encode_attribute: every non-alphanumeric Latin-1 character as &#xNN;."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif code < 256 and (code > 127 or not ch.isalnum()):
            out.append(f"&#x{code:X};")
        else:
            out.append(ch)
    return "".join(out)
