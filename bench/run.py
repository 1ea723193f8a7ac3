"""Benchmark deckgen at 1,000 and 10,000 notes and on the flagship content, side by side with
markdown-anki-decks and with the genanki packaging floor.

    python bench/run.py                                   # the full run (about 15 minutes)
    python bench/run.py --sizes 1000 --runs 3 --no-flagship

In:  sizes, runs per measurement, a work folder (default bench/.work, reused between runs).
Out: bench/results/results.md (the table), results.png (the plot) and results.json (every sample).

Every number comes from running a real command as a child process: `deckgen` (from a snapshot of
src/deckgen taken at the start, so that code being edited meanwhile cannot change the code key
and turn a no-op build into a full one; byte-compiled, as a user's Python leaves it after the
first run and as pip leaves genanki and the peer), `mdankideck` from its own virtual environment, and
bench/floor.py. For each run: wall time, CPU time of the child and everything it waited for (user
+ system; far less disturbed by other load on the machine than wall time), and peak RSS as
`wait4` reports it (the largest single process of the child's tree). Medians over the runs,
with min and max, and the load average when each measurement started. The floor runs just
before each of our runs on synthetic content, and a ratio to it is the median of the ratios of
those pairs: alternated runs, so that the machine's drift during the benchmark is not a ratio.
"""
from __future__ import annotations

import argparse
import compileall
import dataclasses
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import peer  # noqa: E402

COLD, WARM, NOOP, NOTE, FIGURE = "cold", "cold, figures cached", "no-op", "one-note edit", "one-figure edit"
LOADED = "cold, both cores busy"
PEER, FLOOR = "markdown-anki-decks", "genanki floor"

# The targets of issue 18, as ratios measured in the same run (seconds differ between machines).
FLOOR_RATIO = {WARM: 4.0, NOTE: 0.8, NOOP: 0.1}  # at most this many times the genanki floor
PEER_SPEEDUP = 8.0  # cold with figures cached: at least this many times faster than markdown-anki-decks
LINEAR_FACTOR = 11.0  # 100,000 notes cold: at most this many times the 10,000-note time
MEMORY_TARGET_MB = 1024  # peak RSS at 100,000 notes
FLAGSHIP_COLD_S = 25.0  # the first build a newcomer waits for


class BenchError(Exception):
    """A command under measurement failed; the message holds the end of its stderr."""


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds of user + system time, the child and its waited-for descendants
    rss_mb: float  # peak resident set of the largest process in the child's tree


@dataclass
class Row:
    content: str
    build: str
    samples: list[Sample]
    load: float  # 1-minute load average when the measurement started
    notes: dict = field(default_factory=dict)

    def median(self, attr: str = "wall") -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def spread(self) -> tuple[float, float]:
        walls = [s.wall for s in self.samples]
        return min(walls), max(walls)


def run_child(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> Sample:
    """Run `cmd` to completion; its wall time, CPU time and peak RSS.

    Linux starts a forked child's ru_maxrss at its parent's size, so this process is kept small
    (no content, no matplotlib until the end); its own peak is recorded with the results as the
    smallest RSS a measurement can show.
    """
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # wait4, not wait: it also returns the child's rusage
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise BenchError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{err.read().decode(errors='replace')[-3000:]}")
    return Sample(round(wall, 4), round(usage.ru_utime + usage.ru_stime, 4), round(usage.ru_maxrss / 1024, 1))


@dataclass(frozen=True)
class Commands:
    """How to run each tool; built once per benchmark run."""

    deckgen: list[str]
    deckgen_env: dict
    mdankideck: Path | None

    def build(self, root: Path) -> Sample:
        return run_child([*self.deckgen, "--root", str(root), "--quiet"], env=self.deckgen_env)


def snapshot_code(work: Path) -> Commands:
    """Copy src/deckgen into the work folder and run it from there (see the module docstring)."""
    target = work / "code"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "src" / "deckgen", target / "deckgen", ignore=shutil.ignore_patterns("__pycache__"))
    # Where PYTHONDONTWRITEBYTECODE is set (this machine sets it), every timed run would compile
    # deckgen's modules again (0.03 s an edit); the floor's genanki and the peer were byte-compiled
    # by pip, and a user's own runs leave deckgen compiled after the first.
    compileall.compile_dir(target, quiet=1)
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("DECKGEN_DEBUG", None)
    return Commands([sys.executable, "-m", "deckgen"], env, None)


