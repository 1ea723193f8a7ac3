"""The `deckgen` command: parse flags, call the library, print, choose the exit status.

Exit status: 0 success, 1 content errors (each printed as `path:line: what — how to fix`),
2 wrong usage or an internal error, 130 interrupted. No traceback unless DECKGEN_DEBUG=1.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deckgen import limits
from deckgen.config import BuildConfig
from deckgen.errors import BuildFailed, file_error
from deckgen.report import print_errors, print_report


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):  # plain `deckgen` builds
        args.run = _run_build
    try:
        return args.run(args)
    except BuildFailed as failed:
        print_errors(failed)
        return 1
    except OSError as exc:  # outside a build (e.g. `ids --write` on a read-only file)
        print_errors(BuildFailed([file_error(exc, exc.filename or str(args.root))]))
        return 1
    except KeyboardInterrupt:
        print("deckgen: interrupted; dist/ and the lock file are as they were before this build", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in deckgen, not in the content
        if os.environ.get("DECKGEN_DEBUG"):
            raise
        print(f"deckgen: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("  dist/ is unchanged. Run again with DECKGEN_DEBUG=1 for details and report it.", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deckgen", description="Build Anki decks from Markdown Q&A.")
    parser.add_argument("--root", type=Path, default=Path("."), help="project folder holding content/ and figures/ (default: .)")
    _build_flags(parser, on_subcommand=False)  # `deckgen --jobs 2` is `deckgen build --jobs 2`
    sub = parser.add_subparsers(dest="command")

    build = sub.add_parser("build", help="build dist/*.apkg (the default command)")
    _build_flags(build)
    build.set_defaults(run=_run_build)

    ids = sub.add_parser("ids", help="list notes without ids; --write adds them")
    ids.add_argument("--write", action="store_true", help="write the missing ids into the files")
    ids.set_defaults(run=_run_ids)

    figs = sub.add_parser("figures", help="list every figure, where it is used and whether it is rendered")
    figs.set_defaults(run=_run_figures)

    preview = sub.add_parser("preview", help="every card, front and back, as a static site in dist/preview/")
    _build_flags(preview)
    _serve_flags(preview, "serve it on 127.0.0.1, rebuild on every change and reload the page")
    preview.add_argument("--screenshots", action="store_true", help="also a PNG of every card on a 390 px phone, day and night, and a contact sheet of them all (dist/preview/screenshots/; needs chromium and playwright)")
    preview.set_defaults(run=_run_preview)

    check = sub.add_parser("check", help="validate everything and lint the content (duplicates, ids, answers, formulas, ...)")
    _build_flags(check)
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format (json: for editors and CI)")
    check.add_argument("--fast", action="store_true", help="skip the exact formula check in headless Chromium")
    check.set_defaults(run=_run_check)

    watch = sub.add_parser("watch", help="rebuild when content/ or figures/ change; keep running after errors")
    _build_flags(watch)
    _serve_flags(watch, "also build the preview, serve it on 127.0.0.1 and reload the page after each rebuild")
    watch.set_defaults(run=_run_watch)

    mv = sub.add_parser("mv", help="rename a note id, keeping the note's GUID and review history")
    mv.add_argument("old", metavar="OLD", help="the note id to rename")
    mv.add_argument("new", metavar="NEW", help="its new id")
    mv.set_defaults(run=_run_mv)

    diff = sub.add_parser("diff", help="what importing today's build into your collection will do (a dry run of Anki's import)")
    _build_flags(diff)
    diff.add_argument("--against", type=Path, required=True, metavar="FILE", help="what you have: a package you imported (.apkg), or your collection exported from Anki (.colpkg, or .apkg with all notes)")
    diff.add_argument("--package", default="all", metavar="NAME", help="the package of today's build you would import: a topic id, or 'all' (default)")
    diff.add_argument("--format", choices=("text", "json"), default="text", help="output format (json: for scripts)")
    diff.set_defaults(run=_run_diff)
    return parser


def _serve_flags(parser: argparse.ArgumentParser, serve_help: str) -> None:
    parser.add_argument("--serve", action="store_true", help=serve_help)
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (default: 8000; 0 picks a free one)")


def _build_flags(parser: argparse.ArgumentParser, on_subcommand: bool = True) -> None:
    """Build flags, given before or after the subcommand (`deckgen -j 2 build` = `deckgen build -j 2`).

    On a subcommand the defaults are suppressed, so a flag given before the subcommand is not
    overwritten by the subcommand's default.
    """

    def default(value):
        return argparse.SUPPRESS if on_subcommand else value

    parser.add_argument("--dist", type=Path, default=default(None), help="output folder (default: <root>/dist)")
    parser.add_argument("--jobs", "-j", type=int, default=default(0), help="worker processes for figures and sympy (default: one per core)")
    parser.add_argument("--quiet", "-q", action="store_true", default=default(False), help="print errors only")
    parser.add_argument("--math-images", action="store_true", default=default(False), help="formulas as SVG images (TeX kept as alt text) instead of MathJax")
    backstop = f"code that waits is stopped after {limits.WALL_FACTOR:g}× that in wall-clock time + {limits.WALL_EXTRA_SECONDS:g} s"
    parser.add_argument("--figure-timeout", type=float, default=default(limits.FIGURE_CPU_SECONDS), metavar="SECONDS", help=f"CPU time limit per figure, in CPU seconds (default: {limits.FIGURE_CPU_SECONDS:g}); {backstop}")
    parser.add_argument("--sympy-timeout", type=float, default=default(limits.SYMPY_CPU_SECONDS), metavar="SECONDS", help=f"CPU time limit per sympy block, in CPU seconds (default: {limits.SYMPY_CPU_SECONDS:g}); {backstop}")


def config_from(args: argparse.Namespace) -> BuildConfig:
    from deckgen.runtime.progress import mode_for

    root = args.root.resolve()
    return BuildConfig(
        root=root,
        dist_dir=getattr(args, "dist", None),  # type: ignore[arg-type]  # None: the default under root
        jobs=getattr(args, "jobs", 0),
        math_images=getattr(args, "math_images", False),
        progress=mode_for(sys.stderr, getattr(args, "quiet", False)).value,
        figure_cpu_seconds=getattr(args, "figure_timeout", limits.FIGURE_CPU_SECONDS),
        sympy_cpu_seconds=getattr(args, "sympy_timeout", limits.SYMPY_CPU_SECONDS),
    )


def _run_build(args) -> int:
    from deckgen.builder.pipeline import build

    report = build(config_from(args))
    if not args.quiet:
        print_report(report)
    return 0


def _run_ids(args) -> int:
    from deckgen.source.discover import topic_files
    from deckgen.source.ids import check_readable, existing_ids, missing_ids, write_ids

    content = args.root.resolve() / "content"
    paths = topic_files(content)
    check_readable(paths, lambda path: str(path.relative_to(args.root.resolve())))
    if args.write:
        taken = existing_ids(paths)
        total = 0
        for path in paths:
            for line, new_id in write_ids(path, taken):
                print(f"{path.relative_to(args.root.resolve())}:{line}: added {{#{new_id}}}")
                total += 1
        print(f"{total} id{'s' if total != 1 else ''} added")
        return 0
    missing = [(path, line, heading) for path in paths for line, heading in missing_ids(path)]
    for path, line, heading in missing:
        print(f"{path.relative_to(args.root.resolve())}:{line}: no id: {heading.strip()}")
    if missing:
        print(f"{len(missing)} notes without ids; run 'deckgen ids --write' to add them")
        return 1
    print("every note has an id")
    return 0


def _run_figures(args) -> int:
    from deckgen.builder.listing import listing

    result = listing(config_from(args))
    for status in result.figures:
        source = status.source
        cached = f"rendered (day {status.svg_bytes[0] / 1024:.0f} KiB, night {status.svg_bytes[1] / 1024:.0f} KiB)" if status.svg_bytes else "not rendered yet"
        print(f"{source.name}  {source.display}:{source.line}  {cached}")
        for use in status.uses:
            print(f"    used at {use}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    rendered = sum(1 for s in result.figures if s.svg_bytes)
    print(f"{len(result.figures)} figures, {rendered} rendered and cached, {len(result.warnings)} unused")
    if result.errors:
        raise BuildFailed(list(result.errors))
    return 0


def _run_preview(args) -> int:
    if args.serve:
        return _run_watch(args)
    from deckgen.runtime.browser import ChromiumNotFound, PlaywrightMissing
    from deckgen.site.preview import build_preview, preview_dir

    config = config_from(args)
    try:
        report = build_preview(config, screenshots=preview_dir(config) / "screenshots" if args.screenshots else None)
    except (ChromiumNotFound, PlaywrightMissing) as exc:
        print(f"deckgen: cannot take screenshots: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        for warning in report.warnings:
            print(f"warning: {warning}")
        print(f"preview: {report.cards} cards in {report.decks} decks ({report.written} files updated); MathJax {report.mathjax}")
        print(f"open {report.index.as_uri()}")
        if report.sheet:
            print(f"screenshots: {report.sheet.pictures} pictures in {report.sheet.seconds:g} s; contact sheet {report.sheet.index.as_uri()}")
    return 0


def _run_check(args) -> int:
    import json

    from deckgen.check.lint import check, format_text

    report = check(config_from(args), exact_formulas=not args.fast)
    if args.format == "json":
        print(json.dumps(report.as_json(args.strict), ensure_ascii=False, indent=1))
    else:
        print(format_text(report, args.strict))
    return 1 if report.failed(args.strict) else 0


def _run_mv(args) -> int:
    from deckgen.builder.rename import rename_note

    done = rename_note(config_from(args), args.old, args.new)
    refs = f" and {done.references} [[{args.old}]] reference{'s' if done.references != 1 else ''}" if done.references else ""
    print(f"{done.heading}: renamed {{#{args.old}}} to {{#{args.new}}}{refs}")
    if done.lock_updated:
        print(f"deckgen.lock: '{args.new}' keeps the GUID of '{args.old}'; the next build updates the note in place, with its review history")
        if done.replaced_removed:
            print(f"deckgen.lock: '{args.new}' was the id of a removed note; that note's GUID is forgotten (collections keep it, as a note no longer in the sources)")
    else:
        print(f"'{args.old}' was never built, so it has no GUID yet: nothing to keep")
    return 0


def _run_diff(args) -> int:
    import json

    from deckgen.check.diff import diff, format_text

    result = diff(config_from(args), args.against, args.package)
    if args.format == "json":
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
    else:
        print(format_text(result))
    return 0


def _run_watch(args) -> int:
    from deckgen.site.watch import run

    return run(config_from(args), serve_port=args.port if args.serve else None)


if __name__ == "__main__":
    sys.exit(main())
