// VectorIndex: an in-memory index for semantic search in the page. Documents are embedded once with the
// page's embedder, then ranked for each query. It imports no bare specifier (a Web Worker can import it).

import { hamming, packBinary, packedBytes } from "./binary.js";

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
  constructor(embedder, { binary = false } = {}) {
    /** @type {VectorEncoder} */
    this.embedder = embedder;
    /** @type {boolean} */
    this.binary = binary;
    /** @type {number} */
    this.dims = embedder.dims;
    /** @type {number} values (float) or bytes (binary) per document */
    this.width = binary ? packedBytes(this.dims) : this.dims;
    /** @type {string[]} */
    this.texts = [];
    /** @type {Float32Array|Uint8Array} */
    this.data = binary ? new Uint8Array(0) : new Float32Array(0);
  }

  /** @returns {number} the number of documents */
  get size() {
    return this.texts.length;
  }

  /**
   * Embed `texts` and append them to the index.
   * @param {string[]} texts
   * @returns {Promise<void>}
   */
  async add(texts) {
    const vectors = await this.embedder.encode(texts);
    const rows = this.binary ? packBinary(vectors) : normalizedRows(vectors, this.dims);
    const grown = new /** @type {any} */ (this.data.constructor)(this.data.length + rows.length);
    grown.set(this.data);
    grown.set(rows, this.data.length);
    this.data = grown;
    this.texts.push(...texts);
  }

  /**
   * The k nearest documents, best first. Ties keep insertion order.
   * @param {string} query
   * @param {number} [k]
   * @returns {Promise<SearchHit[]>}
   */
  async search(query, k = 5) {
    const [vector] = await this.embedder.encode([query]);
    return this.binary ? this.#searchBinary(vector, k) : this.#searchFloat(vector, k);
  }

  /**
   * @param {Float32Array} vector
   * @param {number} k
   * @returns {SearchHit[]}
   */
  #searchFloat(vector, k) {
    const q = normalizedRows([vector], this.dims);
    const dims = this.dims;
    const scores = new Float32Array(this.size);
    for (let r = 0; r < this.size; r++) {
      let dot = 0;
      const off = r * dims;
      for (let d = 0; d < dims; d++) dot += q[d] * this.data[off + d];
      scores[r] = dot;
    }
    return topK(scores, k).map((index) => ({ index, text: this.texts[index], score: scores[index] }));
  }

  /**
   * @param {Float32Array} vector
   * @param {number} k
   * @returns {SearchHit[]}
   */
  #searchBinary(vector, k) {
    const code = packBinary([vector]);
    const distances = new Uint32Array(this.size);
    const data = /** @type {Uint8Array} */ (this.data);
    for (let r = 0; r < this.size; r++) distances[r] = hamming(code, data, this.width, 0, r * this.width);
    const scores = Float32Array.from(distances, (h) => -h);
    return topK(scores, k).map((index) => ({
      index,
      text: this.texts[index],
      distance: distances[index],
      score: 1 - (2 * distances[index]) / this.dims,
    }));
  }
}

/**
 * Rows scaled to unit length (zero rows stay zero), as one Float32Array.
 * @param {ArrayLike<number>[]} vectors
 * @param {number} dims
 * @returns {Float32Array}
 */
function normalizedRows(vectors, dims) {
  const out = new Float32Array(vectors.length * dims);
  vectors.forEach((v, r) => {
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += v[d] * v[d];
    const inverse = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dims; d++) out[r * dims + d] = v[d] * inverse;
  });
  return out;
}

/**
 * Indices of the k highest scores, best first; equal scores in index order.
 * @param {ArrayLike<number>} scores
 * @param {number} k
 * @returns {number[]}
 */
function topK(scores, k) {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, k));
}
