"""Formula images (`--math-images`): each formula drawn once as an SVG file, for a client
without MathJax or for printing; the TeX stays on the card as the image's alt text.

In:  rendered topics (card HTML with `\\(..\\)` / `\\[..\\]` math), the build cache, the media folder.
Out: the same topics with every formula outside code replaced by an `<img>` of it (a formula
     holding a cloze deletion stays MathJax: an image cannot hide part of itself), each SVG
     written to the media folder under a content-hashed name; `BuildFailed` when Chromium or
     MathJax's SVG build is missing.

Working on the final HTML means typed formulas, computed ones and those in figure captions
are all handled alike, and a build without `--math-images` is not touched at all.

The SVGs come from the same MathJax as Anki's (npm's `mathjax` of Anki's version, whose CHTML
build is byte-identical to Anki's), configured as Anki configures it, in headless Chromium, with
the glyphs as paths so the phone needs no math font. Each is cached by its TeX, so a rebuild
draws only new formulas. Measured on the flagship deck (608 distinct formulas, 2 busy cores):
12 s in one Chromium run (20 ms each, start-up included), 4.3 KB each, 0.1-0.4 s when cached.
ziamath (pure Python, 11 ms each) was measured too and rejected: it silently draws
`\\operatorname*`, `\\hat` inside `aligned` and CJK text wrongly.
"""
from __future__ import annotations

import dataclasses
import html
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from deckgen.errors import BuildFailed, ContentError
from deckgen.math import cloze, mathjax
from deckgen.records import CompiledTopic, Formula, Location
from deckgen.runtime import browser, progress
from deckgen.runtime.cache import Cache, atomic_write
from deckgen.runtime.keys import Kind, math_svg_key, sha256
from deckgen.syntax import MATHJAX_RE

_CODE_RE = re.compile(r"(<(pre|code)\b.*?</\2>)", re.S)  # MathJax leaves code alone; so do we

INK = "#1f2328"  # the card's day text colour; card.css inverts the image at night

_SCRIPT = r"""
const out = document.getElementById("%(result)s");
MathJax.startup.promise.then(() => {
  const drawn = FORMULAS.map(([tex, display]) => {
    const node = MathJax.tex2svg(tex, {display: display});
    const error = node.querySelector("[data-mjx-error]");
    return {svg: node.querySelector("svg").outerHTML, error: error ? error.getAttribute("data-mjx-error") : ""};
  });
  out.textContent = JSON.stringify(drawn).replace(/</g, "\\u003c");
}).catch((error) => { out.textContent = JSON.stringify({failed: String(error)}); });
"""


@dataclass(frozen=True)
class MathImage:
    name: str  # media file name, content-hashed
    # Sizes in ex, as MathJax gives them: CSS ex is the x-height of the card's own font, so the
    # image scales with it the way MathJax's output matches the surrounding font.
    width_ex: float
    valign_ex: float


def apply(topics: list[CompiledTopic], cache: Cache, media_dir: Path, mode: progress.Mode = progress.Mode.OFF) -> list[CompiledTopic]:
    """Every topic with its formulas as images; their files are in `media_dir`."""
    found = [Formula(tex, display, Location("")) for topic in topics for note in topic.notes for field in (note.front, note.back) for tex, display in _formulas_in(field)]
    try:
        images = draw(found, cache, media_dir, mode)
    except (browser.ChromiumNotFound, browser.PageFailed, mathjax.MathJaxUnavailable) as exc:
        raise BuildFailed([ContentError(Location("--math-images"), f"formula images could not be drawn: {exc}", "install what the message names, or build without --math-images")]) from None
    out = []
    for topic in topics:
        notes = []
        for note in topic.notes:
            used: list[str] = []
            front, back = _replace(note.front, images, used), _replace(note.back, images, used)
            notes.append(dataclasses.replace(note, front=front, back=back, media=tuple(dict.fromkeys((*note.media, *used)))))
        out.append(dataclasses.replace(topic, notes=tuple(notes)))
    return out


def _formulas_in(field: str):
    for part in _CODE_RE.split(field)[::3]:  # split keeps the two groups: text, code, tag name, text, ...
        for match in MATHJAX_RE.finditer(part):
            display = match.group(2) is not None
            yield html.unescape(match.group(2) if display else match.group(1)), display


