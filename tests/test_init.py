"""`deckgen init`: a new project that builds at once and imports into Anki's own engine."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from anki_engine import card_problems, import_package, new_collection, render_all, review_all, visible_text
from conftest import run_deckgen
from deckgen.anki.notetypes import NOTETYPE_IDS
from deckgen.records import NoteKind
from deckgen.source import scaffold

FILES = [".gitignore", "README.md", "content/calculus.md", "content/geometry.md", "deckgen.toml", "figures/curves.py"]


def init(tmp_path, *args: str):
    target = tmp_path / "my-deck"
    run = run_deckgen(tmp_path, "init", str(target), *args)
    assert run.code == 0, run.stdout + run.stderr
    return target, run


@pytest.mark.parametrize("language, names, cards", [
    ("en", {"deckgen Q&A", "deckgen Q&A (and reversed)", "deckgen Cloze"}, {"Q&A", "Reverse", "Cloze"}),
    ("zh", {"deckgen 问答", "deckgen 问答（双向）", "deckgen 填空"}, {"问答", "反向", "填空"}),
])
def test_init_builds_strictly_and_imports_into_anki(tmp_path, language, names, cards):
    root, run = init(tmp_path, "--lang", language)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == FILES
    assert f"cd {root} && deckgen build" in run.stdout
    built = run_deckgen(root, "build", "--strict")  # no error and no warning either
    assert built.code == 0, built.stdout + built.stderr
    assert "4 notes in 3 packages" in built.stdout
    assert sorted(p.name for p in (root / "dist").iterdir()) == ["all.apkg", "calculus.apkg", "geometry.apkg"]

    col = new_collection(tmp_path / "anki")
    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.new) == 4
    rendered = render_all(col)
    assert len(rendered) == 6  # two basic, two clozes, a card each way for the reversed note
    for card in rendered:
        assert not card_problems(card.question) and not card_problems(card.answer), card
    answers = " ".join(visible_text(card.answer) for card in rendered)
    assert r"\sigma'(x) = " in answers  # what the sympy block shows
    assert any("fig-sigmoid-" in card.answer for card in rendered)  # the figure, as media
    # The labels are in the project's language; the note types keep the ids every deck has.
    models = {m["id"]: m for m in col.models.all()}
    ours = {kind: models[NOTETYPE_IDS[kind]] for kind in NoteKind}
    assert {m["name"] for m in ours.values()} == names
    assert {t["name"] for m in ours.values() for t in m["tmpls"]} == cards
    assert review_all(col) == 6
    col.close()


def test_init_never_overwrites_and_writes_nothing_when_a_file_is_there(tmp_path):
    target = tmp_path / "deck"
    target.mkdir()
    (target / "README.md").write_text("mine\n", encoding="utf-8")
    (target / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    run = run_deckgen(tmp_path, "init", str(target))
    assert run.code == 1
    assert f"error: {target}: already holds README.md; nothing was written — give a new or empty folder" in run.stderr
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "notes.txt"]
    assert (target / "README.md").read_text(encoding="utf-8") == "mine\n"
    # A folder with unrelated files is fine.
    (target / "README.md").unlink()
    assert run_deckgen(tmp_path, "init", str(target)).code == 0
    assert (target / "notes.txt").read_text(encoding="utf-8") == "unrelated\n"


def test_init_defaults_to_the_root_and_english(tmp_path):
    target = tmp_path / "here"
    target.mkdir()
    run = run_deckgen(target, "init")  # run_deckgen passes --root: the folder to create it in
    assert run.code == 0, run.stderr
    assert 'language = "en"' in (target / "deckgen.toml").read_text(encoding="utf-8")
    assert "deck: My deck::Calculus" in (target / "content/calculus.md").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("git") is None, reason="git not found (apt-get install git)")
def test_the_gitignore_keeps_what_to_commit_and_drops_what_is_built(tmp_path):
    root, _ = init(tmp_path)
    assert run_deckgen(root, "build").code == 0
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True, check=True).stdout
    listed = sorted(line[3:] for line in status.splitlines())
    assert listed == sorted([*FILES, "deckgen.lock"])  # no dist/, no .deckgen-cache/


def test_template_files_are_named_as_they_are_written():
    for language in ("en", "zh"):
        assert sorted(scaffold.template_files(language)) == FILES
