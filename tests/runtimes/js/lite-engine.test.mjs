// Unit tests of runtimes/web/lite-engine.js: every row adder (the float16 table and the packed
// unpacking of every width included) against values worked out by hand and against a packer written from the bundle
// format's words, and the engine's gather + masked mean over a hand-built ONNX file.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  LiteEngine,
  addFloatRow,
  addInt8Row,
  float16Values,
  halfRowAdder,
  largestSafeValue,
  packedRowAdder,
  rowAdder,
} from "../../../runtimes/web/lite-engine.js";
import { DataType } from "../../../runtimes/web/onnx-reader.js";
import { VARIANTS } from "../../../runtimes/web/variants.js";
import { model, rawBytes } from "./onnx-bytes.mjs";

/** The row `adder` decodes at `offset`, added to a sum that starts at `start`. */
function decode(adder, values, offset, dims, scale = 1, start = 0) {
  const sum = new Float64Array(dims).fill(start);
  adder(sum, values, offset, dims, scale);
  return [...sum];
}

/** Codes packed as docs/bundle-format.md says: `bits`-bit fields from the low bits up, field = code + offset. */
function pack(codes, bits, offset) {
  const perByte = Math.floor(8 / bits);
  const out = new Uint8Array(Math.ceil(codes.length / perByte));
  for (let j = 0; j < perByte; j++) out.forEach((byte, k) => (out[k] = byte | (offset << (bits * j)))); // padding: code 0
  codes.forEach((code, d) => {
    const shift = bits * (d % perByte);
    const byte = Math.floor(d / perByte);
    out[byte] = (out[byte] & ~(((1 << bits) - 1) << shift)) | ((code + offset) << shift);
  });
  return out;
}

describe("row adders", () => {
  test("float32: the row's values, added to the sum", () => {
    const values = Float32Array.of(9, 9, 1.5, -2, 0.25, 9);
    assert.deepEqual(decode(addFloatRow, values, 2, 3, 1, 10), [11.5, 8, 10.25]);
  });

  test("float16: every kind of bit pattern", () => {
    const half = float16Values();
    assert.equal(half.length, 65536);
    const cases = {
      0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x3800: 0.5, 0x7bff: 65504, 0xfbff: -65504,
      0x0001: 2 ** -24, 0x03ff: 1023 * 2 ** -24, 0x0400: 2 ** -14, 0x3555: 0.333251953125,
      0x7c00: Infinity, 0xfc00: -Infinity,
    };
    for (const [bits, value] of Object.entries(cases)) assert.equal(half[Number(bits)], value, `0x${Number(bits).toString(16)}`);
    assert.ok(Number.isNaN(half[0x7e00]) && Number.isNaN(half[0xfe01]));
    assert.ok(Object.is(half[0x8000], -0));
    assert.equal(float16Values(), half, "built once");
    assert.deepEqual(decode(halfRowAdder(half), Uint16Array.of(0x3c00, 0xc000, 0x3800), 0, 3), [1, -2, 0.5]);
  });

  test("int8: codes times the row scale", () => {
    assert.deepEqual(decode(addInt8Row, Int8Array.of(7, -128, 127, 0, 5), 1, 3, 0.5), [-64, 63.5, 0]);
  });

  test("int4: low nibble first, code = nibble - 8, an odd last column in a low nibble", () => {
    // 0x0f: nibbles 15, 0 -> codes 7, -8; 0x98: 8, 9 -> 0, 1; 0xa3: low nibble 3 -> -5 (high nibble is padding)
    const row = Uint8Array.of(0x0f, 0x98, 0xa3);
    assert.deepEqual(decode(rowAdder(VARIANTS.int4), row, 0, 5, 2), [14, -16, 0, 2, -10]);
    assert.deepEqual(decode(rowAdder(VARIANTS.int4), row, 0, 4, 1), [7, -8, 0, 1]);
  });

  test("int2: four fields a byte from the low bits up, code = field - 1", () => {
    // 0xe4 = 0b11_10_01_00: fields 0, 1, 2, 3 -> codes -1, 0, 1, 2; 0x02: field 2 -> 1 (the rest is padding)
    const row = Uint8Array.of(0xff, 0xe4, 0x02);
    assert.deepEqual(decode(rowAdder(VARIANTS.int2), row, 1, 5, 3), [-3, 0, 3, 6, 3]);
  });

  test("every packed width decodes whatever the packer wrote, for every row length", () => {
    const layouts = [[1, 1], [2, 1], [3, 4], [4, 8], [5, 16], [6, 32], [7, 64]]; // bits, fieldOffset
    for (const [bits, offset] of layouts) {
      const adder = packedRowAdder(bits, offset);
      const [low, high] = [-offset, (1 << bits) - 1 - offset];
      for (let dims = 1; dims <= 13; dims++) {
        const codes = Array.from({ length: dims }, (_, d) => low + ((d * 5 + dims) % (high - low + 1)));
        const row = pack(codes, bits, offset);
        const padded = Uint8Array.from([0xff, ...row, 0xff]); // neighbouring rows must not leak in
        assert.deepEqual(decode(adder, padded, 1, dims, 0.25), codes.map((c) => c * 0.25), `${bits} bits, ${dims} dims`);
      }
    }
  });

  test("each variant's layout picks its adder, packed ones from the record's bits and fieldOffset", () => {
    assert.deepEqual(Object.keys(VARIANTS), ["fp32", "fp16", "int8", "int4", "int2"]);
    assert.equal(rowAdder(VARIANTS.fp32), addFloatRow);
    assert.equal(rowAdder(VARIANTS.int8), addInt8Row);
    assert.deepEqual(decode(rowAdder(VARIANTS.fp16), Uint16Array.of(0xc000, 0x3800), 0, 2), [-2, 0.5]);
    for (const { name, bits, fieldOffset } of Object.values(VARIANTS).filter((v) => v.fieldOffset !== null)) {
      const byte = Uint8Array.of(fieldOffset | ((fieldOffset + 1) << bits)); // codes 0, 1
      assert.deepEqual(decode(rowAdder(VARIANTS[name]), byte, 0, 2), [0, 1], name);
    }
  });
});

