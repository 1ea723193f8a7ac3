"""An edited topic is parsed again only where it changed (source/parse.NoteMemo), and the memo
never hides a problem or a moved line."""
from __future__ import annotations

from conftest import read_package, topic
from deckgen import BuildConfig, build
from deckgen.builder import store
from deckgen.errors import BuildFailed, ErrorList
from deckgen.runtime.cache import Cache
from deckgen.runtime.keys import Kind, parsed_key
from deckgen.source.parse import NoteMemo, parse_topic

PATH = "content/a.md"


def _parse(text: str, memo: NoteMemo) -> dict:
    errors = ErrorList()
    parsed = parse_topic(text.encode(), PATH, errors, memo)
    assert parsed is not None and not errors, errors
    return {note.note_id: note for note in parsed.notes}


def test_unchanged_notes_are_taken_from_the_memo_and_edited_ones_parsed_again():
    text = topic("a", 5)
    first = NoteMemo()
    before = _parse(text, first)
    again = NoteMemo(first.now)
    after = _parse(text.replace("答案 2：", "答案 2（改）："), again)
    assert [note_id for note_id in after if after[note_id] is before[note_id]] == ["a-q0", "a-q1", "a-q3", "a-q4"]
    assert "（改）" in after["a-q2"].back and after["a-q2"] == _parse(text.replace("答案 2：", "答案 2（改）："), NoteMemo())["a-q2"]
    assert set(again.now) != set(first.now) and again.worth_saving()  # one note in five


def test_a_note_below_an_added_line_is_parsed_again_with_its_new_line():
    text = topic("a", 3)
    memo = NoteMemo()
    before = _parse(text, memo)
    after = _parse(text.replace("- 答案 0：", "\n- 答案 0："), NoteMemo(memo.now))
    assert after["a-q1"] is not before["a-q1"]
    assert after["a-q1"].location.line == before["a-q1"].location.line + 1
    assert [f.location.line for _, f in after["a-q1"].formulas] == [f.location.line + 1 for _, f in before["a-q1"].formulas]


def test_a_note_with_a_problem_is_never_remembered():
    broken = topic("a", 3).replace("- 答案 1：$a_{1} * b$", "- 答案 1：<script>alert(1)</script>")
    memo = NoteMemo()
    errors = ErrorList()
    parse_topic(broken.encode(), PATH, errors, memo)
    assert [str(e) for e in errors] and sorted(note.note_id for note in memo.now.values()) == ["a-q0", "a-q2"]


def test_every_rebuild_reports_the_error_and_its_line_until_it_is_fixed(project):
    root = project({PATH: topic("a", 20)})
    build(BuildConfig(root=root))
    path = root / PATH
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("- 答案 7：", "- 答案 7：<iframe src=x> "), encoding="utf-8")
    messages = []
    for _ in range(2):  # the second build finds every other note in the memo
        try:
            build(BuildConfig(root=root))
        except BuildFailed as failed:
            messages.append([str(e) for e in failed.errors])
    assert len(messages) == 2 and messages[0] == messages[1] and messages[0]
    line = good.split("\n").index("- 答案 7：$a_{7} * b$") + 1
    assert all(m.startswith(f"{PATH}:{line}:") for m in messages[0]), messages
    path.write_text(good, encoding="utf-8")
    assert build(BuildConfig(root=root)).notes == 20


def test_the_notes_of_a_file_are_remembered_from_its_first_edit_on(project):
    root = project({PATH: topic("a", 4), "content/b.md": topic("b", 4)})
    build(BuildConfig(root=root))
    cache = Cache(root / ".deckgen-cache")
    assert cache.get(Kind.PARSED, parsed_key(PATH)) is None  # a first build saves no memo
    path = root / PATH
    path.write_text(path.read_text(encoding="utf-8").replace("答案 1：", "答案 1（改）："), encoding="utf-8")
    build(BuildConfig(root=root))
    assert len(store.load_parsed(cache, PATH).earlier) == 4
    assert cache.get(Kind.PARSED, parsed_key("content/b.md")) is None


