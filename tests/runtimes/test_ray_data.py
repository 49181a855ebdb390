"""Ray Data adapter on a real local Ray cluster (2 CPUs): the vectors equal `load(bundle).encode`."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from static_edge.runtimes import load
from static_edge.runtimes.parity_texts import PARITY_TEXTS
from static_edge.runtimes.samples import sample_corpus

pytestmark = pytest.mark.slow  # end to end: a local Ray cluster

ray = pytest.importorskip("ray")
TEXTS = sample_corpus() + PARITY_TEXTS


@pytest.fixture(scope="module")
def local_ray():
    """A local two-CPU Ray, shut down after the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


def test_ray_parquet_in_and_out_equals_encode(local_ray, st_bundle, tmp_path):
    """Ray Parquet in and out equals encode."""
    from static_edge.runtimes.ray_data import encode_parquet

    source = tmp_path / "in"
    source.mkdir()
    ids = list(range(len(TEXTS)))
    half = len(TEXTS) // 2  # two input files, so two actors have work
    pq.write_table(pa.table({"doc": ids[:half], "text": TEXTS[:half]}), source / "a.parquet")
    pq.write_table(pa.table({"doc": ids[half:], "text": TEXTS[half:]}), source / "b.parquet")
    out = tmp_path / "out"
    encode_parquet(
        str(source), str(out), st_bundle, keep_columns=["doc"], actors=2, batch_size=50, cpus_per_actor=0.5, blocks=4
    )

    table = pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet"))).sort_by("doc")
    assert table.column_names == ["doc", "embedding"]
    assert table.column("doc").to_pylist() == ids
    vectors = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(vectors, load(st_bundle).encode(TEXTS), atol=1e-6, rtol=0)


def test_ray_dataset_column_with_numpy_backend(local_ray, st_bundle):
    """Ray dataset column with numpy backend."""
    from static_edge.runtimes.ray_data import encode_dataset

    dataset = ray.data.from_items([{"i": i, "body": t} for i, t in enumerate(TEXTS[:40])])
    rows = encode_dataset(
        dataset, st_bundle, column="body", actors=1, backend="numpy", variant="fp32", cpus_per_actor=0.5
    ).take_all()
    rows.sort(key=lambda r: r["i"])
    got = np.array([r["embedding"] for r in rows], dtype=np.float32)
    expected = load(st_bundle, backend="numpy", variant="fp32").encode(TEXTS[:40])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_ray_job_on_a_two_node_cluster_equals_encode(st_bundle, tmp_path):
    """A local cluster of a head and a worker node (two raylets); each offers one `encoder` slot, so the pool's
    two actors must run on different nodes, as on a real cluster (2 logical CPUs a node: one for the actor, one
    for the read and write tasks). Parquet in, Parquet out."""
    from ray.cluster_utils import Cluster

    from static_edge.runtimes.ray_data import encode_parquet

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "resources": {"encoder": 1}, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=2, resources={"encoder": 1})
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        source = tmp_path / "in"
        source.mkdir()
        ids = list(range(len(TEXTS)))
        for part in range(4):
            rows = slice(part * len(TEXTS) // 4, (part + 1) * len(TEXTS) // 4)
            pq.write_table(pa.table({"doc": ids[rows], "text": TEXTS[rows]}), source / f"{part}.parquet")
        out = tmp_path / "out"
        encode_parquet(str(source), str(out), st_bundle, keep_columns=["doc"], actors=2, batch_size=40,
                       cpus_per_actor=1, actor_resources={"encoder": 1}, blocks=4)  # fmt: skip
        table = pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet"))).sort_by("doc")
        assert table.column("doc").to_pylist() == ids
        vectors = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
        np.testing.assert_allclose(vectors, load(st_bundle).encode(TEXTS), atol=1e-6, rtol=0)
    finally:
        ray.shutdown()
        cluster.shutdown()
