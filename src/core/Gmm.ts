/**
 * Gaussian mixtures with an exact score under any schedule: data Σ_k w_k N(μ_k, diag(s_k²)) has the
 * marginal Σ_k w_k N(α_t μ_k, diag(α_t² s_k² + σ_t²)) at t, so ε̂(x, t) = −σ_t ∇log p_t(x) is closed-form.
 */
import type { Point } from './NoiseSchedule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a diagonal Gaussian mixture (the golden files' `problem`) */
export interface Gmm {
  readonly K: number
  readonly D: number
  readonly weights: ReadonlyArray<number>
  readonly means: ReadonlyArray<ReadonlyArray<number>>
  readonly variances: ReadonlyArray<ReadonlyArray<number>>
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a single Gaussian N(μ0, s0²·I) in D dimensions (closed-form flow, docs/math.md#gaussian-oracle) */
export const gaussian = (D: number, mu0: number, s0sq: number): Gmm => ({
  K: 1,
  D,
  weights: [1],
  means: [Array.from({ length: D }, () => mu0)],
  variances: [Array.from({ length: D }, () => s0sq)],
})

/** a seeded random mixture as in the golden files: w ~ Dirichlet(2), μ ~ U(−1,1), s ~ U(lo, hi) */
export const random = (K: number, D: number, seed: number, stdLo = 0.05, stdHi = 0.3): Gmm => {
  const rnd = mulberry32(seed)
  const g = Array.from({ length: K }, () => -Math.log(1 - rnd()) - Math.log(1 - rnd())) // Gamma(2)
  const z = g.reduce((a, b) => a + b, 0)
  return {
    K,
    D,
    weights: g.map((v) => v / z),
    means: Array.from({ length: K }, () => Array.from({ length: D }, () => 2 * rnd() - 1)),
    variances: Array.from({ length: K }, () => Array.from({ length: D }, () => (stdLo + (stdHi - stdLo) * rnd()) ** 2)),
  }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/**
 * exact noise prediction on a row-major batch x[B·D]:
 * r_k = softmax_k(log w_k − ½Σ_d[(x_d − αμ_kd)²/v_kd + log 2πv_kd]), ε = σ·Σ_k r_k (x − αμ_k)/v_k, v_k = α²s_k² + σ²
 */
export const eps =
  (g: Gmm) =>
  (x: Float64Array, at: Point): Float64Array => {
    const { K, D } = g
    const a = at.alpha
    const s2 = at.sigma * at.sigma
    const v = g.variances.map((row) => row.map((s) => a * a * s + s2))
    const logNorm = v.map((row, k) => Math.log(g.weights[k]!) - 0.5 * row.reduce((acc, vd) => acc + Math.log(2 * Math.PI * vd), 0))
    const B = x.length / D
    const out = new Float64Array(x.length)
    const logit = new Float64Array(K)
    for (let b = 0; b < B; b++) {
      const o = b * D
      let m = -Infinity
      for (let k = 0; k < K; k++) {
        let q = 0
        const mu = g.means[k]!
        const vk = v[k]!
        for (let d = 0; d < D; d++) {
          const diff = x[o + d]! - a * mu[d]!
          q += (diff * diff) / vk[d]!
        }
        logit[k] = logNorm[k]! - 0.5 * q
        if (logit[k]! > m) m = logit[k]!
      }
      let z = 0
      for (let k = 0; k < K; k++) {
        logit[k] = Math.exp(logit[k]! - m)
        z += logit[k]!
      }
      for (let k = 0; k < K; k++) {
        const r = logit[k]! / z
        const mu = g.means[k]!
        const vk = v[k]!
        for (let d = 0; d < D; d++) out[o + d]! += (r * (x[o + d]! - a * mu[d]!)) / vk[d]!
      }
      for (let d = 0; d < D; d++) out[o + d]! *= at.sigma
    }
    return out
  }

/** a seeded endless stream of rows: a fresh Fisher–Yates permutation per epoch */
export const epochRows = (n: number, rnd: () => number): (() => number) => {
  let perm = new Int32Array(0)
  let at = 0
  return (): number => {
    if (at >= perm.length) {
      perm = Int32Array.from({ length: n }, (_, i) => i)
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1))
        const tmp = perm[i]!
        perm[i] = perm[j]!
        perm[j] = tmp
      }
      at = 0
    }
    return perm[at++]!
  }
}

/** seeded uniform generator on [0, 1) (mulberry32) */
export const mulberry32 = (seed: number) => {
  let s = seed >>> 0
  return (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** standard normals by Box–Muller from a uniform source u: √(−2·ln(1 − u₁))·(cos, sin)(2π·u₂), pairs cached */
export const normalsFrom = (rnd: () => number): (() => number) => {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    const r = Math.sqrt(-2 * Math.log(1 - rnd()))
    const w = 2 * Math.PI * rnd()
    spare = r * Math.sin(w)
    return r * Math.cos(w)
  }
}

/** n standard normal draws (Box–Muller on mulberry32) */
export const normals = (n: number, seed: number): Float64Array => {
  const rnd = mulberry32(seed)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rnd()
    const w = rnd()
    const r = Math.sqrt(-2 * Math.log(u))
    out[i] = r * Math.cos(2 * Math.PI * w)
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * w)
  }
  return out
}
