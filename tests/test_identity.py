"""Nothing a user does loses a review or silently stops updates (issue 20).

Each test starts from a collection in Anki's own engine that imported the deck and reviewed
every card, makes one change a real author makes (another machine's library versions, a build
option, moving a note, renaming an id, changing a note's type, renaming a deck, a killed build,
a damaged lock file), and checks what the user then gets: review history kept, no duplicate, no
silent skip, and a report that says what Anki will do.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from anki_engine import import_package, new_collection, note_by_guid, review_all
from conftest import REPO, read_package, run_deckgen, write_project
from deckgen import BuildConfig, BuildFailed, build
from deckgen.anki.notetypes import guid_for
from deckgen.report import print_report
from deckgen.runtime.keys import installed_version

T1, T2, T3, T4 = 1_700_000_000, 1_700_100_000, 1_700_200_000, 1_700_300_000  # build clocks, all before any edit in Anki

TOPIC_A = """
---
deck: 身份::甲
id: a
---

## 问题一 {#q1}

答案一

## 代码怎么写？ {#code}

```python
print("你好")
```

## 公式是什么？ {#formula}

$x^2 + y^2$ 与

$$\\frac{a}{b}$$

## 填空 {#cl}

{{c1::甲}} 与 {{c2::乙}}

## 双向 {#rev}
type: reversed

正与反
"""

TOPIC_B = """
---
deck: 身份::乙
id: b
---

## 乙题 {#b1}

乙答 $a+b$，见 [[q1]]
"""


def files() -> dict[str, str]:
    return {"content/a.md": TOPIC_A, "content/b.md": TOPIC_B}


def report_text(report) -> str:
    out = io.StringIO()
    print_report(report, out)
    return out.getvalue()


def reviewed(tmp_path: Path, root: Path, name: str = "anki"):
    """A collection that imported the project's all.apkg and reviewed every card once."""
    col = new_collection(tmp_path / name)
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.conflicting
    assert review_all(col) == col.card_count()
    return col


def state(col) -> dict[str, list[tuple[int, str, int]]]:
    """Per note GUID: (card id, deck, reviews) of each card."""
    decks = {d.id: d.name for d in col.decks.all_names_and_ids()}
    found: dict[str, list[tuple[int, str, int]]] = {}
    for cid, guid, did in col.db.all("select c.id, n.guid, c.did from cards c join notes n on n.id = c.nid order by c.id"):
        found.setdefault(guid, []).append((cid, decks[did], col.db.scalar("select count() from revlog where cid=?", cid)))
    return found


def guids(col, logged) -> set[str]:
    """The GUIDs of notes an import logged (the log names them by note id)."""
    return {col.get_note(entry.id.nid).guid for entry in logged}


def edit_in_anki(col, guid: str, field: str, text: str, tag: str) -> None:
    note = note_by_guid(col, guid)
    note[field] = text
    note.tags.append(tag)
    col.update_note(note)


def lock_entry_line(lock: str, note_id: str) -> int:
    return next(i for i, line in enumerate(lock.splitlines(), start=1) if line.startswith(f'  "{note_id}": ') or f'/{note_id}": ' in line)


# ---- 1. another machine: other library versions --------------------------------------------


def as_if_stamped_elsewhere(root: Path, *note_ids: str) -> bytes:
    """The lock as the author's machine made it: its Pygments rendered the note types and the
    code note differently, so the recorded output hashes differ from what this machine renders
    (what the author wrote, the source hashes, is the same)."""
    lock = root / "deckgen.lock"
    text = lock.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if any(line.startswith(f'  "{key}": ') for key in ("basic", "cloze", "reversed")) or any(line.startswith(f'  "{n}": ') or f'/{n}": ' in line for n in note_ids):
            lines[number] = re.sub(r'"hash": "[0-9a-f]+"', '"hash": "0000000000000000"', line)
    lock.write_text("".join(lines), encoding="utf-8")
    return lock.read_bytes()


