"""Cloze deletions inside formulas.

Anki ends a deletion at the first `}}` it meets, even one made of two TeX braces, so inside a
cloze note every pair of closing braces that does not close a deletion must be kept apart
(`} }`, which TeX reads the same). `protect` does that; `strip` removes the deletion markup so the
TeX underneath can be checked; `mark` wraps each deletion in `\\class{dg-cN}{...}` so that the card
can highlight it. All read the formula with one walker, `_pieces`.

Why `mark` is needed: Anki strips every HTML tag inside a formula, so a deletion there loses the
`<span class="cloze">` that highlights a text deletion. The mark is TeX (MathJax's `html`
extension, which Anki's full MathJax build loads by default), it is the same on every card of
the note, and the card's stylesheet colours it only on card N (`.cardN .dg-cN`, the class Anki
puts on the card of deletion N) exactly as it colours a text deletion.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

_OPEN_RE = re.compile(r"\{\{c(\d+)::")
# Commands whose argument is text: a \class inside it would be printed literally, so a deletion
# there stays unmarked (the layout check reports it).
_TEXT_MODE_RE = re.compile(r"\\(?:text(?:rm|bf|it|sf|tt|up|normal)?|mbox|hbox|textsc)\s*$")
MARK_CLASS = "dg-c"  # + the deletion number; card.css colours `.cardN .dg-cN`


def protect(tex: str) -> str:
    """Separate every `}}` that is not a deletion's end."""
    out: list[str] = []
    for kind, text in _pieces(tex):
        if (kind == "close" or text == "}") and out and out[-1].endswith("}") and not out[-1].endswith("\\}"):
            out.append(" ")
        out.append(text)
    return "".join(out)


def mark(tex: str) -> str:
    """Wrap every deletion in `\\class{dg-cN}{ ... }` (not those inside `\\text{...}`)."""
    if "{{c" not in tex:
        return tex
    out: list[str] = []
    groups: list[bool] = []  # for each open TeX brace: is its content text (an argument of \text)?
    marked: list[bool] = []  # for each open deletion: did it get a mark?
    for kind, text in _pieces(tex):
        in_text = any(groups)
        if kind == "open":
            number = text[3:-2]
            marked.append(not in_text)
            out.append(f"\\class{{{MARK_CLASS}{number}}}{{ {text}" if not in_text else text)
            continue
        if kind == "close":
            out.append("}} }" if marked.pop() else text)
            continue
        if text == "{":
            groups.append(bool(_TEXT_MODE_RE.search("".join(out[-12:]))))
        elif text == "}" and groups:
            groups.pop()
        out.append(text)
    return "".join(out)


def strip(tex: str) -> str:
    """The TeX with deletion markup removed: `{{c1::a::hint}}` becomes `a`."""
    if "{{c" not in tex:
        return tex
    return "".join(text for kind, text in _pieces(tex, hints=True) if kind == "tex")


def _pieces(tex: str, hints: bool = False) -> Iterator[tuple[str, str]]:
    """The formula as ("open" | "close" | "hint" | "tex", text) pieces, in order.

    A `}}` closes a deletion only where the TeX braces opened inside that deletion are all
    closed; with `hints`, a `::` at that level starts the deletion's hint, which runs to its `}}`
    (`protect` leaves hints to be read as text, exactly as Anki reads them).
    """
    depths: list[int] = []  # TeX brace depth inside each open deletion
    i = 0
    while i < len(tex):
        opener = _OPEN_RE.match(tex, i)
        if opener:
            depths.append(0)
            yield "open", opener.group()
            i = opener.end()
            continue
        if tex[i] == "\\" and i + 1 < len(tex):
            yield "tex", tex[i : i + 2]
            i += 2
            continue
        if depths and depths[-1] == 0:
            if tex.startswith("}}", i):
                depths.pop()
                yield "close", "}}"
                i += 2
                continue
            if hints and tex.startswith("::", i):
                end = tex.find("}}", i)
                end = len(tex) if end == -1 else end
                yield "hint", tex[i:end]
                i = end
                continue
        if depths and tex[i] in "{}":
            depths[-1] += 1 if tex[i] == "{" else -1
        yield "tex", tex[i]
        i += 1
