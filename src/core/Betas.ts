/**
 * Discrete VP (DDPM-family) β schedules as the training code defines them (docs/math.md#discrete-vp), ᾱ, σ̄
 * and the discrete → continuous conversions (same section): diffusers' integer timesteps sit on the knots
 * tₙ = (n+1)/N of `NoiseSchedule.vpDiscrete`; DPM-Solver's own conversion drops the entries with λ < −5.1.
 */
import * as NS from './NoiseSchedule.ts'

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** linear (DDPM): β_n = β_start + (β_end − β_start)·n/(N−1) */
export const linear = (start = 1e-4, end = 0.02, N = 1000): ReadonlyArray<number> => Array.from({ length: N }, (_, n) => (N === 1 ? start : start + ((end - start) * n) / (N - 1)))

/** scaled_linear (Stable Diffusion, "quad"): β_n = (√β_start + (√β_end − √β_start)·n/(N−1))² */
export const scaledLinear = (start = 0.00085, end = 0.012, N = 1000): ReadonlyArray<number> => linear(Math.sqrt(start), Math.sqrt(end), N).map((b) => b * b)

/** iDDPM cosine ᾱ(τ) = cos²((τ + s)/(1 + s)·π/2), s = 0.008 (τ ∈ [0, 1]) */
export const cosineAlphaBar = (tau: number, s = 0.008): number => Math.cos(((tau + s) / (1 + s)) * (Math.PI / 2)) ** 2

/** squaredcos_cap_v2 (iDDPM/GLIDE cosine): β_n = min(1 − ᾱ((n+1)/N)/ᾱ(n/N), max_β), max_β = 0.999 */
export const squaredCosCapV2 = (N = 1000, maxBeta = 0.999): ReadonlyArray<number> => Array.from({ length: N }, (_, n) => Math.min(1 - cosineAlphaBar((n + 1) / N) / cosineAlphaBar(n / N), maxBeta))

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** ᾱ_n = Π_{k≤n} (1 − β_k), accumulated in log space: exp(Σ log1p(−β_k)) */
export const alphasCumprod = (betas: ReadonlyArray<number>): ReadonlyArray<number> => {
  let acc = 0
  return betas.map((b) => Math.exp((acc += Math.log1p(-b))))
}

/**
 * rescale_zero_terminal_snr (2305.08891 Alg. 1) on ᾱ: √ᾱ ← (√ᾱ − √ᾱ_last)·√ᾱ_0/(√ᾱ_0 − √ᾱ_last); the last
 * entry (0) is replaced by `floor` (diffusers: 2⁻²⁴) so σ̄ stays finite
 */
export const rescaleZeroTerminalSnr = (alphaBar: ReadonlyArray<number>, floor = 2 ** -24): ReadonlyArray<number> => {
  const r = alphaBar.map(Math.sqrt)
  const r0 = r[0]!
  const rT = r[r.length - 1]!
  return r.map((v, n) => (n === r.length - 1 ? floor : (((v - rT) * r0) / (r0 - rT)) ** 2))
}

/** σ̄_n = sqrt((1 − ᾱ_n)/ᾱ_n) (diffusers `sigmas`, k-diffusion noise levels) */
export const sigmaBars = (alphaBar: ReadonlyArray<number>): ReadonlyArray<number> => alphaBar.map((a) => Math.sqrt((1 - a) / a))

/** λ_n = ½·log(ᾱ_n/(1 − ᾱ_n)) (half-logSNR of each training timestep) */
export const lambdas = (alphaBar: ReadonlyArray<number>): ReadonlyArray<number> => alphaBar.map((a) => 0.5 * (Math.log(a) - Math.log1p(-a)))

// -------------------------------------------------------------------------------------------------
// noise schedules
// -------------------------------------------------------------------------------------------------

/**
 * the discrete VP schedule with integer timestep n at tₙ = (n+1)/N: log α piecewise linear through
 * (tₙ, ½·log ᾱ_n) (`NoiseSchedule.vpDiscrete`), default range [1/N, 1] (timesteps 0 … N−1)
 */
export const discrete = (alphaBar: ReadonlyArray<number>): NS.NoiseSchedule => {
  const N = alphaBar.length
  const ns = NS.vpDiscrete({
    betas: alphaBar,
    tArray: alphaBar.map((_, n) => (n + 1) / N),
    logAlphaArray: alphaBar.map((a) => 0.5 * Math.log(a)),
  })
  return NS.withRange(1, 1 / N)(ns)
}

/**
 * DPM-Solver's `NoiseScheduleVP('discrete')`: drop the last #{n : λ_n < λ_clip} entries (λ_clip = −5.1,
 * matters for cosine schedules), then tₙ = (n+1)/N_eff over the N_eff that remain
 */
export const dpmSolverDiscrete = (betas: ReadonlyArray<number>, lambdaClip = -5.1): NS.NoiseSchedule => {
  const ab = alphasCumprod(betas)
  const drop = lambdas(ab).filter((l) => l < lambdaClip).length
  const kept = ab.slice(0, ab.length - drop)
  if (kept.length < 2) throw new Error(`dpmSolverDiscrete: only ${kept.length} entries have λ ≥ ${lambdaClip}`)
  const ns = discrete(kept)
  return { ...ns, name: 'vp-discrete-dpm-solver', T: 1, t0: 1 / kept.length }
}

/** diffusers' `_sigma_to_t`: the fractional timestep of σ̄ by linear interpolation of log σ̄ over the integer timesteps (clamped to [0, N−1]) */
export const sigmaToTimestep = (sigmaBar: ReadonlyArray<number>) => {
  const logs = sigmaBar.map(Math.log)
  const idx = logs.map((_, n) => n)
  const f = NS.interpolate(logs, idx)
  const lo = logs[0]!
  const hi = logs[logs.length - 1]!
  return (s: number): number => {
    const l = Math.log(Math.max(s, 1e-10))
    return l <= lo ? 0 : l >= hi ? logs.length - 1 : f(l)
  }
}
