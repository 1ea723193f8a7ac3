"""`deckgen diff --against FILE` predicts exactly what Anki's import of today's build then does.

Every scenario starts from a collection in Anki's engine that imported the deck and reviewed
every card, with edits made in Anki; it exports that collection (or takes the package imported
earlier), makes a change to the project, asks `diff` what the import will do, imports through the
engine, and compares each prediction with what the engine did: notes added, updated, left alone
or skipped as conflicting, edits overwritten or kept, cards left in another deck, cards added.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from anki_engine import import_package, new_collection, note_by_guid, review_all
from conftest import run_deckgen, write_project
from deckgen import BuildConfig, BuildFailed, build
from deckgen.anki import collection
from deckgen.anki.notetypes import guid_for
from deckgen.check.diff import DiffResult, diff, format_text
from test_identity import T1, T2, TOPIC_A, TOPIC_B, move

EDITED = T1 + 50_000  # when the user edited notes in Anki: after the first build, before T2
CLOZE = "\n## 再填 {#cl2}\n\n{{c1::丙}} 与 {{c2::丁}}\n"


@dataclass
class Setup:
    root: Path
    col: object
    tmp: Path


def files() -> dict[str, str]:
    return {"content/a.md": TOPIC_A + CLOZE, "content/b.md": TOPIC_B}


def edit_in_anki(col, key: str, text: str, when: int = EDITED) -> None:
    note = note_by_guid(col, guid_for(key))
    note["Back" if "Back" in note else "Back Extra"] = text
    note.tags.append("mine")
    col.update_note(note)
    col.db.execute("update notes set mod=? where id=?", when, note.id)  # an edit made at `when`


def start(tmp_path: Path) -> Setup:
    root = write_project(tmp_path / "proj", files())
    build(BuildConfig(root=root, now=T1))
    col = new_collection(tmp_path / "anki")
    import_package(col, root / "dist" / "all.apkg")
    assert review_all(col) == col.card_count()
    edit_in_anki(col, "a/q1", "用户改过的答案")
    edit_in_anki(col, "a/code", "我的代码笔记")
    return Setup(root, col, tmp_path)


def export(setup: Setup, how: str) -> Path:
    out = setup.tmp / f"mine.{'colpkg' if how.endswith('colpkg') else 'apkg'}"
    if how.endswith("colpkg"):  # Anki closes the collection to write it whole; open it again after
        setup.col.export_collection_package(str(out), include_media=False, legacy=how == "legacy-colpkg")
        setup.col.reopen()
    else:
        from anki.collection import ExportAnkiPackageOptions
        from anki.generic_pb2 import Empty
        from anki.import_export_pb2 import ExportLimit

        options = ExportAnkiPackageOptions(with_scheduling=True, with_deck_configs=False, with_media=False, legacy=how == "legacy-apkg")
        setup.col.export_anki_package(out_path=str(out), options=options, limit=ExportLimit(whole_collection=Empty()))
    return out


def keys(col, logged) -> set[str]:
    """The deckgen keys of the notes an import logged: the Meta field of the incoming note."""
    return {entry.fields[-1] for entry in logged}


def cards_by_guid(col) -> dict[str, list[tuple[int, str]]]:
    decks = {d.id: d.name for d in col.decks.all_names_and_ids()}
    found: dict[str, list[tuple[int, str]]] = {}
    for cid, guid, did in col.db.all("select c.id, n.guid, c.did from cards c join notes n on n.id = c.nid order by c.id"):
        found.setdefault(guid, []).append((cid, decks[did]))
    return found


def fields_by_guid(col) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    return {n.guid: (tuple(n.fields), tuple(sorted(n.tags))) for n in (col.get_note(nid) for nid in col.find_notes(""))}


def check_prediction(result: DiffResult, col, package: Path) -> None:
    """Import `package` and compare what the engine did with every prediction in `result`."""
    before_cards, before_fields = cards_by_guid(col), fields_by_guid(col)
    before_keys = {fields[0][-1]: guid for guid, fields in before_fields.items()}
    log = import_package(col, package)
    after_cards, after_fields = cards_by_guid(col), fields_by_guid(col)
    predicted = {name: {key for deck in result.decks for key in getattr(deck, name)} for name in ("added", "updated", "unchanged", "overwrites_edits", "edits_kept", "gone")}
    conflicting = {key for deck in result.decks for key, _ in deck.conflicting}
    assert predicted["added"] == keys(col, log.new)
    assert predicted["updated"] == keys(col, log.updated)
    assert predicted["unchanged"] == keys(col, log.duplicate)
    assert conflicting == keys(col, log.conflicting)
    shipped = {n.fields[-1]: n for n in collection.read(package).notes.values()}  # by the incoming Meta
    guid = {key: note.guid for key, note in shipped.items()}
    for key in predicted["overwrites_edits"]:  # the user's version is gone, the deck's is in
        assert "mine" in before_fields[guid[key]][1] and after_fields[guid[key]][0] == shipped[key].fields, key
    for key in predicted["edits_kept"]:  # the user's version stays, the deck's is not taken
        assert after_fields[guid[key]] == before_fields[guid[key]] and "mine" in after_fields[guid[key]][1], key
    for key in predicted["updated"] - predicted["overwrites_edits"]:
        assert "mine" not in before_fields[guid[key]][1], key
    for deck in result.decks:
        for key, other, count in deck.elsewhere:
            assert other != deck.deck and sum(1 for _, d in after_cards[guid[key]] if d == other) == count, (key, other)
        existing = [guid[k] for k in {*deck.updated, *deck.unchanged}]
        added_here = sum(len(after_cards[g]) - len(before_cards[g]) for g in existing)
        assert added_here == deck.new_cards_of_existing, deck.deck
        for key in deck.gone:  # import never deletes, and the package does not have it
            assert before_keys[key] in after_fields and before_keys[key] not in guid.values()
    for key in conflicting:  # skipped: nothing of it changed
        assert after_fields[guid[key]] == before_fields[guid[key]] and after_cards[guid[key]] == before_cards[guid[key]]
    assert set(after_fields) >= set(before_fields)


# ---- the scenarios ---------------------------------------------------------------------------


def everything_at_once(s: Setup) -> BuildConfig:
    """An edit of a note the user edited too, an addition, a removal, a move, a new cloze card."""
    a = (s.root / "content/a.md").read_text()
    a = a.replace("答案一", "答案一（作者改过）").replace("## 填空 {#cl}\n\n{{c1::甲}} 与 {{c2::乙}}\n", "")
    a = a.replace("{{c1::丙}} 与 {{c2::丁}}", "{{c1::丙}} 与 {{c2::丁}} 与 {{c3::戊}}") + "\n## 新题 {#new}\n\n新答\n"
    (s.root / "content/a.md").write_text(a)
    move(s.root, "## 双向 {#rev}\ntype: reversed", "正与反", "content/b.md")
    return BuildConfig(root=s.root, now=T2)


def author_older_than_the_users_edit(s: Setup) -> BuildConfig:
    (s.root / "content/a.md").write_text((s.root / "content/a.md").read_text().replace("答案一", "答案一（作者改过）"))
    return BuildConfig(root=s.root, now=T1 + 10_000)  # before EDITED: the user's edit wins


def deck_renamed(s: Setup) -> BuildConfig:
    (s.root / "content/a.md").write_text((s.root / "content/a.md").read_text().replace("deck: 身份::甲", "deck: 身份::甲级"))
    (s.root / "content/b.md").write_text((s.root / "content/b.md").read_text() + "\n## 又一题 {#b2}\n\n答\n")
    return BuildConfig(root=s.root, now=T2)


def id_renamed_with_mv(s: Setup) -> BuildConfig:
    assert run_deckgen(s.root, "mv", "formula", "formula-renamed").code == 0
    return BuildConfig(root=s.root, now=T2)


def note_type_changed_in_anki(s: Setup) -> BuildConfig:
    """The user gave one note Anki's own Basic type: Anki skips the deck's version of it."""
    ours = s.col.models.get(1763800000101)
    note = note_by_guid(s.col, guid_for("b/b1"))
    s.col.models.change(ours, [note.id], s.col.models.by_name("Basic"), {0: 0, 1: 1, 2: None}, {0: 0})
    (s.root / "content/b.md").write_text((s.root / "content/b.md").read_text().replace("乙答", "乙答（改）"))
    return BuildConfig(root=s.root, now=T2)


def note_type_fields_changed_in_anki(s: Setup) -> BuildConfig:
    """The user added a field to deckgen's note type: every note of it is skipped from now on."""
    model = s.col.models.get(1763800000101)
    s.col.models.add_field(model, s.col.models.new_field("我的字段"))
    s.col.models.update_dict(model)
    (s.root / "content/a.md").write_text((s.root / "content/a.md").read_text().replace("答案一", "答案一（改）"))
    return BuildConfig(root=s.root, now=T2)


