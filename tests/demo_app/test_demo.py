"""The Streamlit demo, driven by Streamlit's AppTest and, once for real, in headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from process_guard import MARKER
from streamlit.testing.v1 import AppTest

from static_edge.demo_app.app_env import BUNDLES_ENV
from static_edge.demo_app.cli import is_loopback, streamlit_command
from static_edge.demo_app.compare import agreement, rank, spearman, top_k_overlap
from static_edge.demo_app.corpus import (
    COMPARE_QUERIES,
    MAX_SENTENCE_CHARS,
    MAX_SENTENCES,
    MAX_SIMILARITY_SENTENCES,
    MAX_UPLOAD_BYTES,
)
from static_edge.demo_app.projection import fit_pca
from static_edge.exporter import ExportOptions, export
from static_edge.runtimes import cosine_matrix, load, read_manifest
from static_edge.runtimes.bundle import write_manifest
from static_edge.runtimes.child_processes import stop_child
from static_edge.runtimes.samples import sample_corpus

pytestmark = pytest.mark.slow  # end to end: the Streamlit app (AppTest and a real streamlit process)

APP = str(Path(__file__).resolve().parents[2] / "demo_app" / "app.py")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def sliced_bundle(tmp_path_factory, st_wordpiece):
    """A 32-dim int8 export of the WordPiece model: a bundle the demo did not build."""
    return export(st_wordpiece, tmp_path_factory.mktemp("demo") / "st-32", ExportOptions(dims=32, int8=True))


def _app(monkeypatch, *bundles) -> AppTest:
    monkeypatch.setenv(BUNDLES_ENV, os.pathsep.join(str(b) for b in bundles))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    return app


def _frame(app: AppTest, column: str):
    """The one dataframe shown with this column."""
    frames = [f.value for f in app.dataframe if column in f.value.columns]
    assert len(frames) == 1, [list(f.value.columns) for f in app.dataframe]
    return frames[0]


def test_similarity_heatmap_and_ranked_pairs_match_the_runtime(monkeypatch, st_bundle):
    """Similarity heatmap and ranked pairs match the runtime."""
    app = _app(monkeypatch, st_bundle)
    assert not app.exception and not app.error
    sentences = ["a dog runs in the park", "a puppy plays outside", "interest rates went up"]
    app.text_area(key="sentences").input("\n".join(sentences)).run()
    pairs = _frame(app, "sentence A")
    model = load(st_bundle, variant=read_manifest(st_bundle).default_variant)  # the sidebar's default: the smallest
    scores = model.similarity(sentences, sentences)
    expected = sorted(
        ((scores[i, j], sentences[i], sentences[j]) for i in range(3) for j in range(i + 1, 3)), reverse=True
    )
    assert list(pairs["sentence A"]) == [a for _, a, _ in expected]
    np.testing.assert_allclose(pairs["cosine"].to_numpy(), [s for s, _, _ in expected], atol=1e-6)
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart"), "heatmap missing"


def test_similarity_box_caps_lines_and_characters_and_says_so(monkeypatch, st_bundle):
    """Similarity box caps lines and characters and says so."""
    app = _app(monkeypatch, st_bundle)
    assert not app.warning  # the default sentences are within the caps
    long = "word " * MAX_SENTENCE_CHARS  # 5x the character cap
    lines = [long, *(f"sentence number {i}" for i in range(MAX_SIMILARITY_SENTENCES + 6))]
    app.text_area(key="sentences").input("\n".join(lines)).run()
    assert not app.exception
    assert app.warning[0].value == (
        f"Comparing the first {MAX_SIMILARITY_SENTENCES} sentences; 7 were left out. "
        f"1 sentence was cut to {MAX_SENTENCE_CHARS:,} characters."
    )
    pairs = _frame(app, "sentence A")
    shown = set(pairs["sentence A"]) | set(pairs["sentence B"])
    assert len(shown) == MAX_SIMILARITY_SENTENCES and max(map(len, shown)) == MAX_SENTENCE_CHARS
    assert f"sentence number {MAX_SIMILARITY_SENTENCES - 2}" in shown
    assert f"sentence number {MAX_SIMILARITY_SENTENCES - 1}" not in shown


def test_search_ranks_the_sample_corpus_like_the_runtime_and_maps_it(monkeypatch, st_bundle):
    """Search ranks the sample corpus like the runtime and maps it."""
    app = _app(monkeypatch, st_bundle)
    app.text_input(key="query").input("the weather forecast").run()
    app.slider(key="k").set_value(5).run()
    results = _frame(app, "rank")
    corpus = sample_corpus()
    model = load(st_bundle, variant=read_manifest(st_bundle).default_variant)  # the sidebar's default
    documents = model.encode(corpus)
    scores = cosine_matrix(model.encode(["the weather forecast"]), documents)[0]
    best = np.argsort(-scores, kind="stable")[:5]
    assert list(results["sentence"]) == [corpus[i] for i in best]
    np.testing.assert_allclose(results["cosine"].to_numpy(), scores[best], atol=1e-6)
    assert any(m.label == "time per query" and m.value.endswith("ms") for m in app.metric)
    # the map: PCA of the corpus vectors, its share of the variance as the runtime's vectors give it
    explained = fit_pca(documents).explained
    captions = [c.value for c in app.caption if "of the variance" in c.value]
    assert captions and f"keep {explained:.1%} of the variance" in captions[0], captions
    assert f"{len(corpus):,} sentences;" in captions[0]


def test_header_names_the_model_and_explains_what_a_static_model_is(monkeypatch, st_bundle):
    """Header names the model and explains what a static model is."""
    app = _app(monkeypatch, st_bundle)
    intro = app.markdown[0].value
    assert "static embedding model" in intro and "mean of its tokens' vectors" in intro
    name = f"st-wordpiece ({read_manifest(st_bundle).dims} dims)"
    assert f"**{name}**" in intro, intro
    assert app.selectbox(key="main-bundle").options == [name], "named by the model, not by a path"
    assert str(st_bundle.parent) not in intro


def test_variants_panel_shows_size_live_speed_and_recorded_quality(monkeypatch, st_bundle, tmp_path):
    """Variants panel shows size live speed and recorded quality."""
    bundle = tmp_path / "with-quality"
    shutil.copytree(st_bundle, bundle)
    manifest = read_manifest(bundle)
    manifest.quality = {"int8": {"sts:stsb": {str(manifest.dims): 71.234, "32": 60.0}}}
    write_manifest(bundle, manifest)
    app = _app(monkeypatch, bundle)
    assert not app.exception
    panel = _frame(app, "sentences/s")
    assert list(panel["variant"]) == manifest.variants
    sizes = manifest.variant_bytes()
    assert list(panel["file MB"]) == [round(sizes[v] / 1e6, 2) for v in manifest.variants]
    assert (panel["sentences/s"] > 0).all()
    quality = dict(zip(panel["variant"], panel["quality (x100)"], strict=True))
    assert quality == {"fp32": "-", "fp16": "-", "int8": "sts:stsb 71.23"}


def test_compare_variants_shows_agreement_and_sizes(monkeypatch, st_bundle, sliced_bundle):
    """Compare variants shows agreement and sizes."""
    app = _app(monkeypatch, st_bundle, sliced_bundle)
    names = app.selectbox(key="a-bundle").options
    assert names == ["st-wordpiece (128 dims)", "st-wordpiece (32 dims)"]
    app.selectbox(key="a-bundle").select(names[0]).run()
    app.selectbox(key="a-variant").select("fp32").run()
    app.selectbox(key="b-bundle").select(names[1]).run()
    app.selectbox(key="b-variant").select("int8").run()
    corpus = sample_corpus()
    assert app.text_area(key="compare-queries").value.splitlines() == COMPARE_QUERIES
    assert not set(COMPARE_QUERIES) & set(corpus), "default queries are held apart from the corpus"
    queries = ["the weather forecast", "a new phone"]
    app.text_area(key="compare-queries").input("\n".join(queries)).run()
    shown = {m.label: float(m.value) for m in app.metric if m.label != "time per query"}
    a, b = load(st_bundle, variant="fp32"), load(sliced_bundle, variant="int8")
    expected = agreement((a.encode(queries), b.encode(queries)), (a.encode(corpus), b.encode(corpus)), 10)
    for name, value in expected.items():
        assert shown[name] == pytest.approx(value, abs=1e-4), name
    sizes = _frame(app, "dims")
    assert list(sizes["dims"]) == [128, 32] and list(sizes["variant"]) == ["fp32", "int8"]


def test_uploads_one_line_non_utf8_too_large_and_too_many_lines(monkeypatch, st_bundle):
    """Uploads one line non UTF-8 too large and too many lines."""
    app = _app(monkeypatch, st_bundle)
    app.file_uploader[0].set_value(("one.txt", b"just one sentence here\n", "text/plain")).run()
    assert not app.exception, app.exception
    assert list(_frame(app, "rank")["sentence"]) == ["just one sentence here"]
    assert any("needs at least two sentences" in c.value for c in app.caption)

    app.file_uploader[0].set_value(("latin1.txt", "caf\u00e9 au lait\nfine".encode("latin-1"), "text/plain")).run()
    assert not app.exception
    assert "latin1.txt is not UTF-8 text: byte 0xe9 on line 1" in app.error[0].value

    big = b"a sentence\n" * (MAX_UPLOAD_BYTES // 11 + 1)
    app.file_uploader[0].set_value(("big.txt", big, "text/plain")).run()
    assert not app.exception and "the demo takes files up to 2 MB" in app.error[0].value

    many = "".join(f"sentence number {i}\n" for i in range(MAX_SENTENCES + 5)).encode()
    app.file_uploader[0].set_value(("many.txt", many, "text/plain")).run()
    assert not app.exception and not app.error
    assert f"Using the first {MAX_SENTENCES:,} sentences of many.txt; 5 were left out." in app.warning[0].value


def test_streamlit_runs_with_the_host_upload_cap_and_no_toolbar():
    """Streamlit runs with the host upload cap and no toolbar."""
    command = streamlit_command(8999, "::1")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "::1" and options["--server.maxUploadSize"] == "2"
    assert options["--client.toolbarMode"] == "minimal"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.com")


def test_missing_or_broken_bundle_gives_a_message_not_a_traceback(monkeypatch, tmp_path):
    """Missing or broken bundle gives a message not a traceback."""
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
    """Empty input gives a hint."""
    app = _app(monkeypatch, st_bundle)
    app.text_area(key="sentences").input("only one line").run()
    app.text_input(key="query").input("   ").run()
    warnings = [w.value for w in app.warning]
    assert any("at least two sentences" in w for w in warnings) and any("Type a query" in w for w in warnings)
    assert not app.exception


def test_compare_functions():
    """Compare functions."""
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


def _start_demo(bundle: Path, port: int) -> subprocess.Popen:
    """`static-edge demo` in its own session (so a failing test can stop everything it started)."""
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "static-edge"), "demo", str(bundle), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert f"http://127.0.0.1:{port}" in server.stdout.readline()
    deadline = time.time() + 90
    while not _listening(port):
        assert time.time() < deadline and server.poll() is None, "the demo did not start"
        time.sleep(0.2)
    return server


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stops_serving(port: int, timeout_s: float = 15) -> bool:
    deadline = time.time() + timeout_s
    while _listening(port) and time.time() < deadline:
        time.sleep(0.1)
    return not _listening(port)


def _marked_processes() -> list[psutil.Process]:
    """Every process (listening or not) that carries this test's marker: whatever the test started."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.environ().get(MARKER) == os.environ[MARKER] and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_demo_stops_its_whole_process_group_on_a_signal(st_bundle, signum):
    """The signal goes to `static-edge demo` alone, as a service manager, Ctrl-C, a closed terminal (SIGHUP) or
    Ctrl-\\ (SIGQUIT) would send it."""
    port = _free_port()
    server = _start_demo(st_bundle, port)
    try:
        os.kill(server.pid, signum)
        assert server.wait(timeout=30) == 128 + signum
        assert _stops_serving(port), "Streamlit still serves after `static-edge demo` exited"
        assert _marked_processes() == []
    finally:
        stop_child(server)  # the conftest fixture then checks that nothing this test started still listens


