export { WorkerEmbedder } from "./worker-embedder.js";
/** @typedef {import("./embedder.js").LoadOptions} LoadOptions */
/** @typedef {import("./variants.js").Variant} Variant */
/** @typedef {import("./bundle-files.js").Manifest} Manifest */
/** @typedef {import("./bundle-files.js").ProgressEvent} ProgressEvent */
/** @typedef {import("./embedder.js").Engine} Engine */
/** @typedef {import("./vector-index.js").SearchHit} SearchHit */
export class StaticEmbedder extends CoreEmbedder {
}
export type LoadOptions = import("./embedder.js").LoadOptions;
export type Variant = import("./variants.js").Variant;
export type Manifest = import("./bundle-files.js").Manifest;
export type ProgressEvent = import("./bundle-files.js").ProgressEvent;
export type Engine = import("./embedder.js").Engine;
export type SearchHit = import("./vector-index.js").SearchHit;
import { StaticEmbedder as CoreEmbedder } from "./embedder.js";
export { VARIANT_FILES, bundleDigest, cosine, hamming, packBinary, sha256Hex } from "./embedder.js";
export { CorpusIndex, VectorIndex, quantizeQuery } from "./vector-index.js";
