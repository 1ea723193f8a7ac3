"""Loopback only: the suite's socket guard is active here and in every process a test starts."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from guard_loopback import NonLoopbackConnection, is_loopback

OUTSIDE = ("203.0.113.7", 80)  # TEST-NET-3 (RFC 5737): never reached, the guard raises first


def test_guard_refuses_a_non_loopback_connection_in_the_test_process():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NonLoopbackConnection):
        sock.connect(OUTSIDE)
    with pytest.raises(NonLoopbackConnection):
        socket.create_connection(OUTSIDE, timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NonLoopbackConnection):
        sock.sendto(b"x", OUTSIDE)


def test_guard_is_active_in_every_python_process_a_test_starts():
    code = f"import socket\ntry:\n    socket.create_connection({OUTSIDE!r}, timeout=1)\nexcept OSError as e:\n    print(type(e).__name__)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "NonLoopbackConnection"


def test_guard_lets_loopback_through():
    assert is_loopback(("127.0.0.1", 1)) and is_loopback(("::1", 1, 0, 0)) and is_loopback("/tmp/socket")
    assert not is_loopback(("10.0.0.1", 80)) and not is_loopback(("example.org", 80))
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=5).close()