def test_another_machines_library_versions_restamp_nothing(project, tmp_path):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    before = state(col)
    edit_in_anki(col, guid_for("a/code"), "Back", "我的笔记", "mine")
    author_lock = as_if_stamped_elsewhere(root, "code")
    (root / "constraints.txt").write_text("Pygments==2.20.0\n")  # what the author pinned; 2.21.0 is installed here
    assert installed_version("pygments") != "2.20.0"

    report = build(BuildConfig(root=root, now=T2))
    assert (root / "deckgen.lock").read_bytes() == author_lock  # not one note or note type restamped
    text = report_text(report)
    assert "warning: installed versions differ from constraints.txt: pygments 2.21.0 (pinned: 2.20.0)" in text
    assert "pip install 'pygments==2.20.0'" in text and "no note is restamped" in text
    assert "no note changed since the last build" in text

    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.updated and not log.new and not log.conflicting
    note = note_by_guid(col, guid_for("a/code"))
    assert note["Back"] == "我的笔记" and "mine" in note.tags  # the user's own edit survives
    assert state(col) == before
    col.close()


def test_a_deliberate_pin_upgrade_restamps_and_says_why(project, tmp_path):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    as_if_stamped_elsewhere(root)
    lock = json.loads((root / "deckgen.lock").read_text())
    lock["libraries"]["pygments"] = "2.20.0"  # stamped with the old pin...
    (root / "deckgen.lock").write_text(json.dumps(lock, ensure_ascii=False))
    (root / "constraints.txt").write_text(f"Pygments=={installed_version('pygments')}\n")  # ...and the pin moved on purpose

    report = build(BuildConfig(root=root, now=T2))
    text = report_text(report)
    assert f"libraries upgraded: pygments 2.20.0 → {installed_version('pygments')}" in text
    assert "note: note type 'deckgen 问答' changed (libraries upgraded: pygments" in text
    after = json.loads((root / "deckgen.lock").read_text())
    assert after["libraries"]["pygments"] == installed_version("pygments")
    assert {entry["mod"] for entry in after["notetypes"].values()} == {T2}
    import_package(col, root / "dist" / "all.apkg")
    assert all(m["mod"] == T2 for m in col.models.all() if m["name"].startswith("deckgen"))  # the new style reached the user
    col.close()


def test_a_fresh_clone_of_the_flagship_leaves_its_lock_untouched(flagship):
    """The fixture builds the repository's content with its lock, as a fresh clone does."""
    assert (flagship / "deckgen.lock").read_bytes() == (REPO / "deckgen.lock").read_bytes()


def test_every_published_flagship_guid_stays(flagship):
    lock = json.loads((flagship / "deckgen.lock").read_text())["notes"]
    rows = [line.split("\t") for line in (Path(__file__).parent / "fixtures" / "published_guids.tsv").read_text().splitlines() if not line.startswith("#")]
    assert len(rows) > 200
    for key, guid in rows:
        note_id = key.split("/", 1)[1]
        assert lock[note_id]["guid"] == guid, key


# ---- 2. --math-images is a build option, not an edit ---------------------------------------


