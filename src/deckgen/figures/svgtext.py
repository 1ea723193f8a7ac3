"""Text sizes read back from a figure's SVG, as a share of the figure's width.

In:  the SVG a figure worker wrote (matplotlib's SVG with text as glyph outlines, minified).
Out: `text_sizes(svg)`: the font size of every text drawn, as a fraction of the figure's width;
     times the width the figure is shown at on a card (CSS px), that is the text's size there.

matplotlib draws each glyph as a `<use>` of an outline defined once at 100 pt (its text-to-path
scale) in 1/64 units (`<path transform="scale(0.015625)">`); the transforms from the root to the
`<use>` scale it to the text's size. So a glyph's size is 100 pt times the product of those
scales. A text is the glyphs of one group (one matplotlib Text); its size is that of its largest
glyph, so the exponent of a `10^{-2}` tick label (drawn at 70%, as TeX does) belongs to its label.
Reading the file, not asking matplotlib, checks what the phone actually gets.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

GLYPH_SCALE = 1 / 64  # matplotlib's glyph outlines: FreeType's 26.6 fixed-point units
TEXT_TO_PATH_PT = 100.0  # the size matplotlib's TextToPath draws outlines at (FONT_SCALE)
_SVG = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_TRANSFORM_RE = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")


def text_sizes(svg: str) -> list[float]:
    """Every text's font size divided by the figure's width (both in the SVG's units)."""
    root = ET.fromstring(_without_doctype(svg))
    width = _width(root)
    if not width:
        return []
    glyphs = {el.get("id") for el in root.iter(f"{_SVG}path") if el.get("id") and math.isclose(_scale(el.get("transform", "")), GLYPH_SCALE, rel_tol=0.01)}
    sizes: list[float] = []

    def walk(el: ET.Element, scale: float) -> None:
        scale *= _scale(el.get("transform", ""))
        if el.tag == f"{_SVG}defs":
            return
        text = [scale * _scale(child.get("transform", "")) for child in el if child.tag == f"{_SVG}use" and _href(child) in glyphs]
        if text:
            sizes.append(max(text) * TEXT_TO_PATH_PT / width)
        for child in el:
            if child.tag != f"{_SVG}use":
                walk(child, scale)

    walk(root, 1.0)
    return sizes


def _href(el: ET.Element) -> str:
    return (el.get(_XLINK_HREF) or el.get("href") or "").lstrip("#")


def _without_doctype(svg: str) -> str:
    return re.sub(r"<!DOCTYPE[^>]*>", "", svg, count=1)


def _width(root: ET.Element) -> float:
    box = (root.get("viewBox") or "").replace(",", " ").split()
    if len(box) == 4:
        return float(box[2])
    number = re.match(r"[\d.]+", root.get("width", ""))
    return float(number.group()) if number else 0.0


def _scale(transform: str) -> float:
    """How much a transform list scales lengths: the square root of its linear part's determinant."""
    a, b, c, d = 1.0, 0.0, 0.0, 1.0
    for name, raw in _TRANSFORM_RE.findall(transform):
        args = [float(x) for x in re.split(r"[\s,]+", raw.strip()) if x]
        if name == "matrix" and len(args) == 6:
            m = args[:4]
        elif name == "scale" and args:
            m = [args[0], 0.0, 0.0, args[1] if len(args) > 1 else args[0]]
        elif name == "rotate" and args:
            t = math.radians(args[0])
            m = [math.cos(t), math.sin(t), -math.sin(t), math.cos(t)]
        elif name in ("skewX", "skewY") and args:
            k = math.tan(math.radians(args[0]))
            m = [1.0, 0.0, k, 1.0] if name == "skewX" else [1.0, k, 0.0, 1.0]
        else:  # translate moves, it does not scale
            continue
        a, b, c, d = a * m[0] + c * m[1], b * m[0] + d * m[1], a * m[2] + c * m[3], b * m[2] + d * m[3]
    return math.sqrt(abs(a * d - b * c))
