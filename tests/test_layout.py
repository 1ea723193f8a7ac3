"""Cards that read well on a phone: the layout check, cloze deletions inside formulas, CJK
punctuation, the contact sheet, dangling text and figure text, in real Chromium and Anki's MathJax."""
from __future__ import annotations

import http.server
import json
import os
import struct
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import ClassVar

import pytest

from conftest import REPO, run_deckgen
from deckgen import BuildConfig, build
from deckgen.builder.pipeline import gather
from deckgen.check.layout import check_layout
from deckgen.figures.style import PHONE_WIDTH_PX
from deckgen.figures.svgtext import text_sizes
from deckgen.limits import MIN_TEXT_PX
from deckgen.site.preview import build_preview, wait_until_rendered

ARTIFACTS = REPO / "test-artifacts"

# Every note but the ok-* ones breaks exactly one rule of the layout check.
TOPIC = r"""
---
deck: 手机::排版
id: phone
---

## 很宽的公式 {#wide-formula}

$$a_1 + a_2 + a_3 + a_4 + a_5 + a_6 + a_7 + a_8 + a_9 + a_{10} + a_{11} + a_{12} = \sum_{i=1}^{12} a_i$$

## 很宽的表格 {#wide-table}

| column | another | third | fourth |
|---|---|---|---|
| Supercalifragilistic | Pneumonoultramicroscopic | Antidisestablishment | Floccinaucinihilipilification |

## 很长的代码 {#long-code}

```python
result = some_function_with_a_long_name(first_argument, second_argument, third_argument)
```

## 纯文本里的下标 {#raw-tex}

缩放时除以 √d_k 得到方差 1。

## MathJax 排不出的公式 {#mathjax-error}

<div>\(\fracc{1}{2}\)</div>

## 文字中的挖空被别的颜色盖住 {#cloze-colour}

颜色：{{c1::<span style="color:#808080">灰色的答案</span>}}。

## 文本模式里的挖空 {#cloze-in-text}

$y = \text{ {{c1::单位}} } + x$

## 编号太大的挖空 {#cloze-31}

$x = {{c31::y}}$

## 图里的字太小 {#small-figure}

![小字](figure:tiny-text)

## 紧跟公式的标点被挤到行首 {#punct-unbound}

**甲$\hspace{14.6em}$**，乙

## 很长的背面 {#tall-back}

PARAGRAPHS

## 从网上取图 {#offline}
remote: true

![背景](REMOTE/x.png)

## 正常的挖空 {#ok-cloze}

$\frac{1}{ {{c1::n}} } + {{c2::m}}$，由 {{c3::文字}} 给出。

## 正常的标点 {#ok-punct}

甲$\hspace{14.6em}$，乙

## 细节很长的背面 {#ok-details}

- 要点一。

::: details 细节

DETAILS
:::

## 正常的代码 {#ok-code}

```python
def f(x):
    return x + 1
```
"""

FIGURES = """
from deckgen.figure_api import figure


@figure("tiny-text", size=(6.4, 3))
def tiny_text(fig, pal):
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color=pal.c[0])
    ax.set_xlabel("x")
    ax.text(0.5, 0.2, "小", fontsize=5, color=pal.fg)
"""


def topic(remote: str) -> str:
    paragraphs = "\n\n".join(f"第 {i} 段：卷积核在输入上滑动，每个位置做一次乘加。" * 3 for i in range(40))
    return TOPIC.replace("PARAGRAPHS", paragraphs).replace("DETAILS", paragraphs).replace("REMOTE", remote)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.lstrip("\n").split("\n"), start=1) if needle in line)


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def remote():
    """A server on 127.0.0.1 standing in for the internet: a card must never reach it."""
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    assert server.socket.getsockname()[0] == "127.0.0.1"
    Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def phone_project(project, remote):
    text = topic(remote)
    root = project({"content/phone.md": text, "figures/tiny.py": FIGURES})
    return root, text


def findings_by_note(report, text: str) -> dict[str, list]:
    """Each finding under the id of the note whose lines hold it."""
    starts = sorted((line_of(text, f"{{#{note}}}"), note) for note in _ids(text))
    out: dict[str, list] = {}
    for problem in report.problems:
        note = [n for start, n in starts if start <= problem.error.location.line][-1]
        out.setdefault(note, []).append(problem)
    return out


def _ids(text: str) -> list[str]:
    return [line.split("{#")[1].rstrip("}") for line in text.split("\n") if line.startswith("## ")]


