/**
 * Momentum (docs/math.md#momentum) on the step's direction d = Σcⱼmⱼ/Σcⱼ. Heavy ball: v ← (1−β)v + βd,
 * x = A·x_s + B·v; Nesterov: x = A·x_s + B·((1−β)v + βd) (v ← d at the first momentum step or after a
 * change of prediction; a corrector keeps its own v). GHVB (kind 'ghvb') is its own combinator
 * (`Ghvb.ts`). β = 1 is the base step (the neutral element).
 */
import * as U from '../core/Codec.ts'
import type * as B from '../ir/Builder.ts'
import * as I from '../ir/Instr.ts'
import type { Prediction } from '../core/Parameterization.ts'
import type { StepDecision } from './Registry.ts'
import * as Ghvb from './Ghvb.ts'
import * as St from './Step.ts'

/** the momentum codec: { kind, beta, parity? } */
export const codec = (closed: U.Closed) => closed('momentum', { kind: U.oneOf<'hb' | 'nt' | 'ghvb'>(['hb', 'nt', 'ghvb']), beta: U.positiveNumber }, { parity: U.oneOf<'reference'>(['reference']) })

/** a momentum decision */
export type Momentum = NonNullable<StepDecision['momentum']>

/** β ∈ (0, 1]; parity only on hb; a multistep step; no first-order noise level */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> => {
  const m = d.momentum
  if (m === undefined) return []
  const p = `steps[${i}]`
  const n = d.noise
  return [
    ...U.when(!(m.beta > 0 && m.beta <= 1), `${p}.momentum.beta`, () => `β = ${m.beta} is outside (0, 1]; β = 1 is the base step, smaller β is more momentum`),
    ...U.when(
      m.parity !== undefined && m.kind !== 'hb',
      `${p}.momentum.parity`,
      () => `parity reference reproduces momentum-diffusion's heavy ball on UniPC (kind is ${m.kind}); remove parity or use kind hb`,
    ),
    ...U.when(d.start !== undefined && d.start !== -1, `${p}.start`, () => 'momentum needs a multistep step (start −1); remove start or the momentum'),
    ...U.when(n !== undefined && n.level !== 'sde', `${p}.noise`, () => `momentum cannot be combined with noise level ${n?.level}; use level sde or remove one of them`),
  ]
}

/** the velocity registers' last prediction and σ_t (per register name) */
const REGS: B.Slot<Map<string, { readonly prediction: Prediction; readonly sigma: number }>> = { name: 'momentum.registers', init: () => new Map() }

/**
 * v ← d the first time (or after a change of prediction), else v ← (1 − β)·k·v + β·d in register `name`;
 * k = 1, or σ_t/σ_t′ (previous update) with parity 'reference' (momentum-diffusion's UniPC EMA of d/σ_t)
 */
const velocity = (c: St.Ctx, name: string, m: Momentum, sigma: number, dir: (at: B.At) => I.Form): void => {
  const regs = c.b.get(REGS)
  const prev = regs.get(name)
  const prediction = c.decision.prediction
  const first = prev?.prediction !== prediction
  const k = m.parity === 'reference' && prev !== undefined ? sigma / prev.sigma : 1
  const v: I.Ref = { kind: 'reg', name }
  c.b.emit(c.index, 'momentum', (at) => (first ? dir(at) : I.plus(I.scale(m.beta, dir(at)), [[(1 - m.beta) * k, v]])), { into: { kind: 'reg', name } })
  regs.set(name, { prediction, sigma })
}

/** heavy ball (kind hb) or Nesterov (kind nt) on each update's direction; parity 'reference' leaves the predictor plain */
export const heavyBall =
  (m: Momentum): St.Combinator =>
  (s) =>
    St.declare(
      `${m.kind} β = ${m.beta}${m.parity === undefined ? '' : ' (reference)'}`,
      {},
    )(
      St.mapEmit((base) => (c, u, parts, commit) => {
        if (u.role === 'predictor' && m.parity === 'reference') return base(c, u, parts, commit)
        const name = u.role === 'predictor' ? 'v' : 'vc'
        const to = c.b.point(c.targetG)
        const v: I.Ref = { kind: 'reg', name }
        velocity(c, name, m, to.sigma, (at) => {
          const q = parts(at, to)
          return I.scale(1 / q.B, q.nodes)
        })
        c.b.emit(
          c.index,
          u.role,
          (at) => {
            const q = parts(at, to)
            return I.plus(q.fixed, m.kind === 'hb' ? [[q.B, v]] : I.plus([[(1 - m.beta) * q.B, v]], I.scale(m.beta, q.nodes)))
          },
          commit === undefined ? {} : { commit },
        )
      })(s),
    )

/** the momentum field's combinator by kind */
export const momentum = (m: Momentum): St.Combinator => (m.kind === 'ghvb' ? Ghvb.ghvb(m.beta) : heavyBall(m))
