"""The build, top to bottom: gather and validate everything first, then write.

    discover → parse → figures → sympy → check formulas → render → lock → package → write

In:  a `BuildConfig`.
Out: a `BuildReport`; or `BuildFailed` with every content error found, in which case nothing
     in dist/ and nothing in the lock file has changed.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import compute, figures, lockfile, media, texcheck
from .cache import Cache, atomic_write, sha256
from .config import ALL_PACKAGE, BuildConfig
from .errors import BuildFailed, ContentError, ErrorList
from .notetypes import note_types
from .parse import parse_topic
from .records import BuildReport, CompiledTopic, Location, NoteKind, Topic
from .render import render_note


@dataclass(frozen=True)
class Gathered:
    """Everything validated and rendered, ready to be written."""

    topics: list[CompiledTopic]
    media_files: dict[str, Path]
    warnings: list[str]
    stats: dict


def build(config: BuildConfig) -> BuildReport:
    """Build every topic in `config.content_dir` into `config.dist_dir`."""
    started = time.perf_counter()
    with _exclusive(config):
        gathered = gather(config)
        report = _write(config, gathered)
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report


def gather(config: BuildConfig) -> Gathered:
    """Parse, render and check everything; raise BuildFailed listing every error."""
    errors = ErrorList()
    cache = Cache(config.cache_dir)
    topics = _parse_all(config, errors)
    _check_across_topics(topics, errors)
    known = figures.discover(config.figures_dir, config.root, errors)
    figure_media, rendered_figures = _figures(config, topics, known, cache, errors)
    blocks = [block for topic in topics for note in topic.notes for block in note.sympy_blocks]
    sympy_results, blocks_run = compute.run_blocks(blocks, cache, errors, config.jobs, config.sympy_timeout)
    _check_formulas(topics, errors)
    media_files: dict[str, Path] = {}
    compiled = [_render_topic(config, topic, figure_media, sympy_results, media_files, errors) for topic in topics]
    errors.raise_if_any()
    used = {name for topic in topics for note in topic.notes for ref in note.media if (name := ref.figure_name)}
    warnings = [f"{known[name].display}:{known[name].line}: figure '{name}' is not used by any note" for name in sorted(set(known) - used)]
    stats = {"topics": len(topics), "figures_rendered": rendered_figures, "sympy_blocks_run": blocks_run}
    return Gathered(compiled, media_files, warnings, stats)


def _parse_all(config: BuildConfig, errors: ErrorList) -> list[Topic]:
    if not config.content_dir.is_dir():
        raise BuildFailed([ContentError(Location(config.display(config.content_dir)), "content folder not found", "create it and put one Markdown file per topic in it")])
    paths = sorted(config.content_dir.glob("*.md"))
    if not paths:
        raise BuildFailed([ContentError(Location(config.display(config.content_dir)), "no Markdown files in the content folder", "add a topic file such as content/conv.md")])
    topics = []
    for path in paths:
        topic = parse_topic(path.read_bytes(), config.display(path), errors)
        if topic is not None:
            topics.append(topic)
    return topics


def _check_across_topics(topics: list[Topic], errors: ErrorList) -> None:
    deck_ids: dict[str, Topic] = {}
    deck_names: dict[str, Topic] = {}
    note_ids: dict[str, Location] = {}
    for topic in topics:
        if topic.deck_id == ALL_PACKAGE:
            errors.add(topic.location, f"deck id '{ALL_PACKAGE}' is reserved for the package with every topic", "choose another id")
        for seen, value, what in ((deck_ids, topic.deck_id, "deck id"), (deck_names, topic.deck_name, "deck name")):
            if value in seen:
                errors.add(topic.location, f"{what} '{value}' is also used by {seen[value].location.path}", f"give each topic its own {what}")
            seen[value] = topic
        for note in topic.notes:
            if note.note_id in note_ids:
                errors.add(note.location, f"note id '{note.note_id}' is also used at {note_ids[note.note_id]}", "note ids must be unique across all topics; rename one")
            else:
                note_ids[note.note_id] = note.location


def _figures(config, topics, known, cache, errors):
    needed: dict[str, list[Location]] = {}
    for topic in topics:
        for note in topic.notes:
            for ref in note.media:
                name = ref.figure_name
                if name is None:
                    continue
                if name in known:
                    needed.setdefault(name, []).append(ref.location)
                else:
                    errors.add(ref.location, f"unknown figure '{name}'", figures.unknown_figure_hint(name, known))
    return figures.render(needed, known, cache, config.cache_dir / "media", errors, config.jobs, config.figure_timeout, config.progress)


def _check_formulas(topics: list[Topic], errors: ErrorList) -> None:
    for topic in topics:
        for note in topic.notes:
            for _, formula in note.formulas:
                for problem in texcheck.problems(formula):
                    errors.add(formula.location, f"formula {_shorten(formula.tex)}: {problem}", "fix the TeX; see the formula rules in docs/format.md")


def _shorten(tex: str, limit: int = 60) -> str:
    tex = " ".join(tex.split())
    return f"'{tex}'" if len(tex) <= limit else f"'{tex[:limit - 1]}…'"


def _render_topic(config, topic: Topic, figure_media, sympy_results, media_files, errors) -> CompiledTopic:
    markdown_file = config.root / topic.location.path
    notes = []
    for note in topic.notes:
        replacements, names = {}, []
        for ref in note.media:
            name = ref.figure_name
            if name is not None:
                fig = figure_media.get(name)
                if fig:
                    replacements[ref.token] = media.figure_html(fig.day, fig.night, ref.caption)
                    names += [fig.day, fig.night]
                continue
            file_name = media.local_image(ref, markdown_file, config.content_dir, config.cache_dir / "media", errors)
            if file_name:
                replacements[ref.token] = media.image_html(file_name, ref.caption)
                names.append(file_name)
        for block in note.sympy_blocks:
            shows = compute.result_for(sympy_results, block)
            replacements[block.token] = _sympy_html(shows) if shows is not None else ""
        for name in names:
            media_files[name] = config.cache_dir / "media" / name
        notes.append(render_note(note, topic.deck_id, topic.tags, replacements, tuple(dict.fromkeys(names))))
    return CompiledTopic(topic.deck_id, topic.deck_name, topic.description, tuple(notes), topic.location)


def _sympy_html(shows: list[dict]) -> str:
    from .render import sympy_html

    return sympy_html(shows)


def _write(config: BuildConfig, gathered: Gathered) -> BuildReport:
    """Assign mod times, package every deck and replace the files in dist/ atomically."""
    types = note_types()
    old_lock = lockfile.load(config.lock_path)
    pairs = [(topic.deck_name, note) for topic in gathered.topics for note in topic.notes]
    lock = lockfile.update(old_lock, pairs, {kind.value: nt.content_hash for kind, nt in types.items()}, config.now)
    from .package import build_package  # deferred: genanki is only needed when writing

    outputs = {f"{topic.deck_id}.apkg": [topic] for topic in gathered.topics}
    outputs[f"{ALL_PACKAGE}.apkg"] = gathered.topics
    packages = {name: build_package(topics, types, lock.note_mods, lock.notetype_mods, gathered.media_files) for name, topics in outputs.items()}
    written = _replace_outputs(config, packages)
    atomic_write(config.lock_path, lockfile.dumps(lock.data).encode())
    stats = dict(gathered.stats, notes=len(pairs))
    return BuildReport(
        packages=tuple(str(config.dist_dir / name) for name in sorted(packages)),
        written=tuple(written),
        changes=lock.changes,
        notes=len(pairs),
        warnings=tuple(gathered.warnings),
        stats=stats,
    )


def _replace_outputs(config: BuildConfig, packages: dict[str, bytes]) -> list[str]:
    """Write each package next to its target, then rename; unchanged files are not touched."""
    config.dist_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(packages.items()):
        target = config.dist_dir / name
        if target.exists() and sha256(target.read_bytes()) == sha256(data):
            continue
        atomic_write(target, data)
        written.append(str(target))
    return written


@contextmanager
def _exclusive(config: BuildConfig):
    """One build at a time per project: a second one is refused, not interleaved."""
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(config.cache_dir / "build.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildFailed([ContentError(Location(config.display(config.cache_dir)), "another deckgen build is running in this project", "wait for it to finish, then build again")])
        yield
    finally:
        os.close(fd)


__all__ = ["build", "gather", "BuildFailed", "NoteKind"]
