"""Every package that builds imports, and no card it holds runs a script or fetches anything.

- A property: random valid content (deck names, ids, tags, questions, answers with Markdown,
  formulas and cloze deletions up to Anki's largest number) builds, and Anki's own engine
  imports every note of every package with no error and renders every card.
- Content full of payloads that are meant to build (inside code, formulas, captions, link
  titles, details labels, escaped HTML, allowed formatting) is imported into Anki's engine, and
  each rendered card is opened in headless Chromium with every request outside the card's own
  media folder recorded and refused: no request leaves, no script runs.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anki_engine import import_package, new_collection, render_all
from conftest import png, write_project
from deckgen import BuildConfig, BuildFailed, build
from test_hostile import md

# ---- random valid content → build → Anki imports it ----------------------------------------------

WORDS = st.text(alphabet=st.sampled_from(list("abcXYZ019中文卷积的 -_.,，。？！()（）*'\"/+=")), min_size=1, max_size=12).map(str.strip).filter(bool)
NAMES = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
TAGS = st.lists(st.from_regex(r"[a-z0-9_][a-z0-9_-]{0,8}(::[a-z0-9_][a-z0-9_-]{0,8}){0,2}", fullmatch=True), max_size=3)
FORMULAS = st.sampled_from([r"$x^2$", r"$\frac{a}{b}$", r"$$\sum_{i=1}^{n} x_i$$", r"$a_{i,j} < b$", r"$\{x \mid x > 0\}$"])
CLOZE = st.integers(1, 65536).flatmap(lambda n: WORDS.map(lambda w: f"{{{{c{n}::{w}}}}}"))
PROSE = st.tuples(WORDS, st.lists(st.one_of(WORDS, FORMULAS, st.sampled_from(["**粗**", "`code <b>`", "- 列表项", "1. 一", "> 引用", "\n\n", "[链接](https://example.com)", "&amp;", "a < b", "x > y"])), max_size=8)).map(lambda p: " ".join([p[0], *p[1]]))


@st.composite
def topic(draw) -> tuple[str, int]:
    deck = "::".join(draw(st.lists(WORDS.filter(lambda w: "::" not in w and not w.startswith(("-", "?", "'", '"', "*"))), min_size=1, max_size=3)))
    ids = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    notes = []
    for note_id in ids:
        question = draw(WORDS)
        kind = draw(st.sampled_from(["basic", "reversed", "cloze"]))
        tags = draw(TAGS)
        lines = [f"## {question} {{#{note_id}}}"]
        if tags:
            lines.append("tags: " + " ".join(tags))
        if kind == "reversed":
            lines.append("type: reversed")
        lines += ["", draw(PROSE)]
        if kind == "cloze":
            lines += ["", f"{draw(WORDS)} {draw(CLOZE)} {draw(WORDS)}"]
        notes.append("\n".join(lines))
    quoted = deck.replace("\\", "\\\\").replace('"', '\\"')
    return md(*"\n\n".join(notes).split("\n"), header=(f'deck: "{quoted}"', f'id: "{draw(NAMES)}"')), len(ids)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topic())
def test_random_valid_content_builds_into_packages_anki_imports_whole(generated):
    text, count = generated
    with tempfile.TemporaryDirectory() as folder:
        root = write_project(Path(folder) / "p", {"content/t.md": text})
        try:
            report = build(BuildConfig(root=root, now=1_800_000_000))
        except BuildFailed as failed:  # the content is valid: it must build
            raise AssertionError(f"valid content refused: {[str(e) for e in failed.errors]}\n{text}") from None
        assert report.notes == count
        for apkg in sorted((root / "dist").glob("*.apkg")):
            col = new_collection(Path(folder) / f"col-{apkg.stem}")
            try:
                log = import_package(col, apkg)
                assert len(log.new) == count and not log.conflicting and not log.duplicate, (apkg.name, log)
                assert col.note_count() == count
                for card in render_all(col):  # a template or cloze error would raise here
                    assert card.question.strip()
            finally:
                col.close()


# ---- payloads that build: no request, no script, in Anki's engine and Chromium -------------------

PWN = "window.__pwned=1"
PAYLOADS = md(
    "## 代码里的脚本 {#code}",
    "",
    f"`<img src=x onerror={PWN}>` 与 `<script>{PWN}</script>` 都只是代码。",
    "",
    "```html",
    f"<script>{PWN}</script><iframe src=http://127.0.0.1:9/frame></iframe>",
    "```",
    "",
    "## 公式与转义 {#math}",
    "",
    f"公式 $a<b \\text{{ <img src=x onerror={PWN}> }}$，转义 &lt;script&gt;{PWN}&lt;/script&gt;。",
    "",
    "## 标题与图注 {#captions}",
    "",
    f'![图注" onerror="{PWN}](images/ok.png)',
    "",
    f'[链接](https://127.0.0.1:9/pwned "标题\\" onmouseover=\\"{PWN}") 与 <https://127.0.0.1:9/auto>',
    "",
    f"::: details 展开 <img src=x onerror={PWN}>",
    "细节 <span style=\"color: red\">红</span> <kbd>Ctrl</kbd>",
    ":::",
    "",
    "## 填空 {#fill}",
    "",
    f"{{{{c1::`<svg onload={PWN}>`::提示}}}} 和 {{{{c2::二}}}}",
    "",
    "| 列 | 值 |",
    "|:--|--:|",
    "| <b>粗</b> | 1 |",
    header=("deck: 载荷", "id: payloads", f"description: 卡片 <b>说明</b> &lt;script&gt;{PWN}&lt;/script&gt;"),
)


def test_cards_that_build_run_no_script_and_fetch_nothing_in_anki_and_chromium(tmp_path, browser):
    root = write_project(tmp_path / "p", {"content/payloads.md": PAYLOADS, "content/images/ok.png": png(2, 2)})
    build(BuildConfig(root=root))
    col = new_collection(tmp_path / "col")
    import_package(col, root / "dist/payloads.apkg")
    media = Path(col.media.dir())
    cards = render_all(col)
    assert len(cards) == 5  # code, math, captions, two cloze cards
    refused: list[str] = []
    for card in cards:
        for side, content in (("front", card.question), ("back", card.answer)):
            page_file = media / f"card-{card.card_id}-{side}.html"
            page_file.write_text(f"<!doctype html><meta charset=utf-8><body class=card>{content}</body>", encoding="utf-8")
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else (refused.append(route.request.url), route.abort()))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            for element in page.query_selector_all("a, img, span, kbd, summary, code"):
                element.dispatch_event("mouseover")
            facts = page.evaluate("""() => ({
                pwned: window.__pwned === 1,
                scripts: document.querySelectorAll('script, iframe, object, embed, svg, style, link, meta[http-equiv]').length,
                handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
                images: [...document.images].map(i => i.src),
            })""")
            page.close()
            assert not facts["pwned"] and facts["scripts"] == 0 and facts["handlers"] == [], (card.note_guid, side, facts)
            assert all(src.startswith("file://") for src in facts["images"]), facts["images"]
    assert refused == []  # not one request left the card's own media folder
    deck = col.decks.by_name("载荷")
    assert deck and "&lt;script&gt;" in deck["desc"] and "<b>说明</b>" in deck["desc"]
    col.close()