def test_each_rule_finds_its_fixture_at_its_line_and_nothing_else(phone_project, chromium):
    root, text = phone_project
    config = BuildConfig(root=root)
    gathered = gather(config)
    report = check_layout(config, gathered.topics, gathered.media_files)
    found = findings_by_note(report, text)
    rules = {note: sorted({p.rule for p in problems}) for note, problems in found.items()}
    assert rules == {
        "wide-formula": ["layout-overflow"],
        "wide-table": ["layout-overflow"],
        "long-code": ["layout-overflow"],
        "raw-tex": ["layout-raw-tex"],
        "mathjax-error": ["layout-mathjax-error"],
        "cloze-colour": ["layout-cloze"],
        "cloze-in-text": ["layout-cloze"],
        "cloze-31": ["layout-cloze"],
        "small-figure": ["layout-figure-text"],
        "punct-unbound": ["layout-punctuation"],
        "tall-back": ["long-answer"],
        "offline": ["layout-offline"],
    }, [str(p.error) for p in report.problems]
    by_rule = {p.rule: p for p in report.problems}
    wide = found["wide-formula"][0]
    assert wide.error.location.line == line_of(text, "a_1 + a_2") and wide.how == "scrolls"
    assert "display formula" in wide.error.message and "390 px phone" in wide.error.message
    assert {p.error.message.split(" ", 1)[0] for p in found["wide-table"] + found["long-code"]} == {"table", "code"}
    assert "√d_k" in by_rule["layout-raw-tex"].error.message
    assert "fracc" in by_rule["layout-mathjax-error"].error.message and by_rule["layout-mathjax-error"].severity == "error"
    # the deletion is marked, but not highlighted: on the front and the back, day and night
    assert len(found["cloze-in-text"]) == 4 and len(found["cloze-31"]) == 4
    assert "not drawn in the deletion's colour" in found["cloze-colour"][0].error.message
    tiny = found["small-figure"][0]
    assert tiny.error.location.line == line_of(text, "figure:tiny-text") and "tiny-text" in tiny.error.message
    assert "'，'" in found["punct-unbound"][0].error.message
    assert "screens with its details closed" in found["tall-back"][0].error.message
    assert "/x.png" in found["offline"][0].error.message and Recorder.seen == []  # refused before it left
    assert report.cards == 16 + 2  # ok-cloze has three cards


def test_check_command_reports_layout_findings_with_path_and_line(phone_project, chromium):
    root, text = phone_project
    run = run_deckgen(root, "check", "--format", "json")
    data = json.loads(run.stdout)
    layout = [f for f in data["findings"] if f["check"].startswith("layout-") or f["check"] == "long-answer"]
    assert {(f["check"], f["line"]) for f in layout} >= {
        ("layout-overflow", line_of(text, "a_1 + a_2")),
        ("layout-figure-text", line_of(text, "figure:tiny-text")),
        ("long-answer", line_of(text, "{#tall-back}")),
    }
    assert all(f["path"] == "content/phone.md" and f["hint"] for f in layout)
    assert not any("layout" in s for s in data["summary"]["skipped"])
    assert run.code == 1  # the MathJax error is an error


def test_check_without_chromium_says_it_skipped_the_layout(project, tmp_path):
    root = project({"content/a.md": "---\ndeck: a\nid: a\n---\n\n## 问？ {#q}\n\n答。\n"})
    env = dict(os.environ, DECKGEN_CHROMIUM=str(tmp_path / "no-such-chromium"))
    proc = subprocess.run([sys.executable, "-m", "deckgen.cli", "--root", str(root), "check", "--format", "json"], capture_output=True, text=True, env=env)
    skipped = json.loads(proc.stdout)["summary"]["skipped"]
    assert any(s.startswith("layout (every card at 390 px in Chromium): chromium not found") for s in skipped)


# ---- in the page ------------------------------------------------------------------------------


@pytest.fixture
def session(chromium):
    """One browser per test: the layout check starts its own, and playwright's sync API cannot
    run two in one thread."""
    from deckgen.runtime import browser

    with browser.offline_session() as s:
        yield s


def open_deck(session, root: Path, width: int = 390, mode: str = "day", view: str = "phone"):
    from deckgen.runtime.browser import file_url

    page = session.open(file_url(root / "dist/preview/deck-phone.html") + f"?view={view}&mode={mode}", width=width, height=844)
    assert wait_until_rendered(page) == "done"
    return page


