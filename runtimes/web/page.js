// The search page of `static-edge web`: loads the bundle one folder up and the corpus `static-edge web` encoded
// (corpus-manifest.json and the files it names, each checked against its sha256; the manifest's own sha256 is in
// the page's static-edge-corpus meta tag), then ranks the corpus as you type. Only queries are encoded here.
// URL options: ?variant=int8 (default: the variant that encoded the corpus), ?engine=ort (onnxruntime-web instead
// of the lite engine), ?worker=1 (encode in a Web Worker), ?sha256=DIGEST (pin the bundle), ?threads=N (engine ort).

const status = document.getElementById("status");
const input = document.getElementById("query");
const timing = document.getElementById("timing");
const results = document.getElementById("results");
const params = new URLSearchParams(location.search);
/** What the page exposes to scripts and tests: `encodedTexts` counts the texts encoded in the page (queries). */
const state = { ready: false, queries: [], progress: {}, encodedTexts: 0 };
window.staticEdge = state;

async function search(query) {
  const start = performance.now();
  const hits = await state.index.search(query, 10);
  const ms = performance.now() - start;
  state.queries.push(ms);
  results.replaceChildren(
    ...hits.map((hit) => {
      const li = document.createElement("li");
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = hit.score.toFixed(3);
      li.append(score, hit.text);
      return li;
    }),
  );
  timing.textContent = `${ms.toFixed(2)} ms for this query (${state.queries.length} so far)`;
  return hits;
}

function onProgress({ file, loaded, total, cached }) {
  state.progress[file] = { loaded, total, cached };
  if (state.error) return; // the other half of the load failed: its error stays shown
  status.textContent = `loading ${file}: ${((100 * loaded) / total).toFixed(0)}%${cached ? " (cached)" : ""}`;
}

try {
  // imported here, not statically, so a failure (say, a blocked import map) shows in the page
  const { StaticEmbedder, CorpusIndex } = await import("./static-edge.js");
  const loadStart = performance.now();
  const corpusSha256 = document.querySelector('meta[name="static-edge-corpus"]')?.getAttribute("content");
  if (!corpusSha256) throw new Error("static-edge: this page names no corpus: write it with static-edge web");
  const corpusManifest = await CorpusIndex.readManifest("./", { sha256: corpusSha256 });
  const [model, index] = await Promise.all([
    StaticEmbedder.load("../", {
      variant: params.get("variant") ?? corpusManifest.variant,
      engine: params.get("engine") ?? "lite",
      worker: params.get("worker") === "1",
      sha256: params.get("sha256") ?? undefined,
      numThreads: params.has("threads") ? Number(params.get("threads")) : undefined,
      onProgress,
    }).then((loaded) => {
      state.modelLoadMs = performance.now() - loadStart;
      state.modelLoadedAt = performance.now(); // since navigation start
      return loaded;
    }),
    CorpusIndex.load("./", { manifest: corpusManifest, onProgress }).then((loaded) => {
      state.corpusLoadMs = performance.now() - loadStart;
      return loaded;
    }),
  ]);
  const encode = model.encode.bind(model);
  model.encode = (texts, options) => {
    state.encodedTexts += texts.length;
    return encode(texts, options);
  };
  index.attach(model);
  Object.assign(state, { model, index, search, loadMs: performance.now() - loadStart, readyAt: performance.now() });
  const kind = index.bits ? "sign bits + int8 rescoring" : "int8";
  status.textContent =
    `${model.variant} model (${model.engine} engine), ${model.dims} dims; ${index.size.toLocaleString("en")} sentences ` +
    `indexed (${kind} vectors from static-edge web) in ${state.loadMs.toFixed(0)} ms`;
  input.disabled = false;
  input.addEventListener("input", () => input.value.trim() && search(input.value));
  state.ready = true;
} catch (error) {
  status.textContent = `could not load the model: ${error.message}`;
  status.className = "error"; // shown in the page, not only in the console
  state.error = String(error?.message ?? error);
}
