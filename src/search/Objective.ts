/**
 * What the search minimises. A calibration batch of start points x_T (seeded standard normals) and
 * its target: the teacher (the exact PF-ODE endpoint of the *same* mixture from the same x_T, an
 * adaptive Dormand–Prince solve at 1e-12, computed once per batch) or, for a model without a
 * teacher, samples of the data distribution at t_0 compared by sliced Wasserstein distance.
 * A candidate's score is mean_n ‖y_n − x_n‖₂ (teacher) or SW₁ (distribution); a run that fails
 * or produces a non-finite value scores +∞. NFE is exact by construction (Space.repair).
 * A mean-reverting problem carries its condition μ in the batch (row b: μ's row b mod N): x_T is the
 * IR-SDE prior μ + λ_∞·z, the teacher its exact MR endpoint, and every run gets μ (the MR model and `mu`).
 */
import * as Gmm from '../core/Gmm.ts'
import * as Golden from '../interop/Golden.ts'
import type { NoiseSchedule } from '../core/NoiseSchedule.ts'
import * as MR from '../models/MeanReverting.ts'
import * as Prog from '../run/Program.ts'
import * as Reference from '../models/Reference.ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as F from '../run/Float64.ts'
import * as R from './Rng.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** 'teacher': mean L2 to the exact endpoint; 'swd': sliced Wasserstein-1 to data samples at t_0 */
export type Metric = 'teacher' | 'swd'

/** a batch of start points and what their outputs are compared with (plain data: sent to workers) */
export interface Batch {
  readonly metric: Metric
  readonly rows: number
  readonly seed: number
  readonly D: number
  /** x_T, row-major [rows·D] */
  readonly xT: Float64Array
  /** 'teacher': the exact endpoints [rows·D]; 'swd': data samples at t_0 [rows·D] */
  readonly target: Float64Array
  /** 'swd' only: unit projection directions [P·D] */
  readonly directions: Float64Array
  /** mean-reverting problems: the condition μ of every row [rows·D]; empty otherwise */
  readonly mu: Float64Array
}

/** the number of random projections of the sliced Wasserstein distance */
export const PROJECTIONS = 64

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** x_T = `rows` standard normal rows from `seed` (Box–Muller on mulberry32, as Gmm.normals) */
export const startPoints = (D: number, rows: number, seed: number): Float64Array => Gmm.normals(rows * D, seed)

/** the condition μ of `rows` rows (row b: μ's row b mod N; one row of D: every row), empty when the problem is not mean-reverting */
export const conditionOf = (pf: Golden.ProblemFile, rows: number): Float64Array => {
  if (pf.schedule.name !== 'mean_reverting') return new Float64Array(0)
  const D = pf.problem.D
  const flat = (pf.mu ?? []).flat()
  if (flat.length === 0 || flat.length % D !== 0) throw new Error(`a mean_reverting problem needs the condition "mu": D = ${D} numbers, or rows of D`)
  return Float64Array.from({ length: rows * D }, (_, k) => flat[k % flat.length]!)
}

/** start points from `seed`: standard normals, or on a mean-reverting problem the IR-SDE prior μ + λ_∞·z */
const startsFor = (pf: Golden.ProblemFile, ns: NoiseSchedule, rows: number, seed: number, mu: Float64Array): Float64Array => {
  const z = startPoints(pf.problem.D, rows, seed)
  return mu.length === 0 || ns.meanReverting !== true ? z : MR.prior(ns as MR.MeanRevertingSchedule, mu, z)
}

/** the teacher batch: x_T from `seed`, target = the exact PF-ODE endpoint (Reference.endpointOf, or MR.endpoint with μ), computed once here */
export const teacher = (pf: Golden.ProblemFile, rows: number, seed: number): Batch => {
  const g = Golden.gmm(pf)
  const ns = Golden.noiseSchedule(pf)
  const mu = conditionOf(pf, rows)
  const xT = startsFor(pf, ns, rows, seed, mu)
  const target = mu.length === 0 ? Reference.endpointOf(ns)(g, xT) : MR.endpoint(ns)(g, mu, xT)
  return { metric: 'teacher', rows, seed, D: g.D, xT, target, directions: new Float64Array(0), mu }
}

/** n samples of the mixture's marginal at t_0: α·μ_k + sqrt(α²s_k² + σ²)·z, k ~ w (seeded); mean-reverting: + (1 − α)·μ_b of row b */
export const dataSamples = (g: Gmm.Gmm, ns: NoiseSchedule, n: number, seed: number, mu: Float64Array = new Float64Array(0)): Float64Array => {
  const r = R.make(seed)
  const z = Gmm.normals(n * g.D, seed ^ 0x5bd1e995)
  const a = ns.alpha(ns.t0)
  const s2 = ns.sigma(ns.t0) ** 2
  const out = new Float64Array(n * g.D)
  for (let i = 0; i < n; i++) {
    const k = R.weighted(
      r,
      g.weights.map((w, j) => [j, w] as const),
    )
    for (let d = 0; d < g.D; d++) {
      const shift = mu.length === 0 ? 0 : (1 - a) * mu[i * g.D + d]!
      out[i * g.D + d] = a * g.means[k]![d]! + shift + Math.sqrt(a * a * g.variances[k]![d]! + s2) * z[i * g.D + d]!
    }
  }
  return out
}

