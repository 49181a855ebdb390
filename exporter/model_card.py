"""The model card (README.md) of a bundle: hub metadata, sizes, parity, quality and usage that runs as written.

`export` writes it; `push` rewrites it with the hub id in the usage snippets; `check` and `eval` add the
numbers the card shows (parity, quality) to the manifest, and the next `push` (or `write_bundle_card`)
refreshes it. README.md is documentation, not part of the bundle contract: it is not listed in the
manifest's `files` (so it carries no sha256) because it is rewritten after the manifest is final; no
runtime reads it.

The front matter is built with huggingface_hub's `ModelCardData`, so the hub reads what we write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from static_edge.runtimes.bundle import (
    BundleError,
    Manifest,
    inside_bundle,
    read_manifest,
    resolve_variant,
)
from static_edge.runtimes.staging import write_file_atomic
from static_edge.runtimes.variants import VARIANTS

CARD_FILE = "README.md"
TAGS = ["static-embeddings", "onnx", "transformers.js", "fastembed", "static-edge", "sentence-similarity"]
EXAMPLE_TEXTS = ["A static model averages token vectors.", "Static embeddings run anywhere."]


@dataclass(frozen=True)
class CardInfo:
    """What the manifest does not hold: the names to use and the metadata carried from the source."""

    model_id: str
    """What the usage snippets load: a hub id ("org/name") or the bundle's path as the user named it."""
    on_hub: bool = False
    license: str | None = None
    base_model: str | None = None