def _replace(field: str, images: dict[tuple[str, bool], MathImage], used: list[str]) -> str:
    def one(match: re.Match) -> str:
        display = match.group(2) is not None
        tex = html.unescape(match.group(2) if display else match.group(1))
        image = images.get((tex, display))
        if image is None:
            return match.group(0)
        used.append(image.name)
        return image_html(Formula(tex, display, Location("")), image)

    parts = _CODE_RE.split(field)
    for i in range(0, len(parts), 3):
        parts[i] = MATHJAX_RE.sub(one, parts[i])
    return "".join(part for i, part in enumerate(parts) if i % 3 != 2)


def draw(formulas: list[Formula], cache: Cache, media_dir: Path, mode: progress.Mode = progress.Mode.OFF) -> dict[tuple[str, bool], MathImage]:
    """An image for every formula that can be one (not those with a cloze deletion inside)."""
    wanted = sorted({(formula.tex, formula.display) for formula in formulas if "{{c" not in formula.tex})
    keys = {item: math_svg_key(*item, mathjax.mathjax_version()) for item in wanted}
    svgs = {item: data.decode() for item in wanted if (data := cache.get(Kind.MATH_SVG, keys[item])) is not None}
    todo = [item for item in wanted if item not in svgs]
    with progress.stage("formula images", len(todo), mode if todo else progress.Mode.OFF, "formula") as shown:
        drawn = _draw_svgs(todo)  # one page draws them all: the count moves once, at the end
        shown.advance(len(drawn))
    for item, svg in zip(todo, drawn, strict=True):
        cache.put(Kind.MATH_SVG, keys[item], svg.encode())
        svgs[item] = svg
    images = {}
    for item, svg in svgs.items():
        name = f"math-{sha256(svg.encode())[:16]}.svg"
        if not (media_dir / name).exists():
            atomic_write(media_dir / name, svg.encode())
        images[item] = _measure(name, svg)
    return images


def image_html(formula: Formula, image: MathImage) -> str:
    """The `<img>` that stands for a formula, sized to the card's font as MathJax would size it."""
    alt = html.escape(formula.tex.strip(), quote=True)
    style = f"width:{image.width_ex:.3f}ex;vertical-align:{image.valign_ex:.3f}ex"
    tag = f'<img class="dg-math" src="{image.name}" alt="{alt}" style="{style}">'
    return f'<div class="dg-math-display">{tag}</div>' if formula.display else tag


def _draw_svgs(items: list[tuple[str, bool]]) -> list[str]:
    if not items:
        return []
    script = mathjax.svg_script()
    config = 'window.MathJax.svg = {fontCache: "none"};'
    formulas = json.dumps([[cloze.strip(tex), display] for tex, display in items]).replace("</", "<\\/")
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"{mathjax.script_tags(browser.file_url(script.parent), entry=script.name, extra_config=config)}</head><body>"
        f'<script type="application/json" id="{browser.RESULT_ID}"></script>'
        f"<script>const FORMULAS = {formulas};{_SCRIPT % {'result': browser.RESULT_ID}}</script></body></html>"
    )
    with tempfile.TemporaryDirectory(prefix="deckgen-mathimages-") as tmp:
        path = Path(tmp) / "draw.html"
        path.write_text(page, encoding="utf-8")
        run = browser.run_page(browser.file_url(path), budget_ms=120000, timeout=600)
    drawn = browser.result_json(run.dom)
    if not isinstance(drawn, list) or len(drawn) != len(items):
        raise browser.PageFailed(f"MathJax drew no formula images: {drawn or '; '.join(run.console)}")
    return [_standalone(item["svg"]) for item in drawn]


def _standalone(svg: str) -> str:
    """An SVG file of its own: namespaced, fixed ink colour (an <img> has no currentColor)."""
    svg = svg.replace("currentColor", INK)
    if "xmlns:xlink" not in svg:
        svg = svg.replace("<svg ", '<svg xmlns:xlink="http://www.w3.org/1999/xlink" ', 1)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n"


def _measure(name: str, svg: str) -> MathImage:
    width = re.search(r'<svg[^>]*\swidth="([-\d.]+)ex"', svg)
    valign = re.search(r"vertical-align:\s*([-\d.]+)ex", svg)
    return MathImage(name, float(width.group(1)) if width else 2.0, float(valign.group(1)) if valign else 0.0)
