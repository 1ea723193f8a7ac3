"""The fast, in-process formula check run on every build.

In:  a `Formula` (TeX as the author wrote it).
Out: a list of problems ("unbalanced braces", "unknown command \\fracc (did you mean \\frac?)",
     ...), empty when the formula is fine.

It must never reject TeX that Anki's MathJax accepts, so it only flags what MathJax itself
turns into an error, a red undefined command, or raw TeX left on the card. The commands and
environments MathJax knows come from `data/mathjax_commands.json`, read out of Anki's own
MathJax build by `tools/mathjax_commands.py`. The exact check (`mathcheck.exact_check`), which
renders every formula through that MathJax, runs in `deckgen check` and the tests.
"""
from __future__ import annotations

import difflib
import itertools
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from deckgen.math import cloze
from deckgen.records import Formula

# Arguments MathJax does not read as math: "text" is shown as written (Anki's MathJax has no
# text-mode macros, so a backslash there appears on the card); "raw" is a name, colour, URL or
# chemistry and is not checked at all.
_ARGUMENTS = {
    **{name: ("text",) for name in ("text", "mbox", "hbox", "fbox", "framebox", "textrm", "textup", "textit", "textbf", "textsf", "texttt", "textclap", "textllap", "textrlap")},
    **{name: ("raw",) for name in ("begin", "end", "label", "ref", "eqref", "tag", "color", "textcolor", "unicode", "require", "ce", "pu", "enclose", "class", "style", "cssId", "href", "cellcolor", "rowcolor", "columncolor", "newenvironment", "renewenvironment")},
    "colorbox": ("raw", "text"),
    "fcolorbox": ("raw", "raw", "text"),
    "definecolor": ("raw", "raw", "raw"),
    "texttip": ("math", "text"),
}
# Commands that define new ones; a formula that defines a command may use it.
_DEFINES_RE = re.compile(r"\\(?:(?:re)?newcommand\*?|DeclareMathOperator\*?|def|let)\s*\{?\s*\\([A-Za-z]+)")
_DEFINES_ENV_RE = re.compile(r"\\(?:re)?newenvironment\s*\{([^}]*)\}")
# Plain-TeX alignments that take `&` without \begin..\end.
_PLAIN_ALIGNMENTS = {"matrix", "pmatrix", "cases", "eqalign", "eqalignno", "leqalignno", "bordermatrix", "array"}
_SIZED = {"left", "right", "middle", *(f"{size}{side}" for size in ("big", "Big", "bigg", "Bigg") for side in ("", "l", "r", "m"))}
_TEXT_ESCAPES = set("{}$()")  # the only backslash pairs MathJax reads inside \text{}
# Well-known LaTeX commands MathJax lacks, with what to write instead.
_INSTEAD = {
    "bm": r"\boldsymbol", "argmax": r"\operatorname*{arg\,max}", "argmin": r"\operatorname*{arg\,min}",
    "norm": r"\lVert x \rVert", "abs": r"\lvert x \rvert", "R": r"\mathbb{R}", "E": r"\mathbb{E}",
    "mathds": r"\mathbb", "textnormal": r"\text", "diag": r"\operatorname{diag}", "softmax": r"\operatorname{softmax}",
}
_OPEN_CLOZE_RE = re.compile(r"\{\{c\d+::")
_WORD_RE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Token:
    """A math-mode token: a control sequence (`cs` is its name) or one character."""

    text: str
    cs: bool = False
    arg: str = ""  # for \begin and \end: the environment name


