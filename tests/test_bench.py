"""The benchmark script, end to end on a tiny size: it must run, and its numbers must make sense.

No timing is asserted (the machine is shared); what is checked is that every measurement ran the
real command, that the table and the plot are written, and that the generated content and the
peer's converted input hold what they claim.
"""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

import generate
import peer
from run import COLD, FIGURE, FLOOR, NOOP, NOTE, WARM

from deckgen import BuildConfig, build


def test_benchmark_runs_end_to_end_and_writes_table_plot_and_samples(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "24", "--topics", "3", "--runs", "2",
         "--no-peer", "--no-flagship", "--work", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows = {(r["content"], r["build"]): r for r in results["rows"]}
    assert set(rows) == {("24 notes", b) for b in (COLD, WARM, NOOP, NOTE, FIGURE, FLOOR)}
    for row in rows.values():
        assert len(row["samples"]) == (2 * 5 if row["build"] == FLOOR else 2)  # the floor runs beside each of our runs
        for s in row["samples"]:
            assert 0 < s["wall"] < 300 and s["cpu"] > 0 and 5 < s["rss_mb"] < 2000
        if row["build"] != FLOOR:  # each of our runs has the floor run beside it, one of the floor's samples
            floor_walls = [s["wall"] for s in rows[("24 notes", FLOOR)]["samples"]]
            assert len(row["notes"]["floor_beside"]) == 2 and all(w in floor_walls for w in row["notes"]["floor_beside"])
    # Work skipped is work not done: a no-op build costs less CPU than a cold one (which also renders figures).
    cpu = {b: min(s["cpu"] for s in rows[("24 notes", b)]["samples"]) for b in (COLD, WARM, NOOP)}
    assert cpu[NOOP] < cpu[WARM] < cpu[COLD]
    table = (out / "results.md").read_text(encoding="utf-8")
    assert table.count("| 24 notes |") == 6 and "load average" in table.lower()
    edit = rows[("24 notes", NOTE)]
    pairs = sorted(s["wall"] / f for s, f in zip(edit["samples"], edit["notes"]["floor_beside"], strict=True))
    [line] = [line for line in table.splitlines() if line.startswith(f"| 24 notes | {NOTE} |")]
    assert line.split(" | ")[6] == f"{sum(pairs) / 2:.2f}"  # × floor: the median of the two pairs' ratios
    assert (out / "results.png").read_bytes().startswith(b"\x89PNG")
    # The edits really happened: the last build of the work project has the last note edit in it.
    assert "基准测试编辑 2。" in (tmp_path / "work" / "notes-24" / "content" / "topic-00.md").read_text(encoding="utf-8")


def test_generated_content_is_deterministic_and_builds(tmp_path):
    a, b = generate.generate(tmp_path / "a", 60, topics=4), generate.generate(tmp_path / "b", 60, topics=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    text = "".join(p.read_text(encoding="utf-8") for p in (a / "content").glob("*.md"))
    assert text.count("\n## ") + text.startswith("## ") == 60
    assert text.count("```python") == 6  # one note in ten
    assert "$$" in text and "figure:bench-fig-" in text
    report = build(BuildConfig(root=a))
    assert report.notes == 60 and report.stats["figures_rendered"] == 4


def test_note_edits_replace_each_other(tmp_path):
    root = generate.generate(tmp_path / "p", 30, topics=2)
    original = (root / "content" / "topic-00.md").read_text(encoding="utf-8")
    generate.edit_note(root, 1)
    generate.edit_note(root, 2)
    edited = (root / "content" / "topic-00.md").read_text(encoding="utf-8")
    assert "基准测试编辑 2。" in edited and "基准测试编辑 1。" not in edited
    assert edited.replace("\n基准测试编辑 2。\n", "") == original


def test_peer_input_has_the_same_notes_without_our_syntax(tmp_path):
    root = generate.generate(tmp_path / "p", 40, topics=2)
    count = peer.convert(root / "content", tmp_path / "peer")
    assert count == 40
    text = (tmp_path / "peer" / "topic-00.md").read_text(encoding="utf-8")
    assert text.startswith("# 基准测试::主题 00\n")
    assert "{#" not in text and "figure:" not in text and "\ntags:" not in text
    assert "](bench-fig-0.png)" in text
    assert (tmp_path / "peer" / "bench-fig-0.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
