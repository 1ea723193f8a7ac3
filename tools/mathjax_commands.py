"""Write src/deckgen/data/mathjax_commands.json: every control sequence and environment that
Anki's MathJax knows, read from the TeX input jax of Anki's own build with Anki's configuration.

Run it again when the `anki` pin (and so Anki's MathJax) changes:

    python tools/mathjax_commands.py

It loads Anki's MathJax in headless Chromium (deckgen.runtime.browser), asks the TeX parser for the
names in every macro and environment map it was configured with, and writes them sorted, so
the file only changes when MathJax's vocabulary does.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from deckgen.math import mathjax
from deckgen.runtime import browser

OUT = Path(__file__).resolve().parent.parent / "src/deckgen/data/mathjax_commands.json"

_SCRIPT = """
MathJax.startup.promise.then(() => {
  const handlers = MathJax.startup.document.inputJax[0].parseOptions.handlers;
  const maps = (kind) => handlers.get(kind)._configuration.items.map((entry) => entry.item).filter((map) => map.map);
  const delimiterMaps = new Set(maps("delimiter"));
  const names = (list) => Array.from(new Set(list.flatMap((map) => Array.from(map.map.keys()))));
  const result = {
    mathjax: MathJax.version,
    macros: names(maps("macro").filter((map) => !delimiterMaps.has(map))),
    delimiters: names(maps("delimiter")),
    environments: names(maps("environment")),
  };
  document.getElementById("deckgen-result").textContent = JSON.stringify(result).replace(/</g, "\\\\u003c");
});
"""


def main() -> int:
    url = browser.file_url(mathjax.mathjax_dir())
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"{mathjax.script_tags(url)}</head><body>"
        f'<script type="application/json" id="{browser.RESULT_ID}"></script>'
        f"<script>{_SCRIPT}</script></body></html>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "commands.html"
        path.write_text(page, encoding="utf-8")
        found = browser.result_json(browser.run_page(browser.file_url(path)).dom)
    if not found:
        print("MathJax did not report its commands", file=sys.stderr)
        return 1
    # Delimiter maps name control sequences with their backslash ("\\langle") and also hold
    # plain characters ("(", "<"); only the control sequences are commands.
    commands = set(found["macros"])
    commands.update(name[1:] for name in found["delimiters"] if name.startswith("\\") and len(name) > 1)
    data = {
        "source": {"anki": mathjax.anki_version(), "mathjax": found["mathjax"], "config": "Anki's mathjax.js"},
        "commands": sorted(commands),
        "delimiters": sorted(set(found["delimiters"])),
        "environments": sorted(set(found["environments"])),
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['commands'])} commands, {len(data['environments'])} environments (MathJax {found['mathjax']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
