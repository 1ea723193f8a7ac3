"""The build, top to bottom: gather and validate everything first, then write.

    fingerprint ─ unchanged? ─▶ done (nothing imported, nothing written)
        │ changed
    parse changed topics → cross-topic checks → figures → sympy → formulas → render → lock → package → write

In:  a `BuildConfig`.
Out: a `BuildReport`; or `BuildFailed` with every content error found, in which case nothing
     in dist/ and nothing in the lock file has changed.

Work that did not change is not redone: a topic whose file and dependencies are unchanged is
read back compiled from the cache; inside a changed topic, each note whose inputs are unchanged
keeps its rendered fields; rendering the rest is spread over the cores.
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
import signal
import threading
import time
import unicodedata
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deckgen.builder import store
from deckgen.runtime.cache import Cache, atomic_write, key_for, sha256
from deckgen.config import ALL_PACKAGE, BuildConfig
from deckgen.errors import BuildFailed, ContentError, ErrorList, file_error
from deckgen.limits import MAX_IMAGE_BYTES, size_ok
from deckgen.records import BuildReport, CompiledTopic, Location, Note, RenderedNote, Topic

PARALLEL_MIN_NOTES = 400  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class Inputs:
    """Hashes of everything a build reads; equal inputs give equal outputs."""

    content: dict[str, str]  # display path of each topic file -> sha256 of its bytes
    assets: str  # hash of the other files under content/ (images)
    figure_sources: str  # hash of figures/*.py
    code: str  # deckgen's own code

    def key(self, lock_sha: str) -> str:
        return key_for("inputs", self.content, self.assets, self.figure_sources, self.code, lock_sha)


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
    place = config.cache_dir  # where an OSError without a file name most likely happened
    try:
        with _exclusive(config):
            inputs = read_inputs(config)
            state = store.load_state(config.cache_dir)
            report = _unchanged(config, inputs, state)
            if report is None:
                gathered = _gather_intact(config, inputs, state)
                place = config.dist_dir
                report = _write(config, gathered, inputs)
    except OSError as exc:  # disk full, read-only or missing folders: the user's to fix, not a bug
        raise BuildFailed([_os_error(config, exc, place)]) from None
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _gather_intact(config: BuildConfig, inputs: Inputs, state: dict) -> Gathered:
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


def _os_error(config: BuildConfig, exc: OSError, place: Path) -> ContentError:
    return file_error(exc, config.display(Path(exc.filename)) if exc.filename else config.display(place))


def read_inputs(config: BuildConfig) -> Inputs:
    from deckgen.figures import registry as figures
    if not config.content_dir.is_dir():
        raise BuildFailed([ContentError(Location(config.display(config.content_dir)), "content folder not found", "create it and put one Markdown file per topic in it")])
    content, assets, errors = {}, [], ErrorList()
    for path in sorted(config.content_dir.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(config.content_dir).parts):
            continue
        size = path.stat().st_size
        if path.suffix == ".md" and path.parent == config.content_dir:
            if size_ok(size, config.display(path), errors):
                content[config.display(path)] = sha256(path.read_bytes())
        elif size > MAX_IMAGE_BYTES:  # refused if a note uses it: not worth reading
            assets.append((str(path.relative_to(config.content_dir)), f"{size}:{path.stat().st_mtime_ns}"))
        else:
            assets.append((str(path.relative_to(config.content_dir)), sha256(path.read_bytes())))
    errors.raise_if_any()
    if not content:
        raise BuildFailed([ContentError(Location(config.display(config.content_dir)), "no Markdown files in the content folder", "add a topic file such as content/conv.md")])
    scripts = sorted(config.figures_dir.glob("*.py")) if config.figures_dir.is_dir() else []
    # Library versions too: a new matplotlib or font must re-render the figures, not skip the build.
    figure_sources = key_for([(p.name, sha256(p.read_bytes())) for p in scripts], figures.library_versions())
    # --math-images changes every card, as a new deckgen version would.
    code = key_for(store.code_key(), "math-images") if config.math_images else store.code_key()
    return Inputs(content, key_for(assets), figure_sources, code)


def _unchanged(config: BuildConfig, inputs: Inputs, state: dict) -> BuildReport | None:
    """The last build's report when nothing it read has changed and its outputs are intact."""
    lock_sha = sha256(config.lock_path.read_bytes()) if config.lock_path.exists() else ""
    if not state or state.get("inputs") != inputs.key(lock_sha):
        return None
    for name, digest in state.get("outputs", {}).items():
        path = config.dist_dir / name
        if not path.exists() or sha256(path.read_bytes()) != digest:
            return None
    packages = tuple(str(config.dist_dir / name) for name in sorted(state["outputs"]))
    return BuildReport(packages, (), (), state.get("notes", 0), tuple(state.get("warnings", ())), {"cached": True, "figures_rendered": 0})