def clean(root: Path, keep_figures: bool = False) -> None:
    """Remove the cache and dist/; with `keep_figures`, the rendered figures stay cached."""
    cache = root / ".deckgen-cache"
    for path in [*(cache.iterdir() if keep_figures and cache.is_dir() else [cache]), root / "dist"]:
        if keep_figures and path.name == "figure":
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _timed(runs: int, prepare, command) -> tuple[list[Sample], float]:
    """`prepare(run)` then `command()`, `runs` times; the samples and the load when they started."""
    load, samples = os.getloadavg()[0], []
    for run in range(1, runs + 1):
        prepare(run)
        samples.append(command())
    return samples, load


def measure_deckgen(label: str, root: Path, commands: Commands, runs: int, cold_runs: int, figures: bool, floor: Floor | None = None) -> list[Row]:
    """Cold builds, no-op rebuilds, one-note edits and (for synthetic content) cold builds with the
    figures cached and one-figure edits. With `floor`, the floor runs next to each of our runs
    (before it, once the first build has made its input), and each row keeps those times."""
    scenarios = [(COLD, cold_runs, lambda run: clean(root))]
    if figures:  # the per-note work alone: what the 10,000-note cold target is about
        scenarios.append((WARM, cold_runs, lambda run: clean(root, keep_figures=True)))
    scenarios += [(NOOP, runs, lambda run: None), (NOTE, runs, lambda run: generate.edit_note(root, run))]
    if figures:
        scenarios.append((FIGURE, runs, lambda run: generate.edit_figure(root, run)))
    rows = []
    for build, times, prepare in scenarios:
        load, samples, beside = os.getloadavg()[0], [], []
        for run in range(1, times + 1):
            prepare(run)
            before = floor.sample() if floor is not None and floor.ready() else None
            samples.append(commands.build(root))
            if floor is not None:
                if before is None:  # this build made the floor's input: the floor runs just after it
                    floor.start()
                    before = floor.sample()
                beside.append(before.wall)
        rows.append(Row(label, build, samples, load, notes={"floor_beside": beside} if beside else {}))
        _progress(rows[-1])
    return rows


class Floor:
    """genanki alone writing deckgen's packages from the finished HTML of the project's first
    build. Measured beside each of our runs, so that each ratio to it compares two runs made one
    after the other: this machine's speed drifts by a fifth within minutes, which a floor measured
    once at the end (as before) turned into ratios."""

    def __init__(self, root: Path):
        # In a child process: loading 10,000 notes here would grow this process, and a child's
        # ru_maxrss starts from its parent's size at fork (see `run_child`).
        self.root, self.source, self.out = root, root.parent / f"{root.name}-floor-in", root.parent / f"{root.name}-floor-out"
        self.samples: list[Sample] = []
        self.load = 0.0

    def ready(self) -> bool:
        return (self.source / "notes.json").exists()

    def start(self) -> None:
        """Take the notes from the project's all.apkg (untimed)."""
        shutil.rmtree(self.source, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / "floor.py"), "--extract", str(self.root / "dist" / "all.apkg"), str(self.source)], check=True)
        self.load = os.getloadavg()[0]

    def sample(self) -> Sample:
        _empty(self.out)
        self.samples.append(run_child([sys.executable, str(HERE / "floor.py"), str(self.source / "notes.json"), str(self.out)]))
        return self.samples[-1]

    def row(self, label: str) -> Row:
        result = Row(label, FLOOR, self.samples, self.load)
        _progress(result)
        return result


