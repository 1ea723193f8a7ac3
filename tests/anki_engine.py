"""Helpers that drive Anki's own engine (the `anki` package): import, render, review.

These are the real thing, not mocks: the same Rust backend Anki desktop uses.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import anki.collection  # noqa: F401  (must come before anki.cards: circular import otherwise)
from anki.cards import Card
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition

IF_NEWER = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER


def new_collection(folder: Path) -> Collection:
    folder.mkdir(parents=True, exist_ok=True)
    return Collection(str(folder / "collection.anki2"))


def import_package(col: Collection, apkg: Path):
    """Import with the desktop defaults (update notes only when the incoming one is newer)."""
    request = ImportAnkiPackageRequest(
        package_path=str(apkg),
        options=ImportAnkiPackageOptions(
            merge_notetypes=False,
            update_notes=IF_NEWER,
            update_notetypes=IF_NEWER,
            with_scheduling=False,
            with_deck_configs=False,
        ),
    )
    response = col.import_anki_package(request)
    col.models._clear_cache()
    return response.log


@dataclass
class RenderedCard:
    card_id: int
    note_guid: str
    question: str
    answer: str


def render_all(col: Collection) -> list[RenderedCard]:
    """Render every card; a template error raises, as Anki would show it to the user."""
    cards = []
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        col._backend.render_existing_card(card_id=card_id, browser=False, partial_render=True)
        out = card.render_output(reload=True)
        cards.append(RenderedCard(card_id, card.note().guid, out.question_text, out.answer_text))
    return cards


def note_by_guid(col: Collection, guid: str):
    note_id = col.db.scalar("select id from notes where guid=?", guid)
    return col.get_note(note_id) if note_id else None


def review_all(col: Collection) -> int:
    """Answer every due card once ('good') through the v3 scheduler; returns how many."""
    answered = 0
    for deck in col.decks.all_names_and_ids():
        conf = col.decks.config_dict_for_deck_id(deck.id)
        conf["new"]["perDay"] = 9999
        conf["rev"]["perDay"] = 9999
        col.decks.update_config(conf)
    col.decks.select(col.decks.id_for_name("Default") or 1)
    for deck in col.decks.all_names_and_ids():
        col.decks.select(deck.id)
        while True:
            queued = col.sched.get_queued_cards(fetch_limit=1)
            if not queued.cards:
                break
            card = Card(col, backend_card=queued.cards[0].card)
            card.start_timer()
            answer = col.sched.build_answer(card=card, states=queued.cards[0].states, rating=3)
            col.sched.answer_card(answer)
            answered += 1
            if answered > 100000:
                raise RuntimeError("scheduler keeps returning cards")
    return answered


def visible_text(card_html: str) -> str:
    """Card HTML as text: tags dropped, entities decoded (what MathJax and the reader see)."""
    without_style = re.sub(r"<style.*?</style>", "", card_html, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", without_style))


def card_problems(side_html: str) -> list[str]:
    """What a reviewer would see as broken on one side of a rendered card."""
    text = visible_text(side_html)
    problems = []
    if not text.strip():
        problems.append("blank side")
    if "{{c" in text:
        problems.append("cloze markup left unrendered")
    if "DGTOK" in side_html:
        problems.append("placeholder token left in the card")
    bare = text.replace("\\\\", "")  # `\\[4pt]` is a TeX line break, not a delimiter
    if bare.count("\\(") != bare.count("\\)") or bare.count("\\[") != bare.count("\\]"):
        problems.append("unbalanced math delimiters")
    return problems
