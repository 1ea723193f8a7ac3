"""Parse one content file into a `Topic`: YAML front matter, then one note per `##` heading.

In:  the file's bytes and its display path.
Out: a `Topic` (notes with formulas, images and sympy blocks lifted out by `scan`), and every
     problem found, recorded in the caller's `ErrorList` with its line.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from deckgen import limits
from deckgen.errors import ErrorList
from deckgen.records import Details, Location, Note, NoteKind, Topic
from deckgen.source import frontmatter
from deckgen.source.guards import size_ok
from deckgen.source.scan import FENCE_RE, Scanned, Tokens, scan
from deckgen.syntax import CLOZE_MARK_RE, CLOZE_OPEN_RE, CLOZE_UNNUMBERED_RE, NAME_RE, TOKEN_RE

HEADING_RE = re.compile(r"^##(?!#)[ \t]*(.*?)[ \t]*$")
HEADING_ID_RE = re.compile(r"^(.*?)\s*\{#([^{}]*)\}\s*#*\s*$")  # no `{` in ids: linear on `{#{#{#...`
META_RE = re.compile(r"^(tags|type|remote)\s*:\s*(.*?)\s*$")
META_KEYS = ("tags", "type", "remote")
META_LOOKALIKE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z_-]{1,11})\s*[:：]\s*(.*?)\s*$")  # `Tags:`, `tag:`, ` type :`
# Before '##': 1-3 spaces or tabs (4 make code), or invisible characters, with or without spaces.
LOOKALIKE_HEADING_RE = re.compile(r"^((?:[\ufeff\u200b-\u200f\u2060\u00a0\u3000\u00ad][ \t\ufeff\u200b-\u200f\u2060\u00a0\u3000\u00ad]*)|[ \t]{1,3})##(?!#)")
DEEPER_HEADING_RE = re.compile(r"^#{3,6}[ \t]+(.*?)[ \t#]*$")
QUESTION_END = "???"
DETAILS_OPEN_RE = re.compile(r"^:::[ \t]*details\b[ \t]*(.*?)[ \t]*$")  # ::: details LABEL
DETAILS_CLOSE_RE = re.compile(r"^:::[ \t]*$")
DEFAULT_DETAILS_LABEL = "细节"
ID_HINT = "use lowercase letters, digits and '-', at most 64 characters, e.g. {#dilated-conv}"
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # tab, newline and form feed are fine


class NoteMemo:
    """Notes an earlier parse found no problem in, by the lines they came from.

    A note is a pure function of its lines, its first line's number, its file's path and the
    file's `allow_scripts`; when all four are the same, the earlier `Note` is the answer, and
    scanning it again (most of a one-note edit's parse) is skipped. Notes with an error or a
    warning are always parsed again, so every problem is reported on every build.
    """

    def __init__(self, earlier: Mapping[str, Note] | None = None):
        self.earlier = earlier or {}
        self.now: dict[str, Note] = {}  # this parse's clean notes: what the next build can reuse

    @staticmethod
    def key(path: str, start: int, allow_scripts: bool, lines: list[str]) -> str:
        digest = hashlib.blake2b(f"{path}\0{start}\0{allow_scripts}\0".encode(), digest_size=16)
        digest.update("\n".join(lines).encode())
        return digest.hexdigest()

    def worth_saving(self) -> bool:
        """Whether `now` should replace `earlier` for the next parse. Each clean note `earlier`
        lacks costs the next parse that one note; writing the memo costs about as much as
        parsing a tenth of the file's notes (measured on a 1,000-note file). So a one-note edit
        keeps the old memo, and the notes it misses are saved with a later, bigger change."""
        missing = len(self.now.keys() - self.earlier.keys())
        return missing > 0 and (not self.earlier or missing * 10 >= len(self.now))


def parse_topic(data: bytes, path: str, errors: ErrorList, memo: NoteMemo | None = None) -> Topic | None:
    """Parse a whole file; returns None when it is too broken to yield notes."""
    text = decode(data, path, errors)
    if text is None:
        return None
    lines = text.split("\n")
    header, body_start = frontmatter.read(lines, path, errors)
    if header is None:
        return None
    warned = len(errors.warnings)
    _check_lookalike_headings(lines, body_start, path, errors)
    indexes = heading_indexes(lines, body_start)
    notes = _notes(lines, indexes, body_start, path, errors, header.allow_scripts, memo)
    if not notes and not any(e.location.path == path for e in errors):
        errors.add(Location(path, body_start + 1), "no notes in this file", "add a note: a line '## question {#id}' followed by its answer")
    warnings = tuple(str(w) for w in errors.warnings[warned:])
    return Topic(header.id, header.deck, header.description, header.tags, tuple(notes), Location(path, 1), warnings, header.allow_scripts,
                 tuple(questions(lines, indexes).items()))


def decode(data: bytes, path: str, errors: ErrorList) -> str | None:
    """UTF-8 (with or without BOM), any line endings; anything else is an error that says why.

    A file in another encoding is an error, not decoded with a warning: a guess (GB18030, Big5
    and Latin-1 all accept many of the same bytes) could put the wrong characters on cards
    without anyone noticing, and `deckgen ids --write` would then save the guess back.
    """
    if not size_ok(len(data), path, errors):
        return None
    utf16 = next((name for bom, name in _WIDE_BOMS if data.startswith(bom)), None)
    if utf16:
        errors.add(Location(path, 1), f"the file is {utf16}, not UTF-8", f"re-save it as UTF-8 (e.g. `iconv -f {utf16} -t UTF-8`, or 'Save with encoding: UTF-8' in your editor)")
        return None
    if b"\x00" in data[:8192]:
        errors.add(Location(path, 1), "this is a binary file, not Markdown", "remove it from content/ or give it another extension")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = _guess_encoding(data)
        errors.add(
            Location(path, line),
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}){guess}",
            "re-save it as UTF-8 (e.g. `iconv -f GBK -t UTF-8`, or 'Save with encoding: UTF-8' in your editor)",
        )
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _check_control_characters(text, path, errors)
    return text


def _check_control_characters(text: str, path: str, errors: ErrorList) -> None:
    """Invisible control characters (pasted terminal colours, NUL) would end up on the cards."""
    match = CONTROL_RE.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        errors.add(
            Location(path, line),
            f"control character U+{ord(match.group()):04X} in column {column}",
            "delete it (most editors do not show it; it often comes from pasted terminal output)",
        )


def _guess_encoding(data: bytes) -> str:
    for name in ("gb18030", "big5", "shift_jis", "latin-1"):
        try:
            data.decode(name)
        except UnicodeDecodeError:
            continue
        return f"; it looks like {name.upper()}"
    return ""


def _check_lookalike_headings(lines: list[str], start: int, path: str, errors: ErrorList) -> None:
    """Lines that look like a note heading but are not one would merge two notes silently: an
    invisible character (a BOM, a zero-width space) or a few spaces before '##'. A '###' heading
    that asks a question is likely a note written one level too deep: a warning."""
    fence = None
    for i in range(start, len(lines)):
        line = lines[i]
        if "#" not in line and "```" not in line and "~~~" not in line:
            continue  # neither a heading nor a fence (most lines): nothing to check or track
        inside = fence is not None
        fence = _fence_state(fence, line)
        if inside or fence is not None:
            continue
        lookalike = LOOKALIKE_HEADING_RE.match(lines[i])
        if lookalike:
            shown = ", ".join(f"U+{ord(ch):04X}" if ch not in " \t" else repr(ch) for ch in dict.fromkeys(lookalike.group(1)))
            errors.add(Location(path, i + 1), f"this line looks like a note heading, but {shown} before '##' makes it part of the previous answer", "delete what stands before '##' (most editors do not show it)")
            continue
        deeper = DEEPER_HEADING_RE.match(lines[i])
        if deeper and (HEADING_ID_RE.match(deeper.group(1)) or deeper.group(1).rstrip().endswith(("?", "？"))):
            errors.warn(Location(path, i + 1), f"'{deeper.group(0).strip()[:40]}' reads like a question, but only '##' starts a note: it is part of the answer above", "write '## ' to make it a note of its own, or reword it as a label")


def _notes(lines: list[str], headings: list[int], start: int, path: str, errors: ErrorList, allow_scripts: bool = False, memo: NoteMemo | None = None) -> list[Note]:
    """Split the body at its `##` headings (`headings`: their indexes) and parse each note."""
    preamble = next((i for i in range(start, headings[0] if headings else len(lines)) if lines[i].strip()), None)
    if preamble is not None and headings:
        errors.add(Location(path, preamble + 1), "text before the first note belongs to no card", "move it under a '## question {#id}' heading, or into the front matter 'description'")
    notes: list[Note] = []
    seen: dict[str, int] = {}
    for n, i in enumerate(headings):
        end = headings[n + 1] if n + 1 < len(headings) else len(lines)
        note = _remembered_note(lines, i, end, path, errors, allow_scripts, memo) if memo else _note(lines, i, end, path, errors, allow_scripts)
        if note is None:
            continue
        if note.note_id in seen:
            errors.add(note.location, f"duplicate note id '{note.note_id}' (first used on line {seen[note.note_id]})", "give each note its own id; ids identify cards in users' collections")
            continue
        seen[note.note_id] = note.location.line
        notes.append(note)
    return notes


def _remembered_note(lines: list[str], start: int, end: int, path: str, errors: ErrorList, allow_scripts: bool, memo: NoteMemo) -> Note | None:
    key = memo.key(path, start, allow_scripts, lines[start:end])
    note = memo.earlier.get(key)
    if note is None:
        problems = len(errors), len(errors.warnings)
        note = _note(lines, start, end, path, errors, allow_scripts)
        if note is None or (len(errors), len(errors.warnings)) != problems:
            return note
    memo.now[key] = note
    return note


def _note(lines: list[str], start: int, end: int, path: str, errors: ErrorList, allow_scripts: bool = False) -> Note | None:
    where = Location(path, start + 1)
    heading = HEADING_RE.match(lines[start])
    title = heading.group(1) if heading else ""
    id_match = HEADING_ID_RE.match(title)
    if not id_match:
        errors.add(where, "note has no id", "add ' {#some-id}' at the end of the heading, or run 'deckgen ids --write' to add ids to every note")
        return None
    title, note_id = id_match.group(1).strip(), id_match.group(2).strip()
    if not NAME_RE.fullmatch(note_id):
        errors.add(where, f"invalid note id '{note_id}'", ID_HINT)
        return None
    if not title:
        errors.add(where, "the heading has no question text", "write the question after '## '")
        return None
    meta, body_start = _meta(lines, start + 1, end, path, errors)
    body = lines[body_start:end]
    split = next((k for k, line in enumerate(body) if line.strip() == QUESTION_END), None)
    kind = meta.get("type")
    if kind is None:
        raw = "\n".join([title, *body])
        kind = NoteKind.CLOZE if CLOZE_OPEN_RE.search(raw) or CLOZE_UNNUMBERED_RE.search(raw) else NoteKind.BASIC
    tokens = Tokens()
    question = [(title, start + 1), _part(body[:split] if split is not None else [], body_start)]
    answer_start = body_start + (split + 1 if split is not None else 0)
    answer = [_part(body[split + 1 :] if split is not None else body, answer_start)]
    if kind is NoteKind.CLOZE and split is None:
        # A cloze note's deletions live in the body: without '???' title and body form the text.
        question, answer = question[:1] + answer, []
    answer, sections = _split_details(answer, path, errors, tokens)
    remote = bool(meta.get("remote"))
    front_scan = _scan_parts(question, path, errors, tokens, allow_scripts, remote)
    back_scan = _scan_parts(answer, path, errors, tokens, allow_scripts, remote)
    details = []
    for token, label, part in sections:
        scanned = _scan_parts([part], path, errors, tokens, allow_scripts, remote)
        details.append(Details(token, label, scanned.text))
        back_scan.formulas += scanned.formulas
        back_scan.media += scanned.media
        back_scan.sympy_blocks += scanned.sympy_blocks
        back_scan.refs += scanned.refs
        back_scan.cloze_lines += scanned.cloze_lines
    if kind is NoteKind.CLOZE:
        _check_cloze(front_scan.text, [f.tex for _, f in front_scan.formulas], where, errors)
    elif front_scan.cloze_lines or back_scan.cloze_lines:
        errors.add(Location(path, min(front_scan.cloze_lines + back_scan.cloze_lines)), f"a cloze deletion '{{{{c1::…}}}}' in a note of type '{kind.value}' shows on the card as typed", f"remove 'type: {kind.value}' so that the note becomes a cloze note, or write the braces in a code span")
    if not back_scan.text.strip() and kind is not NoteKind.CLOZE:
        errors.add(where, f"note '{note_id}' has no answer", "write the answer under the heading (or remove the heading)")
        return None
    return Note(
        note_id=note_id,
        kind=kind,
        front=front_scan.text,
        back=back_scan.text,
        tags=tuple(meta.get("tags", ())),
        location=where,
        formulas=tuple(front_scan.formulas + back_scan.formulas),
        sympy_blocks=tuple(front_scan.sympy_blocks + back_scan.sympy_blocks),
        media=tuple(front_scan.media + back_scan.media),
        refs=tuple(front_scan.refs + back_scan.refs),
        details=tuple(details),
        remote=remote,
    )


def _split_details(parts: list[tuple[str, int]], path: str, errors: ErrorList, tokens: Tokens) -> tuple[list[tuple[str, int]], list[tuple[str, str, tuple[str, int]]]]:
    """Lift each `::: details LABEL` ... `:::` section (outside code) out of the answer parts.

    The answer keeps a placeholder, a paragraph of its own, where each section stood; each section
    comes back as (placeholder, label, (its Markdown, its first line)). Every piece keeps its own
    first line, so messages point at the right line. A section left open runs to the end.
    """
    kept: list[tuple[str, int]] = []
    sections: list[tuple[str, str, tuple[str, int]]] = []
    for text, first_line in parts:
        if ":::" not in text:  # no line can open or close a section (most answers)
            kept.append(_part(text.split("\n"), first_line - 1))
            continue
        chunk: list[str] = []
        chunk_first = first_line
        section: tuple[str, str, int] | None = None  # token, label, opening line
        body: list[str] = []
        fence = None
        for offset, line in enumerate(text.split("\n")):
            number = first_line + offset
            opening = None if fence or FENCE_RE.match(line) else DETAILS_OPEN_RE.match(line)
            closing = not fence and not FENCE_RE.match(line) and DETAILS_CLOSE_RE.match(line)
            fence = _fence_state(fence, line)
            if opening is not None and section is not None:
                errors.add(Location(path, number), f"a details section opens inside the one opened on line {section[2]}", "close the first with a line ':::' before opening the next")
            elif opening is not None:
                kept.append(_part(chunk, chunk_first - 1))
                section, body = (tokens.new(), opening.group(1) or DEFAULT_DETAILS_LABEL, number), []
                kept.append((section[0], number))
            elif closing and section is None:
                errors.add(Location(path, number), "this ':::' closes no details section", "open the section with a line '::: details 细节', or remove the line")
            elif closing and section is not None:
                sections.append((section[0], section[1], _part(body, section[2])))
                section, chunk, chunk_first = None, [], number + 1
            elif section is not None:
                body.append(line)
            else:
                chunk.append(line)
        if section is not None:
            sections.append((section[0], section[1], _part(body, section[2])))
        kept.append(_part(chunk, chunk_first - 1))
    return kept, sections


# The only lines that can open or close a code fence or be a note heading. The other lines cannot
# change the answer, so one regex search over the text skips them (a 10,000-note project has
# 230,000 lines, and this runs over every topic on every build, for the references).
_CANDIDATE_RE = re.compile(r"^(?:##|[^\S\n]*(?:`{3}|~{3}))", re.MULTILINE)


def heading_indexes(lines: list[str], start: int = 0) -> list[int]:
    """The indexes of the note headings (`## ...`) from `start` on, outside fenced code."""
    found, fence = [], None
    text = "\n".join(lines[start:])
    i, at = start, 0
    for candidate in _CANDIDATE_RE.finditer(text):
        i += text.count("\n", at, candidate.start())
        at = candidate.start()
        inside = fence is not None
        fence = _fence_state(fence, lines[i])
        if not inside and fence is None and HEADING_RE.match(lines[i]):
            found.append(i)
    return found


def questions(lines: list[str], indexes: list[int]) -> dict[str, str]:
    """Note id -> question (without the `{#id}`) of the headings at `indexes`; the first heading
    of an id wins."""
    return {note_id: title for _, title, note_id in reversed(headings(lines, indexes))}


def headings(lines: list[str], indexes: list[int] | None = None) -> list[tuple[int, str, str]]:
    """(index, question, note id) of each note heading that has an id (`indexes`: where the
    headings are, when known)."""
    found = []
    for i in heading_indexes(lines) if indexes is None else indexes:
        heading = HEADING_RE.match(lines[i])
        match = HEADING_ID_RE.match(heading.group(1)) if heading else None
        if match:
            found.append((i, match.group(1).strip(), match.group(2).strip()))
    return found


def _fence_state(fence: str | None, line: str) -> str | None:
    """The open code fence after `line` (None outside code)."""
    if fence:
        stripped = line.strip()
        return None if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence) else fence
    match = FENCE_RE.match(line)
    return match.group(2) if match else None


def _leading_blank(lines: list[str]) -> int:
    return next((k for k, line in enumerate(lines) if line.strip()), 0)


def _part(lines: list[str], first_index: int) -> tuple[str, int]:
    """A run of lines without its blank edges, and the 1-based line its first kept line is on."""
    lead = _leading_blank(lines)
    return "\n".join(lines).strip("\n"), first_index + 1 + lead


def _scan_parts(parts: list[tuple[str, int]], path: str, errors: ErrorList, tokens: Tokens, allow_scripts: bool = False, remote: bool = False) -> Scanned:
    """Scan each part with its own line numbers and join them as paragraphs."""
    merged = Scanned(text="")
    texts = []
    for text, first_line in parts:
        if not text.strip():
            continue
        part = scan(text, path, first_line, errors, tokens, allow_scripts, remote)
        texts.append(part.text)
        merged.formulas += part.formulas
        merged.media += part.media
        merged.sympy_blocks += part.sympy_blocks
        merged.refs += part.refs
        merged.cloze_lines += part.cloze_lines
    merged.text = "\n\n".join(texts)
    return merged


def _meta(lines: list[str], start: int, end: int, path: str, errors: ErrorList) -> tuple[dict[str, Any], int]:
    """Read `tags:` / `type:` lines directly under the heading."""
    meta: dict[str, Any] = {}
    i = start
    while i < end:
        match = META_RE.match(lines[i])
        if not match:
            _check_meta_lookalike(lines[i], Location(path, i + 1), errors)
            break
        key, value = match.groups()
        if key == "tags":
            tags = value.split()
            bad = [t for t in tags if not frontmatter.TAG_RE.fullmatch(t)]
            if bad:
                errors.add(Location(path, i + 1), f"invalid tag {bad[0]!r}", "tags are words without spaces or quotes, separated by spaces")
            for tag in tags:
                if problem := frontmatter.tag_problem(tag):
                    errors.add(Location(path, i + 1), f"tag {tag!r} {problem}", "write e.g. 'tags: seed::s003-q3 dilated' (separated by spaces)")
                    break
            meta["tags"] = tags
        elif key == "remote":
            if value.lower() not in ("true", "yes", "false", "no"):
                errors.add(Location(path, i + 1), f"'remote:' must be true or false (got {value!r})", "write 'remote: true' only if this note shows images from the web when it is reviewed")
            meta["remote"] = value.lower() in ("true", "yes")
        else:
            try:
                meta["type"] = NoteKind(value.strip().lower())
            except ValueError:
                errors.add(Location(path, i + 1), f"unknown note type '{value}'", f"use one of: {', '.join(k.value for k in NoteKind)}")
        i += 1
    return meta, i


def _check_meta_lookalike(line: str, where: Location, errors: ErrorList) -> None:
    """`Tags: a`, `tag: a` or `type :` under a heading would become card text, silently."""
    match = META_LOOKALIKE_RE.match(line)
    if not match:
        return
    key = match.group(1)
    close = [k for k in META_KEYS if k == key.lower()] or difflib.get_close_matches(key.lower(), ("tags", "type"), n=1, cutoff=0.7)
    if close:
        errors.add(where, f"'{key}:' under the heading is not a meta line, so it would show on the card as text", f"write '{close[0]}: {match.group(2)}' (lowercase, directly under the heading); if it is part of the answer, put a blank line before it")


def _check_cloze(text: str, formulas: list[str], where: Location, errors: ErrorList) -> None:
    """Every `{{cN::` needs a number and a closing `}}`.

    Formulas are tokens in `text`, so TeX braces don't disturb the count; deletions inside
    formulas are checked by cloze.strip when the formula itself is checked.
    """
    opens = list(CLOZE_OPEN_RE.finditer(text))
    unnumbered = list(CLOZE_UNNUMBERED_RE.finditer(text))
    if not opens and not unnumbered and not any(CLOZE_OPEN_RE.search(tex) for tex in formulas):
        errors.add(where, "cloze note has no deletion", "mark the text to hide as {{c1::text}}, or remove 'type: cloze'")
        return
    for match in unnumbered:
        errors.add(where, f"cloze deletion '{match.group()}' has no number", "number deletions from 1: {{c1::...}}, {{c2::...}}")
    for match in [*opens, *(m for tex in formulas for m in CLOZE_OPEN_RE.finditer(tex))]:
        if int(match.group(1)) == 0:
            errors.add(where, f"cloze deletion '{match.group()}' has no number", "number deletions from 1: {{c1::...}}, {{c2::...}}")
        elif int(match.group(1)) > limits.MAX_CLOZE_NUMBER:
            errors.add(where, f"cloze deletion '{match.group()}' is numbered above {limits.MAX_CLOZE_NUMBER}, which Anki refuses (it rejects the whole package)", "number deletions from 1: {{c1::...}}, {{c2::...}}")
    depth = 0
    for piece in CLOZE_MARK_RE.finditer(text):
        depth += 1 if piece.group().startswith("{{") else -1
        if depth < 0:
            errors.add(where, "a '}}' closes no cloze deletion", "remove it, or open the deletion with {{c1::")
            return
    if depth > 0:
        errors.add(where, "a cloze deletion is never closed", "end each {{c1::... with }}")


def strip_tokens(text: str) -> str:
    """The note text with tokens removed, for search and duplicate detection."""
    return TOKEN_RE.sub(" ", text)
