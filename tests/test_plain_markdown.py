"""Paragraphs and lists of plain words skip Python-Markdown: the HTML must be exactly what
Python-Markdown makes of them, for any text, and the shortcut must really be taken for such notes."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deckgen.builder import plainmarkdown
from deckgen.builder.render import _markdown, markdown_to_html
from deckgen.errors import ErrorList
from deckgen.source.parse import parse_topic

REPO = Path(__file__).resolve().parent.parent


def stock(text: str) -> str:
    md = _markdown(skip_plain_text=False)
    md.reset()
    return md.convert(text)


# Words, and the characters that mean something to Markdown at the start of a line or inside it.
WORDS = st.sampled_from(["卷积", "Pooling", "trades", "DGTOK3Z", "x", "3", "1986.", "a.b", "(1)", "“引号”", "50%", "a/b", "-", "--", "+", "=", "==",
                         "***", "**", "*", "_", "#", "##", ">", "|", "`", "~~~", "<b>", "&amp;", "&", "[x]", "[x](y)", "!", ":", "a:b", "1.", "2)", "   "])
LINE = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)
ITEM_MARKERS = st.sampled_from(["", "", "- ", "* ", "+ ", "1. ", "2. ", "10. ", "**", "    ", "\t", "## ", "> "])
BLOCK = st.lists(st.tuples(ITEM_MARKERS, LINE).map(lambda pair: pair[0] + pair[1] + ("**" if pair[0] == "**" else "")), min_size=1, max_size=4).map("\n".join)
TEXT = st.lists(BLOCK, min_size=1, max_size=4).flatmap(lambda blocks: st.sampled_from(["\n\n", "\n", "\n\n\n"]).map(lambda sep: sep.join(blocks)))


@settings(max_examples=1500, deadline=None)
@given(TEXT)
def test_the_shortcut_makes_exactly_what_markdown_makes(text):
    assert markdown_to_html(text) == stock(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab 1\n\n-*_`\\[]()<>&!#+.|~=:$'\"卷积，DGTOK3Z\t", max_size=60))
def test_the_shortcut_makes_exactly_what_markdown_makes_of_any_text(text):
    assert markdown_to_html(text) == stock(text)


@pytest.mark.parametrize("text", [
    "- a\n\n- b", "- a\n\n1. b", "1. a\n\n1. b", "1. a\n\n- b", "- a\n\nb\n\n- c", "a\n- b", "- a\nb", "1. a\n3. b", "2. a",
    "a\n\n\nb", "a\n---", "a\n===", "a\n\n---", "-- a", "+ a", "= a", "1986. a", "a  \nb", " a", "a ", "**a** b", "**a**\n**b**",
    "**a\n- b**", "- **a**", "a: http://x.y", "(1) a", "“a”", "a.b. c", "a - b", "a -- b", "- a - b", "- - a", "1. 2. a",
])
def test_what_looks_plain_but_is_not_renders_as_markdown_would(text):
    assert markdown_to_html(text) == stock(text)


def test_typical_answers_take_the_shortcut():
    # The shapes most answers have: bold label, bullets, a paragraph, a token alone, numbered steps.
    text = ("**要点**\n\n- 学习率过大时损失会震荡，例如 DGTOK0Z。\n- Weight decay shrinks each parameter.\n\n"
            "Pooling trades spatial resolution for a larger receptive field: DGTOK4Z holds.\n\nDGTOK5Z\n\n"
            "1. 数据增强相当于加入先验不变性\n2. Dropout trains an implicit ensemble.")
    assert plainmarkdown.to_html(text) is not None
    assert markdown_to_html(text) == stock(text)


def test_every_flagship_field_renders_as_markdown_would():
    shortcut = 0
    for path in sorted((REPO / "content").glob("*.md")):
        topic = parse_topic(path.read_bytes(), path.name, ErrorList())
        assert topic is not None
        for note in topic.notes:
            for text in (note.front, note.back):
                assert markdown_to_html(text) == stock(text), (path.name, note.note_id)
                shortcut += plainmarkdown.to_html(text) is not None
    assert shortcut > 200  # the questions at least


# Fenced code between plain blocks: fences of other lengths and kinds, languages known and not,
# attributes, blank lines, tabs and fence-like lines inside, fences glued to the text around them.
FENCE_OPEN = st.sampled_from(["```python", "```py", "```sh", "```text", "```nolang", "```", "``` python", "```{.python}", "````python", "~~~python", "```python hl_lines=\"1\""])
CODE_LINE = st.sampled_from(["x = 1", "", "\tindented", "    y < 2 & z", "```", "```  ", "````", "~~~", "## not a heading", "- not a list", "DGTOK3Z", "a  "])
CODE_BLOCK = st.tuples(FENCE_OPEN, st.lists(CODE_LINE, max_size=4), st.sampled_from(["```", "```  ", "````", "~~~"])).map(
    lambda parts: "\n".join([parts[0], *parts[1], parts[2]]))
WITH_CODE = st.lists(st.one_of(BLOCK, CODE_BLOCK), min_size=1, max_size=5).flatmap(
    lambda blocks: st.sampled_from(["\n\n", "\n", "\n\n\n"]).map(lambda sep: sep.join(blocks)))


@settings(max_examples=400, deadline=None)  # about 80 of them take the shortcut
@given(WITH_CODE)
def test_code_blocks_among_plain_text_render_as_markdown_renders_them(text):
    assert markdown_to_html(text) == stock(text)


def test_a_typical_answer_with_code_takes_the_shortcut():
    from deckgen.builder.render import _around_code_blocks

    text = ("**要点**\n\n- 卷积层共享权值，例如 DGTOK0Z。\n\n```python\nimport torch\n\nconv = torch.nn.Conv2d(3, 16, 3, padding=1)\nprint(conv(x).shape)  # (8, 16, 32, 32)\n```\n\n"
            "1. 先做归一化\n2. 再做卷积\n\n```sh\npip install torch\n```")
    assert plainmarkdown.to_html(text) is None and _around_code_blocks(text) is not None
    assert markdown_to_html(text) == stock(text)
    assert '<div class="codehilite"><pre><span></span><code><span class="kn">import</span>' in markdown_to_html(text)
