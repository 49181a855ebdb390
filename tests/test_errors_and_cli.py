"""Bad input gets a clear error and never leaves a half-written bundle; the CLI is a thin shell."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from exporter import ExportOptions, SourceModelError, export, read_source
from exporter.cli import main
from exporter.export import ExportError
from runtimes import read_manifest


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("dims", [0, -3, 257])
def test_bad_dims(tmp_path, st_wordpiece, dims):
    with pytest.raises(ExportError, match="dims"):
        export(st_wordpiece, tmp_path / "out", ExportOptions(dims=dims))
    assert _leftovers(tmp_path) == []


def test_dims_larger_than_model_names_both(tmp_path, st_wordpiece):
    with pytest.raises(ExportError, match="dims 300 is larger than the model's 256"):
        export(st_wordpiece, tmp_path / "out", ExportOptions(dims=300))


def test_missing_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_source(tmp_path / "no-such-model")


def test_folder_that_is_not_a_static_model(tmp_path):
    (tmp_path / "junk.txt").write_text("hello")
    with pytest.raises(SourceModelError, match="Expected either a Sentence Transformers StaticEmbedding"):
        read_source(tmp_path)


def test_missing_tokenizer_and_corrupt_weights(tmp_path, st_wordpiece):
    broken = shutil.copytree(st_wordpiece, tmp_path / "broken")
    (broken / "tokenizer.json").unlink()
    with pytest.raises(SourceModelError, match="missing tokenizer file"):
        read_source(broken)
    corrupt = shutil.copytree(st_wordpiece, tmp_path / "corrupt")
    (corrupt / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(SourceModelError, match="not a valid safetensors file"):
        read_source(corrupt)


def test_hub_id_offline_gives_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceModelError, match="Hugging Face hub"):
        read_source("static-edge-tests/no-such-model")


def test_failed_export_leaves_nothing_behind(tmp_path, st_wordpiece, monkeypatch):
    import importlib

    export_module = importlib.import_module("exporter.export")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full while writing the int8 graph")

    monkeypatch.setattr(export_module, "quantize_rows_int8", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        export(st_wordpiece, tmp_path / "out", ExportOptions(int8=True))
    assert _leftovers(tmp_path) == []


def test_existing_output_is_kept_unless_forced(tmp_path, st_wordpiece):
    out = export(st_wordpiece, tmp_path / "out", ExportOptions(dims=8))
    with pytest.raises(ExportError, match="already exists"):
        export(st_wordpiece, out, ExportOptions(dims=16))
    assert read_manifest(out).dims == 8
    export(st_wordpiece, out, ExportOptions(dims=16, overwrite=True))
    assert read_manifest(out).dims == 16
    assert _leftovers(tmp_path) == ["out"]


def test_cli_export_then_check(tmp_path, st_wordpiece, capsys):
    out = tmp_path / "cli-bundle"
    assert main(["export", str(st_wordpiece), "--dims", "64", "--int8", "-o", str(out)]) == 0
    assert "model_quantized.onnx" in capsys.readouterr().out
    assert main(["check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "all tolerances met" in printed and "int8 vs fp32" in printed
    assert read_manifest(out).parity["passed"] is True


def test_cli_check_fails_when_tolerance_missed(tmp_path, st_wordpiece, st_unigram, capsys):
    out = tmp_path / "b"
    export(st_wordpiece, out, ExportOptions(dims=64))
    # Compare against a different model: tokens and vectors disagree, so check must fail.
    assert main(["check", str(out), "--reference", str(st_unigram)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert read_manifest(out).parity["passed"] is False


def test_cli_errors_are_one_line_not_tracebacks(tmp_path, st_wordpiece, capsys):
    assert main(["export", str(st_wordpiece), "--dims", "999", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "dims 999 is larger" in err and "Traceback" not in err
    assert main(["check", str(tmp_path / "nothing")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err


def test_export_and_check_never_import_torch(tmp_path, m2v_model):
    """The base install (runtimes + exporter) works without torch: export and load a model2vec model."""
    code = (
        "import sys; from exporter.cli import main;"
        f"rc = main(['export', {str(m2v_model)!r}, '--int8', '-o', {str(tmp_path / 'b')!r}]);"
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'; print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr
    assert json.loads((tmp_path / "b" / "static_edge.json").read_text())["source"]["kind"] == "model2vec"


def test_cli_encode(st_bundle, capsys):
    assert main(["encode", str(st_bundle), "hello world", "--backend", "numpy"]) == 0
    assert "dims=128" in capsys.readouterr().out


def test_cli_web_errors(st_bundle, tmp_path, capsys):
    assert main(["web", str(st_bundle), "--corpus", str(tmp_path / "missing.txt")]) == 2
    assert "corpus file not found" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    assert main(["web", str(st_bundle), "--corpus", str(empty)]) == 2
    assert "corpus is empty" in capsys.readouterr().err
    assert main(["web", str(tmp_path)]) == 2
    assert "not a static-edge bundle" in capsys.readouterr().err


def test_cli_bench_writes_table_json_and_plot(st_bundle, tmp_path, capsys):
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
    assert "| static-edge onnxruntime fp32 |" in (out / "speed.md").read_text()
    assert (out / "speed.png").stat().st_size > 1000


def test_cli_demo_refuses_a_missing_bundle(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "missing")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err