def read_card_metadata(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The front matter of `folder/README.md` (a source model's or a bundle's own card), or {} when there is none."""
    path = Path(folder) / CARD_FILE
    if not path.is_file() or not path.read_bytes().startswith(b"---"):
        return {}
    from huggingface_hub import ModelCard

    try:
        return ModelCard.load(path).data.to_dict()
    except (ValueError, OSError, UnicodeDecodeError):  # a README without (valid) front matter carries no metadata
        return {}


def own_card_metadata(bundle: Path) -> dict[str, Any]:
    """The front matter of the bundle's README.md, or {} when it has none or it is a symbolic link out of it."""
    try:
        inside_bundle(bundle, CARD_FILE)
    except BundleError:
        return {}
    return read_card_metadata(bundle)


def refresh_bundle_card(bundle: Path) -> Path:
    """Rewrite the card from the manifest (after `check` recorded parity), keeping its licence and base model."""
    previous = own_card_metadata(bundle)
    info = CardInfo(model_id=str(bundle), license=previous.get("license"), base_model=previous.get("base_model"))
    return write_bundle_card(bundle, info)


def write_bundle_card(bundle: str | os.PathLike[str], info: CardInfo) -> Path:
    """Write `bundle/README.md` from its manifest; returns its path.

    The card is written beside its destination and renamed over it: a README.md that is a symbolic or hard
    link to a file elsewhere (a hub-cache blob, a file outside the bundle) is replaced, never written through.
    """
    path = Path(bundle) / CARD_FILE
    text = bundle_card(read_manifest(bundle), info).encode("utf-8")
    write_file_atomic(path, lambda handle: handle.write(text))
    return path


def bundle_card(manifest: Manifest, info: CardInfo) -> str:
    """The card's text: YAML front matter, then sizes, parity, quality and usage."""
    from huggingface_hub import ModelCardData

    data = ModelCardData(
        library_name="transformers.js",
        pipeline_tag="feature-extraction",
        tags=TAGS,
        license=info.license,
        base_model=info.base_model,
    )
    source = manifest.source.get("model") or "a static embedding model"
    title = info.model_id.rstrip("/").split("/")[-1] if not info.on_hub else info.model_id
    sections = [
        f"---\n{data.to_yaml()}\n---",
        f"# {title}",
        "A static embedding model: every token has one vector and a sentence's vector is the mean of its "
        "tokens' vectors, so encoding is a table lookup, with no transformer to run. This bundle holds it as "
        "small ONNX files that onnxruntime, transformers.js and fastembed load unmodified; it was exported by "
        f"static-edge from `{source}`"
        + (f" at revision `{manifest.source['revision']}`" if manifest.source.get("revision") else "")
        + ".",
        _facts(manifest),
        _sizes(manifest),
        _parity(manifest),
        _quality(manifest),
        _usage(manifest, info),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _facts(manifest: Manifest) -> str:
    return "\n".join(
        [
            f"- dimensions: {manifest.dims}; vocabulary: {manifest.vocab_size:,} tokens; pooling: mean "
            f"(unknown tokens {'skipped' if manifest.mask_unknown else 'counted'}); "
            f"L2-normalized: {'yes' if manifest.normalize else 'no'}",
            f"- inputs `input_ids`, `attention_mask`; outputs `token_embeddings`, `sentence_embedding`; "
            f"default variant `{manifest.default_variant}`",
        ]
    )


def _sizes(manifest: Manifest) -> str:
    rows = ["## Variants", "", "| variant | file | size | table dtype |", "|---|---|---:|---|"]
    for variant in manifest.variants:
        entry = manifest.files[VARIANTS[variant].file]
        rows.append(f"| {variant} | `{VARIANTS[variant].file}` | {entry['bytes'] / 1e6:.2f} MB | {entry['dtype']} |")
    return "\n".join(rows)


def _parity(manifest: Manifest) -> str:
    parity = manifest.parity
    if not parity:
        return "## Parity\n\nNot measured yet: `static-edge check BUNDLE` measures it; `push` then refreshes this card."
    verdict = "every tolerance met" if parity.get("passed") else "**some tolerances NOT met**"
    rows = [
        "## Parity",
        "",
        f"`static-edge check` against `{parity.get('reference')}` on {parity.get('texts')} texts "
        f"({parity.get('checked_at', 'date unknown')}): {verdict}.",
        "",
        "| compared | metric | value | tolerance | passed |",
        "|---|---|---:|---:|---|",
    ]
    for row in parity.get("rows", []):
        bound = "<=" if row.get("at_most") else ">="
        rows.append(
            f"| {row['pair']} | {row['metric']} | {row['value']:.3g} | {bound} {row['tolerance']:g} | "
            f"{'yes' if row.get('passed') else 'NO'} |"
        )
    return "\n".join(rows)


def _quality(manifest: Manifest) -> str:
    quality = manifest.quality
    if not quality:
        return ""
    rows = ["## Quality", "", "Measured with `static-edge eval` (x100; STS: Spearman, retrieval: nDCG@10).", ""]
    dims = sorted({int(d) for tasks in quality.values() for by_dim in tasks.values() for d in by_dim})
    rows += ["| variant | task | " + " | ".join(f"{d} dims" for d in dims) + " |", "|---|---|" + "---:|" * len(dims)]
    for variant, tasks in quality.items():
        for task, by_dim in tasks.items():
            cells = [f"{by_dim[str(d)]:.2f}" if str(d) in by_dim else "" for d in dims]
            rows.append(f"| {variant} | {task} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def usage_snippets(manifest: Manifest, info: CardInfo) -> dict[str, str]:
    """language -> code that loads this bundle and encodes two texts, as printed in the card."""
    model = info.model_id
    variant = manifest.default_variant
    js_dtype = VARIANTS[variant].transformers_js_dtype
    cpu_variant = resolve_variant(manifest, None)
    texts = repr(EXAMPLE_TEXTS)
    normalize = "true" if manifest.normalize else "false"
    python = "\n".join(
        [
            "from static_edge import load",
            "",
            f'model = load("{model}", variant="{variant}")  # without variant=: {cpu_variant}, the fastest on a CPU',
            f"vectors = model.encode({texts})",
            f"print(vectors.shape)  # (2, {manifest.dims})",
        ]
    )
    if info.on_hub:
        js_setup = ["import { pipeline } from '@huggingface/transformers';"]
    else:
        js_setup = [
            "import { pipeline, env } from '@huggingface/transformers';",
            "",
            "env.localModelPath = './';  // the folder the model path below is relative to",
            "env.allowRemoteModels = false;",
        ]
    js = "\n".join(
        [
            *js_setup,
            "",
            f"const extractor = await pipeline('feature-extraction', '{model}', {{ dtype: '{js_dtype}' }});",
            f"const output = await extractor({texts}, {{ pooling: 'mean', normalize: {normalize} }});",
            f"console.log(output.dims);  // [2, {manifest.dims}]",
        ]
    )
    fastembed_load = (
        f'model = TextEmbedding(model_name="{model}")'
        if info.on_hub
        else f'model = TextEmbedding(model_name="{model}", specific_model_path="{model}")'
    )
    fastembed = "\n".join(
        [
            "from fastembed import TextEmbedding",
            "from fastembed.common.model_description import ModelSource, PoolingType",
            "",
            "TextEmbedding.add_custom_model(",
            f'    model="{model}",',
            "    pooling=PoolingType.MEAN,",
            f"    normalization={manifest.normalize},",
            f'    sources=ModelSource(hf="{model}"),',
            f"    dim={manifest.dims},",
            f'    model_file="{VARIANTS[variant].file}",',
            ")",
            fastembed_load,
            f"vectors = list(model.embed({texts}))",
            "print(len(vectors), vectors[0].shape)",
        ]
    )
    return {"python": python, "javascript": js, "fastembed": fastembed}


def _usage(manifest: Manifest, info: CardInfo) -> str:
    snippets = usage_snippets(manifest, info)
    where = "" if info.on_hub else " Paths are relative to the folder `static-edge export` ran in."
    return "\n".join(
        [
            "## Usage",
            "",
            f"Each snippet encodes two texts with the `{manifest.default_variant}` variant.{where}",
            "",
            "Python (static-edge, onnxruntime, no torch; not on PyPI yet: `pip install .` in a clone of static-edge):",
            "",
            "```python",
            snippets["python"],
            "```",
            "",
            "transformers.js (browser or Node, `npm i @huggingface/transformers`):",
            "",
            "```javascript",
            snippets["javascript"],
            "```",
            "",
            "fastembed (`pip install fastembed`):",
            "",
            "```python fastembed",
            snippets["fastembed"],
            "```",
        ]
    )


def export_card_info(model: str | os.PathLike[str], output: str | os.PathLike[str], source_folder: Path) -> CardInfo:
    """The card facts `export` knows: the output as the user named it, and the source's licence and hub id."""
    from static_edge.runtimes.hub import is_hub_id

    source_meta = read_card_metadata(source_folder)
    return CardInfo(
        model_id=str(output),
        license=source_meta.get("license"),
        base_model=str(model) if is_hub_id(model) else None,
    )
