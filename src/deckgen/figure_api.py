"""What figure scripts import: `from deckgen.figure_api import figure` (kept for existing scripts;
the API lives in `deckgen.figures.api`)."""
from deckgen.figures.api import DAY, DEFAULT_SIZE, NIGHT, PALETTES, REGISTRY, FigureSpec, Palette, figure

__all__ = ["DAY", "DEFAULT_SIZE", "NIGHT", "PALETTES", "REGISTRY", "FigureSpec", "Palette", "figure"]
