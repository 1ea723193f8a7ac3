"""The fast paths give the same result as the slow ones: packages reused or rebuilt, notes
rendered and checked in worker processes or in one."""
from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from anki_engine import import_package, new_collection, render_all, visible_text
from conftest import topic, write_project
from deckgen import BuildConfig, build


def packages(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "dist").iterdir())}


def test_one_note_edit_rebuilds_two_packages_equal_to_a_fresh_build(project, tmp_path):
    root = project({"content/a.md": topic("a", 20, more_kinds=True), "content/b.md": topic("b", 20, more_kinds=True), "content/c.md": topic("c", 20, more_kinds=True)})
    build(BuildConfig(root=root, now=1_800_000_000))
    before = packages(root)
    path = root / "content/a.md"
    path.write_text(path.read_text(encoding="utf-8").replace("答案 3：", "答案 3（改）："), encoding="utf-8")
    report = build(BuildConfig(root=root, now=1_800_000_100))
    assert report.stats["packages_built"] == 2
    after = packages(root)
    assert {name for name in after if after[name] != before[name]} == {"a.apkg", "all.apkg"}

    fresh = tmp_path / "fresh"
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns(".deckgen-cache", "dist"))
    build(BuildConfig(root=fresh, now=1_800_000_200))  # the lock file decides every mod time, not `now`
    assert packages(fresh) == after


def test_a_missing_or_damaged_unchanged_package_is_rebuilt(project):
    root = project({"content/a.md": topic("a", 5, more_kinds=True), "content/b.md": topic("b", 5, more_kinds=True)})
    build(BuildConfig(root=root, now=1_800_000_000))
    good = packages(root)
    (root / "dist/b.apkg").unlink()
    (root / "dist/all.apkg").write_bytes(b"not a package")
    report = build(BuildConfig(root=root, now=1_800_000_100))
    assert report.stats["packages_built"] == 2
    assert packages(root) == good


def test_packages_written_in_one_pass_import_with_every_card(project, tmp_path):
    root = project({"content/a.md": topic("a", 3, more_kinds=True)})
    build(BuildConfig(root=root))
    col = new_collection(tmp_path / "col")
    log = import_package(col, root / "dist/a.apkg")
    assert len(log.new) == 5
    # 3 basic notes, a cloze note with deletions c1 and c2, a reversed note with two cards
    assert col.card_count() == 3 + 2 + 2
    cards = render_all(col)
    assert all(card.question.strip() and card.answer.strip() for card in cards)
    hides = sorted(tuple(w for w in "甲乙丙" if w not in visible_text(c.question)) for c in cards if "[...]" in c.question)
    assert hides == [("乙",), ("甲", "丙")]  # the c2 card and the c1 card