describe("LiteEngine", () => {
  const DIMS = 3;
  const TABLE = Float32Array.of(1, 2, 3, -1, 0, 4, 10, 10, 10, 0.5, -0.5, 2);
  const manifest = (extra = {}) => ({ dims: DIMS, vocab_size: 4, normalize: false, files: {}, ...extra });
  const onnx = ({ ops = ["Gather", "ReduceSum"], unk = null, dataType = DataType.FLOAT, dims = [4, DIMS] } = {}) => {
    const initializers = [{ name: "embedding_table", dims, dataType, data: rawBytes(TABLE) }];
    if (unk !== null) {
      const data = rawBytes(BigInt64Array.of(BigInt(unk)));
      initializers.push({ name: "unk_token_id", dims: [], dataType: DataType.INT64, data });
    }
    return model({ initializers, ops });
  };

  test("keeps the engine contract: embed resolves to the flat masked means, dispose resolves", async () => {
    const engine = await LiteEngine.create(onnx({ unk: 2 }), manifest({ mask_unknown: true, unk_token_id: 2 }), "fp32");
    const flat = await engine.embed([[0, 1], [2], [3, 2, 3], []]);
    assert.ok(flat instanceof Float32Array);
    // row 0: mean of tokens 0 and 1; row 1: only the unknown token (masked): zeros; row 2: token 3 twice
    assert.deepEqual([...flat], [0, 1, 3.5, 0, 0, 0, 0.5, -0.5, 2, 0, 0, 0]);
    assert.equal(await engine.dispose(), undefined);
  });

  test("normalizes when the graph does (ReduceL2) and the manifest says so", async () => {
    const engine = await LiteEngine.create(onnx({ ops: ["Gather", "ReduceL2"] }), manifest({ normalize: true }), "fp32");
    const [x, y, z] = await engine.embed([[2]]);
    assert.ok(Math.abs(x - 1 / Math.sqrt(3)) < 1e-7 && x === y && y === z);
  });

  const refused = {
    "an unknown variant": [{}, {}, "q3", /does not know the variant q3/],
    "a table of another data type": [{ dataType: DataType.FLOAT16 }, {}, "fp32", /table has data type 10/],
    "a manifest whose dims are not the table's": [{}, { dims: 4 }, "fp32", /says 4 dims but the fp32 table has 3 columns/],
    "an edited vocab_size": [{}, { vocab_size: 5 }, "fp32", /vocab_size=5 but the fp32 table has 4 rows/],
    "an edited normalize": [{}, { normalize: true }, "fp32", /normalize=true but the graph does not normalize/],
    "an edited unknown-token mask": [{ unk: 1 }, {}, "fp32", /masks unknown token null but the graph masks 1/],
    "a scaled variant without row scales": [
      { dataType: DataType.INT8, dims: [4, 12] }, { dims: 12 }, "int8", /lacks float32 embedding_row_scales/,
    ],
    "a token id outside the table": [{}, {}, "fp32", /token id 4 is outside the table's 4 rows/, [[4]]],
  };
  for (const [what, [file, edits, variant, message, ids]] of Object.entries(refused)) {
    test(`refuses ${what}`, async () => {
      const attempt = async () => (await LiteEngine.create(onnx(file), manifest(edits), variant)).embed(ids ?? [[0]]);
      await assert.rejects(attempt, { message });
    });
  }

  test("refuses a value beyond the float32-safe bound, naming its row", async () => {
    const big = Float32Array.from(TABLE);
    big[7] = largestSafeValue(DIMS) * 1.01;
    const initializer = { name: "embedding_table", dims: [4, DIMS], dataType: DataType.FLOAT, data: rawBytes(big) };
    const bytes = model({ initializers: [initializer] });
    await assert.rejects(LiteEngine.create(bytes, manifest(), "fp32"), { message: /the fp32 table's row 2 reaches/ });
  });
});
