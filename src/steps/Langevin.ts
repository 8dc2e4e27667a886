/**
 * Langevin corrector (Score-SDE PC) at the step's start point, before its evaluation: `steps` times (one
 * model evaluation each) x ← x − (ε_L/σ_s)·ε̂ + sqrt(2ε_L)·z (z on stream 2 + k), ε_L = 2a·(snr·‖z‖/‖ŝ‖)²,
 * a = (α_s/α_t)². norms 'expected' (default): ‖z‖² = D, ‖ŝ‖² = D/σ_s², so ε_L = 2a·(snr·σ_s)²; 'sample':
 * each row's own norms; 'batch': norms averaged over the batch (couples the rows). snr = 0 moves nothing.
 */
import * as U from '../core/Codec.ts'
import * as I from '../ir/Instr.ts'
import type { StepDecision } from './Registry.ts'
import * as St from './Step.ts'

const nonNeg = U.guard<number>('a non-negative number', (n): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0)

/** the Langevin codec: { snr, steps, norms? } */
export const codec = (closed: U.Closed) => closed('a Langevin corrector', { snr: nonNeg, steps: U.positiveInt }, { norms: U.oneOf<'expected' | 'sample' | 'batch'>(['expected', 'sample', 'batch']) })

/** a Langevin decision */
export type Langevin = NonNullable<StepDecision['langevin']>

/** Langevin moves the current point: only before a multistep step */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> =>
  U.when(
    d.langevin !== undefined && (d.start ?? -1) !== -1,
    `steps[${i}].langevin`,
    () => 'a Langevin corrector moves the current point, but this step restarts from an earlier one (start ≠ −1); remove start or the Langevin corrector',
  )

const mean = (v: Float64Array): number => v.reduce((x, y) => x + y, 0) / v.length

/** one Langevin iteration k at grid point i */
const iteration = (c: St.Ctx, lv: Langevin, k: number): void => {
  const { b, index: i } = c
  const p = b.point(i)
  const a = (p.alpha / b.point(i + 1).alpha) ** 2
  const norms = lv.norms ?? 'expected'
  b.evaluate(i, i)
  const z: I.Ref = { kind: 'noise', stream: 2 + k }
  const eps = I.tidy(b.pred('noise', i))
  const expected = 2 * a * (lv.snr * p.sigma) ** 2
  if (norms === 'expected') {
    b.combine(i, 'langevin', I.plus([[1, { kind: 'cur' }]], I.scale(-expected / p.sigma, eps), [[Math.sqrt(2 * expected), z]]))
    return
  }
  // ‖ε̂‖ is measured on the one ref ε̂ is a multiple of (the native output for 'eps'), else on a register
  const single = eps.length === 1 ? eps[0]! : undefined
  if (single === undefined) b.combine(i, 'langevin', eps, { into: { kind: 'reg', name: 'ε̂' } })
  const epsRef: I.Ref = single?.[1] ?? { kind: 'reg', name: 'ε̂' }
  const epsScale = single === undefined ? 1 : Math.abs(single[0])
  const unit = I.plus([[1, { kind: 'cur' }]], single === undefined ? [[-1 / p.sigma, epsRef]] : I.scale(-1 / p.sigma, eps), [[1, z]])
  const coefOf = (e: number) => unit.map(([cc, r]) => (r.kind === 'cur' ? 1 : r.kind === 'noise' ? Math.sqrt(2 * e) : cc * e))
  b.push({
    op: 'combine',
    step: i,
    role: 'langevin',
    terms: unit.map(([, r]) => [1, r] as const),
    adapt: {
      measure: [epsRef, z],
      describe: `Langevin: ε_L = 2a·(snr·‖z‖/‖ŝ‖)² with ${norms === 'batch' ? 'batch-averaged' : 'per-sample'} norms (snr ${lv.snr}, a = ${a.toPrecision(6)}; shown: the expected-norm coefficients)`,
      nominal: I.tidy(unit.map(([, r], j) => [coefOf(expected)[j]!, r] as const)),
      coefs: ([se, sz]) => {
        const step = (zn: number, en: number) => (en === 0 ? 0 : 2 * a * ((lv.snr * zn * p.sigma) / (epsScale * en)) ** 2)
        const eL = norms === 'batch' ? step(mean(sz!.norm), mean(se!.norm)) : Float64Array.from(se!.norm, (en, bb) => step(sz!.norm[bb]!, en))
        const by = (f: (e: number) => number): I.Coef => (typeof eL === 'number' ? f(eL) : { rows: eL.map(f) })
        return unit.map(([cc, r]) => (r.kind === 'cur' ? 1 : r.kind === 'noise' ? by((e) => Math.sqrt(2 * e)) : by((e) => cc * e)))
      },
    },
  })
}

/** `steps` Langevin iterations at the step's start before its evaluation (each one model evaluation) */
export const langevin =
  (lv: Langevin): St.Combinator =>
  (s) =>
    St.declare(`Langevin ${lv.steps}× snr ${lv.snr} (${lv.norms ?? 'expected'} norms)`, {
      moves: true,
      evals: lv.steps,
      noise: lv.snr > 0,
      capabilities: ['normal', ...((lv.norms ?? 'expected') === 'expected' ? [] : (['stats', 'lincombWide'] as const))],
    })(
      St.before((c) => {
        for (let k = 0; k < lv.steps; k++) iteration(c, lv, k)
      })(s),
    )
