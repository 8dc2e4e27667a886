/**
 * EDM churn: before the step, raise σ̄ to σ̂ = σ̄·(1 + γ) by adding sqrt(σ̂² − σ̄²)·sNoise·z (in x/α
 * units), only where sTmin ≤ σ̄ ≤ sTmax (k-diffusion's S_tmin, S_tmax; default 0 and ∞); the step then
 * starts from σ̂ and evaluates there. γ = 0 is the neutral element.
 */
import * as U from '../core/Codec.ts'
import * as I from '../ir/Instr.ts'
import * as NS from '../core/NoiseSchedule.ts'
import type { StepDecision } from './Registry.ts'
import * as MR from './MeanReverting.ts'
import * as St from './Step.ts'

const nonNeg = U.guard<number>('a non-negative number', (n): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0)

/** the churn codec: { gamma, sNoise?, sTmin?, sTmax? } */
export const codec = (closed: U.Closed) => closed('EDM churn', { gamma: nonNeg }, { sNoise: nonNeg, sTmin: nonNeg, sTmax: nonNeg })

/** a churn decision */
export type Churn = NonNullable<StepDecision['churn']>

/** churn has no cross-field conditions of its own (kept time shifts are checked by the schedule) */
export const checks = (_d: StepDecision, _i: number): ReadonlyArray<U.Issue> => []

/** x ← (α̂/α)·x + (1 − A)μ + α̂·sqrt(σ̂² − σ̄²)·sNoise·z at the step's start, which moves to σ̂ (γ > 0, σ̄ in range) */
export const churn =
  (ch: Churn): St.Combinator =>
  (s) =>
    ch.gamma === 0
      ? St.declare('churn γ = 0', {})(s)
      : St.declare(`churn γ = ${ch.gamma}`, { moves: true, noise: (ch.sNoise ?? 1) > 0, capabilities: ['normal'] })(
          St.beforeFirst((c) => {
            const i = c.index
            const p = c.b.point(i)
            const sb = Math.exp(-p.lambda)
            if (!((ch.sTmin ?? 0) <= sb && sb <= (ch.sTmax ?? Infinity))) return
            const sHat = sb * (1 + ch.gamma)
            const q = NS.point(c.b.ns)(c.b.ns.tOfLambda(-Math.log(sHat)))
            const A = q.alpha / p.alpha
            const cz = q.alpha * Math.sqrt(sHat * sHat - sb * sb) * (ch.sNoise ?? 1)
            c.b.move(i, q)
            c.b.combine(i, 'churn', I.plus([[A, { kind: 'cur' }]], MR.shift(c.b, A), [[cz, { kind: 'noise', stream: 1 }]]))
          })(s),
        )
