"""The flagship deck itself: it builds, every card renders in Anki, every seed question is covered."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from anki_engine import card_problems, import_package, new_collection, render_all
from conftest import REPO
from deckgen import BuildConfig, build

# Every question of the two seeds, numbered as printed; "b" marks the second use of a number.
SEED_QUESTIONS = (
    [f"s003-q{n}" for n in range(1, 55)]
    + ["s003-q31b", "s003-q32b", "s003-q33b", "s003-q56", "s003-q57", "s003-q58", "s003-q59"]
    + ["s000-q41", "s000-q41b"] + [f"s000-q{n}" for n in range(42, 51)]
)
SEEDS = REPO.parent / "shared" / "seeds"


@pytest.fixture(scope="module")
def imported(flagship):
    """The built flagship imported into a fresh collection."""

    report = build(BuildConfig(root=flagship))  # already built: returns at once
    col = new_collection(flagship / "anki-content")
    log = import_package(col, flagship / "dist" / "all.apkg")
    yield flagship, report, col, log
    col.close()


def test_seed_list_matches_the_seed_files():
    if not SEEDS.is_dir():
        pytest.skip("shared/seeds is not beside this checkout")
    found, seen = [], set()
    for line in (SEEDS / "003_cb41296fa5e8c7f6.txt").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^- (\d+)[.\s]", line):
            found.append(f"s003-q{m.group(1)}" + ("b" if f"s003-q{m.group(1)}" in seen else ""))
            seen.add(f"s003-q{m.group(1)}")
    for line in (SEEDS / "000_b7a47a92a6884a6f.txt").read_text(encoding="utf-8").splitlines():
        if (m := re.match(r"^(\d+) \S", line)) and int(m.group(1)) < 1000:
            found.append(f"s000-q{m.group(1)}" + ("b" if f"s000-q{m.group(1)}" in seen else ""))
            seen.add(f"s000-q{m.group(1)}")
    assert sorted(found) == sorted(SEED_QUESTIONS)


def test_every_seed_question_is_covered(imported):
    _, _report, col, _ = imported
    tags = {tag.lower() for nid in col.find_notes("") for tag in col.get_note(nid).tags}
    missing = [q for q in SEED_QUESTIONS if f"seed::{q}" not in tags]
    assert not missing, f"seed questions without a note: {missing}"


# The topics that go beyond the seeds (detection, segmentation, transformers, perception,
# deployment): their notes answer no seed question, so they carry only topic tags.
BEYOND_THE_SEEDS = {"detection", "segmentation", "vision-transformer", "perception", "deployment"}


def test_every_note_names_its_seed_question_and_its_topic(imported):
    _, _, col, _ = imported
    notes = [col.get_note(nid) for nid in col.find_notes("")]
    untagged = [n["Meta"] for n in notes if n["Meta"].split("/")[0] not in BEYOND_THE_SEEDS and not any(t.lower().startswith("seed::") for t in n.tags)]
    assert not untagged, f"notes without a seed:: tag: {untagged}"
    no_topic = [n["Meta"] for n in notes if not any(t.lower().startswith("topic::") for t in n.tags)]
    assert not no_topic, f"notes without a topic:: tag: {no_topic}"
    decks = {n["Meta"].split("/")[0] for n in notes}
    assert BEYOND_THE_SEEDS <= decks


def test_every_card_renders_with_its_media(imported):
    _root, report, col, log = imported
    assert not log.conflicting and not log.duplicate
    assert len(log.new) == report.notes
    cards = render_all(col)
    assert len(cards) >= report.notes
    for card in cards:
        for side in (card.question, card.answer):
            assert not card_problems(side), (card.note_guid, card_problems(side))
    check = col.media.check()
    assert not check.missing, check.missing
    for name in check.unused:
        pytest.fail(f"media not used by any card: {name}")


def test_each_topic_package_imports_on_its_own(imported, tmp_path):
    _root, report, _, _ = imported
    for package in report.packages:
        col = new_collection(tmp_path / Path(package).stem)
        log = import_package(col, Path(package))
        assert log.new and not log.conflicting
        assert not col.media.check().missing
        col.close()
