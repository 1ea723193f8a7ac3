"""The preview's words, in each label language (`BuildConfig.language`): one table for the pages
and for preview.js (which reads `window.DG_LABELS`). Card names come from the note types.
"""
from __future__ import annotations

import json

from deckgen.report import plural

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "deckgen preview",
        "front": "front",
        "back": "back",
        "phone": "phone",
        "desktop": "desktop",
        "day": "day",
        "night": "night",
        "search": "search text, tag:name",
        "search_label": "search cards",
        "match_one": "{n} card matches “{q}”",
        "match_many": "{n} cards match “{q}”",
        "build_failed": "build failed (the page shows the last good build):",
    },
    "zh": {
        "title": "deckgen 预览",
        "front": "正面",
        "back": "背面",
        "phone": "手机",
        "desktop": "桌面",
        "day": "日间",
        "night": "夜间",
        "search": "搜索文字，tag:标签",
        "search_label": "搜索卡片",
        "match_one": "{n} 张卡片符合“{q}”",
        "match_many": "{n} 张卡片符合“{q}”",
        "build_failed": "构建失败（页面显示上一次成功的构建）：",
    },
}
# Counted things: the English word (plural by report.plural) and the Chinese measure word and noun.
_COUNTED = {"deck": ("deck", "个牌组"), "note": ("note", "条笔记"), "card": ("card", "张卡片")}


def count(language: str, number: int, thing: str) -> str:
    """`1 card`, `3 cards`; `3 张卡片`."""
    english, chinese = _COUNTED[thing]
    return plural(number, english) if language == "en" else f"{number} {chinese}"


def script(language: str) -> str:
    """The labels preview.js needs, as a script for the page's head."""
    keys = ("match_one", "match_many", "build_failed")
    data = json.dumps({key: LABELS[language][key] for key in keys}, ensure_ascii=False).replace("</", "<\\/")
    return f"<script>window.DG_LABELS = {data};</script>"
