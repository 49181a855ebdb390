// The lite engine: the bundle's Gather + masked mean in plain JavaScript over the table read from the
// bundle's own ONNX file (fp32, fp16, int8, or a packed table such as int4 / int2). No onnxruntime-web.
//
// Sums are accumulated in float64 (JavaScript numbers), then stored as float32: the result matches
// onnxruntime's float32 graph within 1e-6. wasm SIMD was measured against this loop on the 256-dim
// bundle (docs/browser.md): a query spends its time in the tokenizer and the ranking, not here, so
// plain typed-array loops are kept.

import { DataType, readOnnxGraph, tensorValues } from "./onnx-reader.js";
import { VARIANTS } from "./variants.js";

export const TABLE_INITIALIZER = "embedding_table";
export const SCALES_INITIALIZER = "embedding_row_scales";
export const UNK_INITIALIZER = "unk_token_id";
const NORM_EPS = 1e-12;
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The largest table value (in magnitude) whose vectors stay finite in float32, as the Python runtimes rule.
 * @param {number} dims
 */
export function largestSafeValue(dims) {
  return Math.sqrt(FLOAT32_MAX / (2 * dims));
}

/** @type {Float32Array|null} */
let float16Table = null;

/**
 * float16 bit pattern -> float32 value, for all 65,536 patterns (256 KB, built on first use).
 * @returns {Float32Array}
 */
