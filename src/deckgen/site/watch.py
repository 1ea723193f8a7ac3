"""`deckgen watch`: rebuild whenever content/ or figures/ change, and keep going after errors.

In:  a `BuildConfig`; whether to rebuild the preview too and a `PreviewServer` to tell about it.
Out: a build at start and after every batch of changes (watchfiles groups an editor's burst of
     writes into one batch), each followed by the change report or the errors, printed as
     `deckgen build` prints them; `run` returns when interrupted or when `stop` is set.

Each rebuild is an ordinary `pipeline.build`, which redoes only what the change requires: an
unchanged topic is read back from the cache, a changed one re-renders only its changed notes,
and a figure is drawn again only when its script changed. Staying in one process keeps Markdown,
Pygments and the parsed figure list warm between rebuilds.
"""
from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path

from deckgen.config import BuildConfig
from deckgen.errors import BuildFailed

IGNORED_SUFFIXES = (".swp", ".swx", ".tmp", ".part", "~", ".pyc")


def watched_dirs(config: BuildConfig) -> list[Path]:
    return [d for d in (config.content_dir, config.figures_dir) if d.is_dir()]


def relevant(path: str) -> bool:
    """A change an author made: not an editor's swap file, a hidden file or Python's bytecode."""
    parts = Path(path).parts
    name = parts[-1] if parts else ""
    return not (name.startswith((".", "#")) or name.endswith(IGNORED_SUFFIXES) or "__pycache__" in parts)


def run(config: BuildConfig, *, serve_port: int | None = None, stop: threading.Event | None = None, out=sys.stdout, err=sys.stderr) -> int:
    """Build now, then after every change until interrupted (Ctrl-C) or `stop` is set.

    With `serve_port`, the preview is rebuilt too and served on 127.0.0.1:`serve_port`.
    """
    if serve_port is None:
        return _loop(config, False, None, stop, out, err)
    from deckgen.site.preview import preview_dir
    from deckgen.site.serve import PreviewServer

    preview_dir(config).mkdir(parents=True, exist_ok=True)
    try:
        server = PreviewServer(preview_dir(config), serve_port)
    except OSError as exc:
        print(f"deckgen: cannot serve on 127.0.0.1:{serve_port} ({exc.strerror}); choose another port with --port", file=err)
        return 2
    with server:
        print(f"serving the preview at {server.url} (reloads after each rebuild)", file=out, flush=True)
        return _loop(config, True, server, stop, out, err)


def _loop(config: BuildConfig, preview: bool, server, stop, out, err) -> int:
    from watchfiles import watch

    dirs = watched_dirs(config)
    if config.content_dir not in dirs:
        rebuild(config, preview, server, out, err)  # reports the missing folder as the build does
        return 1
    changes = watch(*dirs, watch_filter=lambda _change, path: relevant(path), stop_event=stop,
                    raise_interrupt=False, yield_on_timeout=True, rust_timeout=1000)
    next(changes, None)  # start watching before the first build: an edit made during it is not lost
    rebuild(config, preview, server, out, err)
    shown = ", ".join(config.display(d) + "/" for d in dirs)
    print(f"watching {shown} for changes (Ctrl-C to stop)", file=out, flush=True)
    try:
        for batch in changes:
            if not batch:  # a timeout: nothing changed
                continue
            changed = sorted({config.display(Path(path)) for _, path in batch})
            print(f"\nchanged: {', '.join(changed)}", file=out, flush=True)
            rebuild(config, preview, server, out, err)
    except KeyboardInterrupt:  # Ctrl-C is how a watch ends; a build it cut short changed nothing
        pass
    print("stopped watching", file=out, flush=True)
    return 0


def rebuild(config: BuildConfig, preview: bool, server, out, err) -> bool:
    """One build (and preview); prints the outcome, never raises for content or internal errors."""
    from deckgen.builder.pipeline import build
    from deckgen.report import plural, print_errors, print_report

    try:
        report = build(config)
        print_report(report, out=out)
        if preview:
            from deckgen.site.preview import build_preview

            site = build_preview(config)
            print(f"preview: {plural(site.cards, 'card')} in {plural(site.decks, 'deck')}, {plural(site.written, 'file')} updated", file=out)
    except BuildFailed as failed:
        print_errors(failed, err, "dist/ keeps the last good build; still watching")
        if server is not None:
            server.publish(False, [str(e) for e in failed.errors])
        return False
    except Exception as exc:  # a bug in deckgen must not end the session; show where it happened
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"deckgen: internal error: {type(exc).__name__}: {exc} ({Path(frame.filename).name}:{frame.lineno}); still watching", file=err, flush=True)
        if server is not None:
            server.publish(False, [f"internal error: {type(exc).__name__}: {exc}"])
        return False
    out.flush()
    if server is not None:
        server.publish(True)
    return True
