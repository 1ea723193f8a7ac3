"""What a job handler (figures/worker.py, math/sympy_worker.py) and the child process that runs it
share: how a job fails. Kept apart from child.py, which runs as `__main__`."""
from __future__ import annotations

from typing import Any


class CpuLimit(BaseException):
    """Raised in a job when it has used its CPU time. A BaseException, so that the author's
    `except Exception` cannot swallow it; a handler may catch it to name the line it stopped on
    and re-raise it as `JobFailed("cpu", ...)`."""


class JobFailed(Exception):
    """A handler's report of a failed job: its kind, a message, a line in the job's source, and
    the traceback frames in the author's own files."""

    def __init__(self, kind: str, message: str, line: int = 0, trace: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.kind, self.message, self.line, self.trace = kind, message, line, trace or []

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "line": self.line, "trace": self.trace}


CONFINED = False  # set by the child once runtime/isolation.py confined it


def describe(exc: BaseException) -> str:
    """`Type: message` of an exception in the author's code, with why when confinement refused it."""
    text = f"{type(exc).__name__}: {exc}"
    if CONFINED and isinstance(exc, PermissionError):
        text += " (figure scripts and sympy blocks may write only their temporary folder, read only Python, fonts and figures/, and use no network: see docs/security.md)"
    return text
