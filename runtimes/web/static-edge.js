// static-edge browser runtime: load a bundle over HTTP and encode text with onnxruntime-web (wasm)
// and @huggingface/tokenizers. No build step, no framework; both libraries are served locally from
// ./vendor/ (copied from npm by `static-edge web`), never from a CDN.
//
// It tokenizes exactly as the Python runtimes do: no special tokens (the bundle's tokenizer.json has
// no post-processor), truncation at the manifest's max_length, unknown-token masking and
// normalization inside the graph, as the manifest records them.

import * as ort from "./vendor/ort.wasm.min.mjs";
import { Tokenizer } from "./vendor/tokenizers.min.mjs";

const VARIANT_FILES = {
  fp32: "onnx/model.onnx",
  fp16: "onnx/model_fp16.onnx",
  int8: "onnx/model_quantized.onnx",
};

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`static-edge: ${url} answered ${response.status}`);
  return response.json();
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`static-edge: ${url} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Configure onnxruntime-web: wasm files from ./vendor/, one thread unless the page is cross-origin isolated. */
function configureOrt() {
  ort.env.wasm.wasmPaths = new URL("./vendor/", import.meta.url).href;
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

export class StaticEmbedder {
  /**
   * @param {string} baseUrl URL of the bundle folder (ending in "/").
   * @param {{variant?: string}} options variant "fp32", "fp16" or "int8"; the bundle's default when omitted.
   */
  static async load(baseUrl, { variant } = {}) {
    configureOrt();
    const base = new URL(baseUrl, location.href);
    const [manifest, tokenizerJson, tokenizerConfig] = await Promise.all([
      fetchJson(new URL("static_edge.json", base)),
      fetchJson(new URL("tokenizer.json", base)),
      fetchJson(new URL("tokenizer_config.json", base)),
    ]);
    const chosen = variant ?? manifest.default_variant;
    const file = VARIANT_FILES[chosen];
    if (!file || !(file in manifest.files)) {
      throw new Error(`static-edge: this bundle has no ${chosen} variant`);
    }
    const bytes = await fetchBytes(new URL(file, base));
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    return new StaticEmbedder(manifest, new Tokenizer(tokenizerJson, tokenizerConfig), session, chosen);
  }

  constructor(manifest, tokenizer, session, variant) {
    this.manifest = manifest;
    this.tokenizer = tokenizer;
    this.session = session;
    this.variant = variant;
    this.dims = manifest.dims;
  }

  /** Token ids of each text, as the graph receives them. */
  tokenize(texts) {
    const limit = this.manifest.max_length ?? Infinity;
    return texts.map((text) => {
      const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
      return ids.length > limit ? ids.slice(0, limit) : ids;
    });
  }

  /**
   * Sentence vectors, one Float32Array of `dims` values per text, in input order.
   * Texts of like length are batched together so little padding is computed.
   */
  async encode(texts, { batchSize = 256 } = {}) {
    if (!Array.isArray(texts) || texts.length === 0) throw new Error("static-edge: texts must be a non-empty array");
    const ids = this.tokenize(texts);
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
    const out = new Array(texts.length);
    for (let begin = 0; begin < order.length; begin += batchSize) {
      const rows = order.slice(begin, begin + batchSize);
      const vectors = await this.#run(rows.map((i) => ids[i]));
      rows.forEach((row, k) => (out[row] = vectors[k]));
    }
    return out;
  }

  async #run(batch) {
    const width = Math.max(1, ...batch.map((row) => row.length));
    const inputIds = new BigInt64Array(batch.length * width).fill(BigInt(this.manifest.pad_token_id ?? 0));
    const mask = new BigInt64Array(batch.length * width);
    batch.forEach((row, r) => {
      row.forEach((id, c) => {
        inputIds[r * width + c] = BigInt(id);
        mask[r * width + c] = 1n;
      });
    });
    const shape = [batch.length, width];
    const result = await this.session.run(
      { input_ids: new ort.Tensor("int64", inputIds, shape), attention_mask: new ort.Tensor("int64", mask, shape) },
      ["sentence_embedding"],
    );
    const data = result.sentence_embedding.data;
    return batch.map((_, r) => data.slice(r * this.dims, (r + 1) * this.dims));
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

/** A small in-memory index: embed documents once, then rank them by cosine for each query. */
export class VectorIndex {
  constructor(embedder) {
    this.embedder = embedder;
    this.texts = [];
    this.vectors = [];
  }

  async add(texts) {
    const vectors = await this.embedder.encode(texts);
    this.texts.push(...texts);
    this.vectors.push(...vectors);
  }

  /** The k nearest documents: [{index, text, score}], best first. */
  async search(query, k = 5) {
    const [q] = await this.embedder.encode([query]);
    return this.vectors
      .map((v, index) => ({ index, text: this.texts[index], score: cosine(q, v) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }
}
