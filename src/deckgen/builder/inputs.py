"""What a build reads, hashed: the fingerprint that lets a build with nothing changed stop at once.

In:  a `BuildConfig`.
Out: `Inputs` (a hash of every topic file, image, figure script and of deckgen's own code), and
     `unchanged()`: the last build's report when nothing it read has changed and its packages
     are intact. Nothing heavy is imported here: a no-op build runs only this.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deckgen import limits
from deckgen.anki.pins import CONSTRAINTS
from deckgen.builder.store import STATE, BuildState
from deckgen.config import BuildConfig, require_content, settings_files
from deckgen.errors import BuildFailed, ContentError, ErrorList
from deckgen.records import BuildReport, Location
from deckgen.runtime.keys import code_key, inputs_key, key_for, library_versions, sha256
from deckgen.source.discover import check_links, is_topic, outside
from deckgen.source.guards import size_ok


@dataclass(frozen=True)
class Inputs:
    """Hashes of everything a build reads; equal inputs give equal outputs."""

    content: dict[str, str]  # display path of each topic file -> sha256 of its bytes
    assets: str  # hash of the other files under content/ (images)
    figure_sources: str  # hash of figures/*.py and the drawing libraries
    code: str  # deckgen's own code and the options that change every card

    def key(self, lock_sha: str) -> str:
        return inputs_key(self.content, self.assets, self.figure_sources, self.code, lock_sha)


def read_inputs(config: BuildConfig) -> Inputs:
    require_content(config)
    content: dict[str, str] = {}
    assets: list[tuple[str, str]] = []
    errors = ErrorList()
    for path in sorted(config.content_dir.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(config.content_dir).parts):
            continue
        size = path.stat().st_size
        if is_topic(path, config.content_dir):
            if check_links([path], config.root, config.display, errors) and size_ok(size, config.display(path), errors):
                content[config.display(path)] = sha256(path.read_bytes())
        elif outside(path, config.root):  # refused where a note uses it (builder/media.py): not read
            assets.append((str(path.relative_to(config.content_dir)), f"link:{path.resolve()}"))
        elif size > limits.MAX_IMAGE_BYTES:  # refused if a note uses it: not worth reading
            assets.append((str(path.relative_to(config.content_dir)), f"{size}:{path.stat().st_mtime_ns}"))
        else:
            assets.append((str(path.relative_to(config.content_dir)), sha256(path.read_bytes())))
    errors.raise_if_any()
    if not content:
        raise BuildFailed([ContentError(Location(config.display(config.content_dir)), "no Markdown files in the content folder", "add a topic file such as content/conv.md")])
    scripts = [p for p in sorted(config.figures_dir.glob("*.py")) if not outside(p, config.root)] if config.figures_dir.is_dir() else []
    # Library versions too: a new matplotlib or font must re-render the figures, not skip the build.
    figure_sources = key_for([(p.name, sha256(p.read_bytes())) for p in scripts], library_versions("figures"))
    # --math-images, the language that names the note types and cards, the project's CSS and
    # tags change every card or package, as a new deckgen version would. The pins decide which
    # notes are restamped (anki/pins.py).
    code = key_for(code_key(), *config.output_options(), pins_key(config.root))
    return Inputs(content, key_for(assets), figure_sources, code)


def watched(config: BuildConfig) -> tuple[list[str], list[str]]:
    """The folders and files a build reads, for the no-op stamp (builder/stamp.py): the topics
    and images, the figure scripts, deckgen's own code, the pins and the settings. The lock file
    is read too; it is recorded with the outputs."""
    import deckgen

    trees = [config.content_dir, config.figures_dir, Path(deckgen.__file__).parent]
    files = [config.root / CONSTRAINTS, *settings_files(config.root)]
    return [str(p) for p in trees], [str(p) for p in files]


def written(config: BuildConfig, packages: tuple[str, ...]) -> list[str]:
    """What a build leaves behind for the next one to check: its packages, the lock, its state."""
    return [*packages, str(config.lock_path), str(config.cache_dir / STATE)]


def pins_key(root) -> str:
    """The project's constraints.txt: a changed pin can change which notes are restamped."""
    path = root / CONSTRAINTS
    return sha256(path.read_bytes()) if path.is_file() else ""


def lock_digest(config: BuildConfig) -> str:
    return sha256(config.lock_path.read_bytes()) if config.lock_path.exists() else ""


def unchanged(config: BuildConfig, inputs: Inputs, state: BuildState) -> BuildReport | None:
    """The last build's report when nothing it read has changed and its outputs are intact."""
    if not state.inputs or state.inputs != inputs.key(lock_digest(config)):
        return None
    for name, digest in state.outputs.items():
        path = config.dist_dir / name
        if not path.exists() or sha256(path.read_bytes()) != digest:
            return None
    packages = tuple(str(config.dist_dir / name) for name in sorted(state.outputs))
    return BuildReport(packages, (), (), state.notes, state.warnings, {"cached": True, "figures_rendered": 0})
