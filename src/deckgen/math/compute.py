"""Computed math: run the notes' ```sympy blocks, cached by content hash.

In:  every `SympyBlock` of the build.
Out: for each block token, the formulas it shows (LaTeX); errors at the block's `path:line`
     for a failed claim, an exception or a block that runs too long.

Results are cached by a hash of the block's code and the sympy version, so a rebuild with
nothing changed neither runs a block nor imports sympy. The LaTeX a block shows goes through the
same fast formula check as the formulas the author typed (`texcheck`), reported at the block.
"""
from __future__ import annotations

from functools import lru_cache

from deckgen.math import texcheck
from deckgen.runtime.cache import Cache, key_for
from deckgen.errors import ErrorList
from deckgen.records import Formula, Location, SympyBlock

SYMPY_VERSION = "2"  # bump when sympy_worker's results change for the same code


@lru_cache(maxsize=1)
def sympy_version() -> str:
    from deckgen.builder.store import installed_version

    return installed_version("sympy")


def block_key(block: SympyBlock) -> str:
    return key_for("sympy", SYMPY_VERSION, sympy_version(), block.code)


def run_blocks(blocks: list[SympyBlock], cache: Cache, errors: ErrorList, jobs: int = 0, timeout: float = 60.0) -> tuple[dict[str, list[dict]], int]:
    """Return {block id: shows} for the blocks that succeeded, and how many blocks were run."""
    results: dict[str, list[dict]] = {}
    todo = []
    for block in blocks:
        key = block_key(block)
        cached = cache.get_json("sympy", key)
        if cached is None:
            todo.append((block, key))
        else:
            results[_id(block)] = cached
            _check_shows(block, cached, errors)
    if todo:
        from deckgen.runtime.workers import run_jobs

        outcomes = run_jobs("deckgen.math.sympy_worker", [{"code": block.code, "timeout": timeout} for block, _ in todo], timeout, jobs)
        for (block, key), outcome in zip(todo, outcomes):
            if "shows" in outcome:
                cache.put_json("sympy", key, outcome["shows"])
                results[_id(block)] = outcome["shows"]
                _check_shows(block, outcome["shows"], errors)
            else:
                _report(block, outcome, errors)
    return results, len(todo)


def _id(block: SympyBlock) -> str:
    return f"{block.location}#{block.token}"


def result_for(results: dict[str, list[dict]], block: SympyBlock) -> list[dict] | None:
    return results.get(_id(block))


def _check_shows(block: SympyBlock, shows: list[dict], errors: ErrorList) -> None:
    for show in shows:
        formula = Formula(show["latex"], not show.get("inline"), block.location)
        for problem in texcheck.problems(formula):
            errors.add(block.location, f"sympy block shows {texcheck.shorten(formula.tex)}: {problem}", "fix the string given to show(), or show a sympy expression")


def _report(block: SympyBlock, outcome: dict, errors: ErrorList) -> None:
    # The block's code starts on the line after its opening fence.
    line = block.location.line + outcome["line"] if outcome.get("line") else block.location.line
    where = Location(block.location.path, line)
    hints = {
        "assert": "the answer claims something the computation does not confirm: correct the claim or the computation",
        "timeout": "simplify the computation (e.g. substitute numbers, avoid general simplify on large expressions)",
    }
    errors.add(where, f"sympy block: {outcome['error']}", hints.get(outcome.get("kind"), "fix the code of the sympy block"))
