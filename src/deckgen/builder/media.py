"""Local images referenced from content: checked, copied under content-hashed names.

In:  an image path as written in a note, relative to the Markdown file.
Out: the media file name to put in the card, or an error: the file must exist inside the content
     folder (no `..`, absolute paths or symlinks leading out of it) and be a reasonable image:
     its bytes match its extension, it is not too big in bytes or pixels, and an SVG holds no
     script. Media names carry a digest of their bytes, which `intact` checks before packaging.
"""
from __future__ import annotations

import hashlib
import html
import re
import struct
from pathlib import Path

from deckgen.builder.render import inline_math
from deckgen.errors import ErrorList
from deckgen.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MEDIA_NAME_BYTES
from deckgen.records import MediaRef
from deckgen.runtime.cache import atomic_write
from deckgen.source.scan import unsafe_html

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
_UNSAFE_NAME_RE = re.compile(r"[^\w.-]")  # `#`, `%`, `?` and spaces break the <img src> URL
_DIGEST_RE = re.compile(r"-([0-9a-f]{12})(?:\.day|\.night)?\.[a-z0-9]+$")
_KINDS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".webp": "WebP", ".svg": "SVG"}


_REMOTE_RE = re.compile(r"https?://[^\s\"'<>\\]+", re.I)


def is_remote(target: str) -> bool:
    """An http(s) image, which a note may show only with `remote: true` (source/sanitize.py)."""
    return _REMOTE_RE.fullmatch(target) is not None


def local_image(ref: MediaRef, markdown_file: Path, content_dir: Path, media_dir: Path, errors: ErrorList) -> str | None:
    target = ref.target
    if "://" in target or target.startswith(("data:", "javascript:")):
        hint = "put the image in content/ and refer to it by a relative path; cards must work offline"
        if is_remote(target):
            hint += " (if this note really needs the network when it is reviewed, add a line 'remote: true' under its heading)"
        errors.add(ref.location, f"image '{target}' is not a local file", hint)
        return None
    root = content_dir.resolve()
    path = (markdown_file.parent / target).resolve()
    if Path(target).is_absolute() or not path.is_relative_to(root):
        errors.add(ref.location, f"image '{target}' is outside the content folder", "copy the image into content/ and use a relative path")
        return None
    if path.suffix.lower() not in IMAGE_TYPES:
        errors.add(ref.location, f"'{target}' is not a supported image type", f"use one of {', '.join(sorted(IMAGE_TYPES))}")
        return None
    if path.exists() and not path.is_file():  # a folder or a pipe: reading a pipe would hang
        errors.add(ref.location, f"image '{target}' is not a regular file", "point to the image file itself")
        return None
    if not path.is_file():
        errors.add(ref.location, f"image '{target}' does not exist", f"check the path; it is relative to {markdown_file.name}")
        return None
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        errors.add(ref.location, f"image '{target}' is {size / 2**20:.1f} MiB", f"shrink it below {MAX_IMAGE_BYTES // 2**20} MiB; phones sync every byte")
        return None
    data = path.read_bytes()
    problem = _image_problem(data, path.suffix.lower(), target)
    if problem:
        errors.add(ref.location, *problem)
        return None
    name = media_name(path.stem, data, path.suffix.lower())
    out = media_dir / name
    if not out.exists() or out.stat().st_size != len(data) or out.read_bytes() != data:
        atomic_write(out, data)  # also replaces a damaged copy left in the cache
    return name


def media_name(stem: str, data: bytes, suffix: str) -> str:
    """`img-<stem>-<digest><suffix>`: safe in a URL, short enough for Anki, new when the bytes change."""
    stem = _UNSAFE_NAME_RE.sub("-", stem)[:60]
    while len(stem.encode()) > MEDIA_NAME_BYTES - 20 - len(suffix):
        stem = stem[:-1]
    return f"img-{stem}-{hashlib.sha256(data).hexdigest()[:12]}{suffix}"


def intact(path: Path) -> bool:
    """False when a media file's bytes no longer match the digest in its name (a damaged cache)."""
    match = _DIGEST_RE.search(path.name)
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return match is None or hashlib.sha256(data).hexdigest()[:12] == match.group(1)


def _image_problem(data: bytes, suffix: str, target: str) -> tuple[str, str] | None:
    """(what is wrong, how to fix it) when the bytes are not a sane image of their type."""
    kind = _KINDS[suffix]
    if suffix == ".svg":
        text = data.decode("utf-8", errors="replace")
        if "<svg" not in text[:4096].lower():
            return f"'{target}' is not an SVG image (its bytes do not look like one)", "re-export it, or give it the extension of its real format"
        found = unsafe_html(text)
        if found:
            return f"SVG image '{target}' contains {found[0][0]}", "export the SVG without scripts, event handlers or script links"
        return None
    size = _pixel_size(data, suffix)
    if size is None:
        return f"'{target}' is not a {kind} image (its bytes do not look like one)", "re-export it, or give it the extension of its real format"
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        return f"image '{target}' is {width}×{height} pixels", f"scale it down to at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels; a phone screen is about 1000 pixels wide"
    return None


def _pixel_size(data: bytes, suffix: str) -> tuple[int, int] | None:
    """Width and height from the image header, or None when the header is not of that type."""
    if suffix == ".png" and data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if suffix == ".gif" and data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if suffix == ".webp" and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if suffix in (".jpg", ".jpeg") and data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def caption_html(caption: str) -> str:
    """The caption under a figure; `$...$` in it becomes inline math like in the text."""
    if not caption:
        return ""
    return f"<figcaption>{inline_math(caption)}</figcaption>"


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
    return f'<figure><img src="{html.escape(name, quote=True)}" alt="{alt_text(caption)}">{caption_html(caption)}</figure>'
