// The search page of `static-edge web`: loads the bundle one folder up, indexes corpus.json and ranks it
// as you type. URL options: ?variant=int8, ?engine=ort (onnxruntime-web instead of the lite engine),
// ?worker=1 (encode in a Web Worker), ?sha256=DIGEST (pin the bundle), ?threads=N (engine ort).

const status = document.getElementById("status");
const input = document.getElementById("query");
const timing = document.getElementById("timing");
const results = document.getElementById("results");
const params = new URLSearchParams(location.search);
const state = { ready: false, queries: [], progress: {} };
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
  status.textContent = `loading ${file}: ${((100 * loaded) / total).toFixed(0)}%${cached ? " (cached)" : ""}`;
}

try {
  // imported here, not statically, so a failure (say, a blocked import map) shows in the page
  const { StaticEmbedder, VectorIndex } = await import("./static-edge.js");
  const loadStart = performance.now();
  const model = await StaticEmbedder.load("../", {
    variant: params.get("variant") ?? undefined,
    engine: params.get("engine") ?? "lite",
    worker: params.get("worker") === "1",
    sha256: params.get("sha256") ?? undefined,
    numThreads: params.has("threads") ? Number(params.get("threads")) : undefined,
    onProgress,
  });
  state.modelLoadMs = performance.now() - loadStart;
  state.modelLoadedAt = performance.now(); // since navigation start
  const corpus = await (await fetch("./corpus.json")).json();
  const index = new VectorIndex(model, { binary: params.get("binary") === "1" });
  await index.add(corpus);
  Object.assign(state, { model, index, search, loadMs: performance.now() - loadStart, readyAt: performance.now() });
  status.textContent =
    `${model.variant} model (${model.engine} engine), ${model.dims} dims, ${corpus.length} sentences indexed in ` +
    `${state.loadMs.toFixed(0)} ms`;
  input.disabled = false;
  input.addEventListener("input", () => input.value.trim() && search(input.value));
  state.ready = true;
} catch (error) {
  status.textContent = `could not load the model: ${error.message}`;
  status.className = "error"; // shown in the page, not only in the console
  state.error = String(error?.message ?? error);
}
