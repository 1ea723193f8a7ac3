"""What HTML a card may carry: one allowlist, enforced by nh3 (the Ammonia sanitizer) on every
rendered field and deck description, and read by the source checks and `deckgen check`.

In:  HTML (a note's raw HTML in its Markdown, a rendered field, a deck description).
Out: `problems()`: what the allowlist refuses, each with its line in the text, for messages;
     `sanitized()`: the HTML as the card carries it: unchanged when the allowlist keeps it as it
     is, nh3's output when nh3 only rewrote the markup (`<br/>` → `<br>`), None when nh3 would
     drop something the author wrote, which the build reports as an error instead of shipping.

A card holds nothing active (no scripts, event handlers, frames, objects, forms, `javascript:`
links) and nothing remote: every `src` is a media file in the package, CSS has no `url()` or
`@import` and there are no `<style>`, `<link>` or `<meta>` elements, so reviewing never fetches
anything and works offline. A note that really shows images from the web opts in with
`remote: true` under its heading; only its `<img src>` may then be an http(s) URL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from deckgen.syntax import NO_BREAK_CLASS

# Block and inline elements Markdown, deckgen and authors use; nothing that runs, embeds or fetches.
TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul", "var", "wbr",
})
ATTRIBUTES = {
    "*": frozenset({"class", "title", "lang", "dir", "style"}),
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "ol": frozenset({"start", "type", "reversed"}),
    "li": frozenset({"value"}),
    "td": frozenset({"colspan", "rowspan", "align"}),
    "th": frozenset({"colspan", "rowspan", "align", "scope"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "details": frozenset({"open"}),
    "q": frozenset({"cite"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})  # links; an image's src is checked apart
# CSS properties a `style=` may set: looks only (none of them takes a url()).
STYLE_PROPERTIES = frozenset({
    "color", "background-color", "text-align", "vertical-align", "font-weight", "font-style", "font-size",
    "font-family", "text-decoration", "white-space", "width", "max-width", "height", "margin", "padding",
    "border", "border-collapse", "display",
})
_REMOTE_RE = re.compile(r"^\s*(?:https?:)?//", re.I)
_SCHEME_RE = re.compile(r"^\s*([a-z][a-z0-9+.-]*):", re.I)
_CSS_FETCH_RE = re.compile(r"url\s*\(|@import|image-set\s*\(|expression\s*\(|\\|/\*", re.I)
_BIG_CHARREF_RE = re.compile(r"&#[xX]?[0-9a-fA-F]{8,};?")
_AUTOLINK_RE = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>|<[^\s<>@]+@[^\s<>@]+>")
HINT = (
    "remove it: cards carry only plain formatting (no scripts, frames, forms, style sheets) and nothing remote; "
    "show code in a ``` block (or escape < as &lt;), put images in content/ and use ![caption](path)"
)
OFFLINE_HINT = "remove it: cards must work offline, so they fetch nothing when reviewed; put images in content/ and use ![caption](path)"
REMOTE_HINT = (
    "cards must work offline: put the file in content/ and use ![caption](path); if this note really "
    "needs the network when it is reviewed, add a line 'remote: true' under its heading"
)
_FETCHING_TAGS = frozenset({"link", "style", "meta", "base", "image", "video", "audio", "source", "track", "iframe", "frame", "object", "embed", "portal"})


@dataclass(frozen=True)
class Problem:
    what: str  # "<iframe> element", "attribute 'onclick' on <a>", "remote image 'http://…'"
    line: int  # 0-based line in the text it was found in
    hint: str = HINT


def problems(html: str, remote: bool = False) -> list[Problem]:
    """What the allowlist refuses in `html`, in order (autolinks such as <https://x> are links)."""
    finder = _Finder(remote)
    html = _BIG_CHARREF_RE.sub("\ufffd", html)  # past U+10FFFF: Python's parser would choke on its digits
    finder.feed(_AUTOLINK_RE.sub(lambda m: " " * len(m.group()), html))
    finder.close()
    return finder.found


def sanitized(html: str, remote: bool = False) -> str | None:
    """The HTML a card carries (see the module docstring); None when nh3 would drop something."""
    if plain_enough(html):
        return html
    import nh3  # deferred: only a build that renders notes needs it

    cleaned = _cleaner(remote).clean(html)
    if cleaned == html:
        return html
    # nh3 rewrites markup it keeps (quotes, `<br/>`, entities): compare with what it makes of
    # the same HTML when it keeps every tag, attribute and scheme the text holds.
    tags = set(TAGS) | {name.lower() for name in re.findall(r"</?([A-Za-z][^\s/>]*)", html)}
    schemes = {s.lower() for s in re.findall(r"([A-Za-z][A-Za-z0-9+.-]*)\s*:", html)}
    kept = nh3.clean(html, tags=tags, clean_content_tags=set(), attributes={}, generic_attribute_prefixes={""},
                     url_schemes=schemes, strip_comments=False, link_rel=None)
    return cleaned if cleaned == kept and not problems(html, remote) else None


# Text that nh3 (html5ever's serializer) writes back as it is: no raw '<', '>' or '&' but the three
# entities it writes itself, no no-break space (written as &nbsp;), no CR, form feed or NUL (its
# tokenizer rewrites them); and tags without attributes of the few kinds plain answers are made of,
# with the span that keeps punctuation beside an inline formula (builder/render.keep_punctuation).
# Runs of text are taken whole and never given back (possessive `++`, `*+`): 3 µs for an answer
# instead of 9 with one character per repetition.
_PLAIN_HTML_RE = re.compile(rf'(?:[^<>&\u00a0\r\x0c\x00]++|&(?:lt|gt|amp);|</?(?:p|ul|ol|li|strong|em|span)>|<span class="{NO_BREAK_CLASS}">)*+')
_PLAIN_TAG_RE = re.compile(rf'<(/?)(p|ul|ol|li|strong|em|span)(?: class="{NO_BREAK_CLASS}")?>')
_INLINE = frozenset({"strong", "em", "span"})
_CHILDREN = {  # what each element may hold for the parser to keep the tree as written
    "": frozenset({"p", "ul", "ol"}) | _INLINE,
    "p": _INLINE, "strong": _INLINE, "em": _INLINE, "span": _INLINE,
    "ul": frozenset({"li"}), "ol": frozenset({"li"}),
    "li": frozenset({"p", "ul", "ol"}) | _INLINE,
}


def plain_enough(html: str) -> bool:
    """True when nh3 would give `html` back unchanged, known without running it: text and
    well-nested <p>, <ul>, <ol>, <li>, <strong>, <em> without attributes and <span class="dg-nobr">,
    as most fields are (checking them is half the cost of sanitizing at 10,000 notes; nh3 itself
    was 0.4 CPU-s of a 7 s cold build there, for answers whose only markup beyond those was that
    span). Anything else goes to nh3."""
    if not _PLAIN_HTML_RE.fullmatch(html):
        return False
    open_tags = [""]
    at = 0
    for tag in _PLAIN_TAG_RE.finditer(html):
        if open_tags[-1] in ("ul", "ol") and html[at:tag.start()].strip():
            return False  # text straight inside a list
        closing, name = tag.group(1), tag.group(2)
        if closing:
            if open_tags[-1] != name:
                return False
            open_tags.pop()
        elif name in _CHILDREN[open_tags[-1]]:
            open_tags.append(name)
        else:
            return False
        at = tag.end()
    return open_tags == [""]


@lru_cache(maxsize=2)
def _cleaner(remote: bool) -> Any:
    import nh3

    return nh3.Cleaner(
        tags=set(TAGS), clean_content_tags=set(), attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=lambda tag, name, value: value if _attribute_problem(tag, name, value, remote) is None else None,
        url_schemes=set(URL_SCHEMES), strip_comments=False, link_rel=None,
    )


def _attribute_problem(tag: str, name: str, value: str, remote: bool) -> tuple[str, str] | None:
    """(what is wrong, how to fix it) for one allowed attribute's value."""
    if name == "style":
        for declaration in filter(str.strip, value.split(";")):
            prop, _, css = declaration.partition(":")
            if _CSS_FETCH_RE.search(declaration):
                return f"CSS that fetches or hides something in style=\"{_short(value)}\"", OFFLINE_HINT
            if prop.strip().lower() not in STYLE_PROPERTIES or not css.strip():
                return f"CSS property '{_short(prop.strip())}' in style= (allowed: {', '.join(sorted(STYLE_PROPERTIES))})", HINT
    elif tag == "img" and name == "src":
        if _REMOTE_RE.match(value) and not remote:
            return f"remote image '{_short(value)}'", REMOTE_HINT
        scheme = _SCHEME_RE.match(value)
        if scheme and not (remote and scheme.group(1).lower() in ("http", "https")):
            return f"'{scheme.group(1).lower()}:' image source", HINT
    elif name in ("href", "cite"):
        scheme = _SCHEME_RE.match(re.sub(r"[\x00-\x20]", "", value))
        if scheme and scheme.group(1).lower() not in URL_SCHEMES:
            return f"'{scheme.group(1).lower()}:' URL in {name}=", HINT
    return None


def _short(text: str, limit: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Finder(HTMLParser):
    """Walks HTML the way a browser tokenizes it and notes each tag and attribute the allowlist refuses."""

    def __init__(self, remote: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.remote = remote
        self.found: list[Problem] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0] - 1
        if tag not in TAGS:
            self.found.append(Problem(f"<{tag}> element", line, OFFLINE_HINT if tag in _FETCHING_TAGS else HINT))
            return
        allowed = ATTRIBUTES["*"] | ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            if name not in allowed:
                self.found.append(Problem(f"attribute '{name}' on <{tag}>", line))
                continue
            problem = _attribute_problem(tag, name, value or "", self.remote)
            if problem is not None:
                self.found.append(Problem(f"{problem[0]} on <{tag}>", line, problem[1]))

    handle_startendtag = handle_starttag
