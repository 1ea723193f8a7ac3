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
from functools import lru_cache
from typing import Any

from deckgen import limits
from deckgen.config import ALL_PACKAGE
from deckgen.errors import ErrorList
from deckgen.records import Location
from deckgen.source import sanitize
from deckgen.source.scan import RAW_IMG_RE, SCRIPT_HINT, unsafe_html
from deckgen.syntax import NAME_RE, TAG_RE

KEYS = ("deck", "id", "tags", "description", "allow_scripts")
TOP_KEY_RE = re.compile(r"^([^\s#:-][^:]*?)\s*:(\s|$)")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # in names: newlines and tabs too
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

    # PyYAML refuses a tab even after `key:`, where editors that align values put one.
    loader = _loader_class()("\n".join(lines[first + 1 : end]).replace("\t", " "))
    try:
        node = loader.get_single_node()
        header = (loader.construct_document(node) if node is not None else None) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first + 2 + (mark.line if mark else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        tabs = any("\t" in line for line in lines[first + 1 : end])
        hint = getattr(exc, "hint", "") or ("indent with spaces: YAML does not allow tabs" if tabs else "write one 'key: value' per line; quote values that contain ':' or '#'")
        errors.add(Location(path, line), f"front matter is not valid YAML: {problem}", hint)
        return None, end + 1
    finally:
        loader.dispose()
    for key, line, other in loader.repeated:
        errors.add(Location(path, first + 2 + line), f"front matter key {reprlib.repr(key)} is given twice (also on line {first + 2 + other})", "keep only one of them")
    keys = {key_node.value: first + 2 + key_node.start_mark.line for key_node, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    return _check(header, keys, first, path, errors), end + 1


class _Limit(Exception):
    """Raised inside the YAML loader; turned into a YAMLError with the mark of the node."""


@lru_cache(maxsize=1)
def _loader_class() -> Any:
    """PyYAML's safe loader with three limits it lacks, each reported at its line: nesting (its
    composer recurses once per level: 20,000 '[' crash it), integer length (Python refuses to
    convert an integer of more than 4300 digits), and keys given twice in any spelling (YAML
    keeps the last silently: `id: a` and `"id": b` are the same key)."""
    import yaml
    from yaml.constructor import ConstructorError

    class Loader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.depth = 0
            self.repeated: list[tuple[Any, int, int]] = []  # key, line, line of the first

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            try:
                if self.depth > limits.MAX_YAML_NESTING:
                    error = yaml.composer.ComposerError(None, None, f"values are nested more than {limits.MAX_YAML_NESTING} levels deep", self.peek_event().start_mark)
                    error.hint = "front matter holds a few plain values: write 'tags: [a, b]', not nested lists"  # type: ignore[attr-defined]
                    raise error
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
                if isinstance(key_node, yaml.ScalarNode):
                    key = self.construct_object(key_node)
                    if key in seen:
                        self.repeated.append((key, key_node.start_mark.line, seen[key]))
                    seen.setdefault(key, key_node.start_mark.line)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node: Any) -> Any:
            digits = sum(ch.isalnum() for ch in str(node.value))
            if digits > limits.MAX_YAML_INT_DIGITS:
                error = ConstructorError(None, None, f"a number with {digits} digits (at most {limits.MAX_YAML_INT_DIGITS})", node.start_mark)
                error.hint = "write a shorter number, or quote it to make it text"  # type: ignore[attr-defined]
                raise error
            return super().construct_yaml_int(node)

    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
    return Loader


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


def tag_problem(tag: str) -> str:
    """What Anki would change about a tag (it drops control characters and renames empty
    levels to 'blank'), or a comma from 'a, b' ("" when the tag is fine)."""
    if control := CONTROL_RE.search(tag):
        return f"holds the control character U+{ord(control.group()):04X}"
    if "," in tag:
        return "holds a comma: tags are separated by spaces, not commas"
    if any(not level for level in tag.split("::")):
        return "has an empty level (Anki would rename it 'blank')"
    return ""


def _check_description(description: str, allow_scripts: bool, where: Location, errors: ErrorList) -> bool:
    """The deck description is HTML in Anki's deck overview: the card allowlist applies to it."""
    if control := CONTROL_RE.search(description.replace("\n", " ").replace("\t", " ")):
        errors.add(where, f"the deck description holds the control character U+{ord(control.group()):04X}", "delete it (an escape such as \\x1f in a quoted YAML string)")
        return False
    if allow_scripts:
        return True
    found = [(f"{problem} in the deck description", SCRIPT_HINT) for problem, _ in unsafe_html(description)]
    if not found and RAW_IMG_RE.search(description):
        found.append(("an <img> in the deck description", "remove it: the package carries only the images notes use, so the overview would show a broken image"))
    found += [(f"{p.what} in the deck description", p.hint) for p in sanitize.problems(description)][: 0 if found else 1]
    for message, hint in found:
        errors.add(where, message, hint)
    return not found


def _check(header: Any, keys: dict[str, int], first: int, path: str, errors: ErrorList) -> Header | None:
    def line_of(key: str) -> int:
        return keys.get(key, first + 1)

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
    elif control := CONTROL_RE.search(deck):
        errors.add(Location(path, line_of("deck")), f"the deck name {reprlib.repr(deck)} holds the control character U+{ord(control.group()):04X}", "write the name on one line without escapes such as \\n: Anki would drop the character and merge this deck with another")
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
    else:
        for tag in tags:
            if problem := tag_problem(tag):
                errors.add(Location(path, line_of("tags")), f"front matter tag {reprlib.repr(tag)} {problem}", "write e.g. 'tags: [cnn, vision::detection]'")
                ok = False
    description = header.get("description", "")
    if not isinstance(description, str):
        errors.add(Location(path, line_of("description")), "front matter 'description' must be text", "write e.g. 'description: 卷积与感受野'")
        ok = False
    allow_scripts = header.get("allow_scripts", False)
    if not isinstance(allow_scripts, bool):
        errors.add(Location(path, line_of("allow_scripts")), f"front matter 'allow_scripts' must be true or false (got {reprlib.repr(allow_scripts)})", "write 'allow_scripts: true' only if this deck's cards really need scripts, else remove the line")
        ok = False
    if isinstance(description, str):
        ok = _check_description(description, allow_scripts is True, Location(path, line_of("description")), errors) and ok
    if not ok:
        return None
    assert isinstance(deck, str) and isinstance(deck_id, str) and isinstance(description, str)
    name = "::".join(p.strip() for p in deck.split("::"))
    return Header(name, deck_id, tuple(tags), description.strip(), allow_scripts)
