"""`deckgen preview`: every card of every deck as a static site under dist/preview/.

In:  a `BuildConfig`; the pipeline's `gather` (the exact field HTML the .apkg carries), the note
     types (templates and CSS the .apkg carries) and `cards.render_cards` (Anki's template rules).
Out: dist/preview/index.html, one page per deck, `search-index.js` (text, tags and source of every
     card, for search on any page), the card CSS, the media files, and MathJax copied from Anki's
     own build, so the site opens from disk and works offline. Unchanged files are not rewritten;
     files of decks or media that no longer exist are removed.
"""
from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from deckgen.anki.cards import Card, render_cards
from deckgen.config import BuildConfig
from deckgen.records import CompiledTopic, RenderedNote
from deckgen.runtime import progress
from deckgen.runtime.cache import atomic_write
from deckgen.site import labels
from deckgen.site.labels import LABELS
from deckgen.syntax import HTML_TAG_RE

if TYPE_CHECKING:
    from deckgen.site.screenshots import ContactSheet

PREVIEW_DIR = "preview"
MANIFEST = ".deckgen-preview.json"  # the files this module wrote last time (only those are ever removed)
ASSETS = ("preview.css", "preview.js")


@dataclass(frozen=True)
class PreviewCard:
    card: Card
    note: RenderedNote
    anchor: str  # element id on the deck page


@dataclass(frozen=True)
class PreviewDeck:
    topic: CompiledTopic
    cards: tuple[PreviewCard, ...]

    @property
    def page(self) -> str:
        return f"deck-{self.topic.deck_id}.html"


@dataclass(frozen=True)
class PreviewReport:
    index: Path
    decks: int
    cards: int
    written: int  # files whose bytes changed
    mathjax: str  # "copied", "unchanged", or why formulas stay as TeX
    warnings: tuple[str, ...] = ()
    sheet: ContactSheet | None = None  # with screenshots: the PNG of every card and the page showing them


def preview_dir(config: BuildConfig) -> Path:
    return config.dist_dir / PREVIEW_DIR


def build_preview(config: BuildConfig, screenshots: Path | None = None) -> PreviewReport:
    """Gather (raises BuildFailed on content errors, leaving the old site as it was), then write.

    With `screenshots` (a folder), also a PNG of every card on a phone, day and night, and the
    contact sheet showing them (`site/screenshots.py`; raises `runtime.browser.ChromiumNotFound`
    or `PlaywrightMissing` when it cannot run).
    """
    from deckgen.builder.pipeline import gather

    gathered = gather(config)
    packaged = gathered.packaged if gathered.packaged is not None else gathered.topics
    decks = preview_decks(packaged, config.language, progress.Mode(config.progress))
    out = preview_dir(config)
    head, mathjax = _mathjax(out)
    written = write_site(out, decks, head, gathered.media_files, config.language, config.extra_css)
    sheet = None
    if screenshots is not None:
        from deckgen.site.screenshots import write_screenshots

        sheet = write_screenshots(out, decks, screenshots)
    return PreviewReport(out / "index.html", len(decks), sum(len(d.cards) for d in decks), written, mathjax, tuple(gathered.warnings), sheet)


def preview_decks(topics: list[CompiledTopic], language: str = "zh", mode: progress.Mode = progress.Mode.OFF) -> list[PreviewDeck]:
    """Every card of every topic as Anki renders it, decks in the order of their names."""
    from deckgen.anki.notetypes import note_types

    types = note_types(language)
    decks = []
    with progress.stage("preview pages", len(topics), mode, "deck") as shown:
        for topic in sorted(topics, key=lambda t: t.deck_name):
            decks.append(_deck(topic, types))
            shown.advance()
    return decks


def write_site(out: Path, decks: list[PreviewDeck], head: str, media_files: dict[str, Path], language: str = "zh", extra_css: str = "") -> int:
    """Write the pages, assets and media of `decks` into `out`, labelled in `language`, with the
    cards' CSS as the packages carry it; `head` loads MathJax. Returns the number of files whose
    bytes changed."""
    from deckgen.anki.notetypes import note_types

    css = next(iter(note_types(language, extra_css).values())).css
    files = _site_files(decks, css, head, language)
    return _write_files(out, files, {name: media_files[name] for deck in decks for c in deck.cards for name in c.note.media})


