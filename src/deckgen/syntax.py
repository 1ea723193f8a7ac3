"""The textual conventions several stages share: placeholders, cloze markup, HTML tags, MathJax
delimiters. One definition each, so the parser, the renderer, the packager and the checks agree.
"""
from __future__ import annotations

import re

# A formula, image or sympy block is lifted out of the Markdown and replaced by a placeholder made
# of letters and digits only, which Markdown passes through untouched.
TOKEN_RE = re.compile(r"DGTOK(\d+)Z")
TOKEN_PARAGRAPH_RE = re.compile(r"<p>(DGTOK\d+Z)</p>")  # a placeholder alone in its paragraph


def token(number: int) -> str:
    return f"DGTOK{number}Z"


CLOZE_OPEN_RE = re.compile(r"\{\{c(\d+)::")  # a numbered deletion opens (as Anki reads it)
CLOZE_UNNUMBERED_RE = re.compile(r"\{\{c(?!\d)[^:{}]{0,8}::")  # `{{c::` or `{{cx::`: Anki ignores it
CLOZE_MARK_RE = re.compile(r"\{\{c\d*::|\}\}")  # openings and closings, for counting

TAG_RE = re.compile(r"[^\s\"]+")  # an Anki tag (fullmatch): no spaces, quotes or newlines

WARNING_RE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<message>.*)$", re.S)  # a build warning: `path:line: what`

# Punctuation that must not start a line (CJK and Latin). Browsers keep it on the line of the text
# before it, but break before it after an inline formula (an atomic box): the renderer binds it to
# the formula and the layout check looks for lines that start with it.
CLOSING_PUNCTUATION = "，。：；、）！？》」』】”’…,.;:!?)]"
NO_BREAK_CLASS = "dg-nobr"  # the span holding the formula and its punctuation (card.css: white-space: nowrap)

HTML_TAG_RE = re.compile(r"<!--.*?-->|<[^>]*>", re.S)
MATHJAX_RE = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)  # inline, display: as Anki's MathJax finds them

# Note ids, deck ids and figure names become file names, GUID inputs and HTML attributes: lowercase
# ASCII letters, digits and '-', nothing else (use with fullmatch: `$` would let a newline through).
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
NAME_HINT = "use lowercase letters, digits and '-', at most 64 characters, starting with a letter or digit"
