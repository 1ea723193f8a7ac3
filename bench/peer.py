"""The reference peer, `markdown-anki-decks`, in its own virtual environment, fed our content.

In:  a deckgen content folder.
Out: the same notes in the peer's input format (`# deck title`, then `## question` and the answer
     up to the next `##`), and the path of its `mdankideck` command.

What the conversion changes, because the peer has no equivalent: front matter, note ids and
`tags:`/`type:` lines are dropped; `![caption](figure:NAME)` becomes a reference to a PNG placed
next to the file (the peer only packs local images, and computes no figures). Math, code blocks,
lists and prose are passed as they are: the peer runs them through Python-Markdown with code
highlighting, which is the work being compared.
"""
from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

PEER = "markdown-anki-decks==1.1.1"
# It needs click<8.2 to do anything (newer click breaks its typer 0.4) and Pygments for codehilite.
PEER_DEPS = ("click<8.2", "pygments")
FIGURE_RE = re.compile(r"!\[([^\]\n]*)\]\(figure:([^)\s]+)\)")
HEADING_ID_RE = re.compile(r"\s*\{#[^}]*\}\s*$")
META_RE = re.compile(r"^(tags|type)\s*:.*$")
# A 1×1 grey PNG, so the peer packs an image where we pack a figure.
_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg==")


def ensure_venv(venv: Path) -> Path:
    """The peer's command, installing it into `venv` on first use."""
    command = venv / "bin" / "mdankideck"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", PEER, *PEER_DEPS], check=True)
    return command


def convert(content_dir: Path, out_dir: Path) -> int:
    """Write one peer input file per topic into `out_dir`; return the number of notes written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in sorted(content_dir.glob("*.md")):
        text, notes = _convert(path.read_text(encoding="utf-8"), out_dir)
        (out_dir / path.name).write_text(text, encoding="utf-8")
        total += notes
    return total


def _convert(text: str, out_dir: Path) -> tuple[str, int]:
    lines = text.split("\n")
    deck, body_start = "deck", 0
    if lines and lines[0].strip() == "---":
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        deck = next((line.split(":", 1)[1].strip() for line in lines[1:end] if line.startswith("deck:")), deck)
        body_start = end + 1
    out, notes, after_heading = [f"# {deck}", ""], 0, False
    for line in lines[body_start:]:
        if line.startswith("## "):
            out.append(HEADING_ID_RE.sub("", line))
            notes += 1
            after_heading = True
            continue
        if after_heading and META_RE.match(line):
            continue
        after_heading = False
        out.append(FIGURE_RE.sub(lambda m: _figure_png(m, out_dir), line))
    return "\n".join(out), notes


def _figure_png(match: re.Match, out_dir: Path) -> str:
    name = f"{match.group(2)}.png"
    if not (out_dir / name).exists():
        (out_dir / name).write_bytes(_PNG)
    return f"![{match.group(1)}]({name})"
