"""Properties of the parser and the math protection, checked on generated input (hypothesis).

- Any bytes, and any Markdown built from the characters that matter to the parser, give notes or
  located errors, never an exception.
- A formula goes in and comes out unchanged: the parser lifts exactly the TeX that was written,
  and the rendered field holds it (HTML-escaped) between MathJax delimiters.
- Cloze protection only separates braces, never changes what TeX reads, and leaves no `}}` that
  would end a deletion early.
- `deckgen ids --write` only ever adds ids.
- HTML the sanitizer lets through without running nh3 is HTML nh3 gives back unchanged.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deckgen.builder.render import render_note
from deckgen.errors import ErrorList
from deckgen.math import cloze
from deckgen.records import NoteKind
from deckgen.source.ids import write_ids
from deckgen.source.parse import parse_topic
from deckgen.syntax import NAME_RE, TOKEN_RE

HEADER = "---\ndeck: 性质\nid: prop\n---\n\n"


def pieces(items: list[str], max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Strings made of `items` (characters or longer pieces such as `{{c1::`)."""
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=max_size).map("".join)


# Every character with a meaning to the parser or to Markdown, plus ordinary text.
MARKDOWN = pieces([*list("#$`~{}[]()!\\<>:?*_-=&\"' \t\n\r\x0bcd1a中文"), "```", "$$", "{{c1::", "}}", "## ", "{#", "???", "<script>", "](", "\n\n", "## q {#q}\n"], 120)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(text: str):
    errors = ErrorList()
    topic = parse_topic(text.encode() if isinstance(text, str) else text, "content/p.md", errors)
    return topic, errors


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_give_a_topic_or_located_errors(data: bytes):
    topic, errors = parse(data)
    assert topic is not None or errors
    for error in errors:
        assert error.location.path == "content/p.md" and error.location.line >= 1 and error.hint


@SETTINGS
@given(MARKDOWN)
@example("## q {#q}\n\n$")
@example("## q {#q}\n\n```\n## r {#r}\n")
@example("## q {#q}\n\n{{c1::$}}$}}")
def test_any_markdown_body_gives_notes_or_located_errors(body: str):
    topic, errors = parse(HEADER + body)
    for error in errors:
        assert error.location.line >= 1 and error.hint
    if topic is not None and not errors:
        check_renders(topic)


# Answers made of well-formed pieces mixed with stray characters, so most notes parse cleanly.
ANSWER = pieces(["文字", "a b", " ", "\n", "\n\n", "$x_1$", "$$a*b$$", "`$code$`", "**粗**", "_斜_", "- 列表\n", "1. 一\n", "> 引用\n",
                 "| a | b |\n|---|---|\n| 1 | 2 |\n", "```python\nx = '$'\n```\n", "![图](figure:f)", "<br>", "<b>b</b>", "\\$", "{", "}", "<", "&", "*", "#", "[", "]", "!", "{{c1::挖空}}", "???\n"], 30, min_size=1)


@SETTINGS
@given(st.lists(ANSWER, min_size=1, max_size=5))
def test_well_formed_notes_render_with_every_token_filled(answers: list[str]):
    body = "".join(f"## 问题 {i} {{#n{i}}}\n\n{answer}\n\n" for i, answer in enumerate(answers))
    topic, errors = parse(HEADER + body)
    for error in errors:
        assert error.location.line >= 1 and error.hint
    if topic is not None and not errors:
        check_renders(topic)


def check_renders(topic) -> None:
    """Every lifted item has its own token, and rendering leaves no token behind."""
    for note in topic.notes:
        tokens = [t for t, _ in note.formulas] + [b.token for b in note.sympy_blocks] + [m.token for m in note.media]
        assert len(tokens) == len(set(tokens))
        assert set(TOKEN_RE.findall(note.front + note.back)) <= {t[5:-1] for t in tokens}
        replacements = {b.token: "" for b in note.sympy_blocks} | {m.token: "<figure></figure>" for m in note.media}
        rendered = render_note(note, topic.deck_id, topic.tags, replacements, ())
        assert "DGTOK" not in "".join(rendered.fields)


# TeX that can stand between dollars: no `$`, no characters that start a Markdown block at the
# beginning of a line (headings, fences, `???`), no CR (line endings are normalised), no blank line.
TEX_CHARS = [*list("abcxyz0123456789_^{}\\+-*/=<>&|'()[],.;:!% \t"), "\\frac", "\\{", "\\}", "\\alpha", "\\text{", "\\\\", "\n"]
TEX = pieces(TEX_CHARS, 40, min_size=1).filter(
    lambda t: t.strip() and not t.endswith("\\") and "\n\n" not in t and "{{c" not in t and not t.startswith("$")
)


def _only_formula(body: str):
    topic, errors = parse(HEADER + "## 公式 {#f}\n\n" + body + "\n")
    assert not errors, errors
    [note] = topic.notes
    return note


@SETTINGS
@given(TEX)
@example(r"a_i * b_j < \{x\} \& y_{k} > 0")
@example(r"\text{\$}")
def test_inline_formula_comes_out_unchanged(tex: str):
    if tex.endswith("\\") or re.search(r"(?<!\\)(\\\\)*\\$", tex):
        return  # a final backslash escapes the closing dollar: not a formula
    note = _only_formula(f"前 ${tex}$ 后")
    [(_token, formula)] = note.formulas
    assert formula.tex == tex and not formula.display
    field = render_note(note, "prop", (), {}, ()).fields[1]
    assert f"\\({html.escape(tex, quote=False)}\\)" in field


