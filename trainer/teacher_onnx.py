"""The teacher pass that scales: length-sorted batches, vectors kept chunk by chunk, the teacher run by ONNX Runtime.

`encode_sorted` runs any encoder over texts sorted shortest first (little padding, and a progress bar whose first
estimate holds: Sentence Transformers' `encode` starts with the longest texts), writes the vectors of every
`chunk_texts` texts to a file of their own, so a killed pass resumes from the last whole chunk, and returns the
rows in the input's order.

`load_encoder` gives the teacher as such an encoder: through torch (Sentence Transformers' `encode`), or through
ONNX Runtime from the teacher exported once and cached by a digest of its files. Why `torch.onnx.export` and not
optimum (nor Sentence Transformers' `backend="onnx"`, which calls optimum): optimum-onnx pins transformers<4.58,
and training here runs Sentence Transformers 6 on transformers 5; torch's own exporter needs nothing more and
works offline. The exported graph is the teacher's whole pipeline after the tokenizer - the transformer, then the
Pooling, Dense and Normalize modules its modules.json lists - so pooling is the teacher's own code, not a copy;
the tokenizer stays Sentence Transformers' (`SentenceTransformer.preprocess`), so ONNX Runtime sees the inputs
torch would. int8 is onnxruntime's dynamic quantization of that graph's MatMul weights, per output channel
(`quantize_dynamic`; per tensor, all-MiniLM-L6-v2's vectors kept only 0.96 mean cosine to fp32, per channel 0.994).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from static_edge.runtimes.embedder import available_cores, l2_normalize, rowwise_cosine
from static_edge.runtimes.errors import InputError, ModelLoadError
from static_edge.runtimes.staging import write_file_atomic, write_path_atomic

BACKENDS = ("onnx", "torch")
"""How the teacher runs: ONNX Runtime (the default: faster on CPU, and a GPU through CUDA where there is one), or
torch through Sentence Transformers (any teacher Sentence Transformers loads, exportable or not)."""
PRECISIONS = ("auto", "fp32", "int8")
"""The ONNX teacher's weights. "auto": on CPU, int8 when this teacher's int8 vectors stay within `INT8_BOUND` of
its fp32 ones on the probe texts (`int8_agreement`, checked once per teacher), else fp32; on a GPU, fp32 (ONNX
Runtime's int8 kernels are CPU ones). int8 is the faster on CPU: benchmarks/results/teacher_pass.md."""
INT8_BOUND = (0.99, 0.95)
"""(mean, min) cosine of the int8 teacher's vectors to its fp32 ones that "auto" requires to use int8."""
CHUNK_TEXTS = 2048
"""Texts per cached chunk of a teacher pass: what a killed pass loses at most."""
ONNX_OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
"""Tokenizer outputs the exported graph may take (the ones the teacher's tokenizer gives, in this order)."""

Encoder = Callable[[list[str]], np.ndarray]
"""A batch of texts -> their normalized float32 vectors."""


def check_choice(backend: str, precision: str) -> None:
    """Refuse an unknown backend or precision, or int8 through torch.

    :raises InputError: naming the bad value.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown teacher backend {backend!r}: one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise InputError(f"unknown teacher precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if backend == "torch" and precision == "int8":
        raise InputError("int8 needs the onnx teacher backend")


def cuda_available(backend: str) -> bool:
    """True when `backend` would run on a GPU here (onnxruntime-gpu's CUDA provider, or torch with CUDA)."""
    if backend == "onnx":
        import onnxruntime

        return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    import torch

    return torch.cuda.is_available()


def resolve_precision(backend: str, precision: str) -> str:
    """The precision the teacher runs in, as far as it is known before loading it: torch is fp32, and "auto" on a
    GPU is fp32; "auto" on CPU stays "auto" (int8 or fp32 by the teacher's `int8_agreement`, a fixed outcome for
    given teacher files, so it can key a cache).

    :raises InputError: see `check_choice`.
    """
    check_choice(backend, precision)
    if backend == "torch" or (precision == "auto" and cuda_available(backend)):
        return "fp32"
    return precision


def teacher_digest(teacher: str | os.PathLike[str]) -> str:
    """sha256 over a teacher folder's files (relative paths and contents); for a hub id, over its name."""
    digest = hashlib.sha256()
    folder = Path(teacher)
    if not folder.is_dir():
        digest.update(str(teacher).encode("utf-8"))
        return digest.hexdigest()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)
    signature = tuple((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _folder_digest(folder.resolve(), signature)


@functools.lru_cache(maxsize=8)
def _folder_digest(folder: Path, signature: tuple[tuple[str, int, int], ...]) -> str:
    """`teacher_digest` of a folder, read once per process while its files' names, sizes and times are unchanged
    (the cache key, and the vectors' key, both need it: a teacher is hundreds of MB)."""
    digest = hashlib.sha256()
    for name, _, _ in signature:
        digest.update(name.encode("utf-8") + b"\0")
        with open(folder / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_teacher(teacher: str | os.PathLike[str], device: str = "cpu") -> Any:
    """The teacher as a SentenceTransformer on `device`.

    :raises ModelLoadError: when it cannot be loaded (one line naming it).
    """
    from sentence_transformers import SentenceTransformer

    from static_edge.trainer.distill import quiet_transformers
    from static_edge.trainer.loading import load_error

    quiet_transformers()
    try:
        return SentenceTransformer(str(teacher), device=device)
    except (OSError, ValueError, KeyError) as err:  # not a folder, not on the hub (or offline), not a model
        raise load_error("teacher", teacher, err) from err


def load_encoder(
    teacher: str | os.PathLike[str],
    backend: str = "onnx",
    precision: str = "auto",
    model_cache: str | os.PathLike[str] | None = None,
) -> Encoder:
    """The teacher as an `Encoder`: through ONNX Runtime (exported into `model_cache/teacher-onnx` on first use)
    or through torch; on a GPU where the backend has one.

    :raises InputError: for an unknown backend or precision.
    :raises ModelLoadError: when the teacher cannot be loaded or exported.
    """
    precision = resolve_precision(backend, precision)
    if backend == "torch":
        model = load_teacher(teacher, "cuda" if cuda_available("torch") else "cpu")
        return lambda batch: model.encode(
            batch, batch_size=len(batch), show_progress_bar=False, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)
    from static_edge.runtimes.hub import DEFAULT_CACHE

    model = load_teacher(teacher)
    return cached_onnx_teacher(model, teacher, precision, Path(model_cache or DEFAULT_CACHE).expanduser())


def cached_onnx_teacher(model: Any, teacher: str | os.PathLike[str], precision: str, cache: Path) -> OnnxTeacher:
    """`OnnxTeacher` on `onnx_teacher`'s file; a cached export ONNX Runtime cannot load (cut short or edited
    after it was written) is removed and exported again.

    :raises ModelLoadError: when the teacher cannot be exported, or ONNX Runtime cannot load a fresh export.
    """
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

    damaged = (Fail, InvalidGraph, InvalidProtobuf)
    try:
        return OnnxTeacher(model, onnx_teacher(model, teacher, precision, cache))
    except damaged:
        for path in export_paths(teacher, cache):
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
    try:
        return OnnxTeacher(model, onnx_teacher(model, teacher, precision, cache))
    except damaged as err:
        from static_edge.trainer.loading import reason

        raise ModelLoadError(
            f"teacher {teacher}: ONNX Runtime cannot load its export ({reason(err)}): use the torch teacher backend"
        ) from err


def export_paths(teacher: str | os.PathLike[str], cache: Path) -> tuple[Path, Path]:
    """The fp32 and int8 files of the teacher's export in `cache/teacher-onnx`, named by `teacher_digest`."""
    stem = teacher_digest(teacher)[:20]
    return cache / "teacher-onnx" / f"{stem}-fp32.onnx", cache / "teacher-onnx" / f"{stem}-int8.onnx"


def onnx_teacher(model: Any, teacher: str | os.PathLike[str], precision: str, cache: Path) -> Path:
    """The teacher's ONNX file in `precision` ("auto": int8 if `int8_agreement` keeps `INT8_BOUND`, else fp32),
    exported (and quantized) once into `cache/teacher-onnx` under a digest of the teacher's files; each file is
    written beside its place and renamed into it (whole or absent).

    :raises ModelLoadError: when torch cannot export the teacher.
    """
    fp32, int8 = export_paths(teacher, cache)
    target = fp32 if precision == "fp32" else int8
    if target.is_file() and precision != "auto":
        return target
    fp32.parent.mkdir(parents=True, exist_ok=True)
    checked: list[np.ndarray] = []  # the export's probe vectors, which int8_agreement compares with

    def export_and_check(tmp: Path) -> None:
        export_pipeline(model, teacher, tmp)
        checked.append(check_export(model, teacher, tmp))

    if not fp32.is_file():
        write_path_atomic(fp32, export_and_check)
    if precision != "fp32" and not int8.is_file():
        write_path_atomic(int8, lambda tmp: quantize(fp32, tmp))
    if precision != "auto":
        return target
    mean, least = int8_agreement(model, fp32, int8, checked[0] if checked else None)
    return int8 if mean >= INT8_BOUND[0] and least >= INT8_BOUND[1] else fp32


def quantize(fp32: Path, int8: Path) -> None:
    """onnxruntime's dynamic int8 quantization of the MatMul weights of `fp32`, per output channel, into `int8`."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # its advice to pre-process first is for static quantization
    try:
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
    finally:
        logging.disable(logging.NOTSET)


def check_export(model: Any, teacher: str | os.PathLike[str], path: Path) -> np.ndarray:
    """Refuse an export whose vectors of `probe_texts` differ from torch's (cosine below 1 - 1e-4): a graph the
    tracer fixed to its sample's shapes would. Returns the export's vectors of `probe_texts`.

    :raises ModelLoadError: naming the teacher, the worst cosine and the torch backend as the way out.
    """
    texts = probe_texts()
    exact = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    exported = encode_sorted(OnnxTeacher(model, path), texts, 32, progress=False)
    least = float(np.min(rowwise_cosine(exported, exact)))
    if least < 1 - 1e-4:
        raise ModelLoadError(
            f"teacher {teacher} exported to ONNX gives other vectors than torch (min cosine {least:.5f}): "
            "use the torch teacher backend"
        )
    return exported


def probe_texts() -> list[str]:
    """Texts `int8_agreement` compares on: the sample corpus' sentences, and paragraphs of ten of them."""
    from static_edge.runtimes.samples import sample_corpus

    sentences = sample_corpus()
    return sentences + [" ".join(sentences[i : i + 10]) for i in range(0, len(sentences), 10)]


def int8_agreement(model: Any, fp32: Path, int8: Path, reference: np.ndarray | None = None) -> tuple[float, float]:
    """Mean and min cosine of the int8 teacher's vectors to the fp32 one's over `probe_texts`, measured once and
    kept beside the int8 file (`<name>.json`); `reference`: the fp32 vectors of `probe_texts` when already at hand
    (`check_export`'s), else they are encoded here."""
    record = int8.with_suffix(".json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # absent or damaged: measure again
        kept = json.loads(record.read_text())
        return float(kept["mean"]), float(kept["min"])
    texts = probe_texts()
    exact = encode_sorted(OnnxTeacher(model, fp32), texts, progress=False) if reference is None else reference
    cosines = rowwise_cosine(encode_sorted(OnnxTeacher(model, int8), texts, progress=False), exact)
    mean, least = float(cosines.mean()), float(cosines.min())
    data = json.dumps({"mean": mean, "min": least, "texts": len(texts)}).encode("utf-8")
    write_file_atomic(record, lambda handle: handle.write(data))
    return mean, least


def export_pipeline(model: Any, teacher: str | os.PathLike[str], path: Path) -> None:
    """Export `model` (a SentenceTransformer) from token ids to its sentence vector, batch and length dynamic.

    :raises ModelLoadError: when torch cannot trace the teacher (name it, and the torch backend as the way out).
    """
    import torch

    sample = model.preprocess(["a short text", "a longer text, so that the batch needs padding to its length"])
    names = [name for name in INPUT_NAMES if name in sample]
    wrapper = _export_module(model.cpu().eval(), names)
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"sentence_embedding": {0: "batch"}}
    try:
        with torch.no_grad(), warnings.catch_warnings(), eager_attention(model):
            warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every padded batch
            torch.onnx.export(
                wrapper,
                tuple(sample[name] for name in names),
                str(path),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript, not installed
            )
    except Exception as err:  # torch raises many types for a model it cannot trace
        from static_edge.trainer.loading import reason

        raise ModelLoadError(
            f"teacher {teacher} cannot be exported to ONNX ({reason(err)}): use the torch teacher backend"
        ) from err


@contextlib.contextmanager
def eager_attention(model: Any) -> Iterator[None]:
    """Switch the teacher's transformer to transformers' "eager" attention while the block runs.

    Traced from "sdpa", the attention becomes a graph ONNX Runtime runs at half the speed (all-MiniLM-L6-v2 on
    2 cores: about 38 texts/s against 73 from "eager", the same vectors).
    """
    transformer = getattr(model[0], "auto_model", None) if len(model) else None
    before = getattr(getattr(transformer, "config", None), "_attn_implementation", None)
    if transformer is None or before in (None, "eager") or not hasattr(transformer, "set_attn_implementation"):
        yield
        return
    transformer.set_attn_implementation("eager")
    try:
        yield
    finally:
        transformer.set_attn_implementation(before)


def _export_module(model: Any, names: Sequence[str]) -> Any:
    """A torch module that calls `model` (a SentenceTransformer: transformer, pooling, ...) on positional
    tokenizer outputs named `names` and returns its sentence vectors: what `torch.onnx.export` traces."""
    import torch

    class Pipeline(torch.nn.Module):
        """`model` on positional inputs (the exporter passes a tuple; Sentence Transformers wants a dict)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            """The teacher's modules in order on the named inputs."""
            return self.model(dict(zip(names, inputs, strict=True)))["sentence_embedding"]

    return Pipeline()


class OnnxTeacher:
    """The exported teacher in an ONNX Runtime session (CUDA where available, else every core this process may
    use), tokenizing with the teacher's own tokenizer."""

    def __init__(self, model: Any, path: Path) -> None:
        """Open `path`; `model` (the SentenceTransformer) provides the tokenizer."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = available_cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # no warnings about nodes the CUDA provider leaves to the CPU
        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        self.names = [node.name for node in self.session.get_inputs()]
        self.model = model

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Normalized float32 vectors of `texts` (one batch, padded to its longest text)."""
        features = self.model.preprocess(texts)
        feed = {name: features[name].numpy().astype(np.int64) for name in self.names}
        vectors = self.session.run(None, feed)[0].astype(np.float32)
        return l2_normalize(vectors)


def encode_sorted(
    encode: Encoder,
    texts: Sequence[str],
    batch_size: int = 64,
    parts: str | os.PathLike[str] | None = None,
    chunk_texts: int = CHUNK_TEXTS,
    progress: bool = True,
) -> np.ndarray:
    """`encode` over `texts` shortest first, in batches, with a progress bar in texts; rows in input order.

    With `parts`, the vectors of every `chunk_texts` texts (in sorted order) go to a file of their own there,
    written atomically; chunks already there are read, not encoded again, so a killed pass resumes.

    :raises InputError: when `batch_size` or `chunk_texts` is below 1.
    """
    from tqdm.auto import tqdm

    if batch_size < 1 or chunk_texts < 1:
        raise InputError(f"batch size and chunk size must be at least 1, got {batch_size} and {chunk_texts}")
    order = np.array(sorted(range(len(texts)), key=lambda i: len(texts[i])), dtype=np.int64)
    folder = Path(parts) if parts is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    rows: np.ndarray | None = None
    with tqdm(total=len(texts), unit="text", desc="teacher pass", disable=not progress) as bar:
        for start in range(0, len(texts), chunk_texts):
            chosen = order[start : start + chunk_texts]
            chunk = _chunk(encode, [texts[i] for i in chosen], batch_size, folder, start, bar)
            if rows is None:
                rows = np.zeros((len(texts), chunk.shape[1]), dtype=np.float32)
            rows[chosen] = chunk
    return rows if rows is not None else np.zeros((0, 0), dtype=np.float32)


def _chunk(encode: Encoder, texts: list[str], batch_size: int, folder: Path | None, start: int, bar: Any) -> np.ndarray:
    """One chunk's vectors: read from `folder` when a run wrote them, else encoded by batch (and written there)."""
    path = folder / f"chunk-{start}-{start + len(texts)}.npy" if folder is not None else None
    vectors = read_cached(path) if path is not None else None
    if vectors is not None and vectors.shape[0] == len(texts):
        bar.update(len(texts))
        return vectors
    batches = []
    for offset in range(0, len(texts), batch_size):
        batches.append(encode(texts[offset : offset + batch_size]))
        bar.update(len(batches[-1]))
    vectors = np.concatenate(batches).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # a concurrent pass of the same texts removes it when done
        write_file_atomic(path, lambda handle: np.save(handle, vectors))
    return vectors


def read_cached(path: Path) -> np.ndarray | None:
    """An array a teacher pass cached at `path`, or None when it is absent or damaged (cut short, edited): a damaged
    cache file is a cache miss, computed and written again."""
    try:
        return np.load(path)
    except (OSError, ValueError, EOFError):
        return None
