"""Formulas and sympy blocks: the fast check, the exact check through Anki's own MathJax in
headless Chromium, computed formulas and claims, and the cards Anki renders from them."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from anki_engine import import_package, new_collection, render_all
from conftest import REPO, run_deckgen
from deckgen import BuildConfig, build
from deckgen.check import formulas as mathcheck
from deckgen.errors import BuildFailed, ErrorList
from deckgen.math import mathjax, texcheck
from deckgen.records import Formula, Location
from deckgen.runtime import browser
from deckgen.source.parse import parse_topic

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VALID = [line for line in (FIXTURES / "formulas_valid.tex").read_text(encoding="utf-8").splitlines() if line.strip()]

# (TeX, what the fast check says, whether MathJax itself marks it as an error)
BROKEN = [
    (r"\frac{a}{b", "unbalanced braces: 1 '{' never closed", True),
    (r"a + b}", "a '}' closes nothing", True),
    (r"\fracc{a}{b}", r"unknown command \fracc (did you mean \frac?)", True),
    (r"\bm{x}", r"write \boldsymbol", True),
    (r"\left( x", r"\left without a matching \right", True),
    (r"x \right)", r"\right without a matching \left", True),
    (r"\bigl x \bigr", r"\bigl must be followed by a delimiter", True),
    (r"\begin{matrix} a \end{pmatrix}", r"\begin{matrix} is closed by \end{pmatrix}", True),
    (r"\begin{aligned} a &= b", r"\begin{aligned} is never closed", True),
    (r"\begin{algined} a \end{algined}", "unknown environment 'algined' (did you mean", True),
    (r"a & b", "'&' outside an alignment", True),
    (r"x^2^3", "double exponent", True),
    (r"x_1_2", "double subscripts", True),
    (r"x^2'", "a prime after an exponent", True),
    (r"\text{rate \eta}", r"\eta inside \text{...} is shown literally", True),
    (r"a \) b", r"\) inside a formula", True),
    ("x \\", "ends with a single '\\'", True),
    (r" a $ b ", "a '$' inside the formula", False),  # MathJax shows the '$'; our scanner ended a formula wrong
    (r"x + {{c1::y", "cloze deletion {{c1:: opened in the formula is not closed in it", False),
]


def formulas(texs: list[str], display: bool = False) -> list[Formula]:
    return [Formula(tex, display, Location("t.md", i + 1)) for i, tex in enumerate(texs)]


# ---- the fast check ---------------------------------------------------------------------------


@pytest.mark.parametrize("tex", VALID)
def test_fast_check_accepts_valid_mathjax(tex):
    assert texcheck.problems(Formula(tex, False, Location("valid.tex"))) == []


@pytest.mark.parametrize(("tex", "expected", "_"), BROKEN, ids=[b[0] for b in BROKEN])
def test_fast_check_names_the_mistake(tex, expected, _):
    found = texcheck.problems(Formula(tex, True, Location("t.md", 1)))
    assert any(expected in problem for problem in found), found


def test_broken_formulas_fail_the_build_at_their_lines(project):
    lines = ["---", "deck: F", "id: f", "---", ""]
    expected = {}
    for i, (tex, message, _) in enumerate(BROKEN):
        if tex.endswith("\\"):
            continue  # in Markdown, a final backslash escapes the closing '$' instead
        lines += [f"## 公式 {i} {{#f{i}}}", ""]
        expected[len(lines) + 1] = (tex, message)
        lines += [f"$${tex}$$" if "$" in tex else f"说明 ${tex}$ 结束", ""]
    root = project({"content/f.md": "\n".join(lines) + "\n"})
    result = run_deckgen(root)
    assert result.code == 1 and "Traceback" not in result.stderr
    for line, (tex, message) in expected.items():
        prefix = f"content/f.md:{line}: formula {texcheck.shorten(tex)}: "
        assert any(row.startswith(f"error: {prefix}") and message in row for row in result.stderr.splitlines()), (prefix, message, result.stderr)
    assert not (root / "dist").exists()


def test_vocabulary_comes_from_the_pinned_anki():
    data = json.loads((REPO / "src/deckgen/data/mathjax_commands.json").read_text(encoding="utf-8"))
    assert data["source"]["anki"] == mathjax.anki_version()
    vocabulary = texcheck.vocabulary()
    assert {"text", "operatorname", "mathbb", "tfrac", "boldsymbol", "mathcal", "top", "odot", "left", "right"} <= vocabulary.commands
    assert {"aligned", "cases", "pmatrix", "bmatrix", "array"} <= vocabulary.environments
    assert "bm" not in vocabulary.commands and "fracc" not in vocabulary.commands


# ---- the exact check: Anki's MathJax in headless Chromium ---------------------------------------


def test_exact_check_finds_no_error_in_valid_tex(chromium):
    assert mathcheck.exact_check(formulas(VALID)) == []


def test_exact_check_flags_broken_tex_at_its_location(chromium):
    found = {error.location.line: error for error in mathcheck.exact_check(formulas([tex for tex, _, _ in BROKEN]))}
    for i, (tex, _, mathjax_flags) in enumerate(BROKEN):
        assert (i + 1 in found) == mathjax_flags, (tex, found.get(i + 1))
    assert "undefined control sequence \\fracc" in found[3].message
    assert "Extra \\left or missing \\right" in found[5].message
    assert str(found[1]).startswith("t.md:1: formula '\\frac{a}{b': MathJax did not find the end")


def test_every_listed_command_is_defined_in_mathjax(chromium):
    """The fast check's vocabulary holds no name MathJax calls undefined."""
    names = sorted(texcheck.vocabulary().commands)
    typeset = mathcheck.typeset_html([f"\\(\\{name}\\)" for name in names if name not in "()[]"])
    undefined = [problem for t in typeset for problem in t.problems if problem.startswith("undefined control sequence")]
    assert undefined == []


