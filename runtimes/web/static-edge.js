// static-edge browser runtime: load a static-edge bundle over HTTP and encode text in the page.
//
//   import { StaticEmbedder, VectorIndex } from "static-edge-web";
//   const model = await StaticEmbedder.load("https://example.org/my-bundle/", { sha256: PINNED_DIGEST });
//   const [vector] = await model.encode(["hello world"]);
//
// The default "lite" engine needs only @huggingface/tokenizers (imported by its bare specifier, which a
// bundler or the page's import map resolves); engine "ort" runs the graph in onnxruntime-web.

import { Tokenizer } from "@huggingface/tokenizers";
import { StaticEmbedder as CoreEmbedder } from "./embedder.js";

export { VARIANT_FILES, bundleDigest, cosine, hamming, packBinary, sha256Hex } from "./embedder.js";
export { CorpusIndex, VectorIndex, quantizeQuery } from "./vector-index.js";
export { WorkerEmbedder } from "./worker-embedder.js";
// The package's types, for TypeScript users (`import type { LoadOptions } from "static-edge-web"`):
/** @typedef {import("./embedder.js").LoadOptions} LoadOptions */
/** @typedef {import("./variants.js").Variant} Variant */
/** @typedef {import("./bundle-files.js").Manifest} Manifest */
/** @typedef {import("./bundle-files.js").ProgressEvent} ProgressEvent */
/** @typedef {import("./embedder.js").Engine} Engine */
/** @typedef {import("./vector-index.js").SearchHit} SearchHit */

export class StaticEmbedder extends CoreEmbedder {
  /**
   * @overload
   * @param {string|URL} baseUrl
   * @param {import("./embedder.js").LoadOptions & {worker: true}} options
   * @returns {Promise<import("./worker-embedder.js").WorkerEmbedder>}
   */
  /**
   * @overload
   * @param {string|URL} baseUrl
   * @param {import("./embedder.js").LoadOptions} [options]
   * @returns {Promise<CoreEmbedder>}
   */
  /**
   * Load a bundle: fetch and verify its files (from Cache Storage on later visits), build the engine. The
   * tokenizer class is this package's @huggingface/tokenizers import.
   * @param {string|URL} baseUrl URL of the bundle folder
   * @param {import("./embedder.js").LoadOptions} [options]
   * @returns {Promise<CoreEmbedder|import("./worker-embedder.js").WorkerEmbedder>}
   */
  static load(baseUrl, options = {}) {
    return super.load(baseUrl, { Tokenizer, ...options });
  }
}
