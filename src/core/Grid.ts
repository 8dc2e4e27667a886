/**
 * Grids: where the steps go. A grid is data (`Grid`); `resolve` turns it into a decreasing list of
 * times for one noise schedule and range. Points are computed by fraction, never by accumulation.
 */
import type { NoiseSchedule, Point } from './NoiseSchedule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the spacing kinds */
export type Spacing = 'time_uniform' | 'logSNR' | 'time_quadratic' | 'karras'

/**
 * A grid: `steps` intervals of a spacing from T to t0, or an explicit list of times.
 * `split[i] = k` cuts outer interval i into k sub-intervals evenly in `splitIn` (λ by default):
 * DPM-Solver's singlestep inner points and k-diffusion's DPM-2 midpoints.
 * `final: 'sigma0'` then replaces the last point by the σ = 0 point (λ = +∞, α = 1; t = 0 on VP):
 * diffusers' final_sigmas_type = 'zero'.
 */
export type Grid =
  | {
      readonly spacing: Spacing
      readonly steps: number
      readonly rho?: number
      readonly T?: number
      readonly t0?: number
      readonly split?: ReadonlyArray<number>
      readonly splitIn?: 'lambda' | 't'
      readonly final?: 'sigma0'
    }
  | {
      readonly spacing: 'explicit'
      readonly t: ReadonlyArray<number>
      readonly split?: ReadonlyArray<number>
      readonly splitIn?: 'lambda' | 't'
      readonly final?: 'sigma0'
    }

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** time-uniform: tᵢ = T + (i/n)(t0 − T) */
export const timeUniform = (steps: number): Grid => ({ spacing: 'time_uniform', steps })
/** logSNR-uniform: λᵢ = λ_T + (i/n)(λ_0 − λ_T), tᵢ = t(λᵢ) */
export const logSNR = (steps: number): Grid => ({ spacing: 'logSNR', steps })
/** time-quadratic: tᵢ = (√T + (i/n)(√t0 − √T))² */
export const timeQuadratic = (steps: number): Grid => ({ spacing: 'time_quadratic', steps })
/** Karras: σ̄ᵢ = (σ̄_max^{1/ρ} + (i/n)(σ̄_min^{1/ρ} − σ̄_max^{1/ρ}))^ρ, tᵢ = t(−log σ̄ᵢ) */
export const karras = (steps: number, rho = 7): Grid => ({ spacing: 'karras', steps, rho })
/** an explicit decreasing list of times */
export const explicit = (t: ReadonlyArray<number>): Grid => ({ spacing: 'explicit', t })

/** cut outer interval i into split[i] sub-intervals, evenly in λ (or t) */
export const withSplit =
  (split: ReadonlyArray<number>, splitIn: 'lambda' | 't' = 'lambda') =>
  (g: Grid): Grid => ({
    ...g,
    split,
    splitIn,
  })

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** number of outer intervals */
export const outerSteps = (g: Grid): number => (g.spacing === 'explicit' ? g.t.length - 1 : g.steps)

/** number of intervals after splitting = number of solver steps */
export const intervals = (g: Grid): number => (g.split === undefined ? outerSteps(g) : g.split.reduce((a, b) => a + b, 0))

/** linspace(a, b, n+1)ᵢ = a + (i/n)(b − a) */
const frac =
  (a: number, b: number, n: number) =>
  (i: number): number =>
    a + ((b - a) * i) / n

/** the outer times, decreasing, before splitting */
const outer = (ns: NoiseSchedule, g: Grid): ReadonlyArray<number> => {
  if (g.spacing === 'explicit') return g.t
  const T = g.T ?? ns.T
  const t0 = g.t0 ?? ns.t0
  const n = g.steps
  const idx = Array.from({ length: n + 1 }, (_, i) => i)
  switch (g.spacing) {
    case 'time_uniform':
      return idx.map(frac(T, t0, n))
    case 'logSNR': {
      const l = frac(ns.lambda(T), ns.lambda(t0), n)
      return idx.map((i) => ns.tOfLambda(l(i)))
    }
    case 'time_quadratic': {
      const s = frac(Math.sqrt(T), Math.sqrt(t0), n)
      return idx.map((i) => s(i) ** 2)
    }
    case 'karras': {
      const rho = g.rho ?? 7
      const sMax = Math.exp(-ns.lambda(T))
      const sMin = Math.exp(-ns.lambda(t0))
      const r = frac(sMax ** (1 / rho), sMin ** (1 / rho), n)
      return idx.map((i) => ns.tOfLambda(-Math.log(r(i) ** rho)))
    }
  }
}

/** the σ = 0 point of a schedule: t = t(λ = +∞), σ = 0, λ = +∞ (α = α(t), 1 on every built-in schedule) */
export const sigmaZero = (ns: NoiseSchedule): Point => {
  const t = ns.tOfLambda(Infinity)
  return { t, alpha: ns.alpha(t), sigma: 0, lambda: Infinity }
}

/** resolve a grid against a schedule: the decreasing list of all step boundaries t_0 > … > t_n (the last one t(λ = ∞) with final sigma0) */
export const resolve =
  (ns: NoiseSchedule) =>
  (g: Grid): ReadonlyArray<number> => {
    const ts = split(ns, g)
    return g.final === 'sigma0' ? [...ts.slice(0, -1), sigmaZero(ns).t] : ts
  }

/** the grid's points {t, α, σ, λ}; with final sigma0 the last one is exactly `sigmaZero` */
export const points =
  (ns: NoiseSchedule) =>
  (g: Grid): ReadonlyArray<Point> => {
    const ps = split(ns, g).map((t): Point => ({ t, alpha: ns.alpha(t), sigma: ns.sigma(t), lambda: ns.lambda(t) }))
    return g.final === 'sigma0' ? [...ps.slice(0, -1), sigmaZero(ns)] : ps
  }

/** the outer times cut by `split` */
const split = (ns: NoiseSchedule, g: Grid): ReadonlyArray<number> => {
  const ts = outer(ns, g)
  if (g.split === undefined) return ts
  const out: number[] = [ts[0]!]
  for (let i = 0; i + 1 < ts.length; i++) {
    const k = g.split[i] ?? 1
    const s = ts[i]!
    const t = ts[i + 1]!
    if (g.splitIn === 't') {
      const f = frac(s, t, k)
      for (let j = 1; j < k; j++) out.push(f(j))
    } else {
      const f = frac(ns.lambda(s), ns.lambda(t), k)
      for (let j = 1; j < k; j++) out.push(ns.tOfLambda(f(j)))
    }
    out.push(t)
  }
  return out
}
