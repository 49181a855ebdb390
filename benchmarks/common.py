"""What every benchmark shares: its command line, its figures, and publishing a results table with its plot.

A benchmark module parses options with `parser(__doc__)`, draws with `figure(...)` and `save(fig, path)`, and
writes NAME.md, NAME.json (static_edge.runtimes.results) and NAME.png in one call to `publish`, which records
the command line that produced them (`command_line`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path("benchmarks/results")
"""Where the committed tables and plots live (relative to the repository root, where benchmarks run)."""
DATA = Path("../shared/data")
"""The shared data sets (never shipped), relative to the repository root."""
CACHE = Path("benchmarks/.cache")
"""Teachers, distilled starts, text files and exports a later run reuses."""


def parser(doc: str | None, *, out: Path | None = RESULTS) -> argparse.ArgumentParser:
    """An option parser whose help is the module's docstring; with `out`, an `--out` folder defaulting to it."""
    made = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if out is not None:
        made.add_argument("--out", type=Path, default=out, help="folder for the tables and plots")
    return made


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """`python -m MODULE ARGS...`: the command that reproduces this run (`argv` defaults to `sys.argv[1:]`)."""
    words = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", "-m", module, *map(shlex.quote, words)])


def figure(columns: int = 1, size: tuple[float, float] = (7, 4.5), **options: Any) -> tuple[Any, Any]:
    """A matplotlib figure and its axes, drawn off-screen (Agg): `plt.subplots(1, columns, figsize=size, ...)`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=size, **options)


def save(fig: Any, path: Path, dpi: int | None = 120) -> Path:
    """Lay out, write the PNG and close the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, **({"dpi": dpi} if dpi else {}))
    plt.close(fig)
    return path


def publish(
    out: Path,
    name: str,
    module: str,
    *,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    plot: Callable[[Path], object] | None = None,
    command: str | None = None,
    **tables: Any,
) -> Path:
    """Write `out/NAME.md` and `out/NAME.json` (with the command line that produced them) and, with `plot`,
    `out/NAME.png` (`plot(path)` draws it); print where they went and return the Markdown path.

    :param module: the benchmark's module, for the recorded command (`command` overrides it).
    :param tables: `columns`, `notes`, `sections`, `data`: as static_edge.runtimes.results.write_results.
    """
    from static_edge.runtimes.results import write_results

    command = command or command_line(module)
    md = write_results(out, name, title=title, command=command, rows=rows, **tables)
    written = [md, md.with_suffix(".json")]
    if plot is not None:
        written.append(out / f"{name}.png")
        plot(written[-1])
    print("wrote " + ", ".join(map(str, written)), flush=True)
    return md


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of /proc/PID/status in MB (VmRSS: now; VmHWM: the peak since the last reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak_rss(pid: int | str = "self") -> None:
    """Set the kernel's peak-RSS mark (VmHWM) of a process to its current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def served_sizes(root: Path, paths: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Raw and gzip (level 6) sizes of the files a page fetched, by URL path under `root`, each path once (read from
    disk: the preview server sends them unchanged)."""
    import gzip

    raw, zipped = {}, {}
    for path in dict.fromkeys(paths):
        body = (root / path.lstrip("/")).read_bytes()
        raw[path] = len(body)
        zipped[path] = len(gzip.compress(body, compresslevel=6))
    return raw, zipped


def runs_parser(doc: str | None, name: str, title: str) -> argparse.ArgumentParser:
    """The command line of a tool that compares recipe runs: LABEL=FOLDER runs, --out, --name, --title."""
    made = parser(doc, out=None)
    made.add_argument("runs", nargs="+", help="LABEL=FOLDER holding a recipe's scores.json, in order")
    made.add_argument("--out", type=Path, required=True)
    made.add_argument("--name", default=name)
    made.add_argument("--title", default=title)
    return made


def labelled_runs(made: argparse.ArgumentParser, specs: Sequence[str]) -> list[tuple[str, Path]]:
    """(label, folder) of each LABEL=FOLDER; a spec without a folder holding scores.json is a usage error."""
    runs = []
    for spec in specs:
        label, _, folder = spec.partition("=")
        if not folder or not (Path(folder) / "scores.json").is_file():
            made.error(f"expected LABEL=FOLDER with a scores.json in FOLDER, got {spec!r}")
        runs.append((label, Path(folder)))
    return runs
