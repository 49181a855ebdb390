// The onnxruntime-web engine: runs the bundle's ONNX graph itself (wasm, 14 MB). Selected with
// `engine: "ort"`. onnxruntime-web is an optional peer dependency: pass the module as `ort`, or let
// this file import the bare specifier "onnxruntime-web" (a bundler or an import map resolves it).

const ORT_SPECIFIER = "onnxruntime-web";

async function importOrt() {
  try {
    return await import(/* @vite-ignore */ /* webpackIgnore: true */ ORT_SPECIFIER);
  } catch (error) {
    throw new Error(
      `static-edge: engine "ort" needs onnxruntime-web (npm install onnxruntime-web, or an import map entry ` +
        `for "onnxruntime-web"; \`static-edge web BUNDLE --ort\` vendors it): ${error.message}`,
    );
  }
}

/** @typedef {import("./embedder.js").Engine} Engine */

/** @implements {Engine} */
export class OrtEngine {
  /**
   * An onnxruntime-web session over the variant's verified ONNX file.
   * @param {Uint8Array} onnxBytes the verified ONNX file
   * @param {import("./bundle-files.js").Manifest} manifest the parsed static_edge.json
   * @param {import("./variants.js").Variant} _variant the graph carries its own table, whatever the variant
   * @param {{ort?: any, wasmPaths?: string, numThreads?: number}} options
   */
  static async create(onnxBytes, manifest, _variant, { ort, wasmPaths, numThreads } = {}) {
    const runtime = ort ?? (await importOrt());
    if (wasmPaths) runtime.env.wasm.wasmPaths = wasmPaths;
    const isolated = Boolean(globalThis.crossOriginIsolated);
    runtime.env.wasm.numThreads = numThreads ?? (isolated ? Math.min(4, globalThis.navigator?.hardwareConcurrency || 1) : 1);
    const session = await runtime.InferenceSession.create(onnxBytes, { executionProviders: ["wasm"] });
    return new OrtEngine(runtime, session, manifest);
  }

  /**
   * @param {any} ort the onnxruntime-web module
   * @param {any} session its InferenceSession of the bundle's graph
   * @param {import("./bundle-files.js").Manifest} manifest
   */
  constructor(ort, session, manifest) {
    this.ort = ort;
    this.session = session;
    this.dims = manifest.dims;
    this.pad = BigInt(manifest.pad_token_id ?? 0);
    /** @type {number} */
    this.numThreads = ort.env.wasm.numThreads;
  }

  /**
   * Sentence vectors of token-id rows, padded into one batch: Float32Array of idRows.length * dims.
   * @param {number[][]} idRows
   * @returns {Promise<Float32Array>}
   */
  async embed(idRows) {
    const width = Math.max(1, ...idRows.map((row) => row.length));
    const inputIds = new BigInt64Array(idRows.length * width).fill(this.pad);
    const mask = new BigInt64Array(idRows.length * width);
    idRows.forEach((row, r) => {
      row.forEach((id, c) => {
        inputIds[r * width + c] = BigInt(id);
        mask[r * width + c] = 1n;
      });
    });
    const shape = [idRows.length, width];
    const result = await this.session.run(
      {
        input_ids: new this.ort.Tensor("int64", inputIds, shape),
        attention_mask: new this.ort.Tensor("int64", mask, shape),
      },
      ["sentence_embedding"],
    );
    return new Float32Array(result.sentence_embedding.data); // owned by the caller, whatever ort does with its output
  }

  /** Release the onnxruntime-web session. */
  async dispose() {
    await this.session.release?.();
  }
}
