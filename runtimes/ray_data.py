"""Encode a Ray Dataset column with a bundle: `map_batches` on a pool of actors that each load the bundle once.

    import ray
    from static_edge.runtimes.ray_data import encode_parquet

    ray.init()                                   # or ray.init(address="auto") on a cluster
    encode_parquet("s3://bucket/passages/", "s3://bucket/vectors/", "out/retrieval-256", column="text", actors=64)

The vectors are a fixed-size list column of float32 (the same schema as `static-edge encode ... -o x.parquet`),
so any Parquet reader gets them without Ray's tensor extension. Needs the `ray` extra.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from ray.data import Dataset


class BundleEncoder:
    """The per-actor callable of `map_batches`: loads the bundle in its constructor, encodes each batch's column.

    :param bundle: a bundle folder every node can read (shared file system, or copied to each node).
    :param column: the text column; `output_column` receives the vectors.
    :param load_options: passed to `static_edge.load` (variant, backend, threads, sha256).
    """

    def __init__(self, bundle: str | os.PathLike[str], column: str, output_column: str, **load_options: Any):
        from static_edge.runtimes import load

        self.model = load(bundle, **load_options)
        self.column, self.output_column = column, output_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The batch with the vectors of its text column appended as `output_column` (a fixed-size list column).

        :raises InputError: when the batch has no text column.
        """
        import pyarrow as pa

        from static_edge.runtimes.errors import InputError

        if self.column not in batch.column_names:
            raise InputError(f"the dataset has no column {self.column!r}; its columns are {batch.column_names}")
        texts = batch.column(self.column).to_pylist()
        vectors = self.model.encode(texts) if texts else self.model.encode_counted(["x"])[0][:0]
        values = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), self.model.dims)
        return batch.append_column(self.output_column, values)


def encode_dataset(
    dataset: Dataset,
    bundle: str | os.PathLike[str],
    *,
    column: str = "text",
    output_column: str = "embedding",
    actors: int | tuple[int, int] = 1,
    batch_size: int = 4096,
    cpus_per_actor: float = 1,
    actor_resources: dict[str, float] | None = None,
    **load_options: Any,
) -> Dataset:
    """`dataset` with an `output_column` of vectors for `column`, computed by `actors` actors (a size or a
    (min, max) autoscaling range), each holding one loaded bundle. Lazy, as every Ray Data transform.

    Leave CPUs for Ray Data's read and write tasks: `actors * cpus_per_actor` below the cluster's CPUs (on a
    2-CPU machine, 2 actors at 1 CPU each starve the reader and the job waits forever). `actor_resources` are
    custom Ray resources each actor needs (e.g. {"encoder": 1} to place one actor per node that offers one).
    """
    from ray.data import ActorPoolStrategy

    size = {"min_size": actors[0], "max_size": actors[1]} if isinstance(actors, tuple) else {"size": actors}
    return dataset.map_batches(
        BundleEncoder,
        fn_constructor_args=(str(bundle), column, output_column),
        fn_constructor_kwargs=load_options,
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ActorPoolStrategy(**size),
        num_cpus=cpus_per_actor,
        resources=actor_resources,
    )


def encode_parquet(
    source: str,
    destination: str,
    bundle: str | os.PathLike[str],
    *,
    column: str = "text",
    keep_columns: list[str] | None = None,
    blocks: int | None = None,
    **options: Any,
) -> None:
    """Read Parquet files, encode `column`, write Parquet files (one folder, as Ray Data writes) with the
    `keep_columns` (default: all) and the vectors. `blocks` repartitions the input into that many blocks, so a
    few large files still feed every actor. `options` go to `encode_dataset`."""
    import ray.data

    columns = None if keep_columns is None else list(dict.fromkeys([*keep_columns, column]))
    dataset = ray.data.read_parquet(source)
    if columns is not None:
        dataset = dataset.select_columns(columns)
    if blocks is not None:
        dataset = dataset.repartition(blocks)
    encoded = encode_dataset(dataset, bundle, column=column, **options)
    if keep_columns is not None and column not in keep_columns:
        encoded = encoded.drop_columns([column])
    encoded.write_parquet(destination)