def test_the_flagship_content_renders_in_anki_mathjax(chromium):
    config = BuildConfig(root=REPO)
    errors = ErrorList()
    topics = [parse_topic(path.read_bytes(), config.display(path), errors) for path in sorted((REPO / "content").glob("*.md"))]
    typed = [formula for topic in topics if topic for note in topic.notes for _, formula in note.formulas]
    assert not errors and len(typed) > 100
    assert [str(error) for error in mathcheck.exact_check(typed)] == []


def test_missing_chromium_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(browser.ENV_VAR, "/nonexistent/chromium")
    assert browser.find_chromium() is None
    with pytest.raises(mathcheck.CheckUnavailable, match="chromium not found"):
        mathcheck.exact_check(formulas(["x"]))


def test_mathjax_copy_is_anki_build_and_config(tmp_path):
    config = mathjax.anki_mathjax_config()
    assert '"noerrors","mathtools"' in config and '"[-]":["textmacros"]' in config
    copied = mathjax.copy_mathjax(tmp_path / "mathjax")
    assert (copied / mathjax.ENTRY_SCRIPT).stat().st_size > 1_000_000
    assert (copied / "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert not (copied / "sre").exists()


# ---- through Anki's engine, then MathJax ------------------------------------------------------

SYMPY_TOPIC = """
---
deck: 计算
id: calc
---

## softmax 交叉熵对 logits 的梯度？ {#softmax-grad}

梯度是 $p - y$，其中 $p_i = \\frac{e^{z_i}}{\\sum_j e^{z_j}}$。

```sympy
z1, z2, y1 = symbols('z1 z2 y1')
p1 = exp(z1) / (exp(z1) + exp(z2))
loss = -(y1 * log(p1) + (1 - y1) * log(1 - p1))
assert simplify(diff(loss, z1) - (p1 - y1)) == 0
show(Symbol(r'\\frac{\\partial L}{\\partial z_1}'), Symbol('p_1') - Symbol('y_1'))
```

## 空洞卷积的等效核大小？ {#dilated}

```sympy
k, d = symbols('k d', positive=True, integer=True)
k_eff = k + (k - 1) * (d - 1)
assert k_eff.subs({k: 3, d: 2}) == 5
show(k_eff, inline=True)
```

## 对齐 {#aligned}

$$\\begin{aligned} a_i * b_j &< \\{x\\} \\\\ c &= d_{k} \\end{aligned}$$
"""


def test_computed_formulas_reach_the_card_and_render(project, tmp_path, chromium):
    root = project({"content/calc.md": SYMPY_TOPIC})
    report = build(BuildConfig(root=root))
    assert report.stats["sympy_blocks_run"] == 2
    col = new_collection(tmp_path / "anki")
    import_package(col, root / "dist" / "calc.apkg")
    answers = [card.answer for card in render_all(col)]
    col.close()
    text = "\n".join(answers)
    assert "\\[\\frac{\\partial L}{\\partial z_1} = p_{1} - y_{1}\\]" in text
    assert "\\(d k - d + 1\\)" in text or "\\(k + \\left(d - 1\\right) \\left(k - 1\\right)\\)" in text
    assert "\\begin{aligned} a_i * b_j &amp;&lt; \\{x\\}" in text  # HTML-escaped in the field, MathJax reads it back
    typeset = mathcheck.typeset_html(answers)
    assert all(t.problems == () for t in typeset), [t.problems for t in typeset]
    assert sum(t.formulas for t in typeset) == 5  # every formula of every card was found and typeset


# ---- sympy blocks -------------------------------------------------------------------------------


def sympy_note(code: str, note: str = "b") -> str:
    return f"## 问 {note} {{#{note}}}\n\n答\n\n```sympy\n{code}\n```\n"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_false_claim_and_a_failing_block_fail_the_build_at_their_lines(project):
    text = "---\ndeck: S\nid: s\n---\n\n"
    text += sympy_note("x = symbols('x')\nassert diff(x**2, x) == 2*x\nassert diff(x**3, x) == 2*x**2, 'power rule'", "claim")
    text += "\n" + sympy_note("x = symbols('x')\nundefined_name + 1", "raises")
    text += "\n" + sympy_note("exit(3)", "exits")
    text += "\n" + sympy_note("show(Eq(Symbol('a'), Symbol('a')))", "shows-true")
    text += "\n" + sympy_note("y = 1\nshow(r'\\fracc{1}{2}')", "bad-latex")
    text += "\n" + sympy_note("while True:\n    pass", "loops")
    root = project({"content/s.md": text})
    with pytest.raises(BuildFailed) as failed:
        build(BuildConfig(root=root, sympy_cpu_seconds=2))
    got = {e.location.line: e.message for e in failed.value.errors if e.location.path == "content/s.md"}
    assert got.pop(line_of(text, "assert diff(x**3")) == "sympy block: claim does not hold: assert diff(x**3, x) == 2*x**2, 'power rule': power rule"
    assert got.pop(line_of(text, "undefined_name")) == "sympy block: NameError: name 'undefined_name' is not defined"
    assert got.pop(line_of(text, "exit(3)")) == "sympy block: the block called exit(3)"
    assert "write show(lhs, rhs)" in got.pop(line_of(text, "show(Eq("))
    fence = line_of(text, "y = 1") - 1  # a shown formula is reported at the block's fence
    assert got.pop(fence).startswith("sympy block shows '\\fracc{1}{2}': unknown command \\fracc")
    assert got.pop(line_of(text, "while True")) == "sympy block: used more than 2 s of CPU time (the CPU time limit per sympy block) and was stopped"
    assert got == {} and len(failed.value.errors) == 6


def test_blocks_cannot_see_each_other(project):
    text = "---\ndeck: S\nid: s\n---\n\n"
    text += sympy_note("secret = 42", "first")
    text += "\n" + sympy_note("assert 'secret' not in globals()\nassert 'x' not in globals()\nx = symbols('x')", "second")
    root = project({"content/s.md": text})
    report = build(BuildConfig(root=root, jobs=1))  # one worker runs both blocks, one after the other
    assert report.stats["sympy_blocks_run"] == 2


def test_a_rebuild_runs_no_block_and_does_not_import_sympy(project):
    root = project({"content/calc.md": SYMPY_TOPIC})
    assert build(BuildConfig(root=root)).stats["sympy_blocks_run"] == 2
    source = root / "content/calc.md"
    source.write_text(source.read_text(encoding="utf-8").replace("梯度是", "梯度等于"), encoding="utf-8")
    script = (
        "import sys; from pathlib import Path; from deckgen import BuildConfig, build; "
        f"report = build(BuildConfig(root=Path({str(root)!r}))); "
        "print(report.stats.get('sympy_blocks_run', 0), 'sympy' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for _ in range(2):  # a changed note around unchanged blocks, then nothing changed at all
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True).stdout.split()
        assert out == ["0", "False"]


# ---- formula images -----------------------------------------------------------------------------


def test_math_images_replace_formulas_keep_tex_as_alt_and_reach_anki(project, tmp_path, chromium):
    if shutil.which("npm") is None and os.environ.get("CI") != "true":
        pytest.skip("npm not found: install it (Debian/Ubuntu: sudo apt-get install npm); formula images fetch MathJax's SVG build with it once")
    topic = SYMPY_TOPIC + "\n## 填空 {#cloze}\n\n方差 ${{c1::\\frac{2}{n}}}$，激活 {{c2::$\\sigma(x)$}}，代码 `$x$`。\n"
    root = project({"content/calc.md": topic})
    first = build(BuildConfig(root=root, math_images=True))
    col = new_collection(tmp_path / "anki")
    import_package(col, root / "dist" / "calc.apkg")
    fields = "\n".join(col.get_note(nid).joined_fields() for nid in col.find_notes(""))
    media = Path(col.media.dir())
    col.close()
    names = sorted(set(re.findall(r'src="(math-[0-9a-f]{16}\.svg)"', fields)))
    assert len(names) == 6  # p - y, p_i, the computed display and inline, aligned, sigma(x) in a deletion
    for name in names:
        svg = (media / name).read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and "<path" in svg and "data-mjx-error" not in svg
    assert 'alt="p_i = \\frac{e^{z_i}}{\\sum_j e^{z_j}}"' in fields
    assert "\\(" not in fields.replace("\\(\\class{dg-c1}{ {{c1::\\frac{2}{n} }} }\\)", "")  # only the formula with a deletion inside stays TeX
    assert "<code>$x$</code>" in fields
    again = build(BuildConfig(root=root, math_images=True))
    assert not again.written and again.stats.get("sympy_blocks_run", 0) == 0
    plain = build(BuildConfig(root=root))
    assert plain.written and first.written  # switching the option rebuilds every package


def test_the_readme_sympy_example_builds(project):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Formulas and sympy blocks"):]
    example = section[section.index("````markdown\n") + len("````markdown\n"):section.index("\n````\n")]
    root = project({"content/r.md": "---\ndeck: R\nid: r\n---\n\n" + example + "\n"})
    report = build(BuildConfig(root=root))
    assert report.stats["sympy_blocks_run"] == 1
    failing = example.replace("== 5", "== 6")
    (root / "content/r.md").write_text("---\ndeck: R\nid: r\n---\n\n" + failing + "\n", encoding="utf-8")
    with pytest.raises(BuildFailed, match=r"claim does not hold: assert k_eff\.subs"):
        build(BuildConfig(root=root))
