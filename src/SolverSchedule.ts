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
