"""static-edge demo: what a static model does, and what slicing and quantization cost.

Run it with `static-edge demo [BUNDLE ...]`. Bundles come from the STATIC_EDGE_DEMO_BUNDLES
environment variable (paths joined with os.pathsep), which the command sets.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from static_edge.demo_app.app_env import BUNDLES_ENV
from static_edge.demo_app.compare import agreement, top_k
from static_edge.demo_app.corpus import (
    COMPARE_QUERIES,
    MAX_SENTENCE_CHARS,
    MAX_SENTENCES,
    MAX_SIMILARITY_SENTENCES,
    MAX_UPLOAD_MB,
    CorpusError,
    capped_sentences,
    parse_corpus,
)
from static_edge.demo_app.projection import fit_pca
from static_edge.runtimes import BundleError, cosine_matrix, load, read_manifest
from static_edge.runtimes.bundle import Manifest
from static_edge.runtimes.samples import sample_corpus

DEFAULT_SENTENCES = """A man is playing a guitar.
Someone plays an instrument on stage.
The stock market fell sharply today.
Shares dropped after the inflation report.
A cat sleeps on the windowsill."""
DEFAULT_QUERY = "will it rain tomorrow?"
SPEED_SENTENCES = 2000
SPEED_SECONDS = 0.3
MAP_POINTS = 3000


@dataclass(frozen=True)
class BundleChoice:
    """A bundle the pickers offer: its label, folder and manifest."""

    label: str
    path: str
    manifest: Manifest


@st.cache_resource(show_spinner=False)
def get_model(bundle: str, variant: str):
    """The loaded variant of a bundle, once per app process."""
    return load(bundle, variant=variant)


@st.cache_data(show_spinner=False, max_entries=8)
def encode_corpus(bundle: str, variant: str, corpus: tuple[str, ...]) -> np.ndarray:
    """The corpus's vectors under a bundle variant, cached per (bundle, variant, corpus)."""
    return get_model(bundle, variant).encode(list(corpus))


@st.cache_data(show_spinner=False, max_entries=32)
def measure_speed(bundle: str, variant: str, corpus: tuple[str, ...]) -> float:
    """Sentences per second encoding (up to) SPEED_SENTENCES corpus sentences with this variant, measured here.

    The best of repeated runs over at least SPEED_SECONDS, as `timeit` reports: one short run on a busy
    machine says more about the machine than about the variant.
    """
    model = get_model(bundle, variant)
    sample = list(corpus[:SPEED_SENTENCES])
    model.encode(sample[:8])  # warm-up: the first run allocates onnxruntime's buffers
    best, spent = float("inf"), 0.0
    while spent < SPEED_SECONDS or best == float("inf"):
        start = time.perf_counter()
        model.encode(sample)
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
    return len(sample) / max(best, 1e-9)


def model_name(manifest: Manifest, path: str) -> str:
    """The model's name as its source was named (a hub id, or a folder's last part), else the bundle folder."""
    source = str(manifest.source.get("model") or "").rstrip("/\\")
    if not source:
        return Path(path).name
    parts = source.replace("\\", "/").split("/")
    is_hub_id = len(parts) == 2 and not source.startswith((".", "/", "~"))
    return source if is_hub_id else parts[-1]


def bundle_options() -> dict[str, BundleChoice]:
    """label -> bundle for every bundle that opens; shows an error for each one that does not."""
    paths = [p for p in os.environ.get(BUNDLES_ENV, "").split(os.pathsep) if p]
    if not paths:
        st.error("No bundle given. Start the demo with `static-edge demo BUNDLE` (run `make quickstart` first).")
        st.stop()
    opened: list[tuple[str, Manifest]] = []
    for path in paths:
        try:
            opened.append((path, read_manifest(path)))
        except BundleError as err:
            st.error(f"Cannot open bundle {path}: {err}")
    if not opened:
        st.stop()
    labels = [f"{model_name(m, p)} ({m.dims} dims)" for p, m in opened]
    options: dict[str, BundleChoice] = {}
    for label, (path, manifest) in zip(labels, opened, strict=True):
        if labels.count(label) > 1:  # the same model at the same size twice: tell them apart by folder
            label = f"{label[:-1]}, {Path(path).name})"
        options[label] = BundleChoice(label, path, manifest)
    return options


