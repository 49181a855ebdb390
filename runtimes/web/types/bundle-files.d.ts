/**
 * The parsed static_edge.json: the keys this runtime reads (docs/bundle-format.md); others are kept.
 * @typedef {object} Manifest
 * @property {number} format_version
 * @property {number} dims
 * @property {number} vocab_size
 * @property {boolean} normalize
 * @property {boolean} [mask_unknown]
 * @property {number|null} [unk_token_id]
 * @property {number|null} [max_length]
 * @property {number} [pad_token_id]
 * @property {string} [default_variant]
 * @property {string} [pooling]
 * @property {boolean} [special_tokens]
 * @property {Record<string, {dtype: string|null, bytes: number, sha256: string}>} files
 */
/**
 * Download progress of one bundle file; `cached` when it was read from Cache Storage.
 * @typedef {object} ProgressEvent
 * @property {string} file
 * @property {number} loaded
 * @property {number} total
 * @property {boolean} cached
 */
/**
 * Hex sha256 of bytes (Web Crypto; the page must be a secure context: https or localhost).
 * @param {BufferSource} bytes
 * @returns {Promise<string>}
 */
export function sha256Hex(bytes: BufferSource): Promise<string>;
/**
 * The digest that pins a bundle (docs/bundle-format.md, "Pinning"; Python's `bundle_digest`): sha256 of
 * the manifest's canonical JSON without the report keys. It covers the recorded size and sha256 of every
 * file, so it pins every byte a runtime reads.
 * @param {Manifest} manifest the parsed static_edge.json
 * @returns {Promise<string>}
 */
export function bundleDigest(manifest: Manifest): Promise<string>;
export const MANIFEST_FILE: "static_edge.json";
export const DEFAULT_CACHE: "static-edge-v1";
export class BundleFiles {
    /**
     * @param {URL} base the bundle folder's URL (ending in "/")
     * @param {{cache?: string|false, onProgress?: (event: ProgressEvent) => void, fetch?: typeof globalThis.fetch}} options
     */
    constructor(base: URL, { cache, onProgress, fetch: fetchFn }?: {
        cache?: string | false;
        onProgress?: (event: ProgressEvent) => void;
        fetch?: typeof globalThis.fetch;
    });
    base: URL;
    cacheName: string | false;
    onProgress: ((event: ProgressEvent) => void) | undefined;
    fetch: typeof fetch;
    /** @type {string[]} files read from Cache Storage */
    fromCache: string[];
    /** @type {string[]} files fetched */
    fromNetwork: string[];
    /** @type {string} the bundle digest of the manifest, once read */
    digest: string;
    /** @type {Uint8Array|null} the manifest's bytes as fetched (kept once every file is verified) */
    manifestBytes: Uint8Array | null;
    /** @type {Manifest|null} */
    manifestData: Manifest | null;
    /**
     * Fetch, check against the pin and parse the manifest: from the network (it is small and says whether the
     * bundle changed); offline (the fetch itself fails), the copy kept at the last successful load.
     * @param {string|null} [pin] the bundle digest it must have
     * @returns {Promise<Manifest>}
     */
    manifest(pin?: string | null): Promise<Manifest>;
    /**
     * The bytes of a file the manifest records, verified; from Cache Storage when a verified copy is there.
     * @param {string} path
     * @returns {Promise<Uint8Array>}
     */
    bytes(path: string): Promise<Uint8Array>;
    /** Keep the manifest for offline loads, once every file it names has been verified. */
    keepManifest(): Promise<void>;
    /**
     * A verified JSON file.
     * @param {string} path
     * @returns {Promise<any>}
     */
    json(path: string): Promise<any>;
}
/**
 * The parsed static_edge.json: the keys this runtime reads (docs/bundle-format.md); others are kept.
 */
export type Manifest = {
    format_version: number;
    dims: number;
    vocab_size: number;
    normalize: boolean;
    mask_unknown?: boolean | undefined;
    unk_token_id?: number | null | undefined;
    max_length?: number | null | undefined;
    pad_token_id?: number | undefined;
    default_variant?: string | undefined;
    pooling?: string | undefined;
    special_tokens?: boolean | undefined;
    files: Record<string, {
        dtype: string | null;
        bytes: number;
        sha256: string;
    }>;
};
/**
 * Download progress of one bundle file; `cached` when it was read from Cache Storage.
 */
export type ProgressEvent = {
    file: string;
    loaded: number;
    total: number;
    cached: boolean;
};
