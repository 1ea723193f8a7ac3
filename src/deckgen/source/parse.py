"""Parse one content file into a `Topic`: YAML front matter, then one note per `##` heading.

In:  the file's bytes and its display path.
Out: a `Topic` (notes with formulas, images and sympy blocks lifted out by `scan`), and every
     problem found, recorded in the caller's `ErrorList` with its line.
"""
from __future__ import annotations

import difflib
import re
import reprlib

from deckgen.config import ALL_PACKAGE
from deckgen.errors import ErrorList
from deckgen.limits import size_ok
from deckgen.records import Location, Note, NoteKind, Topic
from deckgen.source.scan import FENCE_RE, SCRIPT_HINT, TOKEN_RE, Scanned, _Tokens, scan, unsafe_html

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HEADING_RE = re.compile(r"^##(?!#)[ \t]*(.*?)[ \t]*$")
HEADING_ID_RE = re.compile(r"^(.*?)\s*\{#([^{}]*)\}\s*#*\s*$")  # no `{` in ids: linear on `{#{#{#...`
META_RE = re.compile(r"^(tags|type)\s*:\s*(.*?)\s*$")
CLOZE_OPEN_RE = re.compile(r"\{\{c(\d*)::")
QUESTION_END = "???"
FRONT_MATTER_KEYS = ("deck", "id", "tags", "description", "allow_scripts")
TOP_KEY_RE = re.compile(r"^([^\s#:-][^:]*?)\s*:(\s|$)")
# File names Windows refuses whatever the extension, so dist/<id>.apkg could not be written there.
WINDOWS_NAMES = {"con", "prn", "aux", "nul", *(f"{p}{n}" for p in ("com", "lpt") for n in range(10))}
ID_HINT = "use lowercase letters, digits and '-', at most 64 characters, e.g. {#dilated-conv}"
TAG_RE = re.compile(r"^[^\s\"]+$")
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # tab, newline and form feed are fine


def parse_topic(data: bytes, path: str, errors: ErrorList) -> Topic | None:
    """Parse a whole file; returns None when it is too broken to yield notes."""
    text = decode(data, path, errors)
    if text is None:
        return None
    lines = text.split("\n")
    header, body_start = _front_matter(lines, path, errors)
    if header is None:
        return None
    notes = _notes(lines, body_start, path, errors, header["allow_scripts"])
    if not notes and not any(e.location.path == path for e in errors):
        errors.add(Location(path, body_start + 1), "no notes in this file", "add a note: a line '## question {#id}' followed by its answer")
    return Topic(
        deck_id=header["id"],
        deck_name=header["deck"],
        description=header.get("description", ""),
        tags=tuple(header.get("tags", ())),
        notes=tuple(notes),
        location=Location(path, 1),
    )


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


def _front_matter(lines: list[str], path: str, errors: ErrorList) -> tuple[dict | None, int]:
    """Return the validated header and the index of the first body line."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        errors.add(Location(path, 1), "the file is empty", "start it with front matter (---, deck: ..., id: ..., ---) and add notes")
        return None, 0
    if lines[first].strip() != "---":
        errors.add(
            Location(path, first + 1),
            "the file does not start with YAML front matter",
            "begin the file with a line '---', then 'deck: Name::Topic' and 'id: topic-id', then '---'",
        )
        return None, 0
    end = next((i for i in range(first + 1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        errors.add(Location(path, first + 1), "front matter is never closed", "add a line '---' after the last front matter field")
        return None, 0
    import yaml  # deferred: only needed when a file actually changed and is parsed

    try:
        # PyYAML refuses a tab even after `key:`, where editors that align values put one.
        header = yaml.safe_load("\n".join(lines[first + 1 : end]).replace("\t", " ")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first + 2 + (mark.line if mark else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        tabs = any("\t" in line for line in lines[first + 1 : end])
        hint = "indent with spaces: YAML does not allow tabs" if tabs else "write one 'key: value' per line; quote values that contain ':' or '#'"
        errors.add(Location(path, line), f"front matter is not valid YAML: {problem}", hint)
        return None, end + 1
    _check_repeated_keys(lines, first, end, path, errors)
    return _check_header(header, lines, first, end, path, errors), end + 1


def _check_repeated_keys(lines: list[str], first: int, end: int, path: str, errors: ErrorList) -> None:
    """YAML silently keeps the last of two equal keys; the author meant one of them."""
    seen: dict[str, int] = {}
    for i in range(first + 1, end):
        match = TOP_KEY_RE.match(lines[i])
        if not match:
            continue
        key = match.group(1)
        if key in seen:
            errors.add(Location(path, i + 1), f"front matter key '{key}' is given twice (also on line {seen[key]})", "keep only one of them")
        else:
            seen[key] = i + 1


def key_line(data: bytes, key: str) -> int:
    """The line of `key:` in a file's front matter (1 when it is not there), for messages."""
    lines = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    for i, line in enumerate(lines[first + 1 :], start=first + 1):
        if line.strip() in ("---", "..."):
            break
        match = TOP_KEY_RE.match(line)
        if match and match.group(1) == key:
            return i + 1
    return 1


