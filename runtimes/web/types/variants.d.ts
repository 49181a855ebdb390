/** @typedef {keyof typeof ROWS} Variant a variant's name */
/** The variants by name. */
export const VARIANTS: Readonly<Record<Variant, Readonly<VariantRecord>>>;
/** The float32 table every bundle holds: the variant a manifest without `default_variant` defaults to. */
export const REFERENCE: Readonly<VariantRecord>;
/** Variant names and the bundle file each one loads. */
export const VARIANT_FILES: Readonly<Record<Variant, string>>;
export type VariantRecord = {
    /**
     * the variant's name ("fp32", "int4", ...)
     */
    name: string;
    /**
     * its ONNX file inside the bundle
     */
    file: string;
    /**
     * the `dtype` the manifest records for that file
     */
    dtype: string;
    /**
     * the TensorProto data type of its `embedding_table` (uint8 for packed codes)
     */
    onnxType: number;
    /**
     * bits per table value
     */
    bits: number;
    /**
     * whether each row has a float32 scale (`embedding_row_scales`)
     */
    scaled: boolean;
    /**
     * the `dtype` transformers.js loads the file by; null when it cannot
     */
    transformersJsDtype: string | null;
    /**
     * a packed table's field value that stands for zero (field = code + fieldOffset)
     */
    fieldOffset: number | null;
    /**
     * the largest |code| the exporter packs; null when not packed
     */
    codeLimit: number | null;
};
export type VariantRow = [string, string, number, number, boolean, string | null, number | null, number | null];
/**
 * a variant's name
 */
export type Variant = keyof typeof ROWS;
declare namespace ROWS {
    let fp32: [string, string, 1, number, false, string, null, null];
    let fp16: [string, string, 10, number, false, string, null, null];
    let int8: [string, string, 3, number, true, string, null, null];
    let int4: [string, string, 2, number, true, string, number, number];
    let int2: [string, string, 2, number, true, null, number, number];
}
export {};
