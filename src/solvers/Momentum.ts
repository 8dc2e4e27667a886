/**
 * Named solvers of the Momentum family (registered in solvers/index.ts): heavy ball, Nesterov and
 * GHVB (docs/math.md#momentum, #ghvb) over PLMS/ρ-Euler, DPM-Solver++(2M) and UniPC (data form), and the TS-DPM
 * time-shift sampler (docs/math.md#time-shift) over DDIM, PNDM/PLMS and DPM-Solver++(2M). Each is its base schedule with
 * `momentum` or `timeShift` fields on the steps; β = 1, window 1 or a cutoff above T give exactly the
 * base solver (laws/momentum.law.ts, laws/timeshift.law.ts).
 */
import * as OP from '../core/OrderPolicy.ts'
import * as S from '../schedule/SolverSchedule.ts'
import * as Dpm from './Dpm.ts'
import * as Pndm from './Pndm.ts'
import * as U from './UniPC.ts'
import { checkNfe, gridOf, type Common } from './common.ts'
import type { Named, Param } from './index.ts'
import * as P from './Params.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the multistep method momentum acts on: PLMS/ρ-Euler (AB-k on ε), DPM-Solver++(2M), UniPC-k (bh2, data) */
export type Base = 'plms' | 'dpmpp-2m' | 'unipc'

