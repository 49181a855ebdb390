"""The step-gain table (benchmarks.recipes.step_gains): gains over the previous or the first run, the
multilingual recipe's means, and one usage error for a run it cannot read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.recipes.step_gains import bundle_rows, run_scores

REPO = Path(__file__).resolve().parents[2]


def _run(folder: Path, scifact: float, extra: dict | None = None) -> Path:
    """A recipe run folder whose scores.json has a trained model and a 256-dim int8 bundle."""
    tasks = {"retrieval:scifact-train": {"64": scifact - 10, "256": scifact}, **(extra or {})}
    bundle = {task: {"256": by_dim["256"]} for task, by_dim in tasks.items()}
    folder.mkdir(parents=True)
    scores = {"trained": tasks, "trained, bundle 256 int8": bundle}
    (folder / "scores.json").write_text(json.dumps({"scores": scores}))
    return folder


def test_gains_are_over_the_previous_run_or_over_the_first(tmp_path):
    """50 -> 52 -> 51: +2 then -1 step by step; +2 then +1 against the first run."""
    runs = [(str(s), run_scores(_run(tmp_path / str(s), s))) for s in (50.0, 52.0, 51.0)]
    tasks = ["retrieval:scifact-train"]
    assert [r["gain retrieval:scifact-train"] for r in bundle_rows(runs, tasks)] == [None, "+2.00", "-1.00"]
    against = bundle_rows(runs, tasks, against_first=True)
    assert [r["gain retrieval:scifact-train"] for r in against] == [None, "+2.00", "+1.00"]


def test_a_multilingual_run_gets_the_means_of_its_languages(tmp_path):
    """Per-language STS-B (English left out) and FLORES tasks are averaged into the two summary tasks."""
    extra = {
        "sts:stsb-en-dev": {"256": 90.0},
        "sts:stsb-de-dev": {"256": 70.0},
        "sts:stsb-fr-dev": {"256": 80.0},
        "parallel:flores300-de": {"256": 88.0},
        "parallel:flores300-ko": {"256": 60.0},
    }
    scores = run_scores(_run(tmp_path / "ml", 20.0, extra))
    assert scores["trained"]["mean:stsb-dev-10-non-english"] == {"256": 75.0}
    assert scores["trained"]["mean:flores300-top1-20"] == {"256": 74.0}


def test_the_command_writes_the_table_and_refuses_an_unknown_task(tmp_path):
    """A table, its JSON and plot for two runs; a task no run has is a usage error naming it."""
    a, b = _run(tmp_path / "a", 50.0), _run(tmp_path / "b", 53.0)
    command = [sys.executable, "-m", "benchmarks.recipes.step_gains", f"base={a}", f"step={b}", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| step | retrieval:scifact-train | gain retrieval:scifact-train |" in (tmp_path / "steps.md").read_text()
    assert (tmp_path / "steps.png").stat().st_size > 0
    refused = subprocess.run([*command, "--tasks", "sts:nope"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "has no task sts:nope" in refused.stderr and "Traceback" not in refused.stderr
