"""Parse and render the topics that changed: in this process, or on every core.

In:  the changed topic files; later (`Context`) the figures, sympy results and questions the
     other stages made from what the parse found.
Out: the parsed topics the orchestrator checks (in the parallel case their skeletons: ids,
     locations, references, figure uses and sympy blocks, which is all the cross-topic checks,
     the figures and sympy need), then the compiled topics, saved to the cache; every error on
     the way, in the caller's `ErrorList`.

Why worker processes keep what they parsed: parsing and Python-Markdown are pure Python, so one
process uses one core. Sending the parsed notes back to the parent would cost as much as parsing
them (pickling thousands of small records), so each worker keeps its topics, sends only their
skeletons, and later renders them itself; only rendered notes, which pickle cheaply, come back.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deckgen.builder import dangling, notes, store
from deckgen.builder.store import BuildState
from deckgen.config import BuildConfig
from deckgen.errors import ErrorList
from deckgen.math import compute
from deckgen.records import CompiledTopic, RenderedNote, Topic
from deckgen.runtime import progress
from deckgen.runtime.cache import Cache

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from deckgen.figures.render import FigureMedia

PARALLEL_MIN_BYTES = 300_000  # of changed topic files (about 400 notes): less is faster in one process


@dataclass(frozen=True)
class Context:
    """What rendering needs from the stages between parsing and rendering."""

    figures: dict[str, FigureMedia]
    sympy: compute.Results
    titles: dict[str, str]  # note id -> question, for [[id]] references
    figure_keys: dict[str, str]  # figure name -> cache key, for the compiled topics' keys
    bases: dict[str, str]  # topic path -> the base of its cache key
    state: BuildState  # the last build: which rendered notes can be kept
    check_all: bool  # check the formulas of kept notes too (deckgen's code changed)
    failed: bool  # errors were found elsewhere: collect every problem, render nothing
    figure_origins: dict[str, str] = dataclasses.field(default_factory=dict)  # figure name -> what its author wrote (lockfile's `source`)


@dataclass(frozen=True)
class Compiled:
    topics: list[CompiledTopic]
    keys: dict[str, str]  # topic path -> the key it is cached under
    rendered: int  # notes rendered (not kept from the last build)
    warnings: tuple[str, ...] = ()  # text that announces what the card does not show (builder/dangling.py)


def start(config: BuildConfig, paths: list[str], errors: ErrorList, edited: frozenset[str] = frozenset()) -> InProcess | Forked:
    """Parse `paths`; in worker processes when there is enough to share out. `edited`: the paths
    the last build compiled (see `parse`)."""
    workers = min(config.jobs or os.cpu_count() or 1, len(paths))
    if workers > 1 and sum((config.root / path).stat().st_size for path in paths) >= PARALLEL_MIN_BYTES:
        return Forked(config, paths, workers, errors, edited)
    return InProcess(config, paths, errors, edited)


def parse(config: BuildConfig, paths: list[str], errors: ErrorList, edited: frozenset[str] = frozenset()) -> list[Topic]:
    """Parse the files at `paths`; a note whose lines are as the last parse saw them is reused.

    The parsed notes of a file are remembered once it is edited (it is in `edited`, the files the
    last build compiled, or it has been remembered before): a first build does not pay for
    saving every note of every file (0.16 CPU-s at 10,000 notes), and the files people edit are
    the ones edited again."""
    from deckgen.source.parse import parse_topic

    cache = Cache(config.cache_dir)
    topics = []
    for path in paths:
        memo = store.load_parsed(cache, path)
        topic = parse_topic((config.root / path).read_bytes(), path, errors, memo)
        if topic is not None:
            topics.append(topic)
            if path in edited or memo.earlier:
                store.save_parsed(cache, path, memo)
    return topics


def compile_parsed(config: BuildConfig, topics: list[Topic], context: Context, jobs: int, errors: ErrorList, mode: progress.Mode = progress.Mode.OFF) -> Compiled:
    """Plan and render `topics` (full, not skeletons) and save them to the cache."""
    cache = Cache(config.cache_dir)
    plans = notes.plan(config, topics, context.figures, context.sympy, context.titles, errors, context.figure_origins)
    if context.failed or errors:  # render nothing, but report every formula problem with the other errors
        for note in (note for topic in topics for note in topic.notes):
            errors += notes.formula_errors(note)
        return Compiled([], {}, 0)
    fresh, rendered = notes.compile_topics(plans, previous_notes(cache, context.state, topics), jobs, context.check_all, errors, mode)
    keys = {topic.source_path: store.save_compiled(cache, context.bases[topic.source_path], topic, context.figure_keys, context.titles) for topic in fresh}
    every = [note for topic in topics for note in topic.notes]
    warnings = dangling.warnings(every, lambda block: compute.result_for(context.sympy, block) == ())
    return Compiled(fresh, keys, rendered, tuple(warnings))


def previous_notes(cache: Cache, state: BuildState, topics: list[Topic]) -> dict[str, RenderedNote]:
    """Rendered notes of the last build's version of each changed topic, by render key."""
    found = {}
    for topic in topics:
        key = state.topics.get(topic.location.path)
        old = store.load_topic(cache, key) if key else None
        for note in old.notes if old else ():
            found[note.render_key] = note
    return found


