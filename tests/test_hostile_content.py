"""Hostile or careless content: names, active and remote HTML, YAML limits, invisible mistakes,
packages Anki would refuse, and code that tries to leave its worker.

Every case starts from a project that built fine, breaks it in one way, runs the real `deckgen`
command and checks what a user (and the machine's owner) must be able to rely on:

- exit status 1 and an `error: path:line: what — fix` line, no traceback;
- dist/ and deckgen.lock byte-for-byte as they were;
- nothing created outside the project: the case's code aims at a folder beside the project
  (`{outside}`), which must stay as it was, and every worker's temporary folder is gone;
- no process left behind: every process the build started carries a marker in its environment,
  and none is alive once the command returned.

Each case names the class of the issue it belongs to; every one of them failed (built with exit
status 0, crashed with an internal error, or wrote outside the project) before the change that
added it, except where the comment says the class was fixed just before.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import write_project
from test_hostile import (
    HEADER,
    build_good,
    error_line,
    figure_script,
    md,
    note,
    snapshot,
    sympy_note,
)


@pytest.fixture(scope="module")
def good_project(tmp_path_factory) -> Path:
    return build_good(tmp_path_factory)


BAD = "content/bad.md"
FIGURE_NOTE = note("![坏图](figure:bad-fig)")  # the reference is on line 8


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | bytes]
    expect: str  # "path:line: message" at the start of an error line; {outside} is filled in
    args: tuple[str, ...] = ()
    link: tuple[str, str] | None = None  # (link in the project, target: {outside} is filled in)

    def __str__(self) -> str:
        return self.name


def fm(*extra: str) -> str:
    """A topic whose front matter is HEADER plus `extra` (on lines 4, 5, ...), with one note."""
    return md("## 问题 {#q}", "", "答案", header=(*HEADER, *extra))


def meta(*lines: str) -> str:
    """A note whose heading (line 6) is followed directly by `lines` (line 7, ...)."""
    return md("## 问题 {#q}", *lines, "", "答案")


CASES = [
    # ---- names become file names, attributes and paths --------------------------------------------
    Case("figure-name-path-parts", {BAD: note("![图](figure:x)"), "figures/bad.py": figure_script("pass", name="x/../../../outside/escaped")}, "figures/bad.py:5: invalid figure name"),
    Case("figure-name-quote", {BAD: note("![图](figure:x)"), "figures/bad.py": figure_script("pass", name='x\\" onerror=\\"alert(1)')}, "figures/bad.py:5: invalid figure name"),
    Case("deck-id-trailing-newline", {BAD: fm().replace("id: bad", 'id: "bad\\n"')}, "content/bad.md:3: front matter needs 'id', a stable deck id (got 'bad\\n')"),
    Case("cloze-number-anki-refuses", {BAD: note("答案是 {{c70000::七万}}")}, "content/bad.md:6: cloze deletion '{{c70000::' is numbered above 65536"),
    Case("deck-name-newline", {BAD: fm().replace("deck: 坏::测试", 'deck: "坏\\n测试"')}, "content/bad.md:2: the deck name '坏\\n测试' holds the control character U+000A"),
    Case("deck-name-unit-separator", {BAD: fm().replace("deck: 坏::测试", 'deck: "坏\\x1f测试"')}, "content/bad.md:2: the deck name '坏\\x1f测试' holds the control character U+001F"),
    Case("tag-control-character", {BAD: fm('tags: ["a\\x01b"]')}, "content/bad.md:4: front matter tag 'a\\x01b' holds the control character U+0001"),
    Case("tag-empty-level", {BAD: fm('tags: ["::cnn"]')}, "content/bad.md:4: front matter tag '::cnn' has an empty level"),
    Case("tags-comma-joined-in-front-matter", {BAD: fm("tags: cnn, vision")}, "content/bad.md:4: front matter tag 'cnn,' holds a comma"),
    Case("tags-comma-joined-in-note", {BAD: meta("tags: cnn,vision")}, "content/bad.md:7: tag 'cnn,vision' holds a comma"),
    Case("note-tag-empty-level", {BAD: meta("tags: seed::::q1")}, "content/bad.md:7: tag 'seed::::q1' has an empty level"),
    Case("description-control-character", {BAD: fm('description: "简介\\x1f"')}, "content/bad.md:4: the deck description holds the control character U+001F"),
    Case("sympy-shows-field-separator", {BAD: sympy_note("show(chr(31))")}, "content/bad.md:8: sympy block shows text with the control character U+001F"),
    # ---- active and remote content never reaches a card -------------------------------------------
    Case("svg-image-element-remote", {BAD: note("<image src=http://example.com/x.png>")}, "content/bad.md:8: <image> element in the note"),
    Case("img-in-description", {BAD: fm("description: <img src=http://example.com/x.png>")}, "content/bad.md:4: an <img> in the deck description"),
    Case("style-attribute-url", {BAD: note('<div style="background:url(http://example.com/x.png)">背景</div>')}, "content/bad.md:8: CSS that fetches or hides something"),
    Case("style-attribute-image-set", {BAD: note("<span style=\"background-image: image-set('http://example.com/x.png' 1x)\">x</span>")}, "content/bad.md:8: CSS that fetches or hides something"),
    # A CSS escape the source check cannot see (Markdown escapes are lifted first): the check of
    # the rendered card, the build's own decision, refuses it at the note.
    Case("style-attribute-escapes", {BAD: note('<span style="color: u\\72l(http://example.com/x)">x</span>')}, "content/bad.md:6: the rendered card holds CSS that fetches or hides something"),
    Case("style-attribute-position", {BAD: note('<div style="position: fixed; top: 0">盖住整张卡</div>')}, "content/bad.md:8: CSS property 'position' in style="),
    Case("style-element-import", {BAD: note("<style>@import url(http://example.com/x.css);</style>", "", "答")}, "content/bad.md:8: <style> element in the note"),
    Case("meta-refresh", {BAD: note('<meta http-equiv="refresh" content="0;url=http://example.com">', "", "答")}, "content/bad.md:8: <meta> element in the note"),
    Case("link-stylesheet", {BAD: note('<link rel="stylesheet" href="http://example.com/x.css">', "", "答")}, "content/bad.md:8: <link> element in the note"),
    Case("base-href", {BAD: note('<base href="http://example.com/">', "", "答")}, "content/bad.md:8: <base> element in the note"),
    Case("iframe", {BAD: note('<iframe src="x.html"></iframe>')}, "content/bad.md:8: <iframe> element in the note"),
    Case("object", {BAD: note('<object data="x.swf"></object>')}, "content/bad.md:8: <object> element in the note"),
    Case("embed", {BAD: note('<embed src="x.swf">')}, "content/bad.md:8: <embed> element in the note"),
    Case("form-and-input", {BAD: note('<form action="http://example.com"><input name="q"></form>')}, "content/bad.md:8: <form> element in the note"),
    Case("inline-svg", {BAD: note('<svg><a href="http://example.com"><text>点</text></a></svg>')}, "content/bad.md:8: <svg> element in the note"),
    Case("audio-remote", {BAD: note('<audio src="http://example.com/x.mp3" autoplay></audio>')}, "content/bad.md:8: <audio> element in the note"),
    Case("video-poster", {BAD: note('<video poster="http://example.com/x.png"></video>')}, "content/bad.md:8: <video> element in the note"),
    Case("table-background-attribute", {BAD: note('<table background="http://example.com/x.png"><tr><td>1</td></tr></table>')}, "content/bad.md:8: attribute 'background' on <table>"),
    Case("data-url-link", {BAD: note('<a href="data:text/plain,hi">点</a>')}, "content/bad.md:8: 'data:' URL in href= on <a>"),
    Case("remote-flag-not-a-bool", {BAD: meta("remote: maybe")}, "content/bad.md:7: 'remote:' must be true or false"),
    Case("remote-flag-does-not-allow-css", {BAD: md("## 问题 {#q}", "remote: true", "", '<div style="background:url(http://example.com/x.png)">x</div>')}, "content/bad.md:9: CSS that fetches or hides something"),
    # ---- YAML limits are path:line errors ---------------------------------------------------------
    Case("yaml-huge-integer", {BAD: fm("size: " + "9" * 5000)}, "content/bad.md:4: front matter is not valid YAML: a number with 5000 digits"),
    Case("yaml-deep-flow-nesting", {BAD: fm("tags: " + "[" * 20_000)}, "content/bad.md:4: front matter is not valid YAML: values are nested more than 16 levels deep"),
    Case("yaml-deep-block-nesting", {BAD: fm("tags:", "- " * 40 + "x")}, "content/bad.md:5: front matter is not valid YAML: values are nested more than 16 levels deep"),
    Case("yaml-duplicate-key-quoted", {BAD: fm('"id": other')}, "content/bad.md:4: front matter key 'id' is given twice (also on line 3)"),
    Case("yaml-duplicate-key-explicit", {BAD: fm("? id", ": other")}, "content/bad.md:4: front matter key 'id' is given twice (also on line 3)"),
    Case("yaml-duplicate-key-flow", {BAD: md("## 问题 {#q}", "", "答案", header=("{deck: 坏, id: bad, id: worse}",))}, "content/bad.md:2: front matter key 'id' is given twice"),
    # ---- nothing silently merged, ignored or shown as typed ---------------------------------------
    Case("bom-before-heading", {BAD: md("## 问题 {#q}", "", "答", "", "\ufeff## 第二题 {#r}", "", "答")}, "content/bad.md:10: this line looks like a note heading, but U+FEFF before '##'"),
    Case("zero-width-space-before-heading", {BAD: md("## 问题 {#q}", "", "答", "", "\u200b## 第二题 {#r}", "", "答")}, "content/bad.md:10: this line looks like a note heading, but U+200B before '##'"),
    Case("nbsp-before-heading", {BAD: md("## 问题 {#q}", "", "答", "", "\u00a0## 第二题 {#r}", "", "答")}, "content/bad.md:10: this line looks like a note heading, but U+00A0 before '##'"),
    Case("spaces-before-heading", {BAD: md("## 问题 {#q}", "", "答", "", "  ## 第二题 {#r}", "", "答")}, "content/bad.md:10: this line looks like a note heading"),
    Case("meta-typo-tag", {BAD: meta("tag: cnn")}, "content/bad.md:7: 'tag:' under the heading is not a meta line"),
    Case("meta-typo-capital-tags", {BAD: meta("Tags: cnn")}, "content/bad.md:7: 'Tags:' under the heading is not a meta line"),
    Case("meta-typo-capital-type", {BAD: meta("Type: cloze")}, "content/bad.md:7: 'Type:' under the heading is not a meta line"),
    Case("meta-typo-misspelt", {BAD: meta("tags: cnn", "tpye: reversed")}, "content/bad.md:8: 'tpye:' under the heading is not a meta line"),
    Case("meta-typo-full-width-colon", {BAD: meta("tags：cnn")}, "content/bad.md:7: 'tags:' under the heading is not a meta line"),
    Case("cloze-in-reversed-note", {BAD: md("## 问题 {#q}", "type: reversed", "", "答案是 {{c1::一}}")}, "content/bad.md:9: a cloze deletion '{{c1::…}}' in a note of type 'reversed'"),
    Case("cloze-in-basic-note", {BAD: md("## 问题 {#q}", "type: basic", "", "答案是 {{c2::二}}")}, "content/bad.md:9: a cloze deletion '{{c1::…}}' in a note of type 'basic'"),
    # ---- links out of the project -----------------------------------------------------------------
    Case("topic-symlink-out", {}, "content/linked.md:1: content/linked.md is a symbolic link to", link=("content/linked.md", "{outside}/topic.md")),
    Case("figure-script-symlink-out", {BAD: FIGURE_NOTE}, "figures/bad.py:1: figure script figures/bad.py is a symbolic link to", link=("figures/bad.py", "{outside}/figure.py")),
    Case("figure-helper-symlink-out", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("import _evil", "fig.subplots().plot([0, 1])")}, "figures/_evil.py:1: figure script figures/_evil.py is a symbolic link to", link=("figures/_evil.py", "{outside}/figure.py")),
    # ---- code the deck brings stays in its worker -------------------------------------------------
    Case("sympy-reads-password-file", {BAD: sympy_note("show(open('/etc/passwd').read().split(':')[0])")}, "content/bad.md:9: sympy block: PermissionError"),
    Case("sympy-writes-outside", {BAD: sympy_note("open('{outside}/written.txt', 'w').write('x')")}, "content/bad.md:9: sympy block: PermissionError"),
    Case("sympy-deletes-outside", {BAD: sympy_note("import os", "os.remove('{outside}/victim.txt')")}, "content/bad.md:10: sympy block: PermissionError"),
    Case("sympy-writes-into-the-project", {BAD: sympy_note("import pathlib", "pathlib.Path('{project}/content/added.md').write_text('x')")}, "content/bad.md:10: sympy block: PermissionError"),
    Case("sympy-opens-a-socket", {BAD: sympy_note("import socket", "socket.create_connection(('127.0.0.1', 9), timeout=5)")}, "content/bad.md:10: sympy block:"),
    Case("sympy-os-system-then-fails", {BAD: sympy_note("import os", "os.system('echo hello; echo {\"done\": 0}')", "assert 1 == 2")}, "content/bad.md:11: sympy block: claim does not hold: assert 1 == 2"),
    Case("sympy-forges-then-fails", {BAD: sympy_note("print('{\"start\": 0}')", "print('{\"done\": 0, \"value\": {\"shows\": []}}')", "raise ValueError('real')")}, "content/bad.md:11: sympy block: ValueError: real"),
    Case("sympy-exit", {BAD: sympy_note("exit(3)")}, "content/bad.md:9: sympy block: the block called exit(3)"),
    Case("sympy-returns-too-much", {BAD: sympy_note("show('x' * (70 * 2**20))")}, "content/bad.md:8: sympy block: returned more than 64 MiB"),
    Case("figure-reads-password-file", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("ax = fig.subplots()", "ax.set_title(open('/etc/passwd').readline())")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: PermissionError"),
    Case("figure-writes-outside", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("open('{outside}/written.svg', 'w').write('<svg/>')", "fig.subplots().plot([0, 1])")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: PermissionError"),
    Case("figure-writes-into-figures", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("open(__file__, 'a').write('# changed')", "fig.subplots().plot([0, 1])")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: PermissionError"),
    Case("figure-opens-a-socket", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script("import socket", "socket.socket().bind(('127.0.0.1', 0))", "socket.create_connection(('127.0.0.1', 9), timeout=5)")}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed:"),
    Case("figure-forks-a-writer-then-fails", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script(
        "import os, time",
        "if os.fork() == 0:",
        "    time.sleep(1)",
        "    try:",
        "        open('{outside}/late.txt', 'w').write('x')",
        "    finally:",
        "        os._exit(0)",
        "raise RuntimeError('after the fork')",
    )}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: RuntimeError: after the fork"),
    Case("figure-grandchild-holds-stderr", {BAD: FIGURE_NOTE, "figures/bad.py": figure_script(
        "import subprocess, sys",
        "subprocess.Popen(['sh', '-c', 'sleep 300'], stdout=sys.stdout, stderr=sys.stderr)",
        "while True:",
        "    pass",
    )}, "content/bad.md:8: figure 'bad-fig' (figures/bad.py:5) failed: used more than 2 s of CPU time", args=("--figure-timeout", "2")),
]


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries `marker` (every process the build started)."""
    found = []
    needle = f"DECKGEN_TEST_MARKER={marker}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != b"Z":
            found.append(int(pid))
    return found


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"") for p in sorted(folder.rglob("*"))}


