"""Spark adapter on a real local Spark (local[2], Java 17): `mapInPandas` vectors equal `load(bundle).encode`."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.samples import sample_corpus

pytestmark = pytest.mark.slow  # end to end: a local Spark

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

TEXTS = sample_corpus() + PARITY_TEXTS


@pytest.fixture(scope="module")
def spark():
    """A local Spark session whose Python workers run this venv's interpreter."""
    from pyspark.sql import SparkSession

    # the Python workers must run this venv's interpreter (static_edge, pyarrow), as on a real cluster's nodes
    previous = {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("static-edge-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    gateway = session.sparkContext._gateway
    jvm = getattr(gateway, "proc", None)
    try:
        yield session
    finally:
        session.stop()
        gateway.shutdown()
        if jvm is not None:  # the JVM the session launched must not outlive the tests
            jvm.terminate()
            jvm.wait(timeout=30)
            assert jvm.poll() is not None
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_spark_map_in_pandas_equals_encode(spark, st_bundle):
    """Spark map in pandas equals encode."""
    from static_edge.runtimes.spark import encode_spark

    frame = spark.createDataFrame([(i, t) for i, t in enumerate(TEXTS)], ["doc", "text"]).repartition(2)
    rows = encode_spark(frame, st_bundle).orderBy("doc").collect()
    assert [r["doc"] for r in rows] == list(range(len(TEXTS)))
    got = np.array([r["embedding"] for r in rows], dtype=np.float32)
    np.testing.assert_allclose(got, load(st_bundle).encode(TEXTS), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="no column 'body'"):
        encode_spark(frame, st_bundle, column="body")
