"""The packaging floor: plain genanki writing notes that are already rendered.

In:  (`extract`) a `.apkg` that deckgen built holding every topic; (`main`, run as a child
     process) the JSON `extract` wrote and an output folder.
Out: the same packages deckgen writes (one per deck plus one with every deck), built with genanki
     from the finished field HTML, so the time it takes is what packaging alone costs: no parsing,
     no rendering, no caching, no lock file.

    python bench/floor.py --extract ALL.apkg DEST    # untimed: writes DEST/notes.json and the media
    python bench/floor.py DEST/notes.json OUT_DIR    # timed
"""
from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path


def extract(apkg: Path, dest: Path) -> Path:
    """Write `dest/notes.json` and the package's media files; return the JSON's path."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(apkg) as z, tempfile.TemporaryDirectory() as tmp:
        z.extract("collection.anki2", tmp)
        media = json.loads(z.read("media"))
        for number, name in media.items():
            (dest / name).write_bytes(z.read(number))
        db = sqlite3.connect(Path(tmp) / "collection.anki2")
        models_json, decks_json = db.execute("select models, decks from col").fetchone()
        rows = db.execute(
            "select n.guid, n.mid, n.flds, n.tags, min(c.did) from notes n join cards c on c.nid = n.id group by n.id order by n.id"
        ).fetchall()
        db.close()
    models = {
        mid: {"name": m["name"], "fields": [f["name"] for f in m["flds"]], "css": m["css"], "cloze": m["type"] == 1,
              "templates": [{"name": t["name"], "qfmt": t["qfmt"], "afmt": t["afmt"]} for t in m["tmpls"]]}
        for mid, m in json.loads(models_json).items()
    }
    decks = {int(did): d["name"] for did, d in json.loads(decks_json).items()}
    notes = [{"guid": g, "model": str(mid), "fields": flds.split("\x1f"), "tags": tags.split(), "deck": decks[did]}
             for g, mid, flds, tags, did in rows]
    out = dest / "notes.json"
    out.write_text(json.dumps({"models": models, "notes": notes, "media": sorted(media.values())}, ensure_ascii=False), encoding="utf-8")
    return out


def write_packages(notes_json: Path, out_dir: Path) -> int:
    """One package per deck and one with every deck, as deckgen writes; return the note count."""
    import genanki

    data = json.loads(notes_json.read_text(encoding="utf-8"))
    models = {
        mid: genanki.Model(int(mid), m["name"], fields=[{"name": f} for f in m["fields"]], templates=m["templates"],
                           css=m["css"], model_type=genanki.Model.CLOZE if m["cloze"] else genanki.Model.FRONT_BACK)
        for mid, m in data["models"].items()
    }
    media = [str(notes_json.parent / name) for name in data["media"]]
    by_deck: dict[str, list] = {}
    for n in data["notes"]:
        by_deck.setdefault(n["deck"], []).append(genanki.Note(model=models[n["model"]], fields=n["fields"], tags=n["tags"], guid=n["guid"]))

    def deck(number: int, name: str) -> genanki.Deck:
        d = genanki.Deck(1 << 30 | number, name)
        for note in by_deck[name]:
            d.add_note(note)
        return d

    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(by_deck)
    for i, name in enumerate(names):
        genanki.Package(deck(i, name), media_files=media).write_to_file(out_dir / f"deck-{i}.apkg", timestamp=1)
    genanki.Package([deck(i, name) for i, name in enumerate(names)], media_files=media).write_to_file(out_dir / "all.apkg", timestamp=1)
    return len(data["notes"])


if __name__ == "__main__":
    if sys.argv[1] == "--extract":
        extract(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        write_packages(Path(sys.argv[1]), Path(sys.argv[2]))