def _deck(topic: CompiledTopic, types) -> PreviewDeck:
    cards = []
    for note in topic.notes:
        note_id = note.key.split("/", 1)[1]
        for card in render_cards(note, types[note.kind]):
            cards.append(PreviewCard(card, note, f"{note_id}-{card.ordinal}"))
    return PreviewDeck(topic, tuple(cards))


# ---- the pages --------------------------------------------------------------------------------


def _site_files(decks: list[PreviewDeck], css: str, head: str, language: str) -> dict[str, bytes]:
    files = {name: resources.files("deckgen.data").joinpath(name).read_bytes() for name in ASSETS}
    files["card.css"] = css.encode()
    files["search-index.js"] = _search_index(decks).encode()
    files["index.html"] = _page(LABELS[language]["title"], _index_body(decks, language), decks, None, head, language).encode()
    for deck in decks:
        files[deck.page] = _page(deck.topic.deck_name, _deck_body(deck, language), decks, deck, head, language).encode()
    return files


def _page(title: str, body: str, decks: list[PreviewDeck], current: PreviewDeck | None, head: str, language: str) -> str:
    word = LABELS[language]
    nav = "\n".join(
        f'<li class="{"pv-current" if deck is current else ""}" style="--level:{deck.topic.deck_name.count("::")}">'
        f'<a href="{deck.page}">{html.escape(deck.topic.deck_name.split("::")[-1])}</a> <span class="pv-count">{len(deck.cards)}</span></li>'
        for deck in decks
    )
    return f"""<!DOCTYPE html>
<html lang="{language}" data-view="desktop">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="card.css">
<link rel="stylesheet" href="preview.css">
<script src="search-index.js"></script>
{labels.script(language)}
{head}
<script src="preview.js" defer></script>
</head>
<body class="pv-body">
<header class="pv-bar">
  <a class="pv-home" href="index.html">{word["title"]}</a>
  <input class="pv-search" type="search" placeholder="{word["search"]}" aria-label="{word["search_label"]}">
  <span class="pv-toggles">
    <button type="button" class="pv-view" data-view="phone">{word["phone"]}</button><button type="button" class="pv-view" data-view="desktop">{word["desktop"]}</button>
    <button type="button" class="pv-mode" data-mode="day">{word["day"]}</button><button type="button" class="pv-mode" data-mode="night">{word["night"]}</button>
  </span>
</header>
<div class="pv-status" hidden></div>
<div class="pv-layout">
<nav class="pv-nav"><ul>
{nav}
</ul></nav>
<main class="pv-main">
<div class="pv-results" hidden></div>
{body}
</main>
</div>
</body>
</html>
"""


def _index_body(decks: list[PreviewDeck], language: str) -> str:
    rows = "\n".join(
        f'<li><a href="{deck.page}">{html.escape(deck.topic.deck_name)}</a> '
        f'<span class="pv-count">{labels.count(language, len(deck.topic.notes), "note")}, {labels.count(language, len(deck.cards), "card")}</span>'
        f'<div class="pv-desc">{html.escape(deck.topic.description)}</div>'
        f'<div class="pv-source">{html.escape(deck.topic.location.path)}</div></li>'
        for deck in decks
    )
    total = sum(len(d.cards) for d in decks)
    return f'<h1>{labels.count(language, len(decks), "deck")}, {labels.count(language, total, "card")}</h1>\n<ul class="pv-decks">\n{rows}\n</ul>'


def _deck_body(deck: PreviewDeck, language: str) -> str:
    topic = deck.topic
    intro = f'<h1>{html.escape(topic.deck_name)}</h1>\n<p class="pv-desc">{html.escape(topic.description)}</p>'
    return intro + "\n" + "\n".join(_card_html(c, language) for c in deck.cards)


