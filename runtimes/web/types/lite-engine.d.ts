/**
 * The largest table value (in magnitude) whose vectors stay finite in float32, as the Python runtimes rule.
 * @param {number} dims
 */
export function largestSafeValue(dims: number): number;
/**
 * float16 bit pattern -> float32 value, for all 65,536 patterns (256 KB, built on first use).
 * @returns {Float32Array}
 */
export function float16Values(): Float32Array;
export function addFloatRow(sum: Float64Array, values: ArrayLike<number>, offset: number, dims: number, scale: number): void;
/**
 * The adder of float16 bit patterns (a Uint16Array), looked up in `half` (a closure: faster than a lookup per row).
 * @param {Float32Array} half float16Values()
 * @returns {RowAdder}
 */
export function halfRowAdder(half: Float32Array): RowAdder;
export function addInt8Row(sum: Float64Array, values: ArrayLike<number>, offset: number, dims: number, scale: number): void;
/**
 * The adder of a packed table (docs/bundle-format.md): a byte holds floor(8 / bits) `bits`-bit fields from the
 * low bits up (column c in byte floor(c / perByte)), and a field stores code + fieldOffset. Two fields a byte
 * (3 or 4 bits: int4) and four (2 bits: int2) get loops as fast as hand-written ones (bits, mask and offset are
 * closure constants; a loop over the fields of each byte measured 1.3-1.7x slower); other widths share that loop.
 * @param {number} bits bits per field, 1 to 7
 * @param {number} fieldOffset the field value that stands for code 0
 * @returns {RowAdder}
 */
export function packedRowAdder(bits: number, fieldOffset: number): RowAdder;
/**
 * The row adder of a variant's storage layout.
 * @param {import("./variants.js").VariantRecord} variant
 * @returns {RowAdder}
 */
export function rowAdder(variant: import("./variants.js").VariantRecord): RowAdder;
export const TABLE_INITIALIZER: "embedding_table";
export const SCALES_INITIALIZER: "embedding_row_scales";
export const UNK_INITIALIZER: "unk_token_id";
/** @typedef {import("./embedder.js").Engine} Engine */
/** @implements {Engine} */
export class LiteEngine implements Engine {
    /**
     * The engine of a variant's verified ONNX file (async to match the Engine contract; it does no I/O).
     * @param {Uint8Array} onnxBytes the variant's ONNX file (already verified against the manifest)
     * @param {import("./bundle-files.js").Manifest} manifest the parsed static_edge.json
     * @param {import("./variants.js").Variant} variant
     */
    static create(onnxBytes: Uint8Array, manifest: import("./bundle-files.js").Manifest, variant: import("./variants.js").Variant): Promise<LiteEngine>;
    /**
     * @param {Uint8Array} onnxBytes the variant's ONNX file (already verified against the manifest)
     * @param {import("./bundle-files.js").Manifest} manifest the parsed static_edge.json
     * @param {import("./variants.js").Variant} variant
     */
    constructor(onnxBytes: Uint8Array, manifest: import("./bundle-files.js").Manifest, variant: import("./variants.js").Variant);
    variant: "fp32" | "fp16" | "int8" | "int4" | "int2";
    dims: number;
    rows: number;
    columns: number;
    values: ArrayLike<number>;
    /** @type {Float32Array|null} */
    scales: Float32Array | null;
    addRow: RowAdder;
    normalize: boolean;
    unkId: number;
    sum: Float64Array<ArrayBuffer>;
    /**
     * Sentence vectors of token-id rows: one Float32Array of idRows.length * dims values.
     * @param {number[][]} idRows
     * @returns {Promise<Float32Array>}
     */
    embed(idRows: number[][]): Promise<Float32Array>;
    /** Nothing to release: the table is a view of the file's bytes, freed with the engine. */
    dispose(): Promise<void>;
    #private;
}
export type RowAdder = (sum: Float64Array, values: ArrayLike<number>, offset: number, dims: number, scale: number) => void;
export type Engine = import("./embedder.js").Engine;
