/**
 * DDIM, DPM-Solver (noise prediction) and DPM-Solver++ (data prediction), singlestep and multistep,
 * as schedule constructors (docs/math.md#dpm-solver).
 */
import * as OP from '../core/OrderPolicy.ts'
import type { Prediction } from '../core/Parameterization.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, first, gridOf, type Common } from './common.ts'

/** DDIM = DPM-Solver-1: x_t = (α_t/α_s)·x_s − σ_t·expm1(h)·ε_s, one step per NFE */
export const ddim = (o: Common & { readonly prediction?: Prediction }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const p = o.prediction ?? 'noise'
  return S.make(
    gridOf(o.grid ?? 'time_uniform', o.nfe),
    Array.from({ length: o.nfe }, () => first(p)),
    'ddim',
  )
}

/**
 * singlestep DPM-Solver(++)-k ('dpmsolver' type): the NFE budget split into outer steps of order ≤ k
 * (docs/math.md#singlestep); order 2: s→s₁ DDIM, then from s with nodes {s, s₁} and the ½-midpoint relaxation;
 * order 3: s→s₁, s→s₂ (exact 2-node), s→t with nodes {s, s₂} (exact 2-node).
 */
export const singlestep = (o: Common & { readonly prediction: Prediction; readonly order: 2 | 3; readonly solverType?: 'dpmsolver' | 'taylor' }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.singlestepOrders(o.order, o.nfe)
  const kind = o.grid ?? 'logSNR'
  // uniform-in-something spacings: the inner points are the global grid's points (DPM-Solver subsamples it)
  const grid = kind === 'logSNR' || kind === 'karras' ? gridOf(kind, orders.length, orders) : gridOf(kind, o.nfe)
  const p = o.prediction
  const taylor = o.solverType === 'taylor'
  const steps = orders.flatMap((k): ReadonlyArray<S.StepDecision> => {
    if (k === 1) return [first(p)]
    if (k === 2) return [first(p), { prediction: p, order: 2, start: -2, nodes: [-2, -1], ...(taylor ? {} : { relaxation: 'dpmsolver-2' as const }) }]
    return [
      first(p),
      { prediction: p, order: 2, start: -2, nodes: [-2, -1] },
      taylor ? { prediction: p, order: 3, start: -3, nodes: [-3, -2, -1] } : { prediction: p, order: 2, start: -3, nodes: [-3, -1] },
    ]
  })
  const name = `${p === 'data' ? 'dpmpp' : 'dpm'}-${o.order}s`
  return S.make(grid, steps, name)
}

/**
 * multistep DPM-Solver(++) of order 2 or 3: warm-up orders, lower order at the end when
 * steps < `lowerOrderFinalBelow` (reference: 10); order-2 steps use the 'dpmsolver' ½ relaxation;
 * order-3 steps are the exact 3-node λ-Lagrange rule, or with `parity: 'reference'` the reference
 * update whose second-derivative term is halved (docs/math.md#reference-3m).
 */
/** the decision of an order-k DPM-Solver(++) multistep step: 'dpmsolver' the ½ relaxation at order 2 ('taylor' the exact 2-node rule), 'reference' halves the 3M second derivative */
export const step = (p: Prediction, k: number, solverType: 'dpmsolver' | 'taylor', parity: 'exact' | 'reference'): S.StepDecision =>
  k === 1
    ? first(p)
    : k === 2
      ? solverType === 'taylor'
        ? { prediction: p, order: 2 }
        : { prediction: p, order: 2, relaxation: 'dpmsolver-2' }
      : parity === 'reference'
        ? { prediction: p, order: 3, halveSecondDerivative: true }
        : { prediction: p, order: 3 }

/**
 * the decision of an order-k singlestep update from the start of its group (diffusers DPMSolverSinglestepScheduler, whose
 * inner points are grid points): k = 2 from two points back with nodes {start, newest} ('dpmsolver': the ½ relaxation;
 * 'taylor': the exact 2-node rule); k = 3 from three points back: 'dpmsolver' the exact 2-node rule on {start, newest},
 * 'taylor' the exact 3-node rule
 */
export const singlestepUpdate = (p: Prediction, k: number, solverType: 'dpmsolver' | 'taylor'): S.StepDecision =>
  k === 1
    ? first(p)
    : k === 2
      ? { prediction: p, order: 2, start: -2, nodes: [-2, -1], ...(solverType === 'taylor' ? {} : { relaxation: 'dpmsolver-2' as const }) }
      : solverType === 'taylor'
        ? { prediction: p, order: 3, start: -3, nodes: [-3, -2, -1] }
        : { prediction: p, order: 2, start: -3, nodes: [-3, -1] }

export const multistep = (
  o: Common & {
    readonly prediction: Prediction
    readonly order: 2 | 3
    readonly parity?: 'exact' | 'reference'
    readonly lowerOrderFinalBelow?: number
    readonly solverType?: 'dpmsolver' | 'taylor'
  },
): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.orders(o.nfe)(OP.lowerOrderFinal(o.lowerOrderFinalBelow ?? 10)(OP.warmup(o.order)))
  const p = o.prediction
  const ref = o.parity === 'reference'
  const steps = orders.map((k) => step(p, k, o.solverType ?? 'dpmsolver', o.parity ?? 'exact'))
  const name = `${p === 'data' ? 'dpmpp' : 'dpm'}-${o.order}m${ref ? '-ref' : ''}`
  return S.make(gridOf(o.grid ?? 'logSNR', o.nfe), steps, name)
}
