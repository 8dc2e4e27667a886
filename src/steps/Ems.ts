/**
 * DPM-Solver-v3 (docs/math.md#dpm-solver-v3): integrate g of the EMS-reparameterised ODE instead of x0, with
 * per-dimension coefficients from the model's empirical model statistics (l, s, b):
 *   x_t = A⊙x_s + Σⱼ(aⱼ⊙xeⱼ + bⱼ⊙outⱼ) + c⊙1.
 * It replaces how every update of the step is written (predictor and corrector); degenerate EMS
 * (l = 1, s = b = 0) is the same step without `ems` (its neutral element).
 */
import * as U from '../core/Codec.ts'
import * as DpmV3 from '../core/DpmV3.ts'
import type * as I from '../ir/Instr.ts'
import type { StepDecision } from './Registry.ts'
import * as St from './Step.ts'

/** ems: a data-prediction step in basis λ, without relaxation, halving, noise, churn, Langevin, momentum or time shift */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> => {
  if (d.ems !== true) return []
  const p = `steps[${i}]`
  const basis = d.basis ?? 'lambda'
  const cBasis = d.corrector?.basis ?? d.basis ?? 'lambda'
  const without = (key: string, present: boolean) => U.when(present, `${p}.${key}`, () => `${key} cannot be combined with ems (DPM-Solver-v3 has its own coefficients); remove ${key} or ems`)
  return [
    ...U.when(d.prediction !== 'data', `${p}.prediction`, () => 'ems (DPM-Solver-v3) reparameterises the data-prediction step; set prediction to data'),
    ...U.when(basis !== 'lambda', `${p}.basis`, () => `ems (DPM-Solver-v3) interpolates in λ (basis is ${basis}); remove basis or ems`),
    ...U.when(d.corrector !== undefined && cBasis !== 'lambda', `${p}.corrector.basis`, () => `ems (DPM-Solver-v3) interpolates in λ (corrector basis is ${cBasis}); remove it`),
    ...without('relaxation', d.relaxation !== undefined && d.relaxation !== 'none'),
    ...without('corrector.relaxation', d.corrector?.relaxation !== undefined && d.corrector.relaxation !== 'none'),
    ...without('halveSecondDerivative', d.halveSecondDerivative === true),
    ...without('noise', d.noise !== undefined),
    ...without('churn', d.churn !== undefined),
    ...without('langevin', d.langevin !== undefined),
    ...without('momentum', d.momentum !== undefined),
    ...without('timeShift', d.timeShift !== undefined),
  ]
}

/** what compiling an ems step requires: the model's EMS, a schedule that is not mean-reverting */
export const requires = (i: number, r: { readonly hasEms: boolean; readonly meanReverting: boolean }): ReadonlyArray<U.Issue> => [
  ...U.when(
    !r.hasEms,
    `steps[${i}].ems`,
    () =>
      "DPM-Solver-v3 needs the model's empirical model statistics (l, s, b) and this model has none; compile with { ems } (Learned.loadEms(name), or DpmV3.estimate), or remove ems to run the plain data-prediction step",
  ),
  ...U.when(r.meanReverting, `steps[${i}].ems`, () => 'DPM-Solver-v3 is not defined for mean-reverting schedules; remove ems'),
]

const mean = (v: Float64Array): number => v.reduce((a, b) => a + b, 0) / v.length

/** every update written with per-dimension EMS coefficients (one wide combine) */
export const ems: St.Combinator = (s) =>
  St.declare('DPM-Solver-v3 (EMS)', { capabilities: ['lincombWide', 'ones'] })(
    St.mapEmit(() => (c, u, _parts, commit) => {
      const { b, startG } = c
      const e = b.options.ems
      if (e === undefined) throw new Error(`internal: steps[${c.index}].ems compiled without EMS (Ems.requires)`)
      const co = DpmV3.coefficients(e, b.ns, b.param)(
        b.point(startG),
        b.point(c.targetG),
        u.nodes.map((g) => b.point(g)),
      )
      const wide: ReadonlyArray<readonly [Float64Array, I.Ref]> = [
        [co.onStart, { kind: 'x', id: b.entry(startG) }],
        ...u.nodes.flatMap((g, j) => [[co.onNodes[j]!.x, { kind: 'xe', id: b.entry(g) }] as const, [co.onNodes[j]!.out, { kind: 'out', id: b.entry(g) }] as const]),
        [co.bias, { kind: 'one' }],
      ]
      const terms = wide.map(([v, r]) => [mean(v), r] as const)
      b.push({
        op: 'combine',
        step: c.index,
        role: u.role,
        terms,
        adapt: { measure: [], coefs: () => wide.map(([v]) => ({ cols: v })), describe: 'DPM-Solver-v3: per-dimension EMS coefficients (shown: their means over dimensions)', nominal: terms },
        ...(commit === undefined ? {} : { commit }),
      })
    })(s),
  )