def test_math_images_variant_never_changes_the_lock(project, tmp_path, chromium):
    if shutil.which("npm") is None and os.environ.get("CI") != "true":
        pytest.skip("npm not found: formula images fetch MathJax's SVG build with it once")
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    lock = (root / "deckgen.lock").read_bytes()
    col = reviewed(tmp_path, root)
    before = state(col)
    edit_in_anki(col, guid_for("a/formula"), "Back", "我自己的写法", "mine")

    elsewhere = tmp_path / "images"
    variant = build(BuildConfig(root=root, now=T2, math_images=True, dist_dir=elsewhere))
    assert (root / "deckgen.lock").read_bytes() == lock and all(d.empty for d in variant.changes)
    log = import_package(col, elsewhere / "all.apkg")
    assert guids(col, log.updated) == {guid_for("b/b1")}  # the one note with formulas the user did not edit
    formula = note_by_guid(col, guid_for("a/formula"))
    assert formula["Back"] == "我自己的写法" and "mine" in formula.tags  # the user's edit is newer: kept

    build(BuildConfig(root=root, now=T3))
    assert (root / "deckgen.lock").read_bytes() == lock
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.updated and not log.new  # the variant (one second newer) stays until the note changes
    assert 'class="dg-math"' in note_by_guid(col, guid_for("b/b1"))["Back"]
    assert state(col) == before
    col.close()

    fresh = new_collection(tmp_path / "fresh")  # a user who imports the default first, then the variant
    import_package(fresh, root / "dist" / "all.apkg")
    log = import_package(fresh, elsewhere / "all.apkg")
    assert guids(fresh, log.updated) == {guid_for("a/formula"), guid_for("b/b1")}
    assert 'class="dg-math"' in note_by_guid(fresh, guid_for("a/formula"))["Back"]
    fresh.close()


@pytest.mark.parametrize("option", [{"jobs": 1}, {"jobs": 2}, {"dist_dir": "elsewhere"}, {"progress": "lines"}])
def test_other_build_options_write_the_same_lock(project, tmp_path, option):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    (root / "content/a.md").write_text((root / "content/a.md").read_text().replace("答案一", "答案一（改）"))
    clone = tmp_path / "clone"
    shutil.copytree(root, clone)
    build(BuildConfig(root=clone, now=T2))
    if "dist_dir" in option:
        option = {"dist_dir": tmp_path / "elsewhere"}
    build(BuildConfig(root=root, now=T2, **option))
    assert (root / "deckgen.lock").read_bytes() == (clone / "deckgen.lock").read_bytes()


# ---- 3. moving a note, renaming its id -----------------------------------------------------


def move(root: Path, note_heading: str, body: str, to: str) -> None:
    a = (root / "content/a.md").read_text(encoding="utf-8")
    block = f"{note_heading}\n\n{body}\n"
    assert block in a
    (root / "content/a.md").write_text(a.replace(block, ""), encoding="utf-8")
    with (root / to).open("a", encoding="utf-8") as out:
        out.write("\n" + block)


def test_a_note_moved_to_another_topic_keeps_its_guid_and_history(project, tmp_path):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    before = state(col)
    move(root, "## 问题一 {#q1}", "答案一", "content/b.md")

    report = build(BuildConfig(root=root, now=T2))
    text = report_text(report)
    assert "~ b/q1  (moved from topic 'a'; it keeps its GUID and review history)" in text
    assert "- a/q1" not in text  # never advised to delete the note that holds the history
    assert "stay in 身份::甲" in text
    search = re.search(r"search  (.+?)  in Anki's browser, select all, Change Deck → 身份::乙", text).group(1)
    assert json.loads((root / "deckgen.lock").read_text())["notes"]["q1"]["guid"] == guid_for("a/q1")

    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.updated) == 1 and not log.new and not log.conflicting
    assert col.note_count() == 6  # no duplicate
    assert note_by_guid(col, guid_for("a/q1"))["Meta"] == "b/q1"
    after = state(col)
    assert after == before  # same cards, same reviews, still in the old deck, as the report said
    found = col.find_cards(search)
    assert sorted(found) == [cid for cid, _, _ in before[guid_for("a/q1")]]
    col.set_deck(found, col.decks.id_for_name("身份::乙"))
    assert {deck for _, deck, _ in state(col)[guid_for("a/q1")]} == {"身份::乙"}
    col.close()


def test_a_changed_deck_id_keeps_every_guid(project, tmp_path):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    before = state(col)
    (root / "content/a.md").write_text(TOPIC_A.replace("id: a\n", "id: a2\n").lstrip("\n"), encoding="utf-8")
    report = build(BuildConfig(root=root, now=T2))
    assert len(report.changes[0].changed) == 5 and not report.changes[0].removed
    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.updated) == 5 and not log.new  # a2's notes have a new Meta field; b1 is unchanged
    assert state(col) == before
    col.close()


