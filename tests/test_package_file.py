"""A big package's collection is written to a file in the cache, not held in memory twice: the
package it makes imports into Anki like any other, and no file is left behind."""
from __future__ import annotations

from anki_engine import card_problems, import_package, new_collection, render_all
from conftest import write_project
from deckgen import BuildConfig, build
from deckgen.anki import package

TOPIC = "---\ndeck: 大::包\nid: big\n---\n\n" + "\n".join(f"## 问题 {i} {{#q{i}}}\n\n- 答案 {i}：$x_{{{i}}}$\n" for i in range(30)) + "\n## 填空 {#c}\n\n{{c1::甲}} 与 {{c2::乙}}\n"


def test_a_collection_written_to_a_file_imports_into_anki(tmp_path, monkeypatch):
    monkeypatch.setattr(package, "FILE_MIN_NOTES", 1)  # every package takes the file path
    root = write_project(tmp_path / "p", {"content/big.md": TOPIC})
    build(BuildConfig(root=root))
    assert not [p for p in (root / ".deckgen-cache").iterdir() if p.name.startswith(".package-")]
    col = new_collection(tmp_path / "anki")
    log = import_package(col, root / "dist/all.apkg")
    assert len(log.new) == 31
    cards = render_all(col)
    assert len(cards) == 32  # 30 basic, two deletions
    assert not [problem for card in cards for problem in card_problems(card.answer)]
    assert any("答案 29" in card.answer for card in cards)
    col.close()