export function float16Values() {
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

// Row adders, one per storage layout: sum[d] += the row's value d (times the row's scale, for a scaled table)
// for d < dims, from the table's values starting at `offset` (the row's first stored element).

/**
 * @callback RowAdder
 * @param {Float64Array} sum
 * @param {ArrayLike<number>} values the whole table's values
 * @param {number} offset
 * @param {number} dims
 * @param {number} scale the row's scale (1 for a float table)
 * @returns {void}
 */

/** @type {RowAdder} float32 values */
export function addFloatRow(sum, values, offset, dims) {
  for (let d = 0; d < dims; d++) sum[d] += values[offset + d];
}

/**
 * The adder of float16 bit patterns (a Uint16Array), looked up in `half` (a closure: faster than a lookup per row).
 * @param {Float32Array} half float16Values()
 * @returns {RowAdder}
 */
export function halfRowAdder(half) {
  return (sum, values, offset, dims) => {
    for (let d = 0; d < dims; d++) sum[d] += half[values[offset + d]];
  };
}

/** @type {RowAdder} int8 codes times the row's scale */
export function addInt8Row(sum, values, offset, dims, scale) {
  for (let d = 0; d < dims; d++) sum[d] += values[offset + d] * scale;
}

/**
 * The adder of a packed table (docs/bundle-format.md): a byte holds floor(8 / bits) `bits`-bit fields from the
 * low bits up (column c in byte floor(c / perByte)), and a field stores code + fieldOffset. Two fields a byte
 * (3 or 4 bits: int4) and four (2 bits: int2) get loops as fast as hand-written ones (bits, mask and offset are
 * closure constants; a loop over the fields of each byte measured 1.3-1.7x slower); other widths share that loop.
 * @param {number} bits bits per field, 1 to 7
 * @param {number} fieldOffset the field value that stands for code 0
 * @returns {RowAdder}
 */
export function packedRowAdder(bits, fieldOffset) {
  const perByte = Math.floor(8 / bits);
  const mask = (1 << bits) - 1;
  if (perByte === 2) {
    return (sum, values, offset, dims, scale) => {
      const pairs = dims >> 1;
      for (let k = 0; k < pairs; k++) {
        const byte = values[offset + k];
        sum[2 * k] += ((byte & mask) - fieldOffset) * scale;
        sum[2 * k + 1] += (((byte >> bits) & mask) - fieldOffset) * scale;
      }
      if (dims & 1) sum[dims - 1] += ((values[offset + pairs] & mask) - fieldOffset) * scale;
    };
  }
  if (perByte === 4) {
    return (sum, values, offset, dims, scale) => {
      for (let d = 0; d < dims; d++) sum[d] += (((values[offset + (d >> 2)] >> (bits * (d & 3))) & mask) - fieldOffset) * scale;
    };
  }
  return (sum, values, offset, dims, scale) => {
    for (let j = 0, shift = 0; j < perByte; j++, shift += bits) {
      for (let d = j, at = offset; d < dims; d += perByte, at++) sum[d] += (((values[at] >> shift) & mask) - fieldOffset) * scale;
    }
  };
}

/**
 * The row adder of a variant's storage layout.
 * @param {import("./variants.js").VariantRecord} variant
 * @returns {RowAdder}
 */
export function rowAdder(variant) {
  if (variant.fieldOffset !== null) return packedRowAdder(variant.bits, variant.fieldOffset);
  if (variant.onnxType === DataType.FLOAT16) return halfRowAdder(float16Values());
  return variant.scaled ? addInt8Row : addFloatRow;
}

/** @typedef {import("./embedder.js").Engine} Engine */

/** @implements {Engine} */
export class LiteEngine {
  /**
   * The engine of a variant's verified ONNX file (async to match the Engine contract; it does no I/O).
   * @param {Uint8Array} onnxBytes the variant's ONNX file (already verified against the manifest)
   * @param {import("./bundle-files.js").Manifest} manifest the parsed static_edge.json
   * @param {import("./variants.js").Variant} variant
   */
  static async create(onnxBytes, manifest, variant) {
    return new LiteEngine(onnxBytes, manifest, variant);
  }

  /**
   * @param {Uint8Array} onnxBytes the variant's ONNX file (already verified against the manifest)
   * @param {import("./bundle-files.js").Manifest} manifest the parsed static_edge.json
   * @param {import("./variants.js").Variant} variant
   */
  constructor(onnxBytes, manifest, variant) {
    const record = VARIANTS[variant];
    if (!record) throw new Error(`static-edge: the lite engine does not know the variant ${variant}`);
    const { initializers, ops } = readOnnxGraph(onnxBytes, [TABLE_INITIALIZER, SCALES_INITIALIZER, UNK_INITIALIZER]);
    const table = initializers[TABLE_INITIALIZER];
    if (!table) throw new Error(`static-edge: the ${variant} file has no ${TABLE_INITIALIZER}; was it written by static-edge export?`);
    if (table.dataType !== record.onnxType || table.dims.length !== 2) {
      throw new Error(`static-edge: the ${variant} file's table has data type ${table.dataType} and shape [${table.dims}]`);
    }
    const dims = manifest.dims;
    const [rows, columns] = table.dims;
    const wantColumns = record.bits < 8 ? Math.ceil(dims / Math.floor(8 / record.bits)) : dims;
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
    this.values = /** @type {ArrayLike<number>} */ (tensorValues(table)); // never int64: the type was checked
    /** @type {Float32Array|null} */
    this.scales = null;
    if (record.scaled) {
      const scales = initializers[SCALES_INITIALIZER];
      if (!scales || scales.dataType !== DataType.FLOAT || scales.dims.length !== 1 || scales.dims[0] !== rows) {
        throw new Error(`static-edge: the ${variant} file lacks float32 ${SCALES_INITIALIZER} of ${rows} rows`);
      }
      this.scales = /** @type {Float32Array} */ (tensorValues(scales));
    }
    this.addRow = rowAdder(record);
    this.#checkValues(record);
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
   * (|value| above largestSafeValue(dims); for a scaled table, |row scale| times its largest code), naming
   * the first bad row, as the Python runtimes do. A float16 value is at most 65504, far inside the bound.
   * @param {import("./variants.js").VariantRecord} record
   */
  #checkValues(record) {
    const values = this.scales ?? this.values;
    const width = this.scales ? 1 : this.dims;
    const factor = record.scaled ? 2 ** (record.bits - 1) : 1; // the largest |code| the bytes can hold
    const limit = largestSafeValue(this.dims) / factor;
    const half = record.onnxType === DataType.FLOAT16 ? float16Values() : null;
    for (let i = 0; i < values.length; i++) {
      const value = half ? half[values[i]] : values[i];
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
   * Sentence vectors of token-id rows: one Float32Array of idRows.length * dims values.
   * @param {number[][]} idRows
   * @returns {Promise<Float32Array>}
   */
  async embed(idRows) {
    const dims = this.dims;
    const out = new Float32Array(idRows.length * dims);
    for (let r = 0; r < idRows.length; r++) this.#embedOne(idRows[r], out, r * dims);
    return out;
  }

  /** Nothing to release: the table is a view of the file's bytes, freed with the engine. */
  async dispose() {}

  /**
   * The masked mean of one row's token vectors (L2-normalized when the graph normalizes), written at out[at..].
   * @param {number[]} ids
   * @param {Float32Array} out
   * @param {number} at
   */
  #embedOne(ids, out, at) {
    const { dims, sum, addRow, values, scales, columns, rows, unkId } = this;
    sum.fill(0);
    let count = 0;
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t];
      if (id === unkId) continue;
      if (!(id >= 0 && id < rows)) throw new Error(`static-edge: token id ${id} is outside the table's ${rows} rows`);
      count++;
      addRow(sum, values, id * columns, dims, scales ? scales[id] : 1);
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
}