@dataclass(frozen=True)
class Vocabulary:
    commands: frozenset[str]
    environments: frozenset[str]
    delimiters: frozenset[str]


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(resources.files("deckgen.data").joinpath("mathjax_commands.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    data = _data()
    return Vocabulary(frozenset(data["commands"]), frozenset(data["environments"]), frozenset(data["delimiters"]))


def vocabulary_source() -> dict:
    """Which Anki and MathJax the vocabulary was read from: {"anki": ..., "mathjax": ...}."""
    return dict(_data()["source"])


def problems(formula: Formula) -> list[str]:
    """What is wrong with a formula (empty when nothing is); depends only on its TeX."""
    return list(_problems(formula.tex))


@lru_cache(maxsize=4096)
def _problems(source: str) -> tuple[str, ...]:
    # Cached: a deck repeats many formulas ($x$, $W$, ...) and the check is pure.
    found = _cloze_left_open(source)
    tex = cloze.strip(source)
    found += _braces(tex)
    if found:
        return tuple(found)  # later checks would only repeat the same mistake in other words
    tokens, texts = tokenize(tex)
    for check in (_dollars, _left_right, _delimiters, _environments, _commands, _ampersands, _scripts):
        found += check(tokens, tex)
    found += _text_backslashes(texts)
    return tuple(dict.fromkeys(found))


def shorten(tex: str, limit: int = 60) -> str:
    """The formula quoted for a message, on one line and cut at `limit` characters."""
    tex = " ".join(tex.split())
    return f"'{tex}'" if len(tex) <= limit else f"'{tex[:limit - 1]}…'"


# ---- reading TeX the way MathJax's parser does ----------------------------------------------


def tokenize(tex: str) -> tuple[list[Token], list[str]]:
    """Math-mode tokens (spaces and comments dropped) and the text of every text-mode argument."""
    tokens: list[Token] = []
    texts: list[str] = []
    i, n = 0, len(tex)
    while i < n:
        ch = tex[i]
        if ch.isspace():
            i += 1
        elif ch == "%":  # a comment runs to the end of the line
            end = tex.find("\n", i)
            i = n if end == -1 else end + 1
        elif ch == "\\":
            name, i = _control_sequence(tex, i)
            if name == "verb" and i < n:
                end = tex.find(tex[i], i + 1)
                i = n if end == -1 else end + 1
                continue
            arg = ""
            for kind in _ARGUMENTS.get(name, ()):
                value, i = _argument(tex, i)
                if kind == "text":
                    texts.append(value)
                elif kind == "math":
                    more, more_texts = tokenize(value)
                    tokens += more
                    texts += more_texts
                arg = arg or value
            tokens.append(Token(name, cs=True, arg=arg.strip() if name in ("begin", "end") else ""))
        else:
            tokens.append(Token(ch))
            i += 1
    return tokens, texts


def _control_sequence(tex: str, i: int) -> tuple[str, int]:
    match = _WORD_RE.match(tex, i + 1)
    if match:
        return match.group(), match.end()
    return tex[i + 1 : i + 2], i + 2


def _argument(tex: str, i: int) -> tuple[str, int]:
    """One argument after a command: optional `*` and `[...]` skipped, then `{...}` or one token."""
    n = len(tex)
    while True:
        while i < n and tex[i].isspace():
            i += 1
        if i < n and tex[i] == "*":
            i += 1
        elif i < n and tex[i] == "[":
            end = tex.find("]", i)
            i = n if end == -1 else end + 1
        else:
            break
    if i >= n:
        return "", n
    if tex[i] != "{":
        if tex[i] == "\\":
            name, end = _control_sequence(tex, i)
            return "\\" + name, end
        return tex[i], i + 1
    depth, j = 0, i
    while j < n:
        if tex[j] == "\\":
            j += 2
            continue
        if tex[j] == "{":
            depth += 1
        elif tex[j] == "}":
            depth -= 1
            if depth == 0:
                return tex[i + 1 : j], j + 1
        j += 1
    return tex[i + 1 :], n


# ---- the checks -------------------------------------------------------------------------------


def _cloze_left_open(tex: str) -> list[str]:
    """A deletion opened inside a formula must end inside it, or Anki cuts the formula in two."""
    for opener in _OPEN_CLOZE_RE.finditer(tex):
        depth, i = 0, opener.end()
        while i < len(tex) and not (depth == 0 and tex.startswith("}}", i)):
            if _OPEN_CLOZE_RE.match(tex, i):
                depth -= 1  # a nested deletion's own `}}` comes first
            elif tex[i] == "\\":
                i += 1
            elif tex[i] == "{":
                depth += 1
            elif tex[i] == "}":
                depth -= 1
            i += 1
        if i >= len(tex):
            return [f"cloze deletion {opener.group()} opened in the formula is not closed in it: put the whole formula inside the deletion, or close it with }}}} before the formula ends"]
    return []


def _braces(tex: str) -> list[str]:
    # Counted like MathJax finds the end of a formula: an unbalanced '{' hides the closing \) .
    depth = 0
    for match in re.finditer(r"\\.|[{}]", tex, re.S):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return ["unbalanced braces: a '}' closes nothing"]
    return [f"unbalanced braces: {depth} '{{' never closed"] if depth > 0 else []


def _dollars(tokens: list[Token], tex: str) -> list[str]:
    if any(t.text == "$" and not t.cs for t in tokens):
        return ["a '$' inside the formula: formulas cannot nest; close the formula first, or write \\$ for a dollar sign"]
    return []


def _nesting(tokens: list[Token], opener: str, closer: str):
    """Each token with the number of `opener`..`closer` pairs open around it (below 0: a closer too many)."""
    depth = 0
    for token in tokens:
        if token.cs and token.text == opener:
            depth += 1
        elif token.cs and token.text == closer:
            depth -= 1
        yield token, depth


def _left_right(tokens: list[Token], tex: str) -> list[str]:
    depth = 0
    for _, depth in _nesting(tokens, "left", "right"):
        if depth < 0:
            return ["\\right without a matching \\left"]
    return ["\\left without a matching \\right (use \\right. for an invisible one)"] if depth > 0 else []


def _delimiters(tokens: list[Token], tex: str) -> list[str]:
    known = vocabulary().delimiters
    for token, following in itertools.pairwise([*tokens, Token("")]):
        if token.cs and token.text in _SIZED:
            shown = ("\\" + following.text) if following.cs else following.text
            if shown not in known:
                return [f"\\{token.text} must be followed by a delimiter such as ( [ \\{{ | . (found {shown or 'nothing'!r})"]
    return []


def _environments(tokens: list[Token], tex: str) -> list[str]:
    known = vocabulary().environments | set(_DEFINES_ENV_RE.findall(tex))
    stack: list[str] = []
    for token in tokens:
        if not token.cs or token.text not in ("begin", "end"):
            continue
        name = token.arg
        if token.text == "begin":
            if name not in known:
                return [f"unknown environment '{name}'{_suggest(name, known)}"]
            stack.append(name)
        elif not stack:
            return [f"\\end{{{name}}} without \\begin{{{name}}}"]
        elif stack[-1] != name:
            return [f"\\begin{{{stack[-1]}}} is closed by \\end{{{name}}}"]
        else:
            stack.pop()
    return [f"\\begin{{{stack[-1]}}} is never closed by \\end{{{stack[-1]}}}"] if stack else []


def _commands(tokens: list[Token], tex: str) -> list[str]:
    known = vocabulary().commands | set(_DEFINES_RE.findall(tex))
    found = []
    for token in tokens:
        if not token.cs or token.text in known or token.text.isspace():
            continue
        if not token.text:
            found.append("the formula ends with a single '\\', which hides its closing delimiter: remove it or write \\backslash")
        elif token.text in "()[]":
            found.append(f"\\{token.text} inside a formula: it is MathJax's formula delimiter; remove it")
        else:
            found.append(f"unknown command \\{token.text}{_suggest(token.text, known)}")
    return found


def _suggest(name: str, known) -> str:
    if name in _INSTEAD:
        return f" (MathJax has no such command; write {_INSTEAD[name]})"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean \\{close[0]}?)" if close else ""


def _ampersands(tokens: list[Token], tex: str) -> list[str]:
    if any(t.cs and t.text in _PLAIN_ALIGNMENTS for t in tokens):
        return []
    for token, depth in _nesting(tokens, "begin", "end"):
        if token.text == "&" and not token.cs and depth <= 0:
            return ["'&' outside an alignment: use it inside \\begin{aligned}..\\end{aligned}, cases or a matrix, or write \\& for the character"]
    return []


@dataclass
class _Base:
    """The scripts seen on the current base at one brace level."""

    used: set[str] = field(default_factory=set)  # '^' and '_' already given
    awaiting: bool = False  # a script's argument comes next


def _scripts(tokens: list[Token], tex: str) -> list[str]:
    """`x^2^3`, `x_1_2`, `x^2'`: MathJax's "double exponent / subscript" errors."""
    levels = [_Base()]
    for token in tokens:
        level = levels[-1]
        if token.cs:
            if token.text in ("limits", "nolimits"):
                continue
            _consume(level)
        elif token.text in "^_":
            if token.text in level.used and not level.awaiting:
                what = "exponent" if token.text == "^" else "subscripts"
                return [f"double {what} ('{token.text}' twice on one base): use braces, e.g. {{x^2}}^3 or x_{{1,2}}"]
            level.used.add(token.text)
            level.awaiting = True
        elif token.text == "'" and "^" in level.used and not level.awaiting:
            return ["a prime after an exponent (x^2'): write x'^2 or {x^2}'"]
        elif token.text == "'":
            continue
        elif token.text == "{":
            levels.append(_Base())
        elif token.text == "}" and len(levels) > 1:
            levels.pop()
            _consume(levels[-1])
        else:
            _consume(level)
    return []


def _consume(level: _Base) -> None:
    """A token either completes a pending script argument or starts a new base."""
    if level.awaiting:
        level.awaiting = False
    else:
        level.used = set()


def _text_backslashes(texts: list[str]) -> list[str]:
    for text in texts:
        for match in re.finditer(r"\\([A-Za-z]+|.)", _without_inner_math(text), re.S):
            if match.group(1) not in _TEXT_ESCAPES:
                shown = "\\" + match.group(1)
                return [f"{shown} inside \\text{{...}} is shown literally as '{shown}' (Anki's MathJax reads no commands in text): end the text before it, e.g. \\text{{a }}{shown}\\text{{ b}}"]
    return []


def _without_inner_math(text: str) -> str:
    # `$...$` and `\(...\)` inside \text{} are math again.
    return re.sub(r"\$[^$]*\$|\\\(.*?\\\)", " ", text, flags=re.S)
