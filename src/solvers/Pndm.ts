/**
 * PLMS (diffusers/LDM PNDM with skip_prk_steps) and iPNDM: equal-step Adams–Bashforth weights on ε
 * followed by a DDIM transfer (docs/math.md#pndm).
 */
import * as OP from '../core/OrderPolicy.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, gridOf, type Common } from './common.ts'

const ab = (order: number): S.StepDecision => ({ prediction: 'noise', order, basis: 'ab' })

/** PLMS: step 0 is DDIM + trapezoid corrector re-evaluated (2 NFE), then AB2, AB3, AB4; NFE = steps + 1 */
export const plms = (o: Common): S.SolverSchedule => {
  checkNfe(o.nfe, 2)
  const n = o.nfe - 1
  const orders = OP.orders(n)(OP.warmup(4))
  const steps = orders.map((k, i): S.StepDecision => (i === 0 ? { ...ab(1), corrector: { mode: 'reeval', order: 2, basis: 'ab' } } : ab(k)))
  return S.make(gridOf(o.grid ?? 'time_uniform', n), steps, 'plms')
}

/** iPNDM: AB weights of order min(i+1, 4) on ε, DDIM transfer; NFE = steps */
export const ipndm = (o: Common): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.orders(o.nfe)(OP.warmup(4))
  return S.make(gridOf(o.grid ?? 'time_uniform', o.nfe), orders.map(ab), 'ipndm')
}
