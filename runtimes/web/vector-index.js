// Indexes for semantic search in the page. It imports no bare specifier (a Web Worker can import it).
//
// VectorIndex embeds its documents in the page, once, then ranks them for each query: for small corpora.
// CorpusIndex loads a corpus `static-edge web` encoded in Python (int8 vectors, and packed sign bits for large
// corpora), every file checked against its sha256, so the page encodes only queries.

import { hamming, packBinary, packedBytes } from "./binary.js";
import { sha256Hex } from "./bundle-files.js";

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

export const CORPUS_MANIFEST = "corpus-manifest.json";

/**
 * @typedef {object} CorpusFileRecord
 * @property {number} bytes
 * @property {string} sha256 hex
 */

/**
 * @typedef {object} CorpusManifest what `static-edge web` records of a corpus (static_edge.runtimes.web_corpus)
 * @property {number} format_version
 * @property {number} passages
 * @property {number} dims
 * @property {string} variant the bundle variant that encoded the passages
 * @property {string} bundle_digest the digest of the bundle that encoded them
 * @property {"int8"|"binary"} vectors "binary": packed sign bits are ranked first, int8 rescores the best
 * @property {number} int8_scale the normalized vectors are int8 * int8_scale
 * @property {number} rescore a binary search rescores the best k * rescore passages
 * @property {Record<string, CorpusFileRecord>} files
 */

/**
 * @typedef {object} CorpusLoadOptions
 * @property {string} [sha256] hex sha256 the corpus manifest must have (the page's `static-edge-corpus` meta tag)
 * @property {typeof fetch} [fetch]
 * @property {(event: {file: string, loaded: number, total: number}) => void} [onProgress]
 */

/** Round half to even, as numpy's rint. @param {number} x @returns {number} */
function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * A query as CorpusIndex scores it: normalized, then int8 with its own scale (largest |value| -> 127),
 * computed in float64 as static_edge.runtimes.web_corpus.quantize_query does.
 * @param {ArrayLike<number>} vector
 * @returns {{values: Int8Array, scale: number}}
 */
export function quantizeQuery(vector) {
  let norm = 0;
  for (let d = 0; d < vector.length; d++) norm += vector[d] * vector[d];
  const root = Math.sqrt(norm);
  const unit = Float64Array.from(vector, (v) => (norm > 0 ? v / root : 0));
  let peak = 0;
  for (const v of unit) peak = Math.max(peak, Math.abs(v));
  const scale = peak > 0 ? peak / 127 : 1 / 127;
  return { values: Int8Array.from(unit, (v) => Math.max(-127, Math.min(127, rint(v / scale)))), scale };
}

