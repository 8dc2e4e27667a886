/**
 * DEIS (docs/math.md#deis): noise-form exponential integrators with ε interpolated by a Lagrange
 * polynomial through the last min(i, r) + 1 outputs. tAB-r interpolates in t (coefficients by
 * Gauss–Legendre in λ); ρAB-r in ρ = σ/α (the DEIS paper's ρAB: basis 'rho', integrated exactly in ρ) or in
 * log ρ (diffusers' DEISMultistepScheduler, solver_type 'logrho'). Since log ρ = −λ, a Lagrange polynomial
 * in log ρ integrated in dρ = −e^{−λ}dλ is the exact λ-Lagrange noise-form step (basis 'lambda').
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

/** the interpolation variable of ρAB: 'logrho' (diffusers) or 'rho' (the DEIS paper) */
export type RhoVariable = 'logrho' | 'rho'

/** the decision of an order-k ρAB step: Lagrange in log ρ = −λ (the exact λ rule) or in ρ */
export const rhoStep = (k: number, variable: RhoVariable): S.StepDecision => (variable === 'logrho' ? { prediction: 'noise', order: k } : { prediction: 'noise', order: k, basis: 'rho' })

/**
 * ρAB-r: order_i = min(i, r) + 1, lower order at the end when steps < `lowerOrderFinalBelow` (diffusers: 15 with
 * lower_order_final; default 0 = never), Lagrange in log ρ (default, diffusers) or ρ
 */
export const rhoAB = (o: Common & { readonly r: number; readonly variable?: RhoVariable; readonly lowerOrderFinalBelow?: number }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const v = o.variable ?? 'logrho'
  const orders = OP.orders(o.nfe)(OP.lowerOrderFinal(o.lowerOrderFinalBelow ?? 0)(OP.warmup(o.r + 1)))
  return S.make(
    gridOf(o.grid ?? 'logSNR', o.nfe),
    orders.map((k) => rhoStep(k, v)),
    `deis-${v}${o.r}`,
  )
}
