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

import bisect
import html
import re
from dataclasses import dataclass, field

from deckgen.errors import ErrorList
from deckgen.records import Formula, Location, MediaRef, NoteRef, SympyBlock
from deckgen.source import guards, sanitize
from deckgen.syntax import CLOZE_OPEN_RE, token

FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([\w+-]*)")
BACKTICKS_RE = re.compile(r"`+")
_SPECIAL_RE = re.compile(r"[\\`$!\[]")  # what _scan_prose must look at; everything else is copied
REF_RE = re.compile(r"\[\[([a-z0-9][a-z0-9-]{0,63})\]\]")  # [[note-id]]: see another card


def _up_to(stop: str) -> str:
    """Characters other than `stop`, and never `![`: a match cannot run over the next image, so
    trying each `![` of a long line costs time linear in the line, not quadratic."""
    return "(?:[^" + stop + "!]|!(?!\\[))"


_CAPTION, _TARGET, _TITLE = _up_to(r"\]\n"), _up_to(r")\s>"), _up_to(r'"\n')
IMAGE_RE = re.compile(r"!\[(" + _CAPTION + r"*)\]\(\s*<?(" + _TARGET + r"+)>?(?:\s+\"" + _TITLE + r"*\")?\s*\)")
# What IMAGE_RE leaves: spaces in the path, a single-quoted title, a reference-style image.
UNREAD_IMAGE_RE = re.compile(r"!\[" + _CAPTION + r"*\](?:\(" + _up_to(r")\n") + r"*\)?|\[" + _CAPTION + r"*\]?)")
_BIG_CHARREF_RE = re.compile(r"&#[xX]?[0-9a-fA-F]{8,};?")  # past U+10FFFF; html.unescape chokes on huge ones
RAW_IMG_RE = re.compile(r"<img\b", re.I)
SCRIPT_RE = re.compile(r"<script\b", re.I)
HANDLER_RE = re.compile(r"<[a-z][^<>]*?[\s/\"'](on[a-z]+)\s*=", re.I)
# A scheme where a browser would follow it: a link target, an autolink, an attribute value or a
# reference definition. Browsers skip whitespace inside the scheme, so the pattern does too.
_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
SCRIPT_URL_RE = re.compile(
    r"(?:\]\(\s*<?|<|=\s*[\"']?|\]:)\s*(" + "|".join(r"\s*".join(map(re.escape, scheme)) for scheme in _SCHEMES) + ")",
    re.I,
)
SCRIPT_HINT = (
    "remove it: cards run no scripts unless the deck opts in (show code in a ``` block instead); "
    "if this deck really needs them, set 'allow_scripts: true' in its front matter"
)


@dataclass
class Scanned:
    text: str
    formulas: list[tuple[str, Formula]] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    sympy_blocks: list[SympyBlock] = field(default_factory=list)
    refs: list[NoteRef] = field(default_factory=list)
    cloze_lines: list[int] = field(default_factory=list)  # lines with `{{cN::` outside code and formulas


class Tokens:
    """Hands out placeholders that survive Markdown unchanged (syntax.token)."""

    def __init__(self, start: int = 0):
        self.next = start

    def new(self) -> str:
        self.next += 1
        return token(self.next - 1)


def scan(text: str, path: str, first_line: int, errors: ErrorList, tokens: Tokens | None = None, allow_scripts: bool = False, remote: bool = False) -> Scanned:
    """Replace formulas, images and ```sympy blocks in `text` by tokens; report bad ones.

    Raw HTML is passed on when the card allowlist (source/sanitize.py) keeps it; what would run
    code on the card (`<script>`, `on...=` attributes, `javascript:` URLs) and everything else
    the allowlist refuses is an error, unless `allow_scripts`. `remote`: the note opted in to
    images from the web.
    """
    tokens = tokens or Tokens()
    out = Scanned(text="")
    pieces: list[str] = []
    lines = text.split("\n")
    i = 0
    prose: list[tuple[int, str]] = []  # consecutive non-code lines with their line numbers

    def flush_prose() -> None:
        if prose:
            pieces.append(_scan_prose(prose, path, errors, tokens, out, allow_scripts, remote))
            prose.clear()

    while i < len(lines):
        fence = FENCE_RE.match(lines[i])
        if not fence:
            prose.append((first_line + i, lines[i]))
            i += 1
            continue
        flush_prose()
        _, marker, lang = fence.groups()
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


def _scan_prose(numbered: list[tuple[int, str]], path: str, errors: ErrorList, tokens: Tokens, out: Scanned, allow_scripts: bool = False, remote: bool = False) -> str:
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
    runs = _backtick_runs(text)
    lifted: list[tuple[int, int]] = []  # code spans, formulas, images and escapes: not HTML
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\\" and pos + 1 < n:
            if text[pos + 1] == "$":
                result.append("&#36;")
            else:
                result.append(text[pos : pos + 2])
            lifted.append((pos, pos + 2))
            pos += 2
        elif ch == "`":
            end = _code_span_end(text, pos, runs)
            result.append(text[pos:end])
            lifted.append((pos, end))
            pos = end
        elif ch == "$":
            end = _lift_formula(text, pos, path, line_of, errors, tokens, out, result)
            lifted.append((pos, end))
            pos = end
        elif ch == "[" and (ref := REF_RE.match(text, pos)):
            token = tokens.new()
            out.refs.append(NoteRef(ref.group(1), token, Location(path, line_of(pos))))
            result.append(token)
            lifted.append((pos, ref.end()))
            pos = ref.end()
        elif ch == "!" and text.startswith("![", pos):
            match = IMAGE_RE.match(text, pos)
            if match:
                token = tokens.new()
                caption, target = match.group(1).strip(), match.group(2)
                out.media.append(MediaRef(target, caption, token, Location(path, line_of(pos))))
                result.append(token)
                lifted.append((pos, match.end()))
                pos = match.end()
            else:
                result.append(ch)
                pos += 1
        else:
            # Plain text up to the next character that can start something: copied in one piece.
            special = _SPECIAL_RE.search(text, pos + 1)
            stop = special.start() if special else n
            result.append(text[pos:stop])
            pos = stop
    bare = _blank_out(text, lifted)
    out.cloze_lines += [line_of(m.start()) for m in CLOZE_OPEN_RE.finditer(bare)]
    _check_html(bare, line_of, path, errors, allow_scripts, remote)
    guards.check_markdown(bare, numbered[0][0], path, errors)
    return "".join(result)