def test_deckgen_mv_renames_an_id_and_keeps_the_guid(project, tmp_path):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    before = state(col)
    result = run_deckgen(root, "mv", "q1", "first-question")
    assert result.code == 0, result.stderr
    assert "content/a.md:6: renamed {#q1} to {#first-question} and 1 [[q1]] reference" in result.stdout
    assert "{#first-question}" in (root / "content/a.md").read_text() and "[[first-question]]" in (root / "content/b.md").read_text()

    report = build(BuildConfig(root=root, now=T2))
    text = report_text(report)
    assert "~ a/first-question  (renamed from 'q1'; it keeps its GUID and review history)" in text
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.new and not log.conflicting
    assert note_by_guid(col, guid_for("a/q1"))["Meta"] == "a/first-question"
    assert state(col) == before and col.note_count() == 6
    lock = json.loads((root / "deckgen.lock").read_text())["notes"]
    assert "q1" not in lock and "was" not in lock["first-question"]
    col.close()


def test_renaming_an_id_by_hand_warns_and_the_report_keeps_history_in_mind(project):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    text = (root / "content/a.md").read_text().replace("{#q1}", "{#question-one}")
    (root / "content/a.md").write_text(text)
    (root / "content/b.md").write_text((root / "content/b.md").read_text().replace("[[q1]]", "[[question-one]]"))
    out = report_text(build(BuildConfig(root=root, now=T2)))
    assert "warning: content/a.md:6: note 'question-one' is new and has the question of 'q1', which is gone: if you renamed the id" in out
    assert "run 'deckgen mv q1 question-one'" in out
    assert "- a/q1  (import never deletes: the note stays in your collection with its review history; to delete it, and its history with it" in out

    # The way back the warning gives: the old id returns with its GUID, then mv.
    (root / "content/a.md").write_text(text.replace("{#question-one}", "{#q1}"))
    (root / "content/b.md").write_text((root / "content/b.md").read_text().replace("[[question-one]]", "[[q1]]"))
    build(BuildConfig(root=root, now=T3))
    assert run_deckgen(root, "mv", "q1", "question-one").code == 0
    build(BuildConfig(root=root, now=T4))
    assert json.loads((root / "deckgen.lock").read_text())["notes"]["question-one"]["guid"] == guid_for("a/q1")


def test_a_mv_whose_sources_were_put_back_keeps_the_guid(project, tmp_path):
    """`deckgen mv` writes the lock first. If the sources then go back to the old id (the rename
    was interrupted, or undone with git), the old id takes its GUID back: no duplicate."""
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    before = state(col)
    sources = {p: p.read_bytes() for p in (root / "content").glob("*.md")}
    assert run_deckgen(root, "mv", "q1", "renamed").code == 0
    for path, data in sources.items():
        path.write_bytes(data)
    text = report_text(build(BuildConfig(root=root, now=T2)))
    assert "~ a/q1  (takes back its GUID from 'renamed')" in text and "- a/renamed" not in text
    lock = json.loads((root / "deckgen.lock").read_text())["notes"]
    assert lock["q1"]["guid"] == guid_for("a/q1") and "renamed" not in lock
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.new and state(col) == before
    col.close()


def test_mv_refuses_an_id_in_use_and_an_unknown_one(project):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    taken = run_deckgen(root, "mv", "q1", "code")
    assert taken.code == 1 and "error: content/a.md:10: note id 'code' is already used here — choose another id" in taken.stderr
    unknown = run_deckgen(root, "mv", "q11", "x")
    assert unknown.code == 1 and "no note has the id 'q11' — did you mean q1?" in unknown.stderr


# ---- 4. a published note's type --------------------------------------------------------------


