"""Note types through Anki's engine: field and template ids, and renames that update in place.

Anki pairs a note type's fields and templates by id when both sides have one, else by name; any
mismatch adds a copy of the note type and leaves every existing note of it conflicting. These
tests prove that the ids deckgen now writes reach collections that imported packages without
them (tests/fixtures/pre-ids: a package as deckgen published it before) without a copy, and that
after that a renamed note type or card updates in place.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from anki_engine import card_problems, import_package, new_collection, render_all, review_all
from deckgen import BuildConfig, BuildFailed, build
from deckgen.anki.notetypes import CARD_NAMES, FIELD_IDS, NAMES, NOTETYPE_IDS, TEMPLATE_IDS, guid_for
from deckgen.records import NoteKind

FIXTURE = Path(__file__).parent / "fixtures" / "pre-ids"


def pre_ids_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE / "content", root / "content")
    shutil.copy(FIXTURE / "deckgen.lock", root / "deckgen.lock")
    return root


def deckgen_notetypes(col) -> list[dict]:
    return [m for m in col.models.all() if m["name"].startswith("deckgen")]


def history(col) -> dict[int, int]:
    return {cid: col.db.scalar("select count() from revlog where cid=?", cid) for cid in col.find_cards("")}


def test_a_collection_without_field_ids_updates_in_place_from_packages_with_them(tmp_path):
    col = new_collection(tmp_path / "anki")
    import_package(col, FIXTURE / "published.apkg")
    assert all(f.get("id") is None for m in deckgen_notetypes(col) for f in m["flds"])  # what users have today
    assert review_all(col) == col.card_count() == 5
    before = history(col)
    guids = set(col.db.list("select guid from notes"))
    assert guids == {guid_for(f"conv/{n}") for n in ("dilated", "one-by-one", "xavier")}

    root = pre_ids_project(tmp_path)
    report = build(BuildConfig(root=root, now=1_800_000_000))
    # No note changed but xavier, whose "$…$}}，" now keeps its comma on the formula's line
    # (builder/render.py, issue 15): the other notes keep their mods.
    assert not any(d.added or d.removed for d in report.changes)
    assert {note for d in report.changes for note in d.changed} <= {"conv/xavier"}, report.changes
    assert any("deckgen 问答" in n and "in place" in n for n in report.notices)
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.conflicting and not log.new
    models = deckgen_notetypes(col)
    assert sorted(m["id"] for m in models) == sorted(NOTETYPE_IDS.values())  # no copy was added
    for m in models:
        kind = next(k for k, i in NOTETYPE_IDS.items() if i == m["id"])
        assert [f["id"] for f in m["flds"]] == list(FIELD_IDS[kind])
        assert [t["id"] for t in m["tmpls"]] == list(TEMPLATE_IDS[kind])
        assert m["name"] == NAMES["zh"][kind]  # the published names stay
    assert set(col.db.list("select guid from notes")) == guids
    assert history(col) == before
    for card in render_all(col):
        assert not card_problems(card.question) and not card_problems(card.answer)
    col.close()


def test_note_types_and_cards_renamed_with_ids_update_in_place(project, tmp_path):
    root = project({"content/a.md": "---\ndeck: 甲\nid: a\n---\n\n## 问 {#q}\n\n答\n\n## 双 {#r}\ntype: reversed\n\n反\n\n## 填 {#c}\n\n{{c1::x}} 与 {{c2::y}}\n"})
    build(BuildConfig(root=root, now=1_800_000_000))
    col = new_collection(tmp_path / "anki")
    import_package(col, root / "dist" / "all.apkg")
    assert review_all(col) == 5
    before = history(col)

    report = build(BuildConfig(root=root, now=1_800_000_100, language="en"))
    assert all(d.empty for d in report.changes)
    log = import_package(col, root / "dist" / "all.apkg")
    assert not log.conflicting and not log.new
    models = {m["id"]: m for m in deckgen_notetypes(col)}
    assert sorted(models) == sorted(NOTETYPE_IDS.values())
    for kind in NoteKind:
        m = models[NOTETYPE_IDS[kind]]
        assert m["name"] == NAMES["en"][kind]
        assert [t["name"] for t in m["tmpls"]] == list(CARD_NAMES["en"][kind])
    assert history(col) == before
    assert len(render_all(col)) == 5
    col.close()


def test_renaming_cards_is_refused_where_collections_may_lack_the_ids(tmp_path):
    """A project first published without ids: its users' Anki pairs templates by name, so a card
    name in another language would fork their note types. The build says so; the engine agrees."""
    root = pre_ids_project(tmp_path)
    with pytest.raises(BuildFailed) as failed:
        build(BuildConfig(root=root, now=1_800_000_000, language="en"))
    text = str(failed.value)
    assert "deckgen.lock:4: note type 'deckgen Q&A'" in text and "'问答' is now named 'Q&A'" in text and "conflicting" in text
    assert not (root / "dist").exists()

    # What the refusal prevents: with the check lifted (the lock's own escape hatch), a collection
    # that never got the ids forks its note types and skips the notes.
    lock = json.loads((root / "deckgen.lock").read_text())
    assert lock["version"] == 1
    build(BuildConfig(root=root, now=1_800_000_000))  # zh: allowed; the lock becomes version 2
    text = (root / "deckgen.lock").read_text().replace(', "without_ids": true', "")
    (root / "deckgen.lock").write_text(text)
    build(BuildConfig(root=root, now=1_800_000_100, language="en"))
    col = new_collection(tmp_path / "anki")
    import_package(col, FIXTURE / "published.apkg")
    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.conflicting) == 3 and len(deckgen_notetypes(col)) == 6
    col.close()


def test_a_changed_field_id_of_a_published_note_type_is_refused(project):
    root = project({"content/a.md": "---\ndeck: 甲\nid: a\n---\n\n## 问 {#q}\n\n答\n"})
    build(BuildConfig(root=root, now=1_800_000_000))
    lock = root / "deckgen.lock"
    before = lock.read_bytes()
    # As if the published ids differed from the ones deckgen writes now.
    lock.write_text(lock.read_text().replace('["Back", 1763801012]', '["Back", 1763801099]'))
    changed = lock.read_bytes()
    with pytest.raises(BuildFailed, match=r"deckgen.lock:5: note type 'deckgen 问答' no longer matches .*the id of field 'Back' changed from 1763801099 to 1763801012.*conflicting.* — keep its fields"):
        build(BuildConfig(root=root, now=1_800_000_100))
    assert lock.read_bytes() == changed != before