def _blank_out(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with code spans, formulas and images replaced by spaces (newlines and offsets kept)."""
    parts, last = [], 0
    for start, end in spans:
        span = text[start:end]
        parts += [text[last:start], re.sub(r"[^\n]", " ", span) if "\n" in span else " " * len(span)]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _check_html(prose: str, line_of, path: str, errors: ErrorList, allow_scripts: bool, remote: bool = False) -> None:
    """Report raw HTML that would run code, fetch something, show a file deckgen does not
    package, or that the card allowlist refuses (one error per line: the first problem on it)."""
    reported: set[int] = set()
    if not allow_scripts:
        for problem, pos in unsafe_html(prose):
            reported.add(line_of(pos))
            errors.add(Location(path, line_of(pos)), f"{problem} in the note", SCRIPT_HINT)
    for match in RAW_IMG_RE.finditer(prose):
        reported.add(line_of(match.start()))
        errors.add(Location(path, line_of(match.start())), "raw <img> tag: deckgen does not check or package the file it shows", "write ![caption](path/to/image.png) instead")
    if not allow_scripts and "<" in prose:
        starts = [0, *(m.end() for m in re.finditer("\n", prose))]
        for refused in sanitize.problems(prose, remote):
            line = line_of(starts[min(refused.line, len(starts) - 1)])
            if line not in reported:
                reported.add(line)
                errors.add(Location(path, line), f"{refused.what} in the note", refused.hint)
    for match in UNREAD_IMAGE_RE.finditer(prose):
        errors.add(
            Location(path, line_of(match.start())),
            f"image '{match.group()}' cannot be read",
            "write ![caption](path/to/image.png): a path without spaces (rename the file) and no reference-style [label]",
        )


def unsafe_html(text: str) -> list[tuple[str, int]]:
    """(problem, offset) for each `<script>`, event-handler attribute and script URL in `text`."""
    found = [("<script>", m.start()) for m in SCRIPT_RE.finditer(text)]
    found += [(f"event-handler attribute '{m.group(1).lower()}'", m.start(1)) for m in HANDLER_RE.finditer(text)]
    if "&" not in text:  # no entity to decode (most notes): one search, offsets as they are
        found += [(f"'{_scheme(match)}' URL", match.start()) for match in SCRIPT_URL_RE.finditer(text)]
        return sorted(found, key=lambda item: item[1])
    offset = 0
    for line in text.split("\n"):  # entities decoded line by line, so offsets stay on the right line
        for match in SCRIPT_URL_RE.finditer(html.unescape(_BIG_CHARREF_RE.sub("\ufffd", line))):
            found.append((f"'{_scheme(match)}' URL", offset))
        offset += len(line) + 1
    return sorted(found, key=lambda item: item[1])


def _scheme(match: re.Match[str]) -> str:
    return re.sub(r"\s", "", match.group(1)).lower()


def _backtick_runs(text: str) -> dict[int, list[int]]:
    """Start offsets of the runs of backticks in `text`, by run length."""
    runs: dict[int, list[int]] = {}
    for run in BACKTICKS_RE.finditer(text):
        runs.setdefault(len(run.group()), []).append(run.start())
    return runs


def _code_span_end(text: str, pos: int, runs: dict[int, list[int]]) -> int:
    """End of the code span opening at `pos` (CommonMark: the next run of backticks of equal
    length); `runs` comes from `_backtick_runs`, so many unclosed runs do not cost quadratic time."""
    run = BACKTICKS_RE.match(text, pos)
    size = len(run.group()) if run else 1
    starts = runs.get(size, [])
    following = bisect.bisect_right(starts, pos)
    if following < len(starts):
        return starts[following] + size
    return pos + size  # no closing run: the backticks are literal


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


# What can end a formula, found by one regex search instead of a loop over characters: an escape
# (skipped: `\$` is a dollar sign), the closing delimiter, or (inline) a blank line.
_INLINE_END_RE = re.compile(r"\\.|\$|\n\n", re.DOTALL)
_DISPLAY_END_RE = re.compile(r"\\.|\$\$", re.DOTALL)


def _formula_end(text: str, start: int, display: bool) -> int | None:
    """Index of the closing delimiter; inline math may not cross a blank line."""
    for match in (_DISPLAY_END_RE if display else _INLINE_END_RE).finditer(text, start):
        found = match.group()
        if found[0] == "$":
            return match.start()
        if found == "\n\n":
            return None
    return None