@pytest.mark.parametrize(("edit", "now_kind"), [
    (("## 问题一 {#q1}\n", "## 问题一 {#q1}\ntype: reversed\n"), "reversed"),
    (("答案一", "答案{{c1::一}}"), "cloze"),
    (("## 双向 {#rev}\ntype: reversed\n", "## 双向 {#rev}\n"), "basic"),
])
def test_changing_a_published_notes_type_is_an_error(project, tmp_path, edit, now_kind):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    before = {p.name: p.read_bytes() for p in [root / "deckgen.lock", *(root / "dist").glob("*.apkg")]}
    (root / "content/a.md").write_text((root / "content/a.md").read_text().replace(*edit))
    result = run_deckgen(root)
    assert result.code == 1, result.stdout
    line = next(line for line in result.stderr.splitlines() if line.startswith("error: content/a.md:"))
    assert f"is now {now_kind}: Anki would skip it as conflicting on every import from now on" in line
    assert " — keep its type" in line and "give it a new id" in line and "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in [root / "deckgen.lock", *(root / "dist").glob("*.apkg")]} == before


def test_the_way_forward_for_a_new_type_is_a_new_note(project, tmp_path):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    (root / "content/a.md").write_text((root / "content/a.md").read_text().replace("## 问题一 {#q1}\n", "## 问题一 {#q1-both-ways}\ntype: reversed\n"))
    (root / "content/b.md").write_text((root / "content/b.md").read_text().replace("[[q1]]", "[[q1-both-ways]]"))
    report = build(BuildConfig(root=root, now=T2))
    text = report_text(report)
    assert "+ a/q1-both-ways" in text and "- a/q1  (import never deletes: the note stays in your collection with its review history" in text
    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.new) == 1 and not log.conflicting
    col.close()


# ---- 5. renaming a deck ------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["before-import", "after-import"])
def test_a_renamed_deck_says_what_anki_does_and_how_to_finish(project, tmp_path, when):
    root = project(files())
    build(BuildConfig(root=root, now=T1))
    col = reviewed(tmp_path, root)
    before = state(col)
    (root / "content/a.md").write_text(TOPIC_A.replace("deck: 身份::甲", "deck: 身份::甲级").lstrip("\n"), encoding="utf-8")
    report = build(BuildConfig(root=root, now=T2))
    text = report_text(report)
    assert "身份::甲级: renamed from 身份::甲" in text
    assert "Anki matches decks by name: importing creates '身份::甲级' and leaves your cards in '身份::甲'" in text
    assert "rename '身份::甲' to '身份::甲级' in Anki before importing" in text
    assert "no note changed" not in text
    old = col.decks.id_for_name("身份::甲")
    if when == "before-import":
        col.decks.rename(col.decks.get(old), "身份::甲级")
        import_package(col, root / "dist" / "all.apkg")
    else:
        import_package(col, root / "dist" / "all.apkg")
        assert col.decks.id_for_name("身份::甲级") and not col.find_cards('"deck:身份::甲级"')  # an empty new deck, as said
        search = re.search(r"if you already imported, search  (.+?)  in Anki's browser", text).group(1)
        col.set_deck(col.find_cards(search), col.decks.id_for_name("身份::甲级"))
        col.decks.remove([old])
    after = state(col)
    assert {deck for guid, cards in after.items() for _, deck, _ in cards if guid != guid_for("b/b1")} == {"身份::甲级"}
    renamed = {guid: [(cid, "身份::甲级" if deck == "身份::甲" else deck, n) for cid, deck, n in cards] for guid, cards in before.items()}
    assert after == renamed and col.note_count() == 6
    assert "身份::甲" not in {d.name for d in col.decks.all_names_and_ids()}
    col.close()


# ---- 6. a build killed at any step of its write ---------------------------------------------


