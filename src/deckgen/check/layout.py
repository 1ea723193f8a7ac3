"""The layout check: every card as a phone shows it, day and night, measured in headless Chromium.

In:  a `BuildConfig` and what `gather` produced (the cards' field HTML and media files).
Out: `check_layout()` → `LayoutReport`: one `Problem` per thing a reviewer would trip over, at the
     note's `path:line` (the formula's or figure's line where known), and how long it took.

The cards are the preview's deck pages (`site/preview.py`: Anki's templates, cloze rules and
MathJax, the card CSS the package carries), written to a temporary folder and opened in one
Chromium with every request that leaves the disk refused, at a 390 × 844 px phone screen
(`limits.PHONE_SCREEN_PX`), one page per deck. `data/layout.js` measures each page three times:
details closed (the height of each back), details open, and in night mode. The rules:

- layout-overflow: a formula, table, code block or image wider than the card (it scrolls sideways,
  is cut off, or widens the page);
- layout-raw-tex: TeX a reader sees as text (`\\(`, `\\frac`, `d_k`, `$x$`);
- layout-mathjax-error: a formula MathJax could not typeset (an error box, an undefined command);
- layout-cloze: a deletion not drawn like Anki's text deletions (on front or back, day or night);
- layout-figure-text: figure text under `limits.MIN_TEXT_PX` at the width the figure is shown at;
- layout-punctuation: a line that starts with closing punctuation;
- layout-offline: a card that asks for something from the network;
- long-answer: a back taller than `limits.MAX_BACK_SCREENS` phone screens with its details closed.
"""
from __future__ import annotations

import html
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deckgen.config import BuildConfig
from deckgen.errors import ContentError
from deckgen.limits import MAX_BACK_SCREENS, MIN_TEXT_PX, PHONE_SCREEN_PX
from deckgen.math import cloze
from deckgen.math.texcheck import shorten
from deckgen.records import CompiledTopic, Formula, Location, NoteKind, RenderedNote
from deckgen.syntax import CLOSING_PUNCTUATION, CLOZE_OPEN_RE, MATHJAX_RE

ERROR, WARNING = "error", "warning"
RULES = ("layout-overflow", "layout-raw-tex", "layout-mathjax-error", "layout-cloze", "layout-figure-text", "layout-punctuation", "layout-offline", "long-answer")
_FIGURE_MEDIA_RE = re.compile(r"(?:^|/)fig-(?P<name>[a-z0-9][a-z0-9-]*)-[0-9a-f]{12}\.(?:day|night)\.svg$")
_CLASS_MARK_RE = re.compile(r"\\class\{" + re.escape(cloze.MARK_CLASS) + r"\d+\}")


class LayoutUnavailable(RuntimeError):
    """The check could not run: no Chromium, no playwright or no Anki MathJax (see the message)."""


@dataclass(frozen=True)
class Problem:
    rule: str
    severity: str
    error: ContentError
    how: str = ""  # layout-overflow: "scrolls" (it shows that it does), "sticks-out" or "cut-off"


@dataclass(frozen=True)
class LayoutReport:
    problems: tuple[Problem, ...]
    cards: int
    seconds: float


@dataclass(frozen=True)
class _Note:
    """What the rules need to place a finding: the note, its formulas and figure references."""

    rendered: RenderedNote
    formulas: tuple[Formula, ...]
    figures: dict[str, Location]
    lines: tuple[tuple[int, str], ...]  # the note's source lines, numbered


