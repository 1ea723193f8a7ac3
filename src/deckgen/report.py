"""What `deckgen build` and `deckgen watch` print: the change report, warnings and errors."""
from __future__ import annotations

import sys
from typing import TextIO

from deckgen.errors import BuildFailed
from deckgen.limits import MAX_ERRORS_PER_FILE
from deckgen.records import BuildReport, DeckChanges


def plural(count: int, word: str, plural_form: str = "") -> str:
    """`1 note`, `2 notes`; `plural_form` for words that do not just take an s."""
    return f"{count} {word if count == 1 else (plural_form or word + 's')}"


def note(text: str, err: TextIO = sys.stderr) -> None:
    """Something the user should know that is neither an error nor about the content."""
    print(f"note: {text}", file=err, flush=True)


def print_report(report: BuildReport, out: TextIO = sys.stdout) -> None:
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    any_change = False
    for deck in report.changes:
        if deck.empty:
            continue
        any_change = True
        counts = ", ".join(f"{len(keys)} {what}" for what, keys in (("added", deck.added), ("changed", deck.changed), ("removed", deck.removed)) if keys)
        renamed = f"renamed from {deck.renamed_from}" if deck.renamed_from else ""
        print(f"{deck.deck_name}: {'; '.join(part for part in (renamed, counts) if part)}", file=out)
        reasons = dict(deck.reasons)
        for mark, keys in (("+", deck.added), ("~", deck.changed)):
            for key in keys:
                why = f"  ({reasons[key]})" if key in reasons else ""
                print(f"  {mark} {key}{why}", file=out)
        for key in deck.removed:
            print(f"  - {key}  (import never deletes: the note stays in your collection with its review history; to delete it, and its history with it, search  {note_search(key)}  in Anki's browser)", file=out)
        for line in cards_elsewhere(deck):
            print(f"  {line}", file=out)
    if not any_change:
        print("no note changed since the last build", file=out)
    for notice in report.notices:
        print(f"note: {notice}", file=out)
    written = f"{len(report.written)} written" if report.written else "all unchanged"
    seconds = report.stats.get("seconds", 0)
    print(f"{plural(report.notes, 'note')} in {plural(len(report.packages), 'package')} ({written}) in {seconds:.2f} s", file=out)


def cards_elsewhere(deck: DeckChanges) -> list[str]:
    """What Anki does with the cards of notes whose deck changed, and the one action that
    completes the move: Anki's import never moves existing cards (anki-facts)."""
    lines = []
    if deck.renamed_from:
        topic = deck.topic
        lines.append(
            f"Anki matches decks by name: importing creates '{deck.deck_name}' and leaves your cards in '{deck.renamed_from}'. "
            f"To finish the rename, rename '{deck.renamed_from}' to '{deck.deck_name}' in Anki before importing (deck list → gear → Rename)"
            + (f"; if you already imported, search  {moved_search(topic, deck.deck_name)}  in Anki's browser, select all, Change Deck → {deck.deck_name}, then delete the empty '{deck.renamed_from}'" if topic else "")
        )
    olds = sorted({old for _, old in deck.moved_in})
    if olds:
        topic = deck.topic or deck.moved_in[0][0].split("/", 1)[0]
        lines.append(
            f"Anki's import never moves existing cards: the cards of the {plural(len(deck.moved_in), 'note')} moved here stay in {', '.join(olds)}. "
            f"To move them, search  {moved_search(topic, deck.deck_name)}  in Anki's browser, select all, Change Deck → {deck.deck_name}"
        )
    return lines


def note_search(key: str) -> str:
    """The Anki browser search that finds a note by its deckgen key ("deck id/note id")."""
    return f'"Meta:{key}"'


def moved_search(topic: str, deck_name: str) -> str:
    """The cards of a topic's notes that are not in its deck."""
    return f'"Meta:{topic}/*" -"deck:{search_text(deck_name)}"'


def search_text(text: str) -> str:
    """`text` matched literally in an Anki search term (`*`, `_`, `"` and `\\` are special)."""
    return "".join("\\" + ch if ch in '*_"\\' else ch for ch in text)


def print_errors(failed: BuildFailed, err: TextIO = sys.stderr, tail: str = "nothing was written, dist/ is unchanged") -> None:
    """Every error as `error: path:line: what — fix`, at most MAX_ERRORS_PER_FILE per file."""
    shown: dict[str, int] = {}
    for error in failed.errors:
        path = error.location.path
        shown[path] = shown.get(path, 0) + 1
        if shown[path] <= MAX_ERRORS_PER_FILE:
            print(f"error: {error}", file=err)
    for path, count in shown.items():
        if count > MAX_ERRORS_PER_FILE:
            print(f"error: {path}: {count - MAX_ERRORS_PER_FILE} more errors not shown — fix the ones above first", file=err)
    print(f"{plural(len(failed.errors), 'error')}; {tail}", file=err, flush=True)