GLYPH_COLOURS = """([anchor, side, cls]) => {
  const card = document.querySelectorAll('#' + anchor + ' .pv-side > .card')[side];
  const probe = document.createElement('span'); probe.className = 'cloze'; card.querySelector('.dg').appendChild(probe);
  const want = getComputedStyle(probe).color; probe.remove();
  const glyphs = [...card.querySelectorAll('mjx-container .' + cls + ' mjx-c')];
  return {want, text: getComputedStyle(card.querySelector('.dg')).color, glyphs: [...new Set(glyphs.map(g => getComputedStyle(g).color))],
          weight: glyphs.length ? getComputedStyle(glyphs[0]).fontWeight : null, packages: MathJax.config.tex.packages};
}"""


def test_a_deletion_inside_a_formula_is_highlighted_on_its_card_only(phone_project, session):
    root, _ = phone_project
    build_preview(BuildConfig(root=root))
    for mode in ("day", "night"):
        page = open_deck(session, root, mode=mode)
        for side in (0, 1):  # front ([...] marked) and back (the revealed n marked)
            mine = page.evaluate(GLYPH_COLOURS, ["ok-cloze-1", side, "dg-c1"])
            assert "html" in mine["packages"]  # \class comes from MathJax's html extension, which Anki's config keeps
            assert mine["glyphs"] == [mine["want"]] and mine["want"] != mine["text"] and mine["weight"] == "700", (mode, side, mine)
            other = page.evaluate(GLYPH_COLOURS, ["ok-cloze-2", side, "dg-c1"])  # c1's n on the card of c2
            assert other["glyphs"] == [other["text"]], (mode, side, other)
        page.context.close()


def test_nothing_is_cut_off_at_320_px(phone_project, chromium):
    """At the narrowest phone every wide box scrolls (showing it does); nothing sticks out."""
    root, text = phone_project
    config = BuildConfig(root=root)
    gathered = gather(config)
    report = check_layout(config, gathered.topics, gathered.media_files, screen=(320, 700))
    overflow = [p for p in report.problems if p.rule == "layout-overflow"]
    assert overflow and all(p.how == "scrolls" for p in overflow), [str(p.error) for p in overflow]
    ok = {line_of(text, "{#ok-punct}"), line_of(text, "{#ok-cloze}")}
    assert not [p for p in report.problems if p.rule == "layout-punctuation" and p.error.location.line in ok]


SCROLL_CUE = """() => [...document.querySelectorAll('.pv-side > .card mjx-container[display="true"], .pv-side > .card table, .pv-side > .card pre')]
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => { const s = getComputedStyle(el); return [el.tagName, s.overflowX, s.backgroundAttachment, s.backgroundImage.split('gradient').length - 1]; })"""


def test_a_wide_box_shows_that_it_scrolls(phone_project, session):
    root, _ = phone_project
    build_preview(BuildConfig(root=root))
    page = open_deck(session, root)
    wide = page.evaluate(SCROLL_CUE)
    page.context.close()
    assert {tag for tag, *_ in wide} == {"MJX-CONTAINER", "TABLE", "PRE"}
    assert all(cue == ["auto", "local, local, scroll, scroll", 4] for _, *cue in wide), wide


def test_night_code_block_has_one_frame_and_desktop_gives_the_back_room(phone_project, session):
    root, _ = phone_project
    build_preview(BuildConfig(root=root))
    page = open_deck(session, root, mode="night")
    frame = page.evaluate("""() => { const box = document.querySelector('#ok-code-1 .pv-side:nth-child(2) .codehilite');
      return [getComputedStyle(box).backgroundColor, getComputedStyle(box.querySelector('pre')).backgroundColor]; }""")
    page.context.close()
    assert frame[0] == "rgba(0, 0, 0, 0)" and frame[1] != frame[0]
    page = open_deck(session, root, width=1280, view="desktop")
    sides = page.evaluate("""() => [...document.querySelectorAll('#tall-back-1 .pv-side > .card')].map(c => [c.getBoundingClientRect().width, c.getBoundingClientRect().height])""")
    page.context.close()
    (front_w, front_h), (back_w, back_h) = sides
    assert back_w > 560 and back_w >= 1.4 * front_w  # was two equal columns of 474 px
    assert front_h < back_h / 4  # the front is as tall as its question, not stretched to the back


# ---- CJK punctuation after a formula ------------------------------------------------------------


