/**
 * Fréchet distance between feature distributions (FID when the features are a classifier's penultimate layer),
 * and k-NN precision / recall of generated samples. Features are row-major Float64Arrays of n rows of d values.
 * The matrix square root comes from ml-matrix's symmetric eigendecomposition, not from hand-written linear algebra.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the first two moments of a feature set: mean μ ∈ R^d and the unbiased covariance Σ ∈ R^{d×d} (row-major) */
export interface Stats {
  readonly n: number
  readonly d: number
  readonly mean: Float64Array
  readonly cov: Float64Array
}

/** precision (share of generated rows inside the real manifold) and recall (share of real rows inside the generated one) */
export interface PrecisionRecall {
  readonly precision: number
  readonly recall: number
  readonly k: number
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** μ = (1/n)·Σ_i f_i, Σ = (1/(n−1))·Σ_i (f_i − μ)(f_i − μ)ᵀ of n rows of d features */
export const stats = (features: Float64Array, d: number): Stats => {
  const n = features.length / d
  if (!Number.isInteger(n) || n < 2) throw new Error(`feature statistics need at least 2 rows of ${d} values; got ${features.length} values`)
  const mean = new Float64Array(d)
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += features[i * d + j]!
  for (let j = 0; j < d; j++) mean[j]! /= n
  const cov = new Float64Array(d * d)
  const c = new Float64Array(d)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = features[i * d + j]! - mean[j]!
    for (let a = 0; a < d; a++) {
      const ca = c[a]!
      if (ca === 0) continue
      for (let b = a; b < d; b++) cov[a * d + b]! += ca * c[b]!
    }
  }
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / (n - 1)
      cov[a * d + b] = v
      cov[b * d + a] = v
    }
  return { n, d, mean, cov }
}

/** moments given directly (e.g. an analytic Gaussian): Σ row-major d×d */
export const fromMoments = (mean: ArrayLike<number>, cov: ArrayLike<number>): Stats => {
  const d = mean.length
  if (cov.length !== d * d) throw new Error(`a covariance for ${d} features has ${d * d} entries; got ${cov.length}`)
  return { n: Infinity, d, mean: Float64Array.from(mean), cov: Float64Array.from(cov) }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

const matrix = (s: Float64Array, d: number): Matrix => new Matrix(Array.from({ length: d }, (_, i) => Array.from(s.subarray(i * d, (i + 1) * d))))

/** A^{1/2} of a symmetric positive semi-definite A = V·diag(λ)·Vᵀ: V·diag(√max(λ, 0))·Vᵀ */
export const sqrtPsd = (a: Matrix): Matrix => {
  const e = new EigenvalueDecomposition(a, { assumeSymmetric: true })
  const V = e.eigenvectorMatrix
  const r = e.realEigenvalues.map((l) => Math.sqrt(Math.max(l, 0)))
  return V.mmul(Matrix.diag(r)).mmul(V.transpose())
}

/**
 * the Fréchet distance ‖μ_a − μ_b‖² + tr Σ_a + tr Σ_b − 2·tr (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}
 * (the symmetric form of tr (Σ_a Σ_b)^{1/2}: both have the same eigenvalues, this one is PSD so its root is stable)
 */
export const distance = (a: Stats, b: Stats): number => {
  if (a.d !== b.d) throw new Error(`feature widths differ: ${a.d} vs ${b.d}`)
  const d = a.d
  let m = 0
  for (let j = 0; j < d; j++) m += (a.mean[j]! - b.mean[j]!) ** 2
  let tr = 0
  for (let j = 0; j < d; j++) tr += a.cov[j * d + j]! + b.cov[j * d + j]!
  const ra = sqrtPsd(matrix(a.cov, d))
  const inner = ra.mmul(matrix(b.cov, d)).mmul(ra)
  const sym = inner.add(inner.transpose()).div(2)
  const e = new EigenvalueDecomposition(sym, { assumeSymmetric: true })
  const trRoot = e.realEigenvalues.reduce((s, l) => s + Math.sqrt(Math.max(l, 0)), 0)
  return Math.max(0, m + tr - 2 * trRoot)
}

const sqDist = (x: Float64Array, i: number, y: Float64Array, j: number, d: number): number => {
  let s = 0
  for (let k = 0; k < d; k++) {
    const t = x[i * d + k]! - y[j * d + k]!
    s += t * t
  }
  return s
}

/** the squared distance of each row of x to its k-th nearest other row of x (the k-NN ball radius²) */
const kthRadii = (x: Float64Array, d: number, k: number): Float64Array => {
  const n = x.length / d
  const r = new Float64Array(n)
  const best = new Float64Array(k)
  for (let i = 0; i < n; i++) {
    best.fill(Infinity)
    for (let j = 0; j < n; j++) {
      if (j === i) continue
      const s = sqDist(x, i, x, j, d)
      if (s >= best[k - 1]!) continue
      let p = k - 1
      while (p > 0 && best[p - 1]! > s) {
        best[p] = best[p - 1]!
        p--
      }
      best[p] = s
    }
    r[i] = best[k - 1]!
  }
  return r
}

/** share of rows of `probe` inside at least one k-NN ball of `support` */
const coverage = (probe: Float64Array, support: Float64Array, radii: Float64Array, d: number): number => {
  const n = probe.length / d
  const m = support.length / d
  let inside = 0
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++)
      if (sqDist(probe, i, support, j, d) <= radii[j]!) {
        inside++
        break
      }
  }
  return inside / n
}

/**
 * improved precision / recall (k-NN manifolds): precision = share of generated rows within the k-th-neighbour ball
 * of some real row; recall = share of real rows within the k-th-neighbour ball of some generated row
 */
export const precisionRecall = (real: Float64Array, fake: Float64Array, d: number, k = 3): PrecisionRecall => {
  if (real.length / d <= k || fake.length / d <= k) throw new Error(`precision/recall with k = ${k} needs more than ${k} rows in each set`)
  return { precision: coverage(fake, real, kthRadii(real, d, k), d), recall: coverage(real, fake, kthRadii(fake, d, k), d), k }
}
