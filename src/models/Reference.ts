/**
 * The exact probability-flow ODE endpoint for a Gaussian mixture with its exact score, by an
 * independent high-accuracy adaptive solve (Dormand–Prince 5(4), one solve per row).
 *
 * For a VP process α² = sigmoid(2λ) and σ² = sigmoid(−2λ) are functions of the half-logSNR λ alone,
 * so in λ the PF-ODE reads dx/dλ = σ²·(x + ∇log p_λ(x)) and the map x_T ↦ x_0 depends on the noise
 * schedule only through λ_T = λ(T) and λ_0 = λ(t_0). The score is computed here from the mixture
 * directly (not through `Gmm.eps`), so the reference shares no model code with the samplers.
 */
import type * as Gmm from '../core/Gmm.ts'
import type { NoiseSchedule } from '../core/NoiseSchedule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** tolerances of the adaptive solve: per component, |err_i| ≤ atol + rtol·max(|x_i|, |x_i'|) in the RMS norm */
export interface Tolerance {
  readonly rtol: number
  readonly atol: number
  /** give up (throw) after this many steps per row */
  readonly maxSteps: number
}

/** a solve's result: the endpoints (row-major, like x_T) and its cost */
export interface Result {
  readonly x: Float64Array
  /** right-hand-side evaluations over all rows */
  readonly nfe: number
  readonly accepted: number
  readonly rejected: number
}

/** rtol = atol = 1e-12 (reproduces the golden ground truth, scipy DOP853 at 1e-12, to ≤ 2.3e-12) */
export const defaultTolerance: Tolerance = { rtol: 1e-12, atol: 1e-12, maxSteps: 100_000 }

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** sigmoid(z) = 1/(1 + e^{−z}), overflow-free */
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))

/**
 * f(λ, x) = σ²·(x + ∇log p(x)) for one row, into `out`: ∇log p = −Σ_k r_k (x − αμ_k)/v_k,
 * v_k = α²s_k² + σ², r_k = softmax_k(log w_k − ½Σ_d[(x_d − αμ_kd)²/v_kd + log v_kd])
 */
const rhs = (g: Gmm.Gmm, logw: Float64Array, mu: Float64Array, s2: Float64Array) => {
  const { K, D } = g
  const logit = new Float64Array(K)
  const v = new Float64Array(K * D)
  return (lambda: number, x: Float64Array, out: Float64Array): void => {
    const a2 = sigmoid(2 * lambda)
    const sig2 = sigmoid(-2 * lambda)
    const a = Math.sqrt(a2)
    let m = -Infinity
    for (let k = 0; k < K; k++) {
      let q = 0
      let logdet = 0
      for (let d = 0; d < D; d++) {
        const j = k * D + d
        const vk = a2 * s2[j]! + sig2
        v[j] = vk
        const diff = x[d]! - a * mu[j]!
        q += (diff * diff) / vk
        logdet += Math.log(vk)
      }
      const l = logw[k]! - 0.5 * (q + logdet)
      logit[k] = l
      if (l > m) m = l
    }
    let z = 0
    for (let k = 0; k < K; k++) {
      logit[k] = Math.exp(logit[k]! - m)
      z += logit[k]!
    }
    for (let d = 0; d < D; d++) out[d] = x[d]!
    for (let k = 0; k < K; k++) {
      const r = logit[k]! / z
      for (let d = 0; d < D; d++) {
        const j = k * D + d
        out[d] = out[d]! - (r * (x[d]! - a * mu[j]!)) / v[j]!
      }
    }
    for (let d = 0; d < D; d++) out[d] = out[d]! * sig2
  }
}

// Dormand–Prince 5(4) (Dormand & Prince 1980; Hairer, Nørsett & Wanner, Table II.5.2): FSAL, the 5th-order
// solution propagates, the embedded 4th-order one only estimates the error.
const C2 = 1 / 5,
  C3 = 3 / 10,
  C4 = 4 / 5,
  C5 = 8 / 9
