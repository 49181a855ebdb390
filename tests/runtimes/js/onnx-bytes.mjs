// Test helper: hand-built ONNX (protobuf) bytes, field by field, so a test controls every byte the reader sees.
// Field numbers from onnx.proto, as in runtimes/web/onnx-reader.js.

const encoder = new TextEncoder();

/** A varint's bytes. */
export function varint(value) {
  const out = [];
  let rest = value;
  while (rest >= 128) {
    out.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

export const varintField = (field, value) => [...varint(field * 8), ...varint(value)];
export const bytesField = (field, payload) => [...varint(field * 8 + 2), ...varint(payload.length), ...payload];
export const fixed32Field = (field) => [...varint(field * 8 + 5), 1, 2, 3, 4];
export const fixed64Field = (field) => [...varint(field * 8 + 1), 1, 2, 3, 4, 5, 6, 7, 8];
const text = (s) => [...encoder.encode(s)];

/** The bytes of a typed array (little-endian, as ONNX raw_data). */
export const rawBytes = (typed) => [...new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)];

/**
 * A TensorProto: name (8), dims (1, unpacked or packed), data_type (2), its data in `dataField` (raw_data 9 by
 * default), data_location (14) = 1 when `external`.
 */
export function tensor({ name, dims, dataType, data = [], dataField = 9, packedDims = false, external = false }) {
  const dimFields = packedDims ? bytesField(1, dims.flatMap(varint)) : dims.flatMap((d) => varintField(1, d));
  return [
    ...dimFields,
    ...varintField(2, dataType),
    ...bytesField(8, text(name)),
    ...(data.length ? bytesField(dataField, data) : []),
    ...(external ? varintField(14, 1) : []),
  ];
}

/** A NodeProto with its op_type (4) and a name (3). */
const node = (opType) => [...bytesField(3, text(`${opType}_0`)), ...bytesField(4, text(opType))];

/** A ModelProto: ir_version (1), producer_name (2), then the graph (7) with nodes (1) and initializers (5). */
export function model({ initializers = [], ops = [], prefix = [] }) {
  const graph = [
    ...ops.flatMap((op) => bytesField(1, node(op))),
    ...bytesField(2, text("graph")),
    ...initializers.flatMap((t) => bytesField(5, tensor(t))),
  ];
  return Uint8Array.from([...varintField(1, 10), ...prefix, ...bytesField(2, text("test")), ...bytesField(7, graph)]);
}
