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

export class OrtEngine {
  /**
   * @param {Uint8Array} onnxBytes the verified ONNX file
   * @param {object} manifest the parsed static_edge.json
   * @param {{ort?: object, wasmPaths?: string, numThreads?: number}} options
   */
  static async create(onnxBytes, manifest, { ort, wasmPaths, numThreads } = {}) {
    const runtime = ort ?? (await importOrt());
    if (wasmPaths) runtime.env.wasm.wasmPaths = wasmPaths;
    const isolated = Boolean(globalThis.crossOriginIsolated);
    runtime.env.wasm.numThreads = numThreads ?? (isolated ? Math.min(4, globalThis.navigator?.hardwareConcurrency || 1) : 1);
    const session = await runtime.InferenceSession.create(onnxBytes, { executionProviders: ["wasm"] });
    return new OrtEngine(runtime, session, manifest);
  }

  constructor(ort, session, manifest) {
    this.ort = ort;
    this.session = session;
    this.dims = manifest.dims;
    this.pad = BigInt(manifest.pad_token_id ?? 0);
    this.numThreads = ort.env.wasm.numThreads;
  }

  /** Sentence vectors of token-id rows, padded into one batch: Float32Array of rows.length * dims. */
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
    return result.sentence_embedding.data;
  }
}
