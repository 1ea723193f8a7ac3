"""The `deckgen` command: parse flags, call the library, print, choose the exit status.

Exit status: 0 success, 1 content errors (each printed as `path:line: what — how to fix`),
2 wrong usage or an internal error, 130 interrupted. No traceback unless DECKGEN_DEBUG=1.

Each subcommand is one `_add_NAME(commands)` function in `COMMANDS` that declares its flags and
the `_run_NAME(args)` that carries it out. The common flags (`--root`, `--quiet`, and the build
flags of the commands that build) are accepted before or after the subcommand; a flag left out
takes its value from the project's `deckgen.toml`, else deckgen's default (config.py).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

from deckgen import __version__, limits
from deckgen.config import LANGUAGES, BuildConfig
from deckgen.errors import BuildFailed, file_error
from deckgen.records import BuildReport
from deckgen.report import plural, print_errors, print_report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = make_parser().parse_args(argv)
    args.argv = argv  # what the no-op stamp is made for (builder/stamp.py)
    if not getattr(args, "command", None):  # plain `deckgen` builds
        args.run = _run_build
    try:
        return args.run(args)
    except BuildFailed as failed:
        print_errors(failed, tail="nothing was written" if args.run in (_run_init, _run_ids) else "nothing was written, dist/ is unchanged")
        return 1
    except OSError as exc:  # outside a build (e.g. `ids --write` on a read-only file)
        print_errors(BuildFailed([file_error(exc, exc.filename or str(args.root or "."))]))
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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deckgen",
        description="Build Anki decks from Markdown Q&A. Without a command: build.",
        epilog="'deckgen help COMMAND' tells more about one command. Settings a project keeps: deckgen.toml (README, 'Project settings').",
    )
    parser.add_argument("--version", action="version", version=f"deckgen {__version__}")
    _common_flags(parser, on_command=False)
    _build_flags(parser, on_command=False)  # `deckgen --jobs 2` is `deckgen build --jobs 2`
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


# ---- flags ------------------------------------------------------------------------------------
# Given before the subcommand they land on the main parser (default None: "not given"); after
# it, on the subcommand's parser, whose default is SUPPRESS so that it does not overwrite a value
# given before. config_from() then fills in what was not given from deckgen.toml.


def _common_flags(parser: argparse.ArgumentParser, on_command: bool = True) -> None:
    unset = argparse.SUPPRESS if on_command else None
    parser.add_argument("--root", type=Path, default=unset, metavar="DIR", help="project folder holding content/ and figures/ (default: .)")
    parser.add_argument("--quiet", "-q", action="store_true", default=unset, help="print errors only")


def _build_flags(parser: argparse.ArgumentParser, on_command: bool = True) -> None:
    unset = argparse.SUPPRESS if on_command else None
    parser.add_argument("--dist", type=Path, default=unset, metavar="DIR", help="output folder (default: <root>/dist, or 'dist' in deckgen.toml)")
    parser.add_argument("--jobs", "-j", type=_whole, default=unset, metavar="N", help="worker processes for figures and sympy blocks (default: one per core)")
    parser.add_argument("--math-images", action="store_true", default=unset, help="formulas as SVG images (TeX kept as alt text) instead of MathJax")
    parser.add_argument("--lang", dest="language", choices=LANGUAGES, default=unset, help="language of note-type names, card names and the preview (default: 'language' in deckgen.toml, else zh)")
    backstop = f"code that waits is stopped after {limits.WALL_FACTOR:g}× that in wall-clock time + {limits.WALL_EXTRA_SECONDS:g} s"
    parser.add_argument("--figure-timeout", type=_seconds, default=unset, metavar="SECONDS", help=f"CPU time limit per figure, in CPU seconds (default: {limits.FIGURE_CPU_SECONDS:g}); {backstop}")
    parser.add_argument("--sympy-timeout", type=_seconds, default=unset, metavar="SECONDS", help=f"CPU time limit per sympy block, in CPU seconds (default: {limits.SYMPY_CPU_SECONDS:g}); {backstop}")


def _serve_flags(parser: argparse.ArgumentParser, serve_help: str) -> None:
    parser.add_argument("--serve", action="store_true", help=serve_help)
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (default: 8000; 0 picks a free one)")


def _whole(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def config_from(args: argparse.Namespace) -> BuildConfig:
    """The project's `BuildConfig`: the flags given, then deckgen.toml, then the defaults."""
    from deckgen.config import project_config, require_project
    from deckgen.runtime.progress import mode_for

    root = getattr(args, "root", None) or Path(".")
    require_project(root)  # as typed, before anything else: a mistyped --root creates nothing
    return project_config(
        root.resolve(),
        dist_dir=getattr(args, "dist", None),
        jobs=getattr(args, "jobs", None),
        math_images=getattr(args, "math_images", None),
        language=getattr(args, "language", None),
        figure_cpu_seconds=getattr(args, "figure_timeout", None),
        sympy_cpu_seconds=getattr(args, "sympy_timeout", None),
        strict=getattr(args, "strict", None) if getattr(args, "command", None) == "build" else None,
        progress=mode_for(sys.stderr, bool(getattr(args, "quiet", False))).value,
    )


