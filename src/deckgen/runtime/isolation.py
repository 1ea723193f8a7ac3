"""What confines the code a deck brings, where the operating system allows it.

Two layers, each used when the kernel offers it, and said once per build when it does not:

- `launcher()` is the command prefix that starts a worker in new user, network and PID
  namespaces (util-linux `unshare`): the worker sees no network but an unconfigured loopback,
  and every process it starts dies with it.
- `confine()` runs in the worker itself, after it imported its handler and before it runs any
  job: Linux Landlock limits what it and every process it starts may touch. It may write only
  its own temporary folder; it may read only what Python, the libraries and fonts need, plus the
  folders it is given (the project's figures/), so `/etc/passwd`, the home folder and the rest
  of the project are out of reach. Where Landlock knows TCP (ABI 4), connecting and binding are
  refused too, and where it knows scopes (ABI 6) the worker cannot signal processes outside
  itself (the build) or reach abstract Unix sockets.

A small ctypes wrapper rather than the `landlock` package (1.0.0.dev5 on PyPI: a development
release with no TCP or scope rules): three system calls and two structures, checked against the
kernel's ABI version, so each right is asked for only where the kernel has it.

`DECKGEN_ISOLATION=off` turns both layers off (for debugging a figure that needs more);
`no-namespaces` or `no-landlock` turns off one (to see what the other gives alone, as on a system
that lacks one).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

UNSHARE = ("unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child")
ENV_VAR = "DECKGEN_ISOLATION"  # "off", "no-namespaces" or "no-landlock"

# ---- Landlock (include/uapi/linux/landlock.h) --------------------------------------------------
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_DIRECTORY_ONLY = sum(1 << bit for bit in range(4, 14))  # remove, make (char, dir, reg, sock, fifo, block, sym), refer
TRUNCATE = 1 << 14
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1}  # ABI 3 and later: everything up to TRUNCATE
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
READ = READ_FILE | READ_DIR | EXECUTE
# Read-only system folders Python, its libraries and the programs a figure may start need: no
# secrets live here (the password file, keys and home folders are elsewhere).
SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/share/fonts", "/usr/share/zoneinfo",
               "/usr/bin", "/bin", "/usr/local/bin", "/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
DEVICES = {"/dev/null": READ_FILE | WRITE_FILE | TRUNCATE, "/dev/zero": READ_FILE, "/dev/urandom": READ_FILE, "/dev/random": READ_FILE}


class _RulesetAttr(ctypes.Structure):
    _fields_ = (("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64))


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def launcher() -> list[str]:
    return list(_probe()[0])


def unavailable() -> str:
    """What of the confinement this system cannot give ("" when it gives all), for a note."""
    missing = [why for why in (_probe()[1], _landlock_missing()) if why]
    return "; ".join(dict.fromkeys(missing))


def _turned_off(layer: str) -> str:
    """Why `layer` ("namespaces" or "landlock") is off by the user's choice ("" when it is not)."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in ("off", "0", "no") or value == f"no-{layer}":
        return f"worker {'isolation' if value in ('off', '0', 'no') else layer} is off (${ENV_VAR}={value})"
    return ""


def _probe() -> tuple[tuple[str, ...], str]:
    """The launcher command, and why it is empty ("" when namespaces are used)."""
    why = _turned_off("namespaces")
    return ((), why) if why else _namespaces()


@lru_cache(maxsize=1)
def _namespaces() -> tuple[tuple[str, ...], str]:
    binary = shutil.which("unshare")
    if binary is None:
        return (), "figure scripts and sympy blocks run without network isolation: the 'unshare' command (util-linux) is not installed"
    command = (binary, *UNSHARE[1:])
    try:
        proc = subprocess.run([*command, "true"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return (), f"figure scripts and sympy blocks run without network isolation: {exc}"
    if proc.returncode != 0:
        reason = (proc.stderr.decode(errors="replace").strip().splitlines() or ["unknown reason"])[-1]
        return (), f"figure scripts and sympy blocks run without network isolation: this system refuses unprivileged namespaces ({reason})"
    return command, ""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int | None = None) -> None:
    """Linux: the kernel kills this process when its parent dies, even by SIGKILL, so no worker
    outlives the build that started it. `parent`: the pid the caller expects as its parent; if it
    is already gone (it died before this call), exit now."""
    try:
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


@lru_cache(maxsize=1)
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or it is turned off)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def _landlock_missing() -> str:
    if _turned_off("landlock"):
        return _turned_off("landlock")
    if landlock_abi() == 0:
        return "figure scripts and sympy blocks may read and write files anywhere your user can: this kernel has no Landlock (Linux 5.13+ with Landlock enabled)"
    return ""


def confine(writable: Path, readable: Iterable[Path | str] = ()) -> bool:
    """Restrict this process (and every process it starts, for good) to writing `writable` and
    reading what Python needs plus `readable`. Call it from the thread that runs the jobs,
    before any other thread starts: Landlock applies to the calling thread and what it starts.

    Returns False, changing nothing, where the kernel has no Landlock or isolation is off.
    """
    abi = landlock_abi()
    if abi == 0 or _turned_off("landlock"):
        return False
    handled_fs = _FS_BY_ABI.get(abi, (1 << 15) - 1)
    attr = _RulesetAttr(handled_fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0, _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    libc = _libc()
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        for path, access in _rules(writable, readable, handled_fs):
            _allow(libc, ruleset, path, access)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(_SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return True


def _rules(writable: Path, readable: Iterable[Path | str], handled_fs: int) -> list[tuple[str, int]]:
    """(path, rights) for each rule: what Python itself runs from, the system folders, the given
    folders to read and the one folder to write."""
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, str(Path(sys.executable).parent)}
    paths = [*python, *(p for p in sys.path if p), *SYSTEM_READ, *map(str, readable)]
    rules = [(path, READ) for path in paths]
    rules += [(path, access & handled_fs) for path, access in DEVICES.items()]
    rules.append((str(writable), handled_fs))
    return rules


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    """Add one rule; a path that does not exist is skipped (not every system has /lib64)."""
    for name in dict.fromkeys((path, os.path.realpath(path))):
        try:
            fd = os.open(name, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not os.path.isdir(name):
                access &= EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE  # the rights a file can have
            rule = _PathBeneathAttr(access & ~(_DIRECTORY_ONLY if not os.path.isdir(name) else 0), fd)
            if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                raise OSError(ctypes.get_errno(), f"landlock_add_rule {name}: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(fd)