def other_machine(s: Setup) -> BuildConfig:
    lock = s.root / "deckgen.lock"
    lock.write_text(lock.read_text().replace('"hash": "', '"hash": "0', 3))  # output hashes from another Pygments
    (s.root / "constraints.txt").write_text("Pygments==2.20.0\n")
    return BuildConfig(root=s.root, now=T2)


SCENARIOS: dict[str, Callable[[Setup], BuildConfig]] = {
    "everything-at-once": everything_at_once,
    "author-older-than-the-users-edit": author_older_than_the_users_edit,
    "deck-renamed": deck_renamed,
    "id-renamed-with-mv": id_renamed_with_mv,
    "note-type-changed-in-anki": note_type_changed_in_anki,
    "note-type-fields-changed-in-anki": note_type_fields_changed_in_anki,
    "other-machine": other_machine,
}


# Every scenario against an exported collection; the richest ones against every export format.
CASES = [(scenario, "colpkg") for scenario in SCENARIOS] + [
    (scenario, how) for scenario in ("everything-at-once", "note-type-fields-changed-in-anki") for how in ("legacy-colpkg", "apkg", "legacy-apkg")
]


@pytest.mark.parametrize(("scenario", "how"), CASES)
def test_diff_predicts_what_the_import_does(tmp_path, scenario, how):
    s = start(tmp_path)
    config = SCENARIOS[scenario](s)
    against = export(s, how)
    result = diff(config, against)
    assert (s.root / "dist" / "all.apkg").exists() and not (s.root / ".deckgen-cache" / "pending.json").exists()
    build(config)
    check_prediction(result, s.col, s.root / "dist" / "all.apkg")
    summary = result.summary()
    expected = {
        "everything-at-once": dict(added=1, overwrites_edits=1, edits_kept=1, conflicting=0, elsewhere=1, gone=1),
        "author-older-than-the-users-edit": dict(added=0, updated=0, edits_kept=2, conflicting=0),
        "deck-renamed": dict(added=1, conflicting=0, elsewhere=6),
        "id-renamed-with-mv": dict(added=0, updated=1, conflicting=0, gone=0),
        "note-type-changed-in-anki": dict(conflicting=1, updated=0),
        "note-type-fields-changed-in-anki": dict(conflicting=4),
        "other-machine": dict(added=0, updated=0, conflicting=0),
    }[scenario]
    assert {k: summary[k] for k in expected} == expected, summary
    s.col.close()


