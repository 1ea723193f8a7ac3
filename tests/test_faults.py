"""Faults around a build: interrupts, a second build at once, an unwritable or full disk, a damaged
cache, and the preview server asked for files outside its folder.

Each test runs the real `deckgen` command in a child process and checks what a user would see:
dist/ and deckgen.lock exactly as they were after a failure, a clear message, and a next build
that succeeds with the right result.
"""
from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, png, read_package, run_deckgen, topic, write_project
from deckgen.site.serve import PreviewServer

NOTES = 1000  # a topic big enough that its packages take a real part of the build

GATE = '''
import hashlib
import tempfile
import time
from pathlib import Path

from deckgen.figure_api import figure

FIGURES = Path(__file__).resolve().parent


@figure("gate")
def gate(fig, pal):
    """Draws a line; while the file figures/hold exists it waits first, so a test can catch the
    build here. It tells it started in its temporary folder, the one place a worker may write."""
    (Path(tempfile.gettempdir()) / ("figure-started-" + hashlib.sha256(str(FIGURES).encode()).hexdigest()[:16])).touch()
    while (FIGURES / "hold").exists():
        time.sleep(0.05)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color=pal.c[0])
'''


def gated(version: str) -> str:
    """NOTES notes that all change with `version`, after a note showing the gate figure and an image."""
    return topic("t", NOTES, version=f"（{version}）", first="## 图 {#fig}\n\n![门](figure:gate)\n\n![图片](img.png)\n\n")


def sympy_topic() -> str:
    return "---\ndeck: 故障::计算\nid: s\n---\n\n## 导数 {#d}\n\n```sympy\nx = symbols('x')\nshow(diff(x**3, x))\n```\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A project that built fine once: its dist/, lock file and cache are the starting point."""
    root = write_project(tmp_path_factory.mktemp("faults") / "proj", {
        "content/t.md": gated("v1"),
        "content/s.md": sympy_topic(),
        "content/img.png": png(),
        "figures/gate.py": GATE,
    })
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    return root


def figure_started(root: Path):
    """A condition: the gate figure of the project at `root` has started (see GATE)."""
    marker = "figure-started-" + hashlib.sha256(str((root / "figures").resolve()).encode()).hexdigest()[:16]
    return lambda: any(Path(tempfile.gettempdir()).glob(f"deckgen-worker-*/{marker}"))


def copy_of(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(built, root, symlinks=True, ignore=shutil.ignore_patterns("figure-started"))
    return root


def visible(root: Path, dist: Path | None = None) -> dict[str, bytes]:
    """dist/ (without hidden staging files) and the lock file, byte for byte."""
    dist = dist or root / "dist"
    files = {p.name: p.read_bytes() for p in dist.iterdir() if p.is_file() and not p.name.startswith(".")}
    files["deckgen.lock"] = (root / "deckgen.lock").read_bytes()
    return files


def clean_build(root: Path, tmp_path: Path) -> Path:
    """A build of the same sources and lock file without cache or dist/; returns its dist/."""
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("dist", ".deckgen-cache", "hold", "figure-started"))
    result = run_deckgen(clean)
    assert result.code == 0, result.stderr
    return clean / "dist"


def packages_in(dist: Path) -> dict[str, tuple]:
    """The notes and media of each package."""
    return {p.name: (package.notes, package.media) for p in sorted(dist.glob("*.apkg")) for package in [read_package(p)]}


def reference(root: Path, tmp_path: Path) -> dict[str, tuple]:
    """The notes and media a clean build of the same sources gives."""
    return packages_in(clean_build(root, tmp_path))


def assert_clear_error(code: int, stderr: str, text: str) -> None:
    """Exit status 1, an error line holding `text` and a fix after ' — ', no traceback."""
    assert code == 1, stderr
    line = next((line for line in stderr.splitlines() if line.startswith("error: ") and text in line), None)
    assert line, f"no error line with {text!r} in:\n{stderr}"
    assert " — " in line and "Traceback" not in stderr


