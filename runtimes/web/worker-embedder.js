// WorkerEmbedder: the StaticEmbedder API with tokenizing and embedding in a module Web Worker, so a
// page stays responsive while a large batch is encoded. Every method returns a Promise.

/**
 * Where the page resolves a bare specifier (its import map), for the worker, which cannot see the map.
 * @param {string} specifier
 * @returns {string|undefined}
 */
function resolved(specifier) {
  try {
    return import.meta.resolve?.(specifier);
  } catch {
    return undefined; // no import map: a bundler bundles the worker's own import instead
  }
}

export class WorkerEmbedder {
  /**
   * Start the worker and load the bundle in it.
   * @param {string|URL} baseUrl URL of the bundle folder
   * @param {import("./embedder.js").LoadOptions} [options] as StaticEmbedder.load; `onProgress` is called in the
   *   page, `fetch` and `ort` cannot cross into a worker; `tokenizersUrl` overrides where the worker imports the
   *   tokenizer.
   * @returns {Promise<WorkerEmbedder>}
   */
  static async load(baseUrl, options = {}) {
    const { onProgress, fetch, ort, worker, tokenizersUrl, Tokenizer, ...rest } = options;
    if (fetch || ort) throw new Error("static-edge: the fetch and ort options cannot be passed into a worker");
    const url = new URL(baseUrl, globalThis.location?.href).href;
    const embedder = new WorkerEmbedder(new Worker(new URL("./worker.js", import.meta.url), { type: "module" }));
    embedder.onProgress = onProgress;
    try {
      const info = await embedder.#call("load", {
        baseUrl: url,
        options: rest,
        tokenizersUrl: tokenizersUrl ?? resolved("@huggingface/tokenizers"),
        ortUrl: rest.engine === "ort" ? (rest.ortUrl ?? resolved("onnxruntime-web")) : undefined,
      });
      Object.assign(embedder, info);
    } catch (error) {
      embedder.terminate();
      throw error;
    }
    return embedder;
  }

  /** @param {Worker} worker a module worker running worker.js */
  constructor(worker) {
    this.worker = worker;
    /** @type {Map<number, {resolve: (result: any) => void, reject: (error: Error) => void}>} calls awaiting an answer */
    this.pending = new Map();
    this.nextId = 0;
    /** @type {((event: import("./bundle-files.js").ProgressEvent) => void)|undefined} */
    this.onProgress = undefined;
    // set by load from what the worker's StaticEmbedder reports
    /** @type {import("./bundle-files.js").Manifest} */
    this.manifest;
    /** @type {import("./variants.js").Variant} */
    this.variant;
    /** @type {import("./embedder.js").EngineName} */
    this.engine;
    /** @type {number} */
    this.dims;
    /** @type {string} the bundle digest of the loaded manifest */
    this.digest;
    /** @type {import("./embedder.js").LoadedFrom} which files came from Cache Storage and which from the network */
    this.loadedFrom;
    /** @type {number} milliseconds load() took */
    this.loadMs;
    worker.onmessage = ({ data }) => {
      if (data.progress) return this.onProgress?.(data.progress);
      const call = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (data.error !== undefined) call?.reject(new Error(data.error));
      else call?.resolve(data.result);
    };
    worker.onerror = (event) => {
      const error = new Error(`static-edge: the worker failed: ${event.message ?? "could not load worker.js"}`);
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    };
  }

  /**
   * Send one operation to the worker; resolves to its answer.
   * @param {string} op
   * @param {object} args
   * @returns {Promise<any>}
   */
  #call(op, args) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  /**
   * Token ids of each text.
   * @param {string[]} texts
   * @returns {Promise<number[][]>}
   */
  tokenize(texts) {
    return this.#call("tokenize", { texts });
  }

  /**
   * Sentence vectors, one Float32Array per text (views of one transferred buffer).
   * @param {string[]} texts
   * @param {{batchSize?: number}} [options]
   * @returns {Promise<Float32Array[]>}
   */
  async encode(texts, { batchSize } = {}) {
    /** @type {Float32Array} */
    const flat = await this.#call("encode", { texts, batchSize });
    return Array.from({ length: flat.length / this.dims }, (_, i) => flat.subarray(i * this.dims, (i + 1) * this.dims));
  }

  /** Stop the worker; the embedder cannot be used afterwards. */
  terminate() {
    this.worker.terminate();
    const error = new Error("static-edge: the worker was terminated");
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  /** Stop the worker, as terminate does (the name StaticEmbedder uses). */
  dispose() {
    this.terminate();
  }
}
