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
 * 'reverse-diffusion' and 'euler-maruyama' (Score-SDE predictors, first-order, §11.3) discretize the
 * reverse SDE dx = [f·x − ½(1+η²)g²·ŝ]dt + η·g·dw̄ (ŝ = −ε̂/σ; η = 1 the reverse SDE, η = 0 its probability flow):
 * reverse diffusion x_t = (2 − α_s/α_t)·x_s + ½(1+η²)G²·ŝ_s + η·G·z, G² = α_s²(σ̄_s² − σ̄_t²);
 * Euler–Maruyama x_t = (1 − f_sΔ)·x_s + ½(1+η²)g_s²Δ·ŝ_s + η·g_s·sqrt(Δ)·z, Δ = s − t.
 */
export interface Noise {
  readonly level: 'sde' | 'ddim' | 'ancestral' | 'reverse-diffusion' | 'euler-maruyama'
  readonly eta: number
  /** multiplies the injected noise (k-diffusion s_noise), default 1 */
  readonly sNoise?: number
  /** DDPM's variance choice (levels sde, ddim, ancestral): 'small' (default, posterior β̃) or 'large' (noise ×σ_s/σ_t: sqrt(β) on VP) */
  readonly variance?: 'small' | 'large'
}

/**
 * EDM churn: before the step, raise σ̄ to σ̂ = σ̄·(1 + γ) by adding sqrt(σ̂² − σ̄²)·sNoise·z (in x/α units),
 * only where sTmin ≤ σ̄ ≤ sTmax (k-diffusion S_tmin, S_tmax; default 0 and ∞)
 */
export interface Churn {
  readonly gamma: number
  readonly sNoise?: number
  readonly sTmin?: number
  readonly sTmax?: number
}

/**
 * Langevin corrector (Score-SDE PC, §11.3) at the step's start point, before its evaluation: `steps`
 * times (one model evaluation each) x ← x + ε_L·ŝ + sqrt(2ε_L)·z, ŝ = −ε̂/σ_s, ε_L = 2a·(snr·‖z‖/‖ŝ‖)²,
 * a = (α_s/α_t)² (1 − β on VP, 1 on VE). norms 'expected' (default): ‖z‖² = D, ‖ŝ‖² = D/σ_s², so
 * ε_L = 2a·(snr·σ_s)² (no data dependence, batch-invariant); 'sample': each row's own norms
 * (batch-invariant, heavy-tailed in low D); 'batch': norms averaged over the batch (score_sde; couples the rows).
 */
export interface Langevin {
  readonly snr: number
  readonly steps: number
  readonly norms?: 'expected' | 'sample' | 'batch'
}

/**
 * Momentum (§5) on the step's direction d = Σcⱼmⱼ/Σcⱼ: heavy ball v ← (1−β)v + βd, x = A·x_s + B·v;
 * Nesterov x = A·x_s + B·((1−β)v + βd) (v ← d at the first momentum step; a corrector keeps its own v).
 * GHVB keeps vₙ = (1−β)vₙ₋₁ + β·mₙ per point (vₙ = mₙ where the chain starts, v = m before it) and applies
 * the rule to them: basis 'ab' the generalized AB weights P_k(·; β) on the v's, other bases v_s for one
 * node (P_1), else the nodes m̃_g = m_s − v_s + v_g (differences of the EMA; = P_2(·; β) for two). β = 1 is the base step.
 */
export interface Momentum {
  readonly kind: 'hb' | 'nt' | 'ghvb'
  readonly beta: number
  /**
   * parity with momentum-diffusion's UniPC (hb only): no momentum on the predictor (its EMA is
   * overwritten) and the corrector's EMA mixes d/σ_t of different steps: v ← (1−β)(σ_t/σ_t′)v + βd
   */
  readonly parity?: 'reference'
}

/**
 * Time-shift (TS-DPM, §6): per sample, the step's target moves to the time t̂ within ±⌊window/2⌋/scale
 * of the nominal target whose σ² is closest to the sample's variance, while the nominal target is
 * above cutoff/scale (scale 1000: the integer DDPM time); never at step 0. window 1 is the base step.
 */
export interface TimeShift {
  readonly window: number
  readonly cutoff: number
  readonly scale?: number
  /**
   * false (default, TS-DPM's DDIM/PNDM variant): the next step starts from the nominal time; true
   * (its DPM-Solver variant): t̂ is kept, the next model call and λ-differences use the per-sample times
   */
  readonly keep?: boolean
  /** the variance measured: 'x' (default, the current x) or 'output' (parity: the latest model output m_s, TS-DPM's DPM-Solver port) */
  readonly stat?: 'x' | 'output'
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
  /**
   * DPM-Solver-v3 (§8): integrate g of the EMS-reparameterised ODE instead of x0, with per-dimension
   * coefficients from the model's EMS (l, s, b) (`Program.compile(ns, param, { ems })`); data prediction,
   * basis lambda; degenerate EMS (l = 1, s = b = 0) is the same step without `ems`
   */
  readonly ems?: boolean
  readonly noise?: Noise
  readonly churn?: Churn
  readonly langevin?: Langevin
  readonly momentum?: Momentum
  readonly timeShift?: TimeShift
}

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

/**
 * the decisions `compile` runs: options.finalStep applied (lower_order: order_i ← min(order_i, n − i); euler:
 * the last step first order, no corrector), and 'euler' at the last step whenever grid.final is sigma0 (into
 * σ = 0 only the first-order step is finite: x_t = α_t·x̂0, diffusers' rule for final_sigmas_type = 'zero')
 */
export const effectiveSteps = (s: SolverSchedule): ReadonlyArray<StepDecision> => {
  const n = s.steps.length
  const policy = s.options?.finalStep
  const lowered = policy === 'lower_order' ? s.steps.map((d, i) => capOrder(d, n - i)) : s.steps
  return policy === 'euler' || s.grid.final === 'sigma0' ? lowered.map((d, i) => (i === n - 1 ? eulerStep(d) : d)) : lowered
}

/** NFE of a schedule on its own grid */
export const nfe = (s: SolverSchedule): number => {
  const n = s.steps.length
  let count = s.options?.firstStep === 'zero_x0' ? 0 : 1
  let fresh = true
  effectiveSteps(s).forEach((d, i) => {
    if (d.langevin !== undefined) {
      count += d.langevin.steps // Langevin evaluations at the start point, then a fresh one
      fresh = false
    }
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
