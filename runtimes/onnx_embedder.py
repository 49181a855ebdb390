"""Encode with onnxruntime on the CPU: the bundle's graph, run as exported."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from static_edge.runtimes.bundle import INPUT_NAMES, OUTPUT_SENTENCE, OUTPUT_TOKENS
from static_edge.runtimes.embedder import StaticEmbedder, token_limited_batches


def gather_padded(
    ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A right-padded [batch, longest] id matrix and its mask, cut from flat ids without a Python loop.

    A batch of only empty texts still gets one masked column, so the graph sees a valid shape.
    """
    width = max(int(lengths.max(initial=0)), 1)
    columns = np.arange(width, dtype=np.int64)
    mask = columns[None, :] < lengths[:, None]
    positions = np.minimum(starts[:, None] + columns[None, :], max(len(ids) - 1, 0))
    source = ids if len(ids) else np.zeros(1, dtype=np.int64)
    input_ids = np.where(mask, source[positions], pad_id)
    return input_ids, mask.astype(np.int64)


class OnnxEmbedder(StaticEmbedder):
    """The bundle's ONNX graph on onnxruntime's CPU provider.

    :param threads: batches run at once, each a single-threaded onnxruntime call (one session runs calls
        concurrently); 0 uses every core this process may run on. Measured faster than onnxruntime's own
        intra-op threads for these gather-and-average graphs, whose single batches are too small to split well.
    """

    backend = "onnxruntime"

    def _load_model(self) -> None:
        """Open the variant's graph in an onnxruntime session, once the bundle is verified."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1  # parallel across batches instead (StaticEmbedder.threads)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.model_file), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray, outputs: list[str] | None = None):
        """Run the graph on ready inputs; returns the requested outputs (sentence_embedding by default)."""
        feeds = dict(zip(INPUT_NAMES, (input_ids, attention_mask), strict=True))
        return self.session.run(outputs or [OUTPUT_SENTENCE], feeds)

    def _batches(self, lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
        """Texts sorted by length, so a padded batch holds texts of like length and pads little."""
        return token_limited_batches(np.argsort(lengths, kind="stable"), lengths, batch_size, padded=True)

    def _embed(self, ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        input_ids, mask = gather_padded(ids, starts, lengths, self.manifest.pad_token_id)
        return self.run(input_ids, mask)[0]

    def _piece_sum(self, ids: np.ndarray, counted: np.ndarray) -> np.ndarray:
        # token_embeddings, not sentence_embedding: the latter may be L2-normalized in the graph, and a sum of
        # normalized pieces is not the text's mean. The rows arrive decoded (scales applied), the mask all ones.
        rows = self.run(ids[None, :], np.ones((1, len(ids)), dtype=np.int64), [OUTPUT_TOKENS])[0][0]
        return counted @ rows
