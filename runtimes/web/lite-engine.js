// The lite engine: the bundle's Gather + masked mean in plain JavaScript over the table read from the
// bundle's own ONNX file (fp32, fp16, int8, or packed int4 / int2). No onnxruntime-web.
//
// Sums are accumulated in float64 (JavaScript numbers), then stored as float32: the result matches
// onnxruntime's float32 graph within 1e-6. wasm SIMD was measured against this loop on the 256-dim
// bundle (docs/browser.md): a query spends its time in the tokenizer and the ranking, not here, so
// plain typed-array loops are kept.

import { DataType, readOnnxGraph, tensorValues } from "./onnx-reader.js";

export const TABLE_INITIALIZER = "embedding_table";
export const SCALES_INITIALIZER = "embedding_row_scales";
export const UNK_INITIALIZER = "unk_token_id";
const NORM_EPS = 1e-12;
const FLOAT32_MAX = 3.4028234663852886e38;
/** The largest |code| a quantized variant's bytes can hold (docs/bundle-format.md#value-range). */
const CODE_PEAKS = { int8: 128, int4: 8, int2: 2 };

/** The largest table value (in magnitude) whose vectors stay finite in float32, as the Python runtimes rule. */
export function largestSafeValue(dims) {
  return Math.sqrt(FLOAT32_MAX / (2 * dims));
}

/** float16 bit pattern -> float32 value, for all 65,536 patterns (256 KB, built once). */
let float16Table = null;
function float16Values() {
  if (float16Table) return float16Table;
  float16Table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    let value;
    if (exponent === 0) value = fraction * 2 ** -24;
    else if (exponent === 31) value = fraction ? NaN : Infinity;
    else value = (1 + fraction / 1024) * 2 ** (exponent - 15);
    float16Table[bits] = sign * value;
  }
  return float16Table;
}

const EXPECTED = {
  fp32: { type: DataType.FLOAT, scales: false },
  fp16: { type: DataType.FLOAT16, scales: false },
  int8: { type: DataType.INT8, scales: true },
  int4: { type: DataType.UINT8, scales: true, bits: 4 },
  int2: { type: DataType.UINT8, scales: true, bits: 2 },
};

export class LiteEngine {
  /**
   * @param {Uint8Array} onnxBytes the variant's ONNX file (already verified against the manifest)
   * @param {object} manifest the parsed static_edge.json
   * @param {string} variant "fp32", "fp16", "int8", "int4" or "int2"
   */
  constructor(onnxBytes, manifest, variant) {
    const expected = EXPECTED[variant];
    if (!expected) throw new Error(`static-edge: the lite engine does not know the variant ${variant}`);
    const { initializers, ops } = readOnnxGraph(onnxBytes, [TABLE_INITIALIZER, SCALES_INITIALIZER, UNK_INITIALIZER]);
    const table = initializers[TABLE_INITIALIZER];
    if (!table) throw new Error(`static-edge: the ${variant} file has no ${TABLE_INITIALIZER}; was it written by static-edge export?`);
    if (table.dataType !== expected.type || table.dims.length !== 2) {
      throw new Error(`static-edge: the ${variant} file's table has data type ${table.dataType} and shape [${table.dims}]`);
    }
    const dims = manifest.dims;
    const [rows, columns] = table.dims;
    const wantColumns = expected.bits ? Math.ceil((dims * expected.bits) / 8) : dims;
    if (columns !== wantColumns) {
      throw new Error(`static-edge: the manifest says ${dims} dims but the ${variant} table has ${columns} columns`);
    }
    if (rows !== manifest.vocab_size) {
      throw new Error(
        `static-edge: the manifest says vocab_size=${manifest.vocab_size} but the ${variant} table has ${rows} rows: ` +
          "the manifest was edited",
      );
    }
    this.variant = variant;
    this.dims = dims;
    this.rows = rows;
    this.columns = columns;
    this.values = tensorValues(table);
    if (expected.scales) {
      const scales = initializers[SCALES_INITIALIZER];
      if (!scales || scales.dataType !== DataType.FLOAT || scales.dims.length !== 1 || scales.dims[0] !== rows) {
        throw new Error(`static-edge: the ${variant} file lacks float32 ${SCALES_INITIALIZER} of ${rows} rows`);
      }
      this.scales = tensorValues(scales);
    }
    if (variant === "fp16") this.halfToFloat = float16Values();
    this.#checkValues();
    this.normalize = Boolean(manifest.normalize);
    if (ops.has("ReduceL2") !== this.normalize) {
      throw new Error(
        `static-edge: the manifest says normalize=${manifest.normalize} but the graph ` +
          `${ops.has("ReduceL2") ? "normalizes" : "does not normalize"}: the manifest was edited`,
      );
    }
    const unk = initializers[UNK_INITIALIZER];
    const graphUnk = unk ? Number(tensorValues(unk)[0]) : null;
    const manifestUnk = manifest.mask_unknown ? manifest.unk_token_id : null;
    if ((graphUnk ?? null) !== (manifestUnk ?? null)) {
      throw new Error(
        `static-edge: the manifest masks unknown token ${manifestUnk} but the graph masks ${graphUnk}: the manifest was edited`,
      );
    }
    this.unkId = graphUnk ?? -1;
    this.sum = new Float64Array(dims);
  }

