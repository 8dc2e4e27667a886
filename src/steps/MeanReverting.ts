/**
 * The mean-reverting μ shift (docs/math.md#mean-reverting): on a mean-reverting schedule the flow lives in
 * y = x − μ, so an update x_t = A·x_s + … of y becomes x_t = A·x_s + (1 − A)·μ + …, and every
 * prediction is folded in y-space by the builder (m_y = a.x·(x − μ) + a.out·(out − κ·μ)). On any other
 * schedule this combinator is the identity (its neutral case).
 */
import type * as B from '../ir/Builder.ts'
import * as I from '../ir/Instr.ts'
import * as St from './Step.ts'

/** (1 − A)·μ on a mean-reverting schedule, else nothing */
export const shift = (b: B.Builder, A: number): I.Form => (b.mr ? [[1 - A, { kind: 'mu' }]] : [])

/** every update's A·x_s gains (1 − A)·μ (mean-reverting schedules) */
export const meanReverting: St.Combinator = St.mapIntegrate((base) => (c, u, value) => {
  const inner = base(c, u, value)
  return (at, target) => {
    const p = inner(at, target)
    return c.b.mr ? { ...p, fixed: I.plus(p.fixed, shift(c.b, p.A)) } : p
  }
})