def test_closing_punctuation_is_bound_to_the_formula_before_it(project):
    from deckgen.anki.cards import render_cards
    from deckgen.anki.notetypes import note_types

    md = "---\ndeck: p\nid: p\n---\n\n## 问 {#q}\n\n由 $x$，得 $y$）。与 **$z$**：\n\n## 填空 {#c}\n\n再{{c1::$w$}}。又 {{c2::$a$–$b$}}，而 {{c3::见 $v$}}。\n"
    root = project({"content/p.md": md})
    basic, cloze = gather(BuildConfig(root=root)).topics[0].notes
    assert '<span class="dg-nobr">\\(x\\)，</span>' in basic.back and '<span class="dg-nobr">\\(y\\)）。</span>' in basic.back
    assert '<span class="dg-nobr"><strong>\\(z\\)</strong>：</span>' in basic.back
    assert '<span class="dg-nobr">{{c1::\\(w\\)}}。</span>' in cloze.front and '<span class="dg-nobr">{{c2::\\(a\\)–\\(b\\)}}，</span>' in cloze.front
    assert "{{c3::见 \\(v\\)}}。" in cloze.front  # a span there would cross the deletion's end
    types = note_types()
    for card in render_cards(cloze, types[cloze.kind]):
        for side in (card.question, card.answer):
            assert side.count("<span") == side.count("</span>") and "{{" not in side


# ---- dangling text ------------------------------------------------------------------------------

DANGLING = """
---
deck: 悬空
id: dangling
---

## 只核对不展示的块 {#check-only}

结论如下：

```sympy
assert 1 + 1 == 2
```

## 答案以冒号结尾 {#ends-colon}

原因有两个：

## 展示结果的块 {#shows}

结果如下：

```sympy
x = symbols('x')
show(x**2)
```

## 冒号后是列表 {#colon-list}

两点：

- 一
- 二

## 细节以冒号结尾 {#details-colon}

要点。

::: details 细节

推导如下：

```sympy
assert True
```
:::

## 挖空里的空格 {#cloze-space}

答案是 {{c1:: 空格}}，{{c2::另一个}} 。
"""


def test_text_that_announces_nothing_is_a_build_warning(project):
    root = project({"content/d.md": DANGLING})
    report = build(BuildConfig(root=root))
    lines = {w.split(":", 2)[1]: w for w in report.warnings if w.startswith("content/d.md:")}
    text = DANGLING
    assert set(lines) == {str(line_of(text, "assert 1 + 1") - 1), str(line_of(text, "{#ends-colon}")), str(line_of(text, "assert True") - 1), str(line_of(text, "{#cloze-space}"))}, report.warnings
    assert "introduces the result of a sympy block that shows nothing" in lines[str(line_of(text, "assert 1 + 1") - 1)]
    assert "'…原因有两个：'" in lines[str(line_of(text, "{#ends-colon}"))]
    assert "{{c1:: " in lines[str(line_of(text, "{#cloze-space}"))]


def test_check_reports_dangling_text_even_from_the_cache(project):
    root = project({"content/d.md": DANGLING})
    build(BuildConfig(root=root))  # the next gather reads the topic from the cache: no build warning
    run = run_deckgen(root, "check", "--fast", "--format", "json")
    found = [f for f in json.loads(run.stdout)["findings"] if f["check"] == "dangling-text"]
    assert len(found) == 4 and all(f["hint"] for f in found)


def test_key_points_of_more_than_five_bullets_are_long(project):
    bullets = "\n".join(f"- 第 {i} 点。" for i in range(7))
    root = project({"content/k.md": f"---\ndeck: k\nid: k\n---\n\n## 七点？ {{#seven}}\n\n**要点**\n\n{bullets}\n\n## 五点？ {{#five}}\n\n- 一\n- 二\n    - 子点不算\n    - 子点\n- 三\n- 四\n- 五\n"})
    run = run_deckgen(root, "check", "--fast", "--format", "json")
    found = [(f["line"], f["message"]) for f in json.loads(run.stdout)["findings"] if f["check"] == "long-answer"]
    assert found == [(6, "the key points are 7 bullets (limit 5)")]


# ---- figures ------------------------------------------------------------------------------------

CUT_OFF = """
from deckgen.figure_api import figure


@figure("edge-right", size=(6.4, 3))
def edge_right(fig, pal):
    fig.subplots().plot([0, 1], [0, 1], color=pal.c[0])
    fig.text(0.9, 0.5, "超出右边缘的字", color=pal.fg)


@figure("edge-top", size=(6.4, 3))
def edge_top(fig, pal):
    fig.subplots().plot([0, 1], [0, 1], color=pal.c[0])
    fig.text(0.5, 0.97, "顶部", va="bottom", color=pal.fg)


@figure("inside", size=(6.4, 3))
def inside(fig, pal):
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color=pal.c[0])
    ax.set_title("标题")
    ax.text(0.5, 0.5, "小号也够大", fontsize="small", color=pal.fg)
"""


