export class WorkerEmbedder {
    /**
     * Start the worker and load the bundle in it.
     * @param {string|URL} baseUrl URL of the bundle folder
     * @param {import("./embedder.js").LoadOptions} [options] as StaticEmbedder.load; `onProgress` is called in the
     *   page, `fetch` and `ort` cannot cross into a worker; `tokenizersUrl` overrides where the worker imports the
     *   tokenizer.
     * @returns {Promise<WorkerEmbedder>}
     */
    static load(baseUrl: string | URL, options?: import("./embedder.js").LoadOptions): Promise<WorkerEmbedder>;
    /** @param {Worker} worker a module worker running worker.js */
    constructor(worker: Worker);
    worker: Worker;
    /** @type {Map<number, {resolve: (result: any) => void, reject: (error: Error) => void}>} calls awaiting an answer */
    pending: Map<number, {
        resolve: (result: any) => void;
        reject: (error: Error) => void;
    }>;
    nextId: number;
    /** @type {((event: import("./bundle-files.js").ProgressEvent) => void)|undefined} */
    onProgress: ((event: import("./bundle-files.js").ProgressEvent) => void) | undefined;
    /** @type {import("./bundle-files.js").Manifest} */
    manifest: import("./bundle-files.js").Manifest;
    /** @type {import("./variants.js").Variant} */
    variant: import("./variants.js").Variant;
    /** @type {import("./embedder.js").EngineName} */
    engine: import("./embedder.js").EngineName;
    /** @type {number} */
    dims: number;
    /** @type {string} the bundle digest of the loaded manifest */
    digest: string;
    /** @type {import("./embedder.js").LoadedFrom} which files came from Cache Storage and which from the network */
    loadedFrom: import("./embedder.js").LoadedFrom;
    /** @type {number} milliseconds load() took */
    loadMs: number;
    /**
     * Token ids of each text.
     * @param {string[]} texts
     * @returns {Promise<number[][]>}
     */
    tokenize(texts: string[]): Promise<number[][]>;
    /**
     * Sentence vectors, one Float32Array per text (views of one transferred buffer).
     * @param {string[]} texts
     * @param {{batchSize?: number}} [options]
     * @returns {Promise<Float32Array[]>}
     */
    encode(texts: string[], { batchSize }?: {
        batchSize?: number;
    }): Promise<Float32Array[]>;
    /** Stop the worker; the embedder cannot be used afterwards. */
    terminate(): void;
    /** Stop the worker, as terminate does (the name StaticEmbedder uses). */
    dispose(): void;
    #private;
}
