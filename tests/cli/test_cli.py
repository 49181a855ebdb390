"""The `static-edge` command line: a thin shell whose errors are one line, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import read_manifest


def test_cli_export_then_check(tmp_path, st_wordpiece, capsys):
    """CLI export then check."""
    out = tmp_path / "cli-bundle"
    assert main(["export", str(st_wordpiece), "--dims", "64", "--int8", "-o", str(out)]) == 0
    assert "model_quantized.onnx" in capsys.readouterr().out
    assert main(["check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "all tolerances met" in printed and "int8 vs fp32" in printed
    assert read_manifest(out).parity["passed"] is True


def test_cli_check_fails_when_tolerance_missed(tmp_path, st_wordpiece, st_unigram, capsys):
    """CLI check fails when tolerance missed."""
    out = tmp_path / "b"
    export(st_wordpiece, out, ExportOptions(dims=64))
    # Compare against a different model: tokens and vectors disagree, so check must fail.
    assert main(["check", str(out), "--reference", str(st_unigram)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert read_manifest(out).parity["passed"] is False


def test_cli_errors_are_one_line_not_tracebacks(tmp_path, st_wordpiece, capsys):
    """CLI errors are one line not tracebacks."""
    assert main(["export", str(st_wordpiece), "--dims", "999", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "dims 999 is larger" in err and "Traceback" not in err
    assert main(["check", str(tmp_path / "nothing")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("not a bundle")
    assert main(["encode", str(tmp_path / "a-file"), "hello"]) == 2
    assert f"{tmp_path / 'a-file'} is a file, not a bundle folder" in capsys.readouterr().err


@pytest.mark.slow  # end to end: export and check in a child process
def test_export_and_check_never_import_torch(tmp_path, m2v_model):
    """The base install (runtimes + exporter) works without torch: export and load a model2vec model."""
    code = (
        "import sys; from static_edge.cli import main;"
        f"rc = main(['export', {str(m2v_model)!r}, '--int8', '-o', {str(tmp_path / 'b')!r}]);"
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'; print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr
    assert json.loads((tmp_path / "b" / "static_edge.json").read_text())["source"]["kind"] == "model2vec"


def test_cli_encode(st_bundle, capsys):
    """CLI encode."""
    assert main(["encode", str(st_bundle), "hello world", "--backend", "numpy"]) == 0
    assert "dims=128" in capsys.readouterr().out


def test_cli_web_errors(st_bundle, tmp_path, capsys):
    """CLI web errors."""
    assert main(["web", str(st_bundle), "--corpus", str(tmp_path / "missing.txt")]) == 2
    assert f"input file not found: {tmp_path / 'missing.txt'}" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    assert main(["web", str(st_bundle), "--corpus", str(empty)]) == 2
    assert "corpus is empty" in capsys.readouterr().err
    assert main(["web", str(tmp_path)]) == 2
    assert "not a static-edge bundle" in capsys.readouterr().err


def test_cli_web_reads_one_passage_a_line_as_encode_does(st_bundle, tmp_path, capsys):
    """Only "\\n" (or "\\r\\n") ends a passage: a form feed or U+2028 inside one stays in it; a folder is refused."""
    bundle = shutil.copytree(st_bundle, tmp_path / "b")
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes("one\x0ctwo\u2028three\r\nfour\x85five\n\n".encode())
    assert main(["web", str(bundle), "--corpus", str(corpus)]) == 0
    assert json.loads((bundle / "web" / "corpus.json").read_text()) == ["one\x0ctwo\u2028three", "four\x85five"]
    assert main(["web", str(bundle), "--corpus", str(tmp_path)]) == 2
    assert f"input file is a folder, not a file: {tmp_path}" in capsys.readouterr().err


def test_cli_web_reads_every_format_encode_reads(st_bundle, tmp_path):
    """A gzipped text file, JSONL and CSV give the page the same passages, as `encode -o` reads them."""
    import gzip

    passages = ["a dog runs in the park", "stock markets fell", "caf\u00e9 au lait"]
    with gzip.open(tmp_path / "corpus.txt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(passages) + "\n")
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in passages), encoding="utf-8")
    (tmp_path / "corpus.csv").write_text("text\n" + "\n".join(passages) + "\n", encoding="utf-8")
    for name in ("corpus.txt.gz", "corpus.jsonl", "corpus.csv"):
        bundle = shutil.copytree(st_bundle, tmp_path / f"b-{name}")
        assert main(["web", str(bundle), "--corpus", str(tmp_path / name)]) == 0, name
        assert json.loads((bundle / "web" / "corpus.json").read_text(encoding="utf-8")) == passages, name


@pytest.mark.slow  # times encoders and draws a plot (matplotlib)
def test_cli_bench_writes_table_json_and_plot(st_bundle, tmp_path, capsys):
    """CLI bench writes table JSON and plot."""
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(["a dog runs in the park", "stock markets fell", "hello world"] * 20))
    out = tmp_path / "results"
    rc = main(
        [
            "bench",
            str(st_bundle),
            "--texts",
            str(texts),
            "--batch-sizes",
            "1,32",
            "--repeats",
            "1",
            "--min-seconds",
            "0.01",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    results = json.loads((out / "speed.json").read_text())["results"]
    encoders = {r["encoder"] for r in results}
    assert {
        "static-edge onnxruntime int8",
        "static-edge numpy int8",
        "model2vec StaticModel",
        "Sentence Transformers StaticEmbedding (torch)",
        "tokenization only (ceiling)",
    } <= encoders
    assert all(r["sentences_per_second"] > 0 for r in results)
    assert {r["batch_size"] for r in results} == {1, 32}
    # the recorded command is built from the options given to main(), not from this process' sys.argv
    command = json.loads((out / "speed.json").read_text())["command"]
    assert command.startswith(f"static-edge bench {st_bundle} -o {out}") and "--batch-sizes 1,32" in command
    assert "| static-edge onnxruntime fp32 |" in (out / "speed.md").read_text()
    assert (out / "speed.png").stat().st_size > 1000


def test_cli_demo_refuses_a_missing_bundle(tmp_path, capsys):
    """CLI demo refuses a missing bundle."""
    assert main(["demo", str(tmp_path / "missing")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err