/** the distribution batch: x_T from `seed`, target = as many data samples at t_0 (another stream), PROJECTIONS directions */
export const distribution = (pf: Golden.ProblemFile, rows: number, seed: number): Batch => {
  const g = Golden.gmm(pf)
  const raw = Gmm.normals(PROJECTIONS * g.D, seed + 7919)
  const directions = new Float64Array(raw.length)
  for (let p = 0; p < PROJECTIONS; p++) {
    let n2 = 0
    for (let d = 0; d < g.D; d++) n2 += raw[p * g.D + d]! ** 2
    for (let d = 0; d < g.D; d++) directions[p * g.D + d] = raw[p * g.D + d]! / Math.sqrt(n2)
  }
  const ns = Golden.noiseSchedule(pf)
  const mu = conditionOf(pf, rows)
  return {
    metric: 'swd',
    rows,
    seed,
    D: g.D,
    xT: startsFor(pf, ns, rows, seed, mu),
    target: dataSamples(g, ns, rows, seed + 104729, mu),
    directions,
    mu,
  }
}

/** a teacher batch from given rows: x_T and their exact endpoints (e.g. a golden file's x_T and ground truth) */
export const given = (D: number, xT: ReadonlyArray<ReadonlyArray<number>>, x0: ReadonlyArray<ReadonlyArray<number>>): Batch => ({
  metric: 'teacher',
  rows: xT.length,
  seed: -1,
  D,
  xT: Float64Array.from(xT.flat()),
  target: Float64Array.from(x0.flat()),
  directions: new Float64Array(0),
  mu: new Float64Array(0),
})

/** a batch for a metric */
export const batch =
  (metric: Metric) =>
  (pf: Golden.ProblemFile, rows: number, seed: number): Batch =>
    metric === 'teacher' ? teacher(pf, rows, seed) : distribution(pf, rows, seed)

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** mean_n ‖y_n − x_n‖₂ over row-major batches of width D */
export const meanL2 = (D: number, y: Float64Array, x: Float64Array): number => {
  const B = x.length / D
  let acc = 0
  for (let b = 0; b < B; b++) {
    let s = 0
    for (let d = 0; d < D; d++) s += (y[b * D + d]! - x[b * D + d]!) ** 2
    acc += Math.sqrt(s)
  }
  return acc / B
}

/** SW₁(y, x) = mean_p (1/N)·Σ_i |sort(⟨y, θ_p⟩)_i − sort(⟨x, θ_p⟩)_i| over unit directions θ_p (equal sample counts) */
export const slicedWasserstein = (D: number, directions: Float64Array, y: Float64Array, x: Float64Array): number => {
  const N = y.length / D
  const P = directions.length / D
  const py = new Float64Array(N)
  const px = new Float64Array(N)
  let acc = 0
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < N; i++) {
      let a = 0
      let b = 0
      for (let d = 0; d < D; d++) {
        a += y[i * D + d]! * directions[p * D + d]!
        b += x[i * D + d]! * directions[p * D + d]!
      }
      py[i] = a
      px[i] = b
    }
    py.sort()
    px.sort()
    let s = 0
    for (let i = 0; i < N; i++) s += Math.abs(py[i]! - px[i]!)
    acc += s / N
  }
  return acc / P
}

/** the score of outputs y on a batch: meanL2 to the teacher or SW₁ to the data samples */
export const scoreOutputs = (b: Batch, y: Float64Array): number => (b.metric === 'teacher' ? meanL2(b.D, y, b.target) : slicedWasserstein(b.D, b.directions, y, b.target))

/** the outputs of a schedule on a batch (Float64 interpreter, exact ε model; mean-reverting: the MR model and μ); throws when the run fails */
export const outputs = (pf: Golden.ProblemFile, b: Batch) => {
  const ns = Golden.noiseSchedule(pf)
  const g = Golden.gmm(pf)
  const model = b.mu.length === 0 ? Gmm.eps(g) : MR.eps(g, b.mu)
  const opts = { D: b.D, ...(b.mu.length === 0 ? {} : { mu: b.mu }) }
  return (s: S.SolverSchedule): Float64Array => F.run(Prog.compileOrThrow(ns, 'eps')(s), model, opts)(b.xT).x
}

/** the score of a schedule on a batch; +∞ when it fails or is not finite */
export const score = (pf: Golden.ProblemFile, b: Batch) => {
  const run = outputs(pf, b)
  return (s: S.SolverSchedule): number => {
    try {
      const e = scoreOutputs(b, run(s))
      return Number.isFinite(e) ? e : Number.POSITIVE_INFINITY
    } catch {
      return Number.POSITIVE_INFINITY
    }
  }
}

/** why a schedule scores +∞ on a batch (the run's error, or the non-finite score), undefined when it scores a finite value */
export const failure = (pf: Golden.ProblemFile, b: Batch) => {
  const run = outputs(pf, b)
  return (s: S.SolverSchedule): string | undefined => {
    try {
      const e = scoreOutputs(b, run(s))
      return Number.isFinite(e) ? undefined : `its score is ${e}`
    } catch (err) {
      return err instanceof Error ? err.message : String(err)
    }
  }
}