def test_streamlit_dies_when_the_demo_command_is_killed(st_bundle):
    """SIGKILL gives `static-edge demo` no chance to stop its child: the kernel's parent-death signal does."""
    port = _free_port()
    server = _start_demo(st_bundle, port)
    children = psutil.Process(server.pid).children(recursive=True)
    assert children, "the demo runs Streamlit in a child process"
    try:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        assert _stops_serving(port), "Streamlit still serves after `static-edge demo` was killed"
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [] and _marked_processes() == []
    finally:
        stop_child(server)


@pytest.mark.browser
def test_demo_command_serves_a_page_that_renders_in_chromium(st_bundle, chromium, tmp_path):
    """Demo command serves a page that renders in Chromium."""
    bundle = tmp_path / "demo-bundle"
    shutil.copytree(st_bundle, bundle)
    manifest = read_manifest(bundle)
    manifest.quality = {"int8": {"sts:stsb": {str(manifest.dims): 71.23}}}
    write_manifest(bundle, manifest)
    port = _free_port()
    server = _start_demo(bundle, port)
    try:
        page = chromium.new_page(viewport={"width": 1400, "height": 1350})
        opened = time.time()
        page.goto(f"http://127.0.0.1:{port}")
        page.wait_for_selector("[data-testid='stVegaLiteChart'] svg .mark-symbol path", timeout=60_000)
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
        seconds_to_results = time.time() - opened
        for text in ("static embedding model", "Variants of this model", "Map of the corpus", "of the variance"):
            assert page.get_by_text(text).first.is_visible(), text
        assert page.get_by_text("Traceback").count() == 0
        assert page.get_by_role("button", name="Deploy").count() == 0, "Streamlit's deploy toolbar is hidden"
        page.wait_for_timeout(1500)  # let the charts finish drawing before the picture
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
        # docs/demo.png (the README's picture) is refreshed by hand from this file, never by a test run
        page.close()
        (ARTIFACTS / "demo-timing.txt").write_text(
            f"seconds from page open to map and tables: {seconds_to_results:.2f}\n"
        )
    finally:
        stop_child(server)
