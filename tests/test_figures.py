"""Figures end to end: Chinese glyphs, deterministic SVG, re-rendering only what changed, errors,
media that reach Anki's collection, and `deckgen figures`.

Every figure here is tiny, so a render costs about a worker start-up; real child processes, real
matplotlib, Anki's own engine.
"""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import xml.etree.ElementTree as ET
from pathlib import Path

from anki_engine import import_package, new_collection, note_by_guid, render_all
from conftest import REPO, read_package, run_deckgen
from deckgen import BuildConfig, build
from deckgen.anki.notetypes import guid_for
from deckgen.figures.api import DAY, NIGHT

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"

TOPIC = """
---
deck: 图
id: figs
---

## 卷积的感受野？ {#rf}

答：见图。

![感受野示意](figure:label)

## 两条线 {#lines}

答

![两条线](figure:lines)
"""

SCRIPT_A = """
import numpy as np
from deckgen.figure_api import figure
from _common import LABEL


@figure("label", size=(3, 1))
def label(fig, pal):
    fig.text(0.05, 0.3, LABEL, color=pal.fg, fontsize=20)


@figure("lines", size=(3, 2))
def lines(fig, pal):
    ax = fig.subplots()
    x = np.linspace(0, 1, 20)
    ax.plot(x, x ** 2, color=pal.c[0])
    ax.plot(x, np.random.default_rng(0).normal(size=20), color=pal.c[1])
"""

SCRIPT_B = """
from deckgen.figure_api import figure


@figure("unused-bar", size=(3, 2))
def unused_bar(fig, pal):
    fig.subplots().bar([0, 1], [1, 2], color=pal.c[2])
"""

LABEL = "卷积感受野卷积"  # 7 characters, 5 distinct


def figure_project(project, label: str = LABEL):
    return project({
        "content/figs.md": TOPIC,
        "figures/a.py": SCRIPT_A,
        "figures/b.py": SCRIPT_B,
        "figures/_common.py": f"LABEL = {label!r}\n",
    })


def svg_for(root: Path, figure: str, mode: str) -> bytes:
    media = read_package(root / "dist" / "all.apkg").media
    [name] = [n for n in media if n.startswith(f"fig-{figure}-") and n.endswith(f".{mode}.svg")]
    return media[name]


def test_chinese_label_is_drawn_with_real_glyph_outlines(project):
    root = figure_project(project)
    build(BuildConfig(root=root, jobs=1))
    for mode in ("day", "night"):
        svg = ET.fromstring(svg_for(root, "label", mode))
        assert svg.find(f".//{SVG}text") is None  # text became paths: the phone needs no font
        defs = {p.get("id"): p.get("d") for p in svg.iter(f"{SVG}path") if p.get("id")}
        uses = [u.get(XLINK).lstrip("#") for u in svg.iter(f"{SVG}use")]
        # One glyph drawn per character, one outline defined per distinct character. A missing
        # font draws every character with the same "tofu" glyph, which would give one outline.
        assert len(uses) == len(LABEL)
        assert len(set(uses)) == len(set(LABEL))
        outlines = [defs[u] for u in set(uses)]
        assert len(set(outlines)) == len(set(LABEL))
        assert all(len(re.findall(r"[A-Za-z]", d)) > 10 for d in outlines)  # real CJK glyphs have many strokes
        # Glyphs follow the text: the 1st and 6th characters (both 卷) share one outline.
        assert uses[0] == uses[5] and uses[1] == uses[6] and uses[0] != uses[1]


def test_same_source_gives_same_svg_bytes_whatever_the_job_order(project, tmp_path):
    """Two clean builds, one worker vs two, in different folders: identical media bytes.

    With one worker, 'aaa-rc' runs first (jobs go out sorted by name) and changes rcParams in the
    worker; the shared style must not let that leak into the figures rendered after it. With three
    workers, each figure has a process of its own.
    """
    files = {
        "content/figs.md": TOPIC + "\n## rc {#rc}\n\n答\n\n![x](figure:aaa-rc)\n",
        "figures/a.py": SCRIPT_A,
        "figures/_common.py": f"LABEL = {LABEL!r}\n",
        "figures/0_rc.py": (
            "import matplotlib\nfrom deckgen.figure_api import figure\n\n"
            "@figure('aaa-rc', size=(2, 2))\ndef rc(fig, pal):\n"
            "    matplotlib.rcParams['axes.grid'] = True  # not part of the shared style\n"
            "    fig.subplots().plot([0, 1], [1, 0], color=pal.c[0])\n"
        ),
    }
    first = project(files)
    build(BuildConfig(root=first, jobs=1))
    second = first.parent / "elsewhere" / "clone"
    second.mkdir(parents=True)
    for rel, text in ((p.relative_to(first), p.read_bytes()) for p in first.rglob("*") if p.is_file() and ".deckgen-cache" not in p.parts and "dist" not in p.parts and p.name != "deckgen.lock"):
        (second / rel).parent.mkdir(parents=True, exist_ok=True)
        (second / rel).write_bytes(text)
    build(BuildConfig(root=second, jobs=3))
    one, two = read_package(first / "dist" / "all.apkg").media, read_package(second / "dist" / "all.apkg").media
    assert len(one) == 6 and one == two
    for data in one.values():
        assert b"Date" not in data and b"<metadata" not in data  # no timestamps inside


