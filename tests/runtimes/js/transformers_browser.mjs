// transformers.js (its browser build, transformers.min.js) in a page: load a static-edge bundle unmodified
// from the same server, local files only, and expose a function the test calls.
// Served next to ./transformers.min.js and onnxruntime-web's wasm files in ./ort/.
import { env, pipeline } from "./transformers.min.js";

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "/"; // bundles are folders at the server's root
env.useBrowserCache = false;
env.backends.onnx.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
env.backends.onnx.wasm.numThreads = 1;

window.embedWithTransformers = async (bundle, dtype, texts, normalize) => {
  const extractor = await pipeline("feature-extraction", bundle, { dtype, device: "wasm" });
  const output = await extractor(texts, { pooling: "mean", normalize });
  return { vectors: output.tolist(), ids: texts.map((t) => extractor.tokenizer.encode(t)) };
};
window.transformersReady = true;