def read_corpus(upload) -> list[str]:
    """The uploaded corpus, or the sample one; an unusable upload stops the page with the reason."""
    if upload is None:
        return sample_corpus()
    try:
        corpus = parse_corpus(upload.getvalue(), name=upload.name)
    except CorpusError as err:
        st.error(str(err))
        st.stop()
    if corpus.dropped:
        st.warning(f"Using the first {MAX_SENTENCES:,} sentences of {upload.name}; {corpus.dropped:,} were left out.")
    return corpus.sentences


def choose_model(options: dict[str, BundleChoice], label: str, key: str, default_index: int = -1):
    """Bundle and variant pickers; the variant defaults to `variants[default_index]` (the smallest by default)."""
    name = st.selectbox(f"{label} model", list(options), key=f"{key}-bundle")
    choice = options[name]
    variants = choice.manifest.variants
    variant = st.selectbox(f"{label} variant", variants, index=default_index % len(variants), key=f"{key}-variant")
    try:
        return choice, variant, get_model(choice.path, variant)
    except (BundleError, OSError, ValueError) as err:
        st.error(f"Cannot load {variant} of {name}: {err}")
        st.stop()


def quality_text(manifest: Manifest, variant: str) -> str:
    """The variant's measured score at its full dims from the manifest (`static-edge eval`), or a dash."""
    tasks = (manifest.quality or {}).get(variant) or {}
    shown = [
        f"{task} {by_dim[str(manifest.dims)]:.2f}" for task, by_dim in tasks.items() if str(manifest.dims) in by_dim
    ]
    return "; ".join(shown) or "-"


def variants_panel(choice: BundleChoice, corpus: list[str]) -> None:
    """Size, live speed and recorded quality of every variant of the chosen bundle."""
    manifest = choice.manifest
    rows = []
    for variant in manifest.variants:
        rows.append(
            {
                "variant": variant,
                "file MB": round(manifest.variant_bytes()[variant] / 1e6, 2),
                "sentences/s": round(measure_speed(choice.path, variant, tuple(corpus))),
                "quality (x100)": quality_text(manifest, variant),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="variants")
    st.caption(
        f"Speed: encoding {min(len(corpus), SPEED_SENTENCES):,} corpus sentences on this machine's CPU with "
        "onnxruntime, measured live (best of repeated runs). Quality: what `static-edge eval` recorded in the bundle "
        "(STS Spearman, retrieval nDCG@10), '-' where it was not measured."
    )


def similarity_tab(choice: BundleChoice, variant: str, model) -> None:
    """The Similarity tab: a cosine heatmap of the typed sentences and their pairs, most similar first."""
    label = f"Sentences, one per line (up to {MAX_SIMILARITY_SENTENCES}, {MAX_SENTENCE_CHARS:,} characters each)"
    capped = capped_sentences(st.text_area(label, DEFAULT_SENTENCES, height=150, key="sentences"))
    if capped.notice():
        st.warning(capped.notice())
    sentences = capped.sentences
    if len(sentences) < 2:
        st.warning("Enter at least two sentences to compare.")
        return
    vectors = model.encode(sentences)
    scores = model.similarity(sentences, sentences)
    labels = [f"{i + 1}. {s[:40]}" for i, s in enumerate(sentences)]
    cells = pd.DataFrame(
        [(labels[i], labels[j], float(scores[i, j])) for i in range(len(labels)) for j in range(len(labels))],
        columns=["a", "b", "cosine"],
    )
    heatmap = (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X("b:N", sort=labels, title=None),
            y=alt.Y("a:N", sort=labels, title=None),
            color=alt.Color("cosine:Q", scale=alt.Scale(scheme="blues", domain=[min(0.0, cells.cosine.min()), 1])),
            tooltip=["a", "b", alt.Tooltip("cosine:Q", format=".3f")],
        )
        .properties(height=alt.Step(36))
    )
    st.altair_chart(heatmap, width="stretch")
    pairs = pd.DataFrame(
        [
            (sentences[i], sentences[j], float(scores[i, j]))
            for i in range(len(sentences))
            for j in range(i + 1, len(sentences))
        ],
        columns=["sentence A", "sentence B", "cosine"],
    ).sort_values("cosine", ascending=False, kind="stable", ignore_index=True)
    st.subheader("Most similar pairs")
    st.dataframe(pairs, hide_index=True, key="pairs")
    st.caption(f"{variant} of {choice.label}: {vectors.shape[1]} dims")


