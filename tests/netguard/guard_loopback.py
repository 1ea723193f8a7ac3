"""A socket guard for the test suite: a connection to anything but 127.0.0.0/8, ::1 or a Unix
socket raises `NonLoopbackConnection` before a packet leaves.

The tests install it in their own process (conftest.py) and, through `sitecustomize.py` in this
folder on PYTHONPATH, in every Python process they start (the `deckgen` command, its workers).
"""
from __future__ import annotations

import ipaddress
import socket

_original: dict[str, object] = {}


class NonLoopbackConnection(OSError):
    """A test, fixture or tool tried to reach an address other than loopback."""


def is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already leave the machine


def _guarded(name: str):
    original = getattr(socket.socket, name)

    def check(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address if name != "sendto" else args[-1]):
            target = address if name != "sendto" else args[-1]
            raise NonLoopbackConnection(f"the tests may talk to loopback only, not to {target!r}")
        return original(self, address, *args)

    return original, check


def install() -> None:
    if _original:
        return
    for name in ("connect", "connect_ex", "sendto"):
        original, check = _guarded(name)
        _original[name] = original
        setattr(socket.socket, name, check)
