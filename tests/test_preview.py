"""`deckgen preview`: the cards are Anki's own rendering, and the site works in a real Chromium."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from anki_engine import import_package, new_collection
from conftest import REPO, png, run_deckgen, write_project
from deckgen import BuildConfig, build
from deckgen.anki.cards import render_cards
from deckgen.anki.notetypes import guid_for, note_types
from deckgen.builder.pipeline import gather
from deckgen.site.preview import build_preview
from deckgen.site.serve import PreviewServer

ARTIFACTS = REPO / "test-artifacts"


TOPIC = """
---
deck: 预览::基础
id: basics
tags: [preview]
description: 预览测试
---

## 什么是空洞卷积？ {#dilated}
tags: seed::s003-q3

**要点**

- 等效核大小 $k_{\\text{eff}} = k + (k-1)(d-1)$，比较 $a < b$ 与 $x \\& y$

$$o = \\left\\lfloor \\frac{i + 2p - d(k-1) - 1}{s} \\right\\rfloor + 1$$

![一张小图](images/dot.png)

| 核 | 扩张率 | 等效核 | 说明 |
|---|---|---|---|
| 3 | 2 | 5 | 很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长的说明 |

```python
def receptive_field(k, d):
    return k + (k - 1) * (d - 1)  # a long comment that would overflow a phone screen if it wrapped nowhere
```

## 动量法的更新公式？ {#momentum}
type: reversed

$$v_t = \\beta v_{t-1} + g_t$$

## Xavier 初始化的方差 {#xavier}

$\\mathrm{Var}(W) = {{c1::\\frac{2}{n_{in}+n_{out}}::分数}}$，由 {{c2::Glorot}} 提出；{{c3::方差 {{c3::相同}} 的}} 初始化。
???
参见 He 初始化。

## 只有填空 {#only-cloze}

{{c1::<b>粗体</b> & "引号"}} 与 $x = {{c2::1}}$
"""

TOPIC_B = """
---
deck: 预览::进阶
id: advanced
---

## Softmax 交叉熵对 logits 的梯度？ {#softmax-grad}
tags: loss

$$\\frac{\\partial L}{\\partial z_i} = p_i - y_i$$
"""


def files() -> dict:
    return {"content/basics.md": TOPIC, "content/advanced.md": TOPIC_B, "content/images/dot.png": png(40, 20)}


# ---- the cards are exactly what Anki renders --------------------------------------------------


def assert_cards_match_anki(config: BuildConfig, tmp_path: Path) -> int:
    """Import the built all.apkg into Anki's engine and compare every card with deckgen.anki.cards."""
    types = note_types()
    ours = {}
    for topic in gather(config).topics:
        for note in topic.notes:
            for card in render_cards(note, types[note.kind]):
                ours[(guid_for(note.key), card.ordinal)] = card
    col = new_collection(tmp_path / "anki")
    import_package(col, config.dist_dir / "all.apkg")
    compared = 0
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        output = card.render_output(reload=True)
        mine = ours.pop((card.note().guid, card.ord + 1))
        assert (mine.question, mine.answer) == (output.question_text, output.answer_text), mine.name
        compared += 1
    col.close()
    assert not ours, f"cards Anki did not generate: {sorted(ours)}"
    return compared


def test_cards_are_rendered_exactly_as_anki_renders_them(project, tmp_path):
    root = project(files())
    config = BuildConfig(root=root)
    build(config)
    assert assert_cards_match_anki(config, tmp_path) == 1 + 2 + 3 + 2 + 1  # basic, reversed, 3 clozes, 2 clozes, basic


def test_flagship_cards_are_rendered_exactly_as_anki_renders_them(flagship, tmp_path):
    config = BuildConfig(root=flagship)
    build(config)
    assert assert_cards_match_anki(config, tmp_path) > 100


CLOZE_CASES = [
    r"\(a = {{c1::b::hint}}\) x",
    '{{c1::<b>x</b> & "q"}} {{c2::中文 é\'a_1}}',
    "{{c1::outer {{c2::inner}} z}}",
    r"{{c1::\(x\) {{c2::\(y = {{c3::z}}\)}}}}",
    r"\[ {{c1::a}} \] and \({{c2::b::h}}\) \(a<b>c</b>\)",
    "x {{c1::a}}}} y {{c2::b {{c3::unclosed",
    "{{c0::zero}} {{c1::a::b::c}} {{c1::::}}",
]


