"""Checks that keep careless or hostile input away from the slow parts, decided by counting.

Each check gives the same answer on a fast and a slow machine: input that would make
Python-Markdown crawl or recurse too deep is rejected before it reaches the renderer, with the
`path:line` to edit and a fix; nothing here depends on time.
"""
from __future__ import annotations

import re

from deckgen import limits
from deckgen.errors import ErrorList
from deckgen.records import Location

_QUOTE_OR_LIST_RE = re.compile(r"[ \t]*(?:>[ \t]?|(?:[-*+]|\d{1,9}[.)])[ \t]+)")
_NESTING_CHARS = " \t>-*+.)0123456789"  # all that _QUOTE_OR_LIST_RE matches


def size_ok(size: int, path: str, errors: ErrorList) -> bool:
    """A topic file over MAX_FILE_BYTES is refused before it is read."""
    if size <= limits.MAX_FILE_BYTES:
        return True
    errors.add(Location(path, 1), f"the file is {size / 2**20:.1f} MiB; a topic file may be at most {limits.MAX_FILE_BYTES // 2**20} MiB", "split it into several topic files")
    return False


def nesting_depth(line: str) -> int:
    """How many levels of lists and quotes `line` opens, counted generously: every two columns of
    indentation and every list marker or `>` is a level (Python-Markdown needs at least this many
    recursions for it)."""
    depth = 0
    pos = 0
    while True:
        match = _QUOTE_OR_LIST_RE.match(line, pos)
        if not match or match.end() == pos:
            break
        indent = len(match.group()) - len(match.group().lstrip(" \t"))
        depth += 1 + indent // 2
        pos = match.end()
    return depth


def check_markdown(text: str, first_line: int, path: str, errors: ErrorList) -> bool:
    """False (with an error at the line) when `text` nests too deeply or opens too many '['
    that never close; `text` is a note part with code and formulas already lifted out."""
    ok = True
    for offset, line in enumerate(text.split("\n")):
        if len(line) - len(line.lstrip(_NESTING_CHARS)) <= limits.MAX_NESTING:
            continue  # each level takes at least one of these characters: this line cannot be too deep
        depth = nesting_depth(line)
        if depth > limits.MAX_NESTING:
            errors.add(Location(path, first_line + offset), f"lists or quotes are nested {depth} levels deep (at most {limits.MAX_NESTING})", "use fewer levels of nesting: split the list, or make the inner part a table or a new paragraph")
            ok = False
            break
    if text.count("[") <= limits.MAX_OPEN_BRACKETS:
        return ok  # too few to be too many open (most texts)
    open_brackets = 0
    first_open = 0
    for match in re.finditer(r"\\.|\[|\]", text):
        if match.group() == "[":
            if open_brackets == 0:
                first_open = match.start()
            open_brackets += 1
        elif match.group() == "]" and open_brackets:
            open_brackets -= 1
    if open_brackets > limits.MAX_OPEN_BRACKETS:
        where = Location(path, first_line + text.count("\n", 0, first_open))
        errors.add(where, f"{open_brackets} '[' are never closed (at most {limits.MAX_OPEN_BRACKETS})", "close them with ']', or write a literal bracket as \\[")
        ok = False
    return ok
