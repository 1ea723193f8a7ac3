"""Hostile code that should be harmless, what a build says when confinement is partial, files
that look like content, and the preview server under careless or hostile clients."""
from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from pathlib import Path

from conftest import read_package, run_deckgen, write_project
from deckgen.site.serve import PreviewServer
from test_hostile import md, note
from test_hostile_content import processes_with

# ---- code the deck brings: harmless where it is not an error -------------------------------------


def fields(apkg: Path) -> dict[str, str]:
    """Meta (deck/note) -> the back field, read from the package."""
    return {note.fields[2]: note.fields[1] for note in read_package(apkg).notes}


FORGER = ["```sympy", "import sys", 'print(\'{"start": 1}\')', "sys.stdout.write('{\"done\": 1, \"value\": {\"shows\": [{\"latex\": \"forged\"}]}}\\n')", "show(Integer(1))", "```"]
HONEST = ["```sympy", "show(Integer(2))", "```"]


def test_printed_output_cannot_forge_or_shift_a_result_and_the_cache_holds_only_its_own(project):
    root = project({"content/s.md": md("## 一 {#one}", "", *FORGER, "", "## 二 {#two}", "", *HONEST, header=("deck: 伪造", "id: forge"))})
    result = run_deckgen(root, "--jobs", "1")  # one worker: the two blocks run one after the other in it
    assert result.code == 0, result.stderr
    backs = fields(root / "dist/forge.apkg")
    assert backs["forge/one"] == "\\[1\\]" and backs["forge/two"] == "\\[2\\]"
    # The forging lines removed: the first block is new, the second comes from the cache, right.
    text = (root / "content/s.md").read_text().replace(FORGER[2] + "\n", "").replace(FORGER[3] + "\n", "")
    (root / "content/s.md").write_text(text)
    assert run_deckgen(root, "--jobs", "1").code == 0
    backs = fields(root / "dist/forge.apkg")
    assert backs["forge/one"] == "\\[1\\]" and backs["forge/two"] == "\\[2\\]"


def test_printing_megabytes_and_running_shell_commands_is_harmless(project):
    root = project({"content/s.md": note("```sympy", "import os", "print('x' * 5_000_000)", "os.system('echo hello from a shell; echo {}')", "show(Integer(3))", "```")})
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr and "JSONDecodeError" not in result.stderr
    assert fields(root / "dist/bad.apkg")["bad/q"] == "\\[3\\]"


def test_a_process_a_figure_forks_writes_nothing_after_the_build_and_is_gone(project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    script = "\n".join([
        "import os, time", "from deckgen.figure_api import figure", "", '@figure("forks")', "def forks(fig, pal):",
        "    if os.fork() == 0:",
        "        for _ in range(100):",
        "            time.sleep(0.1)",
        "            try:",
        f"                open({str(outside / 'late.txt')!r}, 'a').write('x')",
        "            except OSError:",
        "                pass",
        "        os._exit(0)",
        "    fig.subplots().plot([0, 1], [0, 1], color=pal.c[0])", "",
    ])
    root = project({"content/f.md": note("![图](figure:forks)"), "figures/f.py": script})
    marker = "test-fork-" + os.urandom(4).hex()
    env = dict(os.environ, DECKGEN_TEST_MARKER=marker)
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "deckgen.cli", "--root", str(root)], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []
    time.sleep(1)  # the child wrote every 0.1 s while it lived: had it survived, the file would be there
    assert list(outside.iterdir()) == []


# ---- what the build says when the system cannot confine ------------------------------------------

BOTH = {  # a figure and a sympy block: two kinds of worker in one build
    "content/t.md": md("## 图 {#fig}", "", "![图](figure:ok)", "", "## 算 {#calc}", "", "```sympy", "show(Integer(1))", "```", header=("deck: 隔离", "id: iso")),
    "figures/ok.py": 'from deckgen.figure_api import figure\n\n@figure("ok")\ndef ok(fig, pal):\n    fig.subplots().plot([0, 1], [0, 1], color=pal.c[0])\n',
}


def run_with(root: Path, isolation: str):
    env = dict(os.environ, DECKGEN_ISOLATION=isolation)
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "deckgen.cli", "--root", str(root)], capture_output=True, text=True, env=env, timeout=300)


def test_a_missing_layer_of_confinement_is_said_once_and_the_build_goes_on(project):
    root = project(BOTH)
    result = run_with(root, "no-landlock")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert notes == ["note: worker landlock is off ($DECKGEN_ISOLATION=no-landlock) (see docs/security.md)"]


def test_a_fully_confined_build_says_nothing_about_confinement(project):
    from deckgen.runtime import isolation

    if isolation.unavailable():
        import pytest

        pytest.skip(f"this system cannot confine fully: {isolation.unavailable()}")
    root = project(BOTH)
    result = run_with(root, "")
    assert result.returncode == 0 and "note:" not in result.stderr, result.stderr


