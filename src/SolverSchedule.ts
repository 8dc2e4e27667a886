/**
 * A solver schedule is data: a grid and, per step, the USF decisions (prediction type, order,
 * nodes, basis, relaxation, corrector, start point), plus global options. Named solvers are
 * constructors returning this value; `compile` (Program.ts) turns it into an executable program;
 * `codecs/SolverSchedule.ts` decodes it from JSON with path-naming errors.
 */
import type { Grid } from './Grid.ts'
import type { Prediction } from './Parameterization.ts'
import type { Basis, Relaxation } from './Rule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the document format tag */
export const FORMAT = 'stepwise-schedule/v1'

/**
 * A corrector re-does the step from the same start with the new evaluation at the target added
 * as a node. History indices count from the new point (−1). 'pseudo' (UniC, USF): the evaluation
 * at the uncorrected point is kept as the target's history (0 extra NFE); 'reeval' (Heun, PLMS):
 * the corrected point is evaluated again before the next step (1 extra NFE, none after the last step).
 */
export interface Corrector {
  readonly mode: 'pseudo' | 'reeval'
  /** number of model outputs combined; default: predictor order + 1 */
  readonly order?: number
  /** history indices (−1 = the new point); default: −1, then the predictor's nodes shifted by one */
  readonly nodes?: ReadonlyArray<number>
  readonly basis?: Basis
  readonly relaxation?: Relaxation
}

/**
 * Noise injection (§11): 'sde' is the SDE-DPM-Solver++ family (data prediction, any order):
 * x_t = (σ_t/σ_s)e^{−ηh}x_s + α_t(1+η)∫e^{−(1+η)(λ_t−λ)}x̂0 dλ + σ_t·sqrt(1 − e^{−2ηh})·z;
 * 'ddim' (Song's η) and 'ancestral' (k-diffusion's σ_up, capped at σ_t) are first-order:
 * x_t = α_t·x0 + sqrt(σ_t² − s²)·ε̂ + s·z with s = η·σ_t·sqrt(1 − e^{−2h}). η = 0 is the ODE step.
 */
export interface Noise {
  readonly level: 'sde' | 'ddim' | 'ancestral'
  readonly eta: number
  /** multiplies the injected noise (k-diffusion s_noise), default 1 */
  readonly sNoise?: number
}

/** EDM churn: before the step, raise σ̄ to σ̂ = σ̄·(1 + γ) by adding sqrt(σ̂² − σ̄²)·sNoise·z (in x/α units) */
export interface Churn {
  readonly gamma: number
  readonly sNoise?: number
}

/**
 * Momentum (§5) on the step's direction d = Σcⱼmⱼ/Σcⱼ: heavy ball v ← (1−β)v + βd, x = A·x_s + B·v;
 * Nesterov x = A·x_s + B·((1−β)v + βd); GHVB keeps vₙ = (1−β)vₙ₋₁ + β·mₙ per point and applies the
 * rule to the v's (generalized AB weights P_k(·; β) for 'ab', an EMA-lag term for λ rules). β = 1 is the base step.
 */
export interface Momentum {
  readonly kind: 'hb' | 'nt' | 'ghvb'
  readonly beta: number
}

/**
 * Time-shift (TS-DPM, §6): per sample, the step's target moves to the time t̂ within ±⌊window/2⌋/scale
 * of the nominal target whose σ² is closest to the sample's variance, while the nominal target is
 * above cutoff/scale (scale 1000: the integer DDPM time). window 1 is the base step.
 */
export interface TimeShift {
  readonly window: number
  readonly cutoff: number
  readonly scale?: number
}

/**
 * One step from the current grid point to the next. History index −1 is the current point, −2
 * the one before, … (one entry per visited grid point).
 */
export interface StepDecision {
  readonly prediction: Prediction
  /** number of model outputs combined (1 = DDIM) */
  readonly order: number
  /** history index of the start point: −1 multistep, −k restarts from k−1 points back (singlestep) */
  readonly start?: number
  /** history indices of the outputs to interpolate; default: start, then newer points, then older */
  readonly nodes?: ReadonlyArray<number>
  /** interpolation basis; default 'lambda' */
  readonly basis?: Basis
  /** relaxation of the first derivative; default 'none' */
  readonly relaxation?: Relaxation
  /** parity with the reference 3M: halve the second-derivative term */
  readonly halveSecondDerivative?: boolean
  readonly corrector?: Corrector
  readonly noise?: Noise
  readonly churn?: Churn
  readonly momentum?: Momentum
  readonly timeShift?: TimeShift
}

/** global options */
export interface Options {
  /** 'evaluate' (default) or USF's analytical first step 'zero_x0' (ε(x_T, T) := x_T, saves 1 NFE) */
  readonly firstStep?: 'evaluate' | 'zero_x0'
  /** after the last step, x ← x̂0(x, t_end) (+1 NFE) */
  readonly denoiseToZero?: boolean
}

/** a solver schedule document */
export interface SolverSchedule {
  readonly format: typeof FORMAT
  readonly name?: string
  readonly grid: Grid
  readonly steps: ReadonlyArray<StepDecision>
  readonly options?: Options
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a schedule from a grid and its per-step decisions */
export const make = (grid: Grid, steps: ReadonlyArray<StepDecision>, name?: string, options?: Options): SolverSchedule => ({
  format: FORMAT,
  ...(name === undefined ? {} : { name }),
  grid,
  steps,
  ...(options === undefined ? {} : { options }),
})

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** start index, default −1 */
export const startOf = (d: StepDecision): number => d.start ?? -1

/** default node order (USF): start, then points newer than start up to −1, then older ones; first `order` of them */
export const defaultNodes = (start: number, order: number, available: number): ReadonlyArray<number> => {
  const out: number[] = [start]
  for (let k = start + 1; k <= -1; k++) out.push(k)
  for (let k = start - 1; k >= -available; k--) out.push(k)
  return out.slice(0, order)
}

/** predictor nodes of a step (explicit or default), given `available` history points */
export const nodesOf = (d: StepDecision, available: number): ReadonlyArray<number> =>
  d.nodes ?? defaultNodes(startOf(d), d.order, available)

/** corrector order, default predictor order + 1 */
export const correctorOrder = (d: StepDecision, c: Corrector): number => c.order ?? d.order + 1

/** corrector nodes: explicit, or −1 then the predictor's nodes shifted by one (then older points), cut to the order */
export const correctorNodes = (d: StepDecision, c: Corrector, available: number): ReadonlyArray<number> => {
  if (c.nodes !== undefined) return c.nodes
  const shifted = nodesOf(d, available - 1).map((k) => k - 1)
  const out: number[] = [-1, ...shifted]
  for (let k = -2; k >= -available && out.length < correctorOrder(d, c); k--) if (!out.includes(k)) out.push(k)
  return out.slice(0, correctorOrder(d, c))
}

/** NFE of a schedule on its own grid */
export const nfe = (s: SolverSchedule): number => {
  const n = s.steps.length
  let count = s.options?.firstStep === 'zero_x0' ? 0 : 1
  let fresh = true
  s.steps.forEach((d, i) => {
    if (i > 0 && !fresh) count++
    fresh = false
    if (d.corrector !== undefined) {
      count++
      fresh = d.corrector.mode === 'pseudo'
    }
  })
  if (n === 0) count = 0
  if (s.options?.denoiseToZero === true) count++
  return count
}