@SETTINGS
@given(TEX)
def test_display_formula_comes_out_unchanged(tex: str):
    if re.search(r"(?<!\\)(\\\\)*\\$", tex) or tex.startswith("$"):
        return
    note = _only_formula(f"$${tex}$$")
    [(_token, formula)] = note.formulas
    assert formula.tex == tex and formula.display
    field = render_note(note, "prop", (), {}, ()).fields[1]
    assert f"\\[{html.escape(tex, quote=False)}\\]" in field


@SETTINGS
@given(TEX)
def test_formulas_in_code_are_left_alone(tex: str):
    note = _only_formula(f"`${tex.replace('`', '')}$` 与\n\n```\n${tex}$\n```")
    assert note.formulas == ()


@SETTINGS
@given(pieces(["<script>", "</script>", "onerror=", "javascript:", "<img src=x onload=y>", "<a href='vbscript:x'>", "a", " ", "<", "$", "!["], 20))
def test_html_shown_as_code_is_never_rejected(code: str):
    note = _only_formula(f"`` {code} `` 与\n\n```html\n{code}\n```")
    assert note.media == ()


BRACES = pieces([*list("{}ab\\ ^_"), "{{c1::", "{{c2::", "}}", "::"], 40)


@SETTINGS
@given(BRACES)
def test_cloze_protection_only_separates_braces(tex: str):
    protected = cloze.protect(tex)
    assert protected.replace(" ", "") == tex.replace(" ", "")
    assert cloze.protect(protected) == protected


@SETTINGS
@given(st.text(alphabet=list("{}ab\\^_ "), max_size=60))
def test_protected_tex_outside_deletions_has_no_closing_pair(tex: str):
    assert "}}" not in cloze.protect(tex).replace("\\}}", "")


def balanced(tex: str) -> bool:
    """Braces nest properly, as TeX requires of a formula."""
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


@SETTINGS
@given(st.text(alphabet=list("ab{}^_ "), min_size=1, max_size=40).filter(balanced))
def test_deletion_around_a_formula_keeps_the_formula(inner: str):
    tex = "{{c1::" + inner + "}}"
    assert cloze.strip(cloze.protect(tex)).replace(" ", "") == inner.replace(" ", "")


QUESTIONS = st.lists(st.text(alphabet=list("ab Z9中文?-_.{}#"), min_size=1, max_size=30).filter(lambda q: q.strip() and "{#" not in q and not q.strip().startswith("#")), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(QUESTIONS, st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_ids_write_only_adds_ids(tmp_path: Path, questions: list[str], newline: str, bom: bool):
    body = "".join(f"## {q.strip()}{newline}{newline}答 {i}{newline}{newline}" for i, q in enumerate(questions))
    original = (b"\xef\xbb\xbf" if bom else b"") + (HEADER + body).replace("\n", newline).encode()
    path = tmp_path / "ids.md"
    path.write_bytes(original)
    added = write_ids(path, set())
    after = path.read_bytes()
    ids = [new_id for _, new_id in added]
    assert len(ids) == len(questions) == len(set(ids)) and all(NAME_RE.fullmatch(i) for i in ids)
    assert re.sub(rb" \{#[a-z0-9-]+\}", b"", after) == original
    topic, errors = parse(after)
    assert not errors and [n.note_id for n in topic.notes] == ids and {n.kind for n in topic.notes} <= set(NoteKind)


PLAIN_HTML = pieces(["<p>", "</p>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>", "<strong>", "</strong>", "<em>", "</em>",
                     '<span class="dg-nobr">', "</span>", "<span>", '<span class="x">',
                     "a", "中", " ", "\n", "&lt;", "&amp;", "&", ">", "<", "\u00a0", "\r", "\\(x\\)", "<p class=x>", "<b>"], 30)


@SETTINGS
@given(PLAIN_HTML)
@example("<p>a<strong>b</p></strong>")
@example("<ul>a<li>b</li></ul>")
@example("<p><p>a</p></p>")
@example("<ul>\n<li>a</li>\n</ul>\n<p>b <em>c</em></p>")
@example('<ul>\n<li>a <span class="dg-nobr">\\(x\\)。</span></li>\n</ul>')
@example('<span class="dg-nobr"><p>a</p></span>')
@example('<ul><span class="dg-nobr"><li>a</li></span></ul>')
def test_html_passed_without_nh3_is_what_nh3_keeps(text: str):
    import nh3

    from deckgen.source import sanitize

    if sanitize.plain_enough(text):
        assert sanitize._cleaner(False).clean(text) == text
        # nh3's defaults drop every class; the parse tree (what a browser builds) is the same
        assert nh3.clean(text) == text.replace(' class="dg-nobr"', "")


def test_most_plain_fields_skip_nh3_and_nothing_else_does():
    from deckgen.source import sanitize

    assert sanitize.plain_enough("<ul>\n<li>a &lt; b</li>\n<li><p>c</p></li>\n</ul>\n<p><strong>要点</strong> \\(x\\)</p>")
    assert sanitize.plain_enough('<ul>\n<li>例如 <span class="dg-nobr">\\(y = \\sigma(Wx + b)\\)。</span></li>\n</ul>')
    for text in ("<p>a<strong>b</p></strong>", "<ul>a<li>b</li></ul>", "<p><p>a</p></p>", "<p>a", "<p class=x>a</p>", "a\u00a0b", "<li>a</li>", "a > b",
                 '<span class="dg-nobr"><p>a</p></span>', '<span class="x">a</span>', '<p class="dg-nobr">a</p>', '</span class="dg-nobr">', "<span>a"):
        assert not sanitize.plain_enough(text), text