def gather(config: BuildConfig, inputs: Inputs | None = None, state: dict | None = None) -> Gathered:
    """Parse, render and check everything; raise BuildFailed listing every error."""
    from deckgen.math import compute
    from deckgen.figures import registry as figures
    from deckgen.source.parse import parse_topic
    inputs = inputs or read_inputs(config)
    state = state or {}
    errors = ErrorList()
    cache = Cache(config.cache_dir)
    known = figures.discover(config.figures_dir, config.root, errors)
    figure_keys = {name: source.key for name, source in known.items()}
    compiled, parsed, topic_keys, bases = {}, [], {}, {}
    for path, digest in inputs.content.items():
        bases[path] = key_for("topic", digest, inputs.code, inputs.assets, compute.sympy_version())
        cached, topic_keys[path] = store.load_compiled(cache, bases[path], figure_keys)
        if cached is not None and _media_present(config, cached):
            compiled[path] = cached
            continue
        topic = parse_topic((config.root / path).read_bytes(), path, errors)
        if topic is not None:
            parsed.append(topic)
    _check_across_topics(config, [*compiled.values(), *parsed], errors)
    _check_deck_ids_kept(config, [*compiled.values(), *parsed], errors)
    figure_warnings: list[str] = []
    figure_media, rendered_figures = _figures(config, parsed, known, cache, errors, figure_warnings)
    blocks = [block for topic in parsed for note in topic.notes for block in note.sympy_blocks]
    sympy_results, blocks_run = compute.run_blocks(blocks, cache, errors, config.jobs, config.sympy_timeout)
    previous = _previous_notes(cache, state, parsed)
    # Formulas are checked where notes are rendered, on every core. A note rendered again from
    # the same inputs passed the same check in the last build, unless deckgen's code changed.
    check_all = state.get("code") != inputs.code
    fresh, rendered_notes = _render_topics(config, parsed, figure_media, sympy_results, previous, errors, check_all)
    errors.raise_if_any()
    for topic in fresh:
        topic_keys[topic.source_path] = store.save_compiled(cache, bases[topic.source_path], topic, figure_keys)
        compiled[topic.source_path] = topic
    topics = [compiled[path] for path in inputs.content if path in compiled]
    if config.math_images:
        from deckgen.builder.mathimages import apply  # deferred: only this option draws formulas

        topics = apply(topics, cache, config.cache_dir / "media")
    media_files = {name: config.cache_dir / "media" / name for topic in topics for note in topic.notes for name in note.media}
    used = {name for topic in topics for name in topic.figures}
    warnings = figure_warnings + figures.unused_warnings(known, used)
    stats = {
        "topics": len(topics),
        "topics_parsed": len(parsed),
        "notes_rendered": rendered_notes,
        "figures_rendered": rendered_figures,
        "sympy_blocks_run": blocks_run,
        "topic_keys": topic_keys,
    }
    return Gathered(topics, media_files, warnings, stats)


def _media_present(config: BuildConfig, topic: CompiledTopic) -> bool:
    return all((config.cache_dir / "media" / name).exists() for note in topic.notes for name in note.media)