/** GHVB's (k, β): k generalized AB / multistep order, β the EMA weight */
export interface KBeta {
  readonly k: number
  readonly beta: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const BASES: ReadonlyArray<Base> = ['plms', 'dpmpp-2m', 'unipc']

const grid = <T extends { readonly grid?: Common['grid'] }>(o: T) => (o.grid === undefined ? {} : { grid: o.grid })

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** GHVB's real order o ↦ (k, β): fractional o: k = ⌊o⌋ + 1, β = o − ⌊o⌋ (1.5 ↦ (2, ½), 3.8 ↦ (4, 0.8)); integer o: k = o, β = 1 */
export const ghvbOrder = (o: number): KBeta => {
  if (!(Number.isFinite(o) && o > 0)) throw new Error(`GHVB order must be a positive number; got ${o}`)
  return Number.isInteger(o) ? { k: o, beta: 1 } : { k: Math.floor(o) + 1, beta: o - Math.floor(o) }
}

/** PLMS/ρ-Euler of order k (momentum-diffusion's base): ε' = AB_{min(i+1, k)}(ε), x_t = α_t·(x_s/α_s + (σ̄_t − σ̄_s)·ε'); k = 4 is iPNDM */
export const plmsK = (o: Common & { readonly k: number }): S.SolverSchedule => {
  checkNfe(o.nfe)
  if (!(Number.isInteger(o.k) && o.k >= 1 && o.k <= 5)) throw new Error(`PLMS order k must be an integer in 1..5 (Adams–Bashforth weights); got ${o.k}`)
  const steps = OP.orders(o.nfe)(OP.warmup(o.k)).map((order): S.StepDecision => ({ prediction: 'noise', order, basis: 'ab' }))
  return S.make(gridOf(o.grid ?? 'time_uniform', o.nfe), steps, `plms-${o.k}`)
}

/** the base schedule of order k: PLMS-k (k ≤ 5), DPM-Solver++(2M) (k ≤ 2: k = 1 is DDIM in data form) or UniPC-k bh2 (k ≤ 5) */
export const baseOf = (b: Base, k: number, o: Common): S.SolverSchedule => {
  switch (b) {
    case 'plms':
      return plmsK({ ...o, k })
    case 'dpmpp-2m':
      if (k !== 1 && k !== 2) throw new Error(`base dpmpp-2m has order 2 (k = ${k}); use base plms or unipc (k ≤ 5)`)
      return k === 1 ? Dpm.ddim({ ...o, prediction: 'data' }) : Dpm.multistep({ ...o, prediction: 'data', order: 2 })
    case 'unipc':
      if (!(Number.isInteger(k) && k >= 1 && k <= 5)) throw new Error(`base unipc has orders 1..5 (k = ${k})`)
      return U.unipc({ ...o, variant: 'bh2', order: k, prediction: 'data' })
  }
}

/**
 * heavy ball / Nesterov (docs/math.md#momentum) over a base: v ← (1−β)v + β·d on the step's direction d (PLMS: AB_k(ε);
 * 2M: m₀ + ½D₁, order-2 steps only, as the diffusers wrapper; UniPC: predictor and corrector, each its own v);
 * parity 'reference' on UniPC: momentum-diffusion's quirks (no momentum on UniP, σ-scaled corrector EMA; the
 * references for PLMS and 2M have none, so there it changes nothing)
 */
export const heavyBall = (o: Common & { readonly kind: 'hb' | 'nt'; readonly beta: number; readonly base: Base; readonly k?: number; readonly parity?: 'exact' | 'reference' }): S.SolverSchedule => {
  const ref = o.parity === 'reference' && o.base === 'unipc'
  if (ref && o.kind !== 'hb') throw new Error(`parity=reference reproduces momentum-diffusion's heavy ball on UniPC; use kind hb (got ${o.kind})`)
  const k = o.k ?? (o.base === 'plms' ? 4 : 2)
  const m: S.Momentum = { kind: o.kind, beta: o.beta, ...(ref ? { parity: 'reference' as const } : {}) }
  const b = baseOf(o.base, k, { nfe: o.nfe, ...grid(o) })
  return S.mapSteps(b, (d) => (o.base === 'dpmpp-2m' && d.order === 1 ? d : { ...d, momentum: m }), `${o.kind}-${o.base}${ref ? '-ref' : ''}`)
}

/**
 * GHVB (docs/math.md#ghvb) of real order o over a base: vₙ = (1−β)vₙ₋₁ + β·mₙ on every step; PLMS: ε' = P_k(v; β)
 * (generalized AB weights); 2M/UniPC: the rule on m̃_g = m_s − v_s + v_g (order 2 for β < 1). Integer o is the base of order o.
 */
export const ghvb = (o: Common & { readonly order: number; readonly base: Base }): S.SolverSchedule => {
  const { k, beta } = ghvbOrder(o.order)
  const b = baseOf(o.base, k, { nfe: o.nfe, ...grid(o) })
  return S.mapSteps(b, (d) => ({ ...d, momentum: { kind: 'ghvb', beta } }), `ghvb-${o.order}-${o.base}`)
}

/**
 * TS-DPM time shift (docs/math.md#time-shift) on every step but the first of a base: per sample, the target within ±⌊w/2⌋/1000 of
 * the nominal one whose σ² is closest to Var(x) (or, parity, Var of the latest model output), above cutoff/1000
 */
export const timeShifted = (s: S.SolverSchedule, shift: S.TimeShift, name: string): S.SolverSchedule => S.mapSteps(s, (d, i) => (i === 0 ? d : { ...d, timeShift: shift }), name)

/** TS-DDIM (TS-DPM pnm_solver 'euler'): DDIM to the shifted target; the next step starts from the nominal time */
export const timeShiftDdim = (o: Common & { readonly window: number; readonly cutoff: number }): S.SolverSchedule =>
  timeShifted(Dpm.ddim({ nfe: o.nfe, ...grid(o) }), { window: o.window, cutoff: o.cutoff }, 'time-shift-ddim')

/** TS-PNDM: PLMS (AB on ε, DDIM transfer) to the shifted target; ε history and the next start time nominal */
export const timeShiftPndm = (o: Common & { readonly window: number; readonly cutoff: number }): S.SolverSchedule =>
  timeShifted(Pndm.plms({ nfe: o.nfe, ...grid(o) }), { window: o.window, cutoff: o.cutoff }, 'time-shift-pndm')

/**
 * TS-DPM-Solver++(2M) (TS-DPM dpm_solver_utils): the shifted time is kept, so the next model call and its
 * λ-differences use the per-sample times; parity 'reference': Var of the model output (x̂0), lower order at the end below 15 steps
 */
export const timeShiftDpmpp2m = (o: Common & { readonly window: number; readonly cutoff: number; readonly parity?: 'exact' | 'reference' }): S.SolverSchedule => {
  const ref = o.parity === 'reference'
  const base = Dpm.multistep({ nfe: o.nfe, ...grid(o), prediction: 'data', order: 2, lowerOrderFinalBelow: ref ? 15 : 10 })
  return timeShifted(base, { window: o.window, cutoff: o.cutoff, keep: true, ...(ref ? { stat: 'output' as const } : {}) }, `time-shift-dpmpp-2m${ref ? '-ref' : ''}`)
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

const number = P.num
const choice = <A extends string>(set: P.Sets | undefined, key: string, values: ReadonlyArray<A>, d: A): A => P.word(set, key, values, d)
const optional = (set: P.Sets | undefined, key: string): { readonly k?: number } => {
  const k = P.optionalNum(set, key)
  return k === undefined ? {} : { k }
}

const base = P.choice("the multistep method: 'plms' (default; AB-k on ε, ρ-Euler), 'dpmpp-2m', 'unipc' (bh2, data)", BASES)
const beta = P.number('EMA weight β ∈ (0, 1] (default 0.8; 1 = the base solver)', { min: 0, above: true, max: 1, examples: ['0.5', '0.8', '0.9', '1'] })
const kParam = P.number('order k of the base: plms 1–5 (default 4), unipc 1–5 (default 2), dpmpp-2m 1–2 (default 2)', { min: 1, max: 5, integer: true, examples: ['1', '2'] })
const window = P.number('window size w: candidates within ±⌊w/2⌋ integer times of the nominal target (1 = the base solver)', { min: 1, integer: true, examples: ['1', '2', '5', '10', '30'] })
const cutoff = P.number('shift only while the nominal target is above cutoff/1000 (≥ 1000·T: the base solver)', { min: 0, examples: ['0', '300', '550', '1000'] })

const momentum = (kind: 'hb' | 'nt', label: string): Named => ({
  id: kind,
  label,
  order: 1,
  defaultGrid: 'time_uniform',
  params: {
    beta,
    base,
    order: kParam,
    ...(kind === 'hb' ? { parity: P.choice("'exact' (default) or 'reference' (base unipc: momentum-diffusion's UniPC: no momentum on UniP, σ-scaled corrector EMA)", ['exact', 'reference']) } : {}),
  },
  build: (o) =>
    heavyBall({
      nfe: o.nfe,
      ...grid(o),
      kind,
      beta: number(o.set, 'beta', 0.8),
      base: choice(o.set, 'base', BASES, 'plms'),
      ...optional(o.set, 'order'),
      parity: choice(o.set, 'parity', ['exact', 'reference'], 'exact'),
    }),
})

const shift = (
  id: string,
  label: string,
  order: number,
  defaultGrid: Named['defaultGrid'],
  w: number,
  c: number,
  build: (o: Common & { readonly window: number; readonly cutoff: number; readonly set?: Readonly<Record<string, string>> }) => S.SolverSchedule,
  params: Readonly<Record<string, Param>> = {},
): Named => ({
  id,
  label,
  order,
  defaultGrid,
  params: { window, cutoff, ...params },
  build: (o) => build({ nfe: o.nfe, ...grid(o), window: number(o.set, 'window', w), cutoff: number(o.set, 'cutoff', c), ...(o.set === undefined ? {} : { set: o.set }) }),
})

/**
 * the named solvers of this family, in display order. Declared orders: heavy ball and Nesterov with β < 1
 * are first order (the EMA lags by ((1−β)/β)·δ·m'); GHVB of order o ≥ 1.x is second order; the time-shift
 * samplers are not convergent discretizations (order 0: their targets move by a fixed 1/1000 whatever the step size)
 */
export const named: ReadonlyArray<Named> = [
  momentum('hb', 'Heavy ball (Polyak) momentum on PLMS / 2M / UniPC'),
  momentum('nt', 'Nesterov momentum on PLMS / 2M / UniPC'),
  {
    id: 'ghvb',
    label: 'GHVB (generalized heavy ball, real order o: k = ⌊o⌋+1, β = o − ⌊o⌋)',
    order: 2,
    defaultGrid: 'time_uniform',
    params: {
      order: P.number('real order o (default 1.8; k = ⌊o⌋+1 ≤ 5 on plms and unipc, e.g. 3.8; ≤ 2 on dpmpp-2m; integer o: the base of order o)', {
        min: 0,
        above: true,
        max: 5,
        examples: ['0.5', '1.5', '1.8', '2'],
      }),
      base,
    },
    build: (o) => ghvb({ nfe: o.nfe, ...grid(o), order: number(o.set, 'order', 1.8), base: choice(o.set, 'base', BASES, 'plms') }),
  },
  shift('time-shift-ddim', 'TS-DDIM (time shift, Var(x) matching; w 2, cutoff 300)', 0, 'time_uniform', 2, 300, timeShiftDdim),
  shift('time-shift-pndm', 'TS-PNDM (time shift on PLMS; w 5, cutoff 550)', 0, 'time_uniform', 5, 550, timeShiftPndm),
  shift(
    'time-shift-dpmpp-2m',
    'TS-DPM-Solver++(2M) (time shift, kept per-sample times; w 30, cutoff 300)',
    0,
    'logSNR',
    30,
    300,
    (o) => timeShiftDpmpp2m({ ...o, parity: choice(o.set, 'parity', ['exact', 'reference'], 'exact') }),
    { parity: P.choice("'exact' (default, Var(x)) or 'reference' (Var of the model output, lower order at the end below 15 steps, as TS-DPM's DPM-Solver port)", ['exact', 'reference']) },
  ),
]
