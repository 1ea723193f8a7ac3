"""Run one ```sympy block (inside a worker process; see workers.py).

In:  {"code": source of the block, "timeout": its time limit in seconds (for the message)}.
Out: {"shows": [{"latex": ..., "inline": bool}, ...]} or
     {"error": message, "line": line within the block (1-based), "kind": "assert" | "raise" | "timeout"}.

Each block gets a fresh namespace holding `from sympy import *` and `show`, so blocks cannot see
or change one another's names. The worker process (not the build) runs it, under the time and
memory limits of workers.py; a block that calls exit() is reported, not obeyed.

`show(expr)` records `sympy.latex(expr)` as a display formula; `show(expr, inline=True)` as an
inline one; `show(r"\\TeX")` records a string as it is; `show(lhs, rhs)` records `lhs = rhs`.
"""
from __future__ import annotations

import sys
import traceback

import sympy

_BASE = {name: getattr(sympy, name) for name in dir(sympy) if not name.startswith("_")}


def run_job(job: dict) -> dict:
    shows: list[dict] = []

    def show(expr, rhs=None, *, inline: bool = False) -> None:
        latex = _latex(expr) if rhs is None else f"{_latex(expr)} = {_latex(rhs)}"
        shows.append({"latex": latex, "inline": bool(inline)})

    namespace = dict(_BASE, show=show, __name__="__sympy_block__")
    try:
        code = compile(job["code"], "<sympy block>", "exec")
        exec(code, namespace)  # noqa: S102 - running the author's block is the point
    except SyntaxError as exc:
        return {"error": f"syntax error: {exc.msg}", "line": exc.lineno or 1, "kind": "raise"}
    except AssertionError as exc:
        line = _block_line(exc)
        claim = job["code"].splitlines()[line - 1].strip() if line else ""
        detail = f": {exc}" if str(exc) else ""
        return {"error": f"claim does not hold: {claim}{detail}", "line": line, "kind": "assert"}
    except SystemExit as exc:  # exit() would end the worker and lose the other blocks' results
        return {"error": f"the block called exit({exc.code if exc.code is not None else ''})", "line": _block_line(exc), "kind": "raise"}
    except Exception as exc:  # the author's code may raise anything; report it, never crash
        return {"error": f"{type(exc).__name__}: {exc}", "line": _block_line(exc), "kind": "raise"}
    except BaseException as exc:
        if type(exc).__name__ != "JobTimeout":  # workers.py's time limit: name the line it stopped on
            raise
        limit = f" {job['timeout']:g} s" if job.get("timeout") else " its time limit"
        return {"error": f"ran longer than{limit} and was stopped", "line": _block_line(exc), "kind": "timeout"}
    return {"shows": shows}


def _latex(value) -> str:
    if isinstance(value, bool) or value is sympy.true or value is sympy.false:
        # Eq(a, b) with two sides sympy sees as equal evaluates to True: show the sides instead.
        raise ValueError(f"show() got {value}, not a formula: write show(lhs, rhs) instead of show(Eq(lhs, rhs))")
    return value if isinstance(value, str) else sympy.latex(value)


def _block_line(exc: BaseException) -> int:
    """The deepest line of the block itself in the traceback (not sympy's internals)."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == "<sympy block>":
            line = frame.lineno or 0
    return line


if __name__ == "__main__":  # manual use: python -m deckgen.sympy_worker < block.py
    print(run_job({"code": sys.stdin.read()}))