def test_without_namespaces_landlock_alone_keeps_the_build_and_the_machine_safe(project, tmp_path):
    """As on a system that refuses unprivileged namespaces: the worker sees the build's PID and
    the network stack, yet cannot signal the build, connect, bind, or write outside."""
    from deckgen.runtime import isolation

    if isolation.landlock_abi() < 6:
        import pytest

        pytest.skip(f"Landlock ABI {isolation.landlock_abi()}: TCP rules need 4, signal scopes 6")
    outside = tmp_path / "outside"
    outside.mkdir()
    body = [
        "import os, signal, socket",
        "errors = []",
        "for attempt in (lambda: os.kill(os.getppid(), signal.SIGKILL),",
        "                lambda: socket.socket().bind(('127.0.0.1', 0)),",
        "                lambda: socket.create_connection(('127.0.0.1', 9), timeout=5),",
        f"                lambda: open({str(outside / 'x.txt')!r}, 'w')):",
        "    try:",
        "        attempt()",
        "        errors.append('allowed')",
        "    except (PermissionError, ConnectionRefusedError) as exc:",
        "        errors.append(type(exc).__name__)",
        "show(' '.join(errors))",
    ]
    root = project({"content/s.md": note("```sympy", *body, "```")})
    result = run_with(root, "no-namespaces")
    assert result.returncode == 0, result.stderr  # the build was not killed
    assert "note: worker namespaces is off" in result.stderr
    shown = fields(root / "dist/bad.apkg")["bad/q"]
    assert "allowed" not in shown and shown.count("PermissionError") == 4, shown
    assert list(outside.iterdir()) == []


# ---- files that look like content are not left out without a word -------------------------------

TOPIC = md("## 问题 {#q}", "", "答案", header=("deck: 好", "id: good"))


def test_files_that_look_like_topics_but_are_not_built_are_warnings(project):
    root = project({
        "content/good.md": TOPIC,
        "content/Upper.MD": md("## 大写 {#u}", "", "答", header=("deck: 大写", "id: upper")),
        "content/notes.markdown": md("## 长 {#l}", "", "答", header=("deck: 长", "id: long")),
        "content/sub/inner.md": md("## 里 {#i}", "", "答", header=("deck: 里", "id: inner")),
        "content/.hidden/x.md": "not content",
        "content/images/readme.txt": "not a topic",
    })
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: content/")]
    assert warnings == [
        "warning: content/Upper.MD:1: this file is not built, it looks like a topic — rename it to Upper.md to build it (only the lowercase .md extension makes a topic)",
        "warning: content/notes.markdown:1: this file is not built, it looks like a topic — rename it to notes.md to build it (only the lowercase .md extension makes a topic)",
        "warning: content/sub/inner.md:1: this file is not built, it looks like a topic — move it to content/inner.md to build it (topics are the .md files directly in content/)",
    ]
    check = run_deckgen(root, "check", "--fast", "--format", "json")
    findings = json.loads(check.stdout)["findings"]
    assert {(f["path"], f["line"], f["severity"]) for f in findings} >= {("content/Upper.MD", 1, "warning"), ("content/sub/inner.md", 1, "warning")}
    assert all(f["hint"] for f in findings if f["path"] == "content/sub/inner.md")


def test_a_question_written_as_a_deeper_heading_is_a_warning_that_survives_the_cache(project):
    root = project({
        "content/good.md": md("## 问题 {#q}", "", "答案", "", "### 为什么 ReLU 比 sigmoid 好？", "", "梯度不饱和。", header=("deck: 好", "id: good")),
        "content/other.md": md("## 另一题 {#o}", "", "答", header=("deck: 另", "id: other")),
    })
    expected = "warning: content/good.md:10: '### 为什么 ReLU 比 sigmoid 好？' reads like a question, but only '##' starts a note"
    first = run_deckgen(root)
    assert first.code == 0 and expected in first.stdout, first.stdout
    (root / "content/other.md").write_text(md("## 另一题 {#o}", "", "答，改过", header=("deck: 另", "id: other")))
    second = run_deckgen(root)  # good.md comes from the cache this time
    assert second.code == 0 and expected in second.stdout, second.stdout


# ---- the preview server --------------------------------------------------------------------------


def _site(tmp_path: Path) -> Path:
    return write_project(tmp_path / "site", {"index.html": "<h1>hi</h1>"})


def _get(port: int, path: str = "/", host: str | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": host} if host is not None else {})
    status = connection.getresponse().status
    connection.close()
    return status


def test_preview_server_answers_only_to_loopback_names(tmp_path, capfd):
    with PreviewServer(_site(tmp_path), 0) as server:
        port = server._server.server_address[1]
        assert _get(port) == 200
        assert _get(port, host=f"localhost:{port}") == 200
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "[::1]:80", ""):
            assert _get(port, host=host) == 421, host
    err = capfd.readouterr().err
    assert "Traceback" not in err and "preview: 127.0.0.1 code 421" in err


def test_preview_server_survives_odd_requests_and_hang_ups_without_a_traceback(tmp_path, capfd):
    with PreviewServer(_site(tmp_path), 0) as server:
        port = server._server.server_address[1]
        assert _get(port, "/%00") == 404
        for raw in (b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(raw)
                s.recv(100)
        for _ in range(200):  # a client that asks for the page and hangs up before reading it
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset on close
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.close()
        assert _get(port) == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err, err
    assert all(line.startswith("preview: ") for line in err.splitlines()), err


def test_preview_server_closes_idle_connections_and_caps_how_many_it_serves(tmp_path, capfd):
    with PreviewServer(_site(tmp_path), 0, idle_seconds=1, connections=8) as server:
        port = server._server.server_address[1]
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(400)]
        time.sleep(0.5)
        assert threading.active_count() <= before + 8  # one thread per served connection, no more
        for s in idle[:8]:  # the served ones are closed by the server once idle: read gives EOF
            s.settimeout(10)
            assert s.recv(1) == b""
        for s in idle:
            s.close()
        deadline = time.monotonic() + 10
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() == before
        assert _get(port) == 200
    assert "Traceback" not in capfd.readouterr().err
