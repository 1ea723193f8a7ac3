"""Computed math: run the notes' ```sympy blocks, cached by content hash.

In:  every `SympyBlock` of the build.
Out: for each block, the formulas it shows (`Show` records); errors at the block's `path:line`
     for a failed claim, an exception, or a block that used its CPU time or memory.

Results are cached by a hash of the block's code and the sympy version, so a rebuild with
nothing changed neither runs a block nor imports sympy. The LaTeX a block shows goes through the
same fast formula check as the formulas the author typed (`texcheck`), reported at the block.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from deckgen import limits
from deckgen.errors import ErrorList
from deckgen.math import texcheck
from deckgen.records import Formula, Location, Show, SympyBlock
from deckgen.runtime import progress
from deckgen.runtime.cache import Cache
from deckgen.runtime.keys import Kind, sympy_key

if TYPE_CHECKING:
    from deckgen.runtime.workers import Failure, Limits

HANDLER = "deckgen.math.sympy_worker"
Results = dict[str, tuple[Show, ...]]  # by block_id


def block_id(block: SympyBlock) -> str:
    return f"{block.location}#{block.token}"


def run_blocks(blocks: list[SympyBlock], cache: Cache, errors: ErrorList, jobs: int = 0, cpu_seconds: float = limits.SYMPY_CPU_SECONDS,
               mode: progress.Mode = progress.Mode.OFF) -> tuple[Results, int]:
    """Return the shows of the blocks that succeeded, and how many blocks were run."""
    results: Results = {}
    todo = []
    for block in blocks:
        key = sympy_key(block.code)
        cached = _shows(cache.get_json(Kind.SYMPY, key))
        if cached is None:
            todo.append((block, key))
        else:
            results[block_id(block)] = cached
            _check_shows(block, cached, errors)
    if todo:
        from deckgen.runtime.workers import Failure, Limits, run_jobs  # deferred: a build with every block cached starts no worker

        job_limits = Limits(cpu_seconds, what="sympy block", flag="--sympy-timeout")
        with progress.stage("sympy blocks", len(todo), mode, "block") as shown:
            outcomes = run_jobs(HANDLER, [{"code": block.code} for block, _ in todo], job_limits, jobs, shown.advance)
        for (block, key), outcome in zip(todo, outcomes, strict=True):
            shows = _shows((outcome.value or {}).get("shows"))
            if outcome.failure is None and shows is not None:
                cache.put_json(Kind.SYMPY, key, [{"latex": s.latex, "inline": s.inline} for s in shows])
                results[block_id(block)] = shows
                _check_shows(block, shows, errors)
            else:
                _report(block, outcome.failure or Failure("crash", "the worker returned no result"), job_limits, errors)
    return results, len(todo)


def _shows(data: Any) -> tuple[Show, ...] | None:
    """The shows in a cached or returned result; None when it is not one (a damaged entry)."""
    if not isinstance(data, list) or not all(isinstance(s, dict) and isinstance(s.get("latex"), str) for s in data):
        return None
    return tuple(Show(s["latex"], bool(s.get("inline"))) for s in data)


def result_for(results: Results, block: SympyBlock) -> tuple[Show, ...] | None:
    return results.get(block_id(block))


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # \x1f separates Anki's fields: a package holding one is refused


def _check_shows(block: SympyBlock, shows: tuple[Show, ...], errors: ErrorList) -> None:
    for show in shows:
        if control := _CONTROL_RE.search(show.latex):
            errors.add(block.location, f"sympy block shows text with the control character U+{ord(control.group()):04X}", "show a formula or plain text; Anki refuses a package whose fields hold control characters")
            continue
        formula = Formula(show.latex, not show.inline, block.location)
        for problem in texcheck.problems(formula):
            errors.add(block.location, f"sympy block shows {texcheck.shorten(formula.tex)}: {problem}", "fix the string given to show(), or show a sympy expression")


_HINTS = {
    "assert": "the answer claims something the computation does not confirm: correct the claim or the computation",
    "cpu": "simplify the computation (substitute numbers, avoid a general simplify() on large expressions), or raise the limit with --sympy-timeout",
    "wall": "the block waits instead of computing (sleep, input, a lock): remove that",
    "memory": "use smaller numbers or matrices",
}


def _report(block: SympyBlock, failure: Failure, job_limits: Limits, errors: ErrorList) -> None:
    # The block's code starts on the line after its opening fence.
    line = block.location.line + failure.line if failure.line else block.location.line
    message = failure.message
    if failure.kind == "cpu":
        message = f"used more than {job_limits.cpu_seconds:g} s of CPU time (the CPU time limit per sympy block) and was stopped"
    elif failure.kind == "memory":
        message = f"used more than {job_limits.memory_bytes / 2**30:g} GiB of memory (the memory limit) and was stopped"
    errors.add(Location(block.location.path, line), f"sympy block: {message}", _HINTS.get(failure.kind, "fix the code of the sympy block"))