def _check_across_topics(config: BuildConfig, topics: list[Topic | CompiledTopic], errors: ErrorList) -> None:
    """Deck ids, deck names and note ids must be unique; a clash is reported in the later file by
    path, whether the topics came from the cache or not."""
    deck_ids: dict[str, tuple[Location, str]] = {}
    deck_names: dict[str, tuple[Location, str]] = {}
    note_ids: dict[str, Location] = {}
    for topic in sorted(topics, key=lambda t: t.location.path):
        for seen, value, key, what in ((deck_ids, topic.deck_id, "id", "deck id"), (deck_names, topic.deck_name, "deck", "deck name")):
            # Anki matches deck names ignoring case (and Unicode normalisation): two such decks merge.
            folded = unicodedata.normalize("NFC", value).casefold()
            if folded in seen:
                where, other = seen[folded]
                also = f" ('{other}': Anki ignores case)" if other != value else ""
                errors.add(_key_location(config, topic, key), f"{what} '{value}' is also used by {where.path}{also}", f"give each topic its own {what}")
            else:
                seen[folded] = (topic.location, value)
        for note in topic.notes:
            note_id = _note_id(note)
            if note_id in note_ids:
                errors.add(note.location, f"note id '{note_id}' is also used at {note_ids[note_id]}", "note ids must be unique across all topics; rename one")
            else:
                note_ids[note_id] = note.location


def _note_id(note: Note | RenderedNote) -> str:
    return note.note_id if isinstance(note, Note) else note.key.split("/", 1)[1]


def _key_location(config: BuildConfig, topic: Topic | CompiledTopic, key: str) -> Location:
    """The line of a front matter key, read again from the file (only when reporting an error)."""
    from deckgen.source.parse import key_line
    return Location(topic.location.path, key_line((config.root / topic.location.path).read_bytes(), key))


def _check_deck_ids_kept(config: BuildConfig, topics: list[Topic | CompiledTopic], errors: ErrorList) -> None:
    """A new deck id holding the notes of a deck id that is gone: the author changed `id:`.

    Every GUID derives from the deck id, so Anki would import all those notes as new ones and
    keep the old ones, with their review history, as duplicates.
    """
    from deckgen.anki import lockfile
    old_keys = lockfile.load(config.lock_path).get("notes", {})
    current = {topic.deck_id for topic in topics}
    old_decks = {key.split("/", 1)[0] for key in old_keys}
    gone = {note_id: deck for deck, _, note_id in (key.partition("/") for key in old_keys) if deck not in current}
    for topic in topics:
        if topic.deck_id in old_decks:
            continue
        moved = Counter(gone[_note_id(note)] for note in topic.notes if _note_id(note) in gone)
        if moved:
            old, count = moved.most_common(1)[0]
            errors.add(
                _key_location(config, topic, "id"),
                f"the deck id changed from '{old}' to '{topic.deck_id}': Anki would add its {count} notes again as new ones, and the old ones would keep their review history as duplicates",
                f"keep 'id: {old}' (change 'deck:' to rename the deck); to start over on purpose, first delete the '{old}/…' entries from {config.display(config.lock_path)}",
            )


def _figures(config, topics, known, cache, errors, warnings):
    from deckgen.figures import registry as figures
    needed = figures.check_known(figures.references(topics), known, errors)
    return figures.render(needed, known, cache, config.cache_dir / "media", errors, config.jobs, config.figure_timeout, config.progress, warnings)


def _check_formulas(notes: list[Note], errors: ErrorList) -> None:
    for note in notes:
        errors += _formula_errors(note)


def _formula_errors(note: Note) -> list[ContentError]:
    from deckgen.math import texcheck
    return [
        ContentError(formula.location, f"formula {texcheck.shorten(formula.tex)}: {problem}", "fix the TeX; see the formula rules in docs/format.md")
        for _, formula in note.formulas
        for problem in texcheck.problems(formula)
    ]


def _previous_notes(cache: Cache, state: dict, topics: list[Topic]) -> dict[str, RenderedNote]:
    """Rendered notes of the last build's version of each changed topic, by render key."""
    found = {}
    for topic in topics:
        key = state.get("topics", {}).get(topic.location.path)
        old = store.load_topic(cache, key) if key else None
        for note in old.notes if old else ():
            found[note.render_key] = note
    return found


