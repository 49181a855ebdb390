// Both engines behind the one Engine contract, on a real bundle file: prints the lite engine's and
// onnxruntime-web's (Node build) vectors of the same token ids, and whether dispose released each.
// usage: node engines-agree.mjs BUNDLE_DIR VARIANT IDS_JSON
import { readFileSync } from "node:fs";
import path from "node:path";

import { LiteEngine } from "../../../runtimes/web/lite-engine.js";
import { OrtEngine } from "../../../runtimes/web/ort-engine.js";
import { VARIANT_FILES } from "../../../runtimes/web/variants.js";

const [bundle, variant, idsJson] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(path.join(bundle, "static_edge.json"), "utf8"));
const bytes = new Uint8Array(readFileSync(path.join(bundle, VARIANT_FILES[variant])));
const ids = JSON.parse(idsJson);
const out = {};
for (const Engine of [LiteEngine, OrtEngine]) {
  const engine = await Engine.create(bytes, manifest, variant, {});
  const flat = await engine.embed(ids);
  await engine.dispose();
  out[Engine.name] = { isFloat32Array: flat instanceof Float32Array, vectors: Array.from(flat) };
}
process.stdout.write(JSON.stringify(out));
