// Read a static-edge graph's table straight out of its ONNX file: the named initializers' dims, data
// type and bytes, plus the op types of the graph's nodes.
//
// Hand-written on purpose: an ONNX file is a protobuf message, and the smallest protobuf libraries
// for JavaScript (protobufjs, google-protobuf) are 60-300 KB and need the ONNX schema besides, to walk
// three message types. This reader decodes only the protobuf wire format (varints and length-delimited
// fields) and returns views into the file's bytes: the table is never copied.

// Field numbers from onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto).
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const NODE_OP_TYPE = 4;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_INT32_DATA = 5;
const TENSOR_INT64_DATA = 7;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DATA_LOCATION = 14;

/** TensorProto.DataType codes this runtime reads. */
export const DataType = Object.freeze({ FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7, FLOAT16: 10 });

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

class OnnxFormatError extends Error {}

/** @typedef {Float32Array | Uint8Array | Int8Array | Uint16Array | BigInt64Array} TensorArray */

/**
 * One protobuf field: a varint's `value`, or a length-delimited field's bytes [start, end).
 * @typedef {{field: number, wire: number, value: number, start: number, end: number}} Field
 */

/**
 * A tensor initializer as read from the file; `data` is a view of its bytes, never a copy.
 * @typedef {object} Tensor
 * @property {string} name
 * @property {number[]} dims
 * @property {number} dataType TensorProto.DataType code
 * @property {Uint8Array|null} data raw_data, or the packed float_data / int32_data / int64_data bytes
 * @property {number|null} dataField the TensorProto field `data` came from
 * @property {boolean} external the values are stored outside the file
 */

/**
 * One protobuf message's fields, in file order.
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 * @returns {Generator<Field>}
 */
function* fields(bytes, start, end) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = varint(bytes, pos, end);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) {
      let value;
      [value, pos] = varint(bytes, pos, end);
      yield { field, wire, value, start: pos, end: pos };
    } else if (wire === WIRE_BYTES) {
      let length;
      [length, pos] = varint(bytes, pos, end);
      if (pos + length > end) throw new OnnxFormatError("a field runs past the end of its message");
      yield { field, wire, value: length, start: pos, end: pos + length };
      pos += length;
    } else if (wire === WIRE_FIXED64) {
      pos += 8;
    } else if (wire === WIRE_FIXED32) {
      pos += 4;
    } else {
      throw new OnnxFormatError(`unsupported protobuf wire type ${wire}`);
    }
    if (pos > end) throw new OnnxFormatError("a field runs past the end of its message");
  }
}

/**
 * A varint as a Number (exact up to 2^53, which covers every length and dimension here) and the next position.
 * @param {Uint8Array} bytes
 * @param {number} pos
 * @param {number} end
 * @returns {[number, number]}
 */
