/**
 * Mean-reverting diffusion (MR-SDE / IR-SDE, docs/math.md#mean-reverting): dx = θ_t(μ − x)dt + g_t dw with a
 * condition μ (the degraded image), marginal x_t = α_t·x0 + (1 − α_t)·μ + σ_t·ε, α_t = exp(−∫₀ᵗθ),
 * σ_t = λ_∞·sqrt(1 − α_t²) (g_t² = 2λ_∞²θ_t). With y = x − μ it is a plain Gaussian diffusion
 * (α_t, σ_t), α² + σ² ≠ 1 in general, so every exponential-integrator step of `Program` applies to y
 * (`NoiseSchedule.meanReverting`: the compiler adds the μ terms). This module gives the schedule, the
 * exact Gaussian-mixture models under it, the exact PF-ODE endpoint and the original IR-SDE samplers
 * (Euler on the PF-ODE, Euler–Maruyama on the reverse SDE) as baselines.
 */
import type * as Gmm from '../core/Gmm.ts'
import { eps as gmmEps } from '../core/Gmm.ts'
import * as Noise from '../core/Noise.ts'
import { logaddexp, type NoiseSchedule, type Point } from '../core/NoiseSchedule.ts'
import type * as P from '../core/Parameterization.ts'
import type { Subset } from './Model.ts'
import * as Reference from './Reference.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the shape of θ on [0, 1]: IR-SDE's 'cosine' (default), 'linear' or 'constant' */
export type Theta = 'cosine' | 'linear' | 'constant'

/** a mean-reverting noise schedule: α, σ, λ of y = x − μ, plus θ_t and λ_∞ (for the baselines and the velocity) */
export interface MeanRevertingSchedule extends NoiseSchedule {
  readonly meanReverting: true
  /** stationary standard deviation λ_∞ (IR-SDE `max_sigma`/255) */
  readonly lambdaInf: number
  /** the velocity's scale: v = λ_∞·α·ε − (σ/λ_∞)·(x0 − μ) (docs/math.md#mean-reverting) */
  readonly vScale: number
  /** θ_t = −d log α_t/dt */
  readonly theta: (t: number) => number
}

/** a model on row-major Float64Array batches (the Float64 interpreter's `Model`; `subset`: x holds only those rows of the batch) */
export type Model = (x: Float64Array, at: Point, subset?: Subset) => Float64Array

// -------------------------------------------------------------------------------------------------
// utils: the θ shapes and Θ(t) = ∫₀ᵗ θ
// -------------------------------------------------------------------------------------------------

const S = 0.008 // IR-SDE cosine offset
const A = Math.PI / (2 * (1 + S))
const B = S * A
const COS2B = Math.cos(B) ** 2
/** linear θ ∝ b0 + (b1 − b0)t (IR-SDE: linspace(1e-4, 0.02)·scale; the scale cancels) */
const B0 = 1e-4
const B1 = 0.02

/** x − sin x, without cancellation for small x */
const xMinusSin = (x: number): number => {
  if (Math.abs(x) > 0.5) return x - Math.sin(x)
  const x2 = x * x
  let term = (x * x2) / 6
  let sum = term
  for (let k = 2; k < 12; k++) {
    term *= -x2 / (2 * k * (2 * k + 1))
    sum += term
  }
  return sum
}

/** the θ shape: cosine θ(u) = 1 − cos²(au+b)/cos²b = sin(au)·sin(au+2b)/cos²b; linear b0 + (b1−b0)u; constant 1 */
const shape =
  (theta: Theta) =>
  (u: number): number =>
    theta === 'cosine' ? (Math.sin(A * u) * Math.sin(A * u + 2 * B)) / COS2B : theta === 'linear' ? B0 + (B1 - B0) * u : 1

/**
 * Θ(u) = ∫₀ᵘ θ: cosine [cos2b·(2au − sin 2au)/(2a) + sin2b·sin²(au)/a]/(2cos²b) (no cancellation near 0);
 * linear b0·u + ½(b1 − b0)u²; constant u
 */
const cumulative =
  (theta: Theta) =>
  (u: number): number => {
    switch (theta) {
      case 'cosine':
        return ((Math.cos(2 * B) * xMinusSin(2 * A * u)) / (2 * A) + (Math.sin(2 * B) * Math.sin(A * u) ** 2) / A) / (2 * COS2B)
      case 'linear':
        return B0 * u + 0.5 * (B1 - B0) * u * u
      case 'constant':
        return u
    }
  }

