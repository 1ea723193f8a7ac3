"""Errors an author can cause, each tied to a source location, and how they are collected.

A stage never stops at the first problem: it records every `ContentError` it finds in an
`ErrorList`, and the pipeline raises `BuildFailed` with all of them once a stage is done, so an
author fixes a whole file in one round instead of one error per build.
"""
from __future__ import annotations

from dataclasses import dataclass

from .records import Location


@dataclass(frozen=True)
class ContentError:
    """`path:line: what is wrong — how to fix it`."""

    location: Location
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class BuildFailed(Exception):
    """The build stopped because of content errors; nothing in dist/ was touched."""

    def __init__(self, errors: list[ContentError]):
        self.errors = sorted(errors, key=lambda e: (e.location.path, e.location.line))
        super().__init__("\n".join(str(e) for e in self.errors))


class ErrorList(list):
    """A list of ContentError with a shorthand to add one."""

    def add(self, location: Location, message: str, hint: str = "") -> None:
        self.append(ContentError(location, message, hint))

    def raise_if_any(self) -> None:
        if self:
            raise BuildFailed(list(self))