def search_tab(choice: BundleChoice, variant: str, model, corpus: list[str]) -> None:
    """The Search tab: a query's top results over the corpus, its time, and the corpus map."""
    query = st.text_input("Query", DEFAULT_QUERY, key="query")
    if len(corpus) > 1:
        k = st.slider("Results", 1, min(50, len(corpus)), min(10, len(corpus)), key="k")
    else:  # a slider needs min < max
        k = 1
    if not query.strip():
        st.warning("Type a query to search the corpus.")
        return
    documents = encode_corpus(choice.path, variant, tuple(corpus))
    start = time.perf_counter()
    query_vector = model.encode([query])
    scores = cosine_matrix(query_vector, documents)[0]
    best = top_k(scores[None, :], k)[0]
    elapsed_ms = (time.perf_counter() - start) * 1000
    results_column, map_column = st.columns([11, 9])
    with results_column:
        st.metric("time per query", f"{elapsed_ms:.2f} ms", help="encode the query and rank the whole corpus")
        results = pd.DataFrame(
            {"rank": np.arange(1, k + 1), "sentence": [corpus[i] for i in best], "cosine": scores[best].astype(float)}
        )
        st.dataframe(
            results,
            hide_index=True,
            key="results",
            column_config={
                "rank": st.column_config.NumberColumn(width=50),
                "sentence": st.column_config.TextColumn(width=360),
                "cosine": st.column_config.NumberColumn(format="%.3f", width=70),
            },
        )
        st.caption(f"{len(corpus):,} sentences indexed")
    with map_column:
        corpus_map(corpus, documents, query, query_vector, best)


