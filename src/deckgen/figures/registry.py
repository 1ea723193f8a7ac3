"""Which figures `figures/*.py` define, and which of them the notes use.

In:  the figure scripts, and the parsed topics' `figure:NAME` references.
Out: a `FigureSource` per figure name (its script, line and cache key); errors for unknown or
     badly named figures, located at the reference or at the script; warnings for unused ones.

Names are found by reading the scripts' source (`@figure("name")`), never by importing them, so a
build with nothing to render imports neither the scripts nor matplotlib.
"""
from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path

from deckgen.errors import ErrorList
from deckgen.records import Location, Topic
from deckgen.runtime.keys import figure_key, figure_shared_key, key_for, sha256
from deckgen.syntax import NAME_HINT, NAME_RE


@dataclass(frozen=True)
class FigureSource:
    name: str
    script: Path
    display: str  # the script's path for messages
    line: int
    key: str  # cache key: changes whenever the rendering could change
    origin: str = ""  # what the author wrote for it: its script and the helpers (no library versions)


def discover(figures_dir: Path, root: Path, errors: ErrorList) -> dict[str, FigureSource]:
    scripts = sorted(figures_dir.glob("*.py")) if figures_dir.is_dir() else []
    for script in [s for s in scripts if not s.resolve().is_relative_to(root.resolve())]:
        # A linked script would run code from, and open reading rights on, a folder outside the project.
        link = str(script.relative_to(root)) if script.is_relative_to(root) else str(script)
        errors.add(Location(link, 1), f"figure script {link} is a symbolic link to {script.resolve()}, outside the project", "copy the script into figures/ instead of linking to it")
        scripts.remove(script)
    helpers = [p for p in scripts if p.name.startswith("_")]
    shared = figure_shared_key([p.read_bytes() for p in helpers])
    helper_hashes = [sha256(p.read_bytes()) for p in helpers]
    found: dict[str, FigureSource] = {}
    for script in scripts:
        if script in helpers:
            continue
        display = _display(script, root)
        source = script.read_bytes()
        for name, line in _registered_names(source, display, errors):
            if name in found:
                other = found[name]
                errors.add(Location(display, line), f"figure '{name}' is already defined at {other.display}:{other.line}", "give one of them another name")
                continue
            found[name] = FigureSource(name, script.resolve(), display, line, figure_key(name, source, shared), key_for(name, sha256(source), helper_hashes))
    return found


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _registered_names(source: bytes, display: str, errors: ErrorList) -> list[tuple[str, int]]:
    try:
        tree = ast.parse(source, filename=display)
    except SyntaxError as exc:
        errors.add(Location(display, exc.lineno or 1), f"figure script has a syntax error: {exc.msg}", "fix the Python syntax")
        return []
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "id", getattr(deco.func, "attr", None)) == "figure":
                arg = deco.args[0] if deco.args else None
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    errors.add(Location(display, deco.lineno), "@figure needs the figure name as a literal string", 'write @figure("my-figure")')
                elif not NAME_RE.fullmatch(arg.value):
                    # The name becomes a media file name and part of the card's HTML.
                    errors.add(Location(display, deco.lineno), f"invalid figure name {arg.value!r}", NAME_HINT)
                else:
                    names.append((arg.value, deco.lineno))
    return names


def references(topics: list[Topic]) -> dict[str, list[Location]]:
    """Every `figure:NAME` reference in the notes, by name, in source order."""
    refs: dict[str, list[Location]] = {}
    for topic in topics:
        for note in topic.notes:
            for ref in note.media:
                if ref.figure_name is not None:
                    refs.setdefault(ref.figure_name, []).append(ref.location)
    return refs


def check_known(refs: dict[str, list[Location]], known: dict[str, FigureSource], errors: ErrorList) -> dict[str, list[Location]]:
    """The references to known figures; each reference to an unknown name is an error."""
    for name, uses in refs.items():
        if name not in known:
            for use in uses:
                errors.add(use, f"unknown figure {name!r}", unknown_figure_hint(name, known))
    return {name: uses for name, uses in refs.items() if name in known}


def unknown_figure_hint(name: str, known: dict[str, FigureSource]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    if close:
        where = ", ".join(f"{c} ({known[c].display}:{known[c].line})" for c in close)
        return f"did you mean {where}?"
    listed = ", ".join(sorted(known)[:8]) or "none yet"
    shown = name if NAME_RE.fullmatch(name) else "my-figure"
    return f"known figures: {listed}; define it with @figure(\"{shown}\") in figures/*.py"


def unused_warnings(known: dict[str, FigureSource], used: set[str]) -> list[str]:
    """A warning for each figure no note refers to (`used`: the names referred to)."""
    return [f"{s.display}:{s.line}: figure '{s.name}' is not used by any note" for name, s in sorted(known.items()) if name not in used]