def check_layout(config: BuildConfig, topics: list[CompiledTopic], media_files: dict[str, Path], screen: tuple[int, int] = PHONE_SCREEN_PX) -> LayoutReport:
    """Render every card of `topics` on a `screen` (CSS px) and report what does not read well."""
    from deckgen.math import mathjax
    from deckgen.runtime import browser, progress
    from deckgen.site.preview import preview_decks, write_site

    started = time.perf_counter()
    decks = preview_decks(topics, config.language)
    notes = _notes(config, topics)
    try:
        head = mathjax.script_tags(browser.file_url(mathjax.mathjax_dir()))
    except mathjax.MathJaxUnavailable as exc:
        raise LayoutUnavailable(str(exc)) from exc
    script = resources.files("deckgen.data").joinpath("layout.js").read_text(encoding="utf-8")
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="deckgen-layout-") as tmp:
        site = Path(tmp)
        write_site(site, decks, head, media_files, config.language, config.extra_css)  # the project's CSS changes the layout too
        try:
            with browser.offline_session() as session, progress.stage("layout check", len(decks), progress.Mode(config.progress), "deck") as shown:
                for deck in decks:
                    problems += _check_deck(session, site / deck.page, deck.cards, notes, media_files, script, screen)
                    shown.advance()
                problems += _offline(session.blocked, notes)
        except (browser.ChromiumNotFound, browser.PlaywrightMissing) as exc:
            raise LayoutUnavailable(str(exc)) from exc
    cards = sum(len(deck.cards) for deck in decks)
    return LayoutReport(tuple(_unique(problems)), cards, round(time.perf_counter() - started, 1))


def _notes(config: BuildConfig, topics: list[CompiledTopic]) -> dict[str, _Note]:
    """Each compiled note with the formulas (sympy results included) and figures of its source."""
    from deckgen.check.formulas import content_formulas
    from deckgen.errors import ErrorList
    from deckgen.source.discover import topic_files
    from deckgen.source.parse import parse_topic

    formulas, _ = content_formulas(config)
    by_file: dict[str, list[Formula]] = {}
    for formula in formulas:
        by_file.setdefault(formula.location.path, []).append(formula)
    figures: dict[tuple[str, int], dict[str, Location]] = {}
    for path in topic_files(config.content_dir):
        parsed = parse_topic(path.read_bytes(), config.display(path), ErrorList())
        for parsed_note in parsed.notes if parsed else ():
            where = parsed_note.location
            figures[(where.path, where.line)] = {ref.figure_name: ref.location for ref in parsed_note.media if ref.figure_name}
    out = {}
    for topic in topics:
        source = (config.root / topic.location.path).read_text(encoding="utf-8", errors="replace").splitlines()
        starts = sorted(n.location.line for n in topic.notes)
        for note in topic.notes:
            end = next((line for line in starts if line > note.location.line), len(source) + 1)
            mine = tuple(f for f in by_file.get(note.location.path, ()) if note.location.line <= f.location.line < end)
            lines = tuple((n, source[n - 1]) for n in range(note.location.line, min(end, len(source) + 1)))
            out[note.key] = _Note(note, mine, figures.get((note.location.path, note.location.line), {}), lines)
    return out


# ---- one deck page ----------------------------------------------------------------------------


def _check_deck(session, page_path: Path, cards, notes: dict[str, _Note], media_files: dict[str, Path], script: str, screen: tuple[int, int]) -> list[Problem]:
    from deckgen.runtime import browser
    from deckgen.site.preview import wait_until_rendered

    width, height = screen
    page = session.open(browser.file_url(page_path) + "?view=phone&mode=day", width=width, height=height)
    try:
        state = wait_until_rendered(page)
        by_anchor = {pc.anchor: pc for pc in cards}
        if state != "done":
            first = notes[cards[0].note.key].rendered.location if cards else Location(page_path.name)
            return [Problem("layout-mathjax-error", ERROR, ContentError(Location(first.path), f"MathJax did not typeset the cards ({state})", "run 'deckgen check' again; if it persists, report it"))]
        page.add_script_tag(content=script)
        options = {"closing": CLOSING_PUNCTUATION, "clozes": _cloze_expectations(cards)}
        closed = page.evaluate("o => dgLayout.measure('closed', o)", options)
        opened = page.evaluate("o => dgLayout.measure('open', o)", options)
        page.locator('.pv-mode[data-mode="night"]').click()
        night = page.evaluate("o => dgLayout.measure('night', o)", options)
    finally:
        page.context.close()
    problems = []
    for mode, measured in (("day", closed), ("day", opened), ("night", night)):
        for card in measured["cards"]:
            pc = by_anchor[card["anchor"]]
            problems += _card_problems(card, pc, notes[pc.note.key], media_files, (width, height), mode)
    return problems