def corpus_map(corpus: list[str], documents: np.ndarray, query: str, query_vector: np.ndarray, best) -> None:
    """The corpus on a 2-D PCA map, the query and its top results marked."""
    st.markdown("**Map of the corpus** (PCA of the sentence vectors)")
    if len(corpus) < 2:
        st.caption("The map needs at least two sentences.")
        return
    shown = np.arange(len(corpus))
    if len(corpus) > MAP_POINTS:  # keep the chart light: every result, then an even sample of the rest
        rest = np.setdiff1d(shown, best)
        shown = np.union1d(best, rest[np.linspace(0, len(rest) - 1, MAP_POINTS - len(best)).astype(int)])
    projection = fit_pca(documents)
    points = projection(documents[shown])
    where = projection(query_vector)[0]
    kind = np.where(np.isin(shown, best), "top result", "corpus")
    frame = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "text": [corpus[i] for i in shown], "kind": kind})
    frame = pd.concat(
        [frame, pd.DataFrame({"x": [where[0]], "y": [where[1]], "text": [query], "kind": ["query"]})],
        ignore_index=True,
    )
    colors = alt.Scale(domain=["corpus", "top result", "query"], range=["#c7cdd6", "#1f77b4", "#d62728"])
    chart = (
        alt.Chart(frame)
        .mark_circle()
        .encode(
            x=alt.X("x:Q", title="PC 1", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:Q", title="PC 2", axis=alt.Axis(labels=False, ticks=False)),
            color=alt.Color("kind:N", scale=colors, legend=alt.Legend(orient="bottom", title=None)),
            size=alt.Size(
                "kind:N", scale=alt.Scale(domain=["corpus", "top result", "query"], range=[25, 70, 220]), legend=None
            ),
            order=alt.Order("kind:N", sort="ascending"),
            tooltip=["text", "kind"],
        )
        .properties(height=360, autosize=alt.AutoSizeParams(type="fit", contains="padding"))
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        f"{len(shown):,} sentences; the two axes keep {projection.explained:.1%} of the variance. "
        "Red: the query, placed by the same projection; blue: its top results."
    )


def compare_tab(options: dict[str, BundleChoice], corpus: list[str]) -> None:
    """The Compare tab: how far two variants or bundles agree on the same queries and corpus, and their sizes."""
    st.write("Compare two variants (fp32 vs int8, full dims vs a sliced bundle) on the same corpus and queries.")
    left, right = st.columns(2)
    with left:
        a_choice, a_variant, a_model = choose_model(options, "A:", "a", default_index=0)
    with right:
        b_choice, b_variant, b_model = choose_model(options, "B:", "b")
    queries_text = st.text_area("Queries, one per line", "\n".join(COMPARE_QUERIES), height=120, key="compare-queries")
    queries = [q.strip() for q in queries_text.splitlines() if q.strip()]
    if not queries:
        st.warning("Enter at least one query.")
        return
    k = min(10, len(corpus))
    numbers = agreement(
        (a_model.encode(queries), b_model.encode(queries)),
        (
            encode_corpus(a_choice.path, a_variant, tuple(corpus)),
            encode_corpus(b_choice.path, b_variant, tuple(corpus)),
        ),
        k,
    )
    columns = st.columns(len(numbers))
    for column, (name, value) in zip(columns, numbers.items(), strict=True):
        column.metric(name, f"{value:.4f}")
    sizes = []
    for label, choice, variant, model in (("A", a_choice, a_variant, a_model), ("B", b_choice, b_variant, b_model)):
        size = choice.manifest.variant_bytes()[variant]
        sizes.append({"": label, "model": choice.label, "variant": variant, "dims": model.dims, "file MB": size / 1e6})
    st.dataframe(pd.DataFrame(sizes).round({"file MB": 2}), hide_index=True, key="sizes")


def header(choice: BundleChoice, variant: str) -> None:
    """The page title and what a static model is."""
    st.title("static-edge demo")
    st.markdown(
        "A **static embedding model** gives every token one vector and a sentence the mean of its tokens' "
        "vectors: no transformer runs, so it encodes thousands of sentences a second on a CPU or in a browser. "
        f"You are looking at **{choice.label}**, variant **{variant}**, an exported ONNX bundle: search a corpus "
        "and see it on a map, compare sentences, and see what fewer dimensions or int8 cost."
    )


def main() -> None:
    """The page: model and corpus in the sidebar, the variants table, then the three tabs."""
    st.set_page_config(page_title="static-edge demo", layout="wide")
    options = bundle_options()
    with st.sidebar:
        st.header("Model")
        choice, variant, model = choose_model(options, "", "main")
        manifest = choice.manifest
        st.write(f"{manifest.vocab_size:,} tokens x {manifest.dims} dims, normalize={manifest.normalize}")
        st.header("Corpus")
        upload = st.file_uploader(f"Text file, one sentence a line (up to {MAX_UPLOAD_MB} MB)", type=["txt"])
    header(choice, variant)
    corpus = read_corpus(upload)
    st.subheader("Variants of this model")
    variants_panel(choice, corpus)
    search, similarity, compare = st.tabs(["Search and map", "Similarity", "Compare variants"])
    with search:
        search_tab(choice, variant, model, corpus)
    with similarity:
        similarity_tab(choice, variant, model)
    with compare:
        compare_tab(options, corpus)


main()
