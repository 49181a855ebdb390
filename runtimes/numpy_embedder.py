"""Encode with numpy alone: the table is read back from the ONNX file's initializers.

For edge targets where onnxruntime is not available. Reading the file needs the `onnx`
package's protobuf parser only; nothing is executed by onnxruntime.
"""

from __future__ import annotations

import os

import numpy as np

from static_edge.runtimes.bundle import SCALES_INITIALIZER, TABLE_INITIALIZER, BundleError
from static_edge.runtimes.embedder import StaticEmbedder, l2_normalize
from static_edge.runtimes.packed_table import packed_width, unpack_bits
from static_edge.runtimes.variants import VARIANTS


def read_initializers(model_file: os.PathLike[str] | str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named initializers of an ONNX file as numpy arrays.

    :raises BundleError: when one is missing.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_file)).graph
    found = {init.name: init for init in graph.initializer if init.name in names}
    missing = [n for n in names if n not in found]
    if missing:
        raise BundleError(f"{model_file} lacks the initializers {missing}; was it written by static-edge export?")
    return {name: numpy_helper.to_array(found[name]) for name in names}


class NumpyEmbedder(StaticEmbedder):
    """Gather rows, weight by the mask (and the int8 row scales), and average: EmbeddingBag in numpy."""

    backend = "numpy"

    def _load_model(self) -> None:
        """Read the table (and row scales) from the variant's ONNX initializers."""
        record = VARIANTS[self.variant]
        quantized = record.scaled
        names = (TABLE_INITIALIZER, SCALES_INITIALIZER) if quantized else (TABLE_INITIALIZER,)
        facts = self.graph_facts
        if facts.table is not None and (facts.scales is not None or not quantized):
            self.table, self.scales = facts.table, facts.scales  # already read (and scanned) while verifying
        else:
            arrays = read_initializers(self.model_file, names)
            self.table = arrays[TABLE_INITIALIZER]
            self.scales = arrays.get(SCALES_INITIALIZER)
        if record.packed:
            # Unpacked once to int8 values: the same q * scale arithmetic as int8 from here on.
            bits = record.bits
            if self.table.dtype != np.uint8 or self.table.shape[1] != packed_width(self.dims, bits):
                raise BundleError(
                    f"{self.model_file}: a {self.variant} table shaped {self.table.shape} cannot hold {self.dims} dims"
                )
            self.table = unpack_bits(self.table, self.dims, bits)

    def largest_value(self) -> float:
        """The largest magnitude a decoded row holds (q x scale for quantized tables): what bounds the rounding
        error of a float32 mean (`exporter.check.numpy_tolerance`)."""
        magnitudes = np.abs(self.table).max(axis=1).astype(np.float64)
        if self.scales is not None:
            magnitudes *= np.abs(self.scales.astype(np.float64))
        return float(magnitudes.max()) if magnitudes.size else 0.0

    def _embed(self, ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        # Batches are consecutive texts (the base class's batching), so their ids are one slice.
        out = np.zeros((len(lengths), self.dims), dtype=np.float32)
        nonempty = np.flatnonzero(lengths)
        if len(nonempty) == 0:
            return out
        batch_ids = ids[starts[0] : starts[-1] + lengths[-1]]
        counted = self._counted(batch_ids)
        sums, counts = self._sums(batch_ids, counted, starts[nonempty] - starts[0])
        out[nonempty] = sums / np.maximum(counts, 1.0)[:, None]
        return l2_normalize(out) if self.manifest.normalize else out

    def _piece_sum(self, ids: np.ndarray, counted: np.ndarray) -> np.ndarray:
        return self._sums(ids, counted, np.zeros(1, dtype=np.int64))[0][0]

    def _sums(self, ids: np.ndarray, counted: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per run of ids starting at `offsets`: the sum of its rows weighted by `counted` (and the row scales), and
        its count. `np.add.reduceat` keeps a float32 sum near the exact one (measured within ~3e-8 of the mean
        at any length), where a plain float32 sum along the tokens drifts by 100 times more."""
        weights = counted if self.scales is None else counted * self.scales[ids]
        rows = self.table[ids].astype(np.float32, copy=False)  # the gather made a copy: safe to scale in place
        rows *= weights[:, None]
        return np.add.reduceat(rows, offsets, axis=0), np.add.reduceat(counted, offsets)
