"""Small real models the tests build themselves: real tokenizers trained here, saved by the real libraries."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser_tools
from model_builders import random_table, save_sentence_transformers, unigram_tokenizer, wordpiece_tokenizer
from process_guard import SESSION_MARKER, servers_with_marker

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# static-edge's own cache (teacher ONNX exports, assembled teachers) goes to a folder of this session, removed at
# its end, never the user's ~/.cache; set before any static_edge import reads it (runtimes.hub.DEFAULT_CACHE)
SESSION_CACHE = None if "STATIC_EDGE_CACHE" in os.environ else tempfile.mkdtemp(prefix="static-edge-test-cache-")
if SESSION_CACHE is not None:
    os.environ["STATIC_EDGE_CACHE"] = SESSION_CACHE


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """One folder for every model the session builds."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def st_wordpiece(models_dir) -> Path:
    """Sentence Transformers 6.x layout (module at the root), WordPiece, float32, 256 dims."""
    tok = wordpiece_tokenizer()
    return save_sentence_transformers(tok, random_table(tok.get_vocab_size(), 256, 0), models_dir / "st-wordpiece")


@pytest.fixture(scope="session")
def st_unigram(models_dir) -> Path:
    """Sentence Transformers, Unigram tokenizer, 64 dims, with a Normalize module."""
    tok = unigram_tokenizer()
    return save_sentence_transformers(
        tok, random_table(tok.get_vocab_size(), 64, 1), models_dir / "st-unigram", normalize=True
    )


@pytest.fixture(scope="session")
def st3_fp16(models_dir, st_wordpiece) -> Path:
    """The Sentence Transformers 3.x hub layout (`0_StaticEmbedding/`, old type name) with float16 weights."""
    from safetensors.numpy import load_file, save_file

    folder = models_dir / "st3-fp16"
    module = folder / "0_StaticEmbedding"
    module.mkdir(parents=True)
    shutil.copy(st_wordpiece / "tokenizer.json", module / "tokenizer.json")
    table = load_file(str(st_wordpiece / "model.safetensors"))["embedding.weight"]
    save_file({"embedding.weight": table.astype(np.float16)}, str(module / "model.safetensors"))
    (folder / "1_Normalize").mkdir()
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "0_StaticEmbedding",
            "type": "sentence_transformers.models.StaticEmbedding",
        },
        {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    shutil.copy(st_wordpiece / "config_sentence_transformers.json", folder / "config_sentence_transformers.json")
    return folder


@pytest.fixture(scope="session")
def m2v_model(models_dir) -> Path:
    """A model2vec model (WordPiece, normalize=True, max_length 512) saved by model2vec itself."""
    from model2vec import StaticModel

    tok = wordpiece_tokenizer()
    model = StaticModel(vectors=random_table(tok.get_vocab_size(), 48, 2), tokenizer=tok, normalize=True)
    model.save_pretrained(str(models_dir / "m2v"))
    return models_dir / "m2v"


@pytest.fixture(scope="session")
def m2v_vocab_quantized(models_dir, m2v_model) -> Path:
    """The same model2vec model with vocabulary quantization (mapping + per-token weights)."""
    from model2vec import StaticModel
    from model2vec.model import quantize_model

    model = quantize_model(StaticModel.from_pretrained(str(m2v_model)), vocabulary_quantization=64)
    assert model.token_mapping is not None
    model.save_pretrained(str(models_dir / "m2v-vq"))
    return models_dir / "m2v-vq"


@pytest.fixture(scope="session")
def st_bundle(tmp_path_factory, st_wordpiece) -> Path:
    """The headline export of the WordPiece model: --dims 128 --int8 --fp16."""
    from static_edge.exporter import ExportOptions, export

    out = tmp_path_factory.mktemp("bundles") / "st-128"
    return export(st_wordpiece, out, ExportOptions(dims=128, int8=True, fp16=True))


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the whole session (playwright's sync API allows one driver)."""
    require_browser_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_configure(config) -> None:
    """Mark every process this test session starts (see `pytest_sessionfinish`)."""
    os.environ[SESSION_MARKER] = uuid.uuid4().hex


def pytest_collection_modifyitems(config, items) -> None:
    """Every browser test is also slow (it starts Chromium), so `-m "not slow"` leaves them all out."""
    for item in items:
        if item.get_closest_marker("browser") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus) -> None:
    """No server started by any test (module- and session-scoped fixtures included) outlives the session:
    one still listening fails the run and is killed. This session's static-edge cache folder is removed."""
    if SESSION_CACHE is not None:
        shutil.rmtree(SESSION_CACHE, ignore_errors=True)
    value = os.environ.get(SESSION_MARKER)
    if not value:
        return
    deadline = time.monotonic() + 10
    leaked = servers_with_marker(value, SESSION_MARKER)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.2)
        leaked = servers_with_marker(value, SESSION_MARKER)
    for process in leaked:
        try:
            print(f"\nserver still running after the test session: {process.pid} {process.cmdline()[:6]}")
            process.kill()
        except psutil.NoSuchProcess:
            continue
    if leaked:
        session.exitstatus = 1
