/**
 * MR Sampler (MRS, docs/math.md#mrs): on a mean-reverting schedule (`MeanReverting.schedule`) the
 * compiler runs every step on y = x − μ and adds the μ terms, so MRS is DPM-Solver(++) with the MR
 * driver: warm-up orders, lower order at the end below 10 steps, and (default, `eulerAtFinal`) a
 * first-order last step: on the default time-uniform grid the last interval spans λ ≈ 4 → 9 and a
 * higher-order step there overshoots (bench/RESULTS.md); it caps the asymptotic order at 2.
 * ODE: orders 1–3 (order 2 the exact linear λ-Lagrange rule = MRS's 'taylor' update; order 3 the exact
 * quadratic rule, or the reference's halved second derivative with `parity: 'reference'`). SDE: orders
 * 1–2 with η = 1 (data form x_t = (σ_t/σ_s)e^{−h}x_s + α_t(1 − e^{−2h})x0 + …; noise form: ε weights ×2,
 * noise σ_t·sqrt(expm1(2h))). On a schedule that is not mean-reverting they are the same DPM-Solver(++) steps.
 */
import * as OP from '../core/OrderPolicy.ts'
import type { Prediction } from '../core/Parameterization.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, gridOf, type Common } from './common.ts'
import type { Named } from './index.ts'
import * as P from './Params.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the MR driver's options */
export interface Driver {
  readonly prediction?: Prediction
  /** lower the order at the end when steps < this (default 10, as the MRS reference) */
  readonly lowerOrderFinalBelow?: number
  /** the last step first order (options.finalStep 'euler'), default true */
  readonly eulerAtFinal?: boolean
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the MRS step of order k: exact λ-Lagrange (order 3 optionally with the reference's halved D2), with η = 1 noise for the SDE */
const step = (prediction: Prediction, k: number, ref: boolean, sde: boolean): S.StepDecision => ({
  prediction,
  order: k,
  ...(k === 3 && ref ? { halveSecondDerivative: true } : {}),
  ...(sde ? { noise: { level: 'sde' as const, eta: 1 } } : {}),
})

/** the MR driver: order_i = min(p, i + 1) (and min(·, n − i) below `lowerOrderFinalBelow` steps), Euler at the final step by default */
const drive = (o: Common & Driver, order: number, ref: boolean, sde: boolean, name: string): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.orders(o.nfe)(OP.lowerOrderFinal(o.lowerOrderFinalBelow ?? 10)(OP.warmup(order)))
  const steps = orders.map((k) => step(o.prediction ?? 'data', k, ref, sde))
  return S.make(gridOf(o.grid ?? 'time_uniform', o.nfe), steps, name, o.eulerAtFinal === false ? undefined : { finalStep: 'euler' })
}

/** MRS-ODE-p (p ≤ 3), data prediction by default */
export const ode = (o: Common & Driver & { readonly order: 1 | 2 | 3; readonly parity?: 'exact' | 'reference' }): S.SolverSchedule =>
  drive(o, o.order, o.parity === 'reference', false, `mrs-ode-${o.order}${o.parity === 'reference' ? '-ref' : ''}`)

/** MRS-SDE-p (p ≤ 2): the same driver, every step with SDE noise η = 1 */
export const sde = (o: Common & Driver & { readonly order: 1 | 2 }): S.SolverSchedule => drive(o, o.order, false, true, `mrs-sde-${o.order}`)

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

const prediction = P.choice("'data' (default, recommended) or 'noise' (unstable at few steps, docs/math.md#mrs)", ['data', 'noise'])
const parity = P.choice("'exact' (default) or 'reference' (halved second derivative, as the MRS code)", ['exact', 'reference'])
const lofBelow = P.number('lower the order at the end when steps < this (default 10, as the MRS reference; 0 = never; inf = always)', { min: 0, inf: true })
const eulerAtFinal = P.flag("first-order last step (default 'true'; 'false' = the reference's full-order last step)")

/** the driver options from a checked `--set` */
const driver = (set: P.Sets | undefined): Driver => ({
  prediction: P.word(set, 'prediction', ['data', 'noise'], 'data'),
  lowerOrderFinalBelow: P.num(set, 'lowerOrderFinalBelow', 10),
  eulerAtFinal: P.bool(set, 'eulerAtFinal', true),
})

/** declared order: with the first-order last step, min(p, 2) asymptotically */
const odeNamed = (order: 1 | 2 | 3): Named => ({
  id: `mrs-ode-${order}`,
  label: `MRS-ODE-${order} (mean-reverting: DPM-Solver++ on y = x − μ, Euler at the end)`,
  order: Math.min(order, 2),
  defaultGrid: 'time_uniform',
  params: { prediction, ...(order === 3 ? { parity } : {}), lowerOrderFinalBelow: lofBelow, eulerAtFinal },
  build: (o) => ode({ nfe: o.nfe, ...(o.grid === undefined ? {} : { grid: o.grid }), order, ...driver(o.set), parity: P.word(o.set, 'parity', ['exact', 'reference'], 'exact') }),
})

const sdeNamed = (order: 1 | 2): Named => ({
  id: `mrs-sde-${order}`,
  label: `MRS-SDE-${order} (mean-reverting: SDE-DPM-Solver++ η = 1 on y)`,
  order,
  defaultGrid: 'time_uniform',
  params: { prediction, lowerOrderFinalBelow: lofBelow, eulerAtFinal },
  build: (o) => sde({ nfe: o.nfe, ...(o.grid === undefined ? {} : { grid: o.grid }), order, ...driver(o.set) }),
})

/** the named solvers of this family, in display order */
export const named: ReadonlyArray<Named> = [odeNamed(1), odeNamed(2), odeNamed(3), sdeNamed(1), sdeNamed(2)]
