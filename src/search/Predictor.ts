/**
 * The S³ predictor (docs/math.md#s3): a small MLP (tfjs, wasm backend, cpu fallback) that maps a
 * candidate's fixed-length encoding to a score whose order should match the true error's. Trained
 * on the evaluated schedules with the pairwise hinge ranking loss
 *   L = mean over pairs (i, j) with y_i < y_j − margin of max(0, 1 − (s_j − s_i)),  y = log(error),
 * it ranks many mutated candidates so that only the most promising are evaluated. Weights are
 * initialised and pairs drawn from the search's seeded generator, so training is reproducible.
 */
import * as Sp from './Space.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** an evaluated candidate */
export interface Scored {
  readonly candidate: Sp.Candidate
  readonly score: number
}

/** a trained ranker: lower output = predicted better; `tau` is Kendall's τ on held-out evaluated candidates */
export interface Ranker {
  readonly rank: (cs: ReadonlyArray<Sp.Candidate>) => Float32Array
  readonly tau: number
  readonly dispose: () => void
}

/** training settings */
export interface Settings {
  readonly hidden: number
  readonly steps: number
  readonly pairs: number
  readonly learningRate: number
  /** pairs whose log-errors differ by less than this are skipped */
  readonly margin: number
  /** at most this many (most recent) evaluated candidates are used */
  readonly maxData: number
}

/** 64 hidden units × 2 layers, 40 Adam steps of 512 pairs, lr 3e-3, margin 0.02, ≤ 2500 samples (≈ 1–2 s on wasm) */
export const defaults: Settings = { hidden: 64, steps: 40, pairs: 512, learningRate: 3e-3, margin: 0.02, maxData: 2500 }

/** features per step of the encoding */
export const STEP_FEATURES = 16

// -------------------------------------------------------------------------------------------------
// encoding
// -------------------------------------------------------------------------------------------------

/** the longest schedule of a budget: n ≤ nfe + 1 (zero_x0, no extra evaluations) */
export const maxSteps = (nfe: number): number => nfe + 1

/** the encoding length: STEP_FEATURES per step slot + 3 global features */
export const width = (nfe: number): number => maxSteps(nfe) * STEP_FEATURES + 3

/**
 * x(c) ∈ ℝ^width: per step slot [present, n·gap, U_start, data, order/4, depth of start/3, explicit nodes,
 * basis t, basis ρ, named relaxation, linear relaxation, its c, pseudo, reeval, corrector order/5, corrector c];
 * then [zero_x0, denoiseToZero, n/maxSteps]
 */
export const features =
  (nfe: number) =>
  (c: Sp.Candidate): Float32Array => {
    const M = maxSteps(nfe)
    const x = new Float32Array(width(nfe))
    const n = c.steps.length
    const u = Sp.fractions(c)
    c.steps.slice(0, M).forEach((g, i) => {
      const o = i * STEP_FEATURES
      const corr = g.corrector
      x[o] = 1
      x[o + 1] = n * c.gaps[i]!
      x[o + 2] = u[i]!
      x[o + 3] = g.prediction === 'data' ? 1 : 0
      x[o + 4] = g.order / 4
      x[o + 5] = (-1 - g.start) / 3
      x[o + 6] = g.nodes === 'default' ? 0 : 1
      x[o + 7] = g.basis === 't' ? 1 : 0
      x[o + 8] = g.basis === 'rho' ? 1 : 0
      x[o + 9] = typeof g.relaxation === 'string' && g.relaxation !== 'none' ? 1 : 0
      x[o + 10] = typeof g.relaxation === 'object' ? 1 : 0
      x[o + 11] = typeof g.relaxation === 'object' ? g.relaxation.linear : 0
      x[o + 12] = corr.mode === 'pseudo' ? 1 : 0
      x[o + 13] = corr.mode === 'reeval' ? 1 : 0
      x[o + 14] = corr.mode === 'none' ? 0 : (corr.order === 'default' ? g.order + 1 : corr.order) / 5
      x[o + 15] = corr.mode !== 'none' && typeof corr.relaxation === 'object' ? corr.relaxation.linear : 0
    })
    const o = M * STEP_FEATURES
    x[o] = c.firstStep === 'zero_x0' ? 1 : 0
    x[o + 1] = c.denoiseToZero ? 1 : 0
    x[o + 2] = n / M
    return x
  }

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** Kendall's τ-a between two equally long lists (O(n²), n ≤ a few hundred) */
export const kendall = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const n = a.length
  let s = 0
  let pairs = 0
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      s += Math.sign(a[i]! - a[j]!) * Math.sign(b[i]! - b[j]!)
      pairs++
    }
  return pairs === 0 ? 0 : s / pairs
}

/** log(error) with +∞ replaced by (largest finite) + 1 */
export const targets = (data: ReadonlyArray<Scored>): Float64Array => {
  const logs = data.map((d) => Math.log(d.score))
  const finite = logs.filter(Number.isFinite)
  const cap = finite.length === 0 ? 0 : Math.max(...finite) + 1
  return Float64Array.from(logs, (v) => (Number.isFinite(v) ? v : cap))
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * train a ranker on evaluated candidates of one budget (the most recent `maxData`); 20% (every fifth)
 * are held out to measure Kendall's τ, then the net is trained on all of them (the MLP runs on tfjs: search/TfjsPredictor.ts)
 */
export const train = async (nfe: number, data: ReadonlyArray<Scored>, seed: number, s: Settings = defaults): Promise<Ranker> => (await import('./TfjsPredictor.ts')).train(nfe, data, seed, s)
