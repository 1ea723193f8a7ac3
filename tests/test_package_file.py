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


def test_the_package_built_in_a_second_process_is_the_one_built_here(tmp_path, monkeypatch):
    """all.apkg is built in a forked process while this one builds the topics' packages: the
    bytes are those of a build in one process, and a failure there is this build's failure."""
    monkeypatch.setattr(package, "PARALLEL_MIN_NOTES", 1)
    files = {"content/a.md": topic("a", 12, more_kinds=True), "content/b.md": topic("b", 9)}
    both = {}
    for jobs in (1, 2):
        root = write_project(tmp_path / f"p{jobs}", files)
        build(BuildConfig(root=root, jobs=jobs, now=1_800_000_000))
        both[jobs] = {p.name: p.read_bytes() for p in (root / "dist").iterdir()}
    assert both[1] == both[2] and set(both[2]) == {"a.apkg", "b.apkg", "all.apkg"}

    def broken(topics, *args):
        if len(topics) > 1:
            raise OSError(28, "No space left on device")
        return built_here(topics, *args)

    built_here = package.build_package
    monkeypatch.setattr(package, "build_package", broken)
    root = tmp_path / "p2"
    (root / "content/b.md").write_text(topic("b", 10), encoding="utf-8")
    try:
        build(BuildConfig(root=root, jobs=2, now=1_800_000_100))
    except Exception as exc:  # the error the build reports
        assert "No space left on device" in str(exc)
    else:
        raise AssertionError("the build passed although all.apkg could not be built")
    assert {p.name: p.read_bytes() for p in (root / "dist").iterdir()} == both[2]
