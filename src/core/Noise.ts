/**
 * Counter-based Gaussian noise: the draw for (seed, sample index, step, stream, element) is a pure
 * function of those five numbers (Philox4x32-10 + Box–Muller), so results are bit-identical across
 * runs and interpreters and do not change when the batch size or the batch composition changes.
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** which draw: the step (instruction's step index) and a stream within it (0 = the step's noise, 1 = churn, 2 = Langevin, …) */
export interface Key {
  readonly step: number
  readonly stream: number
}

// -------------------------------------------------------------------------------------------------
// utils: Philox4x32-10
// -------------------------------------------------------------------------------------------------

const M0 = 0xd2511f53
const M1 = 0xcd9e8d57
const W0 = 0x9e3779b9
const W1 = 0xbb67ae85

/** high 32 bits of the 64-bit product a·b (a, b unsigned 32-bit) */
const mulhi = (a: number, b: number): number => {
  const aH = a >>> 16
  const aL = a & 0xffff
  const bH = b >>> 16
  const bL = b & 0xffff
  const ll = aL * bL
  const lh = aL * bH
  const hl = aH * bL
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0
}

/** Philox4x32-10 block: four uint32 words from a 128-bit counter and a 64-bit key */
export const philox = (c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): readonly [number, number, number, number] => {
  let [a, b, c, d] = [c0 >>> 0, c1 >>> 0, c2 >>> 0, c3 >>> 0]
  let [ka, kb] = [k0 >>> 0, k1 >>> 0]
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, a)
    const lo0 = Math.imul(M0, a) >>> 0
    const hi1 = mulhi(M1, c)
    const lo1 = Math.imul(M1, c) >>> 0
    ;[a, b, c, d] = [(hi1 ^ b ^ ka) >>> 0, lo1, (hi0 ^ d ^ kb) >>> 0, lo0]
    ka = (ka + W0) >>> 0
    kb = (kb + W1) >>> 0
  }
  return [a, b, c, d]
}

const TWO32 = 4294967296

/** two standard normals from two uint32 words (Box–Muller, u₁ ∈ (0, 1]) */
const boxMuller = (w0: number, w1: number): readonly [number, number] => {
  const u1 = (w0 + 1) / TWO32
  const u2 = w1 / TWO32
  const r = Math.sqrt(-2 * Math.log(u1))
  return [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)]
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/**
 * z[b·D + d] ~ N(0, 1) for rows b = 0..B−1 of sample indices rowOffset + b: element d of sample n
 * at (seed, step, stream) is Box–Muller of Philox(counter = [⌊d/4⌋, n, step, stream], key = seed)
 */
export const normals = (seed: number, key: Key, B: number, D: number, rowOffset = 0): Float64Array => {
  const out = new Float64Array(B * D)
  const k0 = seed >>> 0
  const k1 = Math.floor(seed / TWO32) >>> 0
  for (let b = 0; b < B; b++) {
    const n = rowOffset + b
    for (let q = 0; q * 4 < D; q++) {
      const [w0, w1, w2, w3] = philox(q, n, key.step, key.stream, k0, k1)
      const [z0, z1] = boxMuller(w0, w1)
      const [z2, z3] = boxMuller(w2, w3)
      const o = b * D + q * 4
      out[o] = z0
      if (q * 4 + 1 < D) out[o + 1] = z1
      if (q * 4 + 2 < D) out[o + 2] = z2
      if (q * 4 + 3 < D) out[o + 3] = z3
    }
  }
  return out
}