/** Set bits of a 32-bit word. @param {number} x @returns {number} */
function popcount32(x) {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

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
  static async readManifest(baseUrl, { sha256, fetch: fetchFn } = {}) {
    const bytes = await fetchBytes(fetchFn ?? globalThis.fetch.bind(globalThis), new URL(CORPUS_MANIFEST, folder(baseUrl)));
    if (sha256 && (await sha256Hex(bytes)) !== sha256.trim().toLowerCase()) {
      throw new Error(`static-edge: ${CORPUS_MANIFEST} does not match the sha256 the page names: the corpus was modified (run static-edge web again)`);
    }
    return parseCorpusManifest(bytes);
  }

  /**
   * Fetch and verify a corpus: the manifest (as `readManifest`, unless `manifest` is given already checked), then
   * every file it names, each of which must have the recorded size and sha256.
   * @param {string|URL} baseUrl the folder holding corpus-manifest.json
   * @param {CorpusLoadOptions & {manifest?: CorpusManifest}} [options]
   * @returns {Promise<CorpusIndex>}
   */
  static async load(baseUrl, options = {}) {
    const get = options.fetch ?? globalThis.fetch.bind(globalThis);
    const base = folder(baseUrl);
    const manifest = options.manifest ?? (await CorpusIndex.readManifest(base, options));
    const onProgress = options.onProgress;
    const names = Object.keys(manifest.files);
    const loaded = await Promise.all(
      names.map(async (name) => {
        const bytes = await fetchBytes(get, new URL(name, base));
        checkFile(manifest, name, bytes);
        if ((await sha256Hex(bytes)) !== manifest.files[name].sha256.toLowerCase()) {
          throw new Error(`static-edge: ${name} does not match its sha256 in ${CORPUS_MANIFEST}: the file was modified (run static-edge web again)`);
        }
        onProgress?.({ file: name, loaded: bytes.length, total: bytes.length });
        return bytes;
      }),
    );
    const file = Object.fromEntries(names.map((name, i) => [name, loaded[i]]));
    let texts;
    try {
      texts = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file["corpus.json"]));
    } catch (error) {
      throw new Error(`static-edge: corpus.json is not UTF-8 JSON: ${error.message}`);
    }
    if (!Array.isArray(texts) || texts.length !== manifest.passages) {
      throw new Error(`static-edge: corpus.json does not hold the ${manifest.passages} passages ${CORPUS_MANIFEST} records`);
    }
    const int8 = new Int8Array(file["corpus.i8"].buffer, file["corpus.i8"].byteOffset, file["corpus.i8"].length);
    return new CorpusIndex(manifest, texts, int8, file["corpus.ubin"] ?? null);
  }

  /**
   * @param {CorpusManifest} manifest
   * @param {string[]} texts the passages
   * @param {Int8Array} int8 [passages * dims]
   * @param {Uint8Array|null} bits [passages * ceil(dims / 8)], for a binary corpus
   */
  constructor(manifest, texts, int8, bits) {
    /** @type {CorpusManifest} */
    this.manifest = manifest;
    /** @type {string[]} */
    this.texts = texts;
    /** @type {number} */
    this.dims = manifest.dims;
    /** @type {Int8Array} */
    this.int8 = int8;
    /** @type {Uint8Array|null} */
    this.bits = bits;
    /** @type {number} */
    this.scale = manifest.int8_scale;
    /** @type {number} */
    this.rescore = manifest.rescore;
    /** @type {number} bytes per packed row */
    this.width = packedBytes(this.dims);
    /** @type {Uint32Array|null} the packed rows as 32-bit words, when rows are whole words */
    this.words = bits && this.width % 4 === 0 && bits.byteOffset % 4 === 0
      ? new Uint32Array(bits.buffer, bits.byteOffset, bits.length / 4)
      : null;
    /** @type {VectorEncoder|null} encodes queries; set by `attach` */
    this.embedder = null;
    /** @type {Uint16Array|null} each passage's Hamming distance to the current query (binary corpus) */
    this.distances = null;
  }

  /** @returns {number} the number of passages */
  get size() {
    return this.texts.length;
  }

  /**
   * Use `embedder` for queries. It must be the bundle that encoded the corpus (the manifest's bundle digest);
   * another variant of it is allowed (its vectors live in the same space).
   * @param {VectorEncoder & {digest?: string}} embedder
   * @returns {this}
   */
  attach(embedder) {
    if (embedder.dims !== this.dims) {
      throw new Error(`static-edge: the corpus has ${this.dims}-dim vectors but the model makes ${embedder.dims}`);
    }
    if (embedder.digest && embedder.digest !== this.manifest.bundle_digest) {
      throw new Error(
        `static-edge: the corpus was encoded by bundle ${this.manifest.bundle_digest.slice(0, 12)}..., not the loaded ` +
          `${embedder.digest.slice(0, 12)}...: run static-edge web again`,
      );
    }
    this.embedder = embedder;
    return this;
  }

  /**
   * The k best passages for a query, best first (the query is encoded by the attached embedder).
   * @param {string} query
   * @param {number} [k]
   * @returns {Promise<SearchHit[]>}
   */
  async search(query, k = 5) {
    if (!this.embedder) throw new Error("static-edge: attach an embedder before searching");
    const [vector] = await this.embedder.encode([query]);
    return this.searchVector(vector, k);
  }

  /**
   * The k best passages for a float query vector, best first; score estimates the cosine.
   * @param {ArrayLike<number>} vector
   * @param {number} [k]
   * @returns {SearchHit[]}
   */
  searchVector(vector, k = 5) {
    const { values: q, scale: qScale } = quantizeQuery(vector);
    const rows = this.bits ? this.#nearestBits(vector, k * this.rescore) : null;
    const count = rows ? rows.length : this.size;
    const dims = this.dims;
    const data = this.int8;
    const dots = new Int32Array(count);
    for (let c = 0; c < count; c++) {
      const off = (rows ? rows[c] : c) * dims;
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += q[d] * data[off + d];
      dots[c] = dot;
    }
    return bestK(dots, k).map((c) => {
      const index = rows ? rows[c] : c;
      return { index, text: this.texts[index], score: dots[c] * this.scale * qScale };
    });
  }

  /**
   * The m passages nearest to the query's sign bits by Hamming distance (ties by index), in passage order;
   * null when m covers the whole corpus.
   * @param {ArrayLike<number>} vector
   * @param {number} m
   * @returns {Uint32Array|null}
   */
  #nearestBits(vector, m) {
    const n = this.size;
    if (m >= n) return null;
    const code = packBinary([vector]);
    this.distances ??= new Uint16Array(n); // reused: a query allocates nothing in proportion to the corpus
    const distances = this.distances;
    if (this.words) {
      const words = this.words;
      const query = new Uint32Array(code.buffer, 0, code.length / 4);
      const w = query.length;
      for (let r = 0; r < n; r++) {
        let distance = 0;
        const off = r * w;
        for (let i = 0; i < w; i++) distance += popcount32(query[i] ^ words[off + i]);
        distances[r] = distance;
      }
    } else {
      const bits = /** @type {Uint8Array} */ (this.bits);
      for (let r = 0; r < n; r++) distances[r] = hamming(code, bits, this.width, 0, r * this.width);
    }
    const histogram = new Uint32Array(this.dims + 1);
    for (let r = 0; r < n; r++) histogram[distances[r]]++;
    let cutoff = 0;
    let below = 0;
    while (below + histogram[cutoff] < m) below += histogram[cutoff++];
    let atCutoff = m - below; // rows at exactly the cutoff distance still taken, lowest index first
    const out = new Uint32Array(m);
    let taken = 0;
    for (let r = 0; r < n && taken < m; r++) {
      const distance = distances[r];
      if (distance < cutoff) out[taken++] = r;
      else if (distance === cutoff && atCutoff > 0) {
        out[taken++] = r;
        atCutoff--;
      }
    }
    return out;
  }
}

