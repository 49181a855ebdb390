/**
 * Cosine similarity of two vectors; 0 when either is all zeros.
 * @param {ArrayLike<number>} a
 * @param {ArrayLike<number>} b
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number;
export { VectorIndex } from "./vector-index.js";
export class StaticEmbedder {
    /**
     * @overload
     * @param {string|URL} baseUrl
     * @param {LoadOptions & {worker: true}} options
     * @returns {Promise<import("./worker-embedder.js").WorkerEmbedder>}
     */
    static load(baseUrl: string | URL, options: LoadOptions & {
        worker: true;
    }): Promise<import("./worker-embedder.js").WorkerEmbedder>;
    /**
     * @overload
     * @param {string|URL} baseUrl
     * @param {LoadOptions} [options]
     * @returns {Promise<StaticEmbedder>}
     */
    static load(baseUrl: string | URL, options?: LoadOptions | undefined): Promise<StaticEmbedder>;
    /**
     * @param {Manifest} manifest the parsed static_edge.json
     * @param {any} tokenizer a @huggingface/tokenizers Tokenizer of the bundle's tokenizer.json
     * @param {Engine} model the engine that embeds token ids
     * @param {Variant} variant
     * @param {EngineName} engine
     */
    constructor(manifest: Manifest, tokenizer: any, model: Engine, variant: Variant, engine: EngineName);
    manifest: import("./bundle-files.js").Manifest;
    tokenizer: any;
    model: Engine;
    variant: "fp32" | "fp16" | "int8" | "int4" | "int2";
    engine: "ort" | "lite";
    /** @type {number} */
    dims: number;
    /** @type {string} the bundle digest of the loaded manifest */
    digest: string;
    /** @type {LoadedFrom} which files came from Cache Storage and which from the network */
    loadedFrom: LoadedFrom;
    /** @type {number} milliseconds load() took */
    loadMs: number;
    /**
     * Token ids of each text, as the graph receives them (no special tokens, truncated at max_length; unknown
     * tokens included: the engine masks them).
     * @param {string[]} texts
     * @returns {number[][]}
     */
    tokenize(texts: string[]): number[][];
    /**
     * Sentence vectors, one Float32Array of `dims` values per text, in input order.
     * @param {string[]} texts
     * @param {{batchSize?: number}} [options] texts of like length are embedded together, `batchSize` at a time
     *   (the "ort" engine pads each batch to its longest text)
     * @returns {Promise<Float32Array[]>}
     */
    encode(texts: string[], { batchSize }?: {
        batchSize?: number;
    }): Promise<Float32Array[]>;
    /**
     * Packed binary vectors (`ubinary`): texts.length * ceil(dims / 8) bytes, first dimension in the top bit.
     * @param {string[]} texts
     * @returns {Promise<Uint8Array>}
     */
    encodeBinary(texts: string[]): Promise<Uint8Array>;
    /** Release the engine (the onnxruntime-web session of engine "ort"); the embedder is not used afterwards. */
    dispose(): Promise<void>;
}
export type EngineName = keyof typeof ENGINES;
export type Variant = import("./variants.js").Variant;
export type Manifest = import("./bundle-files.js").Manifest;
export type ProgressEvent = import("./bundle-files.js").ProgressEvent;
/**
 * the files read from Cache Storage and from the network
 */
export type LoadedFrom = {
    cache: string[];
    network: string[];
};
export type LoadOptions = {
    /**
     * which table to load; the bundle's `default_variant` when omitted
     */
    variant?: "fp32" | "fp16" | "int8" | "int4" | "int2" | undefined;
    /**
     * "lite" (default): the table read from the ONNX file, gather + mean in
     * JavaScript. "ort": onnxruntime-web runs the graph (an optional peer dependency)
     */
    engine?: "ort" | "lite" | undefined;
    /**
     * pin the bundle: its digest (`static-edge export` prints it; Python
     * `bundle_digest`). Any other is refused
     */
    sha256?: string | undefined;
    /**
     * Cache Storage name for verified files, or false to fetch every time.
     * Default "static-edge-v1"
     */
    cache?: string | false | undefined;
    /**
     * called as each file downloads (or is read from the cache)
     */
    onProgress?: ((event: ProgressEvent) => void) | undefined;
    /**
     * run tokenizing and embedding in a module Web Worker: load() then returns a
     * WorkerEmbedder
     */
    worker?: boolean | undefined;
    /**
     * a fetch implementation (not with `worker`)
     */
    fetch?: typeof fetch | undefined;
    /**
     * engine "ort": the onnxruntime-web module; imported as "onnxruntime-web" when
     * omitted (not with `worker`)
     */
    ort?: unknown;
    /**
     * engine "ort": where onnxruntime-web's .wasm files are served from
     */
    wasmPaths?: string | undefined;
    /**
     * engine "ort": wasm threads (default: up to 4 when the page is cross-origin
     * isolated, else 1)
     */
    numThreads?: number | undefined;
    /**
     * worker: the URL the worker imports the tokenizers package from (default:
     * where the page's import map resolves it)
     */
    tokenizersUrl?: string | undefined;
    /**
     * worker with engine "ort": the URL the worker imports onnxruntime-web from
     * (default: the page's import map)
     */
    ortUrl?: string | undefined;
    /**
     * the tokenizers package's Tokenizer class (static-edge.js passes it)
     */
    Tokenizer?: any;
};
/**
 * An engine runs a bundle's graph on token ids; the lite engine and onnxruntime-web's (ort-engine.js) both
 * keep this contract, so the embedder never asks which one it has.
 */
export type Engine = {
    /**
     * sentence vectors of token-id rows: one
     * Float32Array of idRows.length * dims values
     */
    embed: (idRows: number[][]) => Promise<Float32Array>;
    /**
     * release what the engine holds; it is not used afterwards
     */
    dispose: () => Promise<void>;
};
import { VARIANT_FILES } from "./variants.js";
import { bundleDigest } from "./bundle-files.js";
import { hamming } from "./binary.js";
import { packBinary } from "./binary.js";
import { sha256Hex } from "./bundle-files.js";
declare namespace ENGINES {
    function lite(): Promise<typeof LiteEngine>;
    function ort(): Promise<typeof import("./ort-engine.js").OrtEngine>;
}
import { LiteEngine } from "./lite-engine.js";
export { VARIANT_FILES, bundleDigest, hamming, packBinary, sha256Hex };
