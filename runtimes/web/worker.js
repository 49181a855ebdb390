// The Web Worker side of WorkerEmbedder: loads a StaticEmbedder inside the worker and answers
// {id, op, args} messages with {id, result} or {id, error}. Float vectors travel as one transferred
// Float32Array, so nothing is copied back to the page.

let embedder = null;

/** The tokenizer class. A worker does not see the page's import map, so the page passes the URL its map
 * resolves "@huggingface/tokenizers" to; without one (a bundler), the bare import below is bundled. */
async function tokenizerClass(tokenizersUrl) {
  if (tokenizersUrl) return (await import(/* @vite-ignore */ /* webpackIgnore: true */ tokenizersUrl)).Tokenizer;
  return (await import("@huggingface/tokenizers")).Tokenizer;
}

const operations = {
  async load({ baseUrl, options, tokenizersUrl, ortUrl }) {
    const [Tokenizer, { StaticEmbedder }] = await Promise.all([tokenizerClass(tokenizersUrl), import("./embedder.js")]);
    const ort = ortUrl ? await import(/* @vite-ignore */ /* webpackIgnore: true */ ortUrl) : undefined;
    const onProgress = (event) => self.postMessage({ progress: event });
    embedder = await StaticEmbedder.load(baseUrl, { ...options, worker: false, onProgress, Tokenizer, ort });
    const { manifest, variant, engine, dims, digest, loadedFrom, loadMs } = embedder;
    return { manifest, variant, engine, dims, digest, loadedFrom, loadMs };
  },
  tokenize({ texts }) {
    return embedder.tokenize(texts);
  },
  async encode({ texts, batchSize }) {
    const vectors = await embedder.encode(texts, { batchSize });
    const flat = new Float32Array(vectors.length * embedder.dims);
    vectors.forEach((v, i) => flat.set(v, i * embedder.dims));
    return flat;
  },
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    const result = await operations[op](args);
    self.postMessage({ id, result }, result instanceof Float32Array ? [result.buffer] : []);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
};
