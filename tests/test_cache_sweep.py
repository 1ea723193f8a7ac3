"""The cache does not grow at every edit: what the last few builds used stays (so undoing an edit
or going back to another configuration is still a cache hit), the rest of the per-edit entries
go, and the sweep never reaches outside the cache."""
from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import topic
from deckgen import BuildConfig, build
from deckgen.builder.sweep import RECENT_BUILDS

EDITED = ("topic", "topic-deps")  # one entry per version of a topic file


def entries(root: Path, kind: str) -> list[Path]:
    folder = root / ".deckgen-cache" / kind
    return sorted(p for p in folder.glob("*/*") if not p.name.startswith(".")) if folder.is_dir() else []


def edit(root: Path, n: int) -> None:
    path = root / "content/a.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("答案 3：", f"答案 3（第 {n} 次）：", 1) if n == 1 else text.replace(f"（第 {n - 1} 次）", f"（第 {n} 次）", 1), encoding="utf-8")


def test_editing_a_topic_again_and_again_keeps_only_its_recent_versions(project):
    root = project({"content/a.md": topic("a", 12), "content/b.md": topic("b", 12)})
    build(BuildConfig(root=root))
    for n in range(1, RECENT_BUILDS + 4):
        edit(root, n)
        report = build(BuildConfig(root=root))
        assert report.stats["notes_rendered"] == 1
    for kind in EDITED:  # b's one version, and a's versions of the last builds
        assert len(entries(root, kind)) == 1 + RECENT_BUILDS, kind
    assert len(entries(root, "collection")) == 2  # one per topic, replaced in place

    # Going back three edits is still a hit: nothing is rendered again.
    path = root / "content/a.md"
    n = RECENT_BUILDS + 3
    path.write_text(path.read_text(encoding="utf-8").replace(f"（第 {n} 次）", f"（第 {n - 3} 次）", 1), encoding="utf-8")
    report = build(BuildConfig(root=root))
    assert report.stats["notes_rendered"] == 0 and report.stats["topics_parsed"] == 0
    assert [d.changed for d in report.changes] == [("a/a-q3",)]


def test_a_removed_topic_leaves_the_cache_after_the_recent_builds(project):
    root = project({"content/a.md": topic("a", 5), "content/b.md": topic("b", 5)})
    build(BuildConfig(root=root))
    (root / "content/b.md").unlink()
    for n in range(1, RECENT_BUILDS + 1):
        edit(root, n)
        build(BuildConfig(root=root))
        assert len(entries(root, "collection")) == (2 if n < RECENT_BUILDS else 1)
    assert len(entries(root, "topic")) == RECENT_BUILDS  # a's versions only


def test_the_sweep_removes_only_cache_entries_and_old_leftovers(project, tmp_path):
    root = project({"content/a.md": topic("a", 5)})
    build(BuildConfig(root=root))
    folder = root / ".deckgen-cache" / "topic" / "00"
    folder.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ("0" * 64)).write_text("not the cache's")
    stale = folder / ".x.abc.tmp"  # what a write killed halfway leaves
    fresh = folder / ".y.def.tmp"  # a write that may still be going on
    orphan = folder / ("0" * 64)  # an entry no build refers to (e.g. written by a build that then failed)
    notes = folder / "README"
    for path in (stale, fresh, orphan, notes):
        path.write_text("x")
    hour_ago = time.time() - 3700
    os.utime(stale, (hour_ago, hour_ago))
    (root / ".deckgen-cache" / "topic" / "ff").symlink_to(outside, target_is_directory=True)
    (folder / ("1" * 64)).symlink_to(outside / ("0" * 64))

    edit(root, 1)
    build(BuildConfig(root=root))
    assert not stale.exists() and not orphan.exists() and not (folder / ("1" * 64)).is_symlink()
    assert fresh.exists() and notes.exists()
    assert (outside / ("0" * 64)).read_text() == "not the cache's"  # a link is removed, never followed
    assert (root / ".deckgen-cache" / "topic" / "ff").is_symlink()


def test_a_no_op_build_sweeps_nothing(project):
    root = project({"content/a.md": topic("a", 5)})
    build(BuildConfig(root=root))
    orphan = root / ".deckgen-cache" / "topic" / "00" / ("0" * 64)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("x")
    report = build(BuildConfig(root=root))
    assert not report.written and orphan.exists()