def test_cloze_rules_match_anki(tmp_path):
    """Nested deletions, hints, MathJax and stray braces, against Anki's own Cloze note type."""
    from deckgen.anki.cards import cloze_side

    col = new_collection(tmp_path / "cloze")
    model = col.models.by_name("Cloze")
    compared = 0
    for text in CLOZE_CASES:
        note = col.new_note(model)
        note["Text"] = text
        col.add_note(note, 1)
        for card in note.cards():
            out = card.render_output(reload=True)
            # the stock template: front {{cloze:Text}}, back {{cloze:Text}}<br>\n{{Back Extra}}
            assert cloze_side(text, card.ord + 1, True) == out.question_text, (text, card.ord + 1)
            assert cloze_side(text, card.ord + 1, False) + "<br>\n" == out.answer_text, (text, card.ord + 1)
            compared += 1
    col.close()
    assert compared == 12  # unclosed deletions and c0 make no card


# ---- the site ---------------------------------------------------------------------------------


def test_site_layout_and_incremental_rewrite(project):
    root = project(files())
    config = BuildConfig(root=root)
    first = build_preview(config)
    site = root / "dist" / "preview"
    assert first.decks == 2 and first.cards == 9
    assert {"index.html", "deck-basics.html", "deck-advanced.html", "card.css", "preview.js", "search-index.js"} <= {p.name for p in site.iterdir()}
    page = (site / "deck-basics.html").read_text(encoding="utf-8")
    assert "content/basics.md:8" in page and "seed::s003-q3" in page  # source and tags of each card
    assert 'src="media/img-dot-' in page and "<script>" not in page.split("</head>")[1]
    assert all((site / name).is_file() for name in json.loads((site / ".deckgen-preview.json").read_text()) if name.startswith("media/"))
    index = json.loads((site / "search-index.js").read_text(encoding="utf-8").removeprefix("window.DG_INDEX = ").rstrip(";\n"))
    assert len(index["cards"]) == 9 and index["decks"][0]["page"].startswith("deck-")
    assert first.mathjax == "copied" and (site / "mathjax" / "tex-chtml-full.js").is_file()
    again = build_preview(config)
    assert again.written == 0 and again.mathjax == "unchanged"
    (root / "content/advanced.md").unlink()
    third = build_preview(config)
    assert third.decks == 1 and not (site / "deck-advanced.html").exists()  # a removed deck's page goes


def test_preview_command(project):
    root = project(files())
    run = run_deckgen(root, "preview")
    assert run.code == 0, run.stderr
    assert "preview: 9 cards in 2 decks" in run.stdout and "file://" in run.stdout
    assert (root / "dist/preview/index.html").is_file() and not (root / "dist/all.apkg").exists()


def test_server_serves_only_the_preview_on_localhost(tmp_path):
    site = write_project(tmp_path / "site", {"index.html": "<h1>hi</h1>", "deck.html": "deck"})
    (tmp_path / "secret.txt").write_text("secret")
    (site / "link.txt").symlink_to(tmp_path / "secret.txt")
    with PreviewServer(site, 0) as server:
        assert server.url.startswith("http://127.0.0.1:")

        def get(path: str) -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as err:
                return err.code, b""

        assert get("/") == (200, b"<h1>hi</h1>")
        assert get("/deck.html")[0] == 200
        for escape in ("/../secret.txt", "/..%2fsecret.txt", "/link.txt", "/%2e%2e/secret.txt"):
            assert get(escape)[0] == 404, escape
        status = json.loads(get("/__deckgen/status")[1])
        server.publish(False, ["content/a.md:3: broken"])
        after = json.loads(get("/__deckgen/status")[1])
        assert after == {"build": status["build"] + 1, "ok": False, "errors": ["content/a.md:3: broken"]}


# ---- in a real browser ------------------------------------------------------------------------

PAGE_FACTS = """() => {
  const cards = [...document.querySelectorAll('.pv-side > .card')];
  return {
    mathjax: document.documentElement.dataset.mathjax,
    formulas: document.querySelectorAll('mjx-container').length,
    errors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')].map(e => e.getAttribute('data-mjx-error') || e.textContent),
    rawTex: cards.filter(c => /\\\\\\(|\\\\\\[/.test(c.innerText)).length,
    brokenImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
    images: document.images.length,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    bodyBackground: getComputedStyle(document.body).backgroundColor,
    cardBackground: getComputedStyle(cards[0]).backgroundColor,
    bodyClasses: document.body.className,
    wideFormulas: [...document.querySelectorAll('mjx-container')].filter(m => m.getBoundingClientRect().right > innerWidth + 1
      && !m.parentElement.closest('mjx-container[display="true"]')).map(m => m.closest('.pv-card').id),
  };
}"""


