"""The Streamlit demo, driven by Streamlit's AppTest and, once for real, in headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from static_edge.demo_app.app_env import BUNDLES_ENV
from static_edge.demo_app.compare import agreement, rank, spearman, top_k_overlap
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import cosine_matrix, load
from static_edge.runtimes.samples import sample_corpus

APP = str(Path(__file__).resolve().parents[2] / "demo_app" / "app.py")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def sliced_bundle(tmp_path_factory, st_wordpiece):
    return export(st_wordpiece, tmp_path_factory.mktemp("demo") / "st-32", ExportOptions(dims=32, int8=True))


def _app(monkeypatch, *bundles) -> AppTest:
    monkeypatch.setenv(BUNDLES_ENV, os.pathsep.join(str(b) for b in bundles))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    return app


def test_similarity_heatmap_and_ranked_pairs_match_the_runtime(monkeypatch, st_bundle):
    app = _app(monkeypatch, st_bundle)
    assert not app.exception and not app.error
    sentences = ["a dog runs in the park", "a puppy plays outside", "interest rates went up"]
    app.text_area(key="sentences").input("\n".join(sentences)).run()
    pairs = app.dataframe[0].value
    model = load(st_bundle)  # the sidebar's default: the bundle's smallest variant
    scores = model.similarity(sentences, sentences)
    expected = sorted(
        ((scores[i, j], sentences[i], sentences[j]) for i in range(3) for j in range(i + 1, 3)), reverse=True
    )
    assert list(pairs["sentence A"]) == [a for _, a, _ in expected]
    np.testing.assert_allclose(pairs["cosine"].to_numpy(), [s for s, _, _ in expected], atol=1e-6)
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart"), "heatmap missing"


def test_search_ranks_the_sample_corpus_like_the_runtime(monkeypatch, st_bundle):
    app = _app(monkeypatch, st_bundle)
    app.text_input(key="query").input("the weather forecast").run()
    app.slider(key="k").set_value(5).run()
    results = app.dataframe[1].value
    corpus = sample_corpus()
    scores = cosine_matrix(load(st_bundle).encode(["the weather forecast"]), load(st_bundle).encode(corpus))[0]
    best = np.argsort(-scores, kind="stable")[:5]
    assert list(results["sentence"]) == [corpus[i] for i in best]
    np.testing.assert_allclose(results["cosine"].to_numpy(), scores[best], atol=1e-6)
    assert any(m.label == "time per query" and m.value.endswith("ms") for m in app.metric)


def test_compare_variants_shows_agreement_and_sizes(monkeypatch, st_bundle, sliced_bundle):
    app = _app(monkeypatch, st_bundle, sliced_bundle)
    app.selectbox(key="a-bundle").select(str(st_bundle)).run()
    app.selectbox(key="a-variant").select("fp32").run()
    app.selectbox(key="b-bundle").select(str(sliced_bundle)).run()
    app.selectbox(key="b-variant").select("int8").run()
    queries = ["the weather forecast", "a new phone"]
    app.text_area(key="compare-queries").input("\n".join(queries)).run()
    shown = {m.label: float(m.value) for m in app.metric if m.label != "time per query"}
    corpus = sample_corpus()
    a, b = load(st_bundle, variant="fp32"), load(sliced_bundle, variant="int8")
    expected = agreement((a.encode(queries), b.encode(queries)), (a.encode(corpus), b.encode(corpus)), 10)
    for name, value in expected.items():
        assert shown[name] == pytest.approx(value, abs=1e-4), name
    sizes = app.dataframe[2].value
    assert list(sizes["dims"]) == [128, 32] and list(sizes["variant"]) == ["fp32", "int8"]


def test_missing_or_broken_bundle_gives_a_message_not_a_traceback(monkeypatch, tmp_path):
    app = _app(monkeypatch, tmp_path / "nowhere")
    assert not app.exception
    assert "Cannot open bundle" in app.error[0].value and "not found" in app.error[0].value
    (tmp_path / "static_edge.json").write_text("{broken")
    app = _app(monkeypatch, tmp_path)
    assert not app.exception and "not valid JSON" in app.error[0].value
    monkeypatch.delenv(BUNDLES_ENV)
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception and "No bundle given" in app.error[0].value


def test_empty_input_gives_a_hint(monkeypatch, st_bundle):
    app = _app(monkeypatch, st_bundle)
    app.text_area(key="sentences").input("only one line").run()
    app.text_input(key="query").input("   ").run()
    warnings = [w.value for w in app.warning]
    assert any("at least two sentences" in w for w in warnings) and any("Type a query" in w for w in warnings)
    assert not app.exception


def test_compare_functions():
    a = np.array([[0.9, 0.1, 0.5, 0.3]])
    assert top_k_overlap(a, a, 2) == 1.0
    assert top_k_overlap(a, np.array([[0.1, 0.9, 0.3, 0.5]]), 2) == 0.0
    np.testing.assert_allclose(rank(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.browser
def test_demo_command_serves_a_page_that_renders_in_chromium(st_bundle, chromium):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "static_edge.cli", "demo", str(st_bundle), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert f"http://127.0.0.1:{port}" in server.stdout.readline()
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        page = chromium.new_page(viewport={"width": 1280, "height": 1000})
        opened = time.time()
        page.goto(f"http://127.0.0.1:{port}")
        chart = "[data-testid='stVegaLiteChart'] svg .mark-rect path"
        page.wait_for_selector(chart, timeout=30_000)
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
        seconds_to_results = time.time() - opened
        assert page.get_by_text("Most similar pairs").is_visible()
        assert page.get_by_text("Traceback").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
        page.close()
        (ARTIFACTS / "demo-timing.txt").write_text(
            f"seconds from page open to heatmap and table: {seconds_to_results:.2f}\n"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
