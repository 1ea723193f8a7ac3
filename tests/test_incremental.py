"""Work that did not change is not redone: no-op builds, one-note edits, stale outputs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, run_deckgen, topic
from deckgen import BuildConfig, build


def make(project):
    return project({"content/a.md": topic("a", 30), "content/b.md": topic("b", 30)})


def test_noop_rebuild_writes_nothing_and_imports_no_heavy_library(project):
    root = make(project)
    assert run_deckgen(root).code == 0  # a child process, like the probe: both hash the same deckgen code
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (root / "dist").iterdir()}
    heavy = "[m for m in ('genanki', 'sympy', 'matplotlib', 'markdown', 'pygments', 'numpy', 'yaml') if m in sys.modules]"
    assert _built_in_a_child(root, heavy) == "0 []"
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (root / "dist").iterdir()}
    assert after == before


def test_one_note_edit_renders_one_note_and_rewrites_only_its_packages(project):
    root = make(project)
    build(BuildConfig(root=root, now=1_800_000_000))
    path = root / "content/a.md"
    path.write_text(path.read_text(encoding="utf-8").replace("答案 7：", "答案 7（改）："), encoding="utf-8")
    report = build(BuildConfig(root=root, now=1_800_000_100))
    assert report.stats["topics_parsed"] == 1
    assert report.stats["notes_rendered"] == 1
    assert sorted(Path(p).name for p in report.written) == ["a.apkg", "all.apkg"]
    assert [d.changed for d in report.changes] == [("a/a-q7",)]


def test_a_one_note_edit_loads_no_worker_machinery_and_no_asyncio(project):
    """What an edit waits for includes every module it imports: it starts no process (so no
    multiprocessing), and genanki's `cached_property` backport, which imports asyncio, is not
    loaded (package.py lets functools.cached_property stand in)."""
    root = make(project)
    assert run_deckgen(root).code == 0
    path = root / "content/a.md"
    path.write_text(path.read_text(encoding="utf-8").replace("答案 7：", "答案 7（改）："), encoding="utf-8")
    loaded = ("'genanki' in sys.modules, sys.modules['cached_property'].cached_property is functools.cached_property,"
              "[m for m in ('multiprocessing', 'concurrent.futures', 'asyncio') if m in sys.modules]")
    assert _built_in_a_child(root, loaded) == "0 True True []"


def _built_in_a_child(root: Path, then: str) -> str:
    """Build `root` in a new interpreter; what it prints: the exit code, then `then` (Python
    evaluated after the build, e.g. over sys.modules)."""
    probe = f"import functools, sys; from deckgen.cli import main; code = main(['--root', sys.argv[1], '-q']); print(code, {then})"
    out = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, cwd=REPO, check=True)
    return out.stdout.strip() or out.stderr


def test_moving_lines_keeps_rendering_but_updates_locations(project):
    root = make(project)
    build(BuildConfig(root=root))
    path = root / "content/b.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("---\n\n## ", "---\n\n\n\n## ", 1), encoding="utf-8")
    report = build(BuildConfig(root=root))
    assert report.stats["notes_rendered"] == 0 and not report.written
    from deckgen.builder.pipeline import gather

    locations = {n.key: n.location.line for t in gather(BuildConfig(root=root)).topics for n in t.notes}
    assert locations["b/b-q0"] == 8  # was 6; two lines were added above it


def test_removed_topic_package_is_deleted_and_others_stay(project):
    root = make(project)
    (root / "dist").mkdir()
    (root / "dist" / "mine.txt").write_text("user file")
    build(BuildConfig(root=root))
    (root / "content/b.md").unlink()
    build(BuildConfig(root=root))
    assert sorted(p.name for p in (root / "dist").iterdir()) == ["a.apkg", "all.apkg", "mine.txt"]


def test_corrupted_cache_entries_are_rebuilt_not_packaged(project):
    root = make(project)
    first = build(BuildConfig(root=root))
    good = {Path(p).name: Path(p).read_bytes() for p in first.packages}
    for entry in (root / ".deckgen-cache" / "topic").rglob("*"):
        if entry.is_file():
            entry.write_bytes(entry.read_bytes()[:-20] + b"garbage" * 3)
    (root / "dist" / "a.apkg").unlink()  # force a real build
    report = build(BuildConfig(root=root))
    assert report.stats["topics_parsed"] == 2
    assert {Path(p).name: Path(p).read_bytes() for p in report.packages} == good
