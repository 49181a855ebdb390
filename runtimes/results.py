"""One writer for every results table: Markdown for people, JSON for programs, both naming their command.

Benchmarks, `static-edge bench`, `static-edge eval` and the recipes all publish numbers the same way:
`NAME.md` (title, the command that produced it, the machine, a table, notes) and `NAME.json` (the same
rows and any extra data). Plots are the caller's (a PNG beside these, same NAME).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def machine() -> str:
    """A one-line description of this machine: CPU model, cores, Python."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> list[str]:
    """Rows as Markdown table lines; numbers right-aligned, floats with 2 decimals unless already strings."""
    if not rows:
        return []
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return "" if value is None else str(value)

    numeric = [all(isinstance(r.get(c), int | float) for r in rows if r.get(c) is not None) for c in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def write_results(
    out: str | os.PathLike[str],
    name: str,
    *,
    title: str,
    command: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    notes: Sequence[str] = (),
    sections: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    data: Mapping[str, Any] | None = None,
) -> Path:
    """Write `out/NAME.md` and `out/NAME.json`; returns the Markdown path.

    :param rows: the main table, one mapping per row (column -> value).
    :param columns: column order (default: the first row's keys).
    :param notes: paragraphs printed under the table(s).
    :param sections: more tables, each under its own `## heading`.
    :param data: extra JSON-ready data stored beside the rows.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", "", f"Command: `{command}`", "", f"Machine: {machine()}", ""]
    lines += markdown_table(rows, columns)
    for heading, table in (sections or {}).items():
        lines += ["", f"## {heading}", "", *markdown_table(table)]
    for note in notes:
        lines += ["", note]
    md = out / f"{name}.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload = {"title": title, "command": command, "machine": machine(), "rows": list(rows), **(data or {})}
    if sections:
        payload["sections"] = {k: list(v) for k, v in sections.items()}
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return md
