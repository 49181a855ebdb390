"""Build the Gather + masked-mean ONNX graph with onnx's helper.

The graph is written node by node rather than traced from torch: a trace of EmbeddingBag brings
Loop/Sequence ops that onnxruntime-web cannot run, and the int8 variant needs "gather, then
dequantize only the gathered rows", which neither torch's exporter nor onnxruntime's quantizer
(it dequantizes the whole table on every call) produce. The packed int4 / int2 tables are unpacked
the same way, after the Gather, with standard ops only (BitShift, Sub, Concat, Reshape): onnxruntime's
GatherBlockQuantized is a contrib op that onnxruntime-web's wasm build and transformers.js cannot be
relied on to run.

spec: docs/bundle-format.md#graph-interface and #quantization-formats
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
from static_edge.runtimes.packed_table import OFFSETS, packed_width

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
    dims: int | None = None,
    bits: int = 4,
) -> onnx.ModelProto:
    """A model that maps (input_ids, attention_mask) to token_embeddings and sentence_embedding.

    :param table: [vocab, dims] float32, float16, or int8 (then `scales` is required), or a packed
        int4 / int2 table: uint8 [vocab, ceil(dims * bits / 8)] (then `scales` and `dims` are required).
    :param scales: [vocab] float32 row scales of an int8, int4 or int2 table.
    :param normalize: L2-normalize sentence_embedding in the graph.
    :param unk_token_id: when given, tokens with this id are left out of the mean (model2vec semantics).
    :param dims: the columns of a packed table (its bytes hold two or four columns each).
    :param bits: 4 or 2, the bits per value of a packed (uint8) table.
    :raises ValueError: for a quantized table without scales (or int4 without dims) or an unsupported dtype.
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
    elif table.dtype in (np.int8, np.uint8):
        if scales is None:
            raise ValueError(f"a quantized table (dtype {table.dtype}) needs its row scales")
        inits.append(numpy_helper.from_array(scales.astype(np.float32), SCALES_INITIALIZER))
        inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last"))
        if table.dtype == np.int8:
            nodes += [
                helper.make_node("Gather", [TABLE_INITIALIZER, ids], ["rows_int8"], axis=0),
                helper.make_node("Cast", ["rows_int8"], ["rows_q"], to=TensorProto.FLOAT),
            ]
        else:
            if bits not in OFFSETS or dims is None or packed_width(dims, bits) != table.shape[1]:
                raise ValueError(
                    f"a packed table of {table.shape[1]} bytes per row at {bits} bits does not hold {dims} dims"
                )
            nodes += _unpack_rows(inits, ids, dims, int(table.shape[1]), bits)
        nodes += [
            helper.make_node("Gather", [SCALES_INITIALIZER, ids], ["row_scales"], axis=0),
            helper.make_node("Unsqueeze", ["row_scales", "axis_last"], ["row_scales_3d"]),
            helper.make_node("Mul", ["rows_q", "row_scales_3d"], [OUTPUT_TOKENS]),
            # The mean weights each quantized row by its scale, so the scale multiply is folded
            # into the [batch, seq] weights rather than applied to [batch, seq, dims] twice.
            helper.make_node("Mul", ["counted", "row_scales"], ["scaled_counted"]),
        ]
        rows, weights = "rows_q", "scaled_counted"
    else:
        raise ValueError(f"unsupported table dtype {table.dtype}; expected float32, float16, int8 or packed uint8")

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

    dims = int(table.shape[1]) if dims is None else int(dims)
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


def _unpack_rows(inits: list[onnx.TensorProto], ids: str, dims: int, packed: int, bits: int) -> list[onnx.NodeProto]:
    """Nodes from `ids` to `rows_q`, the gathered packed rows as float [batch, seq, dims] values q.

    Field j of a byte (bits j*bits.. from the least significant) is (x >> j*bits) minus its part above
    `bits`, taken with BitShift on uint8 (opset 17 has no BitwiseAnd). The fields are interleaved
    (field j of byte k = column k*per_byte + j) by a Concat on a new last axis and a Reshape whose
    target shape is taken from the input, so empty batches keep a valid shape.
    """
    per_byte = 8 // bits
    inits += [
        numpy_helper.from_array(np.array(float(OFFSETS[bits]), dtype=np.float32), "field_offset"),
        numpy_helper.from_array(np.array([per_byte * packed], dtype=np.int64), "unpacked_width"),
    ]
    inits += [
        numpy_helper.from_array(np.array(bits * j, dtype=np.uint8), f"shift_{bits * j}") for j in range(1, per_byte)
    ]
    nodes = [helper.make_node("Gather", [TABLE_INITIALIZER, ids], ["rows_packed"], axis=0)]
    fields = []
    for j in range(per_byte):
        shifted = "rows_packed" if j == 0 else f"shifted_{j}"
        if j > 0:
            nodes.append(
                helper.make_node("BitShift", ["rows_packed", f"shift_{bits * j}"], [shifted], direction="RIGHT")
            )
        field = shifted
        if j < per_byte - 1:  # the top field has nothing above it to remove
            field = f"field_{j}"
            nodes += [
                helper.make_node("BitShift", [shifted, f"shift_{bits}"], [f"above_{j}"], direction="RIGHT"),
                helper.make_node("BitShift", [f"above_{j}", f"shift_{bits}"], [f"above_{j}_up"], direction="LEFT"),
                helper.make_node("Sub", [shifted, f"above_{j}_up"], [field]),
            ]
        nodes.append(helper.make_node("Unsqueeze", [field, "axis_last"], [f"{field}_4d"]))
        fields.append(f"{field}_4d")
    nodes += [
        helper.make_node("Concat", fields, ["fields_u8"], axis=-1),
        helper.make_node("Shape", ["rows_packed"], ["batch_seq"], start=0, end=2),
        helper.make_node("Concat", ["batch_seq", "unpacked_width"], ["unpacked_shape"], axis=0),
        helper.make_node("Reshape", ["fields_u8", "unpacked_shape"], ["columns_u8"]),
        helper.make_node("Cast", ["columns_u8"], ["columns"], to=TensorProto.FLOAT),
    ]
    if dims == per_byte * packed:
        nodes.append(helper.make_node("Sub", ["columns", "field_offset"], ["rows_q"]))
        return nodes
    inits += [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "slice_start"),
        numpy_helper.from_array(np.array([dims], dtype=np.int64), "slice_end"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "slice_axis"),
    ]
    nodes += [
        helper.make_node("Slice", ["columns", "slice_start", "slice_end", "slice_axis"], ["columns_cut"]),
        helper.make_node("Sub", ["columns_cut", "field_offset"], ["rows_q"]),
    ]
    return nodes
