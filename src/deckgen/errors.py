"""Errors an author can cause, each tied to a source location, and how they are collected.

A stage never stops at the first problem: it records every `ContentError` it finds in an
`ErrorList`, and the pipeline raises `BuildFailed` with all of them once a stage is done, so an
author fixes a whole file in one round instead of one error per build.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass

from deckgen.records import Location


@dataclass(frozen=True)
class ContentError:
    """`path:line: what is wrong — how to fix it`."""

    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


def file_error(exc: OSError, path: str) -> ContentError:
    """A file system error (disk full, read-only, a file in the way) as a message with a fix."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some disk space (or write elsewhere with --dist), then try again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "make it writable, or write elsewhere with --dist"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        hint = "a file or folder is in the way: move it, or write elsewhere with --dist"
    else:
        hint = "check that the path exists and is readable and writable, then try again"
    return ContentError(Location(path), f"could not read or write: {exc.strerror or exc}", hint)


class BuildFailed(Exception):
    """The build stopped because of content errors; nothing in dist/ was touched."""

    def __init__(self, errors: list[ContentError]):
        self.errors = sorted(errors, key=lambda e: (e.location.path, e.location.line))
        super().__init__("\n".join(str(e) for e in self.errors))


class ErrorList(list):
    """A list of ContentError with a shorthand to add one; `warnings` holds what is worth a
    word but does not fail the build (printed as `warning: path:line: what — fix`)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.warnings: list[ContentError] = []

    def add(self, location: Location, message: str, hint: str = "") -> None:
        self.append(ContentError(location, message, hint))

    def warn(self, location: Location, message: str, hint: str = "") -> None:
        self.warnings.append(ContentError(location, message, hint))

    def raise_if_any(self) -> None:
        if self:
            raise BuildFailed(list(self))