def test_parallel_rendering_gives_the_same_bytes_as_one_process(project, tmp_path):
    from deckgen.builder import notes

    many = notes.PARALLEL_MIN_NOTES + 10  # enough notes for the worker processes to be used
    root = project({"content/a.md": topic("a", many // 2, more_kinds=True), "content/b.md": topic("b", many // 2, more_kinds=True)})
    one = shutil.copytree(root, tmp_path / "one")
    parallel = build(BuildConfig(root=root, jobs=2, now=1_800_000_000))
    single = build(BuildConfig(root=one, jobs=1, now=1_800_000_000))
    assert parallel.stats["notes_rendered"] == single.stats["notes_rendered"] == many + 4
    assert packages(root) == packages(one)


def test_formula_errors_found_in_worker_processes_are_reported_at_their_lines(project):
    from conftest import run_deckgen
    from deckgen.builder import notes

    text = topic("a", notes.PARALLEL_MIN_NOTES + 10, more_kinds=True).replace("$a_{7} * b$", "$a_{7 * b$", 1)
    root = project({"content/a.md": text})
    result = run_deckgen(root, "--jobs", "2")
    line = next(i for i, row in enumerate(text.split("\n"), 1) if "$a_{7 * b$" in row)
    assert result.code == 1 and f"content/a.md:{line}: formula" in result.stderr, result.stderr


def long_topic(deck_id: str, n: int) -> str:
    """About 600 bytes a note: a few such topics are enough for parsing to go to worker processes."""
    prose = "残差连接让梯度可以绕过非线性层直接回传，批归一化让每层输入的分布保持稳定。" * 6
    notes = "\n".join(f"## 问题 {i}？ {{#{deck_id}-q{i}}}\n\n- {prose}\n- 第 {i} 条：$x_{{{i}}}^2$\n" for i in range(n))
    return f"---\ndeck: 并行::{deck_id}\nid: {deck_id}\n---\n\n{notes}"


def test_topics_parsed_and_rendered_in_worker_processes_give_the_same_bytes(project, tmp_path):
    from deckgen.builder import compiling

    files = {f"content/{d}.md": long_topic(d, 200) for d in "abc"}
    assert sum(len(text.encode()) for text in files.values()) >= compiling.PARALLEL_MIN_BYTES
    root = project(files)
    one = shutil.copytree(root, tmp_path / "one")
    parallel = build(BuildConfig(root=root, jobs=2, now=1_800_000_000))
    single = build(BuildConfig(root=one, jobs=1, now=1_800_000_000))
    assert parallel.stats["notes_rendered"] == single.stats["notes_rendered"] == 600
    assert packages(root) == packages(one)


def test_errors_found_in_topic_workers_are_all_reported_at_their_lines(project):
    from conftest import run_deckgen

    files = {f"content/{d}.md": long_topic(d, 200) for d in "abc"}
    files["content/b.md"] = files["content/b.md"].replace("$x_{7}^2$", "$x_{7}^2^3$", 1)
    files["content/c.md"] = files["content/c.md"].replace("{#c-q3}", "{#a-q3}", 1)  # a duplicate id: the build fails before rendering
    root = project(files)
    result = run_deckgen(root, "--jobs", "2")
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "note id 'a-q3' is also used at content/a.md" in result.stderr
    assert "content/b.md:" in result.stderr and "double exponent" in result.stderr  # formula problems are still collected


FIGURE_SCRIPT = """
from deckgen.figure_api import figure

@figure("line", size=(2, 1.5))
def line(fig, pal):
    fig.subplots().plot([0, 1], [0, {height}], color=pal.fg)
"""


def test_editing_a_figure_recompiles_only_the_topics_that_show_it(project):
    shown = topic("a", 3, more_kinds=True).replace("- 答案 0：", "![直线](figure:line)\n\n- 答案 0：", 1)
    root = project({"content/a.md": shown, "content/b.md": topic("b", 3, more_kinds=True), "figures/f.py": FIGURE_SCRIPT.format(height=1)})
    build(BuildConfig(root=root, now=1_800_000_000))
    write_project(root, {"figures/f.py": FIGURE_SCRIPT.format(height=2)})
    report = build(BuildConfig(root=root, now=1_800_000_100))
    assert report.stats["figures_rendered"] == 1 and report.stats["topics_parsed"] == 1
    assert [d.changed for d in report.changes] == [("a/a-q0",)]
    write_project(root, {"figures/f.py": FIGURE_SCRIPT.format(height=1)})  # back as it was: all from the cache
    report = build(BuildConfig(root=root, now=1_800_000_200))
    assert report.stats["figures_rendered"] == 0 and report.stats["topics_parsed"] == 0


PLAIN = "abcXYZ019 ,?;'\"()%/，。？！：（）、“”空洞卷积的作用是什么ΩéDGTOK7Z"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=PLAIN, min_size=1, max_size=40) | st.text(min_size=1, max_size=12))
def test_a_plain_question_line_renders_as_markdown_would(text):
    from deckgen.builder.plainmarkdown import PLAIN_LINE_RE as _PLAIN_LINE_RE
    from deckgen.builder.render import _markdown, markdown_to_html

    md = _markdown()
    md.reset()
    assert markdown_to_html(text) == md.convert(text)
    if text == text.strip() and "  " not in text and "\n" not in text and not text[0].isdigit() and set(text) <= set(PLAIN):
        assert _PLAIN_LINE_RE.fullmatch(text)  # the fast path is really taken for such lines


MARKDOWN_ALPHABET = "ab 1\n\n\n-*_`\\[]()<>&!#+.|~=:{}$'\"xyz卷积，DGTOK3Z\t"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=MARKDOWN_ALPHABET, max_size=80))
def test_skipping_plain_text_in_the_inline_pass_changes_no_html(text):
    from deckgen.builder.render import _markdown

    fast, stock = _markdown(), _markdown(skip_plain_text=False)
    assert type(fast.treeprocessors["inline"]) is not type(stock.treeprocessors["inline"])  # the fast path is on
    fast.reset()
    stock.reset()
    assert fast.convert(text) == stock.convert(text)