def measure_under_load(label: str, root: Path, commands: Commands) -> Row:
    """One cold build while a busy loop runs on every core: it must pass, only slower."""
    clean(root)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        samples, load = _timed(1, lambda run: None, lambda: commands.build(root))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    result = Row(label, LOADED, samples, load, notes={"busy_loops": len(spinners)})
    _progress(result)
    return result


def measure_peer(label: str, root: Path, commands: Commands, runs: int) -> Row:
    """markdown-anki-decks on the same content; it caches nothing, so every run is a full build."""
    source, out = root.parent / f"{root.name}-peer-in", root.parent / f"{root.name}-peer-out"
    shutil.rmtree(source, ignore_errors=True)
    notes = peer.convert(root / "content", source)
    samples, load = _timed(runs, lambda run: _empty(out), lambda: run_child([str(commands.mdankideck), str(source), str(out)]))
    result = Row(label, PEER, samples, load, notes={"notes": notes})
    _progress(result)
    return result


def _empty(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def flagship(work: Path) -> Path:
    """The committed flagship content (content/ and figures/ at HEAD), copied into the work folder."""
    root = work / "flagship"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD", "content", "figures"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def _progress(row: Row) -> None:
    lo, hi = row.spread()
    print(f"{row.content:>14} | {row.build:<20} median {row.median():7.3f} s  [{lo:.3f}–{hi:.3f}]  cpu {row.median('cpu'):7.3f} s  rss {max(s.rss_mb for s in row.samples):6.1f} MB  load {row.load:.1f}", file=sys.stderr, flush=True)


def label_for(notes: int) -> str:
    return f"{notes:,} notes"


def benchmark(args) -> dict:
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    commands = snapshot_code(work)
    if args.peer:
        commands = dataclasses.replace(commands, mdankideck=peer.ensure_venv(Path(args.peer_venv).resolve()))
    started = {"load": os.getloadavg(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    rows: list[Row] = []
    projects = [(label_for(n), n) for n in args.sizes] + ([("flagship", None)] if args.flagship else [])
    for label, notes in projects:
        if notes is None:
            root = flagship(work)
            cold_runs = min(args.runs, args.flagship_cold_runs)
        else:
            root = work / f"notes-{notes}"
            shutil.rmtree(root, ignore_errors=True)
            generate.generate(root, notes, args.topics or max(10, notes // 1000))
            cold_runs = args.runs
        floor = Floor(root) if notes is not None else None
        shutil.rmtree(root.parent / f"{root.name}-floor-in", ignore_errors=True)
        rows += measure_deckgen(label, root, commands, args.runs, cold_runs, notes is not None, floor)
        if notes is None and args.under_load:
            rows.append(measure_under_load(label, root, commands))
        if floor is not None:
            rows.append(floor.row(label))
            if args.peer:
                rows.append(measure_peer(label, root, commands, args.peer_runs or args.runs))
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "commit": _commit(),
            "started": started,
            "finished": {"load": os.getloadavg(), "time": time.strftime("%Y-%m-%d %H:%M:%S")},
            "runs": args.runs,
            "bench_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
        "rows": [asdict(r) for r in rows],
    }


def _commit() -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def rows_of(results: dict) -> list[Row]:
    return [Row(**dict(r, samples=[Sample(**s) for s in r["samples"]])) for r in results["rows"]]


def table(results: dict) -> str:
    """The results as a Markdown table, with our times as ratios to the floor and the peer on the same content."""
    rows = rows_of(results)
    peer_time = {r.content: r.median() for r in rows if r.build == PEER}
    peer_cpu = {r.content: r.median("cpu") for r in rows if r.build == PEER}
    m = results["machine"]
    lines = [
        f"Measured {m['started']['time']} on {m['cpus']} cores, Python {m['python']}, commit {m['commit']}; "
        f"{m['runs']} runs per measurement (cold flagship builds: fewer). Load average (1, 5, 15 min) at the start "
        f"{_load(m['started']['load'])}, at the end {_load(m['finished']['load'])}: other work shared the machine, "
        "so wall times are upper bounds; CPU time is the steadier number.",
        "",
        "| content | build | median wall s | min–max s | CPU s | peak RSS MB | × floor | × peer, wall | × peer, CPU | target | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        lo, hi = r.spread()
        rss = max(s.rss_mb for s in r.samples)
        to_floor = floor_ratio(r, rows)
        floor = f"{to_floor:.2f}" if to_floor is not None else "–"
        ratio = f"{r.median() / peer_time[r.content]:.2f}" if r.content in peer_time else "–"
        cpu_ratio = f"{r.median('cpu') / peer_cpu[r.content]:.2f}" if r.content in peer_cpu else "–"
        lines.append(
            f"| {r.content} | {r.build} | {r.median():.3f} | {lo:.3f}–{hi:.3f} | {r.median('cpu'):.3f} | {rss:.0f} | "
            f"{floor} | {ratio} | {cpu_ratio} | {'; '.join(verdicts(r, rows))} | {r.load:.1f} |"
        )
    lines += [
        "",
        "- cold: `.deckgen-cache/` and `dist/` removed first (figures are rendered again). cold, figures cached: "
        "the same with the rendered figures left in the cache (every note parsed, checked, rendered and packaged). no-op: nothing changed. "
        "one-note edit: one sentence of one answer changed. one-figure edit: one figure function changed "
        "(the other figure of its script is rendered again with it).",
        "- markdown-anki-decks caches nothing: each of its runs is a full build of the same notes, "
        "converted to its format (figures become local PNG files; it renders no math and computes no figures). "
        "× peer is our median (wall or CPU) divided by markdown-anki-decks' median on the same content.",
        "- genanki floor: genanki alone writing the packages deckgen writes (one per topic plus all.apkg) from the "
        "finished HTML, in one process, run beside each of our runs (just before it). × floor is the median over our runs of "
        "our wall time divided by that of the floor run beside it.",
        f"- targets (issue 18), judged within this run: cold with figures cached ≤ {FLOOR_RATIO[WARM]:g}× the floor and ≥ {PEER_SPEEDUP:g}× "
        f"faster than markdown-anki-decks; one-note edit ≤ {FLOOR_RATIO[NOTE]:g}× the floor; no-op ≤ {FLOOR_RATIO[NOOP]:g}× the floor; "
        f"100,000 notes ≤ {LINEAR_FACTOR:g}× the 10,000-note time with peak RSS ≤ {MEMORY_TARGET_MB} MB; flagship cold ≤ {FLAGSHIP_COLD_S:g} s. "
        f"{LOADED}: a busy loop on every core while the flagship builds cold; it must pass.",
        f"- Peak RSS is `ru_maxrss` of the child (the largest single process of its tree). A child's value starts at "
        f"the size of the benchmark process that forked it ({m.get('bench_rss_mb', 0):.0f} MB at most), so no row can show less.",
    ]
    return "\n".join(lines) + "\n"


def floor_ratio(row: Row, rows: list[Row]) -> float | None:
    """Our time over the floor's: the median of the ratios to the floor run beside each of our
    runs; for results measured before the floor ran beside them, the ratio of the medians."""
    if row.build == FLOOR:
        return 1.0
    beside = row.notes.get("floor_beside")
    if beside:
        return statistics.median(s.wall / f for s, f in zip(row.samples, beside, strict=True))
    floor = next((r for r in rows if r.content == row.content and r.build == FLOOR), None)
    return row.median() / floor.median() if floor is not None else None


def _load(load) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def verdicts(row: Row, rows: list[Row]) -> list[str]:
    """Each target of issue 18 that applies to `row`, met or missed, as ratios within this run."""
    same = {r.build: r for r in rows if r.content == row.content}
    found = []

    def judge(what: str, value: float, limit: float, at_most: bool = True) -> None:
        ok = value <= limit if at_most else value >= limit
        found.append(f"{what} {value:.2f} {'≤' if at_most else '≥'} {limit:g}: {'met' if ok else 'MISSED'}")

    to_floor = floor_ratio(row, rows)
    if row.build in FLOOR_RATIO and FLOOR in same and to_floor is not None:
        judge("× floor", to_floor, FLOOR_RATIO[row.build])
    if row.build == WARM and PEER in same:
        judge("peer ÷ ours", same[PEER].median() / row.median(), PEER_SPEEDUP, at_most=False)
    if row.build in (COLD, WARM) and row.content == "100,000 notes":
        base = next((r for r in rows if r.content == "10,000 notes" and r.build == row.build), None)
        if base is not None:
            judge("× 10,000 notes", row.median() / base.median(), LINEAR_FACTOR)
        judge("peak MB", max(s.rss_mb for s in row.samples), MEMORY_TARGET_MB)
    if row.content == "flagship" and row.build == COLD:
        judge("wall s", row.median(), FLAGSHIP_COLD_S)
    return found


def plot(results: dict, path: Path) -> None:
    """Median wall time (log scale, min–max bars, targets as red ticks) and peak RSS per build."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows_of(results)
    contents = list(dict.fromkeys(r.content for r in rows))
    builds = list(dict.fromkeys(r.build for r in rows))
    width = 0.8 / len(builds)
    fig, (times, memory) = plt.subplots(1, 2, figsize=(13, 4.8))
    for b, build in enumerate(builds):
        for c, content in enumerate(contents):
            r = next((r for r in rows if r.content == content and r.build == build), None)
            if r is None:
                continue
            x = c + (b - (len(builds) - 1) / 2) * width
            lo, hi = r.spread()
            color = f"C{b}"
            times.bar(x, r.median(), width, color=color)
            times.errorbar(x, r.median(), yerr=[[r.median() - lo], [hi - r.median()]], color="black", capsize=2, linewidth=0.8)
            memory.bar(x, max(s.rss_mb for s in r.samples), width, color=color)
    for ax, title in ((times, "wall time, median (s, log scale)"), (memory, "peak RSS (MB)")):
        ax.set_xticks(range(len(contents)), contents)
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    times.set_yscale("log")
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{b}") for b in range(len(builds))]
    fig.legend(handles, builds, loc="lower center", ncol=len(builds), fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "results.md").write_text("# deckgen benchmark\n\n" + table(results), encoding="utf-8")
    plot(results, out / "results.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="note counts of the synthetic content (default: 1000 10000)")
    parser.add_argument("--topics", type=int, default=0, help="topics the synthetic notes are spread over (default: one per 1,000 notes, at least 10)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default: 5)")
    parser.add_argument("--flagship-cold-runs", type=int, default=3, help="cold builds of the flagship content, which render every figure (default: 3)")
    parser.add_argument("--peer-runs", type=int, default=0, help="runs of markdown-anki-decks (default: --runs; it takes minutes at 100,000 notes)")
    parser.add_argument("--no-flagship", dest="flagship", action="store_false", help="skip the flagship content")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip markdown-anki-decks")
    parser.add_argument("--under-load", action="store_true", help="also build the flagship cold while a busy loop runs on every core")
    parser.add_argument("--peer-venv", default=str(HERE / ".venv-peer"), help="virtual environment for markdown-anki-decks (created on first use)")
    parser.add_argument("--work", default=str(HERE / ".work"), help="folder for the generated projects (default: bench/.work)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the table, plot and raw results (default: bench/results)")
    args = parser.parse_args(argv)
    try:
        results = benchmark(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    write_results(results, Path(args.out))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
