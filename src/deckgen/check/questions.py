"""Near-duplicate questions: the same question asked twice, also in other words.

In:  question texts (note headings), and the content's text to learn its glossary from.
Out: the pairs that ask the same thing, with a similarity in [0, 1].

How "the same" is measured, and why (numbers from tests/fixtures/question_pairs.tsv):
- Text is normalised: NFKC, lower case, `×`/`*` as `x`, punctuation dropped, question words and
  particles dropped (什么, 如何, 为什么, 的, 是, what, how...), phrasing synonyms unified
  (缓解/防止/处理 → 解决, 提高 → 提升, 方式/策略 → 方法...).
- English terms become the Chinese term the content itself defines for them: the guide asks for
  "批归一化 (Batch Normalization)" on first use, so `批归一化（Batch Normalization，BN）` anywhere in
  the decks teaches that BN and Batch Normalization mean 批归一化.
- Tokens are CJK character bigrams and Latin words, weighted by how rare they are among all
  questions (IDF): sharing 梯度下降 means more than sharing 作用.
- Two questions are duplicates when their weighted cosine similarity is at least `SIMILAR` AND
  one of them adds almost nothing the other lacks (`EXTRA`). The second rule is what keeps
  "卷积层的参数量公式" vs "卷积层的计算量公式" or "模型过拟合时怎么办" vs "模型欠拟合时怎么办"
  apart: similar wording, but each side has its own key term.
rapidfuzz's token_set_ratio on bigrams was tried first and rejected: it scores 100 whenever one
question's bigrams are a subset of the other's, which flagged 18 pairs of distinct questions in
the real content ("什么是知识蒸馏？" vs "知识蒸馏的软目标损失为什么要乘 T²？").
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import combinations

from deckgen.records import Note, NoteKind
from deckgen.syntax import TOKEN_RE

SIMILAR = 0.70
EXTRA = 0.05  # share of a question's weight that the other question lacks

_QUESTION_WORDS = sorted([
    "为什么", "什么", "如何", "怎么", "怎样", "哪些", "哪里", "哪个", "是否", "分别", "一下", "请问", "简述", "介绍",
    "阐述", "说说", "有何", "在哪", "进行", "好在", "好处", "优势", "效果", "作用", "概念", "原理", "这么", "更好", "相比", "一个",
    "的", "是", "吗", "呢", "了", "有", "么", "哪", "能", "要", "会", "说", "和", "与", "及", "或", "中", "在", "比", "做", "用", "上",
], key=len, reverse=True)
_ENGLISH_STOP = {"what", "is", "the", "a", "an", "of", "why", "how", "does", "do", "in", "to", "and", "for", "are", "with", "vs"}
_SYNONYMS = {
    "解决": ("缓解", "防止", "处理", "应对", "避免"),
    "提升": ("提高", "改善", "增强"),
    "方法": ("方式", "策略", "手段", "办法", "技巧"),
    "区别": ("不同", "差异", "差别", "异同"),
    "常用": ("常见", "经典"),
    "能力": ("性能",),
    "全部": ("全局", "全量", "全批量", "整体"),
}
_GLOSSARY_RE = re.compile(r"([\u4e00-\u9fff]{2,12})\s*[（(]\s*([A-Za-z][A-Za-z0-9 .\-]*(?:[，,、]\s*[A-Za-z][A-Za-z0-9 .\-]*)*)\s*[)）]")
_RUN_RE = re.compile(r"[a-z0-9]+|[^\sa-z0-9]+")


def glossary(texts: list[str]) -> dict[str, str]:
    """English term (lower case) → the Chinese term written right before it in parentheses."""
    runs: dict[str, list[str]] = {}
    for text in texts:
        for chinese, english in _GLOSSARY_RE.findall(unicodedata.normalize("NFKC", TOKEN_RE.sub(" ", text))):
            for written in re.split(r"[，,、]", english):
                term = " ".join(written.lower().split())
                if len(term) > 1 and not term.isdigit():
                    runs.setdefault(term, []).append(chinese)
    # "使用随机梯度下降（SGD）": the term is a suffix of the run; where the term is defined several
    # times, their common suffix is it; else keep the last 6 characters.
    return {term: _common_suffix(found)[-6:] for term, found in runs.items()}


def _common_suffix(words: list[str]) -> str:
    suffix = words[0]
    for word in words[1:]:
        while not word.endswith(suffix):
            suffix = suffix[1:]
    return suffix if len(suffix) >= 2 else words[-1]


def tokens(question: str, terms: dict[str, str]) -> frozenset[str]:
    text = unicodedata.normalize("NFKC", TOKEN_RE.sub(" ", question)).lower().replace("×", "x").replace("*", "x")
    for term in sorted(terms, key=len, reverse=True):
        text = re.sub(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", terms[term], text)
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    for canonical, words in _SYNONYMS.items():
        for word in words:
            text = text.replace(word, canonical)
    for word in _QUESTION_WORDS:
        text = text.replace(word, " ")
    found: set[str] = set()
    for run in _RUN_RE.findall(text):
        if run.isascii():
            if run not in _ENGLISH_STOP:
                found.add(run)
        elif len(run) == 1:
            found.add(run)
        else:
            found.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(found)


def duplicate_pairs(questions: list[str], glossary_texts: Sequence[str] = (), candidates: Iterable[tuple[int, int]] | None = None) -> list[tuple[int, int, float]]:
    """(i, j, similarity) for each pair of questions that ask the same thing; i < j.

    `candidates` (pairs of indices) limits which pairs are compared; default: all of them.
    """
    terms = glossary([*glossary_texts, *questions])
    sets = [tokens(q, terms) for q in questions]
    frequency = Counter(token for s in sets for token in s)
    n = len(sets)
    weight = {token: (math.log((n + 1) / (count + 1)) + 1) ** 2 for token, count in frequency.items()}

    def mass(items) -> float:
        return sum(weight[t] for t in items)

    found = []
    for i, j in candidates if candidates is not None else combinations(range(n), 2):
        a, b = sets[i], sets[j]
        if not a or not b:
            continue
        shared = mass(a & b)
        similarity = shared / math.sqrt(mass(a) * mass(b))
        extra = min(mass(a - b) / mass(a), mass(b - a) / mass(b))
        if similarity >= SIMILAR and extra <= EXTRA:
            found.append((i, j, similarity))
    return found


def near_duplicates(notes: list[Note], glossary_texts: list[str]) -> list[tuple[Note, Note, float]]:
    """Pairs of notes (first, second in file order) whose questions are duplicates.

    A question note and a cloze note on the same formula are a deliberate pair (recall the idea,
    then the formula), so only notes of the same family are compared.
    """
    titles = [note.front.split("\n", 1)[0] for note in notes]
    family = [note.kind is NoteKind.CLOZE for note in notes]
    candidates = [(i, j) for i, j in combinations(range(len(notes)), 2) if family[i] == family[j]]
    return [(notes[i], notes[j], score) for i, j, score in duplicate_pairs(titles, glossary_texts, candidates)]
