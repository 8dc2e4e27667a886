/**
 * DEIS tAB-r (solver-math §3.1): noise-form exponential integrator with ε interpolated by a Lagrange
 * polynomial in t through the last min(i, r) + 1 outputs; coefficients by Gauss–Legendre in λ.
 */
import * as OP from '../core/OrderPolicy.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, gridOf, type Common } from './common.ts'

/** tAB-r: order_i = min(i, r) + 1 (r = 0 is DDIM) */
export const tab = (o: Common & { readonly r: number }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.orders(o.nfe)(OP.warmup(o.r + 1))
  return S.make(
    gridOf(o.grid ?? 'time_quadratic', o.nfe),
    orders.map((k): S.StepDecision => ({ prediction: 'noise', order: k, basis: 't' })),
    `deis-tab${o.r}`,
  )
}
