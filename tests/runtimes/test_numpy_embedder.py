"""The numpy runtime (runtimes/numpy_embedder.py) and onnxruntime agree on a text of any length, within the
documented length rule (docs/bundle-format.md#parity-tolerances), and numpy stays at the exact mean."""

from __future__ import annotations

import numpy as np
import pytest

from static_edge.exporter.check import TOL_NUMPY_ABS, check_bundle, numpy_tolerance
from static_edge.runtimes import load

SENTENCE = "the quick brown fox jumps over the lazy dog near the river bank. "


@pytest.fixture(scope="module")
def long_text() -> str:
    """About 70k tokens of one repeated sentence."""
    return SENTENCE * 5000  # about 70k tokens of one repeated sentence: every partial sum drifts the same way


def test_the_rule_is_the_float32_summation_bound_scaled_by_the_table():
    """The rule is the float32 summation bound scaled by the table."""
    assert numpy_tolerance(0) == TOL_NUMPY_ABS
    assert numpy_tolerance(70_000, 0.5) == pytest.approx(TOL_NUMPY_ABS + 70_000 * 2.0**-24 * 0.5)
    assert numpy_tolerance(1000, 4.0) - TOL_NUMPY_ABS == pytest.approx(4 * (numpy_tolerance(1000) - TOL_NUMPY_ABS))


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_largest_value_is_that_of_the_decoded_table(st_bundle, variant):
    """Largest value is that of the decoded table."""
    npy = load(st_bundle, variant, backend="numpy")
    decoded = npy.table.astype(np.float64) * (1.0 if npy.scales is None else npy.scales[:, None])
    assert npy.largest_value() == pytest.approx(np.abs(decoded).max(), rel=1e-6) and npy.largest_value() > 0


def test_a_short_cycle_repeated_stays_inside_the_rule(st_bundle):
    """The text the property tests found against the earlier, fitted rule (int8, 1,172 tokens: 1.19e-6 > 1.17e-6)."""
    text = "M;0\U00020000" * 293
    ort, npy = load(st_bundle, "int8"), load(st_bundle, "int8", backend="numpy")
    tokens = len(npy.tokenizer.encode([text])[0])
    assert np.abs(ort.encode([text]) - npy.encode([text])).max() <= numpy_tolerance(tokens, npy.largest_value())


@pytest.mark.slow  # a 70k-token text
@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_numpy_and_onnxruntime_agree_on_a_very_long_text(st_bundle, long_text, variant):
    """numpy and onnxruntime agree on a very long text."""
    ort, npy = load(st_bundle, variant), load(st_bundle, variant, backend="numpy")
    ids = npy.tokenizer.encode([long_text])[0]
    assert len(ids) > 50_000
    a, b = ort.encode([long_text, "short"]), npy.encode([long_text, "short"])
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert np.abs(a[1] - b[1]).max() <= TOL_NUMPY_ABS
    assert np.abs(a[0] - b[0]).max() <= numpy_tolerance(len(ids), npy.largest_value())
    weights = np.ones(len(ids)) if npy.scales is None else npy.scales[ids].astype(np.float64)
    exact = (npy.table[ids].astype(np.float64) * weights[:, None]).mean(axis=0)
    assert np.abs(b[0] - exact).max() <= 1e-7  # numpy's pairwise sums: the exact mean at any length


@pytest.mark.slow  # a 70k-token text
def test_check_applies_the_length_rule(st_bundle, long_text):
    """Check applies the length rule."""
    report = check_bundle(st_bundle, texts=[long_text, "short text"], write=False)
    rows = [row for row in report.rows if row.pair.startswith("numpy vs onnxruntime")]
    assert rows and all(row.passed for row in rows)
    assert all(row.tolerance > TOL_NUMPY_ABS for row in rows)
