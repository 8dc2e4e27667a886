/**
 * Corrector (UniC, USF pseudo, implicit/Heun): after the predictor, evaluate at the target and redo the
 * step from the same start with that evaluation added as a node (history indices count from the new
 * point, −1). 'pseudo' keeps the evaluation at the uncorrected point as the target's history (0 extra
 * NFE); 'reeval' evaluates the corrected point again before the next step (+1 NFE, none after the last).
 */
import * as U from '../core/Codec.ts'
import type * as R from '../core/Rule.ts'
import type { StepDecision } from './Registry.ts'
import * as X from './ExpInt.ts'
import * as St from './Step.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the highest Adams–Moulton order (basis 'ab' corrector) */
export const MAX_AM = 4

/** the corrector codec: { mode, order?, nodes?, basis?, relaxation? } */
export const codec = (closed: U.Closed) =>
  closed('a corrector', { mode: U.oneOf<'pseudo' | 'reeval'>(['pseudo', 'reeval']) }, { order: U.positiveInt, nodes: X.IndicesC, basis: X.BasisC, relaxation: X.relaxationCodec(closed) })

/** a corrector decision */
export type Corrector = NonNullable<StepDecision['corrector']>

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** corrector order, default predictor order + 1 */
export const orderOf = (d: StepDecision, c: Corrector): number => c.order ?? d.order + 1

/** corrector nodes: explicit, or −1 then the predictor's nodes shifted by one (then older points), cut to the order */
export const nodesOf = (d: StepDecision, c: Corrector, available: number): ReadonlyArray<number> => {
  if (c.nodes !== undefined) return c.nodes
  const k = orderOf(d, c)
  const out: number[] = [-1, ...X.nodesOf(d, available - 1).map((j) => j - 1)].slice(0, k)
  for (let j = -2; j >= -available && out.length < k; j--) if (!out.includes(j)) out.push(j)
  return out
}

/** the corrector's rule: the step's prediction, its own basis (else the step's) and relaxation, implicit (Adams–Moulton on 'ab') */
export const ruleOf = (d: StepDecision, c: Corrector): R.Rule => ({
  prediction: d.prediction,
  basis: c.basis ?? d.basis ?? 'lambda',
  relaxation: c.relaxation ?? 'none',
  halveSecondDerivative: false,
  implicit: true,
  eta: 0,
  abBeta: 1,
})

// -------------------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------------------

/** a corrector at step i: its history has i + 2 points (the new one is −1) */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> => {
  const c = d.corrector
  if (c === undefined || !U.isPosInt(d.order)) return []
  const p = `steps[${i}].corrector`
  const avail = i + 2
  const basis = c.basis ?? d.basis ?? 'lambda'
  const k = orderOf(d, c)
  const dflt = c.order === undefined ? ' (default: predictor order + 1)' : ''
  const fix = c.order === undefined ? 'set corrector.order to' : 'use'
  const order =
    c.order !== undefined && !U.isPosInt(c.order)
      ? [U.issue(`${p}.order`, `got ${U.show(c.order)}; expected a positive integer`)]
      : [
          ...U.when(k > X.MAX_ORDER, `${p}.order`, () => `corrector order ${k}${dflt} is above the maximum ${X.MAX_ORDER}; ${fix} at most ${X.MAX_ORDER}`),
          ...U.when(
            c.order !== undefined && k > avail,
            `${p}.order`,
            () => `corrector order ${k} needs ${U.plural(k - 1, 'earlier evaluation')} besides the new point and step ${i} has only ${i + 1}; use at most ${avail}`,
          ),
          ...U.when(
            basis === 'ab' && k > MAX_AM,
            `${p}.order`,
            () => `basis ab has Adams–Moulton weights up to order ${MAX_AM}; corrector order is ${k}${dflt}, ${fix} at most ${MAX_AM} or use another basis`,
          ),
        ]
  return [
    ...order,
    ...(c.nodes === undefined ? [] : X.checkIndices(`${p}.nodes`, c.nodes, avail, k, `the corrector order${dflt}`, 'corrector.order', i)),
    ...X.checkRelaxation(`${p}.relaxation`, c.relaxation, basis, c.basis === undefined ? 'the step basis' : 'corrector.basis'),
  ]
}

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

/** after the step's updates: evaluate at the target, redo the step with it as a node (pseudo: commit, the next step's start is fresh) */
export const corrector =
  (c: Corrector, d: StepDecision): St.Combinator =>
  (s) =>
    St.declare(`corrector ${c.mode}, order ${orderOf(d, c)}, basis ${c.basis ?? d.basis ?? 'lambda'}`, {
      evals: 1,
      leavesFresh: c.mode === 'pseudo',
      order: orderOf(d, c),
      history: Math.max(orderOf(d, c) - 1, ...(c.nodes ?? []).map((k) => -k - 1)),
    })(
      St.addUpdate((ctx) => ({
        role: 'corrector',
        nodes: nodesOf(ctx.decision, c, ctx.index + 2).map((k) => ctx.index + 2 + k),
        rule: ruleOf(ctx.decision, c),
        evaluates: true,
        commits: c.mode === 'pseudo',
      }))(s),
    )