def test_text_past_the_right_or_top_edge_is_reported(project):
    """The cut-off check compares extents in points with the figure's size in points (it used
    the figure's pixels at 100 dpi, 39% larger, and missed text past the right and top edges)."""
    md = "---\ndeck: f\nid: f\n---\n\n## 图 {#a}\n\n![r](figure:edge-right)\n\n![t](figure:edge-top)\n\n![i](figure:inside)\n"
    root = project({"content/f.md": md, "figures/edges.py": CUT_OFF})
    report = build(BuildConfig(root=root))
    cut = {w.split("'")[1] for w in report.warnings if "cut off at the figure's edge" in w}
    assert cut == {"edge-right", "edge-top"}, report.warnings


def test_figure_text_sizes_read_from_the_svg(project):
    md = "---\ndeck: f\nid: f\n---\n\n## 图 {#a}\n\n![i](figure:inside)\n"
    root = project({"content/f.md": md, "figures/edges.py": CUT_OFF})
    gathered = gather(BuildConfig(root=root))
    [svg] = [path for name, path in gathered.media_files.items() if name.startswith("fig-inside-") and name.endswith(".day.svg")]
    px = sorted(size * PHONE_WIDTH_PX for size in text_sizes(svg.read_text(encoding="utf-8")))
    # the 'small' text, the tick labels, the title (larger than the rest), all at least 12 px
    assert len(px) >= 3 and px[0] >= MIN_TEXT_PX - 0.05 and px[-1] > 15


def test_every_flagship_figure_is_readable_on_a_phone(flagship):
    gathered = gather(BuildConfig(root=flagship))
    svgs = [path for name, path in gathered.media_files.items() if name.startswith("fig-")]
    assert len(svgs) > 100
    small = {path.name: round(min(text_sizes(path.read_text(encoding="utf-8"))) * PHONE_WIDTH_PX, 1) for path in svgs}
    assert all(px >= MIN_TEXT_PX - 0.05 for px in small.values()), {n: px for n, px in small.items() if px < MIN_TEXT_PX}


# ---- the flagship and the contact sheet --------------------------------------------------------


def test_the_flagship_has_no_layout_findings_at_320_px(flagship, chromium):
    """At 390 px the flagship has no layout finding at all: `deckgen check` says so in
    test_check.test_the_flagship_passes_every_check, which runs the same layout check (once is enough)."""
    config = BuildConfig(root=flagship)
    gathered = gather(config)
    narrow = check_layout(config, gathered.topics, gathered.media_files, screen=(320, 700))
    assert narrow.cards > 300
    # figures are drawn for 390 px and backs measured in 390 px screens; at 320 px all that must
    # hold is that nothing is cut off and no line starts with punctuation
    rest = [p for p in narrow.problems if p.rule not in ("layout-figure-text", "long-answer")]
    assert set(Counter((p.rule, p.how) for p in rest)) <= {("layout-overflow", "scrolls")}, [str(p.error) for p in rest if p.how != "scrolls"]


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_contact_sheet_of_every_card(phone_project, chromium):
    root, text = phone_project
    shots = root / "shots"
    report = build_preview(BuildConfig(root=root), screenshots=shots)
    assert report.sheet is not None and report.sheet.pictures == 2 * report.cards
    pictures = sorted(shots.glob("phone/*.png"))
    assert len(pictures) == 2 * report.cards
    assert all(340 <= png_size(p)[0] <= 390 for p in pictures)
    day, night = shots / "phone/ok-cloze-1.day.png", shots / "phone/ok-cloze-1.night.png"
    assert day.read_bytes() != night.read_bytes()
    sheet = report.sheet.index.read_text(encoding="utf-8")
    assert sheet.count("<img ") == 2 * report.cards and "content/phone.md:" in sheet
    (root / "content/phone.md").write_text(text.lstrip("\n").split("## 正常的代码")[0], encoding="utf-8")
    again = build_preview(BuildConfig(root=root), screenshots=shots)
    assert not (shots / "phone/ok-code-1.day.png").exists() and len(list(shots.glob("phone/*.png"))) == 2 * again.cards
