"""static-edge demo: what a static model does, and what slicing and quantization cost.

Run it with `static-edge demo [BUNDLE ...]`. Bundles come from the STATIC_EDGE_DEMO_BUNDLES
environment variable (paths joined with os.pathsep), which the command sets.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from static_edge.demo_app.app_env import BUNDLES_ENV
from static_edge.demo_app.compare import agreement, top_k
from static_edge.runtimes import BundleError, cosine_matrix, load, read_manifest
from static_edge.runtimes.bundle import VARIANT_FILES
from static_edge.runtimes.samples import sample_corpus

DEFAULT_SENTENCES = """A man is playing a guitar.
Someone plays an instrument on stage.
The stock market fell sharply today.
Shares dropped after the inflation report.
A cat sleeps on the windowsill."""
DEFAULT_QUERY = "will it rain tomorrow?"


@st.cache_resource(show_spinner=False)
def get_model(bundle: str, variant: str):
    return load(bundle, variant=variant)


@st.cache_data(show_spinner=False)
def encode_corpus(bundle: str, variant: str, corpus: tuple[str, ...]) -> np.ndarray:
    return get_model(bundle, variant).encode(list(corpus))


def bundle_options() -> dict[str, list[str]]:
    """label -> variants of every bundle that loads; shows an error for each one that does not."""
    paths = [p for p in os.environ.get(BUNDLES_ENV, "").split(os.pathsep) if p]
    if not paths:
        st.error("No bundle given. Start the demo with `static-edge demo BUNDLE` (run `make quickstart` first).")
        st.stop()
    options: dict[str, list[str]] = {}
    for path in paths:
        try:
            options[path] = read_manifest(path).variants
        except BundleError as err:
            st.error(f"Cannot open bundle {path}: {err}")
    if not options:
        st.stop()
    return options


def read_corpus(upload) -> list[str]:
    if upload is None:
        return sample_corpus()
    text = upload.getvalue().decode("utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def choose_model(options: dict[str, list[str]], label: str, key: str, default_index: int = -1):
    """Bundle and variant pickers; the variant defaults to `variants[default_index]` (the smallest by default)."""
    bundle = st.selectbox(f"{label} bundle", list(options), key=f"{key}-bundle")
    variants = options[bundle]
    variant = st.selectbox(f"{label} variant", variants, index=default_index % len(variants), key=f"{key}-variant")
    try:
        return bundle, variant, get_model(bundle, variant)
    except (BundleError, OSError, ValueError) as err:
        st.error(f"Cannot load {variant} of {bundle}: {err}")
        st.stop()


def similarity_tab(bundle: str, variant: str, model) -> None:
    text = st.text_area("Sentences, one per line", DEFAULT_SENTENCES, height=150, key="sentences")
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
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
    st.caption(f"{variant} of {bundle}: {vectors.shape[1]} dims")


def search_tab(bundle: str, variant: str, model, corpus: list[str]) -> None:
    query = st.text_input("Query", DEFAULT_QUERY, key="query")
    k = st.slider("Results", 1, min(50, len(corpus)), min(10, len(corpus)), key="k")
    if not query.strip():
        st.warning("Type a query to search the corpus.")
        return
    documents = encode_corpus(bundle, variant, tuple(corpus))
    start = time.perf_counter()
    scores = cosine_matrix(model.encode([query]), documents)[0]
    best = top_k(scores[None, :], k)[0]
    elapsed_ms = (time.perf_counter() - start) * 1000
    st.metric("time per query", f"{elapsed_ms:.2f} ms", help="encode the query and rank the whole corpus")
    results = pd.DataFrame(
        {"rank": np.arange(1, k + 1), "sentence": [corpus[i] for i in best], "cosine": scores[best].astype(float)}
    )
    st.dataframe(results, hide_index=True, key="results")
    st.caption(f"{len(corpus)} sentences indexed")


def compare_tab(options: dict[str, list[str]], corpus: list[str]) -> None:
    st.write("Compare two variants (fp32 vs int8, full dims vs a sliced bundle) on the same corpus and queries.")
    left, right = st.columns(2)
    with left:
        a_bundle, a_variant, a_model = choose_model(options, "A:", "a", default_index=0)
    with right:
        b_bundle, b_variant, b_model = choose_model(options, "B:", "b")
    queries_text = st.text_area(
        "Queries, one per line", "\n".join(corpus[:: max(1, len(corpus) // 20)][:20]), height=120, key="compare-queries"
    )
    queries = [q.strip() for q in queries_text.splitlines() if q.strip()]
    if not queries:
        st.warning("Enter at least one query.")
        return
    k = min(10, len(corpus))
    numbers = agreement(
        (a_model.encode(queries), b_model.encode(queries)),
        (encode_corpus(a_bundle, a_variant, tuple(corpus)), encode_corpus(b_bundle, b_variant, tuple(corpus))),
        k,
    )
    columns = st.columns(len(numbers))
    for column, (name, value) in zip(columns, numbers.items(), strict=True):
        column.metric(name, f"{value:.4f}")
    sizes = []
    for label, bundle, variant, model in (("A", a_bundle, a_variant, a_model), ("B", b_bundle, b_variant, b_model)):
        entry = read_manifest(bundle).files[VARIANT_FILES[variant]]
        sizes.append(
            {
                "": label,
                "bundle": Path(bundle).name,
                "variant": variant,
                "dims": model.dims,
                "file MB": round(entry["bytes"] / 1e6, 2),
            }
        )
    st.dataframe(pd.DataFrame(sizes), hide_index=True, key="sizes")


def main() -> None:
    st.set_page_config(page_title="static-edge demo", layout="wide")
    st.title("static-edge demo")
    options = bundle_options()
    with st.sidebar:
        st.header("Model")
        bundle, variant, model = choose_model(options, "", "main")
        manifest = model.manifest
        st.write(f"{manifest.vocab_size:,} tokens x {manifest.dims} dims, normalize={manifest.normalize}")
        for name in manifest.variants:
            st.write(f"{name}: {manifest.files[VARIANT_FILES[name]]['bytes'] / 1e6:.1f} MB")
        st.header("Corpus")
        upload = st.file_uploader("Text file, one sentence a line", type=["txt"])
    corpus = read_corpus(upload)
    if not corpus:
        st.error("The uploaded file has no sentences.")
        st.stop()
    similarity, search, compare = st.tabs(["Similarity", "Search", "Compare variants"])
    with similarity:
        similarity_tab(bundle, variant, model)
    with search:
        search_tab(bundle, variant, model, corpus)
    with compare:
        compare_tab(options, corpus)


main()
