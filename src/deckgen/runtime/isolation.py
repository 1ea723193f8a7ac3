"""What confines the code a deck brings, where the operating system allows it.

`launcher()` is the command prefix that starts a worker in new user, network and PID namespaces
(util-linux `unshare`): the worker sees no network but an unconfigured loopback, and every
process it starts dies with it. When the kernel or the system refuses unprivileged namespaces
(some distributions turn them off), workers run without them: `unavailable()` says why, once per
build, and the build goes on with process-group containment only.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

UNSHARE = ("unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child")
ENV_VAR = "DECKGEN_ISOLATION"  # "off" runs workers without namespaces


def launcher() -> list[str]:
    return list(_probe()[0])


def unavailable() -> str:
    """Why workers run without namespaces ("" when they run in them)."""
    return _probe()[1]


@lru_cache(maxsize=1)
def _probe() -> tuple[tuple[str, ...], str]:
    if os.environ.get(ENV_VAR, "").lower() in ("off", "0", "no"):
        return (), f"worker isolation is off (${ENV_VAR}=off)"
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
