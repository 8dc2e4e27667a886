/**
 * Time shift (TS-DPM, docs/math.md#time-shift): per sample, the step's target moves to the time t̂ within
 * ±⌊window/2⌋/scale of the nominal target whose σ² is closest to the sample's variance, while the
 * nominal target is above cutoff/scale (scale 1000: the integer DDPM time); never at step 0. With `keep`
 * the chosen t̂ become the target's per-sample times (the next evaluation and λ-differences use them).
 * window 1 is the base step (the neutral element).
 */
import * as U from '../core/Codec.ts'
import * as I from '../ir/Instr.ts'
import * as NS from '../core/NoiseSchedule.ts'
import type { StepDecision } from './Registry.ts'
import * as St from './Step.ts'

const nonNeg = U.guard<number>('a non-negative number', (n): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0)

/** the time-shift codec: { window, cutoff, scale?, keep?, stat? } */
export const codec = (closed: U.Closed) => closed('a time shift', { window: U.positiveInt, cutoff: nonNeg }, { scale: U.positiveNumber, keep: U.bool, stat: U.oneOf<'x' | 'output'>(['x', 'output']) })

/** a time-shift decision */
export type TimeShift = NonNullable<StepDecision['timeShift']>

/** no corrector, no momentum, no first-order noise level */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> => {
  const ts = d.timeShift
  if (ts === undefined) return []
  const p = `steps[${i}]`
  const n = d.noise
  return [
    ...U.when(d.corrector !== undefined, `${p}.corrector`, () => 'a corrector cannot follow a time-shifted step (its target differs per sample); remove the corrector or the time shift'),
    ...U.when(d.momentum !== undefined, `${p}.momentum`, () => 'momentum cannot be combined with a time shift; remove one of them'),
    ...U.when(n !== undefined && n.level !== 'sde', `${p}.noise`, () => `a time shift cannot be combined with noise level ${n?.level}; use level sde or remove one of them`),
  ]
}

/**
 * the candidates: the nominal target and the points k/N with |k − round(t·N)| ≤ ⌊w/2⌋, 1 ≤ k ≤ round(T·N)
 * (N = scale, default 1000: the integer DDPM time), by increasing t
 */
export const candidates = (ns: NS.NoiseSchedule, shift: TimeShift, to: NS.Point): ReadonlyArray<NS.Point> => {
  const N = shift.scale ?? 1000
  const half = Math.floor(shift.window / 2)
  const j = Math.round(to.t * N)
  const ks = Array.from({ length: 2 * half + 1 }, (_, k) => j - half + k).filter((k) => k === j || (k >= 1 && k <= Math.round(ns.T * N)))
  return ks.map((k) => (k === j ? to : NS.point(ns)(k / N)))
}

/** whether the shift acts at step i toward `to` */
const active = (shift: TimeShift, i: number, to: NS.Point): boolean => shift.window > 1 && i > 0 && to.t * (shift.scale ?? 1000) > shift.cutoff

/**
 * the time-shifted predictor: per sample b the target is the candidate t̂ cleaner than the row's start minimising
 * |Var_b − σ²(t̂)| (the first on ties), Var_b measured on x (or, stat 'output', the latest model output); with
 * `keep` t̂ must also stay strictly noisier than the next grid point (λ_start < λ(t̂) < λ_{g+1}: every step of a row
 * has h > 0); no candidate inside: the nominal point
 */
export const timeShift =
  (shift: TimeShift): St.Combinator =>
  (s) =>
    St.declare(`time shift window ${shift.window}, cutoff ${shift.cutoff}${shift.keep === true ? ', times kept' : ''}`, {
      capabilities: shift.window > 1 ? ['stats', 'lincombWide', ...(shift.keep === true ? (['rows'] as const) : [])] : [],
    })(
      St.mapEmit((base) => (c, u, parts, commit) => {
        const { b, index: i, startG } = c
        const g = c.targetG
        const to = b.point(g)
        if (u.role !== 'predictor' || !active(shift, i, to)) return base(c, u, parts, commit)
        const p = c.decision.prediction
        // the statistic: Var(x) at the start, or (parity) Var of the latest model output m_s (a register unless m_s is the native output)
        const ms = I.tidy(b.pred(p, startG))
        const native = ms.length === 1 && ms[0]![0] === 1 ? ms[0]![1] : undefined
        if (shift.stat === 'output' && native === undefined) b.emit(i, 'predictor', (at) => b.pred(p, startG, at(startG)), { into: { kind: 'reg', name: 'm̂' } })
        const measure: I.Ref = shift.stat !== 'output' ? { kind: 'x', id: b.entry(startG) } : (native ?? { kind: 'reg', name: 'm̂' })
        const build = (at: (g: number) => NS.Point, target: NS.Point): I.Form => {
          const q = parts(at, target)
          return I.plus(q.fixed, q.nodes)
        }
        const keep = shift.keep === true
        const hi = keep && g + 1 < b.size ? b.point(g + 1).lambda : Infinity
        const cands = candidates(b.ns, shift, to).filter((q) => q.lambda < hi)
        const all = I.plus(...cands.map((q) => build(b.nominal, q)))
        const terms = I.refsOf(all)
        const moved = b.movedIn(all)
        const choose = ([st]: ReadonlyArray<I.RowStats>, rows: I.RowPoints): ReadonlyArray<NS.Point> =>
          Array.from(st!.variance, (v, r) => {
            const lo = b.rowAt(rows, r)(startG).lambda
            return cands.reduce<NS.Point | undefined>((best, q) => (q.lambda > lo && (best === undefined || Math.abs(v - q.sigma ** 2) < Math.abs(v - best.sigma ** 2)) ? q : best), undefined) ?? to
          })
        const coefs = (stats: ReadonlyArray<I.RowStats>, rows: I.RowPoints): ReadonlyArray<I.Coef> => {
          const qs = choose(stats, rows)
          return I.perRow(terms, qs.length, (r) => [`${qs[r]!.t}|${b.keyOf(rows, r, moved)}`, () => build(b.rowAt(rows, r), qs[r]!)])
        }
        const describe = `time-shift: per-sample target in a window of ${shift.window} around t = ${to.t.toPrecision(4)} (Var(${shift.stat === 'output' ? 'model output' : 'x'}) ≈ σ²)${keep ? ', times kept' : ''}; shown: the nominal target`
        b.push({
          op: 'combine',
          step: i,
          role: 'predictor',
          terms,
          adapt: { measure: [measure], coefs, describe, nominal: I.tidy(build(b.nominal, to)), ...(keep ? { place: { point: g, at: choose } } : {}) },
        })
        if (keep) b.markMoved(g)
      })(s),
    )