# ---- commands -----------------------------------------------------------------------------------

Commands = argparse._SubParsersAction  # what add_subparsers returns


def _command(commands: Commands, name: str, summary: str, run: Callable[[argparse.Namespace], int], *, builds: bool = False) -> argparse.ArgumentParser:
    """A subcommand with the common flags (and the build flags when it builds)."""
    parser = commands.add_parser(name, help=summary, description=summary)
    _common_flags(parser)
    if builds:
        _build_flags(parser)
    parser.set_defaults(run=run)
    return parser


def _add_build(commands: Commands) -> None:
    build = _command(commands, "build", "build dist/*.apkg (the default command)", _run_build, builds=True)
    build.add_argument("--strict", action="store_true", help="warnings fail the build too (nothing is written)")


def _add_init(commands: Commands) -> None:
    init = commands.add_parser("init", help="start a new project: two topics, a figure script, settings, .gitignore and README",
                               description="Write a small project that builds and imports into Anki at once. Never overwrites a file.")
    init.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="the folder to create it in (default: --root, else .)")
    init.add_argument("--lang", dest="language", choices=LANGUAGES, default=argparse.SUPPRESS, help="language of the example notes and of the labels (default: en)")
    _common_flags(init)
    init.set_defaults(run=_run_init)


def _add_ids(commands: Commands) -> None:
    ids = _command(commands, "ids", "list notes without ids; --write adds them", _run_ids)
    ids.add_argument("--write", action="store_true", help="write the missing ids into the files")


def _add_figures(commands: Commands) -> None:
    _command(commands, "figures", "list every figure, where it is used and whether it is rendered", _run_figures)


def _add_preview(commands: Commands) -> None:
    preview = _command(commands, "preview", "every card, front and back, as a static site in dist/preview/", _run_preview, builds=True)
    _serve_flags(preview, "serve it on 127.0.0.1, rebuild on every change and reload the page")
    preview.add_argument("--screenshots", action="store_true", help="also a PNG of every card on a 390 px phone, day and night, and a contact sheet of them all (dist/preview/screenshots/; needs chromium and playwright)")


def _add_check(commands: Commands) -> None:
    check = _command(commands, "check", "validate everything and lint the content (duplicates, ids, answers, formulas, ...)", _run_check, builds=True)
    check.add_argument("--strict", action="store_true", help="fail on warnings too, and when a check could not run")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format (json: for editors and CI)")
    check.add_argument("--fast", action="store_true", help="skip the exact formula check in headless Chromium")


def _add_watch(commands: Commands) -> None:
    watch = _command(commands, "watch", "rebuild when content/ or figures/ change; keep running after errors", _run_watch, builds=True)
    _serve_flags(watch, "also build the preview, serve it on 127.0.0.1 and reload the page after each rebuild")


def _add_mv(commands: Commands) -> None:
    mv = _command(commands, "mv", "rename a note id, keeping the note's GUID and review history", _run_mv)
    mv.add_argument("old", metavar="OLD", help="the note id to rename")
    mv.add_argument("new", metavar="NEW", help="its new id")


def _add_diff(commands: Commands) -> None:
    diff = _command(commands, "diff", "what importing today's build into your collection will do (a dry run of Anki's import)", _run_diff, builds=True)
    diff.add_argument("--against", type=Path, required=True, metavar="FILE", help="what you have: a package you imported (.apkg), or your collection exported from Anki (.colpkg, or .apkg with all notes)")
    diff.add_argument("--package", default="all", metavar="NAME", help="the package of today's build you would import: a topic id, or 'all' (default)")
    diff.add_argument("--format", choices=("text", "json"), default="text", help="output format (json: for scripts)")


def _add_help(commands: Commands) -> None:
    names = [add.__name__.removeprefix("_add_") for add in COMMANDS]
    help_ = commands.add_parser("help", help="show the help of deckgen or of one command", description="Show the help of deckgen, or of COMMAND.")
    help_.add_argument("topic", nargs="?", choices=names, metavar="COMMAND", help=f"one of: {', '.join(names)}")
    help_.set_defaults(run=_run_help)


