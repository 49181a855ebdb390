// Fetch a bundle's files, verified: every file's size and sha256 (Web Crypto) must match the manifest
// before it is used, and the manifest itself may be pinned by its digest. Verified files are kept in
// Cache Storage, so a second visit reads them without a network request for them.

export const MANIFEST_FILE = "static_edge.json";
export const DEFAULT_CACHE = "static-edge-v1";

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
export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error("static-edge: Web Crypto is unavailable: serve the page over https or from localhost");
  const digest = new Uint8Array(await subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Manifest keys that `check` and `eval` rewrite after export; the digest leaves them out. */
const DIGEST_EXCLUDED_KEYS = new Set(["parity", "quality"]);

/**
 * JSON with keys sorted at every level and no whitespace (Python: sort_keys, separators (",", ":")).
 * @param {unknown} value
 * @returns {string}
 */
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = /** @type {Record<string, unknown>} */ (value);
    const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The digest that pins a bundle (docs/bundle-format.md, "Pinning"; Python's `bundle_digest`): sha256 of
 * the manifest's canonical JSON without the report keys. It covers the recorded size and sha256 of every
 * file, so it pins every byte a runtime reads.
 * @param {Manifest} manifest the parsed static_edge.json
 * @returns {Promise<string>}
 */
export async function bundleDigest(manifest) {
  const pinned = Object.fromEntries(Object.entries(manifest).filter(([k]) => !DIGEST_EXCLUDED_KEYS.has(k)));
  return sha256Hex(new TextEncoder().encode(canonicalJson(pinned)));
}

/**
 * The named Cache Storage cache, or null where there is none (no name, no Cache Storage, an opaque origin).
 * @param {string|false|undefined} name
 * @returns {Promise<Cache|null>}
 */
async function openCache(name) {
  if (!name || typeof caches === "undefined") return null;
  try {
    return await caches.open(name);
  } catch {
    return null; // e.g. an opaque origin; the bundle is then fetched on every load
  }
}

/**
 * Read a response body into one buffer of exactly `expected` bytes, reporting progress.
 * @param {Response} response
 * @param {string} file
 * @param {number} expected
 * @param {((event: ProgressEvent) => void)|undefined} onProgress
 */
async function readBody(response, file, expected, onProgress) {
  const out = new Uint8Array(expected);
  let loaded = 0;
  if (!response.body) throw new Error(`static-edge: ${file} came without a body`);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > expected) {
      await reader.cancel();
      throw new Error(`static-edge: ${file} is larger than the ${expected} bytes the manifest records: it was replaced`);
    }
    out.set(value, loaded);
    loaded += value.length;
    onProgress?.({ file, loaded, total: expected, cached: false });
  }
  if (loaded !== expected) {
    throw new Error(`static-edge: ${file} is ${loaded} bytes but the manifest records ${expected}: truncated or replaced`);
  }
  return out;
}

/**
 * A manifest `files` path that stays inside the bundle folder.
 * @param {URL} base
 * @param {string} path
 */
function bundleUrl(base, path) {
  if (typeof path !== "string" || !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(path) || path.split("/").includes("..")) {
    throw new Error(`static-edge: the manifest names a file outside the bundle: ${JSON.stringify(path)}`);
  }
  return new URL(path, base);
}

export class BundleFiles {
  /**
   * @param {URL} base the bundle folder's URL (ending in "/")
   * @param {{cache?: string|false, onProgress?: (event: ProgressEvent) => void, fetch?: typeof globalThis.fetch}} options
   */
  constructor(base, { cache = DEFAULT_CACHE, onProgress, fetch: fetchFn } = {}) {
    this.base = base;
    this.cacheName = cache;
    this.onProgress = onProgress;
    this.fetch = fetchFn ?? globalThis.fetch.bind(globalThis);
    /** @type {string[]} files read from Cache Storage */
    this.fromCache = [];
    /** @type {string[]} files fetched */
    this.fromNetwork = [];
    /** @type {string} the bundle digest of the manifest, once read */
    this.digest = "";
    /** @type {Uint8Array|null} the manifest's bytes as fetched (kept once every file is verified) */
    this.manifestBytes = null;
    /** @type {Manifest|null} */
    this.manifestData = null;
  }

