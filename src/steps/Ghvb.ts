/**
 * GHVB (generalized heavy ball, docs/math.md#ghvb): keep vₙ = (1−β)vₙ₋₁ + β·mₙ per point (vₙ = mₙ where
 * the chain starts, v = m before it) and apply the rule to them: basis 'ab' the generalized
 * Adams–Bashforth weights P_k(·; β) on the v's, other bases v_s for one node (P_1), else the nodes
 * m̃_g = m_s − v_s + v_g (differences of the EMA; = P_2(·; β) for two). β = 1 is the base step.
 */
import type * as B from '../ir/Builder.ts'
import * as I from '../ir/Instr.ts'
import type { Prediction } from '../core/Parameterization.ts'
import * as St from './Step.ts'

/** entry id → the prediction type of its momentum value */
const VEL: B.Slot<Map<number, Prediction>> = { name: 'ghvb.velocities', init: () => new Map() }

/** v_g: the entry's momentum value where the chain reached g with this prediction, else m_g */
const velOf = (c: St.Ctx, g: number, at: B.At): I.Form =>
  c.b.get(VEL).get(c.b.entry(g)) === c.decision.prediction ? [[1, { kind: 'vel', id: c.b.entry(g) }]] : c.b.pred(c.decision.prediction, g, at(g))

/** m̃_g = m_s − v_s + v_g (m̃_s = m_s) */
const tilde = (c: St.Ctx, g: number, at: B.At, vel: (g: number, at: B.At) => I.Form): I.Form =>
  g === c.startG ? c.b.pred(c.decision.prediction, g, at(g)) : I.plus(c.b.pred(c.decision.prediction, c.startG, at(c.startG)), I.scale(-1, vel(c.startG, at)), vel(g, at))

/** GHVB with β: the momentum value after the evaluation, the rule on v's (predictor: P_k(·; β) on basis 'ab') */
export const ghvb =
  (beta: number): St.Combinator =>
  (s) =>
    St.declare(
      `ghvb β = ${beta}`,
      {},
    )(
      St.after((c) => {
        // v_i = (1 − β)·v_{i−1} + β·m_i (v_i = m_i where the chain starts)
        const { b, index: i } = c
        const p = c.decision.prediction
        const vel = b.get(VEL)
        const chained = i > 0 && vel.get(b.entry(i - 1)) === p
        b.emit(i, 'momentum', (at) => (chained ? I.plus(I.scale(beta, b.pred(p, i, at(i))), [[1 - beta, { kind: 'vel', id: b.entry(i - 1) }]]) : b.pred(p, i, at(i))), {
          into: { kind: 'vel', id: b.entry(i) },
        })
        vel.set(b.entry(i), p)
      })(
        St.mapValue(() => (c, u, g, at) => {
          if (u.role === 'predictor') return (c.decision.basis ?? 'lambda') === 'ab' || u.nodes.length === 1 ? velOf(c, g, at) : tilde(c, g, at, (h, a) => velOf(c, h, a))
          // the new point's momentum value (1 − β)·v_i + β·m_new (what the next step stores for it)
          const velNew = (h: number, a: B.At): I.Form => (h === c.targetG ? I.plus(I.scale(1 - beta, velOf(c, c.index, a)), I.scale(beta, c.b.pred(c.decision.prediction, h, a(h)))) : velOf(c, h, a))
          return u.nodes.length === 1 ? velNew(g, at) : tilde(c, g, at, velNew)
        })(St.mapUpdates((u) => (u.role === 'predictor' ? { ...u, rule: { ...u.rule, abBeta: beta } } : u))(s)),
      ),
    )
