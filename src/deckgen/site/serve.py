"""Serve dist/preview/ on 127.0.0.1 and tell open pages when a rebuild finished.

In:  the preview folder and a port (0 picks a free one).
Out: a running `PreviewServer`; `publish(ok, errors)` after each rebuild. Pages poll
     `/__deckgen/status` (`{"build": n, "ok": bool, "errors": [...]}`) and reload when `build`
     moves on after a good build; after a failed one they show the errors and keep the last good
     cards.

Only 127.0.0.1 is bound (a preview is for the author, not the network), only files inside the
preview folder are served (no `..`, no symlink leading out), and folders are never listed.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
STATUS_PATH = "/__deckgen/status"


class _Status:
    """The last rebuild's outcome, shared between the rebuild loop and the request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._build = 0
        self._value: dict[str, object] = {"build": 0, "ok": True, "errors": []}

    def publish(self, ok: bool, errors: list[str]) -> None:
        with self._lock:
            self._build += 1
            self._value = {"build": self._build, "ok": ok, "errors": list(errors)}

    def json(self) -> bytes:
        with self._lock:
            return json.dumps(self._value, ensure_ascii=False).encode()


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, status: _Status, **kwargs):
        self.status = status
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == STATUS_PATH:
            self._send(HTTPStatus.OK, self.status.json(), "application/json")
            return
        super().do_GET()

    def send_head(self):
        target = Path(self.translate_path(self.path))
        root = Path(self.directory).resolve()
        if target.is_dir():
            target = target / "index.html"
        try:
            inside = target.resolve(strict=True).is_relative_to(root)
        except OSError:  # missing, or a broken link
            inside = False
        if not inside or not target.is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "not in the preview")
            return None
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a reload must show the rebuilt page
        super().end_headers()

    def _send(self, code: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # the terminal belongs to the build report


class PreviewServer:
    """`with PreviewServer(folder, port) as server:` serves until the block ends."""

    def __init__(self, directory: Path, port: int = 0):
        self.status = _Status()
        handler = partial(_Handler, directory=str(Path(directory).resolve()), status=self.status)
        self._server = ThreadingHTTPServer((HOST, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="deckgen-serve", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/"

    def publish(self, ok: bool, errors: Sequence[str] = ()) -> None:
        self.status.publish(ok, list(errors))

    def __enter__(self) -> PreviewServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
