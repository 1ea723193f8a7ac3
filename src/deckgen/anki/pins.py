"""The library versions a build's output depends on: installed, pinned, and recorded in the lock.

In:  the project folder (its `constraints.txt`, else deckgen's own), the installed distributions,
     and the versions `deckgen.lock` was stamped with.
Out: `Libraries`: which output libraries are installed at which version, which pins they break
     (drift: another machine's build, not an edit), and which pins moved since the lock was
     stamped (a deliberate upgrade, which may restamp notes, with the reason).

Why: a new Pygments changes the CSS of every note type, a new matplotlib the bytes (and so the
media names) of every figure. Restamping notes for that would overwrite every edit users made in
Anki, on every collaborator's machine whose pip resolved other versions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from deckgen.runtime.keys import LIBRARIES, installed_version

CONSTRAINTS = "constraints.txt"
OUTPUT_LIBRARIES = tuple(sorted({name for group in LIBRARIES.values() for name in group}, key=str.lower))
_PIN_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


@dataclass(frozen=True)
class Libraries:
    installed: dict[str, str]  # output library -> installed version
    pins: dict[str, str]  # output library -> the version the project pins
    pins_file: str  # where the pins come from, for messages ("" = the lock file's versions)
    stamped: dict[str, str]  # the versions deckgen.lock was stamped with
    drift: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (pinned, installed)
    upgraded: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (stamped, installed)

    @property
    def recorded(self) -> dict[str, str]:
        """The versions the new lock records: the old ones while the machine drifts."""
        return dict(self.stamped) if self.drift else dict(self.installed)

    def drift_warning(self) -> str:
        names = ", ".join(f"{name} {installed} (pinned: {pinned})" for name, (pinned, installed) in sorted(self.drift.items()))
        where = self.pins_file or "deckgen.lock (no constraints.txt)"
        command = "pip install " + " ".join(f"'{name}=={pinned}'" for name, (pinned, _) in sorted(self.drift.items()))
        return (
            f"installed versions differ from {where}: {names}. Cards may render differently from the author's build; "
            f"no note is restamped for that and deckgen.lock keeps its versions — to build exactly the author's packages, run: {command}"
        )

    def upgrade_reason(self) -> str:
        return "libraries upgraded: " + ", ".join(f"{name} {old} → {new}" for name, (old, new) in sorted(self.upgraded.items()))


def read_pins(root: Path) -> tuple[dict[str, str], str]:
    """Exact pins (`name==version`) of the output libraries, and the file they come from: the
    project's constraints.txt, else the one of the deckgen checkout that runs."""
    for path in (root / CONSTRAINTS, _own_constraints()):
        if path is not None and path.is_file():
            pins = {}
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                match = _PIN_RE.match(line)
                if match:
                    pins[_normalize(match.group(1))] = match.group(2)
            wanted = {_normalize(name): name for name in OUTPUT_LIBRARIES}
            return {wanted[n]: v for n, v in pins.items() if n in wanted}, _display(path, root)
    return {}, ""


def libraries(root: Path, stamped: dict[str, str] | None) -> Libraries:
    """`stamped` is None for a lock that never recorded versions: the pins (or what is
    installed) are taken as what it was stamped with."""
    installed = {name: installed_version(name) for name in OUTPUT_LIBRARIES}
    pinned, pins_file = read_pins(root)
    if stamped is None:
        stamped = {name: pinned.get(name, installed[name]) for name in OUTPUT_LIBRARIES}
    pins = {**{n: v for n, v in stamped.items() if n in installed}, **pinned}
    drift = {name: (pins[name], installed[name]) for name in OUTPUT_LIBRARIES if name in pins and pins[name] != installed[name]}
    upgraded = {} if drift else {name: (stamped.get(name, "-"), installed[name]) for name in OUTPUT_LIBRARIES if stamped.get(name) != installed[name]}
    return Libraries(installed, pins, pins_file, dict(stamped), drift, upgraded)


def _own_constraints() -> Path | None:
    """constraints.txt of the source checkout deckgen runs from (an editable install)."""
    checkout = Path(__file__).resolve().parents[3]
    pyproject = checkout / "pyproject.toml"
    if pyproject.is_file() and 'name = "deckgen"' in pyproject.read_text(encoding="utf-8", errors="replace"):
        return checkout / CONSTRAINTS
    return None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