def _cloze_expectations(cards) -> dict[str, dict[str, int]]:
    """For each cloze card: its number and how many of its deletions sit inside formulas."""
    out = {}
    for pc in cards:
        if pc.note.kind is not NoteKind.CLOZE:
            continue
        text = pc.note.front
        inside = sum(1 for m in MATHJAX_RE.finditer(text) for o in CLOZE_OPEN_RE.finditer(m.group(0)) if int(o.group(1)) == pc.card.ordinal)
        out[pc.anchor] = {"ordinal": pc.card.ordinal, "front": inside, "back": inside}
    return out


def _card_problems(card: dict, pc, note: _Note, media_files: dict[str, Path], screen: tuple[int, int], mode: str) -> list[Problem]:
    where = note.rendered.location
    screen_width = screen[0]
    out: list[Problem] = []
    if "backHeight" in card:
        screens = card["backHeight"] / screen[1]
        if screens > MAX_BACK_SCREENS:
            out.append(Problem("long-answer", WARNING, ContentError(
                where, f"the back is {card['backHeight']} px tall on a {screen_width} px phone, {screens:.1f} screens with its details closed (limit {MAX_BACK_SCREENS:g})",
                "keep the key points, one formula and one figure visible; move the rest into '::: details', or split the note")))
    for box in card.get("overflow", ()):
        out.append(_overflow(box, note, screen_width))
    for raw in card.get("rawTex", ()):
        out.append(Problem("layout-raw-tex", WARNING, ContentError(
            _line_with(note, raw["match"]) or where, f"the card shows TeX as text: '{raw['text']}'",
            "write math as $...$ (e.g. $\\sqrt{d_k}$ rather than √d_k) and code as `...`")))
    for error in card.get("errors", ()):
        out.append(Problem("layout-mathjax-error", ERROR, ContentError(
            _formula_location(note, error["tex"]) or where, f"formula {shorten(error['tex'] or '?')}: MathJax shows an error: {error['message']}",
            "fix the TeX; 'deckgen check' without --fast names the TeX problem")))
    for mark in card.get("punctuation", ()):
        after = f"the formula {shorten(mark['text'])}" if mark["kind"] == "formula" else f"'{mark['text']}'"
        place = _formula_location(note, mark["text"]) if mark["kind"] == "formula" else None
        out.append(Problem("layout-punctuation", WARNING, ContentError(
            place or where, f"a line starts with '{mark['char']}' (after {after}) on a {screen_width} px phone",
            "put the punctuation right after the formula, with no space or markup between them (deckgen keeps `$x$，` on one line)")))
    for figure in card.get("figures", ()):
        out += _figure_text(figure, note, media_files)
    for problem in card.get("clozes", ()):
        out.append(_cloze(problem, pc, note, mode))
    return out


def _overflow(box: dict, note: _Note, screen_width: int) -> Problem:
    kind = box["kind"]
    what = f"{kind} {shorten(box.get('tex', ''))}" if "formula" in kind else f"{kind} '{box.get('text', '')}'"
    how = "sticks-out" if box.get("sticksOut") else ("scrolls" if box.get("scrolls") else "cut-off")
    said = {"sticks-out": "sticks out of the card", "scrolls": "scrolls sideways", "cut-off": "is cut off"}[how]
    hints = {
        "display formula": "break it across lines where the TeX allows (\\begin{aligned} … \\\\ …), shorten it, or move a part into the text",
        "inline formula": "make it a display formula ($$...$$) or shorten it",
        "table": "use fewer or narrower columns, or turn it into a list",
        "code": "keep code lines under about 40 characters",
    }
    where = (_formula_location(note, box.get("tex", "")) if "formula" in kind else _line_with(note, box.get("text", ""))) or note.rendered.location
    message = f"{what} is {box['width']} px wide, the card {box['room']} px on a {screen_width} px phone: it {said}"
    return Problem("layout-overflow", WARNING, ContentError(where, message, hints.get(kind, "make it narrower than the card")), how)


