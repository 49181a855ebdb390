// The bundle's table variants (docs/bundle-format.md): the one record every variant list of the browser
// runtime derives from. The same rows as Python's static_edge.runtimes.variants.VARIANTS (fields in
// camelCase); tests/runtimes/test_js_variants.py fails when the two drift apart.

import { DataType } from "./onnx-reader.js";

/**
 * @typedef {object} VariantRecord
 * @property {string} name the variant's name ("fp32", "int4", ...)
 * @property {string} file its ONNX file inside the bundle
 * @property {string} dtype the `dtype` the manifest records for that file
 * @property {number} onnxType the TensorProto data type of its `embedding_table` (uint8 for packed codes)
 * @property {number} bits bits per table value
 * @property {boolean} scaled whether each row has a float32 scale (`embedding_row_scales`)
 * @property {string|null} transformersJsDtype the `dtype` transformers.js loads the file by; null when it cannot
 */

// name: [file, dtype, onnxType, bits, scaled, transformersJsDtype], in the bundle format's order
/** @satisfies {Record<string, [string, string, number, number, boolean, string | null]>} */
const ROWS = {
  fp32: ["onnx/model.onnx", "float32", DataType.FLOAT, 32, false, "fp32"],
  fp16: ["onnx/model_fp16.onnx", "float16", DataType.FLOAT16, 16, false, "fp16"],
  int8: ["onnx/model_quantized.onnx", "int8", DataType.INT8, 8, true, "q8"],
  int4: ["onnx/model_q4.onnx", "int4", DataType.UINT8, 4, true, "q4"],
  int2: ["onnx/model_q2.onnx", "int2", DataType.UINT8, 2, true, null],
};

/** @typedef {keyof typeof ROWS} Variant a variant's name */

/** The variants by name. */
export const VARIANTS = /** @type {Readonly<Record<Variant, Readonly<VariantRecord>>>} */ (
  Object.freeze(
    Object.fromEntries(
      Object.entries(ROWS).map(([name, [file, dtype, onnxType, bits, scaled, transformersJsDtype]]) => [
        name,
        Object.freeze({ name, file, dtype, onnxType, bits, scaled, transformersJsDtype }),
      ]),
    ),
  )
);

/** The float32 table every bundle holds: the variant a manifest without `default_variant` defaults to. */
export const REFERENCE = VARIANTS.fp32;

/** Variant names and the bundle file each one loads. */
export const VARIANT_FILES = /** @type {Readonly<Record<Variant, string>>} */ (
  Object.freeze(Object.fromEntries(Object.values(VARIANTS).map((v) => [v.name, v.file])))
);
