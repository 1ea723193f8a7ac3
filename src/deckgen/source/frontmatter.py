"""A topic file's YAML front matter: the deck it makes, validated.

In:  the file's lines and its display path.
Out: a `Header` (deck name, deck id, tags, description, allow_scripts) and the index of the first
     body line; every problem recorded in the caller's `ErrorList` at its line, with a fix.
"""
from __future__ import annotations

import difflib
import re
import reprlib
from dataclasses import dataclass
from typing import Any

from deckgen.config import ALL_PACKAGE
from deckgen.errors import ErrorList
from deckgen.records import Location
from deckgen.source.scan import SCRIPT_HINT, unsafe_html
from deckgen.syntax import NAME_RE, TAG_RE

KEYS = ("deck", "id", "tags", "description", "allow_scripts")
TOP_KEY_RE = re.compile(r"^([^\s#:-][^:]*?)\s*:(\s|$)")
# File names Windows refuses whatever the extension, so dist/<id>.apkg could not be written there.
WINDOWS_NAMES = {"con", "prn", "aux", "nul", *(f"{p}{n}" for p in ("com", "lpt") for n in range(10))}


@dataclass(frozen=True)
class Header:
    deck: str  # the Anki deck name, levels joined by '::'
    id: str  # the stable deck id
    tags: tuple[str, ...]
    description: str
    allow_scripts: bool


def read(lines: list[str], path: str, errors: ErrorList) -> tuple[Header | None, int]:
    """The validated header and the index of the first body line."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        errors.add(Location(path, 1), "the file is empty", "start it with front matter (---, deck: ..., id: ..., ---) and add notes")
        return None, 0
    if lines[first].strip() != "---":
        errors.add(
            Location(path, first + 1),
            "the file does not start with YAML front matter",
            "begin the file with a line '---', then 'deck: Name::Topic' and 'id: topic-id', then '---'",
        )
        return None, 0
    end = next((i for i in range(first + 1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        errors.add(Location(path, first + 1), "front matter is never closed", "add a line '---' after the last front matter field")
        return None, 0
    import yaml  # deferred: only needed when a file actually changed and is parsed

    try:
        # PyYAML refuses a tab even after `key:`, where editors that align values put one.
        header = yaml.safe_load("\n".join(lines[first + 1 : end]).replace("\t", " ")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first + 2 + (mark.line if mark else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        tabs = any("\t" in line for line in lines[first + 1 : end])
        hint = "indent with spaces: YAML does not allow tabs" if tabs else "write one 'key: value' per line; quote values that contain ':' or '#'"
        errors.add(Location(path, line), f"front matter is not valid YAML: {problem}", hint)
        return None, end + 1
    _check_repeated_keys(lines, first, end, path, errors)
    return _check(header, lines, first, end, path, errors), end + 1


def _check_repeated_keys(lines: list[str], first: int, end: int, path: str, errors: ErrorList) -> None:
    """YAML silently keeps the last of two equal keys; the author meant one of them."""
    seen: dict[str, int] = {}
    for i in range(first + 1, end):
        match = TOP_KEY_RE.match(lines[i])
        if not match:
            continue
        key = match.group(1)
        if key in seen:
            errors.add(Location(path, i + 1), f"front matter key '{key}' is given twice (also on line {seen[key]})", "keep only one of them")
        else:
            seen[key] = i + 1


def key_line(data: bytes, key: str) -> int:
    """The line of `key:` in a file's front matter (1 when it is not there), for messages."""
    lines = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    for i, line in enumerate(lines[first + 1 :], start=first + 1):
        if line.strip() in ("---", "..."):
            break
        match = TOP_KEY_RE.match(line)
        if match and match.group(1) == key:
            return i + 1
    return 1


def _check(header: Any, lines: list[str], first: int, end: int, path: str, errors: ErrorList) -> Header | None:
    def line_of(key: str) -> int:
        for i in range(first + 1, end):
            if lines[i].lstrip().startswith(f"{key}:"):
                return i + 1
        return first + 1

    if not isinstance(header, dict):
        errors.add(Location(path, first + 2), "front matter must be 'key: value' pairs", "write e.g. 'deck: 深度学习::卷积' and 'id: conv'")
        return None
    ok = True
    for key in header:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(KEYS)}"
            errors.add(Location(path, line_of(str(key))), f"unknown front matter key {reprlib.repr(key)}", hint)
            ok = False
    deck = header.get("deck")
    if not isinstance(deck, str) or not deck.strip() or any(not part.strip() for part in deck.split("::")):
        errors.add(Location(path, line_of("deck")), "front matter needs 'deck', the Anki deck name", "write e.g. 'deck: 深度学习面试::卷积' (levels separated by '::', none empty)")
        ok = False
    deck_id = header.get("id")
    if not isinstance(deck_id, str) or not NAME_RE.fullmatch(deck_id):
        shown = f" (got {reprlib.repr(deck_id)})" if deck_id is not None else ""  # bounded: YAML aliases can nest a billion deep
        errors.add(Location(path, line_of("id")), f"front matter needs 'id', a stable deck id{shown}", "use lowercase letters, digits and '-', e.g. 'id: conv'; never change it once published")
        ok = False
    elif deck_id == ALL_PACKAGE:
        errors.add(Location(path, line_of("id")), f"deck id '{ALL_PACKAGE}' is reserved for the package with every topic", "choose another id")
        ok = False
    elif deck_id in WINDOWS_NAMES:
        errors.add(Location(path, line_of("id")), f"deck id '{deck_id}' is a reserved file name on Windows, so {deck_id}.apkg could not be saved there", f"choose another id, e.g. '{deck_id}-deck'")
        ok = False
    tags = header.get("tags", [])
    if isinstance(tags, str):
        tags = tags.split()
    if not isinstance(tags, list) or not all(isinstance(t, str) and TAG_RE.fullmatch(t) for t in tags):
        errors.add(Location(path, line_of("tags")), "front matter 'tags' must be a list of words without spaces", "write e.g. 'tags: [cnn, vision]'")
        ok = False
    description = header.get("description", "")
    if not isinstance(description, str):
        errors.add(Location(path, line_of("description")), "front matter 'description' must be text", "write e.g. 'description: 卷积与感受野'")
        ok = False
    allow_scripts = header.get("allow_scripts", False)
    if not isinstance(allow_scripts, bool):
        errors.add(Location(path, line_of("allow_scripts")), f"front matter 'allow_scripts' must be true or false (got {reprlib.repr(allow_scripts)})", "write 'allow_scripts: true' only if this deck's cards really need scripts, else remove the line")
        ok = False
    elif isinstance(description, str) and not allow_scripts:
        for problem, _ in unsafe_html(description):
            errors.add(Location(path, line_of("description")), f"{problem} in the deck description", SCRIPT_HINT)
            ok = False
    if not ok:
        return None
    assert isinstance(deck, str) and isinstance(deck_id, str) and isinstance(description, str)
    name = "::".join(p.strip() for p in deck.split("::"))
    return Header(name, deck_id, tuple(tags), description.strip(), allow_scripts)
