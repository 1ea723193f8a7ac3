"""A content-addressed cache for costly results (figures, sympy blocks, rendered topics).

In:  a `Kind` and a key from `keys` (a hash of everything the result depends on) and bytes.
Out: the bytes again on a later build, or None.

Each entry stores the SHA-256 of its payload in its header and is checked on read, so a
truncated or corrupted entry is treated as a miss and rebuilt, never packaged. Entries are written
to a temporary file and renamed, so an interrupted build leaves either the old entry or the new
one, never half of one.

Parsed and compiled topics are stored as pickled records, not JSON: reading 10,000 rendered notes
back from JSON took 0.17 s, from a pickle 0.04 s, and a one-note edit reads all of them. Unpickling
may build only deckgen's plain records (`records`), so an entry someone else wrote (a cache copied
from another machine or committed by mistake) cannot make a build call anything else.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from deckgen import records
from deckgen.runtime.keys import Kind, sha256

_MAGIC = b"deckgen-cache-1 "


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, kind: Kind, key: str) -> Path:
        return self.root / kind.value / key[:2] / key

    def get(self, kind: Kind, key: str) -> bytes | None:
        payload = self.get_view(kind, key)
        return None if payload is None else payload.tobytes()

    def get_view(self, kind: Kind, key: str) -> memoryview | None:
        """The entry's payload without copying it (a collection of 1,000 notes is 1.6 MB)."""
        try:
            raw = self._path(kind, key).read_bytes()
        except OSError:
            return None
        end = raw.find(b"\n", 0, 100)
        payload = memoryview(raw)[end + 1:]
        if end < 0 or not raw.startswith(_MAGIC) or raw[len(_MAGIC):end].decode(errors="replace") != sha256(payload):
            return None  # corrupted or from another version: a miss, rebuilt by the caller
        return payload

    def put(self, kind: Kind, key: str, payload: bytes) -> None:
        path = self._path(kind, key)
        # Not synced to disk: an entry a crash loses or tears is a miss (its checksum says so).
        # A cold build of 10,000 notes synced 51 files, 30 of them cache entries (about 1 ms each
        # here); at 100,000 notes about 300.
        atomic_write(path, _MAGIC + sha256(payload).encode() + b"\n" + payload, durable=False)

    def get_json(self, kind: Kind, key: str) -> Any:
        raw = self.get(kind, key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def put_json(self, kind: Kind, key: str, value: Any) -> None:
        self.put(kind, key, json.dumps(value, ensure_ascii=False, sort_keys=True).encode())

    def get_records(self, kind: Kind, key: str) -> Any:
        """What `put_records` stored, or None (missing, damaged, or of another layout)."""
        raw = self.get(kind, key)
        if raw is None:
            return None
        try:
            return _RecordUnpickler(io.BytesIO(raw)).load()
        except Exception:  # a damaged entry, or records renamed since: a miss, made again
            return None

    def put_records(self, kind: Kind, key: str, value: Any) -> None:
        self.put(kind, key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))

    def has(self, kind: Kind, key: str) -> bool:
        return self.get(kind, key) is not None


_RECORDS = {name: obj for name, obj in vars(records).items() if isinstance(obj, type) and obj.__module__ == records.__name__}


class _RecordUnpickler(pickle.Unpickler):
    """Unpickles containers, strings and numbers, and the record classes of `deckgen.records`:
    nothing else can be named (pickle's documented way of restricting what a pickle may call)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == records.__name__ and name in _RECORDS:
            return _RECORDS[name]
        raise pickle.UnpicklingError(f"{module}.{name} is not a deckgen record")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix;
    `durable`: on disk before it replaces the old one (what a crash must not lose)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
