"""Plan and render the notes of the topics that changed, on every core.

In:  parsed topics, the media and sympy results the other stages made, and the rendered notes of
     the last build (by render key).
Out: one `NotePlan` per note (what its fields are rendered from, and the key of that), then a
     `CompiledTopic` per topic: notes whose plan is unchanged are taken from the last build, the
     others are rendered (Markdown → HTML) and their formulas checked, spread over the cores.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deckgen import limits
from deckgen.builder import media
from deckgen.builder.render import ref_html, render_key, render_note, sympy_html
from deckgen.config import BuildConfig
from deckgen.errors import ContentError, ErrorList
from deckgen.math import compute
from deckgen.records import CompiledTopic, Note, RenderedNote, Topic
from deckgen.runtime import progress
from deckgen.runtime.keys import note_key
from deckgen.source import sanitize

if TYPE_CHECKING:
    from deckgen.figures.render import FigureMedia

PARALLEL_MIN_NOTES = 400  # below this, starting worker processes costs more than it saves
PROGRESS_MIN_NOTES = 1000  # fewer render in a second or two (the flagship's 246 in under one): no progress shown


@dataclass(frozen=True)
class NotePlan:
    """What one note's fields are rendered from."""

    note: Note
    deck_id: str
    deck_tags: tuple[str, ...]
    replacements: dict[str, str]  # HTML for each image and sympy placeholder in the note
    media: tuple[str, ...]  # media file names the note uses
    key: str  # render key: equal keys give equal fields
    source: str = ""  # source key: what the author wrote (see source_key)
    allow_scripts: bool = False  # the deck opted out of the card allowlist


@dataclass(frozen=True)
class TopicPlan:
    topic: Topic
    notes: tuple[NotePlan, ...]


@dataclass(frozen=True)
class Rendering:
    """One rendered note (None when it cannot be rendered) and the problems of its formulas."""

    note: RenderedNote | None
    problems: tuple[ContentError, ...]


def plan(config: BuildConfig, topics: list[Topic], figures: dict[str, FigureMedia], sympy: compute.Results, titles: dict[str, str], errors: ErrorList, figure_origins: dict[str, str] | None = None) -> list[TopicPlan]:
    origins_of = figure_origins or {}
    plans = []
    for topic in topics:
        markdown_file = config.root / topic.location.path
        notes = []
        for note in topic.notes:
            replacements, names = _note_media(config, note, markdown_file, figures, errors)
            for block in note.sympy_blocks:
                shows = compute.result_for(sympy, block)
                replacements[block.token] = sympy_html(shows) if shows is not None else ""
            for ref in note.refs:
                replacements[ref.token] = ref_html(titles.get(ref.target, ref.target))
            key = render_key(note, topic.deck_id, topic.tags, replacements)
            origins = {ref.token: origins_of.get(ref.figure_name, "") if ref.figure_name else replacements.get(ref.token, "") for ref in note.media}
            origins.update((ref.token, titles.get(ref.target, "")) for ref in note.refs)
            source = source_key(note, topic.deck_id, topic.tags, origins)
            notes.append(NotePlan(note, topic.deck_id, topic.tags, replacements, tuple(dict.fromkeys(names)), key, source, topic.allow_scripts))
        plans.append(TopicPlan(topic, tuple(notes)))
    return plans


def source_key(note: Note, deck_id: str, deck_tags: tuple[str, ...], origins: dict[str, str]) -> str:
    """What the author wrote for a note, without any library's output: its Markdown, formulas,
    sympy code, details, deck id and tags, and for each figure, image and reference what it
    stands for (the figure's script, the image's content-hashed name, the cited question).
    A new Pygments or matplotlib changes the rendered fields but not this (lockfile.update)."""
    formulas = [(token, f.tex, f.display) for token, f in note.formulas]
    blocks = [(block.token, block.code) for block in note.sympy_blocks]
    media = [(ref.token, ref.target, ref.caption) for ref in note.media]
    details = [(d.token, d.label, d.text) for d in note.details]
    refs = [(ref.token, ref.target) for ref in note.refs]
    return note_key("source", note.note_id, note.kind.value, note.front, note.back, formulas, blocks, media, details, refs, deck_id, deck_tags, note.tags, sorted(origins.items()))[:16]


def _note_media(config: BuildConfig, note: Note, markdown_file: Path, figures: dict[str, FigureMedia], errors: ErrorList) -> tuple[dict[str, str], list[str]]:
    replacements: dict[str, str] = {}
    names: list[str] = []
    for ref in note.media:
        name = ref.figure_name
        if note.remote and media.is_remote(ref.target):  # the note opted in: the card fetches it
            replacements[ref.token] = media.image_html(ref.target, ref.caption)
            continue
        if name is not None:
            fig = figures.get(name)
            if fig:
                replacements[ref.token] = media.figure_html(fig.day, fig.night, ref.caption)
                names += [fig.day, fig.night]
            continue
        file_name = media.local_image(ref, markdown_file, config.content_dir, config.cache_dir / "media", errors)
        if file_name:
            replacements[ref.token] = media.image_html(file_name, ref.caption)
            names.append(file_name)
    return replacements, names


