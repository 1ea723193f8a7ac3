"""A corpus of bad inputs, each run through the real `deckgen` command.

Every case starts from a project that built fine (its dist/ and deckgen.lock are kept), breaks it
in one way an author on a bad day would, and checks that the build fails with exit status 1, an
`error: path:line: what — how to fix` line, no traceback, and the previous dist/ and lock file
byte-for-byte as they were.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from anki_engine import card_problems, import_package, new_collection, note_by_guid, render_all, visible_text
from conftest import png, run_deckgen, write_project
from deckgen import BuildConfig, build
from deckgen.anki.notetypes import guid_for

HEADER = ("deck: 坏::测试", "id: bad")


def md(*body: str, header: tuple[str, ...] = HEADER) -> str:
    """A topic file: front matter `header`, a blank line, then `body` (body[0] is on line len(header) + 4)."""
    return "\n".join(("---", *header, "---", "", *body)) + "\n"


def note(*answer: str, heading: str = "## 问题 {#q}") -> str:
    """One note in a file with the default header: the heading is on line 6, the answer from line 8."""
    return md(heading, "", *answer)


GOOD = {
    "content/good.md": md(
        "## 什么是 ReLU？ {#relu}",
        "",
        r"$\max(0, x)$，导数为 $\mathbb{1}[x>0]$。",
        "",
        "![示意](images/ok.png)",
        "",
        "## 填空 {#fill}",
        "",
        "ReLU 的导数在 $x>0$ 时为 {{c1::1}}。",
        header=("deck: 好::基础", "id: good", "tags: [base]"),
    ),
    "content/other.md": md("## 动量 {#momentum}", "", "$v_t = \\beta v_{t-1} + g_t$", header=("deck: 好::Other", "id: other")),
    "content/images/ok.png": png(),
}


def figure_script(*body: str, name: str = "bad-fig") -> str:
    lines = ["import numpy as np", "from deckgen.figure_api import figure", "", "", f'@figure("{name}")', "def draw(fig, pal):", *(f"    {line}" for line in body)]
    return "\n".join(lines) + "\n"


FIGURE_NOTE = note("![坏图](figure:bad-fig)")  # the reference is on line 8


def sympy_note(*code: str) -> str:
    """A note whose answer is a sympy block: the fence is on line 8, code line k on line 8 + k."""
    return note("```sympy", *code, "```")


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | bytes]
    expect: str  # "path:line: message", matched at the start of an error line
    args: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.name


def _symlink(link: str, target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / link)

    return make


def _sparse(rel: str, size: int) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        with open(root / rel, "wb") as out:
            out.write(png())
            out.truncate(size)

    return make


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")

    return make


BAD = "content/bad.md"
LATER = "content/zz.md"  # clashes are reported in the later file by path
CASES = [
    # ---- front matter -------------------------------------------------------------------------
    Case("no-front-matter", {BAD: "## 问题 {#q}\n\n答案\n"}, "content/bad.md:1: the file does not start with YAML front matter"),
    Case("front-matter-never-closed", {BAD: "---\ndeck: 坏\nid: bad\n\n## 问题 {#q}\n\n答案\n"}, "content/bad.md:1: front matter is never closed"),
    Case("front-matter-bad-yaml", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: [坏", "id: bad"))}, "content/bad.md:3: front matter is not valid YAML"),
    Case("front-matter-a-list", {BAD: md("## 问题 {#q}", "", "答案", header=("- deck", "- id"))}, "content/bad.md:2: front matter must be 'key: value' pairs"),
    Case("front-matter-a-string", {BAD: md("## 问题 {#q}", "", "答案", header=("just some words",))}, "content/bad.md:2: front matter must be 'key: value' pairs"),
    Case("missing-deck", {BAD: md("## 问题 {#q}", "", "答案", header=("id: bad",))}, "content/bad.md:1: front matter needs 'deck'"),
    Case("missing-id", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏",))}, "content/bad.md:1: front matter needs 'id'"),
    Case("id-with-spaces", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏", "id: My Deck"))}, "content/bad.md:3: front matter needs 'id', a stable deck id (got 'My Deck')"),
    Case("id-a-number", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏", "id: 42"))}, "content/bad.md:3: front matter needs 'id', a stable deck id (got 42)"),
    Case("id-reserved-all", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏", "id: all"))}, "content/bad.md:3: deck id 'all' is reserved"),
    Case("id-windows-device-name", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏", "id: con"))}, "content/bad.md:3: deck id 'con' is a reserved file name on Windows"),
    Case("deck-a-list", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: [a, b]", "id: bad"))}, "content/bad.md:2: front matter needs 'deck'"),
    Case("deck-empty-level", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏::::测试", "id: bad"))}, "content/bad.md:2: front matter needs 'deck'"),
    Case("tags-a-mapping", {BAD: md("## 问题 {#q}", "", "答案", header=(*HEADER, "tags: {a: 1}"))}, "content/bad.md:4: front matter 'tags' must be a list"),
    Case("tags-with-spaces", {BAD: md("## 问题 {#q}", "", "答案", header=(*HEADER, 'tags: ["two words"]'))}, "content/bad.md:4: front matter 'tags' must be a list"),
    Case("description-a-number", {BAD: md("## 问题 {#q}", "", "答案", header=(*HEADER, "description: 3.14"))}, "content/bad.md:4: front matter 'description' must be text"),
    Case("unknown-key", {BAD: md("## 问题 {#q}", "", "答案", header=("dek: 坏", "id: bad"))}, "content/bad.md:2: unknown front matter key 'dek'"),
    Case("duplicate-key", {BAD: md("## 问题 {#q}", "", "答案", header=(*HEADER, "id: bad2"))}, "content/bad.md:4: front matter key 'id' is given twice"),
    Case("tab-indented-front-matter", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏", "\tid: bad"))}, "content/bad.md:3: front matter is not valid YAML"),
    Case("yaml-alias-bomb", {BAD: md("## 问题 {#q}", "", "答案", header=("deck: 坏", "lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]", *(f"l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)), "id: *a9"))}, "content/bad.md:13: front matter needs 'id', a stable deck id (got [[[[[["),
    Case("allow-scripts-not-a-bool", {BAD: md("## 问题 {#q}", "", "答案", header=(*HEADER, "allow_scripts: please"))}, "content/bad.md:4: front matter 'allow_scripts' must be true or false"),
    Case("script-in-description", {BAD: md("## 问题 {#q}", "", "答案", header=(*HEADER, "description: <script>alert(1)</script>"))}, "content/bad.md:4: <script> in the deck description"),
    # ---- encodings and odd files --------------------------------------------------------------
    Case("gbk-file", {BAD: note("答案").encode("gbk")}, "content/bad.md:2: the file is not valid UTF-8 (byte 0xbb); it looks like GB18030"),
    Case("utf16-file", {BAD: note("答案").encode("utf-16")}, "content/bad.md:1: the file is UTF-16, not UTF-8"),
    Case("binary-file", {BAD: png(8, 8)}, "content/bad.md:1: this is a binary file, not Markdown"),
    Case("empty-file", {BAD: b""}, "content/bad.md:1: the file is empty"),
    Case("blank-file", {BAD: b"\n  \n\t\n"}, "content/bad.md:1: the file is empty"),
    Case("fifty-megabytes", {BAD: ("---\ndeck: 坏\nid: bad\n---\n" + "## 问 {#q}\n\n答\n" * 3_084_000).encode()}, "content/bad.md:1: the file is 50.0 MiB"),
    Case("control-character", {BAD: note("答案 \x1b[31m红色\x1b[0m")}, "content/bad.md:8: control character U+001B"),
    Case("nul-after-eight-kib", {BAD: note("x" * 9000, "", "答\x00案")}, "content/bad.md:10: control character U+0000"),
    # ---- notes ----------------------------------------------------------------------------------
    Case("no-answer", {BAD: md("## 问题 {#q}", "", "## 下一题 {#r}", "", "答")}, "content/bad.md:6: note 'q' has no answer"),
    Case("no-id", {BAD: note("答案", heading="## 问题")}, "content/bad.md:6: note has no id"),
    Case("id-uppercase-and-space", {BAD: note("答案", heading="## 问题 {#Dilated Conv}")}, "content/bad.md:6: invalid note id 'Dilated Conv'"),
    Case("id-path-traversal", {BAD: note("答案", heading="## 问题 {#../etc}")}, "content/bad.md:6: invalid note id '../etc'"),
    Case("id-chinese", {BAD: note("答案", heading="## 问题 {#卷积}")}, "content/bad.md:6: invalid note id '卷积'"),
    Case("id-too-long", {BAD: note("答案", heading="## 问题 {#" + "a" * 70 + "}")}, "content/bad.md:6: invalid note id 'aaaa"),
    Case("id-empty", {BAD: note("答案", heading="## 问题 {#}")}, "content/bad.md:6: invalid note id ''"),
    Case("heading-only-an-id", {BAD: note("答案", heading="## {#q}")}, "content/bad.md:6: the heading has no question text"),
    Case("duplicate-id-in-file", {BAD: md("## 问题 {#q}", "", "答", "", "## 另一题 {#q}", "", "答")}, "content/bad.md:10: duplicate note id 'q' (first used on line 6)"),
    Case("duplicate-id-across-files", {LATER: note("答案", heading="## 问题 {#relu}")}, "content/zz.md:6: note id 'relu' is also used at content/good.md:7"),
    Case("unknown-note-type", {BAD: md("## 问题 {#q}", "type: flashcard", "", "答案")}, "content/bad.md:7: unknown note type 'flashcard'"),
    Case("bad-tag", {BAD: md("## 问题 {#q}", 'tags: ok "quoted"', "", "答案")}, "content/bad.md:7: invalid tag '\"quoted\"'"),
    Case("text-before-first-note", {BAD: md("前言", "", "## 问题 {#q}", "", "答")}, "content/bad.md:6: text before the first note belongs to no card"),
    Case("no-notes", {BAD: md("")}, "content/bad.md:5: no notes in this file"),
    # ---- cloze -------------------------------------------------------------------------------------
    Case("cloze-without-deletion", {BAD: md("## 问题 {#q}", "type: cloze", "", "没有挖空")}, "content/bad.md:6: cloze note has no deletion"),
    Case("cloze-number-zero", {BAD: note("答案是 {{c0::零}}")}, "content/bad.md:6: cloze deletion '{{c0::' has no number"),
    Case("cloze-without-number", {BAD: note("答案是 {{c::一}}")}, "content/bad.md:6: cloze deletion '{{c::' has no number"),
    Case("cloze-never-closed", {BAD: note("答案是 {{c1::一")}, "content/bad.md:6: a cloze deletion is never closed"),
    Case("cloze-stray-close", {BAD: note("答案是 {{c1::一}} 和 二}}")}, "content/bad.md:6: a '}}' closes no cloze deletion"),
    Case("cloze-left-open-in-math", {BAD: note(r"公式 $a = {{c1::\frac{1}{2}$ 后面}}")}, "content/bad.md:8: formula"),
    # ---- math and code -------------------------------------------------------------------------
    Case("dollar-never-closed", {BAD: note("价格 $x + 1")}, "content/bad.md:8: formula $ is never closed"),
    Case("display-never-closed", {BAD: note("$$", "x^2")}, "content/bad.md:8: display formula $$ is never closed"),
    Case("empty-display", {BAD: note("前 $$$$ 后")}, "content/bad.md:8: empty formula $$$$"),
    Case("code-fence-never-closed", {BAD: note("```python", "print(1)")}, "content/bad.md:8: code block opened with ``` is never closed"),
    Case("sympy-fence-never-closed", {BAD: note("```sympy", "x = 1")}, "content/bad.md:8: code block opened with ``` is never closed"),
    Case("unbalanced-braces", {BAD: note(r"$\frac{a}{b$")}, "content/bad.md:8: formula '\\frac{a}{b': unbalanced braces"),
    Case("unknown-tex-command", {BAD: note(r"$\fracc{a}{b}$")}, "content/bad.md:8: formula '\\fracc{a}{b}': unknown command \\fracc"),
    # ---- local images --------------------------------------------------------------------------
    Case("image-missing", {BAD: note("![图](images/nope.png)")}, "content/bad.md:8: image 'images/nope.png' does not exist"),
    Case("image-dot-dot", {BAD: note("![图](../../etc/passwd)")}, "content/bad.md:8: image '../../etc/passwd' is outside the content folder"),
    Case("image-absolute", {BAD: note("![图](/etc/passwd)")}, "content/bad.md:8: image '/etc/passwd' is outside the content folder"),
    Case("image-symlink-out", {BAD: note("![图](images/evil.png)")}, "content/bad.md:8: image 'images/evil.png' is outside the content folder", setup=_symlink("content/images/evil.png", "/etc/passwd")),
    Case("image-symlinked-folder-out", {BAD: note("![图](shared/x.png)")}, "content/bad.md:8: image 'shared/x.png' is outside the content folder", setup=_symlink("content/shared", "/usr/share")),
    Case("image-is-a-pipe", {BAD: note("![图](images/pipe.png)")}, "content/bad.md:8: image 'images/pipe.png' is not a regular file", setup=lambda root: os.mkfifo(root / "content/images/pipe.png")),
    Case("image-url", {BAD: note("![图](https://example.com/x.png)")}, "content/bad.md:8: image 'https://example.com/x.png' is not a local file"),
    Case("image-javascript", {BAD: note("![图](javascript:alert(1))")}, "content/bad.md:8:"),
    Case("image-unsupported-type", {BAD: note("![图](images/x.bmp)"), "content/images/x.bmp": b"BM" + bytes(64)}, "content/bad.md:8: 'images/x.bmp' is not a supported image type"),
    Case("image-enormous-file", {BAD: note("![图](images/huge.png)")}, "content/bad.md:8: image 'images/huge.png' is 64.0 MiB", setup=_sparse("content/images/huge.png", 64 * 2**20)),
    Case("image-not-really-png", {BAD: note("![图](images/fake.png)"), "content/images/fake.png": "<html>not an image</html>"}, "content/bad.md:8: 'images/fake.png' is not a PNG image"),
    Case("image-pixel-bomb", {BAD: note("![图](images/bomb.png)"), "content/images/bomb.png": png(60000, 60000)}, "content/bad.md:8: image 'images/bomb.png' is 60000×60000 pixels"),
    Case("svg-with-script", {BAD: note("![图](images/x.svg)"), "content/images/x.svg": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'}, "content/bad.md:8: SVG image 'images/x.svg' contains <script>"),
    Case("raw-img-tag", {BAD: note('<img src="images/ok.png">')}, "content/bad.md:8: raw <img> tag"),
    Case("image-path-with-space", {BAD: note("![图](images/my pic.png)")}, "content/bad.md:8: image '![图](images/my pic.png)' cannot be read"),
    Case("reference-style-image", {BAD: note("![图][pic]", "", "[pic]: images/ok.png")}, "content/bad.md:8: image '![图][pic]' cannot be read"),
    # ---- figures -------------------------------------------------------------------------------
    Case("unknown-figure", {BAD: note("![图](figure:no-such-figure)")}, "content/bad.md:8: unknown figure 'no-such-figure'"),
    Case("figure-raises", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("raise ValueError('boom')")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: ValueError: boom"),
    Case("figure-loops-forever", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("while True:", "    pass")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: used more than 2 s of CPU time", args=("--figure-timeout", "2")),
    Case("figure-allocates-without-bound", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("hoard = []", "while True:", "    hoard.append(bytearray(2**26))")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: used more than 2 GiB of memory"),
    Case("figure-kills-its-process", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("import os", "os._exit(3)")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: the worker process died"),
    Case("figure-draws-nothing", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("fig.subplots()")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: the figure draws nothing"),
    Case("figure-script-raises-on-import", {BAD: FIGURE_NOTE, "figures/bad.py": "raise RuntimeError('at import')\n" + figure_script("pass")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:6) failed: RuntimeError: at import"),
    Case("figure-script-hangs-on-import", {BAD: FIGURE_NOTE, "figures/bad.py": "while True:\n    pass\n" + figure_script("pass")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:7) failed: used more than 2 s of CPU time", args=("--figure-timeout", "2")),
    Case("figure-syntax-error", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("return (")}, "figures/bad.py:7: figure script has a syntax error"),
    Case("figure-name-not-literal", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("pass", name='" + "x')}, "figures/bad.py:5: @figure needs the figure name as a literal string"),
    # ---- sympy blocks --------------------------------------------------------------------------
    Case("sympy-raises", {BAD: sympy_note("x = symbols('x')", "y = undefined_name + x")}, "content/bad.md:10: sympy block: NameError"),
    Case("sympy-claim-fails", {BAD: sympy_note("x = symbols('x')", "assert diff(x**2, x) == 3*x")}, "content/bad.md:10: sympy block: claim does not hold: assert diff(x**2, x) == 3*x"),
    Case("sympy-hangs", {BAD: sympy_note("while True:", "    pass")}, "content/bad.md:9: sympy block: used more than 2 s of CPU time", args=("--sympy-timeout", "2")),
    Case("sympy-syntax-error", {BAD: sympy_note("x = (")}, "content/bad.md:9: sympy block: syntax error"),
    Case("sympy-allocates-without-bound", {BAD: sympy_note("hoard = []", "while True:", "    hoard.append(bytearray(2**26))")}, "content/bad.md:11: sympy block:"),
    Case("sympy-kills-its-process", {BAD: sympy_note("import os", "os._exit(3)")}, "content/bad.md:8: sympy block: the worker process died"),
    # ---- decks ---------------------------------------------------------------------------------
    Case("deck-name-collides", {LATER: md("## 问题 {#q}", "", "答", header=("deck: 好::基础", "id: bad"))}, "content/zz.md:2: deck name '好::基础' is also used by content/good.md"),
    Case("deck-name-collides-ignoring-case", {LATER: md("## 问题 {#q}", "", "答", header=("deck: 好::other", "id: bad"))}, "content/zz.md:2: deck name '好::other' is also used by content/other.md ('好::Other': Anki ignores case)"),
    Case("deck-id-collides", {LATER: md("## 问题 {#q}", "", "答", header=("deck: 坏", "id: good"))}, "content/zz.md:3: deck id 'good' is also used by content/good.md"),
    # A changed deck id is no error any more: each note keeps its GUID (tests/test_identity.py).
    Case("published-note-type-changed", {}, "content/good.md:7: note 'relu' was published as a basic note and is now reversed", setup=_edit("content/good.md", "## 什么是 ReLU？ {#relu}\n", "## 什么是 ReLU？ {#relu}\ntype: reversed\n")),
    # ---- scripts in content --------------------------------------------------------------------
    Case("script-tag", {BAD: note("答案", "", "<script>alert(1)</script>")}, "content/bad.md:10: <script> in the note"),
    Case("script-tag-in-question", {BAD: note("答案", heading="## 问题 <SCRIPT src=x.js></SCRIPT> {#q}")}, "content/bad.md:6: <script> in the note"),
    Case("event-handler", {BAD: note('<img src=x onerror="alert(1)">')}, "content/bad.md:8: event-handler attribute 'onerror'"),
    Case("event-handler-on-svg", {BAD: note("答", "<svg/onload=alert(1)>")}, "content/bad.md:9: event-handler attribute 'onload'"),
    Case("javascript-link", {BAD: note("[点我](javascript:alert(1))")}, "content/bad.md:8: 'javascript:' URL in the note"),
    Case("javascript-href-entities", {BAD: note('<a href="jav&#x61;script&colon;alert(1)">点我</a>')}, "content/bad.md:8: 'javascript:' URL in the note"),
    Case("javascript-autolink", {BAD: note("答", "<javascript:alert(1)>")}, "content/bad.md:9: 'javascript:' URL in the note"),
]


def build_good(tmp_path_factory) -> Path:
    """GOOD, built: the project each bad case starts from (test_hostile_content.py uses it too)."""
    root = write_project(tmp_path_factory.mktemp("good") / "proj", GOOD)
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def good_project(tmp_path_factory) -> Path:
    return build_good(tmp_path_factory)


def snapshot(root: Path) -> dict[str, bytes]:
    files = {str(p.relative_to(root)): p.read_bytes() for p in (root / "dist").rglob("*") if p.is_file()}
    files["deckgen.lock"] = (root / "deckgen.lock").read_bytes()
    return files


def error_line(stderr: str, expect: str) -> str:
    """The `error:` line that starts with `expect`."""
    for line in stderr.splitlines():
        if line.startswith(f"error: {expect}"):
            return line
    raise AssertionError(f"no error line starting with {expect!r} in:\n{stderr}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input_fails_cleanly(case: Case, good_project: Path, tmp_path: Path):
    root = tmp_path / "proj"
    shutil.copytree(good_project, root, symlinks=True)
    before = snapshot(root)
    write_project(root, case.files)
    if case.setup:
        case.setup(root)
    result = run_deckgen(root, *case.args, timeout=120)
    assert result.code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    line = error_line(result.stderr, case.expect)
    assert re.match(r"error: [^:]+(:\d+)?: ", line)
    assert " — " in line, f"no fix given: {line}"
    assert snapshot(root) == before


def test_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


# ---- odd but valid inputs: these must build, and build right -----------------------------------

ENCODED = md(
    "## 问题 一 {#a}",
    "",
    "答案 $x_1 * y$，见下：",
    "",
    "```python",
    "print('$not math$')",
    "```",
    "",
    "## 填空 {#b}",
    "",
    "{{c1::答}} 案",
    header=("deck: 编码::测试", "id: enc", "description: 行尾与 BOM"),
)


def test_bom_crlf_and_cr_files_build_byte_identical_to_lf(tmp_path: Path):
    variants = {
        "lf": ENCODED.encode(),
        "bom-crlf": b"\xef\xbb\xbf" + ENCODED.replace("\n", "\r\n").encode(),
        "cr": ENCODED.replace("\n", "\r").encode(),
    }
    built = {}
    for name, data in variants.items():
        root = write_project(tmp_path / name, {"content/enc.md": data})
        build(BuildConfig(root=root, now=1_800_000_000))
        built[name] = {p.name: p.read_bytes() for p in (root / "dist").glob("*.apkg")} | {"lock": (root / "deckgen.lock").read_bytes()}
    assert built["bom-crlf"] == built["lf"] and built["cr"] == built["lf"]


def open_package(apkg: Path, folder: Path):
    col = new_collection(folder)
    import_package(col, apkg)
    return col


def test_tabs_are_fine_in_front_matter_headings_and_answers(tmp_path: Path):
    root = write_project(tmp_path / "p", {"content/tabs.md": md(
        "##\t制表符问题\t{#t}",
        "",
        "-\t列表项",
        "",
        "\tprint('缩进代码')",
        "",
        "公式 $a\t+ b$",
        header=("deck:\t制表符::测试", "id:\ttabs"),
    )})
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    col = open_package(root / "dist" / "tabs.apkg", tmp_path / "col")
    [card] = render_all(col)
    assert "制表符问题" in visible_text(card.question)
    answer = visible_text(card.answer)
    assert "列表项" in answer and "print('缩进代码')" in answer and "\\(a\t+ b\\)" in answer
    assert "制表符::测试" in {d.name for d in col.decks.all_names_and_ids()}
    col.close()


def test_scripts_build_only_with_the_opt_in_and_code_about_scripts_is_fine(tmp_path: Path):
    root = write_project(tmp_path / "p", {
        "content/js.md": md(
            "## 交互 {#s}", "", '<script>document.title = "x"</script>', "", '<a href="javascript:void(0)" onclick="f()">点我</a>',
            header=("deck: 脚本", "id: js", "allow_scripts: true"),
        ),
        "content/code.md": md(
            "## 讲脚本的卡片 {#c}", "", "`<script>alert(1)</script>` 与 `onerror=` 都是代码。", "",
            "```html", '<img src=x onerror="alert(1)">', "<script>go()</script>", "```", "",
            "JavaScript: 一种语言；onion=洋葱；a < b 且 c > d。",
            header=("deck: 代码", "id: code"),
        ),
    })
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    col = open_package(root / "dist" / "all.apkg", tmp_path / "col")
    backs = {note_by_guid(col, guid_for(key))["Meta"]: note_by_guid(col, guid_for(key))["Back"] for key in ("js/s", "code/c")}
    assert '<script>document.title = "x"</script>' in backs["js/s"] and 'onclick="f()"' in backs["js/s"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in backs["code/c"] and "<script" not in backs["code/c"]
    col.close()


def test_closing_braces_in_math_keep_cloze_cards_whole(tmp_path: Path):
    root = write_project(tmp_path / "p", {"content/cz.md": md(
        "## 分母 {#cz}",
        "",
        r"$$\frac{1}{n_{in}}$$",
        "",
        r"分母是 {{c1::$n_{in}$}}，而 {{c2::$\frac{a}{b^{2}}$}} 不变；$x^{y^{z}}$ 在挖空外。",
        header=("deck: 挖空", "id: cz"),
    )})
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    col = open_package(root / "dist" / "cz.apkg", tmp_path / "col")
    cards = render_all(col)
    assert len(cards) == 2
    for card in cards:
        for side in (card.question, card.answer):
            assert not card_problems(side), (card_problems(side), side)
    answers = " ".join(visible_text(c.answer) for c in cards)
    assert "\\(n_{in}\\)" in answers and "\\frac{a}{b^{2} }" in answers and "x^{y^{z} }" in answers
    assert sum("[...]" in visible_text(c.question) for c in cards) == 2
    col.close()


def test_image_names_anki_and_browsers_dislike_still_reach_the_card(tmp_path: Path):
    long_name = "很长的图片名" * 12  # 72 characters, 216 bytes in UTF-8
    root = write_project(tmp_path / "p", {
        "content/img.md": md("## 图 {#i}", "", "![井号](images/图#1%.png)", "", f"![长](images/{long_name}.png)", header=("deck: 图片", "id: img")),
        "content/images/图#1%.png": png(2, 2),
        f"content/images/{long_name}.png": png(3, 3),
    })
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    col = open_package(root / "dist" / "img.apkg", tmp_path / "col")
    back = note_by_guid(col, guid_for("img/i"))["Back"]
    sources = re.findall(r'src="([^"]+)"', back)
    assert len(sources) == 2
    for name in sources:
        assert len(name.encode()) <= 120 and not set(name) & set("#%? ")
        assert (Path(col.media.dir()) / name).is_file(), name
    col.close()


def test_ids_and_check_commands_report_a_file_they_cannot_read(project):
    data = note("答案", heading="## 没有编号的问题").encode("gbk")
    root = project({"content/gbk.md": data})
    for args in (("ids",), ("ids", "--write"), ("check",)):
        result = run_deckgen(root, *args)
        assert result.code == 1, result.stdout + result.stderr
        output = result.stdout + result.stderr  # `check` reports on stdout
        assert "error: content/gbk.md:2: the file is not valid UTF-8" in output and "Traceback" not in output and "internal error" not in output
        assert (root / "content/gbk.md").read_bytes() == data


# Inputs built to make a parser slow or deep: each must build, or be refused by a check that counts
# (source/guards.py), never by a clock, so the verdict is the same on a fast and a slow machine.
# The timeout of run_deckgen is a hang guard, not a speed test.
PATHOLOGICAL = [
    ("unmatched-brackets", "[`" * 20_000, 1, "content/bad.md:8: 10000 '[' are never closed (at most 200)"),
    ("image-targets", "![a](" * 200_000, 1, "content/bad.md:8: image '![a](' cannot be read"),
    ("image-titles", '![a](b "' * 150_000, 1, "content/bad.md:8: image '![a](b \"' cannot be read"),
    ("backtick-runs", " ".join("`" * i for i in range(1, 200)), 0, ""),
    ("huge-char-reference", "&#" + "9" * 5000 + ";", 0, ""),
    ("nested-lists", "\n".join("  " * i + "- x" for i in range(1000)), 1, "content/bad.md:32: lists or quotes are nested 25 levels deep (at most 24)"),
]


@pytest.mark.parametrize("name, answer, code, expect", PATHOLOGICAL, ids=[p[0] for p in PATHOLOGICAL])
def test_pathological_markdown_finishes(project, name: str, answer: str, code: int, expect: str):
    root = project({BAD: note(answer)})
    result = run_deckgen(root, timeout=120)
    assert result.code == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if expect:
        line = error_line(result.stderr, expect)
        assert " — " in line
        assert len(result.stderr.splitlines()) < 60  # thousands of errors are summed up


def test_heading_of_unclosed_ids_finishes(project):
    root = project({BAD: md("## 问题 " + "{#" * 300_000, "", "答")})
    result = run_deckgen(root, timeout=120)
    assert result.code == 1 and "content/bad.md:6: note has no id" in result.stderr
