// TypeScript declarations of static-edge-web (the browser runtime of static-edge bundles).

/** Variant names and the bundle file each one loads. */
export type Variant = "fp32" | "fp16" | "int8" | "int4" | "int2";
export declare const VARIANT_FILES: Readonly<Record<Variant, string>>;

/** Download progress of one bundle file; `cached` when it was read from Cache Storage. */
export interface ProgressEvent {
  file: string;
  loaded: number;
  total: number;
  cached: boolean;
}

export interface LoadOptions {
  /** Which table to load; the bundle's `default_variant` when omitted. */
  variant?: Variant;
  /** "lite" (default): the table read from the ONNX file, gather + mean in JavaScript.
   * "ort": onnxruntime-web runs the graph (an optional peer dependency). */
  engine?: "lite" | "ort";
  /** Pin the bundle: its digest (`static-edge export` prints it; Python `bundle_digest`). Any other is refused. */
  sha256?: string;
  /** Cache Storage name for verified files, or false to fetch every time. Default "static-edge-v1". */
  cache?: string | false;
  /** Called as each file downloads (or is read from the cache). */
  onProgress?: (event: ProgressEvent) => void;
  /** Run tokenizing and embedding in a module Web Worker: load() then returns a WorkerEmbedder. */
  worker?: boolean;
  /** A fetch implementation (not with `worker`). */
  fetch?: typeof globalThis.fetch;
  /** engine "ort": the onnxruntime-web module; imported as "onnxruntime-web" when omitted (not with `worker`). */
  ort?: unknown;
  /** engine "ort": where onnxruntime-web's .wasm files are served from. */
  wasmPaths?: string;
  /** engine "ort": wasm threads (default: up to 4 when the page is cross-origin isolated, else 1). */
  numThreads?: number;
  /** worker: the URL the worker imports @huggingface/tokenizers from (default: the page's import map). */
  tokenizersUrl?: string;
  /** worker with engine "ort": the URL the worker imports onnxruntime-web from (default: the page's import map). */
  ortUrl?: string;
}

/** The parsed static_edge.json (the keys this runtime reads; others are kept). */
export interface Manifest {
  format_version: number;
  dims: number;
  vocab_size: number;
  normalize: boolean;
  mask_unknown?: boolean;
  unk_token_id?: number | null;
  max_length?: number | null;
  pad_token_id?: number;
  default_variant?: Variant;
  files: Record<string, { dtype: string | null; bytes: number; sha256: string }>;
  [key: string]: unknown;
}

/** What both embedders expose once loaded (merged into each class below). */
export interface EmbedderInfo {
  readonly manifest: Manifest;
  readonly variant: Variant;
  readonly engine: "lite" | "ort";
  readonly dims: number;
  /** The bundle digest of the loaded manifest. */
  readonly digest: string;
  /** Which files came from Cache Storage and which from the network. */
  readonly loadedFrom: { cache: string[]; network: string[] };
  readonly loadMs: number;
  /** One Float32Array of `dims` values per text, in input order. */
  encode(texts: string[], options?: { batchSize?: number }): Promise<Float32Array[]>;
}

export declare class StaticEmbedder {
  /** Fetch, verify (sha256 of every file against the manifest, Web Crypto) and load a bundle folder. */
  static load(baseUrl: string | URL, options: LoadOptions & { worker: true }): Promise<WorkerEmbedder>;
  static load(baseUrl: string | URL, options?: LoadOptions): Promise<StaticEmbedder>;
  /** Token ids of each text, as the graph receives them (no special tokens, truncated at max_length). */
  tokenize(texts: string[]): number[][];
  /** Packed binary vectors (`ubinary`): texts.length * ceil(dims / 8) bytes, first dimension in the top bit. */
  encodeBinary(texts: string[]): Promise<Uint8Array>;
  dispose(): Promise<void>;
}
export interface StaticEmbedder extends EmbedderInfo {}

/** The StaticEmbedder API running in a module Web Worker; every method returns a Promise. */
export declare class WorkerEmbedder {
  static load(baseUrl: string | URL, options?: LoadOptions): Promise<WorkerEmbedder>;
  tokenize(texts: string[]): Promise<number[][]>;
  terminate(): void;
  dispose(): void;
}
export interface WorkerEmbedder extends EmbedderInfo {}

export interface SearchHit {
  index: number;
  text: string;
  /** Cosine similarity; for a binary index 1 - 2 * distance / dims. */
  score: number;
  /** Hamming distance (binary index only). */
  distance?: number;
}

/** An in-memory index ranked by cosine, or by Hamming distance over packed bits with `{binary: true}`. */
export declare class VectorIndex {
  constructor(embedder: EmbedderInfo, options?: { binary?: boolean });
  readonly texts: string[];
  readonly size: number;
  add(texts: string[]): Promise<void>;
  /** The k best documents, best first; ties keep insertion order. */
  search(query: string, k?: number): Promise<SearchHit[]>;
}

/** Cosine similarity of two vectors; 0 when either is all zeros. */
export declare function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number;
/** Pack vectors into bits (value > 0), eight to a byte, first dimension in the most significant bit. */
export declare function packBinary(vectors: ArrayLike<number>[]): Uint8Array;
/** Differing bits of two packed codes (`width` bytes from offsets `ai` and `bi`). */
export declare function hamming(a: Uint8Array, b: Uint8Array, width?: number, ai?: number, bi?: number): number;
/** The bundle digest of a parsed manifest (hex sha256 of its canonical JSON without parity and quality). */
export declare function bundleDigest(manifest: Manifest): Promise<string>;
/** Hex sha256 of bytes (Web Crypto). */
export declare function sha256Hex(bytes: BufferSource): Promise<string>;