def run_contained(root: Path, outside: Path, temp: Path, *args: str):
    """`deckgen` as a user runs it, with a marker in its environment and its own temp folder."""
    import subprocess
    import sys

    marker = uuid.uuid4().hex
    env = dict(os.environ, DECKGEN_TEST_MARKER=marker, TMPDIR=str(temp))
    proc = subprocess.run([sys.executable, "-m", "deckgen.cli", "--root", str(root), *args], capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10  # SIGKILL is delivered at once, but reaping is not instant
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc, processes_with(marker)


def prepare(case: Case, good_project: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    root, outside, temp = tmp_path / "proj", tmp_path / "outside", tmp_path / "tmp"
    shutil.copytree(good_project, root, symlinks=True)
    outside.mkdir()
    temp.mkdir()
    (outside / "victim.txt").write_text("keep me")
    (outside / "topic.md").write_text(md("## 外面的题 {#outer}", "", "答", header=("deck: 外面", "id: outer")))
    (outside / "figure.py").write_text(figure_script("fig.subplots().plot([0, 1])"))

    def fill(text: str | bytes) -> str | bytes:
        return text.replace("{outside}", str(outside)).replace("{project}", str(root)) if isinstance(text, str) else text

    write_project(root, {path: fill(text) for path, text in case.files.items()})
    if case.link:
        (root / case.link[0]).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(fill(case.link[1]), root / case.link[0])
    return root, outside, temp


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_content_fails_cleanly_and_stays_contained(case: Case, good_project: Path, tmp_path: Path):
    root, outside, temp = prepare(case, good_project, tmp_path)
    before, outside_before = snapshot(root), tree(outside)
    result, left = run_contained(root, outside, temp, *case.args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    line = error_line(result.stderr, case.expect.replace("{outside}", str(outside)))
    assert " — " in line, f"no fix given: {line}"
    assert snapshot(root) == before  # dist/ and deckgen.lock as they were
    assert tree(outside) == outside_before  # nothing written, changed or deleted beside the project
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "proj", "tmp"]
    assert list(temp.iterdir()) == []  # every worker's temporary folder removed
    assert left == []  # no process the build started is still running
    assert not (root / "content/added.md").exists()


def test_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
