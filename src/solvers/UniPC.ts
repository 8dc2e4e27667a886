/**
 * UniPC (docs/math.md#unipc): UniP-p predictor with B(h) = −h (bh1) or expm1(−h) (bh2) and the UniC
 * corrector reusing the next evaluation. Only the two fixed-½ cases depend on B(h): UniP-2 and UniC-1
 * (a relaxation of the first derivative); solved orders are the exact λ-Lagrange rule.
 */
import * as OP from '../core/OrderPolicy.ts'
import type { Prediction } from '../core/Parameterization.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, first, gridOf, type Common } from './common.ts'

export type Variant = 'bh1' | 'bh2'

/** the relaxation that reproduces B(h) with the fixed ρ = ½ */
const half = (v: Variant) => (v === 'bh1' ? 'unipc-bh1' : 'dpmsolver-2')

/** the decision of an order-k UniP step, with UniC when `corrector` (bh1/bh2 only change the fixed-½ cases) */
export const step = (p: Prediction, k: number, variant: Variant, corrector: boolean): S.StepDecision => {
  const pred: S.StepDecision = k === 1 ? first(p) : k === 2 ? { prediction: p, order: 2, relaxation: half(variant) } : { prediction: p, order: k }
  return corrector ? { ...pred, corrector: k === 1 ? { mode: 'pseudo', order: 2, relaxation: half(variant) } : { mode: 'pseudo', order: k + 1 } } : pred
}

/**
 * UniPC-p: order_i = min(p, i+1, n−i) (warm-up and lower-order-final always); UniC on every step
 * but the last (`finalCorrector` adds it there too, costing one more NFE).
 */
export const unipc = (o: Common & { readonly variant: Variant; readonly order: number; readonly finalCorrector?: boolean; readonly prediction?: Prediction }): S.SolverSchedule => {
  const fc = o.finalCorrector === true
  checkNfe(o.nfe, fc ? 2 : 1)
  const n = fc ? o.nfe - 1 : o.nfe
  const p = o.prediction ?? 'data'
  const orders = OP.orders(n)(OP.lowerOrderFinal()(OP.warmup(o.order)))
  const steps = orders.map((k, i) => step(p, k, o.variant, i < n - 1 || fc))
  return S.make(gridOf(o.grid ?? 'logSNR', n), steps, `unipc-${o.variant}-${o.order}${fc ? '-fc' : ''}`)
}
