"""Encode a Spark DataFrame column with a bundle: `mapInPandas`, the bundle loaded once per partition iterator.

    from pyspark.sql import SparkSession
    from static_edge.runtimes.spark import encode_spark

    spark = SparkSession.builder.getOrCreate()
    df = spark.read.parquet("s3://bucket/passages/")
    encode_spark(df, "/shared/bundles/retrieval-256", column="text").write.parquet("s3://bucket/vectors/")

The bundle must be readable at the same path on every executor. Vectors are an `array<float>` column.
Needs pyspark (and pandas, pyarrow) on the driver and the executors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame


def encode_spark(
    frame: DataFrame,
    bundle: str | os.PathLike[str],
    *,
    column: str = "text",
    output_column: str = "embedding",
    batch_size: int = 1024,
    **load_options: Any,
) -> DataFrame:
    """`frame` with an `output_column` (array<float>) of the vectors of `column`; lazy, as every Spark transform.

    :param load_options: passed to `static_edge.load` (variant, backend, threads, sha256).
    """
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    from static_edge.runtimes.errors import InputError

    if column not in frame.columns:
        raise InputError(f"the DataFrame has no column {column!r}; its columns are {frame.columns}")
    schema = StructType([*frame.schema.fields, StructField(output_column, ArrayType(FloatType()), nullable=False)])
    path = str(bundle)

    def encode_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from static_edge.runtimes import load

        model = load(path, **load_options)
        for batch in batches:
            texts = batch[column].tolist()
            vectors = model.encode(texts, batch_size=batch_size) if texts else []
            yield batch.assign(**{output_column: list(vectors)})

    return frame.mapInPandas(encode_partition, schema)