def _build_in_child(root: Path) -> dict:
    """A build in a fresh interpreter: its render count, and whether it imported the heavy libraries."""
    code = (
        "import json, sys\nfrom deckgen import BuildConfig, build\n"
        f"report = build(BuildConfig(root={str(root)!r}))\n"
        "print(json.dumps({'rendered': report.stats['figures_rendered'], "
        "'heavy': sorted(m for m in ('matplotlib', 'numpy', 'scour') if m in sys.modules)}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_figures_render_again_only_when_their_inputs_change(project):
    root = figure_project(project)
    assert build(BuildConfig(root=root)).stats["figures_rendered"] == 2  # label, lines (unused-bar is not rendered)
    assert _build_in_child(root) == {"rendered": 0, "heavy": []}  # nothing changed

    topic = root / "content/figs.md"
    topic.write_text(topic.read_text(encoding="utf-8").replace("答：见图。", "答：见下图。"), encoding="utf-8")
    assert _build_in_child(root) == {"rendered": 0, "heavy": []}  # a note changed, no figure did

    script_b = root / "figures/b.py"
    script_b.write_text(script_b.read_text() + "\n# a comment\n")
    assert build(BuildConfig(root=root)).stats["figures_rendered"] == 0  # b.py's figure is used by no note

    script_a = root / "figures/a.py"
    script_a.write_text(script_a.read_text().replace("x ** 2", "x ** 3"))
    assert build(BuildConfig(root=root)).stats["figures_rendered"] == 2  # both figures of a.py

    (root / "figures/_common.py").write_text(f"LABEL = {'感受野'!r}\n")
    assert build(BuildConfig(root=root)).stats["figures_rendered"] == 2  # a helper: every figure
    assert build(BuildConfig(root=root)).stats["figures_rendered"] == 0


def test_figure_errors_name_the_reference_and_the_figure_and_are_all_reported(project):
    root = project({
        "content/bad.md": """
        ---
        deck: 坏图
        id: bad
        ---

        ## 报错 {#raises}

        ![](figure:boom)

        ## 空图 {#empty}

        ![](figure:blank)

        ## 太慢 {#slow}

        ![](figure:forever)

        ## 太大 {#big}

        ![](figure:hog)

        ## 拼错 {#typo}

        ![](figure:bloom)

        ## 没有编号

        答
        """,
        "figures/bad.py": """
        import numpy as np
        from deckgen.figure_api import figure


        def helper(x):
            return 1 / x


        @figure("boom")
        def boom(fig, pal):
            fig.subplots()
            helper(0)


        @figure("blank")
        def blank(fig, pal):
            fig.subplots()


        @figure("forever")
        def forever(fig, pal):
            while True:
                pass


        @figure("hog")
        def hog(fig, pal):
            chunks = []
            while True:
                chunks.append(np.zeros(2**26))  # 512 MiB of address space each, never touched
        """,
    })
    result = run_deckgen(root, "--figure-timeout", "2")
    assert result.code == 1
    err = result.stderr
    assert "Traceback" not in err and "site-packages" not in err and "deckgen/" not in err  # trimmed to the script
    expected = [
        "content/bad.md:8: figure 'boom' (figures/bad.py:9) failed: ZeroDivisionError: division by zero"
        " at figures/bad.py:12 in boom: helper(0) → figures/bad.py:6 in helper: return 1 / x",
        "content/bad.md:12: figure 'blank' (figures/bad.py:15) failed: the figure draws nothing",
        "content/bad.md:16: figure 'forever' (figures/bad.py:20) failed: used more than 2 s of CPU time (the CPU time limit per figure) and was stopped",
        "content/bad.md:20: figure 'hog' (figures/bad.py:26) failed: used more than 2 GiB of memory (the memory limit) and was stopped"
        " at figures/bad.py:30 in hog",
        "content/bad.md:24: unknown figure 'bloom' — did you mean boom (figures/bad.py:9)",
        "content/bad.md:26: note has no id",  # a content error in the same build is reported too
    ]
    for line in expected:
        assert line in err, err
    assert err.count("error: ") == len(expected)
    assert not (root / "dist").exists()


def test_edited_figure_reaches_the_collection_under_a_new_name(project, tmp_path):
    root = figure_project(project)
    build(BuildConfig(root=root, now=1_800_000_000))
    col = new_collection(tmp_path / "col")
    import_package(col, root / "dist" / "all.apkg")
    note = note_by_guid(col, guid_for("figs/lines"))
    day_name, night_name = re.findall(r'src="(fig-lines-[0-9a-f]{12}\.(?:day|night)\.svg)"', note["Back"])
    media_dir = Path(col.media.dir())
    old_day = (media_dir / day_name).read_bytes()
    assert old_day == svg_for(root, "lines", "day")
    assert DAY.c[0].encode() in old_day and NIGHT.c[0].encode() in (media_dir / night_name).read_bytes()
    answer = render_all(col)[0].answer
    assert 'class="dg-day"' in answer and 'class="dg-night"' in answer

    script = root / "figures/a.py"
    script.write_text(script.read_text().replace("x ** 2", "1 - x"))
    second = build(BuildConfig(root=root, now=1_800_000_100))
    assert {k for d in second.changes for k in d.changed} == {"figs/lines"}
    log = import_package(col, root / "dist" / "all.apkg")
    assert len(log.updated) == 1 and not log.new
    note = note_by_guid(col, guid_for("figs/lines"))
    new_day = re.search(r'src="(fig-lines-[0-9a-f]{12}\.day\.svg)"', note["Back"]).group(1)
    assert new_day != day_name
    assert (media_dir / new_day).read_bytes() == svg_for(root, "lines", "day") != old_day
    cards = {c.note_guid: c for c in render_all(col)}
    assert new_day in cards[guid_for("figs/lines")].answer and day_name not in cards[guid_for("figs/lines")].answer
    col.close()


def test_each_package_holds_exactly_the_media_its_notes_reference(project):
    root = figure_project(project)
    (root / "content/other.md").write_text("---\ndeck: 另一个\nid: other\n---\n\n## 柱 {#bar}\n\n答\n\n![柱](figure:unused-bar)\n", encoding="utf-8")
    build(BuildConfig(root=root))
    for apkg in (root / "dist").glob("*.apkg"):
        package = read_package(apkg)
        referenced = {name for note in package.notes for field in note.fields for name in re.findall(r'src="([^"]+)"', field)}
        assert set(package.media) == referenced, apkg.name
    assert {n.split("-")[1] for n in read_package(root / "dist" / "other.apkg").media} == {"unused"}
    assert len(read_package(root / "dist" / "all.apkg").media) == 6


def test_figures_command_lists_definitions_uses_and_cache_state(project):
    root = figure_project(project)
    topic = root / "content/figs.md"
    topic.write_text(topic.read_text(encoding="utf-8") + "\n## 再用一次 {#again}\n\n答\n\n![又一次](figure:lines)\n", encoding="utf-8")
    before = run_deckgen(root, "figures")
    assert before.code == 0, before.stderr
    lines = before.stdout.splitlines()
    assert "label  figures/a.py:6  not rendered yet" in lines
    assert lines[lines.index("lines  figures/a.py:11  not rendered yet") + 1:][:2] == [
        "    used at content/figs.md:16",
        "    used at content/figs.md:22",
    ]
    assert "warning: figures/b.py:4: figure 'unused-bar' is not used by any note" in lines
    built = run_deckgen(root)
    assert built.code == 0 and "warning: figures/b.py:4: figure 'unused-bar' is not used by any note" in built.stdout
    after = run_deckgen(root, "figures").stdout
    assert re.search(r"^lines  figures/a\.py:11  rendered \(day \d+ KiB, night \d+ KiB\)$", after, re.M)
    assert "unused-bar  figures/b.py:4  not rendered yet" in after
    assert after.splitlines()[-1] == "3 figures, 2 rendered and cached, 1 unused"
    topic.write_text(topic.read_text(encoding="utf-8").replace("figure:label", "figure:labl"), encoding="utf-8")
    typo = run_deckgen(root, "figures")
    assert typo.code == 1 and "content/figs.md:10: unknown figure 'labl' — did you mean label (figures/a.py:6)?" in typo.stderr


def test_figures_render_in_parallel_with_a_progress_bar_on_a_terminal(project, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    script = SCRIPT_A.replace("def label(fig, pal):", f"def label(fig, pal):\n    open({str(pids)!r} + '/' + WORKER, 'w').close()")
    script = script.replace("def lines(fig, pal):", f"def lines(fig, pal):\n    open({str(pids)!r} + '/' + WORKER, 'w').close()")
    # A worker's pid is 1 inside its own PID namespace: the namespace tells two workers apart.
    script = "import os\nWORKER = f\"{os.getpid()}-{os.readlink('/proc/self/ns/pid')}\"\n" + script
    root = project({"content/figs.md": TOPIC, "figures/a.py": script, "figures/_common.py": f"LABEL = {LABEL!r}\n"})
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    # The figures report their worker by writing into tmp_path, which Landlock forbids them: this
    # test is about parallel workers, so it runs them with namespaces only.
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), DECKGEN_ISOLATION="no-landlock")
    proc = subprocess.Popen([sys.executable, "-m", "deckgen.cli", "--root", str(root), "build", "--jobs", "2"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child, env=env)
    os.close(child)
    terminal = b""
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    proc.wait(timeout=300)
    os.close(parent)
    assert proc.returncode == 0, terminal
    assert re.search(rb"\rfigures: +\d+%\|.*\| [0-2]/2 \[", terminal), terminal  # tqdm's bar, on stderr
    assert len(list(pids.iterdir())) == 2  # two worker processes, one figure each
