"""Turn a parsed note into the HTML of its Anki fields.

In:  a `Note` (tokens in place of formulas, images and sympy blocks) and what the other stages
     computed for those tokens: sympy results and the HTML of each image.
Out: a `RenderedNote` whose fields hold final HTML with `\\(..\\)` / `\\[..\\]` math for MathJax.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from deckgen.builder import plainmarkdown
from deckgen.math import cloze
from deckgen.records import Formula, Note, NoteKind, RenderedNote, Show
from deckgen.runtime.keys import note_key
from deckgen.syntax import CLOSING_PUNCTUATION, NO_BREAK_CLASS, TOKEN_PARAGRAPH_RE, TOKEN_RE


@lru_cache(maxsize=2)
def _markdown(skip_plain_text: bool = True) -> Any:
    import markdown  # deferred: a no-op build renders nothing
    from markdown.extensions.codehilite import CodeHiliteExtension
    from markdown.extensions.fenced_code import FencedCodeExtension
    from markdown.extensions.sane_lists import SaneListExtension
    from markdown.extensions.tables import TableExtension

    # Instances, not names: a name is looked up among the entry points of every installed
    # package, 30 ms on each build that renders a note.
    extensions = [TableExtension(), FencedCodeExtension(), CodeHiliteExtension(css_class="codehilite", guess_lang=False), SaneListExtension()]
    md = markdown.Markdown(extensions=extensions, output_format="html")
    if skip_plain_text:
        _skip_plain_text(md)
    _reuse_pygments()
    return md


def _reuse_pygments() -> None:
    """codehilite asks pygments for a new lexer and a new formatter for every code block, and the
    HTML formatter builds its whole stylesheet when it is made: about a millisecond per block.
    Both can be used again, so the same options get the same objects."""
    from markdown.extensions import codehilite

    for name in ("get_lexer_by_name", "get_formatter_by_name"):
        make = getattr(codehilite, name)
        if not getattr(make, "deckgen_reused", False):
            setattr(codehilite, name, _reused(make))


def _reused(make: Any) -> Any:
    made: dict[tuple[str, str], Any] = {}

    def get(alias: str, **options: Any) -> Any:
        key = (alias, repr(sorted(options.items())))
        if key not in made:
            made[key] = make(alias, **options)  # an unknown name raises, and is asked again next time
        return made[key]

    get.deckgen_reused = True  # type: ignore[attr-defined]
    return get


# Python-Markdown's inline patterns with our extensions, and the characters each of them needs.
_INLINE_PATTERNS = ("backtick", "escape", "reference", "link", "image_link", "image_reference", "short_reference",
                    "short_image_ref", "autolink", "automail", "linebreak", "html", "entity", "em_strong")
_INLINE_TRIGGER_RE = re.compile(r"[\\`\[<&*_]|  \n")


def _skip_plain_text(md: Any) -> None:
    """Let the inline pass return text in which no inline pattern can match at once.

    Python-Markdown tries each of its 14 inline patterns on every piece of text, which is a third
    of its time on our notes, and text without any character the patterns need comes back
    unchanged anyway. Installed only when the registered patterns are exactly the known ones, so
    a Markdown version with other patterns keeps its own processor.
    """
    from markdown import util
    from markdown.treeprocessors import InlineProcessor

    delimiters = set(getattr(getattr(md, "delimiters", None), "delimiters", {"?": None}))
    known = len(md.inlinePatterns) == len(_INLINE_PATTERNS) and all(name in md.inlinePatterns for name in _INLINE_PATTERNS)
    if not known or not delimiters <= {"*", "_"}:
        return

    class SkipPlainText(InlineProcessor):
        def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
            if patternIndex == 0 and not isinstance(data, util.AtomicString) and not _INLINE_TRIGGER_RE.search(data):
                return data
            return InlineProcessor._InlineProcessor__handleInline(self, data, patternIndex)

    md.treeprocessors.register(SkipPlainText(md), "inline", 20)


def markdown_to_html(text: str) -> str:
    fast = plainmarkdown.to_html(text)  # paragraphs and lists of plain words: the same HTML, 20 times sooner
    if fast is None and "```" in text:
        fast = _around_code_blocks(text)
    if fast is not None:
        return fast
    md = _markdown()
    md.reset()
    return md.convert(text)


def _around_code_blocks(text: str) -> str | None:
    """Python-Markdown's HTML for plain paragraphs and lists around fenced code blocks, or None.

    Python-Markdown's own preprocessors lift and highlight the code blocks (so they come out
    exactly as in a full conversion, each in a block of its own), and the prose between them
    takes the plain path; if any of it is not plain, the whole text is converted as usual. Half
    the cost of a note with a code block was Python-Markdown's parse of the prose around it.
    """
    from markdown import util

    md = _markdown()
    md.reset()
    first = ["normalize_whitespace", "fenced_code_block"]  # the preprocessors that run up to fenced code
    if not all(name in md.preprocessors and md.preprocessors.get_index_for_name(name) == i for i, name in enumerate(first)):
        return None  # another Markdown version, with other steps first: no shortcut
    lines = text.split("\n")
    for name in first:
        lines = md.preprocessors[name].run(lines)
    pieces = util.HTML_PLACEHOLDER_RE.split("\n".join(lines))  # prose, then a stashed block's number, and so on
    html = []
    for i, piece in enumerate(pieces):
        if i % 2:
            html.append(md.htmlStash.rawHtmlBlocks[int(piece)])
        elif piece.strip("\n"):
            prose = plainmarkdown.to_html(piece.strip("\n"))
            if prose is None:
                return None
            html.append(prose)
    return "\n".join(html).strip()  # joined and stripped as Markdown.convert joins and strips


def formula_html(formula: Formula, in_cloze: bool) -> str:
    """MathJax delimiters around the escaped TeX (in a cloze note, `}}` kept from ending a deletion)."""
    tex = cloze.protect(cloze.mark(formula.tex)) if in_cloze else formula.tex
    body = html.escape(tex, quote=False)
    return f"\\[{body}\\]" if formula.display else f"\\({body}\\)"


def sympy_html(shows: tuple[Show, ...]) -> str:
    """The formulas a sympy block shows, one per line."""
    parts = []
    for show in shows:
        tex = html.escape(show.latex, quote=False)
        parts.append(f"<p>\\({tex}\\)</p>" if show.inline else f"\\[{tex}\\]")
    return "\n".join(parts)


def render_key(note: Note, deck_id: str, deck_tags: tuple[str, ...], replacements: dict[str, str]) -> str:
    """Everything a note's fields are rendered from: equal keys give equal fields."""
    formulas = [(token, f.tex, f.display) for token, f in note.formulas]
    return note_key(note.note_id, note.kind.value, note.front, note.back, formulas, deck_id, deck_tags, note.tags, sorted(replacements.items()))


