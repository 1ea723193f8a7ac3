"""Serve dist/preview/ on 127.0.0.1 and tell open pages when a rebuild finished.

In:  the preview folder and a port (0 picks a free one).
Out: a running `PreviewServer`; `publish(ok, errors)` after each rebuild. Pages poll
     `/__deckgen/status` (`{"build": n, "ok": bool, "errors": [...]}`) and reload when `build`
     moves on after a good build; after a failed one they show the errors and keep the last good
     cards.

Only 127.0.0.1 is bound (a preview is for the author, not the network), only files inside the
preview folder are served (no `..`, no symlink leading out), and folders are never listed.
Requests must name 127.0.0.1 or localhost as their Host (a web page elsewhere cannot read the
preview through DNS rebinding); a connection that sends nothing is closed after an idle timeout,
and at most `limits.PREVIEW_CONNECTIONS` are served at once (more are closed at once), so idle
sockets cannot pile up threads. No request and no client that hangs up prints a traceback: a
client hanging up is normal, anything else is one `preview:` line on stderr.
"""
from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from deckgen import limits

HOST = "127.0.0.1"
ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost"})
STATUS_PATH = "/__deckgen/status"
_HANGUPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, socket.timeout)


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
        if not self._host_allowed():
            return
        if self.path.split("?", 1)[0] == STATUS_PATH:
            self._send(HTTPStatus.OK, self.status.json(), "application/json")
            return
        super().do_GET()

    def do_HEAD(self) -> None:
        if self._host_allowed():
            super().do_HEAD()

    def _host_allowed(self) -> bool:
        """Only requests addressed to this machine by name or address (no DNS rebinding)."""
        host = (self.headers.get("Host") or "").strip().lower()
        name = host[: host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
        if name in ALLOWED_HOSTS:
            return True
        self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "the preview answers only to http://127.0.0.1 and http://localhost")
        return False

    def send_head(self):
        try:
            target = Path(self.translate_path(self.path))
            root = Path(self.directory).resolve()
            if target.is_dir():
                target = target / "index.html"
            inside = target.resolve(strict=True).is_relative_to(root) and target.is_file()
        except (OSError, ValueError):  # missing, a broken link, a NUL byte in the path
            inside = False
        if not inside:
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

    def handle(self) -> None:
        try:
            super().handle()
        except _HANGUPS:  # the client went away or sent nothing in time: normal, not news
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:
        pass  # the terminal belongs to the build report

    def log_error(self, format: str, *args) -> None:
        message = format % args
        if "timed out" not in message and "code 404" not in message:  # an idle connection, a favicon: normal
            _log(f"{self.address_string()} {message}")


def _log(text: str) -> None:
    print(f"preview: {' '.join(text.split())[:300]}", file=sys.stderr, flush=True)


class _Server(ThreadingHTTPServer):
    """A threading server with a cap on connections served at once and no tracebacks."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: a burst of connections is accepted (and refused) at once, not retried

    def __init__(self, address: tuple[str, int], handler, connections: int):
        self._slots = threading.BoundedSemaphore(connections)
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):  # full: refuse at once rather than queue a thread
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, _HANGUPS):
            _log(f"{client_address[0]} request failed: {type(error).__name__}: {error}")


class PreviewServer:
    """`with PreviewServer(folder, port) as server:` serves until the block ends."""

    def __init__(self, directory: Path, port: int = 0, idle_seconds: float = limits.PREVIEW_IDLE_SECONDS, connections: int = limits.PREVIEW_CONNECTIONS):
        self.status = _Status()
        timed = type("_Handler", (_Handler,), {"timeout": idle_seconds})  # StreamRequestHandler's socket timeout
        handler = partial(timed, directory=str(Path(directory).resolve()), status=self.status)
        self._server = _Server((HOST, port), handler, connections)
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