def v2(root: Path) -> None:
    """Every kind of change at once: an edit, an addition, a removal, a move."""
    a = (root / "content/a.md").read_text(encoding="utf-8")
    a = a.replace("答案一", "答案一（改）").replace("## 填空 {#cl}\n\n{{c1::甲}} 与 {{c2::乙}}\n", "") + "\n## 新题 {#new}\n\n新答\n"
    a = a.replace("## 双向 {#rev}\ntype: reversed\n\n正与反\n", "")
    (root / "content/a.md").write_text(a, encoding="utf-8")
    (root / "content/b.md").write_text((root / "content/b.md").read_text(encoding="utf-8") + "\n## 双向 {#rev}\ntype: reversed\n\n正与反\n", encoding="utf-8")


def change_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("  +", "  ~", "  -", "身份", "  Anki's import"))]


def killed_at(root: Path, step: int) -> int:
    env = dict(os.environ, DECKGEN_KILL_AT=str(step))
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "faultinject.py"), "--root", str(root), "--jobs", "1"], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return proc.returncode


def test_a_build_killed_at_any_step_loses_no_report(tmp_path):
    base = write_project(tmp_path / "base", files())
    assert run_deckgen(base).code == 0
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    v2(reference)
    expected = run_deckgen(reference)
    assert expected.code == 0
    wanted = change_lines(expected.stdout)
    assert "  - a/cl  (import never deletes: the note stays in your collection with its review history; to delete it, and its history with it, search  \"Meta:a/cl\"  in Anki's browser)" in wanted
    assert any(line.startswith("  ~ b/rev  (moved from topic 'a'") for line in wanted)
    steps = 0
    for step in range(1, 200):
        root = tmp_path / f"kill-{step}"
        shutil.copytree(base, root)
        v2(root)
        code = killed_at(root, step)
        if code == 0:  # the build finished before its step-th file operation: every step was covered
            break
        assert code == -signal.SIGKILL, code
        steps += 1
        again = run_deckgen(root)
        assert again.code == 0, again.stderr
        assert change_lines(again.stdout) == wanted, f"killed at step {step}:\n{again.stdout}"
        assert {p.name: read_package(p).notes for p in (root / "dist").glob("*.apkg")} == {p.name: read_package(p).notes for p in (reference / "dist").glob("*.apkg")}
        assert not [p for p in (root / "dist").iterdir() if p.name.startswith(".")]
        later = run_deckgen(root)
        assert "no note changed since the last build" in later.stdout, later.stdout  # reported once, then done
        shutil.rmtree(root)
    assert steps >= 8  # the cache, the staged files, each rename, the state and the pending report


# ---- 7. a damaged lock file ------------------------------------------------------------------


