"""What DDP synchronizes per step for a static model: one all-reduce of the table's gradient, dense or sparse.

    python -m benchmarks.measure.ddp_allreduce --out benchmarks/results/training

Starts 2 gloo processes on this machine (torch.distributed.run) and times, per table size, one all-reduce of a
dense gradient (what DDP does for Sentence Transformers' StaticEmbedding, an nn.EmbeddingBag with dense
gradients) and of a sparse one holding only the rows a batch touched (what nn.EmbeddingBag(sparse=True)
would hand DDP). Median of 5 after a warm-up. Writes ddp_allreduce.md/.json (and a PNG) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common

VOCAB = 105_879  # bert-base-multilingual-uncased, the multilingual static model's vocabulary
TABLE_DIMS = (256, 1024)
TOUCHED_ROWS = (8_000, 20_000)  # distinct tokens in one batch of 2,048 pairs: short captions .. passages


def _median_seconds(fn, reps: int = 5) -> float:
    """Median seconds of `fn()` over `reps` calls after one warm-up, the processes in step (a barrier each)."""
    import torch.distributed as dist

    fn()
    times = []
    for _ in range(reps):
        dist.barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def worker(result_file: Path, table_dims: Sequence[int] = TABLE_DIMS) -> None:
    """Run inside each of the 2 processes; rank 0 writes the timings."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rows = []
    for dims in table_dims:
        dense = torch.randn(VOCAB, dims)
        rows.append(
            {
                "gradient": f"dense {VOCAB:,} x {dims}",
                "MB per process": dense.numel() * 4 / 1e6,
                "all-reduce (ms)": _median_seconds(lambda t=dense: dist.all_reduce(t)) * 1000,
            }
        )
        for touched in TOUCHED_ROWS:
            generator = torch.Generator().manual_seed(dist.get_rank() * 100 + touched)
            index = torch.randint(0, VOCAB, (touched,), generator=generator).unique()
            values = torch.randn(len(index), dims, generator=generator)
            sparse = torch.sparse_coo_tensor(index.unsqueeze(0), values, (VOCAB, dims)).coalesce()
            rows.append(
                {
                    "gradient": f"sparse {len(index):,} rows x {dims}",
                    "MB per process": (values.numel() * 4 + len(index) * 8) / 1e6,
                    "all-reduce (ms)": _median_seconds(lambda t=sparse: dist.all_reduce(t)) * 1000,
                }
            )
    if dist.get_rank() == 0:
        result_file.write_text(json.dumps(rows))
    dist.destroy_process_group()


def plot(rows: list[dict], path: Path) -> None:
    """Milliseconds per all-reduce, one bar per gradient."""
    fig, ax = common.figure(size=(7, 3.5), dpi=120)
    ax.barh([r["gradient"] for r in rows], [r["all-reduce (ms)"] for r in rows], color="tab:blue")
    ax.set_xlabel("ms per all-reduce (median of 5), 2 gloo processes")
    ax.invert_yaxis()
    common.save(fig, path)


def main() -> None:
    """Time the all-reduces in 2 gloo processes; write ddp_allreduce.md, .json and .png."""
    parser = common.parser(__doc__, out=common.RESULTS / "training")
    parser.add_argument("--table-dims", default=",".join(map(str, TABLE_DIMS)), help="comma-separated table widths")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    table_dims = [int(d) for d in args.table_dims.split(",")]
    if args.worker:
        worker(args.worker, table_dims)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    raw = args.out / "ddp_allreduce.raw.json"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    module = ["-m", "benchmarks.measure.ddp_allreduce", "--worker", str(raw), "--table-dims", args.table_dims]
    subprocess.run([*launcher, *module], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    rows = json.loads(raw.read_text())
    raw.unlink()
    load = os.getloadavg()
    md = common.publish(
        args.out,
        "ddp_allreduce",
        "benchmarks.measure.ddp_allreduce",
        title="One all-reduce of a static table's gradient across 2 gloo processes (CPU)",
        rows=rows,
        plot=lambda path: plot(rows, path),
        notes=[
            f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min); "
            "the machine's 2 cores were shared, so read the ratios, not the absolute times.",
            "Sentence Transformers' StaticEmbedding has dense gradients: DDP all-reduces the whole table each step.",
        ],
        data={"load_average": load},
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
