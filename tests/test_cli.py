"""The conventions people expect from a build tool: --version, help, flags before or after the
command, --strict, a --root that must exist, shell completion, project settings in deckgen.toml,
labels in the deck's language, plural-correct messages and progress in a log."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from anki_engine import import_package, new_collection
from conftest import REPO, Run, read_package, run_deckgen
from deckgen.anki.notetypes import NOTETYPE_IDS
from deckgen.records import NoteKind

TOPIC = """
---
deck: Test::Basics
id: basics
---

## What is $1 + 1$? {#sum}

- $2$

## Area of a circle {#circle}

A circle of radius $r$ has the area {{c1::$\\pi r^2$}}.
"""
FIGURE = """
from deckgen.figure_api import figure


@figure("unused-line")
def unused_line(fig, pal):
    fig.subplots().plot([0, 1], [0, 1], color=pal.c[0])
"""


def deckgen(cwd, *args: str) -> Run:
    """The command with exactly these arguments (run_deckgen puts --root first)."""
    proc = subprocess.run([sys.executable, "-m", "deckgen.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_version_is_the_package_version(tmp_path):
    """One definition: pyproject.toml reads the version from deckgen/__init__.py."""
    run = deckgen(tmp_path, "--version")
    version = re.search(r'^__version__ = "([^"]+)"$', (REPO / "src/deckgen/__init__.py").read_text(encoding="utf-8"), re.M)
    assert version and run.code == 0 and run.stdout == f"deckgen {version[1]}\n"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["dynamic"] == ["version"] and project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "deckgen.__version__"}


def test_help_and_help_of_a_command(tmp_path):
    overview = deckgen(tmp_path, "help")
    assert overview.code == 0
    for command in ("build", "init", "ids", "figures", "preview", "check", "watch", "help", "completion"):
        assert f"\n    {command} " in overview.stdout
    build = deckgen(tmp_path, "help", "build")
    assert build.code == 0 and build.stdout.startswith("usage: deckgen build") and "--strict" in build.stdout and "--root DIR" in build.stdout
    assert deckgen(tmp_path, "help", "bulid").code == 2


def test_common_flags_before_or_after_the_command(project, tmp_path):
    root = project({"content/a.md": TOPIC})
    after = deckgen(tmp_path, "build", "--root", str(root), "--dist", str(tmp_path / "out1"), "-j", "1")
    assert after.code == 0, after.stderr
    before = deckgen(tmp_path, "--root", str(root), "--dist", str(tmp_path / "out2"), "--jobs", "1", "build")
    assert before.code == 0, before.stderr
    assert (tmp_path / "out1/all.apkg").read_bytes() == (tmp_path / "out2/all.apkg").read_bytes()
    for command in ("ids", "figures", "check"):
        assert deckgen(tmp_path, command, "--root", str(root), *(["--fast"] if command == "check" else [])).code == 0
    assert deckgen(tmp_path, "build", "--jobs", "two", "--root", str(root)).code == 2


def test_a_root_that_does_not_exist_is_an_error_that_creates_nothing(tmp_path):
    for args in (("build", "--root", "nope/sub"), ("--root", "nope/sub"), ("ids", "--root", "missing"), ("check", "--root", "missing"), ("preview", "--root", "missing")):
        run = deckgen(tmp_path, *args)
        assert run.code == 1, args
        assert "the project folder does not exist — give the folder that holds content/ with --root" in run.stderr
        assert "every note has an id" not in run.stdout
    assert list(tmp_path.iterdir()) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in ("build", "ids"):
        run = deckgen(tmp_path, command, "--root", "empty")
        assert run.code == 1 and "error: content: content folder not found" in run.stderr
    assert list(empty.iterdir()) == []  # no .deckgen-cache/build.lock either


def test_build_strict_fails_on_warnings_and_writes_nothing(project):
    root = project({"content/a.md": TOPIC, "figures/extra.py": FIGURE})
    strict = run_deckgen(root, "build", "--strict")
    assert strict.code == 1
    assert "error: figures/extra.py:4: warning: figure 'unused-line' is not used by any note — fix it, or build without --strict" in strict.stderr
    assert not (root / "dist").exists() and not (root / "deckgen.lock").exists()
    relaxed = run_deckgen(root, "build")
    assert relaxed.code == 0 and "warning: figures/extra.py:4" in relaxed.stdout
    again = run_deckgen(root, "build", "--strict")  # nothing changed: the warnings of the last build still count
    assert again.code == 1 and "figure 'unused-line' is not used" in again.stderr


def test_check_strict_fails_when_a_check_could_not_run(project):
    root = project({"content/a.md": TOPIC})
    env = dict(os.environ, DECKGEN_CHROMIUM=str(root / "no-chromium-here"))
    for strict, code in ((False, 0), (True, 1)):
        proc = subprocess.run([sys.executable, "-m", "deckgen.cli", "check", "--root", str(root), *(["--strict"] if strict else [])], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert "skipped: formula (exact MathJax check)" in proc.stdout
    assert proc.stdout.rstrip().endswith("failed: --strict fails when a check could not run (see 'skipped' above)")
    fast = run_deckgen(root, "check", "--fast", "--strict")  # turned off on purpose: not a failure
    assert fast.code == 0 and "not run: formula (exact MathJax check): turned off with --fast" in fast.stdout


# ---- shell completion -----------------------------------------------------------------------------


def complete_in_bash(script: str, cwd, *words: str) -> list[str]:
    """What bash offers after `words` (the last one is the word being completed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    driver = f'{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _deckgen; printf "%s\\n" "${{COMPREPLY[@]}}"\n'
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", driver], cwd=cwd, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not found")
def test_bash_completion_offers_commands_flags_and_values(project, tmp_path):
    root = project({"content/a.md": TOPIC})
    (root / "my notes").mkdir()
    script = deckgen(tmp_path, "completion", "bash").stdout
    assert "complete -F _deckgen deckgen" in script
    assert complete_in_bash(script, root, "deckgen", "b") == ["build"]
    assert complete_in_bash(script, root, "deckgen", "build", "--st") == ["--strict"]
    assert complete_in_bash(script, root, "deckgen", "--root", ".", "check", "--fo") == ["--format"]
    assert complete_in_bash(script, root, "deckgen", "check", "--format", "") == ["text", "json"]
    assert complete_in_bash(script, root, "deckgen", "build", "--lang", "") == ["zh", "en"]
    assert complete_in_bash(script, root, "deckgen", "help", "pr") == ["preview"]
    assert complete_in_bash(script, root, "deckgen", "completion", "") == ["bash", "zsh"]
    assert sorted(complete_in_bash(script, root, "deckgen", "--root", "")) == sorted(["content", "my notes"])  # folders, spaces kept
    assert complete_in_bash(script, root, "deckgen", "init", "my") == ["my notes"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not found (apt-get install zsh): the zsh completion is tested in a real zsh")
def test_zsh_completion_completes_in_a_real_zsh(project, tmp_path):
    root = project({"content/a.md": TOPIC})
    (tmp_path / "comp.zsh").write_text(deckgen(tmp_path, "completion", "zsh").stdout, encoding="utf-8")
    # An interactive zsh on a pseudo-terminal (zpty): type, press Tab, read the line back.
    driver = f"""
zmodload zsh/zpty
zpty -b z 'zsh -f -i'
zpty -w z 'PS1="%% "; source {tmp_path / "comp.zsh"}; cd {root}; print READY'
zpty -r -m z line '*READY*'
zpty -w -n z $'deckgen bu\\t --st\\t'
out=""
for i in {{1..300}}; do
  while zpty -r -t z line; do out+=$line; done
  [[ $out == *--strict* ]] && break
  sleep 0.1
done
zpty -d z
print -r -- "$out"
"""
    out = subprocess.run(["zsh", "-f", "-c", driver], capture_output=True, text=True, timeout=60).stdout
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)  # what the terminal shows: no colours,
    while re.search(r"[^\x08]\x08", screen):  # and a backspace takes back the character before it
        screen = re.sub(r"[^\x08]\x08", "", screen)
    assert "% deckgen build --strict" in screen, repr(out)


