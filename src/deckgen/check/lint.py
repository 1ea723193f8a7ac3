"""`deckgen check`: everything the build validates, plus content lint, each finding at `path:line`.

In:  a `BuildConfig`.
Out: a `CheckReport`: findings (`error` or `warning`, with the check that made them) and a
     summary; `--strict` fails on warnings too; `as_json()` is the machine-readable form.

Checks beyond the build:
- duplicate-question: the same question asked twice across all decks, also in other words
  (see `questions.py` for how "the same" is measured);
- missing-id: notes without `{#id}`;
- empty-answer / long-answer: answers with nothing to review, key points too long to say aloud
  (or more than `limits.MAX_KEY_POINTS` bullets), answers too long to review at all, and (the
  layout check) backs taller than two phone screens;
- dangling-text: a colon that nothing visible follows, stray spaces at deletions (builder/dangling.py);
- layout-*: every card rendered at a phone's width, day and night (`layout.py`);
- figure: unknown (an error, from the build) and unused figures;
- formula: formulas Anki's MathJax cannot render (the exact check, in headless Chromium);
- html: raw HTML the card allowlist refuses (source/sanitize.py, the build's own): scripts,
  frames, event handlers, `javascript:` links, remote resources, style sheets;
- media-name: media file names over Anki's 120-byte limit, or not in Unicode NFC.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from deckgen.config import BuildConfig
from deckgen.errors import BuildFailed, ContentError
from deckgen.limits import MAX_KEY_POINTS, MEDIA_NAME_BYTES
from deckgen.records import CompiledTopic, Location, NoteKind, Topic
from deckgen.report import plural
from deckgen.source.discover import topic_files
from deckgen.syntax import HTML_TAG_RE, MATHJAX_RE, WARNING_RE

ERROR, WARNING = "error", "warning"
KEY_POINTS_LIMIT = 300  # reading units (a CJK character, a Latin word; a formula counts 3): twice the guide's ~150
ANSWER_LIMIT = 1800  # beyond this a card is a page, not a card: split it
PLACEHOLDERS = ("在这里插入图片描述", "TODO", "TBD", "待补充", "待完善", "lorem ipsum")
_BUILD_CHECKS = (
    (re.compile(r"^unknown figure|^figure '"), "figure"),
    (re.compile(r"^formula "), "formula"),
    (re.compile(r"^note has no id"), "missing-id"),
    (re.compile(r"introduces the result of a sympy block|^the answer ends with|cloze deletion shows on the card"), "dangling-text"),
    (re.compile(r"<script>|event-handler attribute|' URL in|^raw <\w+> tag| in the note$| in the deck description$|^the rendered card holds|^remote image|^image '.*' is not a local file"), "html"),
)
_LABEL_RE = re.compile(r"^\s*(?:<p>\s*<strong>[^<]*</strong>\s*</p>|<h[3-6][^>]*>.*?</h[3-6]>)", re.S)
_FIRST_BLOCK_RE = re.compile(r"<(ul|ol|p|table|blockquote|figure)[\s>].*?</\1>", re.S)


@dataclass(frozen=True)
class Finding:
    check: str  # which check found it: "build", "duplicate-question", "formula", ...
    severity: str  # ERROR or WARNING
    problem: ContentError


@dataclass(frozen=True)
class CheckReport:
    findings: tuple[Finding, ...]
    notes: int
    skipped: tuple[str, ...] = ()  # checks that could not run, and why
    turned_off: tuple[str, ...] = ()  # checks the user turned off (--fast)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, strict: bool) -> bool:
        """An error fails; with `strict`, so do a warning and a check that could not run."""
        return bool(self.count(ERROR) or (strict and (self.count(WARNING) or self.skipped)))

    def by_check(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.check] = counts.get(finding.check, 0) + 1
        return dict(sorted(counts.items()))

    def as_json(self, strict: bool) -> dict:
        return {
            "version": 1,
            "ok": not self.failed(strict),
            "strict": strict,
            "summary": {"errors": self.count(ERROR), "warnings": self.count(WARNING), "notes": self.notes, "by_check": self.by_check(), "skipped": list(self.skipped), "turned_off": list(self.turned_off)},
            "findings": [
                {"path": f.problem.location.path, "line": f.problem.location.line, "severity": f.severity, "check": f.check, "message": f.problem.message, "hint": f.problem.hint}
                for f in self.findings
            ],
        }


def format_text(report: CheckReport, strict: bool) -> str:
    """What `deckgen check` prints: one line per finding, what was skipped, and a summary."""
    lines = [f"{f.severity}: {f.problem}  [{f.check}]" for f in report.findings]
    lines += [f"skipped: {reason}" for reason in report.skipped]
    lines += [f"not run: {reason}" for reason in report.turned_off]
    counts = ", ".join(f"{n} {name}" for name, n in report.by_check().items())
    errors, warnings = report.count(ERROR), report.count(WARNING)
    summary = f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(report.notes, 'note')}"
    lines.append(summary + (f" ({counts})" if counts else ""))
    if strict and not errors and warnings:
        lines.append("failed: --strict treats warnings as errors")
    elif strict and not errors and report.skipped:
        lines.append("failed: --strict fails when a check could not run (see 'skipped' above)")
    return "\n".join(lines)


def check(config: BuildConfig, *, exact_formulas: bool = True) -> CheckReport:
    """Run every check; never raises for content problems (they are findings)."""
    from deckgen.builder.pipeline import gather

    findings: list[Finding] = []
    skipped: list[str] = []
    turned_off: list[str] = []
    compiled: list[CompiledTopic] | None = None
    try:
        gathered = gather(config)
        compiled = gathered.topics
        findings += [_from_warning(text) for text in gathered.warnings]
    except BuildFailed as failed:
        findings += [Finding(_build_check(e.message), ERROR, e) for e in failed.errors]
        skipped.append("answers, html and media-name checks: they read the rendered cards; fix the build errors first")
    topics = _parse(config)
    findings += _missing_ids(config, findings)
    findings += _duplicates(topics)
    if compiled is not None:
        sources = {t.location.path: (config.root / t.location.path).read_text(encoding="utf-8", errors="replace").split("\n") for t in compiled}
        findings += _answers(compiled) + _raw_html(compiled, sources) + _media_names(compiled, topics)
        findings += _dangling(config, topics)
    if exact_formulas:
        findings += _exact_formulas(config, findings, skipped)
    else:
        turned_off.append("formula (exact MathJax check): turned off with --fast")
    if not exact_formulas:
        turned_off.append("layout (every card at 390 px in Chromium): turned off with --fast")
    elif compiled is not None:
        findings += _layout(config, gathered.topics, gathered.media_files, findings, skipped)
    notes = sum(len(t.notes) for t in topics)
    ordered = sorted(_unique(findings), key=lambda f: (f.problem.location.path, f.problem.location.line, f.check))
    return CheckReport(tuple(ordered), notes, tuple(skipped), tuple(turned_off))


def _unique(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for finding in findings:
        key = (str(finding.problem), finding.severity)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _build_check(message: str) -> str:
    return next((name for pattern, name in _BUILD_CHECKS if pattern.search(message)), "build")


def _from_warning(text: str) -> Finding:
    match = WARNING_RE.match(text)
    if not match:
        return Finding("build", WARNING, ContentError(Location("."), text))
    where = Location(match["path"], int(match["line"]))
    message, _, hint = match["message"].partition(" — ")
    if "not used" in text and not hint:
        hint = "show it in a note with ![caption](figure:NAME), or delete the function"
    return Finding(_build_check(message), WARNING, ContentError(where, message, hint))


def _parse(config: BuildConfig) -> list[Topic]:
    from deckgen.errors import ErrorList
    from deckgen.source.parse import parse_topic

    errors = ErrorList()  # the build reports these; here only the notes that parse are linted
    topics = [parse_topic(p.read_bytes(), config.display(p), errors) for p in topic_files(config.content_dir)]
    return [t for t in topics if t is not None]


def _missing_ids(config: BuildConfig, findings: list[Finding]) -> list[Finding]:
    from deckgen.source.ids import missing_ids

    out = []
    for path in topic_files(config.content_dir):
        for line, heading in missing_ids(path):
            where = Location(config.display(path), line)
            out.append(Finding("missing-id", ERROR, ContentError(where, f"note has no id: {heading.strip()}", "run 'deckgen ids --write' to add ids to every note")))
    # The build reports the same notes ("note has no id"); keep the finding that names the question.
    flagged = {f.problem.location for f in out}
    findings[:] = [f for f in findings if not (f.check == "missing-id" and f.problem.location in flagged)]
    return out


def _duplicates(topics: list[Topic]) -> list[Finding]:
    from deckgen.check.questions import near_duplicates

    notes = [note for topic in topics for note in topic.notes]
    glossary_text = [note.front + "\n" + note.back for note in notes]
    out = []
    for first, second, score in near_duplicates(notes, glossary_text):
        message = f"question repeats {first.location} ('{_title(first.front)}') in other words (similarity {score:.2f})"
        out.append(Finding("duplicate-question", WARNING, ContentError(second.location, message, "merge the two notes, or make each ask something different")))
    return out


def _title(markdown: str, limit: int = 40) -> str:
    from deckgen.source.parse import strip_tokens

    line = " ".join(strip_tokens(markdown.split("\n", 1)[0]).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ---- answers ----------------------------------------------------------------------------------


def reading_units(card_html: str) -> int:
    """How long a text takes to read: CJK characters, Latin words, and 3 per formula."""
    formulas = len(MATHJAX_RE.findall(card_html))
    text = html.unescape(HTML_TAG_RE.sub(" ", MATHJAX_RE.sub(" ", card_html)))
    cjk = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF" and ch.isalnum())
    words = len(re.findall(r"[A-Za-z0-9]+(?:[.'-][A-Za-z0-9]+)*", text))
    return cjk + words + 3 * formulas


def key_points(answer_html: str) -> str:
    """The answer's first block after any leading label such as **要点**: its first list when it
    opens with one (the guide's "2-5 short bullets first"), else its first paragraph."""
    rest = _LABEL_RE.sub("", answer_html, count=1).lstrip()
    block = _FIRST_BLOCK_RE.match(rest)
    return block.group(0) if block else rest


def key_point_bullets(answer_html: str) -> int:
    """How many bullets the key points have: the items of the list the answer opens with (after a
    label such as **要点**), not counting the items of lists nested in them; 0 without a list."""
    rest = _LABEL_RE.sub("", answer_html, count=1).lstrip()
    if not rest.startswith(("<ul", "<ol")):
        return 0
    depth, items = 0, 0
    for tag in re.finditer(r"<(/?)(ul|ol|li)[\s>]", rest):
        closing, name = tag.group(1), tag.group(2)
        if name != "li":
            depth += -1 if closing else 1
            if depth == 0:
                break
        elif not closing and depth == 1:
            items += 1
    return items


def _answers(topics: list[CompiledTopic]) -> list[Finding]:
    out = []
    for topic in topics:
        for note in topic.notes:
            answer = note.back
            visible = " ".join(html.unescape(HTML_TAG_RE.sub(" ", answer)).split())
            placeholder = next((p for p in PLACEHOLDERS if p.lower() in visible.lower()), None)
            if note.kind is not NoteKind.CLOZE and not visible.replace(placeholder or "\0", "").strip() and "<img" not in answer:
                out.append(Finding("empty-answer", WARNING, ContentError(note.location, "the answer is empty", "write the answer under the question")))
            elif placeholder:
                out.append(Finding("empty-answer", WARNING, ContentError(note.location, f"the answer contains the placeholder '{placeholder}'", "replace it with the real content (a lost image needs a figure)")))
            points = key_points(answer)
            bullets = key_point_bullets(answer)
            if bullets > MAX_KEY_POINTS:
                out.append(Finding("long-answer", WARNING, ContentError(note.location, f"the key points are {bullets} bullets (limit {MAX_KEY_POINTS})", "keep the 2-5 points a candidate says aloud; move the rest into '::: details'")))
            units = reading_units(points)
            if units > KEY_POINTS_LIMIT:
                out.append(Finding("long-answer", WARNING, ContentError(note.location, f"key points are {units} units long (limit {KEY_POINTS_LIMIT})", "keep 2-5 short bullets first; move the rest under a **细节** label")))
            total = reading_units(answer)
            if total > ANSWER_LIMIT:
                out.append(Finding("long-answer", WARNING, ContentError(note.location, f"the answer is {total} units long (limit {ANSWER_LIMIT})", "split it into several notes, one idea each")))
    return out


# ---- raw HTML ---------------------------------------------------------------------------------


def _raw_html(topics: list[CompiledTopic], sources: dict[str, list[str]]) -> list[Finding]:
    """What the card allowlist (source/sanitize.py, the build's own) refuses in the packaged
    fields: the build stops on all of it except in decks with `allow_scripts: true`, where
    this says what their cards run or fetch."""
    from deckgen.source import sanitize

    out = []
    for topic in topics:
        lines = sources.get(topic.location.path, [])
        note_starts = sorted(n.location.line for n in topic.notes)
        for note in topic.notes:
            end = next((line for line in note_starts if line > note.location.line), len(lines) + 1)
            found = [p for field in (note.front, note.back) for p in sanitize.problems(field, remote=True)]
            for what in dict.fromkeys(p.what for p in found):
                needle = _needle(what)
                line = next((i for i in range(note.location.line, end) if needle and needle in lines[i - 1].lower()), note.location.line)
                out.append(Finding("html", ERROR, ContentError(Location(note.location.path, line), f"raw HTML the cards of a shared deck should not carry: {what}", "remove it: a shared deck must not run code or fetch anything on the reviewer's device (deckgen cards need neither)")))
    return out


def _needle(what: str) -> str:
    """Text to look for in the source to find the line of a problem ("<iframe", "onclick=")."""
    tag = re.match(r"<(\w+)> element", what)
    attribute = re.match(r"attribute '([^']+)'", what)
    scheme = re.match(r"'(\w+):'", what)
    return f"<{tag.group(1)}" if tag else f"{attribute.group(1)}=" if attribute else f"{scheme.group(1)}:" if scheme else ""


# ---- media names ------------------------------------------------------------------------------


def _media_names(compiled: list[CompiledTopic], topics: list[Topic]) -> list[Finding]:
    refs = {note.location: note.media for topic in topics for note in topic.notes}
    out = []
    for topic in compiled:
        for note in topic.notes:
            for name in note.media:
                problems = []
                size = len(name.encode("utf-8"))
                if size > MEDIA_NAME_BYTES:
                    problems.append((f"media file name is {size} bytes, over Anki's {MEDIA_NAME_BYTES}-byte limit: {name}", "use a shorter file or figure name (Anki would cut the name and the card would lose the image)"))
                if not unicodedata.is_normalized("NFC", name):
                    problems.append((f"media file name is not in Unicode NFC: {name!r}", "rename the file (macOS often writes names in NFD); Anki renames it on import and the card loses the image"))
                where = _media_location(name, refs.get(note.location, ()), note.location)
                out += [Finding("media-name", ERROR, ContentError(where, message, hint)) for message, hint in problems]
    return out


def _media_location(name: str, refs, fallback: Location) -> Location:
    """The image reference that produced the media file `name`, else the note."""
    for ref in refs:
        stem = ref.figure_name or Path(ref.target).stem
        if stem and stem[:20] in name:
            return ref.location
    return fallback


# ---- dangling text and layout ------------------------------------------------------------------


def _dangling(config: BuildConfig, topics: list[Topic]) -> list[Finding]:
    """The build's dangling-text warnings for every note (the build only sees the notes it renders)."""
    from deckgen.builder import dangling
    from deckgen.errors import ErrorList
    from deckgen.math import compute
    from deckgen.runtime.cache import Cache

    notes = [note for topic in topics for note in topic.notes]
    blocks = [block for note in notes for block in note.sympy_blocks]
    results, _ = compute.run_blocks(blocks, Cache(config.cache_dir), ErrorList(), config.jobs, config.sympy_cpu_seconds)
    return [_from_warning(text) for text in dangling.warnings(notes, lambda block: compute.result_for(results, block) == ())]


def _layout(config: BuildConfig, topics: list[CompiledTopic], media_files: dict[str, Path], findings: list[Finding], skipped: list[str]) -> list[Finding]:
    from deckgen.check import layout

    try:
        report = layout.check_layout(config, topics, media_files)
    except layout.LayoutUnavailable as exc:
        skipped.append(f"layout (every card at 390 px in Chromium): {exc}")
        return []
    known = {f.problem.location for f in findings if f.check == "formula"}
    return [Finding(p.rule, p.severity, p.error) for p in report.problems if not (p.rule == "layout-mathjax-error" and p.error.location in known)]


# ---- formulas ---------------------------------------------------------------------------------


def _exact_formulas(config: BuildConfig, findings: list[Finding], skipped: list[str]) -> list[Finding]:
    from deckgen.check import formulas as mathcheck

    try:
        problems = mathcheck.check_content(config)
    except mathcheck.CheckUnavailable as exc:
        skipped.append(f"formula (exact MathJax check): {exc}")
        return []
    # The build's fast check may have named the same formula already: one finding per place.
    known = {str(f.problem) for f in findings} | {f.problem.location for f in findings if f.check == "formula"}
    return [Finding(_build_check(p.message), ERROR, p) for p in problems if str(p) not in known and p.location not in known]