def damage(kind: str, text: str) -> tuple[str | bytes, int, str]:
    """The damaged lock, the line the error must name, and what it must say."""
    line = lock_entry_line(text, "code")
    lines = text.splitlines(keepends=True)

    def at(number: int, new: str) -> str:
        copy = list(lines)
        copy[number - 1] = new
        return "".join(copy)

    entry = lines[line - 1]
    cases = {
        "invalid-utf8": (text.encode().replace(b'code": {', b'code": {\xff', 1), line, "byte 0xff is not UTF-8 text"),
        "mod-not-integer": (at(line, re.sub(r'"mod": \d+', '"mod": "yesterday"', entry)), line, "the \"mod\" of note 'code' is not a whole number of seconds: \"yesterday\""),
        "mod-fraction": (at(line, re.sub(r'"mod": \d+', '"mod": 1.5', entry)), line, "not a whole number of seconds: 1.5"),
        "mod-negative": (at(line, re.sub(r'"mod": \d+', '"mod": -3', entry)), line, "not a whole number of seconds: -3"),
        "mod-true": (at(line, re.sub(r'"mod": \d+', '"mod": true', entry)), line, "not a whole number of seconds: true"),
        "missing-guid": (at(line, re.sub(r'"guid": "[^"]*", ', "", entry)), line, "note 'code' has no \"guid\""),
        "missing-hash": (at(line, re.sub(r'"hash": "[^"]*", ', "", entry)), line, "note 'code' has no \"hash\""),
        "unknown-kind": (at(line, entry.replace('"kind": "basic"', '"kind": "fancy"')), line, "the \"kind\" of note 'code' is \"fancy\""),
        "entry-not-object": (at(line, '  "code": 42,\n'), line, "the entry of note 'code' is not an object"),
        "duplicate-note": (at(line, entry + entry), line + 1, "\"code\" appears twice"),
        "duplicate-guid": (at(line, entry.replace('"code"', '"code-copy"', 1) + entry), line + 1, "notes 'code-copy' and 'code' have the same GUID"),
        "truncated": (text[: text.index('code": {') + 10], line, "not valid JSON"),
        "merge-conflict": (at(line, "<<<<<<< HEAD\n" + entry + "=======\n" + entry + ">>>>>>> theirs\n"), line, "it holds a merge conflict"),
        "newer-version": (text.replace('"version": 2', '"version": 3'), 2, "version 3 was written by a newer deckgen"),
        "notetype-mod": (at(5, re.sub(r'"mod": \d+', '"mod": null', lines[4])), 5, "the \"mod\" of note type 'basic' is not a whole number of seconds: null"),
        "notetype-fields": (at(5, re.sub(r'"fields": \[\[', '"fields": [[7, ', lines[4])), 5, "the \"fields\" of note type 'basic' are not a list of [name, id]"),
        "libraries-not-object": (at(3, ' "libraries": [],\n'), 3, '"libraries" is not an object'),
        "empty": ("", 1, "not valid JSON"),
        "not-an-object": ("[1, 2]\n", 1, "not a JSON object"),
    }
    return cases[kind]


DAMAGES = ["invalid-utf8", "mod-not-integer", "mod-fraction", "mod-negative", "mod-true", "missing-guid", "missing-hash", "unknown-kind", "entry-not-object",
           "duplicate-note", "duplicate-guid", "truncated", "merge-conflict", "newer-version", "notetype-mod", "notetype-fields", "libraries-not-object", "empty", "not-an-object"]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> Path:
    root = write_project(tmp_path_factory.mktemp("damaged") / "proj", files())
    assert run_deckgen(root).code == 0
    return root


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_lock_is_reported_at_its_line(built_once, tmp_path, kind):
    root = tmp_path / "proj"
    shutil.copytree(built_once, root)
    damaged, line, what = damage(kind, (root / "deckgen.lock").read_text(encoding="utf-8"))
    (root / "deckgen.lock").write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    (root / "content/a.md").write_text(TOPIC_A.replace("答案一", "答案一（改）").lstrip("\n"), encoding="utf-8")  # so the build must read the lock
    before = {p.name: p.read_bytes() for p in [root / "deckgen.lock", *(root / "dist").glob("*.apkg")]}
    result = run_deckgen(root)
    assert result.code == 1, (result.code, result.stderr)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: deckgen.lock:{line}: the lock file is damaged: "), first
    assert what in first and " — " in first and "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert {p.name: p.read_bytes() for p in [root / "deckgen.lock", *(root / "dist").glob("*.apkg")]} == before


def test_a_version_1_lock_with_a_bad_mod_is_reported_at_its_line(tmp_path):
    root = write_project(tmp_path / "proj", files())
    shutil.copy(Path(__file__).parent / "fixtures" / "pre-ids" / "deckgen.lock", root / "deckgen.lock")
    text = (root / "deckgen.lock").read_text().replace('"mod": 1700000000}\n }\n}', '"mod": "soon"}\n }\n}')
    (root / "deckgen.lock").write_text(text)
    with pytest.raises(BuildFailed, match=r"deckgen.lock:11: the lock file is damaged: the \"mod\" of note 'conv/xavier' is not a whole number of seconds"):
        build(BuildConfig(root=root, now=T1))
