/**
 * A query as CorpusIndex scores it: normalized, then int8 with its own scale (largest |value| -> 127),
 * computed in float64 as static_edge.runtimes.web_corpus.quantize_query does.
 * @param {ArrayLike<number>} vector
 * @returns {{values: Int8Array, scale: number}}
 */
export function quantizeQuery(vector: ArrayLike<number>): {
    values: Int8Array;
    scale: number;
};
/**
 * @typedef {object} SearchHit
 * @property {number} index the document's position in the index
 * @property {string} text the document
 * @property {number} score cosine similarity; for a binary index 1 - 2 * distance / dims
 * @property {number} [distance] Hamming distance (binary index only)
 */
/**
 * @typedef {object} VectorEncoder what an index needs of an embedder (StaticEmbedder or WorkerEmbedder)
 * @property {number} dims
 * @property {(texts: string[]) => Promise<Float32Array[]>} encode
 */
/**
 * An in-memory index: embed documents once, then rank them for each query. Float vectors are kept
 * L2-normalized in one Float32Array and ranked by cosine; with `{binary: true}` they are kept as
 * packed bits and ranked by Hamming distance (32x less memory, for large indexes).
 */
export class VectorIndex {
    /**
     * @param {VectorEncoder} embedder encodes the documents and the queries
     * @param {{binary?: boolean}} [options]
     */
    constructor(embedder: VectorEncoder, { binary }?: {
        binary?: boolean;
    });
    /** @type {VectorEncoder} */
    embedder: VectorEncoder;
    /** @type {boolean} */
    binary: boolean;
    /** @type {number} */
    dims: number;
    /** @type {number} values (float) or bytes (binary) per document */
    width: number;
    /** @type {string[]} */
    texts: string[];
    /** @type {Float32Array|Uint8Array} */
    data: Float32Array | Uint8Array;
    /** @returns {number} the number of documents */
    get size(): number;
    /**
     * Embed `texts` and append them to the index.
     * @param {string[]} texts
     * @returns {Promise<void>}
     */
    add(texts: string[]): Promise<void>;
    /**
     * The k nearest documents, best first. Ties keep insertion order.
     * @param {string} query
     * @param {number} [k]
     * @returns {Promise<SearchHit[]>}
     */
    search(query: string, k?: number): Promise<SearchHit[]>;
    #private;
}
export const CORPUS_MANIFEST: "corpus-manifest.json";
/**
 * A corpus encoded by `static-edge web`, searched in the page without encoding it: int8 dot products with the
 * int8 query (exact integers, ties by passage order), or, for a binary corpus, Hamming distance over packed sign
 * bits first and int8 rescoring of the best `k * rescore`. Rankings equal Python's `web_corpus.rank`.
 */
export class CorpusIndex {
    /**
     * Fetch a corpus manifest and check it: its sha256 must be `sha256` when given.
     * @param {string|URL} baseUrl the folder holding corpus-manifest.json
     * @param {CorpusLoadOptions} [options]
     * @returns {Promise<CorpusManifest>}
     */
    static readManifest(baseUrl: string | URL, { sha256, fetch: fetchFn }?: CorpusLoadOptions): Promise<CorpusManifest>;
    /**
     * Fetch and verify a corpus: the manifest (as `readManifest`, unless `manifest` is given already checked), then
     * every file it names, each of which must have the recorded size and sha256.
     * @param {string|URL} baseUrl the folder holding corpus-manifest.json
     * @param {CorpusLoadOptions & {manifest?: CorpusManifest}} [options]
     * @returns {Promise<CorpusIndex>}
     */
    static load(baseUrl: string | URL, options?: CorpusLoadOptions & {
        manifest?: CorpusManifest;
    }): Promise<CorpusIndex>;
    /**
     * @param {CorpusManifest} manifest
     * @param {string[]} texts the passages
     * @param {Int8Array} int8 [passages * dims]
     * @param {Uint8Array|null} bits [passages * ceil(dims / 8)], for a binary corpus
     */
    constructor(manifest: CorpusManifest, texts: string[], int8: Int8Array, bits: Uint8Array | null);
    /** @type {CorpusManifest} */
    manifest: CorpusManifest;
    /** @type {string[]} */
    texts: string[];
    /** @type {number} */
    dims: number;
    /** @type {Int8Array} */
    int8: Int8Array;
    /** @type {Uint8Array|null} */
    bits: Uint8Array | null;
    /** @type {number} */
    scale: number;
    /** @type {number} */
    rescore: number;
    /** @type {number} bytes per packed row */
    width: number;
    /** @type {Uint32Array|null} the packed rows as 32-bit words, when rows are whole words */
    words: Uint32Array | null;
    /** @type {VectorEncoder|null} encodes queries; set by `attach` */
    embedder: VectorEncoder | null;
    /** @type {Uint16Array|null} each passage's Hamming distance to the current query (binary corpus) */
    distances: Uint16Array | null;
    /** @returns {number} the number of passages */
    get size(): number;
    /**
     * Use `embedder` for queries. It must be the bundle that encoded the corpus (the manifest's bundle digest);
     * another variant of it is allowed (its vectors live in the same space).
     * @param {VectorEncoder & {digest?: string}} embedder
     * @returns {this}
     */
    attach(embedder: VectorEncoder & {
        digest?: string;
    }): this;
    /**
     * The k best passages for a query, best first (the query is encoded by the attached embedder).
     * @param {string} query
     * @param {number} [k]
     * @returns {Promise<SearchHit[]>}
     */
    search(query: string, k?: number): Promise<SearchHit[]>;
    /**
     * The k best passages for a float query vector, best first; score estimates the cosine.
     * @param {ArrayLike<number>} vector
     * @param {number} [k]
     * @returns {SearchHit[]}
     */
    searchVector(vector: ArrayLike<number>, k?: number): SearchHit[];
    #private;
}
export type CorpusFileRecord = {
    bytes: number;
    /**
     * hex
     */
    sha256: string;
};
/**
 * what `static-edge web` records of a corpus (static_edge.runtimes.web_corpus)
 */
export type CorpusManifest = {
    format_version: number;
    passages: number;
    dims: number;
    /**
     * the bundle variant that encoded the passages
     */
    variant: string;
    /**
     * the digest of the bundle that encoded them
     */
    bundle_digest: string;
    /**
     * "binary": packed sign bits are ranked first, int8 rescores the best
     */
    vectors: "int8" | "binary";
    /**
     * the normalized vectors are int8 * int8_scale
     */
    int8_scale: number;
    /**
     * a binary search rescores the best k * rescore passages
     */
    rescore: number;
    files: Record<string, CorpusFileRecord>;
};
export type CorpusLoadOptions = {
    /**
     * hex sha256 the corpus manifest must have (the page's `static-edge-corpus` meta tag)
     */
    sha256?: string | undefined;
    fetch?: typeof fetch | undefined;
    onProgress?: ((event: {
        file: string;
        loaded: number;
        total: number;
    }) => void) | undefined;
};
export type SearchHit = {
    /**
     * the document's position in the index
     */
    index: number;
    /**
     * the document
     */
    text: string;
    /**
     * cosine similarity; for a binary index 1 - 2 * distance / dims
     */
    score: number;
    /**
     * Hamming distance (binary index only)
     */
    distance?: number | undefined;
};
/**
 * what an index needs of an embedder (StaticEmbedder or WorkerEmbedder)
 */
export type VectorEncoder = {
    dims: number;
    encode: (texts: string[]) => Promise<Float32Array[]>;
};
