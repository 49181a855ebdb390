// Unit tests of runtimes/web/onnx-reader.js: the protobuf walk, the initializers and op types it returns, and
// tensorValues' typed arrays and refusals, on ONNX bytes built field by field (onnx-bytes.mjs).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DataType, readOnnxGraph, tensorValues } from "../../../runtimes/web/onnx-reader.js";
import { bytesField, fixed32Field, fixed64Field, model, rawBytes, varint, varintField } from "./onnx-bytes.mjs";

const TABLE = Float32Array.from([1.5, -2, 0, 3.25, 7, -0.5]);
const table = (extra = {}) => ({
  name: "embedding_table",
  dims: [3, 2],
  dataType: DataType.FLOAT,
  data: rawBytes(TABLE),
  ...extra,
});
const NOT_READABLE = /^static-edge: not a readable ONNX file: /;

/** The model with `prefix` bytes (a skipped field) before its graph, chosen so the table data lands at `offset mod 4`. */
function modelWithTableAt(alignment) {
  for (let pad = 0; pad < 4; pad++) {
    const bytes = model({ initializers: [table()], prefix: bytesField(3, new Array(pad).fill(97)) });
    const { initializers } = readOnnxGraph(bytes, ["embedding_table"]);
    if (initializers.embedding_table.data.byteOffset % 4 === alignment) return bytes;
  }
  throw new Error("no padding gives that alignment");
}

describe("readOnnxGraph", () => {
  test("returns the named initializers as views into the file and every op type", () => {
    const unk = { name: "unk_token_id", dims: [], dataType: DataType.INT64, data: rawBytes(BigInt64Array.of(100n)) };
    const other = { name: "axis_1", dims: [1], dataType: DataType.INT64, data: rawBytes(BigInt64Array.of(1n)) };
    const bytes = model({ initializers: [other, table(), unk], ops: ["Gather", "ReduceSum", "ReduceL2", "Gather"] });
    const { initializers, ops } = readOnnxGraph(bytes, ["embedding_table", "unk_token_id", "absent"]);
    assert.deepEqual(Object.keys(initializers).sort(), ["embedding_table", "unk_token_id"]);
    const got = initializers.embedding_table;
    assert.deepEqual(got.dims, [3, 2]);
    assert.equal(got.dataType, DataType.FLOAT);
    assert.equal(got.external, false);
    assert.equal(got.data.buffer, bytes.buffer, "the data is a view, not a copy");
    assert.deepEqual([...got.data], rawBytes(TABLE));
    assert.deepEqual(initializers.unk_token_id.dims, []);
    assert.deepEqual([...ops].sort(), ["Gather", "ReduceL2", "ReduceSum"]);
  });

  test("reads packed and unpacked dims, multi-byte varints included", () => {
    const dims = [300, 70000];
    for (const packedDims of [false, true]) {
      const bytes = model({ initializers: [{ name: "t", dims, dataType: DataType.UINT8, packedDims }] });
      assert.deepEqual(readOnnxGraph(bytes, ["t"]).initializers.t.dims, dims);
    }
  });

  test("skips fixed32 and fixed64 fields", () => {
    const bytes = model({ initializers: [table()], prefix: [...fixed32Field(3), ...fixed64Field(4)] });
    assert.deepEqual(readOnnxGraph(bytes, ["embedding_table"]).initializers.embedding_table.dims, [3, 2]);
  });

  const broken = {
    "no graph": [Uint8Array.from(varintField(1, 10)), /the model has no graph/],
    "a truncated varint": [Uint8Array.from([8, 0x80]), /truncated varint/],
    "a varint longer than 10 bytes": [Uint8Array.from([8, ...new Array(11).fill(0xff)]), /varint longer than 10 bytes/],
    "a field past the end": [Uint8Array.from([...varint(7 * 8 + 2), 50, 1, 2]), /runs past the end/],
    "a fixed64 past the end": [Uint8Array.from([...varint(3 * 8 + 1), 1, 2]), /runs past the end/],
    "a group (wire type 3)": [Uint8Array.from(varint(3 * 8 + 3)), /unsupported protobuf wire type 3/],
  };
  for (const [what, [bytes, message]] of Object.entries(broken)) {
    test(`refuses ${what} with one clear error`, () => {
      assert.throws(() => readOnnxGraph(bytes, ["embedding_table"]), (error) => {
        assert.match(error.message, NOT_READABLE);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test("refuses a truncated file", () => {
    const bytes = model({ initializers: [table()] });
    assert.throws(() => readOnnxGraph(bytes.subarray(0, bytes.length - 5), ["embedding_table"]), { message: NOT_READABLE });
  });
});

describe("tensorValues", () => {
  const read = (bytes, name = "embedding_table") => readOnnxGraph(bytes, [name]).initializers[name];

  test("an aligned float32 table is a view of the file; a misaligned one an aligned copy of the same values", () => {
    const aligned = modelWithTableAt(0);
    const alignedValues = tensorValues(read(aligned));
    assert.ok(alignedValues instanceof Float32Array);
    assert.equal(alignedValues.buffer, aligned.buffer);
    assert.deepEqual([...alignedValues], [...TABLE]);
    const misaligned = modelWithTableAt(1);
    const copied = tensorValues(read(misaligned));
    assert.notEqual(copied.buffer, misaligned.buffer);
    assert.deepEqual([...copied], [...TABLE]);
  });

  test("each data type comes back as its typed array", () => {
    const cases = [
      [DataType.FLOAT16, Uint16Array, Uint16Array.of(0x3c00, 0xc000)],
      [DataType.INT8, Int8Array, Int8Array.of(-128, 127)],
      [DataType.UINT8, Uint8Array, Uint8Array.of(0, 255)],
      [DataType.INT64, BigInt64Array, BigInt64Array.of(-1n, 2n ** 40n)],
    ];
    for (const [dataType, Element, values] of cases) {
      const bytes = model({ initializers: [{ name: "t", dims: [2], dataType, data: rawBytes(values) }] });
      const got = tensorValues(read(bytes, "t"));
      assert.ok(got instanceof Element, Element.name);
      assert.deepEqual([...got], [...values]);
    }
  });

  test("reads a float32 tensor stored as packed float_data", () => {
    const bytes = model({ initializers: [table({ dataField: 4 })] });
    assert.deepEqual([...tensorValues(read(bytes))], [...TABLE]);
  });

  test("an empty tensor has no values", () => {
    const bytes = model({ initializers: [{ name: "t", dims: [0, 4], dataType: DataType.FLOAT }] });
    assert.equal(tensorValues(read(bytes, "t")).length, 0);
  });

  const refused = {
    "an int8 table stored as int32_data": [
      { name: "embedding_table", dims: [2], dataType: DataType.INT8, data: varint(5).concat(varint(6)), dataField: 5 },
      /is not stored as raw_data; re-export the bundle/,
    ],
    "data stored outside the file": [table({ data: [], external: true }), /is stored outside the file/],
    "bytes that do not fill the shape": [table({ dims: [4, 2] }), /holds 24 bytes, but its shape \[4,2\] needs 32/],
    "an unsupported data type": [table({ dataType: 11 }), /has unsupported data type 11/],
  };
  for (const [what, [initializer, message]] of Object.entries(refused)) {
    test(`refuses ${what}`, () => {
      const tensor = read(model({ initializers: [initializer] }));
      assert.throws(() => tensorValues(tensor), (error) => {
        assert.match(error.message, /^static-edge: initializer embedding_table /);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});
