// The engine-independent half of the browser runtime (static-edge.js adds the tokenizer import).
// It imports no bare specifier, so a Web Worker (which does not see the page's import map) can
// import it and hand it the tokenizer class itself.
//
// The default "lite" engine reads the embedding table out of the bundle's own ONNX file and does the
// gather and masked mean in JavaScript: its only dependency is @huggingface/tokenizers (37 KB).
// engine "ort" runs the same graph in onnxruntime-web instead (an optional peer dependency).
// Imports are bare specifiers, resolved by a bundler or by the page's import map; no CDN, no paths
// into a vendor folder.
//
// It tokenizes exactly as the Python runtimes do: no special tokens (the bundle's tokenizer.json has
// no post-processor), truncation at the manifest's max_length, unknown-token masking and
// normalization as the graph does them. Every file is checked against the manifest's sha256 first.

import { hamming, packBinary } from "./binary.js";
import { BundleFiles, bundleDigest, sha256Hex } from "./bundle-files.js";
import { LiteEngine } from "./lite-engine.js";
import { REFERENCE, VARIANT_FILES } from "./variants.js";

export { VARIANT_FILES, bundleDigest, hamming, packBinary, sha256Hex };
export { VectorIndex } from "./vector-index.js";

/**
 * An engine runs a bundle's graph on token ids; the lite engine and onnxruntime-web's (ort-engine.js) both
 * keep this contract, so the embedder never asks which one it has.
 * @typedef {object} Engine
 * @property {(idRows: number[][]) => Promise<Float32Array>} embed sentence vectors of token-id rows: one
 *   Float32Array of idRows.length * dims values
 * @property {() => Promise<void>} dispose release what the engine holds; it is not used afterwards
 */

/**
 * The engines by name, each keeping the Engine contract: "lite" (the default) ships with the
 * runtime; "ort" imports onnxruntime-web, an optional peer dependency, only when chosen.
 */
const ENGINES = {
  lite: async () => LiteEngine,
  ort: async () => (await import("./ort-engine.js")).OrtEngine,
};

/**
 * @typedef {keyof typeof ENGINES} EngineName
 * @typedef {import("./variants.js").Variant} Variant
 * @typedef {import("./bundle-files.js").Manifest} Manifest
 * @typedef {import("./bundle-files.js").ProgressEvent} ProgressEvent
 * @typedef {{cache: string[], network: string[]}} LoadedFrom the files read from Cache Storage and from the network
 */

/**
 * @typedef {object} LoadOptions
 * @property {Variant} [variant] which table to load; the bundle's `default_variant` when omitted
 * @property {EngineName} [engine] "lite" (default): the table read from the ONNX file, gather + mean in
 *   JavaScript. "ort": onnxruntime-web runs the graph (an optional peer dependency)
 * @property {string} [sha256] pin the bundle: its digest (`static-edge export` prints it; Python
 *   `bundle_digest`). Any other is refused
 * @property {string|false} [cache] Cache Storage name for verified files, or false to fetch every time.
 *   Default "static-edge-v1"
 * @property {(event: ProgressEvent) => void} [onProgress] called as each file downloads (or is read from the cache)
 * @property {boolean} [worker] run tokenizing and embedding in a module Web Worker: load() then returns a
 *   WorkerEmbedder
 * @property {typeof globalThis.fetch} [fetch] a fetch implementation (not with `worker`)
 * @property {unknown} [ort] engine "ort": the onnxruntime-web module; imported as "onnxruntime-web" when
 *   omitted (not with `worker`)
 * @property {string} [wasmPaths] engine "ort": where onnxruntime-web's .wasm files are served from
 * @property {number} [numThreads] engine "ort": wasm threads (default: up to 4 when the page is cross-origin
 *   isolated, else 1)
 * @property {string} [tokenizersUrl] worker: the URL the worker imports the tokenizers package from (default:
 *   where the page's import map resolves it)
 * @property {string} [ortUrl] worker with engine "ort": the URL the worker imports onnxruntime-web from
 *   (default: the page's import map)
 * @property {any} [Tokenizer] the tokenizers package's Tokenizer class (static-edge.js passes it)
 */

/**
 * The bundle folder's URL, ending in "/", resolved against the page.
 * @param {string|URL} baseUrl
 */
