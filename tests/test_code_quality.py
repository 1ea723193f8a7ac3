"""The house rules that keep the code livable: the layers contract, types, lint, docs that match
the tree, and cache keys that follow the code they depend on."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NETGUARD, REPO

SRC = REPO / "src" / "deckgen"


def _tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(module) is None and subprocess.run([sys.executable, "-c", f"import {module.replace('-', '_')}"], capture_output=True).returncode:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is not installed, and CI must run it (pip install -e '.[test]')")
        pytest.skip(f"{module} is not installed: install the test tools with the README's test command (.venv/bin/pip install -c constraints.txt -e '.[test]')")
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO)


def test_layers_contract_holds():
    """runtime ← source/math/figures/anki ← builder ← site ← check ← cli; no import circles."""
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"], capture_output=True, text=True, cwd=REPO)
    if "No module named 'importlinter'" in result.stderr:
        _tool("importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_mypy_finds_no_error():
    result = _tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing():
    result = _tool("ruff", "check", "src", "tests", "tools", "bench", "figures", "build.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_architecture_doc_lists_exactly_the_modules():
    documented = set(re.findall(r"^\| `([\w/]+\.py)` \|", (REPO / "docs/architecture.md").read_text(encoding="utf-8"), re.M))
    present = {str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent == SRC}
    assert documented == present, f"documented but missing: {sorted(documented - present)}; present but undocumented: {sorted(present - documented)}"


def _figures_rendered(root: Path, src: Path) -> int:
    code = f"from deckgen import BuildConfig, build\nprint(build(BuildConfig(root={str(root)!r})).stats['figures_rendered'])\n"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(NETGUARD), str(src))))
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()[-1])


def test_editing_or_adding_a_module_of_the_figure_package_renders_figures_again(project, tmp_path):
    """The figure key hashes every file of deckgen.figures, so neither an edit of the style nor a
    module moved in can leave old renderings in place."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    figure = 'from deckgen.figure_api import figure\n\n@figure("f")\ndef f(fig, pal):\n    fig.subplots().plot([0, 1], color=pal.c[0])\n'
    root = project({"content/t.md": "---\ndeck: K\nid: k\n---\n\n## 图 {#q}\n\n![图](figure:f)\n", "figures/f.py": figure})
    assert _figures_rendered(root, src) == 1
    assert _figures_rendered(root, src) == 0
    style = src / "deckgen/figures/style.py"
    style.write_text(style.read_text(encoding="utf-8").replace('"lines.linewidth": 2.2', '"lines.linewidth": 2.3'), encoding="utf-8")
    assert _figures_rendered(root, src) == 1
    (src / "deckgen/figures/shapes.py").write_text("ARROW = 1\n", encoding="utf-8")
    assert _figures_rendered(root, src) == 1


def test_every_cache_kind_is_documented():
    from deckgen.runtime.keys import STORED

    doc = (REPO / "docs/architecture.md").read_text(encoding="utf-8")
    assert {kind.value for kind in STORED} == set(re.findall(r"^\| `([a-z-]+)` \| .* \| .* \|$", doc.split("## Caching")[1].split("##")[0], re.M))