/**
 * Positions of the k highest scores, best first; equal scores in position order. One pass, keeping the k best.
 * @param {ArrayLike<number>} scores
 * @param {number} k
 * @returns {number[]}
 */
function bestK(scores, k) {
  /** @type {number[]} */
  const best = [];
  if (k <= 0) return best;
  for (let i = 0; i < scores.length; i++) {
    const score = scores[i];
    if (best.length === k) {
      if (!(score > scores[best[k - 1]])) continue;
      best.pop();
    }
    let at = best.length;
    while (at > 0 && score > scores[best[at - 1]]) at--;
    best.splice(at, 0, i);
  }
  return best;
}

/**
 * A folder's URL, ending in "/", resolved against the page.
 * @param {string|URL} url
 * @returns {URL}
 */
function folder(url) {
  const out = new URL(url, globalThis.location?.href);
  if (!out.pathname.endsWith("/")) out.pathname += "/";
  return out;
}

/**
 * @param {typeof fetch} get
 * @param {URL} url
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
async function fetchBytes(get, url) {
  const response = await get(url);
  if (!response.ok) throw new Error(`static-edge: ${url} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const isCount = (/** @type {unknown} */ v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0;

/**
 * A parsed, checked corpus manifest.
 * @param {Uint8Array} bytes
 * @returns {CorpusManifest}
 */
function parseCorpusManifest(bytes) {
  let m;
  try {
    m = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new Error(`static-edge: ${CORPUS_MANIFEST} is not UTF-8 JSON: ${error.message}`);
  }
  const bad = (/** @type {string} */ what) => {
    throw new Error(`static-edge: ${CORPUS_MANIFEST} has ${what}`);
  };
  if (m?.format_version !== 1) bad(`an unknown format_version ${m?.format_version}`);
  if (!isCount(m.passages) || !(Number.isInteger(m.dims) && m.dims > 0)) bad("no valid passages and dims");
  if (m.vectors !== "int8" && m.vectors !== "binary") bad(`an unknown vectors kind ${m.vectors}`);
  if (!(m.int8_scale > 0) || !(Number.isInteger(m.rescore) && m.rescore > 0)) bad("no valid int8_scale and rescore");
  const needed = ["corpus.json", "corpus.i8", ...(m.vectors === "binary" ? ["corpus.ubin"] : [])];
  if (typeof m.files !== "object" || m.files === null || Object.keys(m.files).sort().join() !== needed.sort().join()) {
    bad(`files other than ${needed.join(", ")}`);
  }
  for (const [name, entry] of Object.entries(m.files)) {
    if (!entry || !isCount(entry.bytes) || !/^[0-9a-f]{64}$/i.test(String(entry.sha256))) bad(`no valid size and sha256 for ${name}`);
  }
  if (m.files["corpus.i8"].bytes !== m.passages * m.dims) bad("a corpus.i8 size that is not passages x dims");
  if (m.vectors === "binary" && m.files["corpus.ubin"].bytes !== m.passages * packedBytes(m.dims)) {
    bad("a corpus.ubin size that is not passages x ceil(dims / 8)");
  }
  return m;
}

/**
 * @param {CorpusManifest} manifest
 * @param {string} name
 * @param {Uint8Array} bytes
 */
function checkFile(manifest, name, bytes) {
  const expected = manifest.files[name].bytes;
  if (bytes.length !== expected) {
    throw new Error(`static-edge: ${name} is ${bytes.length} bytes but ${CORPUS_MANIFEST} records ${expected}: truncated or replaced`);
  }
}