# ---- deckgen.toml -------------------------------------------------------------------------------


def test_project_settings_are_applied_and_flags_win(project, tmp_path):
    root = project({
        "content/a.md": TOPIC,
        "cards.css": ".dg { letter-spacing: 0.01em; }\n",
        "deckgen.toml": """
            # settings of this deck
            language = "en"
            dist = "out"
            jobs = 1
            css = "cards.css"
            tags = ["my-deck", "exam::2026"]
        """,
    })
    built = run_deckgen(root, "build")
    assert built.code == 0, built.stderr
    assert (root / "out/all.apkg").exists() and not (root / "dist").exists()
    col = new_collection(tmp_path / "anki")
    import_package(col, root / "out/all.apkg")
    model = col.models.get(NOTETYPE_IDS[NoteKind.BASIC])
    assert model["name"] == "deckgen Q&A" and [t["name"] for t in model["tmpls"]] == ["Q&A"]
    assert model["css"].rstrip().endswith(".dg { letter-spacing: 0.01em; }")
    assert col.models.get(NOTETYPE_IDS[NoteKind.CLOZE])["name"] == "deckgen Cloze"
    for note_id in col.find_notes(""):
        assert {"my-deck", "exam::2026"} <= set(col.get_note(note_id).tags)
    col.close()
    flag = run_deckgen(root, "build", "--dist", str(tmp_path / "elsewhere"))
    assert flag.code == 0 and (tmp_path / "elsewhere/all.apkg").exists()
    # A changed setting reaches the packages (it is part of what the no-op check compares).
    (root / "cards.css").write_text(".dg { letter-spacing: 0.02em; }\n", encoding="utf-8")
    run_deckgen(root, "build")
    assert all(css.rstrip().endswith(".dg { letter-spacing: 0.02em; }") for css in read_package(root / "out/all.apkg").css.values())