const A21 = 1 / 5
const A31 = 3 / 40,
  A32 = 9 / 40
const A41 = 44 / 45,
  A42 = -56 / 15,
  A43 = 32 / 9
const A51 = 19372 / 6561,
  A52 = -25360 / 2187,
  A53 = 64448 / 6561,
  A54 = -212 / 729
const A61 = 9017 / 3168,
  A62 = -355 / 33,
  A63 = 46732 / 5247,
  A64 = 49 / 176,
  A65 = -5103 / 18656
const B1 = 35 / 384,
  B3 = 500 / 1113,
  B4 = 125 / 192,
  B5 = -2187 / 6784,
  B6 = 11 / 84
// E = b − b̂ (b̂ = 5179/57600, 0, 7571/16695, 393/640, −92097/339200, 187/2100, 1/40)
const E1 = 71 / 57600,
  E3 = -71 / 16695,
  E4 = 71 / 1920,
  E5 = -17253 / 339200,
  E6 = 22 / 525,
  E7 = -1 / 40

/** one row from λ_T to λ_0 in place; returns [nfe, accepted, rejected] */
const solveRow =
  (f: ReturnType<typeof rhs>, D: number, l0: number, l1: number, tol: Tolerance) =>
  (y: Float64Array): readonly [number, number, number] => {
    const k1 = new Float64Array(D),
      k2 = new Float64Array(D),
      k3 = new Float64Array(D),
      k4 = new Float64Array(D)
    const k5 = new Float64Array(D),
      k6 = new Float64Array(D),
      k7 = new Float64Array(D)
    const ys = new Float64Array(D),
      y1 = new Float64Array(D)
    const dir = Math.sign(l1 - l0)
    const span = Math.abs(l1 - l0)
    if (span === 0) return [0, 0, 0]
    const scale = (d: number) => tol.atol + tol.rtol * Math.abs(y[d]!)
    const norm = (v: Float64Array, s: (d: number) => number) => {
      let acc = 0
      for (let d = 0; d < D; d++) acc += (v[d]! / s(d)) ** 2
      return Math.sqrt(acc / D)
    }
    f(l0, y, k1)
    let nfe = 1
    // initial step (Hairer, Nørsett & Wanner II.4): h0 = 0.01·‖y‖/‖f‖, then refined by a trial Euler step
    const d0 = norm(y, scale)
    const d1 = norm(k1, scale)
    let h = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1
    h = Math.min(h, span)
    for (let d = 0; d < D; d++) ys[d] = y[d]! + dir * h * k1[d]!
    f(l0 + dir * h, ys, k2)
    nfe++
    for (let d = 0; d < D; d++) k7[d] = k2[d]! - k1[d]!
    const d2 = norm(k7, scale) / h
    const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(1e-6, h * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5)
    h = Math.min(100 * h, h1, span)

    let l = l0
    let accepted = 0
    let rejected = 0
    let lastRejected = false
    while (dir * (l1 - l) > 0) {
      if (accepted + rejected >= tol.maxSteps) throw new Error(`Reference: more than ${tol.maxSteps} steps at λ = ${l} (stiff or non-finite score?)`)
      const remaining = Math.abs(l1 - l)
      const last = h >= remaining * (1 - 1e-12)
      const hs = last ? remaining : h
      const hh = dir * hs
      for (let d = 0; d < D; d++) ys[d] = y[d]! + hh * A21 * k1[d]!
      f(l + C2 * hh, ys, k2)
      for (let d = 0; d < D; d++) ys[d] = y[d]! + hh * (A31 * k1[d]! + A32 * k2[d]!)
      f(l + C3 * hh, ys, k3)
      for (let d = 0; d < D; d++) ys[d] = y[d]! + hh * (A41 * k1[d]! + A42 * k2[d]! + A43 * k3[d]!)
      f(l + C4 * hh, ys, k4)
      for (let d = 0; d < D; d++) ys[d] = y[d]! + hh * (A51 * k1[d]! + A52 * k2[d]! + A53 * k3[d]! + A54 * k4[d]!)
      f(l + C5 * hh, ys, k5)
      for (let d = 0; d < D; d++) ys[d] = y[d]! + hh * (A61 * k1[d]! + A62 * k2[d]! + A63 * k3[d]! + A64 * k4[d]! + A65 * k5[d]!)
      const lNext = last ? l1 : l + hh
      f(lNext, ys, k6)
      for (let d = 0; d < D; d++) y1[d] = y[d]! + hh * (B1 * k1[d]! + B3 * k3[d]! + B4 * k4[d]! + B5 * k5[d]! + B6 * k6[d]!)
      f(lNext, y1, k7)
      nfe += 6
      let acc = 0
      for (let d = 0; d < D; d++) {
        const e = hh * (E1 * k1[d]! + E3 * k3[d]! + E4 * k4[d]! + E5 * k5[d]! + E6 * k6[d]! + E7 * k7[d]!)
        const s = tol.atol + tol.rtol * Math.max(Math.abs(y[d]!), Math.abs(y1[d]!))
        acc += (e / s) ** 2
      }
      const err = Math.sqrt(acc / D)
      if (!Number.isFinite(err)) throw new Error(`Reference: non-finite state at λ = ${l}`)
      if (err <= 1) {
        l = lNext
        y.set(y1)
        k1.set(k7)
        accepted++
        const grow = err === 0 ? 5 : Math.min(5, 0.9 * err ** -0.2)
        h = lastRejected ? Math.min(hs, hs * grow) : hs * grow
        lastRejected = false
      } else {
        rejected++
        h = hs * Math.max(0.2, 0.9 * err ** -0.2)
        lastRejected = true
      }
    }
    return [nfe, accepted, rejected]
  }

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the PF-ODE dx/dλ = σ²(x + ∇log p_λ(x)), α² = sigmoid(2λ), σ² = sigmoid(−2λ), solved from λ_T to λ_0 for every row of x_T, with its cost */
export const solve =
  (g: Gmm.Gmm, lambdaT: number, lambda0: number, tol: Tolerance = defaultTolerance) =>
  (xT: Float64Array): Result => {
    const { K, D } = g
    if (xT.length % D !== 0) throw new Error(`Reference: x_T has ${xT.length} values, not a multiple of D = ${D}`)
    const logw = Float64Array.from(g.weights, Math.log)
    const mu = Float64Array.from(g.means.flat())
    const s2 = Float64Array.from(g.variances.flat())
    if (mu.length !== K * D || s2.length !== K * D || logw.length !== K) throw new Error(`Reference: the mixture's shapes do not match K = ${K}, D = ${D}`)
    const row = solveRow(rhs(g, logw, mu, s2), D, lambdaT, lambda0, tol)
    const x = Float64Array.from(xT)
    let nfe = 0
    let accepted = 0
    let rejected = 0
    for (let o = 0; o < x.length; o += D) {
      const [n, a, r] = row(x.subarray(o, o + D))
      nfe += n
      accepted += a
      rejected += r
    }
    return { x, nfe, accepted, rejected }
  }

/** x_0 = Φ_{λ_T→λ_0}(x_T) of the PF-ODE dx/dλ = σ²(x + ∇log p_λ(x)), α² = sigmoid(2λ), σ² = sigmoid(−2λ) (rtol = atol = 1e-12) */
export const endpoint = (g: Gmm.Gmm, lambdaT: number, lambda0: number, xT: Float64Array): Float64Array => solve(g, lambdaT, lambda0)(xT).x

/** the exact endpoint under a VP schedule over its default range: λ_T = λ(T), λ_0 = λ(t_0) */
export const endpointOf =
  (ns: NoiseSchedule) =>
  (g: Gmm.Gmm, xT: Float64Array): Float64Array =>
    endpoint(g, ns.lambda(ns.T), ns.lambda(ns.t0), xT)
