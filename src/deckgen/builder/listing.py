"""`deckgen figures`: every figure of the project, where it is defined and used, and whether it is
rendered; renders nothing."""
from __future__ import annotations

from dataclasses import dataclass

from deckgen.config import BuildConfig
from deckgen.errors import ContentError, ErrorList
from deckgen.figures.registry import FigureSource, check_known, discover, references, unused_warnings
from deckgen.records import Location
from deckgen.runtime.cache import Cache
from deckgen.runtime.keys import Kind
from deckgen.source.discover import topic_files
from deckgen.source.parse import parse_topic


@dataclass(frozen=True)
class FigureStatus:
    """One line of `deckgen figures`: where a figure is defined and used, and its cached SVGs."""

    source: FigureSource
    uses: tuple[Location, ...]
    svg_bytes: tuple[int, int] | None  # (day, night) sizes when cached, else None


@dataclass(frozen=True)
class Listing:
    """What `deckgen figures` prints: every figure, plus the problems found on the way."""

    figures: tuple[FigureStatus, ...]
    warnings: tuple[str, ...]  # unused figures
    errors: tuple[ContentError, ...]  # unknown references, broken scripts or content files


def listing(config: BuildConfig) -> Listing:
    errors = ErrorList()
    known = discover(config.figures_dir, config.root, errors)
    topics = [t for p in topic_files(config.content_dir) if (t := parse_topic(p.read_bytes(), config.display(p), errors))]
    refs = references(topics)
    check_known(refs, known, errors)
    cache = Cache(config.cache_dir)
    statuses = []
    for name, source in sorted(known.items()):
        svgs = cache.get_json(Kind.FIGURE, source.key)
        sizes = (len(svgs["day"].encode()), len(svgs["night"].encode())) if isinstance(svgs, dict) and "day" in svgs else None
        statuses.append(FigureStatus(source, tuple(refs.get(name, ())), sizes))
    return Listing(tuple(statuses), tuple(unused_warnings(known, set(refs))), tuple(errors))
