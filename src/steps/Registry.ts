/**
 * The one registry of step behaviours. Each document field of a step is owned by one module that
 * exports its codec fragment, its cross-field checks and its combinator; this module assembles them:
 * the step codec (and so the `StepDecision` type, derived with `t.TypeOf`), the checks, and
 * `fromDecision`, the one place mapping document fields to combinators. The composition order below
 * states the semantics (e.g. a corrector after heavy ball keeps its own velocity; churn runs first).
 */
import { flow } from 'fp-ts/lib/function.js'
import * as U from '../core/Codec.ts'
import * as Churn from './Churn.ts'
import * as Corrector from './Corrector.ts'
import * as Ems from './Ems.ts'
import * as X from './ExpInt.ts'
import * as Langevin from './Langevin.ts'
import * as MR from './MeanReverting.ts'
import * as Momentum from './Momentum.ts'
import * as Noise from './Noise.ts'
import type * as St from './Step.ts'
import * as TimeShift from './TimeShift.ts'

// -------------------------------------------------------------------------------------------------
// codec
// -------------------------------------------------------------------------------------------------

/** the step's fields: the required ones, then each behaviour's optional field */
export const props = (closed: U.Closed) => ({
  required: X.required,
  optional: {
    ...X.optional(closed),
    corrector: Corrector.codec(closed),
    ems: U.bool,
    noise: Noise.codec(closed),
    churn: Churn.codec(closed),
    langevin: Langevin.codec(closed),
    momentum: Momentum.codec(closed),
    timeShift: TimeShift.codec(closed),
  },
})

type Props = ReturnType<typeof props>

/** one step's decisions: the type of the assembled step codec */
export type StepDecision = U.ClosedOf<Props['required'], Props['optional']>

/** the step codec (closed: unknown keys rejected, or stripped to check the rest) */
export const stepCodec = (closed: U.Closed) => {
  const p = props(closed)
  return closed('a step', p.required, p.optional)
}

// -------------------------------------------------------------------------------------------------
// fields
// -------------------------------------------------------------------------------------------------

/** a behaviour as the registry sees it: its key, its checks, and its combinator for a decision (identity when the field is absent) */
export interface Field {
  readonly key: keyof StepDecision | 'base'
  readonly checks: (d: StepDecision, i: number) => ReadonlyArray<U.Issue>
  readonly apply: (d: StepDecision) => St.Combinator
}

const id: St.Combinator = (s) => s
const opt = <A>(a: A | undefined, f: (a: A) => St.Combinator): St.Combinator => (a === undefined ? id : f(a))

/** every field, in composition order */
export const fields: ReadonlyArray<Field> = [
  { key: 'base', checks: X.checks, apply: () => MR.meanReverting },
  { key: 'ems', checks: Ems.checks, apply: (d) => (d.ems === true ? Ems.ems : id) },
  { key: 'noise', checks: Noise.checks, apply: (d) => opt(d.noise, Noise.noise) },
  { key: 'momentum', checks: Momentum.checks, apply: (d) => opt(d.momentum, Momentum.momentum) },
  { key: 'timeShift', checks: TimeShift.checks, apply: (d) => opt(d.timeShift, TimeShift.timeShift) },
  { key: 'corrector', checks: Corrector.checks, apply: (d) => opt(d.corrector, (c) => Corrector.corrector(c, d)) },
  { key: 'langevin', checks: Langevin.checks, apply: (d) => opt(d.langevin, Langevin.langevin) },
  { key: 'churn', checks: Churn.checks, apply: (d) => opt(d.churn, Churn.churn) },
]

/** the order issues are reported in: the base step, its corrector, then the behaviours */
const CHECK_ORDER: ReadonlyArray<Field['key']> = ['base', 'corrector', 'noise', 'momentum', 'timeShift', 'langevin', 'churn', 'ems']

/** every field's checks of the step at index i */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> => CHECK_ORDER.flatMap((k) => fields.find((f) => f.key === k)?.checks(d, i) ?? [])

/** the step of a decision: the exponential integrator, then every field's combinator in registry order */
export const fromDecision = (d: StepDecision): St.Step => fields.reduce<St.Combinator>((acc, f) => flow(acc, f.apply(d)), id)(X.expInt(d))

// -------------------------------------------------------------------------------------------------
// search genes
// -------------------------------------------------------------------------------------------------

/**
 * the fields the schedule search carries unchanged from a seed schedule (it varies the base step and corrector
 * genes): behaviours that keep the NFE budget; churn, Langevin (extra evaluations) and ems (the model's EMS) are not carried
 */
export const CARRIED = ['noise', 'momentum', 'timeShift', 'halveSecondDerivative'] as const

/** the carried fields of a decision */
export type Carried = Pick<StepDecision, (typeof CARRIED)[number]>

/** the carried fields of a decision, undefined when it has none */
export const carriedOf = (d: StepDecision): Carried | undefined => {
  const out = Object.fromEntries(CARRIED.flatMap((k) => (d[k] === undefined ? [] : [[k, d[k]]])))
  return Object.keys(out).length === 0 ? undefined : (out as Carried)
}

/** the codec of the carried fields (checkpoints) */
export const carriedCodec = (closed: U.Closed) => {
  const o = props(closed).optional
  return closed('carried step fields', {}, { noise: o.noise, momentum: o.momentum, timeShift: o.timeShift, halveSecondDerivative: o.halveSecondDerivative })
}