def page_facts(browser, url: str, width: int, height: int, shot: Path | None = None) -> dict:
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(url)
    page.wait_for_function("document.documentElement.dataset.mathjax", timeout=90_000)
    page.wait_for_load_state("load")
    facts = page.evaluate(PAGE_FACTS)
    if shot:
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=False)
    page.close()
    facts["pageErrors"] = problems
    return facts


def assert_page_renders(facts: dict, phone: bool, known_wide: frozenset[str] = frozenset()) -> None:
    assert facts["mathjax"] == "done", facts
    assert facts["formulas"] > 0 and facts["errors"] == [] and facts["rawTex"] == 0, facts
    assert facts["brokenImages"] == [], facts
    assert facts["pageErrors"] == [], facts
    if phone:
        wide = {card.rsplit("-", 1)[0] for card in facts["wideFormulas"]}
        assert wide <= known_wide, f"inline formulas wider than {facts['innerWidth']} px in notes {sorted(wide - known_wide)}: make them display formulas ($$...$$)"
        if not wide:
            assert facts["scrollWidth"] <= facts["innerWidth"], f"horizontal overflow at {facts['innerWidth']} px: {facts['scrollWidth']}"


def test_preview_in_chromium_phone_and_desktop_day_and_night(project, browser):
    root = project(files())
    build_preview(BuildConfig(root=root))
    url = (root / "dist/preview/deck-basics.html").as_uri()
    seen = {}
    for width, height, view in ((390, 844, "phone"), (1280, 900, "desktop")):
        for mode in ("day", "night"):
            facts = page_facts(browser, f"{url}?mode={mode}&view={view}", width, height, ARTIFACTS / f"preview-{view}-{mode}.png")
            assert_page_renders(facts, phone=width < 500)
            assert facts["images"] == 1
            assert ("nightMode" in facts["bodyClasses"] and "night_mode" in facts["bodyClasses"]) == (mode == "night")
            seen[(view, mode)] = facts
    for view in ("phone", "desktop"):
        assert seen[(view, "day")]["bodyBackground"] != seen[(view, "night")]["bodyBackground"]
        assert seen[(view, "day")]["cardBackground"] != seen[(view, "night")]["cardBackground"]


def test_search_by_text_and_tag(project, browser):
    root = project(files())
    build_preview(BuildConfig(root=root))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((root / "dist/preview/index.html").as_uri())
    page.fill(".pv-search", "tag:seed::s003*")
    assert page.locator(".pv-results li").count() == 1
    page.fill(".pv-search", "tag:preview 初始化")  # a deck tag on every note, and a word
    assert page.locator(".pv-results li").count() == 3  # the Xavier cloze's three cards
    page.fill(".pv-search", "tag:seed")  # a parent tag matches its children
    assert page.locator(".pv-results li").count() == 1
    page.fill(".pv-search", "logits")
    link = page.locator(".pv-results li a").first
    assert "deck-advanced.html#softmax-grad-1" in link.get_attribute("href")
    link.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("deck-advanced.html#softmax-grad-1")
    page.close()


# Inline formulas in content/ wider than a 390 px phone (reported; they need to become $$ display
# formulas, which scroll inside themselves). Remove a note here once its formula is fixed.
KNOWN_WIDE: frozenset[str] = frozenset()  # notes allowed to overflow a phone: none


def test_flagship_preview_renders_on_a_phone(browser, flagship, tmp_path):
    """Every deck of the real content at 390 px, day mode: formulas, figures, no sideways scroll."""
    config = BuildConfig(root=flagship, dist_dir=tmp_path / "dist", lock_path=tmp_path / "deckgen.lock")
    report = build_preview(config)
    pages = sorted((tmp_path / "dist/preview").glob("deck-*.html"))
    assert len(pages) == report.decks > 0
    for page in pages:
        facts = page_facts(browser, page.as_uri() + "?mode=day", 390, 844, ARTIFACTS / f"flagship-{page.stem}-phone.png")
        assert_page_renders(facts, phone=True, known_wide=KNOWN_WIDE)
    night = page_facts(browser, pages[0].as_uri() + "?mode=night", 1280, 900, ARTIFACTS / f"flagship-{pages[0].stem}-desktop-night.png")
    assert_page_renders(night, phone=False)
