"""What `deckgen build` and `deckgen watch` print: the change report, warnings and errors."""
from __future__ import annotations

import sys
from typing import TextIO

from deckgen.errors import BuildFailed
from deckgen.limits import MAX_ERRORS_PER_FILE
from deckgen.records import BuildReport


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
        print(f"{deck.deck_name}: {counts}", file=out)
        for mark, keys in (("+", deck.added), ("~", deck.changed)):
            for key in keys:
                print(f"  {mark} {key}", file=out)
        for key in deck.removed:
            print(f'  - {key}  (import never deletes: find it in Anki\'s browser with  "Meta:{key}"  and delete it there)', file=out)
    if not any_change:
        print("no note changed since the last build", file=out)
    written = f"{len(report.written)} written" if report.written else "all unchanged"
    seconds = report.stats.get("seconds", 0)
    print(f"{plural(report.notes, 'note')} in {plural(len(report.packages), 'package')} ({written}) in {seconds:.2f} s", file=out)


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
