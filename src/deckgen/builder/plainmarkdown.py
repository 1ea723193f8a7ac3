"""Markdown that is only paragraphs and flat lists of plain text, turned into the HTML that
Python-Markdown makes of it, without running Python-Markdown.

In:  the Markdown of one field (formulas, images and code already replaced by tokens).
Out: its HTML, or None when the text holds anything else (then Python-Markdown renders it).

Python-Markdown costs about a quarter of a millisecond per field, half of a cold build, and most
answers are a few paragraphs and lists of words, where it only wraps lines in <p>, <li>, <ul> and
<ol>. A text takes this path only if every block is one of those, made of characters no inline
pattern of Python-Markdown reacts to and that its serializer does not escape; tests compare the
two on generated and real notes.
"""
from __future__ import annotations

import re

# Letters, digits, CJK and the punctuation that means nothing to Markdown inside a line (no
# \ ` * _ [ ] < > & | # ~ and no tabs).
_CHAR = r"(?:[^\W_]|[，。？！：；、（）“”‘’《》【】…—·,.?;:'\"()%/!=+\-])"
# A line does not begin with a digit, '-', '+' or '=' (so no list marker, numbered item, rule or
# setext underline starts it; the other block syntax needs characters _CHAR leaves out); single
# spaces inside.
_START = rf"(?![\d\-+=]){_CHAR}"
_TEXT = rf"{_START}{_CHAR}*(?: {_CHAR}+)*"
_TEXT_RE = re.compile(_TEXT)
_STRONG_RE = re.compile(rf"\*\*({_TEXT})\*\*")  # a line that is one bold phrase
_BULLET_RE = re.compile(rf"- ({_TEXT})")
_NUMBERED_RE = re.compile(rf"(\d{{1,3}})\. ({_TEXT})")

# One line of words alone: what most questions are.
PLAIN_LINE_RE = _TEXT_RE


def to_html(text: str) -> str | None:
    """Python-Markdown's HTML for `text`, or None when `text` is not plain enough to be sure."""
    html: list[str] = []
    last_was_list = False
    for block in text.split("\n\n"):
        lines = block.split("\n")
        paragraph = _paragraph(lines)
        if paragraph is not None:
            html.append(paragraph)
            last_was_list = False
            continue
        listed = None if last_was_list else _bullets(lines) or _numbered(lines)
        if listed is None:
            return None  # not plain; or two lists with a blank line between, which Markdown makes one loose list
        html.append(listed)
        last_was_list = True
    return "\n".join(html)


def _paragraph(lines: list[str]) -> str | None:
    if len(lines) == 1 and (strong := _STRONG_RE.fullmatch(lines[0])):
        return f"<p><strong>{strong.group(1)}</strong></p>"
    if all(_TEXT_RE.fullmatch(line) for line in lines):
        return "<p>" + "\n".join(lines) + "</p>"
    return None


def _bullets(lines: list[str]) -> str | None:
    items = [_BULLET_RE.fullmatch(line) for line in lines]
    if not all(items):
        return None
    return "<ul>\n" + "\n".join(f"<li>{item.group(1)}</li>" for item in items if item) + "\n</ul>"


def _numbered(lines: list[str]) -> str | None:
    items = [_NUMBERED_RE.fullmatch(line) for line in lines]
    if not all(items) or [int(item.group(1)) for item in items if item] != list(range(1, len(lines) + 1)):
        return None
    return "<ol>\n" + "\n".join(f"<li>{item.group(2)}</li>" for item in items if item) + "\n</ol>"