def _render_topics(config, topics, figure_media, sympy_results, previous, errors, check_all: bool = True) -> tuple[list[CompiledTopic], int]:
    """Render, and check the formulas of, every note that has no identical rendering from the
    last build (with `check_all`, check the formulas of the others too)."""
    from deckgen.math import compute
    from deckgen.builder.render import render_key
    from deckgen.builder.render import sympy_html
    plans = []  # (topic, [(note, replacements, media names, render key)])
    for topic in topics:
        markdown_file = config.root / topic.location.path
        plan = []
        for note in topic.notes:
            replacements, names = _note_media(config, note, markdown_file, figure_media, errors)
            for block in note.sympy_blocks:
                shows = compute.result_for(sympy_results, block)
                replacements[block.token] = sympy_html(shows) if shows is not None else ""
            plan.append((note, replacements, tuple(dict.fromkeys(names)), render_key(note, topic.deck_id, topic.tags, replacements)))
        plans.append((topic, plan))
    if errors:  # render nothing, but report every formula problem with the other errors
        _check_formulas([note for topic in topics for note in topic.notes], errors)
        return [], 0
    todo = [(note, topic.deck_id, topic.tags, repl, names, key) for topic, plan in plans for note, repl, names, key in plan if key not in previous]
    if check_all:
        _check_formulas([note for _, plan in plans for note, _, _, key in plan if key in previous], errors)
    rendered = {}
    for item, (done, problems) in zip(todo, _render_many(todo, config.jobs)):
        errors += problems
        if done is not None:
            rendered[item[-1]] = done
    if errors:
        return [], len(todo)
    compiled = []
    for topic, plan in plans:
        notes = []
        for note, _, _, key in plan:
            done = rendered.get(key) or previous[key]
            notes.append(dataclasses.replace(done, location=note.location))
        used = tuple(sorted({ref.figure_name for note in topic.notes for ref in note.media if ref.figure_name}))
        compiled.append(CompiledTopic(topic.deck_id, topic.deck_name, topic.description, tuple(notes), topic.location, used))
    return compiled, len(todo)


def _note_media(config, note: Note, markdown_file: Path, figure_media, errors) -> tuple[dict[str, str], list[str]]:
    from deckgen.builder import media
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
    return replacements, names


RENDER_TIMEOUT = 10.0  # seconds per note: Markdown takes milliseconds, but some input makes it crawl


class _RenderTimeout(BaseException):
    """Raised by SIGALRM in the middle of Python-Markdown."""


