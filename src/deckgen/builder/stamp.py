"""The no-op stamp: a build with nothing changed ends before deckgen itself is imported.

In:  (`save`) the command line of a build that succeeded, its config and what it printed, and
     the file signature taken before it read anything; (`unchanged`) a command line.
Out: `.deckgen-cache/stamp.json`; the text to print when every file the build read or wrote
     still has the size, times and inode it had (None otherwise: the full build decides).

The full no-op check (builder/inputs.py) hashes every topic file and package and imports the
pipeline: about 0.1 s at 10,000 notes, most of it Python importing deckgen. This one compares
`os.stat` results, as `git status` does, with nothing imported but `os` and `json`. It is only a
shortcut: whenever it cannot be sure it answers None and the full build runs, which is always
right. It cannot be sure when the command line, the working folder, a DECKGEN_* variable, the
Python, deckgen's code, an installed library (the folders on sys.path), a file of the project
or an output differs in any stat field from what the stamp records; when a build of the project
was interrupted (pending.json); and for files changed within `RACY_NS` of when they were
stat'ed (an edit in the same clock tick could keep its size and time: the stamp is then not
written, and the full check runs until the file is older).
"""
from __future__ import annotations

import json
import os
import sys
import time

STAMP = "stamp.json"
CACHE = ".deckgen-cache"
PENDING = "pending.json"  # builder/pending.py
RACY_NS = 2_000_000_000
_VERSION = 1

Signature = dict[str, list[int]]  # path -> [kind, size, mtime_ns, ctime_ns, inode]; [] when absent


def unchanged(argv: list[str]) -> str | None:
    """What the build `argv` would print if nothing changed since its stamp, else None."""
    started = time.perf_counter()
    root = _root(argv)
    try:
        with open(os.path.join(root, CACHE, STAMP), encoding="utf-8") as file:
            stamp = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("version") != _VERSION or stamp.get("context") != _context(argv):
        return None
    inputs, outputs, text = stamp.get("inputs"), stamp.get("outputs"), stamp.get("text")
    if not isinstance(inputs, dict) or not isinstance(outputs, dict) or not isinstance(text, str):
        return None
    if os.path.exists(os.path.join(root, CACHE, PENDING)):
        return None
    if signature(stamp.get("trees", []), stamp.get("files", [])) != inputs:
        return None
    if signature([], list(outputs)) != outputs:
        return None
    if not text:
        return ""
    head, _, _ = text.rstrip("\n").rpartition(" in ")  # the last line ends "in 0.00 s": the time of this run
    return f"{head} in {time.perf_counter() - started:.2f} s\n"


def save(argv: list[str], root: str, trees: list[str], files: list[str], outputs: list[str], before: Signature, text: str) -> None:
    """Stamp the build `argv` that just succeeded and printed `text` (a no-op's report, its time
    written as 0.00 s). `before` is `signature(trees, files)` taken before the build read
    anything; the stamp is written only if no input changed since and none is too new to trust.
    `outputs` (packages, the lock, the build state) are recorded as the build left them."""
    now = time.time_ns()
    inputs = signature(trees, files)
    if inputs != before or any(entry and now - entry[3] < RACY_NS for entry in inputs.values()):
        return
    stamp = {"version": _VERSION, "context": _context(argv), "trees": trees, "files": files, "inputs": inputs, "outputs": signature([], outputs), "text": text}
    path = os.path.join(root, CACHE, STAMP)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(stamp, file, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError:  # a stamp is only a shortcut
        forget(root)


def forget(root: str) -> None:
    """Remove the stamp (a build is about to change what it describes)."""
    try:
        os.unlink(os.path.join(root, CACHE, STAMP))
    except OSError:
        pass


def signature(trees: list[str], files: list[str]) -> Signature:
    """The stat of every entry under each folder of `trees` (recursively; the folders
    themselves too, so a file added or removed shows) and of each of `files`."""
    found: Signature = {}
    for tree in trees:
        _walk(tree, found)
    for path in files:
        if path not in found:
            found[path] = _stat(path)
    return found


def _walk(folder: str, found: Signature) -> None:
    found[folder] = _stat(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        found[entry.path] = _stat(entry.path)
        if entry.is_dir(follow_symlinks=False):
            _walk(entry.path, found)


def _stat(path: str) -> list[int]:
    try:
        st = os.lstat(path)
    except OSError:
        return []
    # A symbolic link is followed as well: its target's bytes are what the build read.
    target = os.stat(path) if os.path.islink(path) and os.path.exists(path) else st
    return [st.st_mode, target.st_size, target.st_mtime_ns, max(st.st_ctime_ns, target.st_ctime_ns), target.st_ino]


def _root(argv: list[str]) -> str:
    """The --root the command line gives (its last one, as argparse takes it), else '.'. Only
    where to look for the stamp: the stamp itself records the command line it was made for."""
    root = "."
    for i, arg in enumerate(argv):
        if arg == "--root" and i + 1 < len(argv):
            root = argv[i + 1]
        elif arg.startswith("--root="):
            root = arg[len("--root="):]
    return root


def _context(argv: list[str]) -> object:
    """Everything besides files that decides what a build does (as JSON reads it back)."""
    return _plain({
        "argv": list(argv),
        "cwd": os.getcwd(),
        "env": sorted((k, v) for k, v in os.environ.items() if k.startswith("DECKGEN_")),
        "python": [sys.executable, sys.version],
        "path": [(p, _stat(p)) for p in sys.path if p and os.path.isdir(p)],  # installing a library changes its folder
        "tty": [sys.stdout.isatty(), sys.stderr.isatty()],
    })


def _plain(value: object) -> object:
    return json.loads(json.dumps(value))
