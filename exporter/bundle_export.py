"""Export a static model to an ONNX bundle (spec: docs/bundle-format.md), atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from static_edge.exporter.graph import build_graph
from static_edge.exporter.model_card import export_card_info, write_bundle_card
from static_edge.exporter.quantization import QUANTIZERS
from static_edge.exporter.sources import StaticSource, read_source
from static_edge.exporter.table_scan import narrow_float_problem, range_problem
from static_edge.exporter.tokenizer_files import bundle_tokenizer_json, model_config, special_tokens, tokenizer_config
from static_edge.exporter.vocab_pruning import MANIFEST_KEY as PRUNING_MANIFEST_KEY
from static_edge.exporter.vocab_pruning import prune_to_corpus
from static_edge.runtimes.bundle import (
    CONFIG_FILE,
    FORMAT_VERSION,
    SPECIAL_TOKENS_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    VARIANT_FILES,
    Manifest,
    file_entry,
    is_bundle,
    write_manifest,
)
from static_edge.runtimes.errors import StaticEdgeError
from static_edge.runtimes.staging import staged_folder
from static_edge.runtimes.variants import REFERENCE, VARIANTS


class ExportError(StaticEdgeError, ValueError):
    """Export options that cannot apply to the given model or output folder."""


@dataclass(frozen=True, init=False)
class ExportOptions:
    """What to write. The reference (fp32) is always written: the other variants are built from it and checked
    against it. Every other variant of `VARIANTS` is a keyword flag: `ExportOptions(dims=256, int8=True)`.

    :raises TypeError: for a keyword that is neither an option nor a variant.
    :raises ExportError: for an unknown name in `extra_variants`.
    """

    dims: int | None = None
    extra_variants: tuple[str, ...] = ()
    """The variants written beside the reference, in the order of `VARIANTS` (set by the variant flags too)."""
    normalize: bool | None = None
    """None keeps the source model's own normalization."""
    overwrite: bool = False
    vocab_from: str | os.PathLike[str] | None = None
    """A corpus file (one text per line): keep only the tokens it uses (exporter/vocab_pruning.py)."""
    max_vocab: int | None = None
    """With `vocab_from`: keep at most this many tokens, the corpus's most frequent."""

    def __init__(
        self,
        dims: int | None = None,
        *,
        extra_variants: Iterable[str] = (),
        normalize: bool | None = None,
        overwrite: bool = False,
        vocab_from: str | os.PathLike[str] | None = None,
        max_vocab: int | None = None,
        **variant_flags: bool,
    ) -> None:
        unknown = sorted(set(variant_flags) - set(VARIANTS))
        if unknown:
            raise TypeError(f"ExportOptions got unexpected keywords {unknown}; the variant flags are {list(VARIANTS)}")
        wanted = set(extra_variants) | {name for name, on in variant_flags.items() if on}
        if wanted - set(VARIANTS):
            raise ExportError(f"unknown variants {sorted(wanted - set(VARIANTS))}; choose from {list(VARIANTS)}")
        chosen = tuple(name for name in VARIANTS if name in wanted and name != REFERENCE.name)
        values = {"dims": dims, "extra_variants": chosen, "normalize": normalize, "overwrite": overwrite}
        values.update(vocab_from=vocab_from, max_vocab=max_vocab)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> bool:
        """`options.int8` and the like: whether that variant is written."""
        if name in VARIANTS:
            return name == REFERENCE.name or name in self.extra_variants
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def variants(self) -> list[str]:
        """Every variant written: the reference, then `extra_variants`."""
        return [REFERENCE.name, *self.extra_variants]

    @property
    def default_variant(self) -> str:
        """The smallest variant written that transformers.js can load: what it and the browser runtime pick by
        default (Python's `load` picks the CPU-fastest instead, `runtimes.variants.CPU_VARIANT_ORDER`).

        A variant without a transformers.js dtype (int2: not a close copy of the table) is never the default.
        """
        return [v for v in self.variants if VARIANTS[v].transformers_js_dtype is not None][-1]