@pytest.mark.parametrize("text, line, message", [
    ('language = "en"\nlangauge = "zh"\n', 2, "unknown setting 'langauge' (did you mean 'language'?) — the settings are dist, jobs, math-images, language, css, tags, figure-timeout, sympy-timeout"),
    ('# settings\n\n[tool.deckgen]\njobs = 2\n', 3, "unknown setting 'tool'"),
    ('jobs = "two"\n', 1, "'jobs' must be a whole number, 0 or more (0 = one per core) — write e.g. jobs = 2"),
    ('language = "fr"\n', 1, "'language' must be one of 'zh', 'en'"),
    ('tags = "a b"\n', 1, "'tags' must be a list of tags in quotes, without spaces"),
    ('css = "missing.css"\n', 1, "'css' names missing.css, which is not a file"),
    ('math-images = "yes"\n', 1, "'math-images' must be true or false (without quotes)"),
    ('jobs = 2\nlanguage = en\n', 2, "not valid TOML: Invalid value"),
])
def test_bad_settings_are_errors_at_their_line(project, text, line, message):
    root = project({"content/a.md": TOPIC, "deckgen.toml": text})
    for command in ("build", "check", "preview"):
        run = run_deckgen(root, command)
        assert run.code == 1, run.stdout + run.stderr
        assert f"error: deckgen.toml:{line}: {message}" in run.stderr
        assert "Traceback" not in run.stderr
    assert not (root / "dist").exists() and not (root / ".deckgen-cache").exists()


def test_switching_the_label_language_renames_the_note_types_in_place(project, tmp_path):
    """Note types and card types keep their ids: Anki renames them on import, no copy, no conflict."""
    root = project({"content/a.md": TOPIC})
    assert run_deckgen(root, "build").code == 0  # the default labels: Chinese
    col = new_collection(tmp_path / "anki")
    import_package(col, root / "dist/all.apkg")
    notes_before = sorted(col.find_notes(""))
    (root / "deckgen.toml").write_text('language = "en"\n', encoding="utf-8")
    assert run_deckgen(root, "build").code == 0
    log = import_package(col, root / "dist/all.apkg")
    assert not log.conflicting and not log.new
    model = col.models.get(NOTETYPE_IDS[NoteKind.BASIC])
    assert model["name"] == "deckgen Q&A" and [t["name"] for t in model["tmpls"]] == ["Q&A"]
    assert sorted(m.name for m in col.models.all_names_and_ids() if m.name.startswith("deckgen")) == ["deckgen Cloze", "deckgen Q&A"]  # renamed, not copied
    assert sorted(col.find_notes("")) == notes_before
    col.close()


