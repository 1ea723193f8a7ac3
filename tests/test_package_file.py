"""How packages are written: a big package's collection goes to a file in the cache (not held in
memory twice), all.apkg may be built in a second process, and after an edit it copies the rows of
the unchanged topics from their own packages' collections. Each way gives the same bytes as the
plain one, and the packages import into Anki."""
from __future__ import annotations

import shutil

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


FILES = {"content/a.md": topic("a", 12, more_kinds=True), "content/b.md": topic("b", 9), "content/c.md": topic("c", 5, more_kinds=True)}


def _dist(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "dist").iterdir()}


def _built_from_notes(tmp_path, monkeypatch, edited: dict[str, str], lock: bytes, now: int) -> dict[str, bytes]:
    """The packages of the same content and lock file, all.apkg built from the notes alone: in
    the second process, which has no collections to copy."""
    with monkeypatch.context() as patched:
        patched.setattr(package, "PARALLEL_MIN_NOTES", 1)
        root = write_project(tmp_path / "from-notes", {**FILES, **edited})
        (root / "deckgen.lock").write_bytes(lock)
        build(BuildConfig(root=root, jobs=2, now=now))
        return _dist(root)


def _copied(monkeypatch) -> list[int]:
    """Counts the decks whose rows are copied from a collection, as packages are built."""
    copies: list[int] = []
    copy_rows = package._copy_rows

    def counted(cursor, id_gen):
        copies.append(1)
        return copy_rows(cursor, id_gen)

    monkeypatch.setattr(package, "_copy_rows", counted)
    return copies


def test_after_an_edit_all_apkg_copies_the_unchanged_topics_and_has_the_bytes_built_from_notes(tmp_path, monkeypatch):
    root = write_project(tmp_path / "p", FILES)
    build(BuildConfig(root=root, jobs=1, now=1_800_000_000))
    before = _dist(root)
    copies = _copied(monkeypatch)
    edited = {"content/b.md": topic("b", 10, version="（改）")}
    write_project(root, edited)
    build(BuildConfig(root=root, jobs=1, now=1_800_000_100))
    assert len(copies) == 3  # a and c from the cache, b from the package just built
    after = _dist(root)
    assert after["a.apkg"] == before["a.apkg"] and after["all.apkg"] != before["all.apkg"]
    assert after == _built_from_notes(tmp_path, monkeypatch, edited, (root / "deckgen.lock").read_bytes(), 1_800_000_100)

    col = new_collection(tmp_path / "anki")
    (tmp_path / "before.apkg").write_bytes(before["all.apkg"])
    (tmp_path / "after.apkg").write_bytes(after["all.apkg"])
    assert len(import_package(col, tmp_path / "before.apkg").new) == 12 + 2 + 9 + 5 + 2
    log = import_package(col, tmp_path / "after.apkg")
    assert len(log.new) == 1 and len(log.updated) == 9  # b's new note, b's changed answers; nothing else touched
    cards = render_all(col)
    assert len(cards) == (12 + 2 + 2) + 10 + (5 + 2 + 2)  # a cloze note makes two cards here, a reversed note two
    assert not [problem for card in cards for problem in card_problems(card.answer)]
    assert sum("（改）" in card.answer for card in cards) == 10
    col.close()


def test_a_damaged_or_outdated_collection_is_not_copied(tmp_path, monkeypatch):
    """The collections are cache entries: one that fails its checksum, or was built for an earlier
    version of its topic, is passed over and that topic's rows are written from its notes."""
    root = write_project(tmp_path / "p", FILES)
    build(BuildConfig(root=root, jobs=1, now=1_800_000_000))
    kept = tmp_path / "collections-then"
    shutil.copytree(root / ".deckgen-cache/collection", kept)
    edited = {"content/a.md": topic("a", 12, more_kinds=True, version="（改）"), "content/c.md": topic("c", 6, more_kinds=True)}
    write_project(root, {"content/c.md": edited["content/c.md"]})
    build(BuildConfig(root=root, jobs=1, now=1_800_000_100))  # c's collection is replaced
    write_project(root, {"content/a.md": edited["content/a.md"]})
    shutil.rmtree(root / ".deckgen-cache/collection")
    shutil.copytree(kept, root / ".deckgen-cache/collection")  # c's collection from before its edit
    b_entry = _entry_holding(root, "b-q0")  # a note id, kept in the Meta field
    damaged = bytearray(b_entry.read_bytes())
    damaged[-100] ^= 0xFF
    b_entry.write_bytes(bytes(damaged))
    copies = _copied(monkeypatch)
    build(BuildConfig(root=root, jobs=1, now=1_800_000_200))
    assert len(copies) == 1  # a, built just now; not b (damaged) nor c (outdated)
    assert _dist(root) == _built_from_notes(tmp_path, monkeypatch, edited, (root / "deckgen.lock").read_bytes(), 1_800_000_200)


def _entry_holding(root, text: str):
    """The one cached collection whose notes contain `text`."""
    [entry] = [path for path in (root / ".deckgen-cache/collection").rglob("*") if path.is_file() and text.encode() in path.read_bytes()]
    return entry


def test_the_cache_keeps_one_collection_per_topic(tmp_path):
    root = write_project(tmp_path / "p", FILES)
    for version in range(4):
        write_project(root, {"content/b.md": topic("b", 9, version=f"v{version}")})
        build(BuildConfig(root=root, jobs=1, now=1_800_000_000 + 10 * version))
    assert len([p for p in (root / ".deckgen-cache/collection").rglob("*") if p.is_file()]) == 3