def _card_html(pc: PreviewCard, language: str) -> str:
    note, card = pc.note, pc.card
    tags = " ".join(f'<button type="button" class="pv-tag" data-tag="{html.escape(t)}">{html.escape(t)}</button>' for t in note.tags)
    sides = "".join(
        f'<section class="pv-side"><h2 class="pv-label">{label}</h2>'
        f'<div class="card card{card.ordinal}">{_local_media(side, note.media)}</div></section>'
        for label, side in ((LABELS[language]["front"], card.question), (LABELS[language]["back"], card.answer))
    )
    return (
        f'<article class="pv-card" id="{pc.anchor}">\n'
        f'<div class="pv-meta"><a class="pv-anchor" href="#{pc.anchor}">{html.escape(note.key)}</a> '
        f'<span class="pv-name">{html.escape(card.name)}</span> '
        f'<span class="pv-source">{html.escape(str(note.location))}</span> {tags}</div>\n'
        f'<div class="pv-sides">{sides}</div>\n</article>'
    )


def _local_media(card_html: str, names: tuple[str, ...]) -> str:
    """Point the card's media references (bare names, as in Anki's media folder) at media/."""
    for name in names:
        card_html = card_html.replace(f'src="{name}"', f'src="media/{name}"')
    return card_html


def visible_text(card_html: str) -> str:
    """What a reader sees of a card side (tags dropped, entities decoded), on one line."""
    return " ".join(html.unescape(HTML_TAG_RE.sub(" ", card_html)).split())


def _search_index(decks: list[PreviewDeck]) -> str:
    entries = []
    for number, deck in enumerate(decks):
        for pc in deck.cards:
            question = visible_text(pc.card.question)
            entries.append({
                "d": number,
                "a": pc.anchor,
                "q": question[:140],
                "t": (question + " " + visible_text(pc.card.answer)).lower(),
                "g": list(pc.note.tags),
                "s": str(pc.note.location),
            })
    data = {"decks": [{"name": d.topic.deck_name, "page": d.page} for d in decks], "cards": entries}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"window.DG_INDEX = {text};\n"


# ---- in a browser ------------------------------------------------------------------------------

RENDER_BACKSTOP_MS = 600_000  # MathJax always ends in "done" or "error"; this only stops a hung page


def wait_until_rendered(page) -> str:
    """Wait until a deck page (a playwright Page) is typeset and its images and fonts are loaded;
    return MathJax's state on the page ("done", "error", or why it is missing)."""
    page.wait_for_function("document.documentElement.dataset.mathjax", timeout=RENDER_BACKSTOP_MS)
    page.evaluate("() => Promise.all([document.fonts.ready, ...[...document.images].map(i => i.decode().catch(() => null))])")
    return page.evaluate("() => document.documentElement.dataset.mathjax")


# ---- MathJax ----------------------------------------------------------------------------------


def _mathjax(out: Path) -> tuple[str, str]:
    """Copy Anki's MathJax into the site (once per MathJax build); return (head HTML, what happened)."""
    from deckgen.math import mathjax

    try:
        source = mathjax.mathjax_dir()
        head = mathjax.script_tags("mathjax")  # relative: the site must open from disk, anywhere
    except mathjax.MathJaxUnavailable as exc:
        return '<script>window.DG_MATHJAX = "missing";</script>', f"formulas stay as TeX: {exc}"
    stamp = hashlib.sha256(f"{source.resolve()}:{(source / mathjax.ENTRY_SCRIPT).stat().st_size}".encode()).hexdigest()
    stamp_file = out / "mathjax" / ".deckgen-stamp"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return head, "unchanged"
    mathjax.copy_mathjax(out / "mathjax")
    stamp_file.write_text(stamp)
    return head, "copied"


# ---- writing ----------------------------------------------------------------------------------


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    atomic_write(path, data)
    return True


def _write_files(out: Path, files: dict[str, bytes], media: dict[str, Path]) -> int:
    written = sum(_write_if_changed(out / name, data) for name, data in files.items())
    for name, source in media.items():
        target = out / "media" / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            atomic_write(target, source.read_bytes())  # names are content-hashed: same name, same bytes
            written += 1
    now = sorted([*files, *(f"media/{name}" for name in media)])
    manifest = out / MANIFEST
    try:
        before = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = []
    for stale in set(before) - set(now):
        path = (out / str(stale)).resolve()
        if path.is_relative_to(out.resolve()):  # a hand-edited manifest must not reach outside the site
            path.unlink(missing_ok=True)
    _write_if_changed(manifest, json.dumps(now, ensure_ascii=False, indent=0).encode())
    return written
