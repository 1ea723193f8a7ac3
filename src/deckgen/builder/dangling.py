"""Text that announces what the card does not show, and stray spaces at deletions: build warnings.

In:  parsed `Note`s, and which of their sympy blocks show nothing (a block of asserts only).
Out: one warning per problem, `path:line: what — how to fix it`:
     - a visible part of an answer (the answer before its details, a details section, a cloze
       text or its back extra) that ends with a colon: the reader waits for what it introduces.
       When a sympy block that shows nothing stands between the colon and the end, the warning
       names the block's line: it is the result the colon promised, and the card shows none;
     - a space just inside a text deletion (`{{c1:: x}}`) or between a deletion and the CJK
       punctuation beside it (`{{c1::x}} ，`): the card shows the space.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from deckgen.records import Location, Note, NoteKind, SympyBlock
from deckgen.syntax import TOKEN_RE

_COLON_END_RE = re.compile(r"[：:](?:\*\*|__|\*|_)?$")
_STRAY_SPACE_RE = re.compile(r"\{\{c\d+::[ \t]+\S|[^\s}][ \t]+\}\}|\}\}[ \t]+[，。：；、）！？]|[，。：；、（][ \t]+\{\{c\d+::")


def warnings(notes: Iterable[Note], shows_nothing: Callable[[SympyBlock], bool]) -> list[str]:
    out: list[str] = []
    for note in notes:
        empty = {block.token: block for block in note.sympy_blocks if shows_nothing(block)}
        parts = [note.back] if note.kind is not NoteKind.CLOZE else [note.front, note.back]
        parts += [section.text for section in note.details]
        details = {section.token for section in note.details}
        for text in parts:
            out += _dangling_colon(text, empty, details, note.location)
        out += _stray_spaces(note)
    return out


def _dangling_colon(text: str, empty: dict[str, SympyBlock], details: set[str], where: Location) -> list[str]:
    """A colon that only empty sympy blocks, details sections or the end of the text follow."""
    visible = text
    for token in details:  # what follows a details section is shown, but the section itself is closed
        visible = visible.split(token, 1)[0] if token in visible else visible
    hidden = [block for token, block in empty.items() if token in visible]
    shown = TOKEN_RE.sub(lambda m: "" if m.group(0) in empty else m.group(0), visible).rstrip()
    if not _COLON_END_RE.search(shown):
        return []
    tail = shown[-30:].strip().replace("\n", " ")
    block = next((b for b in hidden if _COLON_END_RE.search(TOKEN_RE.sub("", visible.split(b.token, 1)[0]).rstrip())), None)
    if block is not None:
        return [f"{block.location}: '…{tail}' introduces the result of a sympy block that shows nothing — "
                "say what the block checks and end the sentence (e.g. '两者相等（已核对）。'), or show the result with show(...)"]
    return [f"{where}: the answer ends with '…{tail}' and nothing follows the colon — finish the sentence, or add what it introduces"]


def _stray_spaces(note: Note) -> list[str]:
    out = []
    for text in (note.front, note.back):
        # Every pattern holds '{{c' or '}}': most texts have neither, and the search tries all four
        # patterns at every character.
        match = _STRAY_SPACE_RE.search(text) if "}}" in text or "{{c" in text else None
        if match:
            out.append(f"{note.location}: a space inside or beside a cloze deletion shows on the card: '{match.group(0)}' — remove the space")
    return out
