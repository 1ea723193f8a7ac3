"""Cloze deletions inside formulas.

Anki ends a deletion at the first `}}` it meets, even one made of two TeX braces, so inside a
cloze note every pair of closing braces that does not close a deletion must be kept apart
(`} }`, which TeX reads the same). `protect` does that; `strip` removes the deletion markup so the
TeX underneath can be checked.
"""
from __future__ import annotations

import re

_OPEN_RE = re.compile(r"\{\{c\d+::")


def protect(tex: str) -> str:
    """Separate every `}}` that is not a deletion's end."""
    out: list[str] = []
    depths: list[int] = []  # TeX brace depth inside each open deletion
    i = 0
    while i < len(tex):
        opener = _OPEN_RE.match(tex, i)
        if opener:
            depths.append(0)
            out.append(opener.group())
            i = opener.end()
            continue
        ch = tex[i]
        if ch == "\\" and i + 1 < len(tex):
            out.append(tex[i : i + 2])
            i += 2
            continue
        if ch == "}" and depths and depths[-1] == 0 and tex.startswith("}}", i):
            _separate(out)
            out.append("}}")
            depths.pop()
            i += 2
            continue
        if ch == "{" and depths:
            depths[-1] += 1
        elif ch == "}":
            if depths:
                depths[-1] -= 1
            _separate(out)
        out.append(ch)
        i += 1
    return "".join(out)


def _separate(out: list[str]) -> None:
    if out and out[-1].endswith("}") and not out[-1].endswith("\\}"):
        out.append(" ")


def strip(tex: str) -> str:
    """The TeX with deletion markup removed: `{{c1::a::hint}}` becomes `a`."""
    if "{{c" not in tex:
        return tex
    out: list[str] = []
    depths: list[int] = []
    i = 0
    while i < len(tex):
        opener = _OPEN_RE.match(tex, i)
        if opener:
            depths.append(0)
            i = opener.end()
            continue
        ch = tex[i]
        if ch == "\\" and i + 1 < len(tex):
            out.append(tex[i : i + 2])
            i += 2
            continue
        if depths and depths[-1] == 0:
            if tex.startswith("}}", i):
                depths.pop()
                i += 2
                continue
            if tex.startswith("::", i):  # a hint: skip to the deletion's end
                end = tex.find("}}", i)
                i = end if end != -1 else len(tex)
                continue
        if ch == "{" and depths:
            depths[-1] += 1
        elif ch == "}" and depths:
            depths[-1] -= 1
        out.append(ch)
        i += 1
    return "".join(out)