function folderUrl(baseUrl) {
  const url = new URL(baseUrl, globalThis.location?.href);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** @param {unknown} texts */
function checkTexts(texts) {
  if (!Array.isArray(texts) || texts.length === 0) throw new Error("static-edge: texts must be a non-empty array of strings");
  texts.forEach((text, i) => {
    if (typeof text !== "string") throw new Error(`static-edge: texts[${i}] is ${typeof text}, not a string`);
  });
}

/**
 * The variant to load: the one asked for, else the manifest's default; refused when unknown or not in the bundle.
 * @param {Manifest} manifest
 * @param {string} [asked]
 * @returns {Variant}
 */
function chooseVariant(manifest, asked) {
  const chosen = asked ?? manifest.default_variant ?? REFERENCE.name;
  if (!Object.hasOwn(VARIANT_FILES, chosen)) {
    throw new Error(`static-edge: unknown variant ${chosen}; choose one of ${Object.keys(VARIANT_FILES)}`);
  }
  const variant = /** @type {Variant} */ (chosen);
  if (!(VARIANT_FILES[variant] in manifest.files)) {
    const held = Object.entries(VARIANT_FILES).filter(([, file]) => file in manifest.files);
    throw new Error(`static-edge: this bundle has no ${chosen} variant; it holds ${held.map(([v]) => v).join(", ")}`);
  }
  return variant;
}

export class StaticEmbedder {
  /**
   * @overload
   * @param {string|URL} baseUrl
   * @param {LoadOptions & {worker: true}} options
   * @returns {Promise<import("./worker-embedder.js").WorkerEmbedder>}
   */
  /**
   * @overload
   * @param {string|URL} baseUrl
   * @param {LoadOptions} [options]
   * @returns {Promise<StaticEmbedder>}
   */
  /**
   * Load a bundle: fetch and verify its files (sha256 of every file against the manifest, Web Crypto; from
   * Cache Storage on later visits), build the engine. With `worker: true`, a WorkerEmbedder.
   * @param {string|URL} baseUrl URL of the bundle folder
   * @param {LoadOptions} [options]
   * @returns {Promise<StaticEmbedder|import("./worker-embedder.js").WorkerEmbedder>}
   */
  static async load(baseUrl, options = {}) {
    if (options.worker) {
      const { WorkerEmbedder } = await import("./worker-embedder.js");
      return WorkerEmbedder.load(baseUrl, options);
    }
    const { variant, engine = "lite", sha256, cache, onProgress, fetch, Tokenizer } = options;
    if (!Tokenizer) throw new Error("static-edge: load needs the Tokenizer class of @huggingface/tokenizers");
    if (!Object.hasOwn(ENGINES, engine)) {
      throw new Error(`static-edge: unknown engine ${engine}; use ${Object.keys(ENGINES).map((e) => `"${e}"`).join(" or ")}`);
    }
    const started = performance.now();
    const files = new BundleFiles(folderUrl(baseUrl), { cache, onProgress, fetch });
    const manifest = await files.manifest(sha256);
    const chosen = chooseVariant(manifest, variant);
    // the tokenizer is built while the model file is still being fetched or hashed
    const tokenizer = Promise.all([files.json("tokenizer.json"), files.json("tokenizer_config.json")]).then(
      ([json, config]) => new Tokenizer(json, config),
    );
    const [builtTokenizer, modelBytes] = await Promise.all([tokenizer, files.bytes(VARIANT_FILES[chosen])]);
    const Engine = await ENGINES[engine]();
    const model = await Engine.create(modelBytes, manifest, chosen, options);
    await files.keepManifest();
    const embedder = new this(manifest, builtTokenizer, model, chosen, engine);
    embedder.digest = files.digest;
    embedder.loadedFrom = { cache: files.fromCache, network: files.fromNetwork };
    embedder.loadMs = performance.now() - started;
    return embedder;
  }

  /**
   * @param {Manifest} manifest the parsed static_edge.json
   * @param {any} tokenizer a @huggingface/tokenizers Tokenizer of the bundle's tokenizer.json
   * @param {Engine} model the engine that embeds token ids
   * @param {Variant} variant
   * @param {EngineName} engine
   */
  constructor(manifest, tokenizer, model, variant, engine) {
    this.manifest = manifest;
    this.tokenizer = tokenizer;
    this.model = model;
    this.variant = variant;
    this.engine = engine;
    /** @type {number} */
    this.dims = manifest.dims;
    /** @type {string} the bundle digest of the loaded manifest */
    this.digest = "";
    /** @type {LoadedFrom} which files came from Cache Storage and which from the network */
    this.loadedFrom = { cache: [], network: [] };
    /** @type {number} milliseconds load() took */
    this.loadMs = 0;
  }

  /**
   * Token ids of each text, as the graph receives them (no special tokens, truncated at max_length; unknown
   * tokens included: the engine masks them).
   * @param {string[]} texts
   * @returns {number[][]}
   */
  tokenize(texts) {
    checkTexts(texts);
    const limit = this.manifest.max_length ?? Infinity;
    return texts.map((text) => {
      /** @type {number[]} */
      const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
      return ids.length > limit ? ids.slice(0, limit) : ids;
    });
  }

  /**
   * Sentence vectors, one Float32Array of `dims` values per text, in input order.
   * @param {string[]} texts
   * @param {{batchSize?: number}} [options] texts of like length are embedded together, `batchSize` at a time
   *   (the "ort" engine pads each batch to its longest text)
   * @returns {Promise<Float32Array[]>}
   */
  async encode(texts, { batchSize = 256 } = {}) {
    const ids = this.tokenize(texts);
    const dims = this.dims;
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
    /** @type {Float32Array[]} */
    const out = new Array(texts.length);
    for (let begin = 0; begin < order.length; begin += batchSize) {
      const rows = order.slice(begin, begin + batchSize);
      const flat = await this.model.embed(rows.map((i) => ids[i]));
      rows.forEach((row, k) => (out[row] = flat.subarray(k * dims, (k + 1) * dims)));
    }
    return out;
  }

  /**
   * Packed binary vectors (`ubinary`): texts.length * ceil(dims / 8) bytes, first dimension in the top bit.
   * @param {string[]} texts
   * @returns {Promise<Uint8Array>}
   */
  async encodeBinary(texts) {
    return packBinary(await this.encode(texts));
  }

  /** Release the engine (the onnxruntime-web session of engine "ort"); the embedder is not used afterwards. */
  async dispose() {
    await this.model.dispose();
  }
}

/**
 * Cosine similarity of two vectors; 0 when either is all zeros.
 * @param {ArrayLike<number>} a
 * @param {ArrayLike<number>} b
 */
export function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
