// Unit tests of runtimes/web/embedder.js around its engine contract: encode batches token ids through
// engine.embed and returns vectors in input order, whichever engine it holds; dispose releases the engine;
// load refuses an unknown engine or variant, naming the known ones (from variants.js).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { StaticEmbedder } from "../../../runtimes/web/embedder.js";
import { VARIANT_FILES } from "../../../runtimes/web/variants.js";

const DIMS = 2;
const SHA = "0".repeat(64);

/** A tokenizer whose ids are the words' lengths. */
const tokenizer = { encode: (text) => ({ ids: text.split(" ").filter(Boolean).map((w) => w.length) }) };

/** An engine (the contract: embed, dispose) whose vector of a row is [token count, sum of ids]; it records calls. */
function countingEngine() {
  const engine = {
    batches: [],
    disposed: false,
    async embed(idRows) {
      engine.batches.push(idRows.length);
      return Float32Array.from(idRows.flatMap((ids) => [ids.length, ids.reduce((a, b) => a + b, 0)]));
    },
    async dispose() {
      engine.disposed = true;
    },
  };
  return engine;
}

const manifest = (extra = {}) => ({ format_version: 1, dims: DIMS, vocab_size: 100, normalize: false, files: {}, ...extra });

describe("StaticEmbedder with any engine", () => {
  test("encode batches texts through engine.embed and keeps input order", async () => {
    const engine = countingEngine();
    const embedder = new StaticEmbedder(manifest({ max_length: 3 }), tokenizer, engine, "fp32", "lite");
    const texts = ["a bb ccc dddd", "x", "yy zz", "one two", "e"];
    const vectors = await embedder.encode(texts, { batchSize: 2 });
    assert.deepEqual(engine.batches, [2, 2, 1]);
    assert.deepEqual(vectors.map((v) => [...v]), [[3, 6], [1, 1], [2, 4], [2, 6], [1, 1]]); // truncated at max_length
    assert.ok(vectors.every((v) => v instanceof Float32Array && v.length === DIMS));
  });

  test("encodeBinary packs the signs; dispose releases the engine", async () => {
    const engine = countingEngine();
    const embedder = new StaticEmbedder(manifest(), tokenizer, engine, "fp32", "ort");
    assert.deepEqual([...(await embedder.encodeBinary(["ab", ""]))], [0b11000000, 0]);
    await embedder.dispose();
    assert.equal(engine.disposed, true);
  });

  test("tokenize refuses what is not a non-empty array of strings", () => {
    const embedder = new StaticEmbedder(manifest(), tokenizer, countingEngine(), "fp32", "lite");
    assert.throws(() => embedder.tokenize([]), { message: /texts must be a non-empty array of strings/ });
    assert.throws(() => embedder.tokenize(["a", 3]), { message: "static-edge: texts[1] is number, not a string" });
  });
});

describe("StaticEmbedder.load refuses", () => {
  /** A fetch that serves only the manifest. */
  const serving = (data) => async () => new Response(JSON.stringify(data));
  const load = (options, data = manifest()) =>
    StaticEmbedder.load("http://127.0.0.1/bundle/", { Tokenizer: class {}, fetch: serving(data), cache: false, ...options });

  test("an unknown engine", async () => {
    await assert.rejects(load({ engine: "webgpu" }), { message: 'static-edge: unknown engine webgpu; use "lite" or "ort"' });
  });

  test("an unknown variant, naming every variant", async () => {
    const known = Object.keys(VARIANT_FILES).join(",");
    await assert.rejects(load({ variant: "q3" }), { message: `static-edge: unknown variant q3; choose one of ${known}` });
  });

  test("a variant the bundle lacks, naming those it holds", async () => {
    const files = { [VARIANT_FILES.fp32]: { bytes: 1, sha256: SHA }, [VARIANT_FILES.int4]: { bytes: 1, sha256: SHA } };
    await assert.rejects(load({ variant: "int8" }, manifest({ files })), {
      message: "static-edge: this bundle has no int8 variant; it holds fp32, int4",
    });
  });

  test("a missing reference variant when the manifest names no default_variant", async () => {
    const files = { [VARIANT_FILES.int4]: { bytes: 1, sha256: SHA } };
    await assert.rejects(load({}, manifest({ files })), {
      message: "static-edge: this bundle has no fp32 variant; it holds int4",
    });
  });
});
