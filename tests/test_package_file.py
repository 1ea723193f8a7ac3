"""A big package's collection is written to a file in the cache, not held in memory twice: the
package it makes imports into Anki like any other, and no file is left behind."""
from __future__ import annotations

from anki_engine import card_problems, import_package, new_collection, render_all
from conftest import topic, write_project
from deckgen import BuildConfig, build
from deckgen.anki import package


def test_a_collection_written_to_a_file_imports_into_anki(tmp_path, monkeypatch):
    monkeypatch.setattr(package, "FILE_MIN_NOTES", 1)  # every package takes the file path
    root = write_project(tmp_path / "p", {"content/big.md": topic("big", 30, more_kinds=True)})
    build(BuildConfig(root=root))
    assert not [p for p in (root / ".deckgen-cache").iterdir() if p.name.startswith(".package-")]
    col = new_collection(tmp_path / "anki")
    log = import_package(col, root / "dist/all.apkg")
    assert len(log.new) == 32
    cards = render_all(col)
    assert len(cards) == 34  # 30 basic, two deletions, a reversed note's two cards
    assert not [problem for card in cards for problem in card_problems(card.answer)]
    assert any("答案 29" in card.answer for card in cards)
    col.close()
