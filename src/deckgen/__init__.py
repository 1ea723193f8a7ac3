"""deckgen: build Anki decks from Markdown Q&A.

    from deckgen import BuildConfig, build
    report = build(BuildConfig(root="."))
"""
from .config import BuildConfig
from .errors import BuildFailed, ContentError
from .pipeline import build

__all__ = ["BuildConfig", "BuildFailed", "ContentError", "build"]
__version__ = "0.1.0"
