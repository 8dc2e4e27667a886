/**
 * Noise schedules: the forward marginal x_t = α_t·x0 + σ_t·ε, its half-logSNR λ_t = log(α_t/σ_t)
 * and the inverse t(λ). Every quantity is computed the careful way (expm1, log1p, logaddexp).
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** A noise schedule: α(t), σ(t), λ(t) = log α − log σ (strictly decreasing) and its inverse t(λ). */
export interface NoiseSchedule {
  readonly name: string
  /** default sampling range: from T (noise) down to t0 (data) */
  readonly T: number
  readonly t0: number
  readonly alpha: (t: number) => number
  readonly sigma: (t: number) => number
  readonly lambda: (t: number) => number
  readonly tOfLambda: (lambda: number) => number
  /** mean-reverting (MR-SDE, docs/math.md#mean-reverting): x_t = α_t·x0 + (1 − α_t)·μ + σ_t·ε with a condition μ; the solvers act on y = x − μ */
  readonly meanReverting?: boolean
  /** the velocity's scale c: v = c·α·ε − (σ/c)·x0 (default 1; mean-reverting IR-SDE: λ_∞, docs/math.md#mean-reverting) */
  readonly vScale?: number
  /** the times [lo, hi] where α and σ are defined without extrapolation (a table's range); absent: every t > 0 where they are finite */
  readonly domain?: readonly [number, number]
}

/** A resolved time point: everything a coefficient rule needs about t. */
export interface Point {
  readonly t: number
  readonly alpha: number
  readonly sigma: number
  readonly lambda: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** logaddexp(a, b) = log(eᵃ + eᵇ), overflow-free */
export const logaddexp = (a: number, b: number): number => {
  const m = Math.max(a, b)
  if (m === -Infinity) return -Infinity
  return m + Math.log1p(Math.exp(-Math.abs(a - b)))
}

/** VP from log α: σ = sqrt(−expm1(2·logα)) */
const vpSigma = (la: number): number => Math.sqrt(-Math.expm1(2 * la))
/** VP from log α: λ = logα − ½·log(−expm1(2·logα)) */
const vpLambda = (la: number): number => la - 0.5 * Math.log(-Math.expm1(2 * la))
/** VP: log α(λ) = −½·logaddexp(0, −2λ) */
const vpLogAlphaOfLambda = (lambda: number): number => -0.5 * logaddexp(0, -2 * lambda)

const vpFromLogAlpha = (name: string, T: number, t0: number, logAlpha: (t: number) => number, tOfLogAlpha: (la: number) => number): NoiseSchedule => ({
  name,
  T,
  t0,
  alpha: (t) => Math.exp(logAlpha(t)),
  sigma: (t) => vpSigma(logAlpha(t)),
  lambda: (t) => vpLambda(logAlpha(t)),
  tOfLambda: (l) => tOfLogAlpha(vpLogAlphaOfLambda(l)),
})

/** piecewise-linear interpolation through (xs, ys), xs increasing, extrapolating along the end segments */
export const interpolate =
  (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>) =>
  (x: number): number => {
    const n = xs.length
    let k: number
    if (x <= xs[0]!) k = 0
    else if (x >= xs[n - 1]!) k = n - 2
    else {
      let lo = 0
      let hi = n - 1
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1
        if (xs[mid]! <= x) lo = mid
        else hi = mid
      }
      k = lo
    }
    const x0 = xs[k]!
    const x1 = xs[k + 1]!
    const y0 = ys[k]!
    const y1 = ys[k + 1]!
    return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0)
  }

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** VP discrete (DPM-Solver 'discrete'): log α piecewise linear through (tᵢ, ½·Σ_{k≤i} log(1−β_k)), tᵢ = (i+1)/N */
export const vpDiscrete = (opts: { readonly betas: ReadonlyArray<number>; readonly tArray?: ReadonlyArray<number>; readonly logAlphaArray?: ReadonlyArray<number> }): NoiseSchedule => {
  const N = opts.betas.length
  const tArray = opts.tArray ?? opts.betas.map((_, i) => (i + 1) / N)
  const logAlphaArray =
    opts.logAlphaArray ??
    (() => {
      const out: number[] = []
      let acc = 0
      for (const b of opts.betas) {
        acc += Math.log1p(-b)
        out.push(0.5 * acc)
      }
      return out
    })()
  const la = interpolate(tArray, logAlphaArray)
  // log α decreases with t: flip both arrays so the inverse interpolates over increasing log α
  const laInc = [...logAlphaArray].reverse()
  const tInc = [...tArray].reverse()
  const tOfLa = interpolate(laInc, tInc)
  return { ...vpFromLogAlpha('vp-discrete', 1, 1e-3, la, tOfLa), domain: [Math.min(...tArray), Math.max(...tArray)] }
}