  /**
   * Fetch, check against the pin and parse the manifest: from the network (it is small and says whether the
   * bundle changed); offline (the fetch itself fails), the copy kept at the last successful load.
   * @param {string|null} [pin] the bundle digest it must have
   * @returns {Promise<Manifest>}
   */
  async manifest(pin) {
    const url = new URL(MANIFEST_FILE, this.base);
    const cache = await openCache(this.cacheName);
    const key = `${url.href}?static-edge-manifest`;
    let bytes;
    let response = null;
    try {
      response = await this.fetch(url, { cache: "no-cache" });
    } catch (error) {
      const kept = cache && (await cache.match(key));
      if (!kept) throw new Error(`static-edge: could not fetch ${url}: ${error.message}`);
      bytes = new Uint8Array(await kept.arrayBuffer());
      this.fromCache.push(MANIFEST_FILE);
    }
    if (response) {
      if (!response.ok) throw new Error(`static-edge: ${url} answered ${response.status}; is this a static-edge bundle?`);
      bytes = new Uint8Array(await response.arrayBuffer());
      this.fromNetwork.push(MANIFEST_FILE);
      this.manifestBytes = bytes;
    }
    let manifest;
    try {
      manifest = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (error) {
      throw new Error(`static-edge: ${MANIFEST_FILE} is not valid UTF-8 JSON: ${error.message}`);
    }
    if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
      throw new Error(`static-edge: ${MANIFEST_FILE} is not a JSON object; is this a static-edge bundle?`);
    }
    this.digest = await bundleDigest(manifest);
    if (pin !== undefined && pin !== null) {
      const pinned = String(pin).trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(pinned)) {
        throw new Error(`static-edge: sha256 must be the 64 hex digits \`static-edge export\` printed, got ${pin}`);
      }
      if (this.digest !== pinned) {
        throw new Error(`static-edge: the bundle's digest is ${this.digest}, not the pinned ${pinned}: the bundle is not the one you pinned`);
      }
    }
    checkManifest(manifest);
    this.manifestData = manifest;
    return manifest;
  }

  /**
   * The bytes of a file the manifest records, verified; from Cache Storage when a verified copy is there.
   * @param {string} path
   * @returns {Promise<Uint8Array>}
   */
  async bytes(path) {
    if (!this.manifestData) throw new Error("static-edge: read the manifest before its files");
    const entry = this.manifestData.files[path];
    if (!entry) throw new Error(`static-edge: ${MANIFEST_FILE} has no record of ${path}`);
    const url = bundleUrl(this.base, path);
    const expected = Number(entry.bytes);
    const sha = String(entry.sha256).toLowerCase();
    const cache = await openCache(this.cacheName);
    const key = `${url.href}?static-edge-sha256=${sha}`;
    const cached = cache && (await cache.match(key));
    if (cached) {
      const bytes = new Uint8Array(await cached.arrayBuffer());
      if (bytes.length === expected && (await sha256Hex(bytes)) === sha) {
        this.fromCache.push(path);
        this.onProgress?.({ file: path, loaded: expected, total: expected, cached: true });
        return bytes;
      }
      await cache.delete(key); // a damaged cache entry: fetch again
    }
    const response = await this.fetch(url);
    if (!response.ok) throw new Error(`static-edge: ${url} answered ${response.status}`);
    const bytes = await readBody(response, path, expected, this.onProgress);
    if ((await sha256Hex(bytes)) !== sha) {
      throw new Error(`static-edge: ${path} does not match its sha256 in ${MANIFEST_FILE}: the file was modified`);
    }
    this.fromNetwork.push(path);
    if (cache) await storeInCache(cache, url.href, key, bytes);
    return bytes;
  }

  /** Keep the manifest for offline loads, once every file it names has been verified. */
  async keepManifest() {
    const cache = this.manifestBytes && (await openCache(this.cacheName));
    if (!cache) return;
    const url = new URL(MANIFEST_FILE, this.base);
    try {
      await cache.put(`${url.href}?static-edge-manifest`, new Response(/** @type {BodyInit} */ (this.manifestBytes)));
    } catch {
      // quota exceeded or storage disabled: only offline loads are lost
    }
  }

  /**
   * A verified JSON file.
   * @param {string} path
   * @returns {Promise<any>}
   */
  async json(path) {
    const text = new TextDecoder().decode(await this.bytes(path));
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`static-edge: ${path} is not valid JSON: ${error.message}`);
    }
  }
}

/**
 * Keep a verified file in the cache, replacing older versions of it.
 * @param {Cache} cache
 * @param {string} href
 * @param {string} key
 * @param {Uint8Array} bytes
 */
async function storeInCache(cache, href, key, bytes) {
  try {
    for (const old of await cache.keys()) {
      if (old.url.startsWith(`${href}?static-edge-sha256=`) && old.url !== key) await cache.delete(old);
    }
    const headers = { "content-type": "application/octet-stream" };
    await cache.put(key, new Response(/** @type {BodyInit} */ (bytes), { headers }));
  } catch {
    // quota exceeded or storage disabled: the bundle still works, it is only fetched again next time
  }
}

/** @param {unknown} v */
const isCount = (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0;

/**
 * Refuse a manifest whose values this runtime would misuse (the graph cross-check comes later).
 * @param {any} m the parsed JSON
 */
function checkManifest(m) {
  /** @param {string} what */
  const bad = (what) => {
    throw new Error(`static-edge: ${MANIFEST_FILE} has ${what}`);
  };
  if (typeof m.files !== "object" || m.files === null) bad("no files record");
  if (!Number.isInteger(m.format_version) || m.format_version > 1) bad(`an unknown format_version ${m.format_version}`);
  if (!Number.isInteger(m.dims) || m.dims < 1 || m.dims > 65536) bad(`an invalid dims ${m.dims}`);
  if (!Number.isInteger(m.vocab_size) || m.vocab_size < 1) bad(`an invalid vocab_size ${m.vocab_size}`);
  if (typeof m.normalize !== "boolean") bad(`a non-boolean normalize ${m.normalize}`);
  if ((m.pooling ?? "mean") !== "mean") bad(`pooling ${m.pooling}; this runtime knows only "mean"`);
  if (m.special_tokens) bad("special_tokens true; format version 1 adds none");
  if (m.max_length != null && !(Number.isInteger(m.max_length) && m.max_length > 0)) bad(`an invalid max_length ${m.max_length}`);
  for (const key of ["pad_token_id", "unk_token_id"]) {
    if (m[key] != null && !(isCount(m[key]) && m[key] < m.vocab_size)) bad(`${key} ${m[key]} outside the vocabulary`);
  }
  for (const [path, entry] of Object.entries(m.files)) {
    if (!entry || !isCount(entry.bytes) || !/^[0-9a-f]{64}$/i.test(String(entry.sha256))) {
      bad(`no valid size and sha256 for ${path}`);
    }
  }
}