def _check_header(header, lines, first, end, path, errors: ErrorList) -> dict | None:
    def line_of(key: str) -> int:
        for i in range(first + 1, end):
            if lines[i].lstrip().startswith(f"{key}:"):
                return i + 1
        return first + 1

    if not isinstance(header, dict):
        errors.add(Location(path, first + 2), "front matter must be 'key: value' pairs", "write e.g. 'deck: 深度学习::卷积' and 'id: conv'")
        return None
    ok = True
    for key in header:
        if key not in FRONT_MATTER_KEYS:
            close = difflib.get_close_matches(str(key), FRONT_MATTER_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(FRONT_MATTER_KEYS)}"
            errors.add(Location(path, line_of(str(key))), f"unknown front matter key '{key}'", hint)
            ok = False
    deck = header.get("deck")
    if not isinstance(deck, str) or not deck.strip() or any(not part.strip() for part in deck.split("::")):
        errors.add(Location(path, line_of("deck")), "front matter needs 'deck', the Anki deck name", "write e.g. 'deck: 深度学习面试::卷积' (levels separated by '::', none empty)")
        ok = False
    deck_id = header.get("id")
    if not isinstance(deck_id, str) or not ID_RE.match(deck_id):
        shown = f" (got {reprlib.repr(deck_id)})" if deck_id is not None else ""  # bounded: YAML aliases can nest a billion deep
        errors.add(Location(path, line_of("id")), f"front matter needs 'id', a stable deck id{shown}", "use lowercase letters, digits and '-', e.g. 'id: conv'; never change it once published")
        ok = False
    elif deck_id == ALL_PACKAGE:
        errors.add(Location(path, line_of("id")), f"deck id '{ALL_PACKAGE}' is reserved for the package with every topic", "choose another id")
        ok = False
    elif deck_id in WINDOWS_NAMES:
        errors.add(Location(path, line_of("id")), f"deck id '{deck_id}' is a reserved file name on Windows, so {deck_id}.apkg could not be saved there", f"choose another id, e.g. '{deck_id}-deck'")
        ok = False
    tags = header.get("tags", [])
    if isinstance(tags, str):
        tags = tags.split()
    if not isinstance(tags, list) or not all(isinstance(t, str) and TAG_RE.match(t) for t in tags):
        errors.add(Location(path, line_of("tags")), "front matter 'tags' must be a list of words without spaces", "write e.g. 'tags: [cnn, vision]'")
        ok = False
    description = header.get("description", "")
    if not isinstance(description, str):
        errors.add(Location(path, line_of("description")), "front matter 'description' must be text", "write e.g. 'description: 卷积与感受野'")
        ok = False
    allow_scripts = header.get("allow_scripts", False)
    if not isinstance(allow_scripts, bool):
        errors.add(Location(path, line_of("allow_scripts")), f"front matter 'allow_scripts' must be true or false (got {reprlib.repr(allow_scripts)})", "write 'allow_scripts: true' only if this deck's cards really need scripts, else remove the line")
        ok = False
    elif isinstance(description, str) and not allow_scripts:
        for problem, _ in unsafe_html(description):
            errors.add(Location(path, line_of("description")), f"{problem} in the deck description", SCRIPT_HINT)
            ok = False
    if not ok:
        return None
    deck = "::".join(p.strip() for p in deck.split("::"))
    return {"deck": deck, "id": deck_id, "tags": tags, "description": description.strip(), "allow_scripts": allow_scripts}


def _notes(lines: list[str], start: int, path: str, errors: ErrorList, allow_scripts: bool = False) -> list[Note]:
    """Split the body at `##` headings (outside fenced code) and parse each note."""
    headings = []
    fence = None
    for i in range(start, len(lines)):
        match = FENCE_RE.match(lines[i])
        if fence:
            if lines[i].strip() and set(lines[i].strip()) == {fence[0]} and len(lines[i].strip()) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(2)
            continue
        if HEADING_RE.match(lines[i]):
            headings.append(i)
    preamble = next((i for i in range(start, headings[0] if headings else len(lines)) if lines[i].strip()), None)
    if preamble is not None and headings:
        errors.add(Location(path, preamble + 1), "text before the first note belongs to no card", "move it under a '## question {#id}' heading, or into the front matter 'description'")
    notes, seen = [], {}
    for n, i in enumerate(headings):
        end = headings[n + 1] if n + 1 < len(headings) else len(lines)
        note = _note(lines, i, end, path, errors, allow_scripts)
        if note is None:
            continue
        if note.note_id in seen:
            errors.add(note.location, f"duplicate note id '{note.note_id}' (first used on line {seen[note.note_id]})", "give each note its own id; ids identify cards in users' collections")
            continue
        seen[note.note_id] = note.location.line
        notes.append(note)
    return notes


