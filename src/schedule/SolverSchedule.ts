/**
 * A solver schedule is data: a grid and, per step, the USF decisions (prediction type, order,
 * nodes, basis, relaxation, corrector, start point), plus global options. Named solvers are
 * constructors returning this value; `compile` (Compile.ts) turns it into an executable program;
 * `schedule/Codec.ts` decodes it from JSON with path-naming errors.
 */
import type { Grid } from '../core/Grid.ts'
import { intoZeroAnyOrder } from '../core/Rule.ts'
import * as C from '../steps/Corrector.ts'
import * as X from '../steps/ExpInt.ts'
import * as Reg from '../steps/Registry.ts'
import * as St from '../steps/Step.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the document format tag */
export const FORMAT = 'stepwise-schedule/v1'

/** one step's decisions: the type of the step codec assembled from the step behaviours (steps/Registry.ts) */
export type StepDecision = Reg.StepDecision
/** a corrector decision (steps/Corrector.ts) */
export type Corrector = NonNullable<StepDecision['corrector']>
/** a noise injection decision (steps/Noise.ts) */
export type Noise = NonNullable<StepDecision['noise']>
/** an EDM churn decision (steps/Churn.ts) */
export type Churn = NonNullable<StepDecision['churn']>
/** a Langevin corrector decision (steps/Langevin.ts) */
export type Langevin = NonNullable<StepDecision['langevin']>
/** a momentum decision (steps/Momentum.ts, steps/Ghvb.ts) */
export type Momentum = NonNullable<StepDecision['momentum']>
/** a time-shift decision (steps/TimeShift.ts) */
export type TimeShift = NonNullable<StepDecision['timeShift']>

/** global options */
export interface Options {
  /** 'evaluate' (default) or USF's analytical first step 'zero_x0' (ε(x_T, T) := x_T, saves 1 NFE) */
  readonly firstStep?: 'evaluate' | 'zero_x0'
  /** after the last step, x ← x̂0(x, t_end) (+1 NFE) */
  readonly denoiseToZero?: boolean
  /** final-step policy: 'lower_order' order_i ← min(order_i, n − i); 'euler' the last step is first order without corrector */
  readonly finalStep?: 'lower_order' | 'euler'
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

/** every step of a schedule with `f` applied, renamed */
export const mapSteps = (s: SolverSchedule, f: (d: StepDecision, i: number) => StepDecision, name: string): SolverSchedule => ({ ...s, name, steps: s.steps.map(f) })

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** start index, default −1 */
export const startOf = X.startOf
/** default node order (USF): start, then points newer than start up to −1, then older ones; first `order` of them */
export const defaultNodes = X.defaultNodes
/** predictor nodes of a step (explicit or default), given `available` history points */
export const nodesOf = X.nodesOf
/** corrector order, default predictor order + 1 */
export const correctorOrder = C.orderOf
/** corrector nodes: explicit, or −1 then the predictor's nodes shifted by one (then older points), cut to the order */
export const correctorNodes = C.nodesOf

/** the decision with order min(order, k): explicit nodes cut to the first k, the halved 3M term only while k ≥ 3 */
const capOrder = (d: StepDecision, k: number): StepDecision => {
  if (k >= d.order) return d
  const { nodes, halveSecondDerivative, ...rest } = d
  return { ...rest, order: k, ...(nodes === undefined ? {} : { nodes: nodes.slice(0, k) }), ...(halveSecondDerivative === true && k >= 3 ? { halveSecondDerivative } : {}) }
}

/** Euler at the step: one first-order step on its first node (its start by default), no corrector */
const eulerStep = (d: StepDecision): StepDecision => {
  if (d.order === 1 && d.corrector === undefined) return d
  const { corrector: _c, relaxation: _r, ...rest } = capOrder(d, 1)
  return rest
}

/** into σ = 0 with grid.final sigma0: a noise step in basis ρ keeps its order (the σ̄-polynomial integrates to σ̄ = 0: LMS), without corrector; any other step becomes Euler */
const intoZero = (d: StepDecision): StepDecision => {
  if (!intoZeroAnyOrder({ prediction: d.prediction, basis: d.basis ?? 'lambda' })) return eulerStep(d)
  const { corrector: _c, ...rest } = d
  return rest
}

/**
 * the decisions `compile` runs: options.finalStep applied (lower_order: order_i ← min(order_i, n − i); euler:
 * the last step first order, no corrector), and 'euler' at the last step whenever grid.final is sigma0 (into
 * σ = 0 only the first-order step is finite in λ: x_t = α_t·x̂0, diffusers' rule for final_sigmas_type = 'zero';
 * a noise step in basis ρ keeps its order there, as k-diffusion's and diffusers' LMS integrate to σ̄ = 0)
 */
export const effectiveSteps = (s: SolverSchedule): ReadonlyArray<StepDecision> => {
  const n = s.steps.length
  const policy = s.options?.finalStep
  const lowered = policy === 'lower_order' ? s.steps.map((d, i) => capOrder(d, n - i)) : s.steps
  if (policy === 'euler') return lowered.map((d, i) => (i === n - 1 ? eulerStep(d) : d))
  return s.grid.final === 'sigma0' ? lowered.map((d, i) => (i === n - 1 ? intoZero(d) : d)) : lowered
}

/** NFE of a schedule, from its steps' declared needs (`Step.nfeOf`; the laws check it against the compiled program) */
export const nfe = (s: SolverSchedule): number =>
  St.nfeOf(
    effectiveSteps(s).map((d) => Reg.fromDecision(d).needs),
    s.options?.firstStep === 'zero_x0',
    s.options?.denoiseToZero === true,
  )