def test_diff_names_the_cards_that_stay_elsewhere_and_the_search_that_finds_them(tmp_path):
    s = start(tmp_path)
    config = everything_at_once(s)
    result = diff(config, export(s, "colpkg"))
    text = format_text(result)
    assert "→ 2 cards of 1 note stay in 身份::甲 (Anki's import never moves existing cards): search  \"Meta:b/*\" -\"deck:身份::乙\"" in text
    assert "~ a/q1  updated; this overwrites your edits in Anki (fields or tags) with the deck's version" in text
    assert "· a/code  not updated: your edit in Anki is newer than this version" in text
    assert "- a/cl  no longer in the sources: import never deletes it; it stays with its review history" in text
    assert "+ 1 new card of notes you have go to 身份::甲" in text
    build(config)
    import_package(s.col, s.root / "dist" / "all.apkg")
    found = s.col.find_cards('"Meta:b/*" -"deck:身份::乙"')
    assert len(found) == 2
    s.col.close()


def test_diff_explains_conflicts(tmp_path):
    s = start(tmp_path)
    result = diff(note_type_fields_changed_in_anki(s), export(s, "colpkg"))
    text = format_text(result)
    assert "note type 'deckgen 问答': copied — its fields or templates (fields Front, Back, Meta; cards 问答) do not match your 'deckgen 问答' (fields Front, Back, Meta, 我的字段; cards 问答): Anki adds a copy of it" in text
    assert "! a/q1  skipped as conflicting: note type 'deckgen 问答' in the package does not match yours" in text
    s.col.close()


