"""`deckgen ids --write`: give every note without an id one, changing nothing else in the file;
and the source side of `deckgen mv OLD NEW` (builder/rename.py keeps the note's GUID).

In:  the content files.
Out: for each heading without `{#id}`, a new id derived from the question (ASCII words when there
     are any, else a short hash), unique across all topics; existing ids are changed only by
     `renamed`, which rewrites one heading and the `[[id]]` references to it.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from deckgen.errors import ErrorList
from deckgen.source.parse import HEADING_ID_RE, HEADING_RE, decode, heading_indexes, headings
from deckgen.source.scan import FENCE_RE, REF_RE

_WORD_RE = re.compile(r"[A-Za-z0-9]+")


def check_readable(paths: list[Path], display) -> None:
    """Raise BuildFailed if a file is not UTF-8 text: writing ids into it would damage it."""
    errors = ErrorList()
    for path in paths:
        found = ErrorList()
        if decode(path.read_bytes(), display(path), found) is None:
            errors += found
    errors.raise_if_any()


def missing_ids(path: Path) -> list[tuple[int, str]]:
    """(line number, heading) of each note heading without an id."""
    # Listing only reads: a file that is not UTF-8 is reported by the build, not here.
    lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
    return [(i + 1, lines[i]) for i in heading_indexes(lines) if not HEADING_ID_RE.match(lines[i])]


def existing_ids(paths: list[Path]) -> set[str]:
    ids: set[str] = set()
    for path in paths:
        ids.update(note_id for _, _, note_id in headings(path.read_text(encoding="utf-8-sig", errors="replace").splitlines()))
    return ids


def write_ids(path: Path, taken: set[str]) -> list[tuple[int, str]]:
    """Add ids to `path` in place; returns (line, id) for each id added. `taken` grows."""
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    added = []
    for i in heading_indexes(bare):
        if HEADING_ID_RE.match(bare[i]):
            continue
        heading = HEADING_RE.match(bare[i])
        question = heading.group(1) if heading else bare[i]
        new_id = _new_id(question, taken)
        taken.add(new_id)
        ending = lines[i][len(bare[i]):]
        lines[i] = f"{bare[i].rstrip()} {{#{new_id}}}{ending}"
        added.append((i + 1, new_id))
    if added:
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode("utf-8"))
    return added


def _new_id(question: str, taken: set[str]) -> str:
    words = [w.lower() for w in _WORD_RE.findall(question)][:5]
    base = "-".join(words)[:40].strip("-") or "q-" + hashlib.sha256(question.encode()).hexdigest()[:6]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


# ---- deckgen mv: rename an id --------------------------------------------------------------------


def defined_at(paths: list[Path], note_id: str) -> list[tuple[Path, int]]:
    """(file, 1-based line) of each heading that defines `note_id`."""
    found = []
    for path in paths:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
        found += [(path, index + 1) for index, _, found_id in headings(lines) if found_id == note_id]
    return found


def renamed(raw: bytes, old: str, new: str) -> tuple[bytes, int, int]:
    """The file's bytes with heading `{#old}` as `{#new}` and every `[[old]]` outside fenced
    code as `[[new]]`, nothing else changed; and how many headings and references changed."""
    bom = raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    heads = refs = 0
    for i in heading_indexes(bare):
        match = HEADING_ID_RE.match(bare[i])
        if match and match.group(2).strip() == old:
            at = bare[i].rindex("{#")
            end = bare[i].index("}", at)
            lines[i] = bare[i][:at] + "{#" + new + bare[i][end:] + lines[i][len(bare[i]):]
            heads += 1
    code = set(_fenced(bare))
    for i, line in enumerate(lines):
        if i in code:
            continue
        hits = sum(1 for m in REF_RE.finditer(line) if m.group(1) == old)
        if hits:
            lines[i] = REF_RE.sub(lambda m: f"[[{new}]]" if m.group(1) == old else m.group(0), line)
            refs += hits
    return (b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode("utf-8"), heads, refs


def _fenced(lines: list[str]) -> list[int]:
    """Indexes of the lines inside fenced code (and the fences)."""
    inside, fence = [], None
    for i, line in enumerate(lines):
        if fence:
            inside.append(i)
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
        elif (match := FENCE_RE.match(line)) is not None:
            inside.append(i)
            fence = match.group(2)
    return inside
