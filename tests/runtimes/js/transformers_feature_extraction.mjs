// Load a static-edge bundle, unmodified, in transformers.js's feature-extraction pipeline (Node).
// usage: node transformers_feature_extraction.mjs NODE_MODULES BUNDLE_DIR DTYPE TEXTS_JSON NORMALIZE
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, bundle, dtype, textsFile, normalize] = process.argv.slice(2);
const entry = path.join(nodeModules, "@huggingface/transformers/dist/transformers.node.mjs");
const { pipeline, env } = await import(pathToFileURL(entry).href);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(bundle)) + path.sep;
const extractor = await pipeline("feature-extraction", path.basename(bundle), { dtype });
const texts = JSON.parse(readFileSync(textsFile, "utf8"));
const output = await extractor(texts, { pooling: "mean", normalize: normalize === "true" });
const tokens = texts.map((t) => extractor.tokenizer.encode(t));
process.stdout.write(JSON.stringify({ vectors: output.tolist(), ids: tokens }));
