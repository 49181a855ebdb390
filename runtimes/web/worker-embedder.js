// WorkerEmbedder: the StaticEmbedder API with tokenizing and embedding in a module Web Worker, so a
// page stays responsive while a large batch is encoded. Every method returns a Promise.

/** Where the page resolves a bare specifier (its import map), for the worker, which cannot see the map. */
function resolved(specifier) {
  try {
    return import.meta.resolve?.(specifier);
  } catch {
    return undefined; // no import map: a bundler bundles the worker's own import instead
  }
}

export class WorkerEmbedder {
  /**
   * @param {string|URL} baseUrl URL of the bundle folder
   * @param {import("./index").LoadOptions} options as StaticEmbedder.load; `onProgress` is called in the page,
   *   `fetch` and `ort` cannot cross into a worker; `tokenizersUrl` overrides where the worker imports the tokenizer.
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

  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 0;
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

  #call(op, args) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  /** Token ids of each text (Promise). */
  tokenize(texts) {
    return this.#call("tokenize", { texts });
  }

  /** Sentence vectors, one Float32Array per text (views of one transferred buffer). */
  async encode(texts, { batchSize } = {}) {
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

  dispose() {
    this.terminate();
  }
}