def export(
    model: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: ExportOptions = ExportOptions(),
    revision: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Read `model`, write its bundle to `output`, verify it loads, and return the bundle path.

    The bundle is written in a temporary folder beside `output` and renamed into place only when
    complete, so a failed export leaves nothing behind.

    :raises ExportError: for dims out of range, or an existing output without `overwrite`.
    :raises SourceModelError: when `model` is not a static model.
    """
    say = progress or (lambda message: None)
    output = Path(output)
    if output.exists() and not options.overwrite:
        raise ExportError(f"{output} already exists; pass overwrite=True (--force) to replace it")
    say(f"reading {model}")
    source = read_source(model, revision=revision)
    dims = _resolve_dims(options.dims, source.dims)
    pruning = None
    protected = [source.path] + ([Path(options.vocab_from)] if options.vocab_from is not None else [])
    if options.vocab_from is not None:
        say(f"pruning the vocabulary to the tokens of {options.vocab_from}")
        source, pruning = prune_to_corpus(source, options.vocab_from, options.max_vocab)
    elif options.max_vocab is not None:
        raise ExportError("max_vocab needs a corpus to rank tokens by: pass vocab_from (--vocab-from CORPUS)")
    with staged_folder(output, overwrite=options.overwrite, replaceable=is_bundle, protect=protected) as staging:
        manifest = write_bundle(source, staging, dims, options, say)
        if source.revision is None:  # a local folder: findable from the bundle whatever the working directory
            manifest.source["path_from_bundle"] = os.path.relpath(source.path.resolve(), Path(output).resolve())
        if pruning is not None:
            manifest.extra[PRUNING_MANIFEST_KEY] = pruning.to_dict()
        write_manifest(staging, manifest)
        _verify_loads(staging, options.variants)
        write_bundle_card(staging, export_card_info(model, output, source.path))  # README.md, not hashed
    say(f"wrote {output}")
    return output


def _resolve_dims(dims: int | None, model_dims: int) -> int:
    if dims is None:
        return model_dims
    if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1:
        raise ExportError(f"dims must be a positive integer, got {dims!r}")
    if dims > model_dims:
        raise ExportError(f"dims {dims} is larger than the model's {model_dims} dimensions")
    return dims


def write_bundle(
    source: StaticSource, folder: Path, dims: int, options: ExportOptions, say: Callable[[str], None]
) -> Manifest:
    """Write every bundle file and the manifest into `folder`."""
    normalize = source.normalize if options.normalize is None else options.normalize
    # Matryoshka slicing: mean pooling is linear, so cutting columns first equals truncating the
    # full model's output; normalization (if any) happens after, inside the graph.
    table = np.ascontiguousarray(source.table[:, :dims], dtype=np.float32)
    token_of = source.tokenizer.id_to_token
    _refuse(range_problem(REFERENCE.name, table, None, dims, token_of))
    for variant in options.variants:
        _refuse(narrow_float_problem(VARIANTS[variant], table, token_of))
    unk = source.unk_token_id if source.mask_unknown else None
    (folder / "onnx").mkdir(parents=True)

    tables = {variant: QUANTIZERS[variant](table) for variant in options.variants}
    for variant, (values, scales) in tables.items():
        if scales is not None:  # the rule the runtimes load with: row scale x the largest code the bytes hold
            _refuse(range_problem(variant, values, scales, dims, token_of))
        say(f"building the {variant} graph ({values.shape[0]} x {values.shape[1]}, {values.dtype})")
        bits = VARIANTS[variant].bits
        graph = build_graph(values, scales, normalize=normalize, unk_token_id=unk, dims=dims, bits=bits)
        onnx.save_model(graph, str(folder / VARIANT_FILES[variant]))

    specials = special_tokens(source.tokenizer, source.unk_token_id)
    pad_id = source.tokenizer.token_to_id(specials["pad_token"]) or 0
    texts = {
        TOKENIZER_FILE: bundle_tokenizer_json(source.tokenizer, source.max_length),
        TOKENIZER_CONFIG_FILE: _dump(tokenizer_config(specials, source.max_length)),
        SPECIAL_TOKENS_FILE: _dump(specials),
        CONFIG_FILE: _dump(model_config(dims, source.vocab_size, pad_id, options.default_variant, source.max_length)),
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")

    files = {name: file_entry(folder / name) for name in texts}
    files.update({VARIANT_FILES[v]: file_entry(folder / VARIANT_FILES[v], VARIANTS[v].dtype) for v in tables})
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        source={
            "model": source.model_id,
            "kind": source.kind,
            "revision": source.revision,  # the resolved commit of a hub model; null for a local folder
            "requested_revision": source.requested_revision,
            "sha256": source.weights_sha256,
            "dims": source.dims,
            "dtype": str(source.table.dtype),
            "normalize": source.normalize,
        },
        dims=dims,
        vocab_size=source.vocab_size,
        normalize=normalize,
        mask_unknown=source.mask_unknown,
        unk_token_id=source.unk_token_id,
        max_length=source.max_length,
        pad_token_id=pad_id,
        default_variant=options.default_variant,
        files=files,
    )
    write_manifest(folder, manifest)
    return manifest


def _refuse(problem: str | None) -> None:
    """Raise ExportError(problem) when there is one."""
    if problem:
        raise ExportError(problem)


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _verify_loads(folder: Path, variants: list[str]) -> None:
    """Load each variant with both Python runtimes and encode one text, before the bundle is published."""
    from static_edge.runtimes import load

    for variant in variants:
        for backend in ("onnxruntime", "numpy"):
            vectors = load(folder, variant=variant, backend=backend).encode(["static-edge export check"])
            if not np.isfinite(vectors).all():
                raise ExportError(f"the {variant} graph produced non-finite values on {backend}")
