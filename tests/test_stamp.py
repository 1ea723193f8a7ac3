"""The no-op stamp: a rebuild with nothing changed ends after a stat of every file, before the
pipeline is imported — and any change, even one that keeps a file's size, reaches the build."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, write_project
from deckgen.builder import stamp

TOPIC = "---\ndeck: 戳::测试\nid: s\n---\n\n" + "\n".join(f"## 问题 {i} {{#q{i}}}\n\n答案 {i}：$x_{i}$\n" for i in range(5))
PROBE = (
    "import sys; from deckgen.__main__ import main; code = main(sys.argv[1:]);"
    "print('pipeline' if 'deckgen.builder.pipeline' in sys.modules else 'stamp', code)"
)


def deckgen(root, *args: str, env: dict | None = None) -> tuple[str, str]:
    """Run the command as a user would; returns (what ran: 'stamp' or 'pipeline', stdout)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, "--root", str(root), *args], capture_output=True, text=True,
                          cwd=REPO, env=env or dict(os.environ), stdin=subprocess.DEVNULL, timeout=300)
    *printed, last = proc.stdout.strip().split("\n")
    path, code = last.split()
    assert code == "0", proc.stdout + proc.stderr
    return path, "\n".join(printed)


@pytest.fixture
def stamped(tmp_path):
    """A built project whose files are older than the racy window, with its stamp written."""
    root = write_project(tmp_path / "p", {"content/s.md": TOPIC, "deckgen.toml": 'language = "zh"\n'})
    assert deckgen(root)[0] == "pipeline"
    time.sleep(stamp.RACY_NS / 1e9 + 0.1)  # waiting for the clock, not for the machine
    path, printed = deckgen(root)  # nothing changed: the full no-op check, which writes the stamp
    assert path == "pipeline" and "no note changed" in printed
    assert (root / ".deckgen-cache" / stamp.STAMP).is_file()
    return root


def test_a_rebuild_with_nothing_changed_stops_at_the_stamp_and_prints_the_same(stamped):
    path, printed = deckgen(stamped)
    assert path == "stamp"
    assert printed.startswith("no note changed since the last build\n5 notes in 2 packages (all unchanged) in ")


def edit_same_size(root) -> None:
    path = root / "content/s.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("答案 3", "答案 4"), encoding="utf-8")  # same length in bytes


@pytest.mark.parametrize("change", ["edit", "touch", "new image", "settings", "lost package", "lock", "pending", "environment", "flag"])
def test_any_change_skips_the_stamp(stamped, change):
    env = dict(os.environ)
    args: tuple[str, ...] = ()
    if change == "edit":
        edit_same_size(stamped)
    elif change == "touch":
        os.utime(stamped / "content/s.md")
    elif change == "new image":
        (stamped / "content/new.png").write_bytes(b"\x89PNG")
    elif change == "settings":
        (stamped / "deckgen.toml").write_text('language = "en"\n', encoding="utf-8")
    elif change == "lost package":
        (stamped / "dist/s.apkg").unlink()
    elif change == "lock":
        lock = stamped / "deckgen.lock"
        lock.write_text(lock.read_text(encoding="utf-8"), encoding="utf-8")
    elif change == "pending":
        (stamped / ".deckgen-cache/pending.json").write_text("{}", encoding="utf-8")
    elif change == "environment":
        env["DECKGEN_DEBUG"] = "1"
    elif change == "flag":
        args = ("build", "--strict")
    path, printed = deckgen(stamped, *args, env=env)
    assert path == "pipeline", printed
    if change == "edit":
        assert "~ s/q3" in printed
    if change == "lost package":
        assert (stamped / "dist/s.apkg").is_file()


def test_a_file_changed_too_recently_to_trust_gets_no_stamp(tmp_path, monkeypatch):
    root = write_project(tmp_path / "p", {"content/s.md": TOPIC})
    (root / ".deckgen-cache").mkdir()
    trees, files = [str(root / "content")], []
    before = stamp.signature(trees, files)
    monkeypatch.setattr(stamp, "RACY_NS", 0)
    stamp.save(["--root", str(root)], str(root), trees, files, [], before, "")
    assert (root / ".deckgen-cache" / stamp.STAMP).exists()  # the same call writes one for older files...
    (root / ".deckgen-cache" / stamp.STAMP).unlink()
    monkeypatch.setattr(stamp, "RACY_NS", 10**18)  # ...and none when they are within the window
    stamp.save(["--root", str(root)], str(root), trees, files, [], before, "")
    assert not (root / ".deckgen-cache" / stamp.STAMP).exists()


def test_an_input_changed_during_the_build_gets_no_stamp(tmp_path):
    root = write_project(tmp_path / "p", {"content/s.md": TOPIC})
    (root / ".deckgen-cache").mkdir()
    trees, files = [str(root / "content")], []
    before = stamp.signature(trees, files)
    edit_same_size(root)  # after the build took its signature, before it finished
    stamp.save(["--root", str(root)], str(root), trees, files, [], before, "")
    assert not (root / ".deckgen-cache" / stamp.STAMP).exists()


def test_a_damaged_stamp_is_no_stamp(stamped):
    (stamped / ".deckgen-cache" / stamp.STAMP).write_text('{"version": 1, "context": ', encoding="utf-8")
    assert deckgen(stamped)[0] == "pipeline"
    data = json.loads((stamped / ".deckgen-cache" / stamp.STAMP).read_text(encoding="utf-8"))
    assert data["version"] == 1  # the full check wrote a good one again
    assert deckgen(stamped)[0] == "stamp"
