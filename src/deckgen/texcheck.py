"""The fast, in-process formula check run on every build.

In:  a `Formula` (TeX as the author wrote it).
Out: a list of problems ("unbalanced braces", "\\left without \\right", ...), empty when fine.

It checks structure only; it must never reject TeX that MathJax accepts. The exact check,
rendering every formula through Anki's own MathJax, lives in `deckgen check` and the tests.
"""
from __future__ import annotations

import re

from . import cloze
from .records import Formula

_COMMAND_RE = re.compile(r"\\([A-Za-z]+|.)")
_ENV_RE = re.compile(r"\\(begin|end)\s*\{([^}]*)\}")


def problems(formula: Formula) -> list[str]:
    tex = cloze.strip(formula.tex)
    found = []
    found += _braces(tex)
    found += _left_right(tex)
    found += _environments(tex)
    if "$" in tex.replace("\\$", ""):
        found.append("a '$' inside the formula: formulas cannot nest; close the formula first")
    return found


def _braces(tex: str) -> list[str]:
    depth = 0
    for match in re.finditer(r"\\.|[{}]", tex):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return ["unbalanced braces: a '}' closes nothing"]
    return [f"unbalanced braces: {depth} '{{' never closed"] if depth > 0 else []


def _left_right(tex: str) -> list[str]:
    depth = 0
    for match in _COMMAND_RE.finditer(tex):
        name = match.group(1)
        if name == "left":
            depth += 1
        elif name == "right":
            depth -= 1
            if depth < 0:
                return ["\\right without a matching \\left"]
    return ["\\left without a matching \\right"] if depth > 0 else []


def _environments(tex: str) -> list[str]:
    stack: list[str] = []
    for kind, name in _ENV_RE.findall(tex):
        if kind == "begin":
            stack.append(name)
        elif not stack:
            return [f"\\end{{{name}}} without \\begin{{{name}}}"]
        elif stack[-1] != name:
            return [f"\\begin{{{stack[-1]}}} is closed by \\end{{{name}}}"]
        else:
            stack.pop()
    return [f"\\begin{{{stack[-1]}}} is never closed by \\end{{{stack[-1]}}}"] if stack else []
