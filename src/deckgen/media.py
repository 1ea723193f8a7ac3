"""Local images referenced from content: checked, copied under content-hashed names.

In:  an image path as written in a note, relative to the Markdown file.
Out: the media file name to put in the card, or an error: the file must exist inside the content
     folder (no `..`, absolute paths or symlinks leading out of it) and be a reasonable image.
"""
from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

from .cache import atomic_write
from .errors import ErrorList
from .records import Location, MediaRef

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
MAX_IMAGE_BYTES = 10 * 1024 * 1024
_CAPTION_MATH_RE = re.compile(r"(?<!\\)\$([^$]+)\$")


def local_image(ref: MediaRef, markdown_file: Path, content_dir: Path, media_dir: Path, errors: ErrorList) -> str | None:
    target = ref.target
    if "://" in target or target.startswith(("data:", "javascript:")):
        errors.add(ref.location, f"image '{target}' is not a local file", "put the image in content/ and refer to it by a relative path; cards must work offline")
        return None
    root = content_dir.resolve()
    path = (markdown_file.parent / target).resolve()
    if Path(target).is_absolute() or not path.is_relative_to(root):
        errors.add(ref.location, f"image '{target}' is outside the content folder", "copy the image into content/ and use a relative path")
        return None
    if path.suffix.lower() not in IMAGE_TYPES:
        errors.add(ref.location, f"'{target}' is not a supported image type", f"use one of {', '.join(sorted(IMAGE_TYPES))}")
        return None
    if not path.is_file():
        errors.add(ref.location, f"image '{target}' does not exist", f"check the path; it is relative to {markdown_file.name}")
        return None
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        errors.add(ref.location, f"image '{target}' is {size / 2**20:.1f} MiB", f"shrink it below {MAX_IMAGE_BYTES // 2**20} MiB; phones sync every byte")
        return None
    data = path.read_bytes()
    name = f"img-{path.stem[:60]}-{hashlib.sha256(data).hexdigest()[:12]}{path.suffix.lower()}"
    out = media_dir / name
    if not out.exists():
        atomic_write(out, data)
    return name


def caption_html(caption: str) -> str:
    """The caption under a figure; `$...$` in it becomes inline math like in the text."""
    if not caption:
        return ""
    with_math = _CAPTION_MATH_RE.sub(r"\\(\1\\)", html.escape(caption, quote=False))
    return f"<figcaption>{with_math}</figcaption>"


def alt_text(caption: str) -> str:
    """Alt text is plain: formulas lose their dollar signs but keep their TeX."""
    return html.escape(caption.replace("$", ""), quote=True)


def figure_html(day: str, night: str, caption: str) -> str:
    alt = alt_text(caption)
    caption_html_ = caption_html(caption)
    return (
        f'<figure><img class="dg-day" src="{day}" alt="{alt}">'
        f'<img class="dg-night" src="{night}" alt="{alt}">{caption_html_}</figure>'
    )


def image_html(name: str, caption: str) -> str:
    return f'<figure><img src="{name}" alt="{alt_text(caption)}">{caption_html(caption)}</figure>'
