// Binary ("ubinary") vectors: one bit per dimension, set when the value is > 0, packed eight to a
// byte with the first dimension in the most significant bit (numpy's `np.packbits(x > 0, axis=-1)`,
// as static_edge.runtimes.binary writes them). Hamming distance counts differing bits.

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];

/**
 * Bytes per packed vector of `dims` dimensions.
 * @param {number} dims
 */
export const packedBytes = (dims) => Math.ceil(dims / 8);

/**
 * Pack vectors into one Uint8Array of vectors.length * ceil(dims / 8) bytes.
 * @param {ArrayLike<number>[]} vectors
 * @returns {Uint8Array}
 */
export function packBinary(vectors) {
  const dims = vectors.length ? vectors[0].length : 0;
  const width = packedBytes(dims);
  const out = new Uint8Array(vectors.length * width);
  vectors.forEach((vector, r) => {
    if (vector.length !== dims) throw new Error("static-edge: vectors of different lengths cannot be packed together");
    for (let d = 0; d < dims; d++) if (vector[d] > 0) out[r * width + (d >> 3)] |= 0x80 >> (d & 7);
  });
  return out;
}

/**
 * Differing bits of two packed codes: `a` at byte offset `ai`, `b` at `bi`, `width` bytes each.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @param {number} [width]
 * @param {number} [ai]
 * @param {number} [bi]
 * @returns {number}
 */
export function hamming(a, b, width = a.length, ai = 0, bi = 0) {
  let distance = 0;
  for (let i = 0; i < width; i++) distance += POPCOUNT[a[ai + i] ^ b[bi + i]];
  return distance;
}