def _figure_text(figure: dict, note: _Note, media_files: dict[str, Path]) -> list[Problem]:
    from deckgen.figures.svgtext import text_sizes

    match = _FIGURE_MEDIA_RE.search(figure["src"])
    if not match or not figure["width"]:
        return []
    path = media_files.get(Path(figure["src"]).name)
    if path is None:
        return []
    sizes = sorted(size * figure["width"] for size in text_sizes(path.read_text(encoding="utf-8")))
    small = [px for px in sizes if px < MIN_TEXT_PX - 0.05]
    if not small:
        return []
    name = match["name"]
    where = note.figures.get(name, note.rendered.location)
    message = (f"figure '{name}' is shown {figure['width']:g} px wide on a phone, where {len(small)} of its {len(sizes)} texts are under "
               f"{MIN_TEXT_PX:g} px (the smallest {small[0]:.1f} px)")
    return [Problem("layout-figure-text", WARNING, ContentError(where, message, "use the figure style's sizes (no numeric fontsize=, 'small' at least) and keep the figure 6.4 in wide"))]


def _cloze(problem: dict, pc, note: _Note, mode: str) -> Problem:
    side = f"the {problem['side']} of card c{pc.card.ordinal} ({mode} mode)"
    if problem["what"] == "math":
        message = f"{problem['missing']} of {problem['expected']} deletions inside formulas are not highlighted on {side}"
        hint = "keep a deletion inside a formula out of \\text{...} (write \\text{...}{{c1::...}}), and number deletions c1 to c30"
    elif problem["what"] == "style":
        message = f"deletions are not highlighted on {side}: {problem['text']}"
        hint = "keep the .cloze rule of the card style"
    else:
        message = f"part of a deletion is not drawn in the deletion's colour on {side}: {problem['text']}"
        hint = "markup inside the deletion sets its own colour: remove it, or put the deletion inside the markup"
    return Problem("layout-cloze", WARNING, ContentError(note.rendered.location, message, hint))


def _offline(blocked: Iterable[str], notes: dict[str, _Note]) -> list[Problem]:
    out = []
    for url in dict.fromkeys(blocked):
        for note in notes.values():
            if url in html.unescape(note.rendered.front + note.rendered.back):
                out.append(Problem("layout-offline", WARNING, ContentError(
                    note.rendered.location, f"the card loads {url}, which a phone without a network cannot show", "put the file in content/ and refer to it by its path")))
    return out


# ---- placing a finding ------------------------------------------------------------------------


def _normal(tex: str) -> str:
    """TeX compared without cloze marks, braces and spaces (MathJax keeps it as the card had it)."""
    return re.sub(r"[\s{}]", "", _CLASS_MARK_RE.sub("", html.unescape(tex)))


def _formula_location(note: _Note, tex: str) -> Location | None:
    wanted = _normal(tex)
    if not wanted:
        return None
    for formula in note.formulas:
        if _normal(cloze.strip(formula.tex)) == wanted:
            return formula.location
    return None


def _line_with(note: _Note, text: str) -> Location | None:
    """The first line of the note's source that holds `text` (or its first 12 characters)."""
    needle = text.strip().rstrip("…")[:12]
    if not needle:
        return None
    for number, line in note.lines:
        if needle in line:
            return Location(note.rendered.location.path, number)
    return None


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for problem in problems:
        key = (problem.rule, str(problem.error))
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out
