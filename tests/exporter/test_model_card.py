"""The bundle's model card: read by huggingface_hub's ModelCard, and its usage snippets run as written.

`push` is tested against tests/fake_hub.py (the real huggingface_hub client, a recording server on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_hub import FakeHub
from huggingface_hub import ModelCard

from static_edge.cli import main
from static_edge.exporter import ExportOptions, export
from static_edge.exporter.model_card import EXAMPLE_TEXTS
from static_edge.runtimes import load, read_manifest
from static_edge.runtimes.bundle import write_manifest
from static_edge.runtimes.web_page import node_modules


def code_blocks(card: str) -> dict[str, str]:
    """info string ("python", "javascript", "python fastembed") -> code of each fenced block."""
    return {m.group(1).strip(): m.group(2) for m in re.finditer(r"```([^\n`]*)\n(.*?)```", card, re.S)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, st_unigram):
    """A bundle exported with a relative output path, as a user would from their project folder."""
    work = tmp_path_factory.mktemp("card-work")
    shutil.copytree(st_unigram, work / "my-model")
    (work / "my-model" / "README.md").write_text("---\nlicense: apache-2.0\n---\n# my model\n")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        export("my-model", "out/my-bundle", ExportOptions(dims=32, int8=True))
    finally:
        os.chdir(cwd)
    return work, work / "out" / "my-bundle"


def test_export_writes_a_card_the_hub_reads(exported):
    """Export writes a card the hub reads."""
    _, bundle = exported
    card = ModelCard.load(bundle / "README.md")
    data = card.data.to_dict()
    assert data["library_name"] == "transformers.js" and data["pipeline_tag"] == "feature-extraction"
    assert {"static-embeddings", "onnx", "transformers.js"} <= set(data["tags"])
    assert data["license"] == "apache-2.0", "the source model's licence is carried over"
    assert "base_model" not in data, "a local source is not a hub model"
    manifest = read_manifest(bundle)
    for variant, size in manifest.variant_bytes().items():
        assert re.search(rf"\| {variant} \| .* \| {size / 1e6:.2f} MB \|", card.text), variant
    assert "Not measured yet" in card.text
    assert "README.md" not in manifest.files, "the card is rewritten after the manifest, so it is not hashed"
    assert manifest.source["model"] == "my-model", "the source as the user named it, not an absolute path"


@pytest.mark.slow  # end to end: runs the card's snippets in a child process
def test_card_snippets_run_as_written_against_the_local_bundle(exported, tmp_path):
    """Card snippets run as written against the local bundle."""
    work, bundle = exported
    blocks = code_blocks((bundle / "README.md").read_text())
    expected = load(bundle, variant=read_manifest(bundle).default_variant).encode(EXAMPLE_TEXTS)  # as the card

    python = blocks["python"] + "\nimport numpy\nnumpy.save('python.npy', vectors)\n"
    result = subprocess.run([sys.executable, "-c", python], cwd=work, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0] == f"(2, {expected.shape[1]})"
    np.testing.assert_allclose(np.load(work / "python.npy"), expected, atol=1e-6)

    fastembed = blocks["python fastembed"] + "\nimport numpy\nnumpy.save('fastembed.npy', numpy.array(vectors))\n"
    result = subprocess.run([sys.executable, "-c", fastembed], cwd=work, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.load(work / "fastembed.npy"), expected, atol=1e-5)

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    modules = work / "node_modules"  # what `npm i @huggingface/transformers` gives a project
    if not modules.exists():
        modules.symlink_to(node_modules(), target_is_directory=True)
    script = work / "embed.mjs"
    script.write_text(blocks["javascript"] + "\nconsole.log(JSON.stringify(output.tolist()));\n")
    result = subprocess.run([node, str(script)], cwd=work, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].replace(" ", "") == f"[2,{expected.shape[1]}]"
    np.testing.assert_allclose(np.array(json.loads(lines[-1])), expected, atol=1e-5)


def test_push_uploads_exactly_the_bundle_and_a_hub_card(exported, tmp_path, monkeypatch, capsys):
    """Push uploads exactly the bundle and a hub card."""
    import huggingface_hub.constants

    bundle = tmp_path / "bundle"
    shutil.copytree(exported[1], bundle)
    (bundle / "notes.txt").write_text("not part of the bundle")
    (bundle / "web").mkdir()
    (bundle / "web" / "index.html").write_text("<html></html>")
    from static_edge.exporter import check_bundle

    assert check_bundle(bundle, reference=exported[0] / "my-model").passed  # parity goes into the manifest
    manifest = read_manifest(bundle)
    manifest.quality = {"int8": {"sts:stsb": {"32": 71.234, "16": 65.5}}}  # as `static-edge eval` records it
    write_manifest(bundle, manifest)
    with FakeHub() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_TOKEN", "hf_test")
        args = ["push", str(bundle), "me/card-test", "--private", "--branch", "v1", "--commit-message", "first"]
        assert main(args) == 0, capsys.readouterr().err
        repo = hub.repos["me/card-test"]
        uploaded = hub.files("me/card-test", "v1")
    out = capsys.readouterr().out
    assert repo.private and repo.messages[repo.branches["v1"]] == "first"
    assert repo.branches["main"] != repo.branches["v1"], "the branch got the commit, main did not"
    expected = sorted({*manifest.files, "static_edge.json", "README.md"})
    assert sorted(set(uploaded) - {".gitattributes"}) == expected
    for name in expected:
        assert uploaded[name] == (bundle / name).read_bytes(), name
    assert f'revision="{repo.branches["v1"]}"' in out, "prints how to pin the pushed commit"
    card = ModelCard(uploaded["README.md"].decode())
    assert hub.validated == [card.data.to_dict()], "the hub validated the card's front matter"
    assert card.data.license == "apache-2.0" and 'load("me/card-test", variant=' in card.text
    assert "env.localModelPath" not in card.text, "the hub card loads from the hub"
    assert "| int8 | sts:stsb | 65.50 | 71.23 |" in card.text, "quality per variant and dims"
    parity = card.text.split("## Parity")[1].split("##")[0]
    assert "every tolerance met" in parity
    for row in manifest.parity["rows"]:
        assert f"| {row['pair']} | {row['metric']} | {row['value']:.3g} |" in parity


def test_push_refuses_a_tampered_bundle_or_a_bad_repo_id(exported, tmp_path, monkeypatch, capsys):
    """Push refuses a tampered bundle or a bad repo id."""
    import huggingface_hub.constants

    bundle = tmp_path / "bundle"
    shutil.copytree(exported[1], bundle)
    with FakeHub() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.endpoint)
        assert main(["push", str(bundle), "not a repo"]) == 2
        assert "not a hub repo id" in capsys.readouterr().err
        tokenizer = bundle / "tokenizer.json"
        tokenizer.write_text(tokenizer.read_text() + " ")
        assert main(["push", str(bundle), "me/tampered"]) == 2
        err = capsys.readouterr().err
        assert "tokenizer.json" in err and "Traceback" not in err
        assert hub.requests == [], "nothing reached the hub"


@pytest.mark.slow  # end to end: runs the card's snippets in a child process
def test_hub_card_snippets_run_as_written_against_the_pushed_bundle(exported, tmp_path, monkeypatch):
    """Hub card snippets run as written against the pushed bundle."""
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    from static_edge.exporter.publish import push_bundle

    bundle = tmp_path / "bundle"
    shutil.copytree(exported[1], bundle)
    expected = load(bundle, variant=read_manifest(bundle).default_variant).encode(EXAMPLE_TEXTS)  # as the card
    with FakeHub() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        push_bundle(bundle, "me/snippets", api=HfApi(endpoint=hub.endpoint, token="hf_test"))
        blocks = code_blocks((bundle / "README.md").read_text())
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"}
        for name, block in (("python", blocks["python"]), ("fastembed", blocks["python fastembed"])):
            code = block + f"\nimport numpy\nnumpy.save('{name}.npy', numpy.array(vectors))\n"
            result = subprocess.run(
                [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
            )
            assert result.returncode == 0, result.stderr[-2000:]
            np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), expected, atol=1e-5, err_msg=name)

        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed")
        (tmp_path / "node_modules").symlink_to(node_modules(), target_is_directory=True)
        # transformers.js has no HF_ENDPOINT: a preloaded module points its (singleton) env at the fake hub,
        # the way HF_ENDPOINT does for the Python snippets, and keeps its file cache out of node_modules
        setup = tmp_path / "endpoint.mjs"
        setup.write_text(
            "import { env } from '@huggingface/transformers';\n"
            f"env.remoteHost = '{hub.endpoint}/';\n"
            f"env.cacheDir = {json.dumps(str(tmp_path / 'js-cache'))};\n"
        )
        script = tmp_path / "embed.mjs"
        script.write_text(blocks["javascript"] + "\nconsole.log(JSON.stringify(output.tolist()));\n")
        result = subprocess.run(
            [node, "--import", str(setup), str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        np.testing.assert_allclose(np.array(json.loads(result.stdout.splitlines()[-1])), expected, atol=1e-5)
        assert ("GET", "/me/snippets/resolve/main/onnx/model_quantized.onnx") in hub.requests


def test_a_hub_source_becomes_the_cards_base_model(tmp_path, monkeypatch):
    """A hub source becomes the cards base model."""
    from static_edge.exporter.model_card import export_card_info

    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "README.md").write_text("---\nlicense: mit\nbase_model: someone/else\n---\n# source\n")
    local = export_card_info("src", "out/b", tmp_path / "src")
    assert (local.model_id, local.license, local.base_model, local.on_hub) == ("out/b", "mit", None, False)
    hub = export_card_info("minishlab/potion-base-8M", "out/b", tmp_path / "src")
    assert hub.base_model == "minishlab/potion-base-8M"


def test_check_refreshes_the_card_with_the_parity_it_measured(exported):
    """Check refreshes the card with the parity it measured."""
    from static_edge.exporter.check import check_bundle

    work, bundle = exported
    cwd = os.getcwd()
    os.chdir(work)
    try:
        report = check_bundle(Path("out/my-bundle"), write=True)
    finally:
        os.chdir(cwd)
    card = ModelCard.load(bundle / "README.md")
    assert report.passed and "Not measured yet" not in card.text
    assert "int8 vs fp32" in card.text, "the card shows the rows check recorded"
    assert card.data.to_dict()["license"] == "apache-2.0", "the front matter survives the refresh"


def test_check_finds_a_local_source_from_any_working_directory(exported, tmp_path):
    """The source was typed relative to the export's directory; `check` from elsewhere finds it from the bundle,
    and the manifest records no absolute path."""
    from static_edge.exporter.check import check_bundle
    from static_edge.exporter.sources import SourceModelError

    work, bundle = exported
    manifest = read_manifest(bundle)
    assert manifest.source["model"] == "my-model" and manifest.source["path_from_bundle"] == "../../my-model"
    assert str(work) not in json.dumps(manifest.source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        assert check_bundle(bundle, write=False).passed
        moved = work / "moved"
        (work / "my-model").rename(moved)
        with pytest.raises(SourceModelError, match="pass --reference"):
            check_bundle(bundle, write=False)
        assert check_bundle(bundle, reference=moved, write=False).passed
    finally:
        os.chdir(cwd)
        (work / "moved").rename(work / "my-model")