def _add_completion(commands: Commands) -> None:
    completion = commands.add_parser(
        "completion", help="print a shell completion script (bash or zsh)",
        description="Print the completion script for SHELL. Load it from ~/.bashrc with  eval \"$(deckgen completion bash)\"  (zsh: ~/.zshrc, zsh).",
    )
    completion.add_argument("shell", choices=("bash", "zsh"), metavar="SHELL", help="bash or zsh")
    completion.set_defaults(run=_run_completion)


COMMANDS = (_add_build, _add_init, _add_ids, _add_figures, _add_preview, _add_check, _add_watch, _add_mv, _add_diff, _add_help, _add_completion)


# ---- what each command does ---------------------------------------------------------------------


def _run_build(args: argparse.Namespace) -> int:
    from deckgen.builder import inputs, stamp
    from deckgen.builder.pipeline import build

    config = config_from(args)
    trees, files = inputs.watched(config)
    before = stamp.signature(trees, files)  # before the build reads them: an edit during it shows
    stamp.forget(str(config.root))
    report = build(config)
    if not args.quiet:
        print_report(report)
    # What the next build prints if nothing changes: the same notes and warnings, no change.
    again = io.StringIO()
    if not args.quiet:
        print_report(BuildReport(report.packages, (), (), report.notes, report.warnings, {"seconds": 0}), again)
    stamp.save(args.argv, str(config.root), trees, files, inputs.written(config, report.packages), before, again.getvalue())
    return 0


def _run_init(args: argparse.Namespace) -> int:
    from deckgen.source import scaffold

    target = args.dir or args.root or Path(".")
    language = getattr(args, "language", None) or "en"
    written = scaffold.create(target, language)
    if not args.quiet:
        shown = "." if target == Path(".") else str(target)
        print(f"created a deckgen project in {shown}/ ({'English' if language == 'en' else 'Chinese'} labels):")
        for path in written:
            print(f"  {path}")
        step = "" if target == Path(".") else f"cd {shown} && "
        print(f"next: {step}deckgen build   then import dist/all.apkg into Anki (File → Import)")
    return 0


def _run_ids(args: argparse.Namespace) -> int:
    from deckgen.config import require_content
    from deckgen.source.discover import topic_files
    from deckgen.source.ids import check_readable, existing_ids, missing_ids, write_ids

    config = config_from(args)
    require_content(config)
    paths = topic_files(config.content_dir)
    check_readable(paths, config.display)
    if args.write:
        taken = existing_ids(paths)
        total = 0
        for path in paths:
            for line, new_id in write_ids(path, taken):
                print(f"{config.display(path)}:{line}: added {{#{new_id}}}")
                total += 1
        print(f"{plural(total, 'id')} added")
        return 0
    missing = [(path, line, heading) for path in paths for line, heading in missing_ids(path)]
    for path, line, heading in missing:
        print(f"{config.display(path)}:{line}: no id: {heading.strip()}")
    if missing:
        print(f"{plural(len(missing), 'note')} without an id; run 'deckgen ids --write' to add them")
        return 1
    print(f"every note has an id ({plural(len(paths), 'topic file')})")
    return 0


def _run_figures(args: argparse.Namespace) -> int:
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
    print(f"{plural(len(result.figures), 'figure')}, {rendered} rendered and cached, {len(result.warnings)} unused")
    if result.errors:
        raise BuildFailed(list(result.errors))
    return 0


def _run_preview(args: argparse.Namespace) -> int:
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
        print(f"preview: {plural(report.cards, 'card')} in {plural(report.decks, 'deck')} ({plural(report.written, 'file')} updated); MathJax {report.mathjax}")
        print(f"open {report.index.as_uri()}")
        if report.sheet:
            print(f"screenshots: {plural(report.sheet.pictures, 'picture')} in {report.sheet.seconds:g} s; contact sheet {report.sheet.index.as_uri()}")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    import json

    from deckgen.check.lint import check, format_text

    report = check(config_from(args), exact_formulas=not args.fast)
    if args.format == "json":
        print(json.dumps(report.as_json(args.strict), ensure_ascii=False, indent=1))
    else:
        print(format_text(report, args.strict))
    return 1 if report.failed(args.strict) else 0


def _run_mv(args: argparse.Namespace) -> int:
    from deckgen.builder.rename import rename_note

    done = rename_note(config_from(args), args.old, args.new)
    refs = f" and {plural(done.references, f'[[{args.old}]] reference')}" if done.references else ""
    print(f"{done.heading}: renamed {{#{args.old}}} to {{#{args.new}}}{refs}")
    if done.lock_updated:
        print(f"deckgen.lock: '{args.new}' keeps the GUID of '{args.old}'; the next build updates the note in place, with its review history")
        if done.replaced_removed:
            print(f"deckgen.lock: '{args.new}' was the id of a removed note; that note's GUID is forgotten (collections keep it, as a note no longer in the sources)")
    else:
        print(f"'{args.old}' was never built, so it has no GUID yet: nothing to keep")
    return 0