def test_diff_command_prints_json_and_writes_nothing(tmp_path):
    s = start(tmp_path)
    everything_at_once(s)
    against = export(s, "colpkg")
    before = {p.name: p.read_bytes() for p in [s.root / "deckgen.lock", *(s.root / "dist").glob("*.apkg")]}
    result = run_deckgen(s.root, "diff", "--against", str(against), "--format", "json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["package"] == "all.apkg" and data["summary"]["added"] == 1 and data["summary"]["gone"] == 1
    deck = next(d for d in data["decks"] if d["deck"] == "身份::乙")
    assert deck["elsewhere"] == [{"note": "b/rev", "deck": "身份::甲", "cards": 2}]
    assert {p.name: p.read_bytes() for p in [s.root / "deckgen.lock", *(s.root / "dist").glob("*.apkg")]} == before
    one = run_deckgen(s.root, "diff", "--against", str(against), "--package", "b")
    assert one.code == 0 and "importing b.apkg" in one.stdout
    bad = run_deckgen(s.root, "diff", "--against", str(against), "--package", "nope")
    assert bad.code == 1 and "error: --package: today's build has no package 'nope' — give one of: a, all, b" in bad.stderr
    s.col.close()


def test_diff_against_what_is_not_a_collection_is_a_clear_error(tmp_path):
    root = write_project(tmp_path / "proj", files())
    (tmp_path / "notes.txt").write_text("not a package")
    result = run_deckgen(root, "diff", "--against", str(tmp_path / "notes.txt"))
    assert result.code == 1 and "not an Anki package or collection" in result.stderr and " — export your collection from Anki" in result.stderr


def test_diff_refuses_what_the_build_refuses(tmp_path):
    s = start(tmp_path)
    (s.root / "content/a.md").write_text((s.root / "content/a.md").read_text().replace("## 问题一 {#q1}\n", "## 问题一 {#q1}\ntype: reversed\n"))
    with pytest.raises(BuildFailed, match="was published as a basic note and is now reversed"):
        diff(BuildConfig(root=s.root, now=T2), export(s, "colpkg"))
    s.col.close()


def test_diff_after_a_killed_build_predicts_the_next_import(tmp_path):
    from test_identity import killed_at

    s = start(tmp_path)
    config = everything_at_once(s)
    assert killed_at(s.root, 12) == -9  # part-way through writing
    result = diff(config, export(s, "colpkg"))
    build(config)
    check_prediction(result, s.col, s.root / "dist" / "all.apkg")
    s.col.close()


def test_diff_predicts_the_math_images_variant(tmp_path, chromium):
    if shutil.which("npm") is None and os.environ.get("CI") != "true":
        pytest.skip("npm not found: formula images fetch MathJax's SVG build with it once")
    s = start(tmp_path)
    config = BuildConfig(root=s.root, now=T2, math_images=True)
    result = diff(config, export(s, "colpkg"))
    assert result.summary()["updated"] == 2  # the notes with formulas the user did not edit
    build(config)
    check_prediction(result, s.col, s.root / "dist" / "all.apkg")
    s.col.close()


def test_diff_against_the_package_imported_earlier(tmp_path):
    root = write_project(tmp_path / "proj", files())
    build(BuildConfig(root=root, now=T1))
    earlier = tmp_path / "imported-earlier.apkg"
    shutil.copy(root / "dist" / "all.apkg", earlier)
    col = new_collection(tmp_path / "anki")
    import_package(col, earlier)
    config = everything_at_once(Setup(root, col, tmp_path))
    result = diff(config, earlier)
    assert result.summary() == {"added": 1, "updated": 3, "unchanged": 3, "conflicting": 0, "overwrites_edits": 0, "edits_kept": 0, "elsewhere": 1, "gone": 1}
    build(config)
    check_prediction(result, col, root / "dist" / "all.apkg")
    col.close()