/** u = Θ⁻¹(c): closed form (linear, constant) or safeguarded Newton from the small-u asymptote (cosine) */
const inverse =
  (theta: Theta) =>
  (c: number): number => {
    if (!(c > 0)) return 0
    if (theta === 'constant') return c
    if (theta === 'linear') return (2 * c) / (B0 + Math.sqrt(B0 * B0 + 2 * (B1 - B0) * c))
    const F = cumulative(theta)
    const f = shape(theta)
    let lo = 0
    let hi = 2
    let u = Math.min(1, Math.sqrt((2 * COS2B * c) / (A * Math.sin(2 * B)))) // Θ ≈ a·sin2b·u²/(2cos²b)
    for (let k = 0; k < 200; k++) {
      const r = F(u) - c
      if (r > 0) hi = u
      else lo = u
      const step = r / f(u)
      let next = u - step
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi)
      if (Math.abs(next - u) <= 1e-16 * Math.max(u, 1e-300)) return next
      u = next
    }
    return u
  }

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * the IR-SDE schedule in continuous time t ∈ [0, 1]: log α_t = log(α_T)·Θ(t)/Θ(1) (α_1 = α_T, IR-SDE eps = 0.01),
 * σ_t = λ_∞·sqrt(−expm1(2 log α_t)), λ_t = log α_t − log λ_∞ − ½·log(−expm1(2 log α_t));
 * t(λ): log α = −½·logaddexp(0, −2(λ + log λ_∞)), then Θ⁻¹
 */
export const schedule = (o: { readonly lambdaInf: number; readonly theta?: Theta; readonly alphaT?: number; readonly T?: number; readonly t0?: number }): MeanRevertingSchedule => {
  const theta = o.theta ?? 'cosine'
  const li = o.lambdaInf
  if (!(li > 0 && Number.isFinite(li))) throw new Error(`MeanReverting.schedule: lambdaInf must be a positive number, got ${li}`)
  const aT = o.alphaT ?? 0.01
  if (!(aT > 0 && aT < 1)) throw new Error(`MeanReverting.schedule: alphaT must be in (0, 1), got ${aT}`)
  const F = cumulative(theta)
  const k = Math.log(aT) / F(1) // log α_t = k·Θ(t)
  const logAlpha = (t: number): number => k * F(t)
  const logLi = Math.log(li)
  return {
    name: `mean-reverting-${theta}`,
    T: o.T ?? 1,
    t0: o.t0 ?? 1e-3,
    meanReverting: true,
    domain: [0, 1],
    lambdaInf: li,
    vScale: li,
    alpha: (t) => Math.exp(logAlpha(t)),
    sigma: (t) => li * Math.sqrt(-Math.expm1(2 * logAlpha(t))),
    lambda: (t) => {
      const la = logAlpha(t)
      return la - logLi - 0.5 * Math.log(-Math.expm1(2 * la))
    },
    tOfLambda: (l) => inverse(theta)((-0.5 * logaddexp(0, -2 * (l + logLi))) / k),
    theta: (t) => -k * shape(theta)(t),
  }
}

/** the IR-SDE prior x_T = μ + λ_∞·z (z from Gmm.normals-style standard normals, row-major like μ) */
export const prior = (ns: MeanRevertingSchedule, mu: Float64Array, z: Float64Array): Float64Array => mu.map((m, k) => m + ns.lambdaInf * z[k]!)

/** μ broadcast to B rows: one vector of length D repeated, or already B·D values */
export const rowsOf = (mu: ArrayLike<number>, B: number, D: number): Float64Array => {
  if (mu.length === B * D) return Float64Array.from(mu)
  if (mu.length !== D) throw new Error(`MeanReverting: μ has ${mu.length} values; expected D = ${D} (one condition for every row) or B·D = ${B * D}`)
  return Float64Array.from({ length: B * D }, (_, k) => mu[k % D]!)
}

// -------------------------------------------------------------------------------------------------
// models: exact Gaussian mixtures under a mean-reverting schedule
// -------------------------------------------------------------------------------------------------

/** the rows of μ that x holds (`subset`: the model is called on some rows of the batch, at per-sample times) */
const muOf = (mu: Float64Array, x: Float64Array, subset: Subset | undefined): Float64Array => {
  if (subset === undefined) {
    if (mu.length !== x.length) throw new Error(`MeanReverting: μ has ${mu.length} values, x has ${x.length} (one condition row per sample; a model called on some rows must be told which: Subset)`)
    return mu
  }
  const D = x.length / subset.rows.length
  if (mu.length !== subset.of * D) throw new Error(`MeanReverting: μ has ${mu.length} values, the batch ${subset.of} rows of ${D}`)
  const out = new Float64Array(x.length)
  subset.rows.forEach((r, k) => out.set(mu.subarray(r * D, r * D + D), k * D))
  return out
}

/**
 * exact noise prediction for data x0 ~ mixture (given μ): x − (1 − α_t)μ = α_t·x0 + σ_t·ε has the
 * mixture's own marginal Σ_k w_k N(α_t m_k, α_t²s_k² + σ_t²), so ε̂(x, t) = Gmm.eps(x − (1 − α_t)·μ, t)
 */
export const eps = (g: Gmm.Gmm, mu: Float64Array): Model => {
  const base = gmmEps(g)
  return (x, at, subset) => {
    const m = muOf(mu, x, subset)
    const c = 1 - at.alpha
    return base(
      x.map((v, k) => v - c * m[k]!),
      at,
    )
  }
}

