"""The pipeline foundation through Anki's own engine: import, render, review, update in place."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from anki_engine import card_problems, import_package, new_collection, note_by_guid, render_all, review_all, visible_text
from conftest import run_deckgen
from deckgen import BuildConfig, build
from deckgen.anki.notetypes import guid_for

TOPIC_A = """
---
deck: 测试::卷积
id: conv
tags: [cnn]
description: 卷积测试
---

## 什么是空洞卷积？ {#dilated}
tags: seed::s003-q3

**要点**

- 核元素间插入 $d-1$ 个空洞
- 等效核大小 $k_{\\text{eff}} = k + (k-1)(d-1)$

## 1×1 卷积有什么作用？ {#one-by-one}

- 改变通道数，跨通道融合

## Xavier 初始化的方差 {#xavier}

$\\mathrm{Var}(W) = {{c1::\\frac{2}{n_{in}+n_{out}}}}$，由 {{c2::Glorot}} 提出。
"""

TOPIC_B = """
---
deck: 测试::优化
id: optim
---

## 动量法的更新公式？ {#momentum}
type: reversed

$$v_t = \\beta v_{t-1} + g_t$$

## 写出 Adam 的偏差修正 {#adam-bias}
第一行问题补充：设 $\\beta_1 = 0.9$。
???
$\\hat m_t = m_t / (1-\\beta_1^t)$
"""


def base_files() -> dict[str, str]:
    return {"content/conv.md": TOPIC_A, "content/optim.md": TOPIC_B}


def cards_by_guid(col):
    out = {}
    for card in render_all(col):
        out.setdefault(card.note_guid, []).append(card)
    return out


def test_every_package_imports_and_every_card_renders(project, tmp_path):
    root = project(base_files())
    report = build(BuildConfig(root=root))
    names = sorted(Path(p).name for p in report.packages)
    assert names == ["all.apkg", "conv.apkg", "optim.apkg"]
    for package in report.packages:
        col = new_collection(tmp_path / Path(package).stem)
        log = import_package(col, Path(package))
        assert not log.conflicting and not log.duplicate
        for card in render_all(col):
            for side in (card.question, card.answer):
                assert not card_problems(side), (package, card_problems(side), side)
        col.close()
    col = new_collection(tmp_path / "all")
    import_package(col, root / "dist" / "all.apkg")
    decks = {d.name for d in col.decks.all_names_and_ids()}
    assert {"测试", "测试::卷积", "测试::优化"} <= decks
    assert col.card_count() == 7  # dilated, 1x1, adam: 1 each; xavier: 2 deletions; momentum: 2 (reversed)
    col.close()


def test_cloze_and_reversed_cards(project, tmp_path):
    root = project(base_files())
    build(BuildConfig(root=root))
    col = new_collection(tmp_path / "c")
    import_package(col, root / "dist" / "all.apkg")
    cards = cards_by_guid(col)
    xavier = cards[guid_for("conv/xavier")]
    assert len(xavier) == 2  # c1 and c2
    fronts = sorted(visible_text(c.question) for c in xavier)
    assert any("[...]" in f and "Glorot" in f for f in fronts)  # c1 hidden, c2 shown
    backs = " ".join(visible_text(c.answer) for c in xavier)
    assert "\\frac{2}{n_{in}+n_{out} }" in backs  # the formula survived inside the deletion
    assert len(cards[guid_for("optim/momentum")]) == 2  # reversed: two cards
    adam = cards[guid_for("optim/adam-bias")][0]
    assert "第一行问题补充" in visible_text(adam.question)
    assert "\\hat m_t" not in visible_text(adam.question) and "\\hat m_t" in visible_text(adam.answer)


def test_formula_characters_reach_the_card_unchanged(project, tmp_path):
    root = project({
        "content/m.md": r"""
        ---
        deck: M
        id: m
        ---

        ## 公式 {#f}

        行内 $a_i * b_j < \{x\} \& y_{k} > 0$ 与显示：

        $$
        \sum_{i} x_i^2 * y_{i}
        $$

        $$\begin{aligned} a_i &< b_{j} * c \\ \{x\} &> 0 \end{aligned}$$
        """,
    })
    build(BuildConfig(root=root))
    col = new_collection(tmp_path / "c")
    import_package(col, root / "dist" / "m.apkg")
    answer = visible_text(render_all(col)[0].answer)
    assert r"\(a_i * b_j < \{x\} \& y_{k} > 0\)" in answer
    assert "\\[\n\\sum_{i} x_i^2 * y_{i}\n\\]" in answer
    assert r"\[\begin{aligned} a_i &< b_{j} * c \\ \{x\} &> 0 \end{aligned}\]" in answer  # a raw '&' too


def test_update_cycle_keeps_history_and_reports_exact_changes(project, tmp_path):
    root = project(base_files())
    first = build(BuildConfig(root=root, now=1_800_000_000))
    assert {k for d in first.changes for k in d.added} == {"conv/dilated", "conv/one-by-one", "conv/xavier", "optim/momentum", "optim/adam-bias"}
    col = new_collection(tmp_path / "c")
    import_package(col, root / "dist" / "all.apkg")
    answered = review_all(col)
    assert answered == col.card_count()
    history = {cid: col.db.scalar("select count() from revlog where cid=?", cid) for cid in col.find_cards("")}
    assert all(n == 1 for n in history.values())
    card_state = {cid: (col.get_card(cid).ivl, col.get_card(cid).due, col.get_card(cid).type) for cid in col.find_cards("")}

    conv = (root / "content/conv.md").read_text(encoding="utf-8")
    conv = conv.replace("什么是空洞卷积？", "空洞卷积是什么？解决什么问题？")  # question edited
    conv = conv.replace("改变通道数，跨通道融合", "改变通道数；跨通道融合信息；几乎不增加参数")  # answer edited
    conv += "\n## 转置卷积的输出尺寸？ {#transposed}\n\n$o = (i-1)s - 2p + k$\n"  # note added
    (root / "content/conv.md").write_text(conv, encoding="utf-8")
    optim = (root / "content/optim.md").read_text(encoding="utf-8")
    optim = optim[: optim.index("## 写出 Adam")]  # note removed
    (root / "content/optim.md").write_text(optim, encoding="utf-8")

    second = build(BuildConfig(root=root, now=1_800_000_100))
    changes = {d.deck_name: d for d in second.changes}
    assert changes["测试::卷积"].changed == ("conv/dilated", "conv/one-by-one")
    assert changes["测试::卷积"].added == ("conv/transposed",)
    assert changes["测试::优化"].removed == ("optim/adam-bias",)
    assert not changes["测试::卷积"].removed and not changes["测试::优化"].changed

    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.new) == 1 and len(log.updated) == 2 and not log.conflicting
    assert "空洞卷积是什么" in note_by_guid(col, guid_for("conv/dilated"))["Front"]
    assert "几乎不增加参数" in note_by_guid(col, guid_for("conv/one-by-one"))["Back"]
    assert note_by_guid(col, guid_for("conv/transposed")) is not None
    assert col.note_count() == 6  # nothing duplicated; the removed note stays until the user deletes it
    for cid, n in history.items():
        assert col.db.scalar("select count() from revlog where cid=?", cid) == n
        card = col.get_card(cid)
        assert (card.ivl, card.due, card.type) == card_state[cid]

    before = {nid: col.get_note(nid).mod for nid in col.find_notes("")}
    third = build(BuildConfig(root=root, now=1_800_000_200))
    assert all(d.empty for d in third.changes) and not third.written
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.new and not log.updated
    assert {nid: col.get_note(nid).mod for nid in col.find_notes("")} == before
    col.close()


def test_style_change_reaches_users(project, tmp_path):
    """A note type whose CSS changed gets a newer mod, so Anki takes it on re-import."""
    root = project(base_files())
    build(BuildConfig(root=root, now=1_800_000_000))
    lock = (root / "deckgen.lock").read_text()
    changed = re.sub(r'("basic": \{[^\n]*?"hash": ")[0-9a-f]+', r"\g<1>0000", lock)
    (root / "deckgen.lock").write_text(changed)
    build(BuildConfig(root=root, now=1_800_000_500))
    assert '"mod": 1800000500' in (root / "deckgen.lock").read_text()


def test_two_clones_build_byte_identical_packages(project, tmp_path):
    root = project(base_files())
    build(BuildConfig(root=root))
    clone = tmp_path / "clone"
    shutil.copytree(root, clone, ignore=shutil.ignore_patterns("dist", ".deckgen-cache"))
    build(BuildConfig(root=clone, now=2_000_000_000))  # a later clock must not matter
    for package in ("all.apkg", "conv.apkg", "optim.apkg"):
        assert (root / "dist" / package).read_bytes() == (clone / "dist" / package).read_bytes()


def test_errors_are_reported_together_with_locations_and_fixes(project):
    root = project({
        "content/bad.md": """
        ---
        deck: 测试::坏
        id: bad
        ---

        ## 没有答案 {#empty}

        ## 没有编号

        答案

        ## 公式没闭合 {#open-math}

        $x + 1

        ## 填空没有挖空 {#no-cloze}
        type: cloze

        正文
        """,
        "content/good.md": "---\ndeck: 好\nid: good\n---\n\n## 问 {#open-math}\n\n答\n",
    })
    result = run_deckgen(root)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    expected = [
        "content/bad.md:6: note 'empty' has no answer",
        "content/bad.md:8: note has no id",
        "content/bad.md:14: formula $ is never closed",
        "content/bad.md:16: cloze note has no deletion",
        "content/good.md:6: note id 'open-math' is also used at content/bad.md:12",
    ]
    for line in expected:
        assert line in result.stderr, result.stderr
    assert " — " in result.stderr  # every message carries a fix
    assert not (root / "dist").exists()


def test_failed_build_leaves_previous_dist_intact(project):
    root = project(base_files())
    assert run_deckgen(root).code == 0
    before = {p.name: p.read_bytes() for p in (root / "dist").iterdir()}
    lock_before = (root / "deckgen.lock").read_bytes()
    (root / "content/optim.md").write_text("---\ndeck: x\n", encoding="utf-8")
    result = run_deckgen(root)
    assert result.code == 1 and "front matter is never closed" in result.stderr
    assert {p.name: p.read_bytes() for p in (root / "dist").iterdir()} == before
    assert (root / "deckgen.lock").read_bytes() == lock_before


def test_ids_write_adds_missing_ids_and_changes_nothing_else(project):
    source = "---\ndeck: 测试\nid: t\n---\n\n## What is a CNN?\n\n答\r\n\n## 已有 {#kept}\n\nx\n\n## 中文问题\n\n```\n## not a heading\n```\n"
    root = project({"content/t.md": source.encode()})
    listed = run_deckgen(root, "ids")
    assert listed.code == 1 and "content/t.md:6: no id" in listed.stdout
    written = run_deckgen(root, "ids", "--write")
    assert written.code == 0, written.stderr
    after = (root / "content/t.md").read_bytes().decode()
    assert "## What is a CNN? {#what-is-a-cnn}" in after
    assert re.search(r"## 中文问题 \{#q-[0-9a-f]{6}\}", after)
    assert "## 已有 {#kept}" in after and "## not a heading\n" in after and "答\r\n" in after
    stripped = re.sub(r" \{#(what-is-a-cnn|q-[0-9a-f]{6})\}", "", after)
    assert stripped == source
    assert run_deckgen(root, "ids").code == 0
    assert run_deckgen(root).code == 0


def test_nested_cloze_deletions_each_get_a_card(project, tmp_path):
    root = project({"content/n.md": "---\ndeck: N\nid: n\n---\n\n## 嵌套 {#nested}\n\n{{c1::外层 {{c2::内层}} 文字}} 与 {{c3::第三}}\n"})
    build(BuildConfig(root=root))
    col = new_collection(tmp_path / "c")
    import_package(col, root / "dist" / "n.apkg")
    cards = render_all(col)
    assert len(cards) == 3
    assert all(not card_problems(c.question) and not card_problems(c.answer) for c in cards)
    col.close()