class InProcess:
    """Everything here; notes are rendered on every core when a topic is big (builder/notes.py)."""

    def __init__(self, config: BuildConfig, paths: list[str], errors: ErrorList, edited: frozenset[str] = frozenset()):
        self.config = config
        self.topics = parse(config, paths, errors, edited)

    def finish(self, context: Context, errors: ErrorList) -> Compiled:
        return compile_parsed(self.config, self.topics, context, self.config.jobs, errors, progress.Mode(self.config.progress))

    def close(self) -> None:
        pass


class Forked:
    """One forked worker per core, each holding the topics it parsed until it has rendered them."""

    def __init__(self, config: BuildConfig, paths: list[str], workers: int, errors: ErrorList, edited: frozenset[str] = frozenset()):
        shares = _share(config, paths, workers)
        import multiprocessing  # deferred: an edit parses in this process

        context = multiprocessing.get_context("fork")
        self._links: list[tuple[Any, Connection]] = []
        for share in shares:
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, config, share, edited, os.getpid()), daemon=True)
            process.start()
            child.close()
            self._links.append((process, parent))
        self.mode = progress.Mode(config.progress)
        self.topics: list[Topic] = []
        for _, link in self._links:
            skeletons, problems = link.recv()
            self.topics += skeletons
            errors += problems
        order = {path: i for i, path in enumerate(paths)}
        self.topics.sort(key=lambda topic: order[topic.location.path])

    def finish(self, context: Context, errors: ErrorList) -> Compiled:
        for _, link in self._links:
            link.send(context)
        topics, keys, rendered, warnings = [], {}, 0, []
        total = sum(len(topic.notes) for topic in self.topics)
        with progress.stage("notes", total, self.mode if total >= notes.PROGRESS_MIN_NOTES else progress.Mode.OFF, "note") as shown:
            for _, link in self._links:
                compiled, problems = link.recv()
                errors += problems
                topics += compiled.topics
                keys.update(compiled.keys)
                rendered += compiled.rendered
                warnings += compiled.warnings
                shown.advance(sum(len(topic.notes) for topic in compiled.topics))  # a worker's share at a time
        return Compiled(topics, keys, rendered, tuple(warnings))

    def close(self) -> None:
        for process, link in self._links:
            link.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _share(config: BuildConfig, paths: list[str], workers: int) -> list[list[str]]:
    """Topics dealt out by size, biggest first, each to the worker with the least so far."""
    shares: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for path in sorted(paths, key=lambda p: -(config.root / p).stat().st_size):
        lightest = loads.index(min(loads))
        shares[lightest].append(path)
        loads[lightest] += (config.root / path).stat().st_size
    return [share for share in shares if share]


def _serve(link: Connection, config: BuildConfig, paths: list[str], edited: frozenset[str], parent: int) -> None:
    """A worker: parse, send the skeletons, wait for the context, render, send the result."""
    from deckgen.runtime.isolation import die_with_parent

    die_with_parent(parent)
    errors = ErrorList()
    topics = parse(config, paths, errors, edited)
    link.send(([_skeleton(topic) for topic in topics], list(errors)))
    try:
        context = link.recv()
    except EOFError:  # the build stopped
        return
    errors = ErrorList()
    compiled = compile_parsed(config, topics, context, 1, errors)
    link.send((compiled, list(errors)))
    link.close()


def _skeleton(topic: Topic) -> Topic:
    """What the orchestrator needs of a parsed topic: without the Markdown and the formulas."""
    return dataclasses.replace(topic, notes=tuple(dataclasses.replace(note, front="", back="", formulas=(), details=()) for note in topic.notes))
