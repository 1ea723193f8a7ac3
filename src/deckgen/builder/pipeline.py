"""The build, top to bottom: gather and validate everything first, then write.

    read inputs ─ unchanged? ─▶ done (nothing imported, nothing written)
        │ changed
    load or parse topics → identity checks → figures → sympy → plan notes → render → write

In:  a `BuildConfig`.
Out: a `BuildReport`; or `BuildFailed` with every content error found, in which case nothing
     in dist/ and nothing in the lock file has changed.

Work that did not change is not redone: a topic whose file and dependencies are unchanged is
read back compiled from the cache; inside a changed topic, each note whose inputs are unchanged
keeps its rendered fields; rendering the rest is spread over the cores.
"""
from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from deckgen.builder import pending, store
from deckgen.builder.inputs import Inputs, read_inputs, unchanged
from deckgen.builder.output import Gathered, exclusive, fail_on_warnings, merge_pending, plan, write
from deckgen.builder.store import BuildState
from deckgen.config import BuildConfig, require_content
from deckgen.errors import BuildFailed, ContentError, ErrorList, file_error
from deckgen.records import BuildReport, CompiledTopic, Location, Topic
from deckgen.runtime.cache import Cache
from deckgen.runtime.keys import topic_base_key

if TYPE_CHECKING:
    from deckgen.figures.registry import FigureSource
    from deckgen.figures.render import Rendered


def build(config: BuildConfig) -> BuildReport:
    """Build every topic in `config.content_dir` into `config.dist_dir`."""
    started = time.perf_counter()
    place = config.cache_dir  # where an OSError without a file name most likely happened
    require_content(config)  # before the lock: a mistyped --root must not create a project
    try:
        with exclusive(config), _cycle_collector_paused():
            inputs = read_inputs(config)
            state = store.load_state(config.cache_dir)
            report = unchanged(config, inputs, state)
            if report is None:
                gathered = _gather_intact(config, inputs, state)
                if config.strict:  # the lock file's warnings too, before anything is written
                    fail_on_warnings(config, [*gathered.warnings, *plan(config, gathered).lock.warnings])
                place = config.dist_dir
                report = write(config, gathered, inputs, state)
            else:  # a build killed after its last rename leaves its report for this one
                fail_on_warnings(config, report.warnings)
                report = merge_pending(config, report)
                pending.clear(config.cache_dir)
    except OSError as exc:  # disk full, read-only or missing folders: the user's to fix, not a bug
        where = config.display(Path(exc.filename)) if exc.filename else config.display(place)
        raise BuildFailed([file_error(exc, where)]) from None
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A build makes hundreds of thousands of small records that live until it ends, and almost no
    reference cycles; Python's cycle collector traversed them again and again: 7 % of a one-note
    edit and 15 % of a cold build at 10,000 notes, for no memory back (peak RSS of a cold
    100,000-note build: 855 MB either way; bench/results/gc-pause.txt, `python bench/ab_gc.py`). The worker
    processes forked meanwhile inherit the pause; `deckgen watch` runs with it on between builds."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def gather(config: BuildConfig, inputs: Inputs | None = None, state: BuildState | None = None) -> Gathered:
    """Parse, render and check everything; raise BuildFailed listing every error."""
    from deckgen.builder import compiling, identity, refs
    from deckgen.figures import registry
    from deckgen.math import compute
    from deckgen.runtime.progress import Mode

    inputs = inputs or read_inputs(config)
    state = state or BuildState()
    errors = ErrorList()
    cache = Cache(config.cache_dir)
    known = registry.discover(config.figures_dir, config.root, errors)
    figure_keys = {name: source.key for name, source in known.items()}
    bases = {path: topic_base_key(digest, inputs.code, inputs.assets) for path, digest in inputs.content.items()}
    deps = {path: store.load_deps(cache, base) for path, base in bases.items()}
    asked = {path: found["titles"] if found else None for path, found in deps.items()}  # each file's questions, when known
    # The key of a kept topic that cites notes holds their questions: then every question is
    # needed now. Otherwise (always in a first build) the parse finds those of the changed files.
    early = any(found and found["refs"] for found in deps.values())
    titles = refs.titles(config, asked) if early else {}
    compiled, changed, topic_keys = store.load_unchanged(config, bases, deps, cache, figure_keys, titles)
    work = compiling.start(config, changed, errors, frozenset(state.topics))
    try:
        parsed = work.topics
        if not early:
            asked.update((topic.location.path, dict(topic.questions)) for topic in parsed if asked.get(topic.location.path) is None)
            titles = refs.titles(config, asked)  # reads only a file that could not be parsed
        every: list[Topic | CompiledTopic] = [*compiled.values(), *parsed]
        identity.check_unique(config, every, errors)
        refs.check(parsed, titles, errors)
        figures = _render_figures(config, parsed, known, cache, errors)
        blocks = [block for topic in parsed for note in topic.notes for block in note.sympy_blocks]
        sympy, blocks_run = compute.run_blocks(blocks, cache, errors, config.jobs, config.sympy_cpu_seconds, Mode(config.progress))
        # A note rendered again from the same inputs passed the same formula check in the last
        # build, unless deckgen's code changed.
        origins = {name: source.origin for name, source in known.items()}
        context = compiling.Context(figures.media, sympy, titles, figure_keys, bases, state, state.code != inputs.code, bool(errors), origins)
        fresh = work.finish(context, errors)
    finally:
        work.close()
    errors.raise_if_any()
    topic_keys.update(fresh.keys)
    compiled.update((topic.source_path, topic) for topic in fresh.topics)
    topics = [compiled[path] for path in inputs.content if path in compiled]
    if config.tags:  # after the cache: the compiled topics stay the same whatever the project adds
        topics = [_with_tags(topic, config.tags) for topic in topics]
    packaged = topics
    if config.math_images:  # a variant of the packages; the lock follows the default build
        from deckgen.builder.mathimages import apply  # deferred: only this option draws formulas

        packaged = apply(topics, cache, config.cache_dir / "media", Mode(config.progress))
    media_files = {name: config.cache_dir / "media" / name for topic in packaged for note in topic.notes for name in note.media}
    used = {name for topic in topics for name in topic.figures}
    from deckgen.source.discover import ignored_warnings

    warnings = list(dict.fromkeys([*ignored_warnings(config.content_dir, config.display), *(w for topic in topics for w in topic.warnings), *fresh.warnings, *figures.warnings, *registry.unused_warnings(known, used)]))
    stats = {"topics": len(topics), "topics_parsed": len(parsed), "notes_rendered": fresh.rendered, "figures_rendered": figures.count, "sympy_blocks_run": blocks_run}
    return Gathered(topics, media_files, warnings, topic_keys, stats, packaged, bases)