function varint(bytes, pos, end) {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new OnnxFormatError("truncated varint");
    const byte = bytes[pos++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new OnnxFormatError("varint longer than 10 bytes");
}

/**
 * Values of a packed repeated varint field (or one unpacked element).
 * @param {Uint8Array} bytes
 * @param {Field} entry
 */
function packedVarints(bytes, entry) {
  if (entry.wire === WIRE_VARINT) return [entry.value];
  const out = [];
  let pos = entry.start;
  while (pos < entry.end) {
    let value;
    [value, pos] = varint(bytes, pos, entry.end);
    out.push(value);
  }
  return out;
}

/**
 * The tensor's fields; `data` is a view of its raw bytes (raw_data, or packed float_data/int32_data).
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 * @returns {Tensor}
 */
function readTensor(bytes, start, end) {
  /** @type {Tensor} */
  const tensor = { name: "", dims: [], dataType: 0, data: null, dataField: null, external: false };
  const decoder = new TextDecoder();
  for (const entry of fields(bytes, start, end)) {
    if (entry.field === TENSOR_NAME && entry.wire === WIRE_BYTES) {
      tensor.name = decoder.decode(bytes.subarray(entry.start, entry.end));
    } else if (entry.field === TENSOR_DIMS) {
      tensor.dims.push(...packedVarints(bytes, entry));
    } else if (entry.field === TENSOR_DATA_TYPE) {
      tensor.dataType = entry.value;
    } else if (entry.field === TENSOR_DATA_LOCATION) {
      tensor.external = entry.value === 1;
    } else if (
      entry.wire === WIRE_BYTES &&
      (entry.field === TENSOR_RAW_DATA || entry.field === TENSOR_FLOAT_DATA ||
        entry.field === TENSOR_INT32_DATA || entry.field === TENSOR_INT64_DATA)
    ) {
      tensor.data = bytes.subarray(entry.start, entry.end);
      tensor.dataField = entry.field;
    }
  }
  return tensor;
}

/**
 * The named initializers and the set of node op types of an ONNX model's main graph.
 * @param {Uint8Array} bytes the whole .onnx file
 * @param {string[]} names initializers to return (others are skipped without decoding their data)
 * @returns {{initializers: Record<string, Tensor|undefined>, ops: Set<string>}}
 */
export function readOnnxGraph(bytes, names) {
  const wanted = new Set(names);
  /** @type {Record<string, Tensor>} */
  const initializers = {};
  /** @type {Set<string>} */
  const ops = new Set();
  /** @type {Field|null} */
  let graph = null;
  try {
    for (const entry of fields(bytes, 0, bytes.length)) {
      if (entry.field === MODEL_GRAPH && entry.wire === WIRE_BYTES) graph = entry;
    }
    if (graph === null) throw new OnnxFormatError("the model has no graph");
    const decoder = new TextDecoder();
    for (const entry of fields(bytes, graph.start, graph.end)) {
      if (entry.wire !== WIRE_BYTES) continue;
      if (entry.field === GRAPH_INITIALIZER) {
        const tensor = readTensor(bytes, entry.start, entry.end);
        if (wanted.has(tensor.name)) initializers[tensor.name] = tensor;
      } else if (entry.field === GRAPH_NODE) {
        for (const nodeField of fields(bytes, entry.start, entry.end)) {
          if (nodeField.field === NODE_OP_TYPE && nodeField.wire === WIRE_BYTES) {
            ops.add(decoder.decode(bytes.subarray(nodeField.start, nodeField.end)));
          }
        }
      }
    }
  } catch (error) {
    if (error instanceof OnnxFormatError) throw new Error(`static-edge: not a readable ONNX file: ${error.message}`);
    throw error;
  }
  return { initializers, ops };
}

/**
 * The typed array of each data type's values.
 * @type {Record<number, Float32ArrayConstructor | Uint8ArrayConstructor | Int8ArrayConstructor |
 *   Uint16ArrayConstructor | BigInt64ArrayConstructor>}
 */
const ELEMENT = {
  [DataType.FLOAT]: Float32Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.INT8]: Int8Array,
  [DataType.FLOAT16]: Uint16Array,
  [DataType.INT64]: BigInt64Array,
};

/**
 * A typed array over a tensor's values: a view into the file when aligned, else one aligned copy.
 * float16 comes back as the Uint16Array of its bit patterns. Only raw_data is read for every type;
 * float_data (packed float32) is read for FLOAT as well.
 * @param {Tensor} tensor
 * @returns {TensorArray}
 */
export function tensorValues(tensor) {
  const Element = ELEMENT[tensor.dataType];
  if (!Element) throw new Error(`static-edge: initializer ${tensor.name} has unsupported data type ${tensor.dataType}`);
  if (tensor.external) throw new Error(`static-edge: initializer ${tensor.name} is stored outside the file`);
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  const data = tensor.data ?? new Uint8Array(0);
  const readable =
    tensor.dataField === TENSOR_RAW_DATA || (tensor.dataField === TENSOR_FLOAT_DATA && Element === Float32Array);
  if (!readable && count > 0) {
    throw new Error(`static-edge: initializer ${tensor.name} is not stored as raw_data; re-export the bundle`);
  }
  if (data.byteLength !== count * Element.BYTES_PER_ELEMENT) {
    throw new Error(
      `static-edge: initializer ${tensor.name} holds ${data.byteLength} bytes, but its shape ` +
        `[${tensor.dims}] needs ${count * Element.BYTES_PER_ELEMENT}`,
    );
  }
  if (data.byteOffset % Element.BYTES_PER_ELEMENT === 0) {
    return new Element(/** @type {ArrayBuffer} */ (data.buffer), data.byteOffset, count);
  }
  const aligned = new Uint8Array(data.byteLength);
  aligned.set(data);
  return new Element(aligned.buffer, 0, count);
}