def start(root: Path, *args: str, limit_file_size: int | None = None, hold_packaging: Path | None = None, in_child: bool = False) -> subprocess.Popen:
    """The command as `run_deckgen` runs it, but started in its own session (like a shell job).
    `hold_packaging`: a folder; the build (`in_child`: the process it forks to build the biggest
    package) waits when it starts packaging (tests/faultinject.py)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    command = ["-m", "deckgen.cli"]
    if hold_packaging is not None:
        env["DECKGEN_HOLD_CHILD_PACKAGING" if in_child else "DECKGEN_HOLD_PACKAGING"] = str(hold_packaging)
        command = [str(Path(__file__).parent / "faultinject.py")]

    def limit() -> None:
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.Popen(
        [sys.executable, *command, "--root", str(root), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=env, start_new_session=True, preexec_fn=limit,  # noqa: PLW1509 - the test process starts no threads here
    )


def wait_for(condition, proc: subprocess.Popen, what: str, limit: float = 180) -> None:
    """Poll until `condition()`; the child ending first means the moment was missed."""
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the build ended before {what}: {out[-500:]} {err[-2000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"{what} never happened")
        time.sleep(0.002)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
@pytest.mark.parametrize("moment", ["figures", "packaging"])
def test_interrupted_build_changes_nothing_and_the_next_build_is_right(built, tmp_path, sig, moment):
    root = copy_of(built, tmp_path)
    before = visible(root)
    (root / "content/t.md").write_text(gated("v2"), encoding="utf-8")
    if moment == "figures":
        (root / "figures/hold").touch()
        (root / "figures/gate.py").write_text(GATE + "\n# edited: render again\n", encoding="utf-8")
        proc = start(root)
        wait_for(figure_started(root), proc, "the figure started")
    else:
        held = tmp_path / "held"
        held.mkdir()
        (held / "hold").touch()
        proc = start(root, hold_packaging=held)
        wait_for((held / "packaging-started").exists, proc, "packaging started")
    os.killpg(proc.pid, sig)  # the whole job, as Ctrl-C in a terminal or a killed session does
    out, err = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, out + err
        assert "interrupted" in err
        assert "Traceback" not in err, err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert visible(root) == before

    (root / "figures/hold").unlink(missing_ok=True)
    again = run_deckgen(root)
    assert again.code == 0, again.stderr
    assert not [p.name for p in (root / "dist").iterdir() if p.name.startswith(".")]  # no staging files left
    assert packages_in(root / "dist") == reference(root, tmp_path)


def test_killing_only_the_build_process_ends_its_workers(built, tmp_path):
    root = copy_of(built, tmp_path)
    (root / "figures/gate.py").write_text(GATE + "\n# edited\n", encoding="utf-8")
    (root / "figures/hold").touch()
    proc = start(root)
    wait_for(figure_started(root), proc, "the figure started")
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert workers
    os.kill(proc.pid, signal.SIGKILL)  # not the group: e.g. an IDE or CI runner killing one process
    proc.communicate()
    try:
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "an orphaned worker is still running"
    finally:
        (root / "figures/hold").unlink()  # lets an orphan finish its figure and exit


def test_killing_only_the_build_process_ends_the_process_building_a_package(tmp_path):
    """The package of all topics is built in a forked process when the others are big: killed
    with the build (not only its group), it must not go on alone."""
    root = write_project(tmp_path / "p", {"content/a.md": topic("a", 1100), "content/b.md": topic("b", 1100)})
    held = tmp_path / "held"
    held.mkdir()
    (held / "hold").touch()
    proc = start(root, hold_packaging=held, in_child=True)
    try:
        marker = held / "child-packaging-started"
        wait_for(lambda: marker.exists() and marker.read_text().strip(), proc, "the package process started")
        child = int(marker.read_text())
        os.kill(proc.pid, signal.SIGKILL)  # not the group
        proc.wait(timeout=60)  # not communicate(): an orphan would hold the build's pipes open
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{child}").exists(), "the package process outlived the build"
    finally:
        (held / "hold").unlink()  # lets an orphan finish and exit
        proc.stdout.close()
        proc.stderr.close()


def test_ctrl_c_to_the_build_alone_stops_a_running_figure_at_once(built, tmp_path):
    """SIGINT to the build process only (not its group), while a figure is held: the build ends
    without waiting for the figure, and dist/ is as it was."""
    root = copy_of(built, tmp_path)
    before = visible(root)
    (root / "figures/gate.py").write_text(GATE + "\n# edited\n", encoding="utf-8")
    (root / "figures/hold").touch()
    proc = start(root)
    wait_for(figure_started(root), proc, "the figure started")
    os.kill(proc.pid, signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=20)  # the held figure would run until its 60 s limit
    finally:
        (root / "figures/hold").unlink()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert visible(root) == before


def test_second_build_at_once_is_refused_and_the_first_finishes(built, tmp_path):
    root = copy_of(built, tmp_path)
    (root / "content/t.md").write_text(gated("v2"), encoding="utf-8")
    (root / "figures/gate.py").write_text(GATE + "\n# edited\n", encoding="utf-8")
    (root / "figures/hold").touch()
    first = start(root)
    wait_for(figure_started(root), first, "the figure started")
    before = visible(root)
    second = run_deckgen(root)
    assert_clear_error(second.code, second.stderr, "another deckgen build is running in this project — wait for it to finish")
    assert visible(root) == before
    (root / "figures/hold").unlink()
    _out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert packages_in(root / "dist") == reference(root, tmp_path)


def test_dist_that_is_a_file_is_a_clear_error(built, tmp_path):
    root = copy_of(built, tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("mine")
    result = run_deckgen(root, "--dist", str(blocker))
    assert_clear_error(result.code, result.stderr, f"error: {blocker}: could not read or write: File exists — a file or folder is in the way")
    assert blocker.read_text() == "mine"


def test_dist_under_proc_is_a_clear_error(built, tmp_path):
    root = copy_of(built, tmp_path)
    before = visible(root)
    result = run_deckgen(root, "--dist", "/proc/deckgen-dist")
    assert_clear_error(result.code, result.stderr, "error: /proc/deckgen-dist: could not read or write: ")
    assert visible(root) == before


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (tests run as root in the CI container); skip where that is not allowed."""
    mounted = []

    def mount(size: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (the full-disk tests need root): {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_read_only_dist_is_a_clear_error(built, tmp_path, tmpfs):
    root = copy_of(built, tmp_path)
    dist = tmpfs("1m")
    for package in (root / "dist").iterdir():
        shutil.copy(package, dist / package.name)
    subprocess.run(["mount", "-o", "remount,ro", str(dist)], check=True)
    (root / "content/t.md").write_text(gated("v2"), encoding="utf-8")
    before = visible(root, dist)
    result = run_deckgen(root, "--dist", str(dist))
    assert_clear_error(result.code, result.stderr, "could not read or write: Read-only file system — make it writable, or write elsewhere with --dist")
    assert visible(root, dist) == before


def test_full_disk_writes_nothing_and_the_next_build_is_right(built, tmp_path, tmpfs):
    root = copy_of(built, tmp_path)
    dist = tmpfs("2m")
    assert run_deckgen(root, "--dist", str(dist)).code == 0
    (root / "content/t.md").write_text(gated("v2 " + "更长的答案" * 3), encoding="utf-8")
    filler = dist / "filler"
    free = shutil.disk_usage(dist).free
    filler.write_bytes(b"\0" * (free - 8192))  # room for a little, not for a package
    before = visible(root, dist)
    result = run_deckgen(root, "--dist", str(dist))
    assert_clear_error(result.code, result.stderr, "could not read or write: No space left on device — free some disk space")
    assert visible(root, dist) == before
    assert not [p.name for p in dist.iterdir() if p.name.startswith(".")]  # nothing half-written left
    filler.unlink()
    again = run_deckgen(root, "--dist", str(dist))
    assert again.code == 0, again.stderr
    expected = reference(root, tmp_path)
    assert packages_in(dist) == expected


def test_file_size_limit_is_a_clear_error(built, tmp_path):
    """RLIMIT_FSIZE stands in for a full disk where no tmpfs can be mounted."""
    root = copy_of(built, tmp_path)
    (root / "content/t.md").write_text(gated("v2"), encoding="utf-8")
    before = visible(root)
    proc = start(root, limit_file_size=64 * 1024)
    _out, err = proc.communicate(timeout=300)
    assert_clear_error(proc.returncode, err, "could not read or write: File too large — free some disk space")
    assert visible(root) == before
    assert not [p.name for p in (root / "dist").iterdir() if p.name.startswith(".")]


def _damage(path: Path) -> None:
    """Flip bytes in the middle of a file, keeping its size (the hardest damage to notice)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, min(middle + 8, len(data))):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_damaged_cache_is_rebuilt_and_never_packaged(built, tmp_path):
    root = copy_of(built, tmp_path)
    cache = root / ".deckgen-cache"
    damaged = []
    for kind in ("figure", "sympy", "media"):
        for entry in (cache / kind).rglob("*"):
            if entry.is_file():
                _damage(entry)
                damaged.append(entry)
    assert {p.relative_to(cache).parts[0] for p in damaged} == {"figure", "sympy", "media"}
    (cache / "state.json").write_text("{not json")
    (root / "dist" / "all.apkg").unlink()  # the state is gone anyway; make sure packages are rebuilt
    result = run_deckgen(root)
    assert result.code == 0, result.stderr
    # The very same bytes as a build without any cache, and every media file what its name says.
    expected = clean_build(root, tmp_path)
    assert {p.name: p.read_bytes() for p in (root / "dist").glob("*.apkg")} == {p.name: p.read_bytes() for p in expected.glob("*.apkg")}
    for name, data in read_package(root / "dist" / "all.apkg").media.items():
        assert hashlib.sha256(data).hexdigest()[:12] in name


def test_damaged_lock_file_is_a_clear_error(built, tmp_path):
    root = copy_of(built, tmp_path)
    (root / "content/t.md").write_text(gated("v2"), encoding="utf-8")
    (root / "deckgen.lock").write_text('{"version": 1, "notes": [')
    before = visible(root)
    result = run_deckgen(root)
    assert_clear_error(result.code, result.stderr, "error: deckgen.lock:1: the lock file is damaged: not valid JSON")
    assert " — restore it from version control" in result.stderr
    assert visible(root) == before


# ---- the preview server ---------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, bytes]:
    """A raw GET: the path is sent exactly as given, not normalised by a client library."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


TRAVERSALS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/.%2e/secret.txt",
    "/sub/../../secret.txt",
    "//..//secret.txt",
    "/..\\secret.txt",
    "/%2e%2e%5csecret.txt",
    "/link-out/secret.txt",
    "/link-file",
    "/etc/passwd",
    "/../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "http://127.0.0.1/../secret.txt",
]


@pytest.fixture(scope="module")
def preview_server(tmp_path_factory):
    """One server for every request below (they only read): stopping a server takes half a second."""
    tmp_path = tmp_path_factory.mktemp("served")
    site = tmp_path / "dist" / "preview"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text("<p>cards</p>")
    (tmp_path / "dist" / "secret.txt").write_text("SECRET-OUTSIDE")
    os.symlink(tmp_path / "dist", site / "link-out")
    os.symlink(tmp_path / "dist" / "secret.txt", site / "link-file")
    with PreviewServer(site, 0) as server:
        yield server, int(server.url.rsplit(":", 1)[1].strip("/"))


@pytest.mark.parametrize("path", TRAVERSALS)
def test_preview_server_serves_nothing_outside_its_folder(preview_server, path):
    _, port = preview_server
    status, body = _get(port, path)
    assert status >= 400, (path, status, body[:200])
    assert b"SECRET-OUTSIDE" not in body and b"root:" not in body


def test_preview_server_serves_its_folder_on_loopback_only(preview_server):
    """The binding is read off the listening socket itself; nothing connects anywhere but loopback."""
    server, port = preview_server
    assert server.url.startswith("http://127.0.0.1:")
    assert _get(port, "/index.html") == (200, b"<p>cards</p>")
    assert _get(port, "/")[0] == 200
    host, bound_port = server._server.socket.getsockname()
    assert (host, bound_port) == ("127.0.0.1", port)
    assert listening_addresses(port) == {"127.0.0.1"}


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every socket listening on `port`, from /proc/net/tcp and tcp6."""
    import ipaddress

    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) != port or state != "0A":  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # /proc prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, size, 4))
            found.add(str(ipaddress.ip_address(words)))
    return found
