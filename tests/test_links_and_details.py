"""`[[note-id]]` references between cards and `::: details` sections, through Anki's engine."""
from __future__ import annotations

from pathlib import Path

from anki_engine import import_package, new_collection, note_by_guid, render_all
from conftest import run_deckgen
from deckgen import BuildConfig, build
from deckgen.anki.notetypes import guid_for

BASICS = """\
---
deck: 链接::基础
id: basics
---

## 什么是感受野？ {#rf}

输出上一点能看到的输入区域，大小 $r$。
"""

USES = """\
---
deck: 链接::应用
id: uses
---

## 空洞卷积有什么用？ {#dilated}

**要点**

- 不下采样就扩大感受野（见 [[rf]]）。

::: details 细节与追问

- 第 $\\ell$ 层的递推见 [[rf]]。

```python
x = [[1]]  # code is never a reference
```
:::

尾注。
"""


def back_of(root: Path, tmp: Path, key: str) -> str:
    col = new_collection(tmp)
    import_package(col, root / "dist" / "all.apkg")
    assert all(card.question and card.answer for card in render_all(col))
    back = note_by_guid(col, guid_for(key))["Back"]
    col.close()
    return back


def test_a_reference_shows_the_target_question_and_a_details_section_is_collapsible(project, tmp_path):
    root = project({"content/a.md": BASICS, "content/b.md": USES})
    build(BuildConfig(root=root))
    back = back_of(root, tmp_path / "col", "uses/dilated")
    assert back.count('<span class="dg-ref">什么是感受野？</span>') == 2
    assert '<details class="dg-more"><summary>细节与追问</summary>' in back
    assert back.index("<details") < back.index("\\(\\ell\\)") < back.index("</details>") < back.index("尾注")
    assert "codehilite" in back  # `[[1]]` in code stayed code: as a reference it would have failed the build


def test_rewording_a_question_updates_every_card_that_refers_to_it(project, tmp_path):
    root = project({"content/a.md": BASICS, "content/b.md": USES})
    build(BuildConfig(root=root, now=1_000_000))
    (root / "content/a.md").write_text(BASICS.replace("什么是感受野？", "感受野指什么？"), encoding="utf-8")
    report = build(BuildConfig(root=root, now=2_000_000))
    changed = {key for deck in report.changes for key in deck.changed}
    assert changed == {"basics/rf", "uses/dilated"}
    assert '<span class="dg-ref">感受野指什么？</span>' in back_of(root, tmp_path / "col", "uses/dilated")


def test_a_reference_to_no_note_is_an_error_at_its_line(project):
    root = project({"content/a.md": BASICS, "content/b.md": USES.replace("（见 [[rf]]）", "（见 [[rf-calc]]）")})
    result = run_deckgen(root)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "error: content/b.md:10: [[rf-calc]] refers to no note — did you mean [[rf]]?" in result.stderr


def test_details_markers_out_of_place_are_errors_at_their_lines(project):
    stray = USES.replace("尾注。", ":::\n\n尾注。")
    nested = USES.replace("- 第 $\\ell$", "::: details 再一层\n\n- 第 $\\ell$")
    for text, expect in ((stray, "content/b.md:21: this ':::' closes no details section"),
                         (nested, "content/b.md:14: a details section opens inside the one opened on line 12")):
        root = project({"content/a.md": BASICS, "content/b.md": text})
        result = run_deckgen(root)
        assert result.code == 1 and f"error: {expect}" in result.stderr, result.stderr


def test_an_error_inside_details_names_its_own_line(project):
    root = project({"content/a.md": BASICS, "content/b.md": USES.replace("$\\ell$", "$\\ell^2^3$")})
    result = run_deckgen(root)
    assert result.code == 1 and "error: content/b.md:14: formula '\\ell^2^3': double exponent" in result.stderr


def test_references_show_the_questions_when_topics_are_parsed_in_worker_processes(project, tmp_path, monkeypatch):
    from deckgen.builder import compiling

    monkeypatch.setattr(compiling, "PARALLEL_MIN_BYTES", 0)  # two small files, each parsed by its own worker
    root = project({"content/a.md": BASICS, "content/b.md": USES})
    build(BuildConfig(root=root, jobs=2))
    assert back_of(root, tmp_path / "col", "uses/dilated").count('<span class="dg-ref">什么是感受野？</span>') == 2


def test_a_reference_into_a_file_that_cannot_be_parsed_is_not_reported_as_well(project):
    # The file's own error is the one to fix; its headings still say which notes it holds.
    root = project({"content/a.md": BASICS.replace("id: basics\n", "id: basics\nid: again\n"), "content/b.md": USES})
    result = run_deckgen(root)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "content/a.md:" in result.stderr and "refers to no note" not in result.stderr