  /**
   * Refuse a table or row scales holding NaN or infinity, or a value whose vectors would overflow float32
   * (|value| above largestSafeValue(dims); for a quantized table, |row scale| times its largest code), naming
   * the first bad row, as the Python runtimes do. A float16 value is at most 65504, far inside the bound.
   */
  #checkValues() {
    const values = this.scales ?? this.values;
    const width = this.scales ? 1 : this.dims;
    const factor = CODE_PEAKS[this.variant] ?? 1;
    const limit = largestSafeValue(this.dims) / factor;
    for (let i = 0; i < values.length; i++) {
      const value = this.variant === "fp16" ? this.halfToFloat[values[i]] : values[i];
      if (Math.abs(value) <= limit) continue; // false for NaN
      const row = Math.floor(i / width);
      if (!Number.isFinite(value)) {
        const name = this.scales ? SCALES_INITIALIZER : TABLE_INITIALIZER;
        throw new Error(`static-edge: the ${this.variant} ${name} holds NaN or infinity in row ${row}; refusing the bundle`);
      }
      throw new Error(
        `static-edge: the ${this.variant} table's row ${row} reaches ${(Math.abs(value) * factor).toPrecision(3)}, ` +
          `beyond ${largestSafeValue(this.dims).toPrecision(3)}, the largest value a ${this.dims}-dimension table ` +
          "may hold: a text's mean or its L2 norm would overflow float32; refusing the bundle",
      );
    }
  }

  /**
   * Sentence vectors of token-id rows: one Float32Array of rows.length * dims values.
   * @param {number[][]} idRows
   */
  embed(idRows) {
    const dims = this.dims;
    const out = new Float32Array(idRows.length * dims);
    for (let r = 0; r < idRows.length; r++) this.#embedOne(idRows[r], out, r * dims);
    return out;
  }

  #embedOne(ids, out, at) {
    const dims = this.dims;
    const sum = this.sum;
    sum.fill(0);
    let count = 0;
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t];
      if (id === this.unkId) continue;
      if (!(id >= 0 && id < this.rows)) throw new Error(`static-edge: token id ${id} is outside the table's ${this.rows} rows`);
      count++;
      this.#addRow(id, sum);
    }
    const scale = 1 / Math.max(count, 1);
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const mean = Math.fround(sum[d] * scale);
      out[at + d] = mean;
      norm += mean * mean;
    }
    if (this.normalize) {
      const inverse = 1 / Math.max(Math.sqrt(norm), NORM_EPS);
      for (let d = 0; d < dims; d++) out[at + d] *= inverse;
    }
  }

  #addRow(id, sum) {
    const dims = this.dims;
    const values = this.values;
    switch (this.variant) {
      case "fp32": {
        const off = id * dims;
        for (let d = 0; d < dims; d++) sum[d] += values[off + d];
        break;
      }
      case "fp16": {
        const off = id * dims;
        const half = this.halfToFloat;
        for (let d = 0; d < dims; d++) sum[d] += half[values[off + d]];
        break;
      }
      case "int8": {
        const off = id * dims;
        const s = this.scales[id];
        for (let d = 0; d < dims; d++) sum[d] += values[off + d] * s;
        break;
      }
      case "int4": {
        // column 2k in the low nibble of byte k, column 2k+1 in the high nibble; value = nibble - 8
        const off = id * this.columns;
        const s = this.scales[id];
        const pairs = dims >> 1;
        for (let k = 0; k < pairs; k++) {
          const byte = values[off + k];
          sum[2 * k] += ((byte & 15) - 8) * s;
          sum[2 * k + 1] += ((byte >> 4) - 8) * s;
        }
        if (dims & 1) sum[dims - 1] += ((values[off + pairs] & 15) - 8) * s;
        break;
      }
      default: {
        // int2: column 4k + j in bits 2j..2j+1 of byte k; value = field - 1
        const off = id * this.columns;
        const s = this.scales[id];
        for (let d = 0; d < dims; d++) sum[d] += (((values[off + (d >> 2)] >> (2 * (d & 3))) & 3) - 1) * s;
      }
    }
  }
}
