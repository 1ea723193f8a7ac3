"""The exact formula check: every formula rendered by Anki's own MathJax in headless Chromium.

In:  `Formula` records (TeX as written, display or inline, `path:line`).
Out: `exact_check()` → one `ContentError` per formula that MathJax cannot render cleanly: a TeX
     error (which Anki shows as the raw TeX in place of the formula), an undefined control
     sequence (which Anki shows in red), or delimiters MathJax does not pair up (the raw TeX
     stays on the card). An empty list means every formula renders.

Each formula is put on one page in the exact form the card carries (`\\(..\\)` / `\\[..\\]`, HTML
escaped, a cloze deletion revealed as on the answer side), with Anki's `mathjax.js` config and
its `tex-chtml-full.js`, and the page is typeset once. The page then reads back, per formula,
the MathML MathJax built, and reports what it found as JSON.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deckgen.builder.render import formula_html
from deckgen.config import BuildConfig
from deckgen.errors import ContentError, ErrorList
from deckgen.math import cloze, compute, mathjax
from deckgen.math.texcheck import shorten
from deckgen.records import Formula
from deckgen.runtime import browser, progress
from deckgen.runtime.cache import Cache
from deckgen.source.discover import topic_files
from deckgen.source.parse import parse_topic

HINT = "fix the TeX so that Anki's MathJax renders it; see the formula rules in docs/format.md"

# Runs in the page after MathJax has started: typeset, then describe every formula's MathML.
_SCRIPT = r"""
const out = document.getElementById("%(result)s");
const done = (value) => { out.textContent = JSON.stringify(value).replace(/</g, "\\u003c"); };
function problemsOf(root) {
  const errors = [], other = [];
  root.walkTree((node) => {
    if (node.isKind("merror")) {
      errors.push(node.attributes.get("data-mjx-error") || "TeX error");
    } else if (node.isKind("mtext") && /\\/.test(node.getText())) {
      const text = node.getText();
      if (node.attributes.get("mathvariant") === "monospace") {
        // \verb shows code on purpose
      } else if (node.attributes.get("mathcolor") === "red" && /^\\([A-Za-z]+|.)$/.test(text)) {
        // the noundefined package's mark (MathJax drops the colour when a \color{red} around it has it)
        other.push("undefined control sequence " + text);
      } else {
        other.push("a backslash inside \\text{...} is shown literally: '" + text.trim() + "'");
      }
    }
  });
  return errors.length ? errors : other;  // an merror's own text is the raw TeX: not a second problem
}
MathJax.startup.promise.then(() => MathJax.typesetPromise()).then(() => {
  const result = {};
  for (const box of document.querySelectorAll("div[data-f]")) result[box.dataset.f] = {count: 0, problems: []};
  for (const item of MathJax.startup.document.math) {
    const box = item.start.node.parentElement.closest("div[data-f]");
    if (!box) continue;
    result[box.dataset.f].count += 1;
    result[box.dataset.f].problems.push(...problemsOf(item.root));
  }
  for (const box of document.querySelectorAll("div[data-f]")) {
    let rest = "";  // text MathJax left as it was: an unpaired delimiter, or TeX after one
    for (const node of box.childNodes) if (node.nodeType === Node.TEXT_NODE) rest += node.textContent;
    result[box.dataset.f].rest = rest.trim();
  }
  done({mathjax: MathJax.version, formulas: result});
}).catch((error) => done({failed: String(error && error.message || error)}));
"""


class CheckUnavailable(RuntimeError):
    """The exact check could not run: no Chromium, no Anki MathJax, or Chromium failed (see the message)."""


@dataclass(frozen=True)
class Typeset:
    """What Anki's MathJax made of one piece of HTML."""

    formulas: int  # how many formulas MathJax found in it
    problems: tuple[str, ...]  # TeX errors, undefined commands, backslashes shown literally
    rest: str  # text directly in the fragment that MathJax left as it was


def exact_check(formulas: Sequence[Formula], *, timeout: float = 300.0, mode: progress.Mode = progress.Mode.OFF) -> list[ContentError]:
    """Render every formula through Anki's MathJax; one error per formula that does not render."""
    fragments = [formula_html(_as_on_card(formula), in_cloze=False) for formula in formulas]
    with progress.stage("formula check", len(fragments), mode if fragments else progress.Mode.OFF, "formula") as shown:
        typeset_all = typeset_html(fragments, timeout=timeout)  # one page typesets them all: the count moves once, at the end
        shown.advance(len(typeset_all))
    errors = []
    for formula, typeset in zip(formulas, typeset_all, strict=True):
        message = _problem(typeset)
        if message:
            errors.append(ContentError(formula.location, f"formula {shorten(formula.tex)}: {message}", HINT))
    return errors