def _run_diff(args: argparse.Namespace) -> int:
    import json

    from deckgen.check.diff import diff, format_text

    result = diff(config_from(args), args.against, args.package)
    if args.format == "json":
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
    else:
        print(format_text(result))
    return 0


def _run_watch(args: argparse.Namespace) -> int:
    from deckgen.site.watch import run

    return run(config_from(args), serve_port=args.port if args.serve else None)


def _run_help(args: argparse.Namespace) -> int:
    parser = make_parser()
    if args.topic is None:
        parser.print_help()
    else:
        _subcommands(parser)[args.topic].print_help()
    return 0


def _run_completion(args: argparse.Namespace) -> int:
    print(completion_script(make_parser(), args.shell), end="")
    return 0


# ---- shell completion ---------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _words(parser: argparse.ArgumentParser) -> tuple[list[str], list[str], bool]:
    """(flags, words for the positional argument, whether the positional is a folder)."""
    flags, words, folder = [], [], False
    for action in parser._actions:
        if action.option_strings:
            flags += [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        elif action.choices:  # a choice, or the subcommands
            words += list(action.choices)
        elif action.type is Path:
            folder = True
    return flags, words, folder


def _values(parser: argparse.ArgumentParser) -> dict[str, str]:
    """What follows each flag that takes a value: 'dir', a list of words, or '' (anything)."""
    found: dict[str, str] = {}
    for candidate in [parser, *_subcommands(parser).values()]:
        for action in candidate._actions:
            if not action.option_strings or action.nargs == 0:
                continue
            kind = " ".join(action.choices) if action.choices else "dir" if action.type is Path else ""
            for option in action.option_strings:
                found[option] = kind
    return found


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """A bash completion function for `deckgen`, read off the parser; zsh runs it through
    bashcompinit. Commands, their flags, the values of choice flags, folders after --root."""
    commands = _subcommands(parser)
    cases = []
    for name, sub in [("", parser), *commands.items()]:
        flags, words, folder = _words(sub)
        folders = ' [[ $cur != -* ]] && _deckgen_reply "$cur" -d;' if folder else ""
        cases.append(f'        "{name}") words="{" ".join(words + flags)}";{folders} ;;')
    values = []
    for kind, options in _group(_values(parser)).items():
        reply = '_deckgen_reply "$cur" -d' if kind == "dir" else f'_deckgen_reply "$cur" -W "{kind}"' if kind else "COMPREPLY=()"
        values.append(f"        {'|'.join(options)}) {reply}; return ;;")
    body = BASH_TEMPLATE.format(commands="|".join(commands), values="\n".join(values), cases="\n".join(cases))
    if shell == "zsh":
        return ZSH_HEADER + body
    return BASH_HEADER + body


def _group(values: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for option, kind in sorted(values.items()):
        grouped.setdefault(kind, []).append(option)
    return grouped


BASH_HEADER = """\
# bash completion for deckgen. Load it from ~/.bashrc:   eval "$(deckgen completion bash)"
# or save it once:  deckgen completion bash > ~/.local/share/bash-completion/completions/deckgen
"""
ZSH_HEADER = """\
#compdef deckgen
# zsh completion for deckgen. Load it from ~/.zshrc:   eval "$(deckgen completion zsh)"
(( $+functions[compdef] )) || { autoload -Uz compinit && compinit; }
autoload -Uz bashcompinit && bashcompinit
"""
BASH_TEMPLATE = """\
_deckgen_reply() {{  # CUR -d | CUR -W "WORDS": one reply per line, so folder names may hold spaces
    local cur=$1 IFS=$'\\n'
    if [[ $2 == -W ]]; then
        COMPREPLY=($(compgen -W "${{3// /$'\\n'}}" -- "$cur"))
    else
        compopt -o filenames 2>/dev/null  # bash quotes the names and marks folders with /
        COMPREPLY=($(compgen "${{@:2}}" -- "$cur"))
    fi
}}
_deckgen() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} command="" words="" i
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {commands}) command=${{COMP_WORDS[i]}}; break ;;
        esac
    done
    case "$prev" in
{values}
    esac
    case "$command" in
{cases}
    esac
    (( ${{#COMPREPLY[@]}} )) && [[ $cur != -* ]] && return
    _deckgen_reply "$cur" -W "$words"
}}
complete -F _deckgen deckgen
"""


if __name__ == "__main__":
    sys.exit(main())