def render_note(note: Note, deck_id: str, deck_tags: tuple[str, ...], replacements: dict[str, str], media: tuple[str, ...], key: str = "") -> RenderedNote:
    """`replacements` maps every image, sympy and reference token of the note to its HTML."""
    in_cloze = note.kind is NoteKind.CLOZE
    values = dict(replacements)
    for token, formula in note.formulas:
        values[token] = formula_html(formula, in_cloze)
    inline = {token for token, formula in note.formulas if not formula.display}

    def to_html(markdown: str) -> str:
        return _fill(keep_punctuation(markdown_to_html(markdown), inline), values)

    for section in note.details:
        values[section.token] = details_html(section.label, to_html(section.text))
    front = to_html(note.front)
    back = to_html(note.back) if note.back.strip() else ""
    tags = tuple(dict.fromkeys((*deck_tags, *note.tags)))
    return RenderedNote(f"{deck_id}/{note.note_id}", note.kind, front, back, tags, media, note.location, key)


# An inline formula's token and the closing punctuation right after it; the token may end a short
# cloze deletion (`{{c1::$x$}}，`, `{{c1::$a$–$b$}}。`) or be the whole of an inline element (`**$x$**，`).
_BOUND_RE = re.compile(
    r"(?P<open>\{\{c\d+::[^\s{}<>]{0,40}?|<(?P<tag>strong|em|b|i|code|span)(?: [^<>]*)?>)?(?P<token>DGTOK\d+Z)"
    r"(?P<close>(?:::[^{}<>]*)?\}\}|</(?P<end>strong|em|b|i|code|span)>)?"
    rf"(?P<punct>[{re.escape(CLOSING_PUNCTUATION)}]+)"
)


def keep_punctuation(rendered: str, inline_tokens: set[str]) -> str:
    """Keep closing punctuation on the line of the inline formula before it.

    A browser may break a line between an inline formula (MathJax draws it as one inline box)
    and the `，` after it, leaving the comma at the start of the next line, which CJK typesetting
    never allows. `white-space: nowrap` on a span holding both forbids that break; a word joiner
    does not (Chromium ignores it next to an inline box). The span holds the whole deletion or
    element when the formula is all of it (a deletion: when it ends the deletion and the deletion
    is one short word), so that it never crosses a deletion's end.
    """
    if not inline_tokens:
        return rendered

    def bind(match: re.Match[str]) -> str:
        opener, token, closer, punct = match["open"] or "", match["token"], match["close"] or "", match["punct"]
        if token not in inline_tokens:
            return match.group(0)
        whole = bool(opener) and bool(closer) and (opener.startswith("{{") == closer.endswith("}}")) and match["tag"] == match["end"]
        if whole:
            return f'<span class="{NO_BREAK_CLASS}">{opener}{token}{closer}{punct}</span>'
        if closer:  # the deletion or element began before the formula: a span would cross its end
            return match.group(0)
        return f'{opener}<span class="{NO_BREAK_CLASS}">{token}{punct}</span>'

    return _BOUND_RE.sub(bind, rendered)


def details_html(label: str, body: str) -> str:
    """A skippable section: collapsed until the reviewer opens it (HTML <details>, which Anki's
    desktop, AnkiDroid and AnkiMobile web views all support)."""
    return f'<details class="dg-more"><summary>{html.escape(label, quote=False)}</summary>\n{body}\n</details>'


def ref_html(title: str) -> str:
    """`[[note-id]]` on a card: the question of the card it points to (its `$...$` as MathJax)."""
    return f'<span class="dg-ref">{inline_math(title)}</span>'


def inline_math(text: str) -> str:
    """Plain text with its `$...$` formulas as MathJax, the rest HTML-escaped (captions, references)."""
    return _INLINE_MATH_RE.sub(r"\\(\1\\)", html.escape(text, quote=False))


_INLINE_MATH_RE = re.compile(r"(?<!\\)\$([^$]+)\$")


def _fill(rendered: str, values: dict[str, str]) -> str:
    """Put each token's HTML in place; a block-level item alone in a paragraph replaces the <p>."""

    def block(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is not None and (not value.strip() or value.lstrip().startswith(("<figure", "\\[", "<p>", "<details"))):
            return value  # an empty value (a sympy block that only checks) leaves no empty <p>
        return match.group(0)

    rendered = TOKEN_PARAGRAPH_RE.sub(block, rendered)
    return TOKEN_RE.sub(lambda m: values.get(m.group(0), m.group(0)), rendered)
