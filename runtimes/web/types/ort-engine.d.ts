/** @typedef {import("./embedder.js").Engine} Engine */
/** @implements {Engine} */
export class OrtEngine implements Engine {
    /**
     * An onnxruntime-web session over the variant's verified ONNX file.
     * @param {Uint8Array} onnxBytes the verified ONNX file
     * @param {import("./bundle-files.js").Manifest} manifest the parsed static_edge.json
     * @param {import("./variants.js").Variant} _variant the graph carries its own table, whatever the variant
     * @param {{ort?: any, wasmPaths?: string, numThreads?: number}} options
     */
    static create(onnxBytes: Uint8Array, manifest: import("./bundle-files.js").Manifest, _variant: import("./variants.js").Variant, { ort, wasmPaths, numThreads }?: {
        ort?: any;
        wasmPaths?: string;
        numThreads?: number;
    }): Promise<OrtEngine>;
    /**
     * @param {any} ort the onnxruntime-web module
     * @param {any} session its InferenceSession of the bundle's graph
     * @param {import("./bundle-files.js").Manifest} manifest
     */
    constructor(ort: any, session: any, manifest: import("./bundle-files.js").Manifest);
    ort: any;
    session: any;
    dims: number;
    pad: bigint;
    /** @type {number} */
    numThreads: number;
    /**
     * Sentence vectors of token-id rows, padded into one batch: Float32Array of idRows.length * dims.
     * @param {number[][]} idRows
     * @returns {Promise<Float32Array>}
     */
    embed(idRows: number[][]): Promise<Float32Array>;
    /** Release the onnxruntime-web session. */
    dispose(): Promise<void>;
}
export type Engine = import("./embedder.js").Engine;
