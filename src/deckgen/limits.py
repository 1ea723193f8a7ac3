"""Every limit deckgen enforces, in one place: what Anki accepts, what phones and Python-Markdown
handle, and what a build allows the code it runs. Plain numbers; the stages that check them import
them from here, so each fact has one definition.
"""
from __future__ import annotations

# ---- what authors give the build ---------------------------------------------------------------
MAX_FILE_BYTES = 2 * 1024 * 1024  # a topic file; larger is a mistake (and slow to parse)
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # an image; phones sync every byte
MAX_IMAGE_PIXELS = 40_000_000  # a decoded 60000×60000 PNG is 14 GB: phones give up long before
MAX_NESTING = 24  # levels of lists and quotes in one note: Python-Markdown recurses once per level
MAX_OPEN_BRACKETS = 200  # '[' never closed in one note: Python-Markdown's link search is quadratic in them
MAX_YAML_NESTING = 16  # levels of lists and mappings in front matter: PyYAML recurses once per level
MAX_YAML_INT_DIGITS = 64  # Python refuses to convert integers of more than 4300 digits
MAX_ERRORS_PER_FILE = 50  # printed per file: a broken generated file can hold thousands

# ---- what Anki accepts -------------------------------------------------------------------------
MEDIA_NAME_BYTES = 120  # Anki cuts longer media file names, and the card would point at nothing
MAX_CLOZE_NUMBER = 65536  # card ordinals are 16-bit: Anki 26.9 refuses a whole package with a larger {{cN::
CLOZE_NESTING = 10  # Anki ignores deletions opened deeper than this

# ---- what a phone shows -----------------------------------------------------------------------
# Reviewers hold 360-430 px wide phones; the layout check renders every card at PHONE_SCREEN_PX
# (a 390 × 844 CSS px screen), where the card's content is figures/style.PHONE_WIDTH_PX wide.
PHONE_SCREEN_PX = (390, 844)
MAX_BACK_SCREENS = 2.0  # a back, its details collapsed, scrolls through at most two screens
MAX_KEY_POINTS = 5  # bullets of the key points a candidate says aloud in 30 s
MIN_TEXT_PX = 12.0  # the smallest figure text that reads on a phone without zooming, in CSS px

# ---- what a build allows the code it runs (figure scripts, sympy blocks) -----------------------
# Limits count work, not the clock: CPU seconds of the job and every process it starts, so a
# busy machine cannot fail a correct build. The wall-clock backstop only stops code that waits
# or hangs: WALL_FACTOR × the CPU limit + WALL_EXTRA_SECONDS.
FIGURE_CPU_SECONDS = 120.0
SYMPY_CPU_SECONDS = 120.0
WALL_FACTOR = 5.0
WALL_EXTRA_SECONDS = 10.0
WORKER_MEMORY_BYTES = 2 * 1024**3  # address space per worker process
WORKER_OUTPUT_BYTES = 64 * 1024  # of what a job prints, kept for its error message
WORKER_RESULT_BYTES = 64 * 1024**2  # what one job returns (a figure's two SVGs, a block's LaTeX)
RENDER_CPU_SECONDS = 60.0  # backstop per note; the checks in source/guards.py catch known slow input first

# ---- the preview server (site/serve.py) ---------------------------------------------------------
PREVIEW_IDLE_SECONDS = 10.0  # a connection that sends nothing for this long is closed
PREVIEW_CONNECTIONS = 32  # served at once; a page needs a handful


def wall_backstop(cpu_seconds: float) -> float:
    """Wall-clock seconds after which a job that uses little CPU (it sleeps or hangs) is stopped."""
    return WALL_FACTOR * cpu_seconds + WALL_EXTRA_SECONDS
