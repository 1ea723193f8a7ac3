"""Run one ```sympy block (inside a worker process; see runtime/workers.py).

In:  {"code": source of the block}.
Out: {"shows": [{"latex": ..., "inline": bool}, ...]}; or `JobFailed` with the line within the
     block (1-based) and a kind: "assert" (a claim does not hold), "raise", "cpu".

Each block gets a fresh namespace holding `from sympy import *` and `show`, so blocks cannot see
or change one another's names. The worker process (not the build) runs it, under the time and
memory limits of workers.py; a block that calls exit() is reported, not obeyed.

`show(expr)` records `sympy.latex(expr)` as a display formula; `show(expr, inline=True)` as an
inline one; `show(r"\\TeX")` records a string as it is; `show(lhs, rhs)` records `lhs = rhs`.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any

import sympy

from deckgen.runtime.jobs import CpuLimit, JobFailed, describe

_BASE = {name: getattr(sympy, name) for name in dir(sympy) if not name.startswith("_")}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    shows: list[dict[str, Any]] = []

    def show(expr: Any, rhs: Any = None, *, inline: bool = False) -> None:
        latex = _latex(expr) if rhs is None else f"{_latex(expr)} = {_latex(rhs)}"
        shows.append({"latex": latex, "inline": bool(inline)})

    namespace = dict(_BASE, show=show, __name__="__sympy_block__")
    try:
        code = compile(job["code"], "<sympy block>", "exec")
        exec(code, namespace)
    except SyntaxError as exc:
        raise JobFailed("raise", f"syntax error: {exc.msg}", exc.lineno or 1) from None
    except AssertionError as exc:
        line = _block_line(exc)
        claim = job["code"].splitlines()[line - 1].strip() if line else ""
        detail = f": {exc}" if str(exc) else ""
        raise JobFailed("assert", f"claim does not hold: {claim}{detail}", line) from None
    except SystemExit as exc:  # exit() would end the worker and lose the other blocks' results
        raise JobFailed("raise", f"the block called exit({exc.code if exc.code is not None else ''})", _block_line(exc)) from None
    except CpuLimit as exc:  # name the line the block was on when its CPU time ran out
        raise JobFailed("cpu", "used all of its CPU time", _block_line(exc)) from None
    except MemoryError as exc:
        raise JobFailed("memory", "used more memory than allowed", _block_line(exc)) from None
    except Exception as exc:  # the author's code may raise anything; report it, never crash
        raise JobFailed("raise", describe(exc), _block_line(exc)) from None
    return {"shows": shows}


def _latex(value: Any) -> str:
    if isinstance(value, bool) or value is sympy.true or value is sympy.false:
        # Eq(a, b) with two sides sympy sees as equal evaluates to True: show the sides instead.
        raise ValueError(f"show() got {value}, not a formula: write show(lhs, rhs) instead of show(Eq(lhs, rhs))")
    return value if isinstance(value, str) else str(sympy.latex(value))


def _block_line(exc: BaseException) -> int:
    """The deepest line of the block itself in the traceback (not sympy's internals)."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == "<sympy block>":
            line = frame.lineno or 0
    return line


if __name__ == "__main__":  # manual use: python -m deckgen.math.sympy_worker < block.py
    print(run_job({"code": sys.stdin.read()}))