def _note(lines: list[str], start: int, end: int, path: str, errors: ErrorList, allow_scripts: bool = False) -> Note | None:
    where = Location(path, start + 1)
    title = HEADING_RE.match(lines[start]).group(1)
    id_match = HEADING_ID_RE.match(title)
    if not id_match:
        errors.add(where, "note has no id", "add ' {#some-id}' at the end of the heading, or run 'deckgen ids --write' to add ids to every note")
        return None
    title, note_id = id_match.group(1).strip(), id_match.group(2).strip()
    if not ID_RE.match(note_id):
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
        kind = NoteKind.CLOZE if CLOZE_OPEN_RE.search(raw) else NoteKind.BASIC
    tokens = _Tokens()
    question = [(title, start + 1), _part(body[:split] if split is not None else [], body_start)]
    answer_start = body_start + (split + 1 if split is not None else 0)
    answer = [_part(body[split + 1 :] if split is not None else body, answer_start)]
    if kind is NoteKind.CLOZE and split is None:
        # A cloze note's deletions live in the body: without '???' title and body form the text.
        question, answer = question[:1] + answer, []
    front_scan = _scan_parts(question, path, errors, tokens, allow_scripts)
    back_scan = _scan_parts(answer, path, errors, tokens, allow_scripts)
    if kind is NoteKind.CLOZE:
        _check_cloze(front_scan.text, [f.tex for _, f in front_scan.formulas], where, errors)
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
    )


def _leading_blank(lines: list[str]) -> int:
    return next((k for k, line in enumerate(lines) if line.strip()), 0)


def _part(lines: list[str], first_index: int) -> tuple[str, int]:
    """A run of lines without its blank edges, and the 1-based line its first kept line is on."""
    lead = _leading_blank(lines)
    return "\n".join(lines).strip("\n"), first_index + 1 + lead


def _scan_parts(parts: list[tuple[str, int]], path: str, errors: ErrorList, tokens: _Tokens, allow_scripts: bool = False) -> Scanned:
    """Scan each part with its own line numbers and join them as paragraphs."""
    merged = Scanned(text="")
    texts = []
    for text, first_line in parts:
        if not text.strip():
            continue
        part = scan(text, path, first_line, errors, tokens, allow_scripts)
        texts.append(part.text)
        merged.formulas += part.formulas
        merged.media += part.media
        merged.sympy_blocks += part.sympy_blocks
    merged.text = "\n\n".join(texts)
    return merged


def _meta(lines, start, end, path, errors: ErrorList) -> tuple[dict, int]:
    """Read `tags:` / `type:` lines directly under the heading."""
    meta: dict = {}
    i = start
    while i < end:
        match = META_RE.match(lines[i])
        if not match:
            break
        key, value = match.groups()
        if key == "tags":
            tags = value.replace(",", " ").split()
            bad = [t for t in tags if not TAG_RE.match(t)]
            if bad:
                errors.add(Location(path, i + 1), f"invalid tag {bad[0]!r}", "tags are words without spaces or quotes, separated by spaces")
            meta["tags"] = tags
        else:
            try:
                meta["type"] = NoteKind(value.strip().lower())
            except ValueError:
                errors.add(Location(path, i + 1), f"unknown note type '{value}'", f"use one of: {', '.join(k.value for k in NoteKind)}")
        i += 1
    return meta, i


def _check_cloze(text: str, formulas: list[str], where: Location, errors: ErrorList) -> None:
    """Every `{{cN::` needs a number and a closing `}}`.

    Formulas are tokens in `text`, so TeX braces don't disturb the count; deletions inside
    formulas are checked by cloze.strip when the formula itself is checked.
    """
    opens = list(CLOZE_OPEN_RE.finditer(text))
    if not opens and not any(CLOZE_OPEN_RE.search(tex) for tex in formulas):
        errors.add(where, "cloze note has no deletion", "mark the text to hide as {{c1::text}}, or remove 'type: cloze'")
        return
    for match in opens:
        if not match.group(1) or int(match.group(1)) == 0:
            errors.add(where, f"cloze deletion '{match.group()}' has no number", "number deletions from 1: {{c1::...}}, {{c2::...}}")
    depth = 0
    for piece in re.finditer(r"\{\{c\d*::|\}\}", text):
        depth += 1 if piece.group().startswith("{{") else -1
        if depth < 0:
            errors.add(where, "a '}}' closes no cloze deletion", "remove it, or open the deletion with {{c1::")
            return
    if depth > 0:
        errors.add(where, "a cloze deletion is never closed", "end each {{c1::... with }}")


def strip_tokens(text: str) -> str:
    """The note text with tokens removed, for search and duplicate detection."""
    return TOKEN_RE.sub(" ", text)