/**
 * the exact model in a native parameterization under a mean-reverting schedule (docs/math.md#mean-reverting):
 * eps → ε; x0 → x0 = (x − μ − σε)/α + μ (the clean x0); v → λ_∞·α·ε − (σ/λ_∞)·(x0 − μ)
 */
export const native = (ns: MeanRevertingSchedule, g: Gmm.Gmm, mu: Float64Array, param: Exclude<P.Parameterization, 'flow'>): Model => {
  const e = eps(g, mu)
  const c = ns.lambdaInf
  return (x, at, subset) => {
    const ek = e(x, at, subset)
    const m = muOf(mu, x, subset)
    const { alpha: a, sigma: s } = at
    switch (param) {
      case 'eps':
        return ek
      case 'x0':
        return ek.map((v, k) => (x[k]! - m[k]! - s * v) / a + m[k]!)
      case 'v':
        return ek.map((v, k) => c * a * v - (s / c) * ((x[k]! - m[k]! - s * v) / a))
    }
  }
}

// -------------------------------------------------------------------------------------------------
// destructors: the exact PF-ODE endpoint
// -------------------------------------------------------------------------------------------------

/** sigmoid(z), overflow-free */
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)))

/**
 * the exact PF-ODE endpoint x_0 from x_T under a mean-reverting schedule, per row b: x̄ = (x − μ_b)/α
 * = (x0 − μ_b) + e^{−λ}ε depends on λ alone, so it is the VP flow of the mixture shifted by −μ_b
 * (Reference.endpoint, rtol = atol = 1e-12) taken through z = α^{vp}(λ)·x̄, α^{vp}(λ)² = sigmoid(2λ)
 */
export const endpoint =
  (ns: NoiseSchedule, tFrom: number = ns.T, tTo: number = ns.t0) =>
  (g: Gmm.Gmm, mu: Float64Array, xT: Float64Array): Float64Array => {
    const { D } = g
    const lT = ns.lambda(tFrom)
    const l0 = ns.lambda(tTo)
    const aT = ns.alpha(tFrom)
    const a0 = ns.alpha(tTo)
    const vT = Math.sqrt(sigmoid(2 * lT))
    const v0 = Math.sqrt(sigmoid(2 * l0))
    const out = new Float64Array(xT.length)
    for (let o = 0; o < xT.length; o += D) {
      const m = mu.subarray(o, o + D)
      const shifted: Gmm.Gmm = { ...g, means: g.means.map((row) => row.map((v, d) => v - m[d]!)) }
      const z = Float64Array.from({ length: D }, (_, d) => (vT * (xT[o + d]! - m[d]!)) / aT)
      const z0 = Reference.endpoint(shifted, lT, l0, z)
      for (let d = 0; d < D; d++) out[o + d] = (a0 * z0[d]!) / v0 + m[d]!
    }
    return out
  }

// -------------------------------------------------------------------------------------------------
// destructors: the original IR-SDE samplers (baselines)
// -------------------------------------------------------------------------------------------------

/**
 * IR-SDE's own samplers on a time-uniform grid T = t_0 > … > t_n = t0 (one model call per step), Δ = t_i − t_{i+1}:
 * Euler on the PF-ODE (η = 0): x ← x − Δ·[θ(μ − x) + λ_∞²θ·ε̂/σ];
 * Euler–Maruyama on the reverse SDE (η = 1): x ← x − Δ·[θ(μ − x) + 2λ_∞²θ·ε̂/σ] + λ_∞·sqrt(2θΔ)·z
 * (z counter-based: Noise.normals(seed, {step: i, stream: 0}), like the interpreters)
 */
export const eulerMaruyama =
  (ns: MeanRevertingSchedule, o: { readonly steps: number; readonly sde: boolean; readonly seed?: number; readonly D: number }) =>
  (model: Model, mu: Float64Array) =>
  (xT: Float64Array): Float64Array => {
    const n = o.steps
    const ts = Array.from({ length: n + 1 }, (_, i) => ns.T + ((ns.t0 - ns.T) * i) / n)
    const li2 = ns.lambdaInf ** 2
    const B = xT.length / o.D
    let x = Float64Array.from(xT)
    for (let i = 0; i < n; i++) {
      const t = ts[i]!
      const dt = t - ts[i + 1]!
      const at: Point = { t, alpha: ns.alpha(t), sigma: ns.sigma(t), lambda: ns.lambda(t) }
      const e = model(x, at)
      const th = ns.theta(t)
      const kScore = ((o.sde ? 2 : 1) * li2 * th) / at.sigma
      const z = o.sde ? Noise.normals(o.seed ?? 0, { step: i, stream: 0 }, B, o.D, 0) : undefined
      const sz = ns.lambdaInf * Math.sqrt(2 * th * dt)
      x = x.map((v, k) => v - dt * (th * (mu[k]! - v) + kScore * e[k]!) + (z === undefined ? 0 : sz * z[k]!))
    }
    return x
  }
