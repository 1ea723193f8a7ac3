"""How long the card backs of a project are: visible characters outside collapsed details.

    python tools/card_lengths.py [ROOT ...]      # default: this repository

For each project: notes, the median and maximum length of the back (formulas counted as their
TeX, figures and sympy results as nothing, `::: details` sections left out because they start
collapsed), how many backs are over 300 and over 600 characters, and how many questions ask
"有哪些" without saying how many.
"""
from __future__ import annotations

import html
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from deckgen.builder.render import markdown_to_html
from deckgen.errors import ErrorList
from deckgen.source.parse import parse_topic


def back_length(note) -> int:
    text = note.back if note.kind.value != "cloze" else note.front + note.back
    for token, formula in note.formulas:
        text = text.replace(token, formula.tex)
    for token in [b.token for b in note.sympy_blocks] + [m.token for m in note.media] + [d.token for d in note.details]:
        text = text.replace(token, "")
    visible = html.unescape(re.sub(r"<[^>]+>", "", markdown_to_html(text)))
    return len(re.sub(r"\s+", "", visible))


def main(roots: list[str]) -> None:
    for root in roots or [str(Path(__file__).resolve().parent.parent)]:
        lengths, open_ended = [], 0
        for path in sorted(Path(root, "content").glob("*.md")):
            topic = parse_topic(path.read_bytes(), path.name, ErrorList())
            for note in topic.notes if topic else ():
                lengths.append(back_length(note))
                open_ended += "有哪些" in note.front
        print(f"{root}: {len(lengths)} notes, median {statistics.median(lengths):.0f}, max {max(lengths)}, "
              f"over 300: {sum(n > 300 for n in lengths)}, over 600: {sum(n > 600 for n in lengths)}, '有哪些' prompts: {open_ended}")


if __name__ == "__main__":
    main(sys.argv[1:])
