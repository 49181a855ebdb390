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
import { BundleFiles, VARIANT_FILES, bundleDigest, sha256Hex } from "./bundle-files.js";
import { LiteEngine } from "./lite-engine.js";

export { VARIANT_FILES, bundleDigest, hamming, packBinary, sha256Hex };
export { VectorIndex } from "./vector-index.js";

/** The bundle folder's URL, ending in "/", resolved against the page. */
function folderUrl(baseUrl) {
  const url = new URL(baseUrl, globalThis.location?.href);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

function checkTexts(texts) {
  if (!Array.isArray(texts) || texts.length === 0) throw new Error("static-edge: texts must be a non-empty array of strings");
  texts.forEach((text, i) => {
    if (typeof text !== "string") throw new Error(`static-edge: texts[${i}] is ${typeof text}, not a string`);
  });
}

export class StaticEmbedder {
  /**
   * Load a bundle: fetch and verify its files (Cache Storage on later visits), build the engine.
   * @param {string|URL} baseUrl URL of the bundle folder
   * @param {import("./index").LoadOptions} options
   * @returns {Promise<StaticEmbedder|import("./worker-embedder.js").WorkerEmbedder>}
   */
  static async load(baseUrl, options = {}) {
    if (options.worker) {
      const { WorkerEmbedder } = await import("./worker-embedder.js");
      return WorkerEmbedder.load(baseUrl, options);
    }
    const { variant, engine = "lite", sha256, cache, onProgress, fetch, Tokenizer } = options;
    if (!Tokenizer) throw new Error("static-edge: load needs the Tokenizer class of @huggingface/tokenizers");
    if (engine !== "lite" && engine !== "ort") throw new Error(`static-edge: unknown engine ${engine}; use "lite" or "ort"`);
    const started = performance.now();
    const files = new BundleFiles(folderUrl(baseUrl), { cache, onProgress, fetch });
    const manifest = await files.manifest(sha256);
    const chosen = variant ?? manifest.default_variant;
    const file = VARIANT_FILES[chosen];
    if (!file) throw new Error(`static-edge: unknown variant ${chosen}; choose one of ${Object.keys(VARIANT_FILES)}`);
    if (!(file in manifest.files)) {
      const held = Object.keys(VARIANT_FILES).filter((v) => VARIANT_FILES[v] in manifest.files);
      throw new Error(`static-edge: this bundle has no ${chosen} variant; it holds ${held.join(", ")}`);
    }
    // the tokenizer is built while the model file is still being fetched or hashed
    const tokenizer = Promise.all([files.json("tokenizer.json"), files.json("tokenizer_config.json")]).then(
      ([json, config]) => new Tokenizer(json, config),
    );
    const [builtTokenizer, modelBytes] = await Promise.all([tokenizer, files.bytes(file)]);
    let model;
    if (engine === "lite") {
      model = new LiteEngine(modelBytes, manifest, chosen);
    } else {
      const { OrtEngine } = await import("./ort-engine.js");
      model = await OrtEngine.create(modelBytes, manifest, options);
    }
    await files.keepManifest();
    const embedder = new this(manifest, builtTokenizer, model, chosen, engine);
    embedder.digest = files.digest;
    embedder.loadedFrom = { cache: files.fromCache, network: files.fromNetwork };
    embedder.loadMs = performance.now() - started;
    return embedder;
  }

  constructor(manifest, tokenizer, model, variant, engine) {
    this.manifest = manifest;
    this.tokenizer = tokenizer;
    this.model = model;
    this.variant = variant;
    this.engine = engine;
    this.dims = manifest.dims;
  }

  /** Token ids of each text, as the graph receives them (unknown tokens included; they are masked later). */
  tokenize(texts) {
    checkTexts(texts);
    const limit = this.manifest.max_length ?? Infinity;
    return texts.map((text) => {
      const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
      return ids.length > limit ? ids.slice(0, limit) : ids;
    });
  }

  /**
   * Sentence vectors, one Float32Array of `dims` values per text, in input order.
   * @param {string[]} texts
   * @param {{batchSize?: number}} options texts of like length are batched together (engine "ort")
   */
  async encode(texts, { batchSize = 256 } = {}) {
    const ids = this.tokenize(texts);
    const dims = this.dims;
    if (this.engine === "lite") {
      const flat = this.model.embed(ids);
      return ids.map((_, i) => flat.subarray(i * dims, (i + 1) * dims));
    }
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
    const out = new Array(texts.length);
    for (let begin = 0; begin < order.length; begin += batchSize) {
      const rows = order.slice(begin, begin + batchSize);
      const flat = await this.model.embed(rows.map((i) => ids[i]));
      rows.forEach((row, k) => (out[row] = flat.slice(k * dims, (k + 1) * dims)));
    }
    return out;
  }

  /** Packed binary vectors (`ubinary`): Uint8Array of texts.length * ceil(dims / 8) bytes. */
  async encodeBinary(texts) {
    return packBinary(await this.encode(texts));
  }

  /** Nothing to free for the lite engine; releases the onnxruntime-web session for "ort". */
  async dispose() {
    await this.model.session?.release?.();
  }
}

/** Cosine similarity of two vectors; 0 when either is all zeros. */
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
