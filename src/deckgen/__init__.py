"""deckgen: build Anki decks from Markdown Q&A.

    from deckgen import BuildConfig, build
    report = build(BuildConfig(root="."))

Names are imported on first use, so that worker processes (which import deckgen.runtime.workers) and a
no-op build load only what they need.
"""
from importlib import import_module

_EXPORTS = {
    "BuildConfig": "deckgen.config",
    "BuildFailed": "deckgen.errors",
    "ContentError": "deckgen.errors",
    "build": "deckgen.builder.pipeline",
}
__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deckgen' has no attribute {name!r}")
