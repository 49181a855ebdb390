/**
 * Pack vectors into one Uint8Array of vectors.length * ceil(dims / 8) bytes.
 * @param {ArrayLike<number>[]} vectors
 * @returns {Uint8Array}
 */
export function packBinary(vectors: ArrayLike<number>[]): Uint8Array;
/**
 * Differing bits of two packed codes: `a` at byte offset `ai`, `b` at `bi`, `width` bytes each.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @param {number} [width]
 * @param {number} [ai]
 * @param {number} [bi]
 * @returns {number}
 */
export function hamming(a: Uint8Array, b: Uint8Array, width?: number, ai?: number, bi?: number): number;
export function packedBytes(dims: number): number;