def test_preview_labels_follow_the_language(project):
    root = project({"content/a.md": TOPIC, "deckgen.toml": 'language = "en"\n'})
    assert run_deckgen(root, "preview").code == 0
    page = (root / "dist/preview/deck-basics.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in page and '>front</h2>' in page and '>phone</button>' in page
    assert '<span class="pv-name">Cloze c1</span>' in page and '<span class="pv-name">Q&amp;A</span>' in page
    assert '"match_one": "{n} card matches “{q}”"' in page
    zh = run_deckgen(root, "preview", "--lang", "zh", "--dist", str(root / "zh"))
    assert zh.code == 0
    page = (root / "zh/preview/deck-basics.html").read_text(encoding="utf-8")
    assert '<html lang="zh"' in page and '>正面</h2>' in page and '>手机</button>' in page and '<span class="pv-name">填空 c1</span>' in page


# ---- messages -----------------------------------------------------------------------------------


def test_counts_in_messages_are_plural_correct(project):
    root = project({"content/a.md": TOPIC.replace("## Area of a circle {#circle}", "## Area of a circle"), "figures/extra.py": FIGURE})
    ids = run_deckgen(root, "ids")
    assert ids.code == 1 and ids.stdout.splitlines()[-1] == "1 note without an id; run 'deckgen ids --write' to add them"
    assert run_deckgen(root, "ids", "--write").stdout.splitlines()[-1] == "1 id added"
    assert run_deckgen(root, "ids").stdout.splitlines()[-1] == "every note has an id (1 topic file)"
    assert run_deckgen(root, "figures").stdout.splitlines()[-1] == "1 figure, 0 rendered and cached, 1 unused"
    (root / "figures/extra.py").unlink()
    (root / "content/a.md").write_text(TOPIC.split("## Area", maxsplit=1)[0].lstrip(), encoding="utf-8")  # one note
    built = run_deckgen(root, "build")
    assert "1 note in 2 packages" in built.stdout
    check = run_deckgen(root, "check", "--fast")
    assert "0 errors, 0 warnings in 1 note" in check.stdout


def test_progress_is_plain_lines_in_a_log_and_nothing_when_quiet(project):
    root = project({"content/a.md": TOPIC + "\n## Sum checked {#checked}\n\n```sympy\nassert 1 + 1 == 2\nshow(Integer(2))\n```\n"})
    built = run_deckgen(root, "build")  # stderr is a pipe: plain lines, no bar
    assert built.code == 0
    assert "sympy blocks: 0 of 1 block\n" in built.stderr and "sympy blocks: 1 of 1 block done in " in built.stderr
    assert "\r" not in built.stderr
    (root / "content/a.md").write_text(TOPIC + "\n## Sum checked {#checked}\n\n```sympy\nassert 2 + 2 == 4\nshow(Integer(4))\n```\n", encoding="utf-8")
    quiet = run_deckgen(root, "build", "--quiet")
    assert quiet.code == 0 and quiet.stdout == "" and quiet.stderr == ""


# ---- the README's two commands ------------------------------------------------------------------


def readme_commands() -> list[str]:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Two commands", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_ci_runs_exactly_the_readmes_test_command():
    first, second = readme_commands()
    assert "-c constraints.txt" in first and "-c constraints.txt" in second  # the exact versions deckgen.lock was stamped with
    assert first.startswith("python3 -m venv .venv && ") and second.startswith("python3 -m venv .venv && ")  # no bare pip or python
    ci = (REPO / ".ci/run").read_text(encoding="utf-8").splitlines()
    assert second in ci
    assert "pytest" not in "\n".join(line for line in ci if line != second and not line.startswith("#"))
