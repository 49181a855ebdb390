"""Build the Gather + masked-mean ONNX graph with onnx's helper.

The graph is written node by node rather than traced from torch: a trace of EmbeddingBag brings
Loop/Sequence ops that onnxruntime-web cannot run, and the int8 variant needs "gather, then
dequantize only the gathered rows", which neither torch's exporter nor onnxruntime's quantizer
(it dequantizes the whole table on every call) produce.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from static_edge.runtimes.bundle import (
    INPUT_NAMES,
    OUTPUT_SENTENCE,
    OUTPUT_TOKENS,
    SCALES_INITIALIZER,
    TABLE_INITIALIZER,
    UNK_INITIALIZER,
)

OPSET = 17
IR_VERSION = 8
"""IR 8 is what opset 17 needs; onnxruntime-web accepts IR 13 at most, onnx would stamp 14."""
NORM_EPS = 1e-12


def build_graph(
    table: np.ndarray,
    scales: np.ndarray | None = None,
    normalize: bool = False,
    unk_token_id: int | None = None,
    name: str = "static_embedding",
) -> onnx.ModelProto:
    """A model that maps (input_ids, attention_mask) to token_embeddings and sentence_embedding.

    :param table: [vocab, dims] float32, float16, or int8 (then `scales` is required).
    :param scales: [vocab] float32 row scales of an int8 table.
    :param normalize: L2-normalize sentence_embedding in the graph.
    :param unk_token_id: when given, tokens with this id are left out of the mean (model2vec semantics).
    :raises ValueError: for an int8 table without scales or an unsupported dtype.
    """
    nodes: list[onnx.NodeProto] = []
    inits = [numpy_helper.from_array(np.ascontiguousarray(table), TABLE_INITIALIZER)]
    inits += [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_1"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
    ]
    ids, attention = INPUT_NAMES

    # Which tokens count: the attention mask, times "not unknown" for sources that drop [UNK].
    nodes.append(helper.make_node("Cast", [attention], ["mask"], to=TensorProto.FLOAT))
    if unk_token_id is not None:
        inits.append(numpy_helper.from_array(np.array(unk_token_id, dtype=np.int64), UNK_INITIALIZER))
        nodes += [
            helper.make_node("Equal", [ids, UNK_INITIALIZER], ["is_unk"]),
            helper.make_node("Not", ["is_unk"], ["is_known"]),
            helper.make_node("Cast", ["is_known"], ["known"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["mask", "known"], ["counted"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["mask"], ["counted"]))

    # Gather first; an int8 or float16 table is widened only for the gathered rows.
    if table.dtype == np.float32:
        nodes.append(helper.make_node("Gather", [TABLE_INITIALIZER, ids], [OUTPUT_TOKENS], axis=0))
        rows, weights = OUTPUT_TOKENS, "counted"
    elif table.dtype == np.float16:
        nodes += [
            helper.make_node("Gather", [TABLE_INITIALIZER, ids], ["rows_fp16"], axis=0),
            helper.make_node("Cast", ["rows_fp16"], [OUTPUT_TOKENS], to=TensorProto.FLOAT),
        ]
        rows, weights = OUTPUT_TOKENS, "counted"
    elif table.dtype == np.int8:
        if scales is None:
            raise ValueError("an int8 table needs its row scales")
        inits.append(numpy_helper.from_array(scales.astype(np.float32), SCALES_INITIALIZER))
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last"))
        nodes += [
            helper.make_node("Gather", [TABLE_INITIALIZER, ids], ["rows_int8"], axis=0),
            helper.make_node("Cast", ["rows_int8"], ["rows_q"], to=TensorProto.FLOAT),
            helper.make_node("Gather", [SCALES_INITIALIZER, ids], ["row_scales"], axis=0),
            helper.make_node("Unsqueeze", ["row_scales", "axis_last"], ["row_scales_3d"]),
            helper.make_node("Mul", ["rows_q", "row_scales_3d"], [OUTPUT_TOKENS]),
            # The mean weights each quantized row by its scale, so the scale multiply is folded
            # into the [batch, seq] weights rather than applied to [batch, seq, dims] twice.
            helper.make_node("Mul", ["counted", "row_scales"], ["scaled_counted"]),
        ]
        rows, weights = "rows_q", "scaled_counted"
    else:
        raise ValueError(f"unsupported table dtype {table.dtype}; expected float32, float16 or int8")

    # Masked mean as a batched MatMul: [batch, 1, seq] @ [batch, seq, dims].
    nodes += [
        helper.make_node("Unsqueeze", [weights, "axis_1"], ["weights_row"]),
        helper.make_node("MatMul", ["weights_row", rows], ["summed_3d"]),
        helper.make_node("Squeeze", ["summed_3d", "axis_1"], ["summed"]),
        helper.make_node("ReduceSum", ["counted", "axis_1"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count_safe"]),  # empty text -> zero vector, not NaN
    ]
    mean = OUTPUT_SENTENCE if not normalize else "mean"
    nodes.append(helper.make_node("Div", ["summed", "count_safe"], [mean]))
    if normalize:
        inits.append(numpy_helper.from_array(np.array(NORM_EPS, dtype=np.float32), "norm_eps"))
        nodes += [
            helper.make_node("ReduceL2", [mean], ["norm"], axes=[1], keepdims=1),
            helper.make_node("Max", ["norm", "norm_eps"], ["norm_safe"]),
            helper.make_node("Div", [mean, "norm_safe"], [OUTPUT_SENTENCE]),
        ]

    dims = int(table.shape[1])
    graph = helper.make_graph(
        nodes,
        name,
        inputs=[
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(attention, TensorProto.INT64, ["batch", "sequence"]),
        ],
        outputs=[
            helper.make_tensor_value_info(OUTPUT_TOKENS, TensorProto.FLOAT, ["batch", "sequence", dims]),
            helper.make_tensor_value_info(OUTPUT_SENTENCE, TensorProto.FLOAT, ["batch", dims]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="static-edge",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model, full_check=True)
    return model