def _with_tags(topic: CompiledTopic, tags: tuple[str, ...]) -> CompiledTopic:
    notes = tuple(dataclasses.replace(note, tags=tuple(dict.fromkeys((*tags, *note.tags)))) for note in topic.notes)
    return dataclasses.replace(topic, notes=notes)


def _render_figures(config: BuildConfig, topics: list[Topic], known: dict[str, FigureSource], cache: Cache, errors: ErrorList) -> Rendered:
    from deckgen.figures import registry, render
    from deckgen.runtime.progress import Mode

    needed = registry.check_known(registry.references(topics), known, errors)
    return render.render(needed, known, cache, config.cache_dir / "media", errors, config.jobs, config.figure_cpu_seconds, Mode(config.progress))


def _gather_intact(config: BuildConfig, inputs: Inputs, state: BuildState) -> Gathered:
    """`gather`, checking that every media file still has the bytes its name promises.

    A damaged file in the cache is deleted and made again from its source (the integrity-checked
    figure cache, or the image in content/), never packaged.
    """
    from deckgen.builder import media

    for _ in range(2):
        gathered = gather(config, inputs, state)
        damaged = [path for path in gathered.media_files.values() if not media.intact(path)]
        if not damaged:
            return gathered
        for path in damaged:
            path.unlink(missing_ok=True)
    where = Location(config.display(damaged[0]))
    raise BuildFailed([ContentError(where, "this cached media file is damaged and could not be made again", f"delete {config.display(config.cache_dir)} and build again")])
