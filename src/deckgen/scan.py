"""Lift formulas, images and sympy blocks out of a note's Markdown before Markdown sees it.

In:  Markdown text of one note part and the line it starts on.
Out: `Scanned`: the text with each formula, image and sympy block replaced by an opaque token,
     plus the lifted items with their exact source lines, and any errors.

Why not arithmatex: we need the line of every formula for error messages, an error (not silent
pass-through) for an unterminated `$`, and cloze-aware rewriting later; a single code-aware pass
gives all three. Code spans and fenced code blocks are copied through untouched, so `$` and
`![x](y)` inside code are never treated as math or images.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ErrorList
from .records import Formula, Location, MediaRef, SympyBlock

TOKEN_RE = re.compile(r"DGTOK(\d+)Z")
FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([\w+-]*)")
BACKTICKS_RE = re.compile(r"`+")
IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


@dataclass
class Scanned:
    text: str
    formulas: list[tuple[str, Formula]] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    sympy_blocks: list[SympyBlock] = field(default_factory=list)


class _Tokens:
    """Hands out tokens that survive Markdown unchanged (letters and digits only)."""

    def __init__(self, start: int = 0):
        self.next = start

    def new(self) -> str:
        token = f"DGTOK{self.next}Z"
        self.next += 1
        return token


def scan(text: str, path: str, first_line: int, errors: ErrorList, tokens: _Tokens | None = None) -> Scanned:
    """Replace formulas, images and ```sympy blocks in `text` by tokens; report bad ones."""
    tokens = tokens or _Tokens()
    out = Scanned(text="")
    pieces: list[str] = []
    lines = text.split("\n")
    i = 0
    prose: list[tuple[int, str]] = []  # consecutive non-code lines with their line numbers

    def flush_prose() -> None:
        if prose:
            pieces.append(_scan_prose(prose, path, errors, tokens, out))
            prose.clear()

    while i < len(lines):
        fence = FENCE_RE.match(lines[i])
        if not fence:
            prose.append((first_line + i, lines[i]))
            i += 1
            continue
        flush_prose()
        indent, marker, lang = fence.groups()
        end = _closing_fence(lines, i + 1, marker)
        if end is None:
            errors.add(
                Location(path, first_line + i),
                f"code block opened with {marker} is never closed",
                f"add a line with {marker} where the code ends",
            )
            end = len(lines)
        body = lines[i + 1 : end]
        if lang == "sympy":
            token = tokens.new()
            out.sympy_blocks.append(SympyBlock("\n".join(body), token, Location(path, first_line + i)))
            pieces.append(f"\n{token}\n")
        else:
            pieces.append("\n".join(lines[i : end + 1]))
        i = end + 1
    flush_prose()
    out.text = "\n".join(pieces)
    return out


def _closing_fence(lines: list[str], start: int, marker: str) -> int | None:
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if stripped.startswith(marker[0] * len(marker)) and set(stripped) == {marker[0]}:
            return j
    return None


def _scan_prose(numbered: list[tuple[int, str]], path: str, errors: ErrorList, tokens: _Tokens, out: Scanned) -> str:
    """Scan lines outside fenced code for code spans, math and images."""
    text = "\n".join(line for _, line in numbered)
    line_starts = []  # offset of each line in `text`
    offset = 0
    for _, line in numbered:
        line_starts.append(offset)
        offset += len(line) + 1

    def line_of(pos: int) -> int:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return numbered[lo][0]

    result: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\\" and pos + 1 < n:
            if text[pos + 1] == "$":
                result.append("&#36;")
            else:
                result.append(text[pos : pos + 2])
            pos += 2
        elif ch == "`":
            end = _code_span_end(text, pos)
            result.append(text[pos:end])
            pos = end
        elif ch == "$":
            pos = _lift_formula(text, pos, path, line_of, errors, tokens, out, result)
        elif ch == "!" and text.startswith("![", pos):
            match = IMAGE_RE.match(text, pos)
            if match:
                token = tokens.new()
                caption, target = match.group(1).strip(), match.group(2)
                out.media.append(MediaRef(target, caption, token, Location(path, line_of(pos))))
                result.append(token)
                pos = match.end()
            else:
                result.append(ch)
                pos += 1
        else:
            result.append(ch)
            pos += 1
    return "".join(result)


def _code_span_end(text: str, pos: int) -> int:
    """End of the code span opening at `pos` (CommonMark: a run of backticks of equal length)."""
    ticks = BACKTICKS_RE.match(text, pos).group()
    for run in BACKTICKS_RE.finditer(text, pos + len(ticks)):
        if run.group() == ticks:
            return run.end()
    return pos + len(ticks)  # no closing run: the backticks are literal


def _lift_formula(text, pos, path, line_of, errors, tokens, out, result) -> int:
    display = text.startswith("$$", pos)
    opener = "$$" if display else "$"
    start = pos + len(opener)
    end = _formula_end(text, start, display)
    where = Location(path, line_of(pos))
    if end is None:
        kind = "display formula $$" if display else "formula $"
        errors.add(where, f"{kind} is never closed", f"close it with {opener}, or write \\$ for a literal dollar sign")
        result.append(text[pos:])
        return len(text)
    tex = text[start:end]
    if not tex.strip():
        errors.add(where, f"empty formula {opener}{opener}", "remove it, or write \\$ for a literal dollar sign")
    token = tokens.new()
    out.formulas.append((token, Formula(tex, display, where)))
    result.append(token)
    return end + len(opener)


def _formula_end(text: str, start: int, display: bool) -> int | None:
    """Index of the closing delimiter; inline math may not cross a blank line."""
    pos = start
    while pos < len(text):
        ch = text[pos]
        if ch == "\\":
            pos += 2
            continue
        if display and text.startswith("$$", pos):
            return pos
        if not display:
            if ch == "$":
                return pos
            if ch == "\n" and text[pos + 1 : pos + 2] == "\n":
                return None
        pos += 1
    return None
