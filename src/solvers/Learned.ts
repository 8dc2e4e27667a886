/**
 * Named solvers of the Learned family (registered in solvers/index.ts): DPM-Solver-v3 (docs/math.md#dpm-solver-v3)
 * as schedules whose steps carry `ems`. They compile only with the model's EMS
 * (`Program.compileOrThrow(ns, param, { ems })`, `Learned.loadEms(name)`), and say so otherwise.
 */
import * as OP from '../core/OrderPolicy.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, gridOf, type Common } from './common.ts'
import type { Named } from './index.ts'
import * as P from './Params.ts'

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * DPM-Solver-v3 multistep of order p (docs/math.md#dpm-solver-v3): orders min(p, i + 1), lowered at the end when
 * steps < `lowerOrderFinalBelow` (default 10 as DPM-Solver; the reference v3 sampler: always),
 * each step but the last followed by a pseudo corrector of order p + 1 (`corrector: false` drops them);
 * derivatives of g by the full-order λ-Lagrange solve (the reference's p_pseudo = c_pseudo = False form)
 */
export const v3 = (o: Common & { readonly order: 2 | 3; readonly corrector?: boolean; readonly lowerOrderFinalBelow?: number }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.orders(o.nfe)(OP.lowerOrderFinal(o.lowerOrderFinalBelow ?? 10)(OP.warmup(o.order)))
  const steps = orders.map((k, i): S.StepDecision => ({ prediction: 'data', order: k, ems: true, ...(o.corrector !== false && i < o.nfe - 1 ? { corrector: { mode: 'pseudo' } } : {}) }))
  return S.make(gridOf(o.grid ?? 'logSNR', o.nfe), steps, `dpm-v3-${o.order}`)
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

const named_ = (order: 2 | 3): Named => ({
  id: `dpm-v3-${order}`,
  label: `DPM-Solver-v3-${order} (EMS, pseudo corrector; needs the model's EMS)`,
  order,
  defaultGrid: 'logSNR',
  needs: ['ems'],
  params: {
    corrector: P.flag('pseudo corrector after every step but the last (default true)'),
    lowerOrderFinalBelow: P.number('lower the order at the end when steps < this (default 10; reference v3: inf = always)', { min: 0, inf: true }),
  },
  build: (o) =>
    v3({
      nfe: o.nfe,
      ...(o.grid === undefined ? {} : { grid: o.grid }),
      order,
      corrector: P.bool(o.set, 'corrector', true),
      lowerOrderFinalBelow: P.num(o.set, 'lowerOrderFinalBelow', 10),
    }),
})

/** the named solvers of this family, in display order */
export const named: ReadonlyArray<Named> = [named_(2), named_(3)]