/** DDPM betas linspace(β_start, β_end, N) (the default discrete model, N = 1000) */
export const linearBetas = (start = 1e-4, end = 0.02, N = 1000): ReadonlyArray<number> => Array.from({ length: N }, (_, i) => start + ((end - start) * i) / (N - 1))

/** VP linear (ScoreSDE): log α_t = −¼t²(β1−β0) − ½tβ0; t(λ) = 2(β1−β0)L / ((β1−β0)(sqrt(β0² + 2(β1−β0)L) + β0)), L = logaddexp(−2λ, 0) */
export const vpLinear = (beta0 = 0.1, beta1 = 20): NoiseSchedule => {
  const d = beta1 - beta0
  const logAlpha = (t: number) => -0.25 * t * t * d - 0.5 * t * beta0
  return {
    name: 'vp-linear',
    T: 1,
    t0: 1e-3,
    alpha: (t) => Math.exp(logAlpha(t)),
    sigma: (t) => vpSigma(logAlpha(t)),
    lambda: (t) => vpLambda(logAlpha(t)),
    tOfLambda: (l) => {
      const tmp = 2 * d * logaddexp(-2 * l, 0)
      const delta = beta0 * beta0 + tmp
      return tmp / (Math.sqrt(delta) + beta0) / d
    },
  }
}

/** VP cosine (continuous, s = 0.008): log α_t = log cos((t+s)/(1+s)·π/2) − log cos(s/(1+s)·π/2), T = 0.9946 */
export const vpCosine = (s = 0.008, T = 0.9946): NoiseSchedule => {
  const la0 = Math.log(Math.cos((s / (1 + s)) * (Math.PI / 2)))
  const logAlpha = (t: number) => Math.log(Math.cos(((t + s) / (1 + s)) * (Math.PI / 2))) - la0
  const tOfLa = (la: number) => (Math.acos(Math.exp(la + la0)) * 2 * (1 + s)) / Math.PI - s
  return vpFromLogAlpha('vp-cosine', T, 1e-3, logAlpha, tOfLa)
}

/** VE (ScoreSDE): α = 1, σ(t) = σ_min·(σ_max/σ_min)^t, λ = −log σ */
export const ve = (sigmaMin = 0.01, sigmaMax = 50): NoiseSchedule => {
  const r = Math.log(sigmaMax / sigmaMin)
  return {
    name: 've',
    T: 1,
    t0: 1e-3,
    alpha: () => 1,
    sigma: (t) => sigmaMin * Math.exp(r * t),
    lambda: (t) => -(Math.log(sigmaMin) + r * t),
    tOfLambda: (l) => (-l - Math.log(sigmaMin)) / r,
  }
}

/** EDM / Karras: α = 1, σ = t, λ = −log t, t(λ) = e^{−λ} */
export const edm = (sigmaMin = 0.002, sigmaMax = 80): NoiseSchedule => ({
  name: 'edm',
  T: sigmaMax,
  t0: sigmaMin,
  alpha: () => 1,
  sigma: (t) => t,
  lambda: (t) => -Math.log(t),
  tOfLambda: (l) => Math.exp(-l),
})

/** flow matching / rectified flow: α = 1 − t, σ = t, λ = log1p(−t) − log t, t(λ) = 1/(1 + e^λ) */
export const flow = (T = 0.999, t0 = 1e-3): NoiseSchedule => ({
  name: 'flow',
  T,
  t0,
  alpha: (t) => 1 - t,
  sigma: (t) => t,
  lambda: (t) => Math.log1p(-t) - Math.log(t),
  tOfLambda: (l) => (l >= 0 ? Math.exp(-l) / (1 + Math.exp(-l)) : 1 / (1 + Math.exp(l))),
})

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

/** the point record of t: {t, α_t, σ_t, λ_t} */
export const point =
  (ns: NoiseSchedule) =>
  (t: number): Point => ({
    t,
    alpha: ns.alpha(t),
    sigma: ns.sigma(t),
    lambda: ns.lambda(t),
  })

/** σ̄(t) = σ_t/α_t = e^{−λ_t}, the VE ("k-diffusion") noise level */
export const sigmaBar =
  (ns: NoiseSchedule) =>
  (t: number): number =>
    Math.exp(-ns.lambda(t))

/** the same schedule sampled over another default range [t0, T] */
export const withRange =
  (T: number, t0: number) =>
  (ns: NoiseSchedule): NoiseSchedule => ({ ...ns, T, t0 })