@contextmanager
def _time_limit(seconds: float):
    """SIGALRM after `seconds` (only the main thread can take signals; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _RenderTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _render_one(item) -> tuple[RenderedNote | None, list[ContentError]]:
    """The rendered note (None when it cannot be rendered) and the problems of its formulas."""
    from deckgen.builder.render import render_note
    note, deck_id, tags, replacements, names, key = item
    problems = _formula_errors(note)
    try:
        with _time_limit(RENDER_TIMEOUT):
            return render_note(note, deck_id, tags, replacements, names, key), problems
    except RecursionError:  # Python-Markdown recurses once per level of nested lists and quotes
        return None, [*problems, ContentError(note.location, "lists or quotes are nested too deeply to render", "use fewer levels of nesting (a few dozen at most)")]
    except _RenderTimeout:  # e.g. thousands of unmatched '[': Python-Markdown is quadratic there
        return None, [*problems, ContentError(note.location, f"the note took longer than {RENDER_TIMEOUT:g} s to render", "look for long runs of unmatched '[', '`' or '<' and remove them, or escape them as \\[")]


_TODO: list = []  # the notes `_render_many` hands out, set while its worker processes run


def _render_slice(bounds: tuple[int, int]) -> list[tuple[RenderedNote | None, list[ContentError]]]:
    return [_render_one(item) for item in _TODO[bounds[0]:bounds[1]]]


def _render_many(todo: list, jobs: int) -> list[tuple[RenderedNote | None, list[ContentError]]]:
    workers = jobs or os.cpu_count() or 1
    if workers < 2 or len(todo) < PARALLEL_MIN_NOTES:
        return [_render_one(item) for item in todo]
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
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return [note for part in pool.imap(_render_slice, slices) for note in part]
    finally:
        gc.unfreeze()
        _TODO = []


def _write(config: BuildConfig, gathered: Gathered, inputs: Inputs) -> BuildReport:
    """Assign mod times, package every deck and replace the files in dist/ atomically."""
    from deckgen.anki import lockfile
    from deckgen.anki.notetypes import note_types
    from deckgen.anki.package import build_packages, package_key  # deferred: genanki is only needed when writing

    types = note_types()
    old_lock = lockfile.load(config.lock_path)
    pairs = [(topic.deck_name, note) for topic in gathered.topics for note in topic.notes]
    lock = lockfile.update(old_lock, pairs, {kind.value: nt.content_hash for kind, nt in types.items()}, config.now)
    outputs = {f"{topic.deck_id}.apkg": [topic] for topic in gathered.topics}
    outputs[f"{ALL_PACKAGE}.apkg"] = gathered.topics
    hashes = {key: entry["hash"] for key, entry in lock.data["notes"].items()}
    keys = {name: package_key(topics, types, hashes, lock.note_mods, lock.notetype_mods) for name, topics in outputs.items()}
    state = store.load_state(config.cache_dir)
    kept = _intact_outputs(config, state, keys)  # packages whose inputs did not change: not rebuilt
    packages = build_packages({n: t for n, t in outputs.items() if n not in kept}, types, lock.note_mods, lock.notetype_mods, gathered.media_files, config.jobs)
    lock_bytes = lockfile.dumps(lock.data).encode()
    written = _replace_outputs(config, packages, lock_bytes)
    _remove_stale_outputs(config, state, outputs)
    store.save_state(config.cache_dir, {
        "inputs": inputs.key(sha256(lock_bytes)),
        "outputs": dict(kept, **{name: sha256(data) for name, data in packages.items()}),
        "package_keys": keys,
        "code": inputs.code,  # the code that checked and rendered the notes kept in the cache
        "topics": gathered.stats["topic_keys"],
        "notes": len(pairs),
        "warnings": gathered.warnings,
    })
    stats = {k: v for k, v in gathered.stats.items() if k != "topic_keys"}
    return BuildReport(
        packages=tuple(str(config.dist_dir / name) for name in sorted(outputs)),
        written=tuple(written),
        changes=lock.changes,
        notes=len(pairs),
        warnings=tuple(gathered.warnings),
        stats=dict(stats, notes=len(pairs), packages_built=len(packages)),
    )


def _replace_outputs(config: BuildConfig, packages: dict[str, bytes], lock_bytes: bytes) -> list[str]:
    """Stage every changed package and the lock file next to their targets, then rename them all;
    unchanged files are not touched. A full disk or an interrupt while staging leaves dist/ and
    the lock file as they were. Returns the packages written."""
    config.dist_dir.mkdir(parents=True, exist_ok=True)
    lock = config.lock_path
    for leftover in [*config.dist_dir.glob(".*.apkg.*"), *lock.parent.glob(f".{lock.name}.*")]:
        leftover.unlink(missing_ok=True)  # staged by a build that was killed
    files = {config.dist_dir / name: data for name, data in packages.items()}
    files[lock] = lock_bytes
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in sorted(files.items()):
            if target.exists() and target.stat().st_size == len(data) and target.read_bytes() == data:
                continue
            staged.append((target.with_name(f".{target.name}.staged"), target))
            atomic_write(staged[-1][0], data)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)
    return [str(target) for _, target in staged if target != lock]


def _intact_outputs(config: BuildConfig, state: dict, keys: dict[str, str]) -> dict[str, str]:
    """{name: sha256} of the packages in dist/ that the last build wrote from the same package key."""
    kept = {}
    for name, key in keys.items():
        digest = state.get("outputs", {}).get(name)
        path = config.dist_dir / name
        if digest and state.get("package_keys", {}).get(name) == key and path.exists() and sha256(path.read_bytes()) == digest:
            kept[name] = digest
    return kept


def _remove_stale_outputs(config: BuildConfig, state: dict, packages: dict) -> None:
    """Delete packages this tool wrote before for topics that no longer exist (never other files)."""
    for name in state.get("outputs", {}):
        if name not in packages:
            (config.dist_dir / name).unlink(missing_ok=True)


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
