"""`deckgen preview --screenshots`: every card as a phone shows it, day and night, as PNG files,
and a contact sheet that shows them all at once.

In:  a preview site written by `site/preview.py` (its deck pages) and its decks.
Out: `<out>/<deck id>/<card anchor>.<day|night>.png`, a 390 px wide picture of each card (front
     above back, details open, so that everything on the card is in the picture), and
     `<out>/index.html`, the contact sheet: every picture of every deck on one page, each linked
     to its card in the preview and labelled with its source `path:line`. Pictures of cards that
     no longer exist are removed.

One Chromium for everything (`runtime/browser.offline_session`: nothing leaves the disk), one
page per deck, photographed whole in each mode and cut into cards (a picture per card from the
browser took ten times as long). The pictures keep 256 colours, a third of the bytes, which text
on two backgrounds does not miss.
"""
from __future__ import annotations

import html
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from deckgen.limits import PHONE_SCREEN_PX

SCREENSHOT_DIR = "screenshots"
MODES = ("day", "night")
# The sticky toolbar would be painted over every card below the first screen.
_PAGE_STYLE = ".pv-bar { position: static !important; } .pv-card { padding: 6px 0 4px; }"


@dataclass(frozen=True)
class ContactSheet:
    index: Path
    pictures: int
    seconds: float


def write_screenshots(site: Path, decks, out: Path) -> ContactSheet:
    """A PNG of every card of `decks` (their pages in `site`) in both modes, and the sheet."""
    from deckgen.runtime import browser
    from deckgen.site.preview import wait_until_rendered

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    width, height = PHONE_SCREEN_PX
    # Cutting a page's picture into cards (Pillow, which lets go of the interpreter while it
    # works) goes on in a thread while Chromium lays out and photographs the next page: a sixth
    # of the time on the flagship was cutting.
    written: set[Path] = set()
    with browser.offline_session() as session, ThreadPoolExecutor(max_workers=1) as cutter:
        cuts: list[Future[set[Path]]] = []  # at most two pages' pictures wait (a long page's is megabytes)
        for deck in decks:
            page = session.open(browser.file_url(site / deck.page) + f"?view=phone&mode={MODES[0]}", width=width, height=height)
            try:
                wait_until_rendered(page)
                page.add_style_tag(content=_PAGE_STYLE)
                for mode in MODES:
                    page.locator(f'.pv-mode[data-mode="{mode}"]').click()
                    boxes = page.evaluate(_BOXES)
                    if len(cuts) == 2:
                        written |= cuts.pop(0).result()  # raises what the cut raised
                    cuts.append(cutter.submit(_cut, page.screenshot(full_page=True, animations="disabled"), boxes, out / deck.topic.deck_id, mode))
            finally:
                page.context.close()
        for cut in cuts:
            written |= cut.result()
    _remove_stale(out, written)
    index = out / "index.html"
    index.write_text(_sheet(decks), encoding="utf-8")
    return ContactSheet(index, len(written), round(time.perf_counter() - started, 1))


# Open every details section, then the box of each card on the page, in CSS pixels.
_BOXES = """() => {
  document.querySelectorAll('.pv-card details').forEach(d => { d.open = true; });
  const out = {};
  for (const card of document.querySelectorAll('.pv-card')) {
    const r = card.getBoundingClientRect();
    out[card.id] = [Math.floor(r.left), Math.floor(r.top + scrollY), Math.ceil(r.right), Math.ceil(r.bottom + scrollY)];
  }
  return out;
}"""


def _cut(png: bytes, boxes: dict[str, list[int]], folder: Path, mode: str) -> set[Path]:
    import io

    from PIL import Image  # Pillow comes with matplotlib

    folder.mkdir(parents=True, exist_ok=True)
    written = set()
    with Image.open(io.BytesIO(png)) as whole:
        for anchor, box in boxes.items():
            path = folder / f"{anchor}.{mode}.png"
            left, top, right, bottom = box
            whole.crop((left, top, right, bottom)).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(path, compress_level=6)
            written.add(path)
    return written


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Pictures left from cards that are gone (only PNGs under `out`, which this module owns)."""
    for old in out.glob("*/*.png"):
        if old not in written:
            old.unlink()


def _sheet(decks) -> str:
    sections = []
    for deck in decks:
        cards = "\n".join(
            f'<figure><a href="../{deck.page}#{pc.anchor}">'
            + "".join(f'<img src="{deck.topic.deck_id}/{pc.anchor}.{mode}.png" alt="{mode}" loading="lazy">' for mode in MODES)
            + f'</a><figcaption>{html.escape(pc.note.key)} · {html.escape(pc.card.name)}<br>{html.escape(str(pc.note.location))}</figcaption></figure>'
            for pc in deck.cards
        )
        sections.append(f'<h2>{html.escape(deck.topic.deck_name)} <small>{len(deck.cards)} cards</small></h2>\n<div class="sheet">\n{cards}\n</div>')
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>deckgen contact sheet</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 12px; background: #eef0f3; color: #1f2328; }}
.sheet {{ display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }}
figure {{ margin: 0; width: 402px; }}
figure a {{ display: flex; gap: 2px; }}
figure img {{ width: 200px; height: auto; border: 1px solid #d0d7de; }}
figcaption {{ font-size: 12px; color: #59636e; overflow-wrap: anywhere; }}
h2 small {{ font-weight: normal; color: #59636e; }}
</style></head>
<body>
<h1>Every card on a 390 px phone, day and night</h1>
<p>Each card's front and back, details open. Click a card to open it in the preview.</p>
{body}
</body></html>
"""