def test_a_small_edit_keeps_the_memo_and_a_bigger_one_renews_it(project):
    """Writing the memo costs about what parsing a tenth of the file does: after an edit of one
    note in thirty, the next build parses two notes rather than paying for a new memo."""
    root = project({PATH: topic("a", 30)})
    build(BuildConfig(root=root))
    path = root / PATH
    cache = Cache(root / ".deckgen-cache")
    path.write_text(path.read_text(encoding="utf-8").replace("答案 1：", "答案 1（改）："), encoding="utf-8")
    build(BuildConfig(root=root))
    first = store.load_parsed(cache, PATH).earlier
    assert len(first) == 30
    path.write_text(path.read_text(encoding="utf-8").replace("答案 2：", "答案 2（改）："), encoding="utf-8")
    report = build(BuildConfig(root=root))
    assert store.load_parsed(cache, PATH).earlier.keys() == first.keys()  # one note in thirty: not written again
    answers = [note.fields[1] for note in read_package(root / "dist/all.apkg").notes]
    assert report.notes == 30 and sum("（改）" in answer for answer in answers) == 2  # the note the memo missed is parsed
    for i in range(3, 7):
        path.write_text(path.read_text(encoding="utf-8").replace(f"答案 {i}：", f"答案 {i}（改）："), encoding="utf-8")
    build(BuildConfig(root=root))
    renewed = store.load_parsed(cache, PATH).earlier
    assert len(renewed) == 30 and len(renewed.keys() - first.keys()) == 5  # notes 2 to 6 now, as they are


def test_an_unreadable_memo_is_parsed_again(project):
    root = project({PATH: topic("a", 4)})
    first = build(BuildConfig(root=root, now=1_800_000_000))
    packages = {p.name: p.read_bytes() for p in (root / "dist").iterdir()}
    cache = Cache(root / ".deckgen-cache")
    cache.put(Kind.PARSED, parsed_key(PATH), b"not a pickle")
    assert store.load_parsed(cache, PATH).earlier == {}
    path = root / PATH
    path.write_text(path.read_text(encoding="utf-8") + "\n## 新问题 {#a-new}\n\n新答案\n", encoding="utf-8")
    report = build(BuildConfig(root=root, now=1_800_000_000))
    assert report.notes == first.notes + 1
    path.write_text(path.read_text(encoding="utf-8").replace("\n## 新问题 {#a-new}\n\n新答案\n", ""), encoding="utf-8")
    build(BuildConfig(root=root, now=1_800_000_000))
    assert {p.name: p.read_bytes() for p in (root / "dist").iterdir()} == packages


class _Exploit:
    """Unpickled by plain pickle, this runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_cache_entry_that_would_run_code_is_a_miss_not_run(project, tmp_path):
    root = project({PATH: topic("a", 4)})
    first = build(BuildConfig(root=root, now=1_800_000_000))
    marker = tmp_path / "ran"
    import pickle

    cache = Cache(root / ".deckgen-cache")
    cache.put(Kind.PARSED, parsed_key(PATH), pickle.dumps({"x": _Exploit(marker)}))
    for key in store.load_state(root / ".deckgen-cache").topics.values():
        cache.put(Kind.TOPIC, key, pickle.dumps(_Exploit(marker)))
    assert cache.get_records(Kind.TOPIC, key) is None
    path = root / PATH
    path.write_text(path.read_text(encoding="utf-8").replace("答案 1：", "答案 1（改）："), encoding="utf-8")
    report = build(BuildConfig(root=root, now=1_800_000_100))
    assert report.notes == first.notes and [d.changed for d in report.changes] == [("a/a-q1",)]
    assert not marker.exists()


def test_a_build_pauses_the_cycle_collector_and_gives_it_back_even_when_it_fails(project):
    """No collection runs while a build works (one may run as it ends, when the collector is given
    back); `deckgen watch` builds again and again in one process, so the collector must be on
    again after every build, a failed one too."""
    import gc

    root = project({PATH: topic("a", 300)})
    inside, collections = [False], []
    callback = lambda phase, info: collections.append(phase) if inside[0] else None  # noqa: E731

    def build_counted() -> None:
        inside[0] = True
        try:
            build(BuildConfig(root=root))
        finally:
            inside[0] = False

    gc.callbacks.append(callback)
    try:
        build_counted()
        assert gc.isenabled()
        (root / PATH).write_text(topic("a", 300).replace("答案 1：", "答案 1：<script>x</script>"), encoding="utf-8")
        try:
            build_counted()
        except BuildFailed:
            pass
        else:
            raise AssertionError("the build with a <script> passed")
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(callback)
    assert collections.count("start") <= 2, f"{collections.count('start')} collections in 2 builds"
