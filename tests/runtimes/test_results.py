"""Results tables (runtimes/results.py): NAME.md for people and NAME.json for programs, both naming the command."""

from __future__ import annotations

import json

from static_edge.runtimes.results import machine, markdown_table, write_results

COMMAND = "python -m benchmarks.measure.speed --batch 64 --texts 'a b'"
ROWS = [
    {"variant": "fp32", "texts/s": 12345.678, "bytes": 1048576, "passed": True},
    {"variant": "int8", "texts/s": 234.5, "bytes": 262144, "passed": None},
]


def test_markdown_and_json_hold_the_same_rows_and_the_command(tmp_path):
    """Markdown and JSON hold the same rows and the command."""
    md = write_results(
        tmp_path / "out",
        "speed",
        title="Encoding speed",
        command=COMMAND,
        rows=ROWS,
        notes=["Measured on a busy machine."],
        sections={"Load time": [{"variant": "fp32", "seconds": 0.5}]},
        data={"texts": 1000},
    )
    assert md == tmp_path / "out" / "speed.md"
    assert sorted(p.name for p in md.parent.iterdir()) == ["speed.json", "speed.md"]
    lines = md.read_text(encoding="utf-8").splitlines()
    assert lines[:5] == ["# Encoding speed", "", f"Command: `{COMMAND}`", "", f"Machine: {machine()}"]
    assert "| fp32 | 12,345.68 | 1,048,576 | True |" in lines
    assert "| int8 | 234.50 | 262,144 |  |" in lines  # None prints as an empty cell
    assert lines[lines.index("## Load time") + 2 :][:3] == ["| variant | seconds |", "|---|---:|", "| fp32 | 0.50 |"]
    assert lines[-1] == "Measured on a busy machine."
    payload = json.loads((md.parent / "speed.json").read_text(encoding="utf-8"))
    assert payload["command"] == COMMAND and payload["title"] == "Encoding speed"
    assert payload["rows"] == ROWS and payload["texts"] == 1000  # exact values, not the table's rounding
    assert payload["sections"] == {"Load time": [{"variant": "fp32", "seconds": 0.5}]}
    assert payload["machine"] == machine()


def test_a_rerun_replaces_both_files(tmp_path):
    """A rerun replaces both files."""
    write_results(tmp_path, "r", title="First", command="one", rows=ROWS, sections={"Extra": ROWS})
    write_results(tmp_path, "r", title="Second", command="two", rows=ROWS[:1])
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["command"] == "two" and len(payload["rows"]) == 1 and "sections" not in payload
    assert "Command: `two`" in (tmp_path / "r.md").read_text() and "Extra" not in (tmp_path / "r.md").read_text()


def test_columns_pick_the_order_and_numbers_align_right():
    """Columns pick the order and numbers align right."""
    lines = markdown_table(ROWS, columns=["bytes", "variant"])
    assert lines == ["| bytes | variant |", "|---:|---|", "| 1,048,576 | fp32 |", "| 262,144 | int8 |"]
    assert markdown_table([]) == []


def test_values_json_cannot_hold_are_written_as_text(tmp_path):
    """Values JSON cannot hold are written as text."""
    write_results(tmp_path, "odd", title="t", command="c", rows=[{"path": tmp_path}])
    assert json.loads((tmp_path / "odd.json").read_text())["rows"] == [{"path": str(tmp_path)}]


def test_the_machine_line_names_cores_and_python():
    """The machine line names cores and Python."""
    line = machine()
    assert " cores, Python 3." in line and "\n" not in line