def typeset_html(fragments: Sequence[str], *, timeout: float = 300.0) -> list[Typeset]:
    """Typeset each HTML fragment (a formula in its delimiters, or a whole card side) at once."""
    if not fragments:
        return []
    try:
        found = _render(fragments, timeout)
    except (browser.ChromiumNotFound, browser.PageFailed, mathjax.MathJaxUnavailable) as exc:
        raise CheckUnavailable(str(exc)) from exc
    out = []
    for index in range(len(fragments)):
        item = found.get(str(index)) or {"count": 0, "problems": ["MathJax did not report this fragment"], "rest": ""}
        out.append(Typeset(item["count"], tuple(dict.fromkeys(item["problems"])), item["rest"]))
    return out


def check_content(config: BuildConfig) -> list[ContentError]:
    """The exact check over a project: every formula of `content/`, computed ones included."""
    formulas, errors = content_formulas(config)
    return [*errors, *exact_check(formulas, mode=progress.Mode(config.progress))]


def content_formulas(config: BuildConfig) -> tuple[list[Formula], ErrorList]:
    """Every formula the cards will carry, each at its `path:line`; and errors met on the way.

    A sympy block's formulas are placed at the block's line; its results come from the build
    cache, so after a build no block runs again.
    """
    errors = ErrorList()
    topics = [parse_topic(path.read_bytes(), config.display(path), errors) for path in topic_files(config.content_dir)]
    notes = [note for topic in topics if topic is not None for note in topic.notes]
    blocks = [block for note in notes for block in note.sympy_blocks]
    results, _ = compute.run_blocks(blocks, Cache(config.cache_dir), errors, config.jobs, config.sympy_cpu_seconds, progress.Mode(config.progress))
    formulas = [formula for note in notes for _, formula in note.formulas]
    for block in blocks:
        for show in compute.result_for(results, block) or ():
            formulas.append(Formula(show.latex, not show.inline, block.location))
    return formulas, errors


def page_html(fragments: Sequence[str], mathjax_url: str) -> str:
    """A page holding each HTML fragment in its own `<div data-f="index">`, with Anki's MathJax."""
    boxes = "\n".join(f'<div data-f="{i}">{fragment}</div>' for i, fragment in enumerate(fragments))
    script = _SCRIPT % {"result": browser.RESULT_ID}
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">\n'
        f"{mathjax.script_tags(mathjax_url)}\n</head><body>\n{boxes}\n"
        f'<script type="application/json" id="{browser.RESULT_ID}"></script>\n'
        f"<script>{script}</script>\n</body></html>\n"
    )


def _as_on_card(formula: Formula) -> Formula:
    """The TeX MathJax receives on the answer side: cloze deletions revealed."""
    return Formula(cloze.strip(formula.tex), formula.display, formula.location)


def _render(fragments: Sequence[str], timeout: float) -> dict:
    url = browser.file_url(mathjax.mathjax_dir())
    with tempfile.TemporaryDirectory(prefix="deckgen-mathcheck-") as tmp:
        page = Path(tmp) / "formulas.html"
        page.write_text(page_html(fragments, url), encoding="utf-8")
        run = browser.run_page(browser.file_url(page), budget_ms=60000, timeout=timeout)
    result = browser.result_json(run.dom)
    if not result:
        raise browser.PageFailed(f"MathJax reported nothing; page console: {'; '.join(run.console) or 'empty'}")
    if "failed" in result:
        raise browser.PageFailed(f"MathJax failed on the page: {result['failed']}")
    return result["formulas"]


def _problem(typeset: Typeset) -> str:
    if typeset.problems:
        return "; ".join(typeset.problems)
    if typeset.formulas == 0:
        return "MathJax did not find the end of the formula, so the card shows the raw TeX (an unbalanced '{' hides the closing delimiter)"
    if typeset.formulas > 1 or typeset.rest:
        return f"MathJax ends the formula early and shows the rest as text ({typeset.rest[:40]!r}): the TeX contains a closing delimiter such as \\) or \\]"
    return ""
