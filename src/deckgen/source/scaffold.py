"""`deckgen init`: a small project that builds and imports at once, to start a deck from.

In:  a folder (made if missing) and a label language.
Out: the template project of that language (`deckgen/data/init/<language>/`): `deckgen.toml`,
     two topics in `content/` (a sympy block, a figure, a cloze, a reversed note), a figure
     script, a `.gitignore` and a short README. A file that is already there is never
     overwritten: the folder is refused whole and nothing is written.

Template files are stored under names that tools leave alone: `dot-NAME` becomes `.NAME` (a
package drops hidden files) and a trailing `.in` is dropped (`curves.py.in` is no module of
deckgen's, for mypy, ruff or the architecture list).
"""
from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from deckgen.config import LANGUAGES
from deckgen.errors import BuildFailed, ContentError
from deckgen.records import Location


def template_files(language: str) -> dict[str, bytes]:
    """{path in the project: bytes} of the template project in `language`."""
    if language not in LANGUAGES:
        raise ValueError(f"no template project in {language!r}")
    root = resources.files("deckgen.data").joinpath("init", language)
    return dict(sorted(_walk(root, "")))


def _walk(folder: Traversable, prefix: str):
    for entry in folder.iterdir():
        name = entry.name.removesuffix(".in")
        name = "." + name.removeprefix("dot-") if name.startswith("dot-") else name
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", entry.read_bytes()


def create(target: Path, language: str) -> list[str]:
    """Write the template project into `target`; return the paths written."""
    files = template_files(language)
    if target.exists() and not target.is_dir():
        raise BuildFailed([ContentError(Location(str(target)), "is a file, not a folder", "give a new or empty folder to 'deckgen init'")])
    taken = sorted(rel for rel in files if (target / rel).exists() or (target / rel).is_symlink())
    if taken:
        raise BuildFailed([ContentError(
            Location(str(target)),
            f"already holds {', '.join(taken)}; nothing was written",
            "give a new or empty folder to 'deckgen init' (it never overwrites a file)",
        )])
    for rel, data in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as out:  # "x": a file that appeared meanwhile is not overwritten either
            out.write(data)
    return list(files)
