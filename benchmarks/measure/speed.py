"""The speed table (benchmarks/results/speed.md): `static-edge bench` plus two baselines only this table needs.

    python -m benchmarks.measure.speed BUNDLE -o benchmarks/results --baseline NAME=FOLDER ... \\
        --texts FILE ... [--transformer-onnx]

On top of `static-edge bench` (our runtimes, Sentence Transformers, model2vec, the tokenizer alone, the
`--baseline` transformers with torch) it times
- "onnxruntime, naive padding (before)": the first version of the runtime, the 'before' of the speed work;
- with --transformer-onnx, each baseline exported to ONNX with optimum and run with onnxruntime (the export runs
  in a separate cached virtual environment: optimum-onnx and Sentence Transformers 6 need different
  transformers releases).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import common
from static_edge.bench import Encode, add_bench_arguments, parse_baseline, static_encoders, time_and_write

MODULE = "benchmarks.measure.speed"
OPTIMUM = ["torch==2.13.0", "optimum-onnx[onnxruntime]==0.1.0", "transformers<4.58"]


def naive_onnxruntime(bundle: Path, variant: str) -> Encode:
    """The first version of the runtime: padded batches built from Python lists in input order (no length
    sorting), default session options."""
    import onnxruntime as ort

    from static_edge.runtimes import load

    model = load(bundle, variant=variant)
    session = ort.InferenceSession(str(model.model_file), providers=["CPUExecutionProvider"])
    tokenizer = model.tokenizer.tokenizer

    def encode(texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            rows = [
                e.ids for e in tokenizer.encode_batch(list(texts[start : start + batch_size]), add_special_tokens=False)
            ]
            width = max(1, max(len(r) for r in rows))
            ids = np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int64)
            mask = np.array([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)
            out.append(session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(out)

    return encode


def onnx_transformer(onnx_dir: Path, model_dir: Path) -> Encode:
    """An optimum-exported transformer run with onnxruntime: tokenize, run, mean-pool, normalize."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    session = ort.InferenceSession(str(onnx_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(384)
    inputs = {i.name for i in session.get_inputs()}

    def encode(texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            tokenizer.enable_padding()
            enc = tokenizer.encode_batch(list(texts[start : start + batch_size]))
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feeds)[0]
            pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(out)

    return encode


def export_transformer_onnx(model_dirs: Sequence[str], cache: Path) -> dict[str, Path]:
    """Export transformers to ONNX with optimum-cli, in a separate cached virtual environment.

    optimum-onnx needs transformers < 4.58, Sentence Transformers 6 needs >= 5: they cannot share
    one environment, so the export runs in `cache/optimum-venv` and only the ONNX files come back.
    """
    venv = cache / "optimum-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *OPTIMUM], check=True)
    out: dict[str, Path] = {}
    for spec in model_dirs:
        name, model_dir = parse_baseline(spec)
        target = cache / "onnx-baselines" / name
        if not (target / "model.onnx").is_file():
            export = ["export", "onnx", "--model", str(model_dir), "--task", "feature-extraction", str(target)]
            subprocess.run(
                [str(venv / "bin" / "optimum-cli"), *export], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
            )
        out[name] = target
    return out


def encoders(args: argparse.Namespace) -> tuple[dict[str, Encode], set[str]]:
    """Every encoder of the table in its row order, and the slow ones (the transformers)."""
    from static_edge.bench import transformer_encoders
    from static_edge.runtimes import read_manifest

    ours = static_encoders(args.bundle, args.threads)
    naive = naive_onnxruntime(args.bundle, read_manifest(args.bundle).variants[-1])
    last_ort = [name for name in ours if name.startswith("static-edge onnxruntime")][-1]
    table = _insert_after(ours, last_ort, {"onnxruntime, naive padding (before)": naive})
    fast = set(table)
    onnx_dirs = export_transformer_onnx(args.baseline, args.cache) if args.transformer_onnx else {}
    for spec in args.baseline:
        name, folder = parse_baseline(spec)
        table |= transformer_encoders([spec])
        if name in onnx_dirs:
            table[f"{name} (onnxruntime, optimum export)"] = onnx_transformer(onnx_dirs[name], Path(folder))
    return table, set(table) - fast


def _insert_after(encoders: dict[str, Encode], key: str, new: dict[str, Encode]) -> dict[str, Encode]:
    """`encoders` with `new` placed right after `key`."""
    keys = list(encoders)
    at = keys.index(key) + 1
    return {k: encoders[k] for k in keys[:at]} | new | {k: encoders[k] for k in keys[at:]}


def main(argv: Sequence[str] | None = None) -> None:
    """Time every encoder and write speed.md, speed.json and speed.png."""
    parser = common.parser(__doc__, out=None)
    add_bench_arguments(parser)
    parser.add_argument(
        "--transformer-onnx",
        action="store_true",
        help="also time the baselines exported to ONNX with optimum (separate cached venv)",
    )
    parser.add_argument("--cache", type=Path, default=common.CACHE, help="where the optimum venv and exports go")
    args = parser.parse_args(argv)
    table, slow = encoders(args)
    time_and_write(args, table, slow, common.command_line(MODULE, argv))


if __name__ == "__main__":
    main()