def compile_topics(plans: list[TopicPlan], previous: dict[str, RenderedNote], jobs: int, check_all: bool, errors: ErrorList,
                   mode: progress.Mode = progress.Mode.OFF) -> tuple[list[CompiledTopic], int]:
    """Render every note without an identical rendering from the last build, and check its
    formulas (with `check_all`, also the formulas of the notes kept); returns the topics and how
    many notes were rendered. Nothing is returned when any note has an error."""
    todo = [p for topic in plans for p in topic.notes if p.key not in previous]
    if check_all:  # deckgen's code changed since these notes were rendered: check them again
        for kept in (p for topic in plans for p in topic.notes if p.key in previous):
            errors += formula_errors(kept.note)
            errors += _sanitized(previous[kept.key], kept)[1]
    rendered: dict[str, RenderedNote] = {}
    with progress.stage("notes", len(todo), mode if len(todo) >= PROGRESS_MIN_NOTES else progress.Mode.OFF, "note") as shown:
        results = _render_many(todo, jobs, shown.advance)
    for item, result in zip(todo, results, strict=True):
        errors += result.problems
        if result.note is not None:
            rendered[item.key] = result.note
    if errors:
        return [], len(todo)
    compiled = []
    for topic_plan in plans:
        topic = topic_plan.topic
        notes = tuple(dataclasses.replace(rendered.get(p.key) or previous[p.key], location=p.note.location, source_key=p.source) for p in topic_plan.notes)
        used = tuple(sorted({ref.figure_name for note in topic.notes for ref in note.media if ref.figure_name}))
        cited = tuple(sorted({ref.target for note in topic.notes for ref in note.refs}))
        description = topic.description if topic.allow_scripts else sanitize.sanitized(topic.description)
        if description is None:
            errors.add(topic.location, "the deck description holds HTML that cards may not carry", sanitize.HINT)
            continue
        compiled.append(CompiledTopic(topic.deck_id, topic.deck_name, description, notes, topic.location, used, cited, topic.warnings))
    return compiled, len(todo)


def formula_errors(note: Note) -> list[ContentError]:
    from deckgen.math import texcheck

    return [
        ContentError(formula.location, f"formula {texcheck.shorten(formula.tex)}: {problem}", "fix the TeX; see the formula rules in docs/format.md")
        for _, formula in note.formulas
        for problem in texcheck.problems(formula)
    ]


class _RenderLimit(BaseException):
    """Raised by SIGPROF in the middle of Python-Markdown when a note used its CPU time."""


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    """SIGPROF after `seconds` of this process's CPU time (only the main thread can take signals;
    elsewhere no limit). A backstop: source/guards.py rejects the known slow inputs first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _RenderLimit()

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _sanitized(rendered: RenderedNote, item: NotePlan) -> tuple[RenderedNote, list[ContentError]]:
    """The note with its fields as the card allowlist (source/sanitize.py) lets them through,
    and an error for a field it would change; the source checks find such HTML at its line
    first, so this is the backstop for HTML that Markdown itself made."""
    if item.allow_scripts:
        return rendered, []
    problems: list[ContentError] = []

    def clean(value: str) -> str:
        cleaned = sanitize.sanitized(value, item.note.remote)
        if cleaned is None:
            found = sanitize.problems(value, item.note.remote)
            what = found[0].what if found else "markup the card allowlist refuses"
            problems.append(ContentError(item.note.location, f"the rendered card holds {what}", found[0].hint if found else sanitize.HINT))
        return cleaned or value

    front, back = clean(rendered.front), clean(rendered.back)
    if (front, back) != (rendered.front, rendered.back):
        rendered = dataclasses.replace(rendered, front=front, back=back)
    return rendered, problems


def _render_one(item: NotePlan) -> Rendering:
    note = item.note
    problems = formula_errors(note)
    try:
        with _cpu_limit(limits.RENDER_CPU_SECONDS):
            rendered = render_note(note, item.deck_id, item.deck_tags, item.replacements, item.media, item.key)
        rendered, refused = _sanitized(rendered, item)
        return Rendering(None if refused else rendered, (*problems, *refused))
    except RecursionError:  # Python-Markdown recurses once per level of nested lists and quotes
        problem = ContentError(note.location, "lists or quotes are nested too deeply to render", "use fewer levels of nesting (a few dozen at most)")
    except _RenderLimit:
        problem = ContentError(note.location, f"the note used more than {limits.RENDER_CPU_SECONDS:g} s of CPU time to render", "look for long runs of unmatched '[', '`' or '<' and remove them, or escape them as \\[")
    return Rendering(None, (*problems, problem))


_TODO: list[NotePlan] = []  # the notes `_render_many` hands out, set while its worker processes run


def _render_slice(bounds: tuple[int, int]) -> list[Rendering]:
    return [_render_one(item) for item in _TODO[bounds[0]:bounds[1]]]


def _render_many(todo: list[NotePlan], jobs: int, on_done: Callable[[int], None]) -> list[Rendering]:
    workers = jobs or os.cpu_count() or 1
    if workers < 2 or len(todo) < PARALLEL_MIN_NOTES:
        out = []
        for item in todo:
            out.append(_render_one(item))
            on_done(1)
        return out
    import gc
    import multiprocessing

    global _TODO
    # fork: the children inherit the parsed notes in `_TODO` and get only index ranges; sending
    # the notes themselves cost more CPU (pickling) than rendering a third of them. Freezing the
    # heap first keeps the children's garbage collector from touching (and copying) its pages.
    _TODO = todo
    size = max(1, len(todo) // (workers * 4))
    slices = [(start, min(start + size, len(todo))) for start in range(0, len(todo), size)]
    gc.freeze()
    try:
        from deckgen.runtime.isolation import die_with_parent

        with multiprocessing.get_context("fork").Pool(workers, die_with_parent, (os.getpid(),)) as pool:
            out = []
            for part in pool.imap(_render_slice, slices):
                out += part
                on_done(len(part))
            return out
    finally:
        gc.unfreeze()
        _TODO = []
