/**
 * Problem files at the boundary (the golden format's `problem` + `schedule`, and `mu` for a mean-reverting
 * schedule; other keys are ignored), decoded like schedule documents: an io-ts codec for the structure,
 * then the cross-field checks, every problem an `Issue` naming its JSON path, what was found and the fix.
 * Checked: K and D positive integers; K weights, each positive, summing to 1 within 1e-9; K rows of D
 * finite means and of D positive variances; the schedule's name (one of the listed ones) and parameters;
 * t_0 < T inside the times where the schedule is defined; μ's shape. Start points (`{"data": number[][]}`)
 * are checked the same way: non-empty, rows of width D, finite.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import * as U from '../core/Codec.ts'
import type * as Gmm from '../core/Gmm.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as MR from '../models/MeanReverting.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a decoding problem: where (JSON path) and what to do */
export type Issue = U.Issue
type Issues = ReadonlyArray<Issue>

/** the schedule names a problem file may give */
export const SCHEDULES = ['discrete', 'linear', 'mean_reverting'] as const

/** the weights must sum to 1 within this */
export const WEIGHT_TOLERANCE = 1e-9

// -------------------------------------------------------------------------------------------------
// codecs
// -------------------------------------------------------------------------------------------------

const nonNegative = U.guard('a non-negative number', (u): u is number => typeof u === 'number' && Number.isFinite(u) && u >= 0)
const unitOpen = U.guard('a number in (0, 1)', (u): u is number => typeof u === 'number' && u > 0 && u < 1)
const numbers = <C extends t.Mixed>(c: C, name: string) => t.array(c, name)
const Matrix = (c: t.Mixed, name: string) => t.array(t.array(c, `a list of ${name}`), `a list of rows of ${name}`)

/** the mixture record `problem` (other keys ignored) */
export const MixtureC = t.type({
  K: U.positiveInt,
  D: U.positiveInt,
  weights: numbers(U.positiveNumber, 'a list of positive weights'),
  means: Matrix(U.finiteNumber, 'finite numbers'),
  variances: Matrix(U.positiveNumber, 'positive numbers'),
})

const range = { T: U.positiveNumber, t_0: U.positiveNumber }
const DiscreteC = t.intersection([
  t.type({ name: t.literal('discrete'), betas: numbers(unitOpen, 'a list of betas in (0, 1)') }),
  t.partial({ t_array: numbers(U.positiveNumber, 'a list of positive times'), log_alpha_array: numbers(U.finiteNumber, 'a list of finite numbers'), ...range }),
])
const LinearC = t.intersection([t.type({ name: t.literal('linear') }), t.partial({ beta_0: nonNegative, beta_1: U.positiveNumber, ...range })])
const MeanRevertingC = t.intersection([
  t.type({ name: t.literal('mean_reverting'), lambda_inf: U.positiveNumber }),
  t.partial({ theta: U.oneOf<MR.Theta>(['cosine', 'linear', 'constant']), alpha_T: unitOpen, ...range }),
])

/** a decoded noise schedule spec */
export type Schedule = t.TypeOf<typeof DiscreteC> | t.TypeOf<typeof LinearC> | t.TypeOf<typeof MeanRevertingC>

/** the `schedule` record, told apart by `name` (one message listing the names, not one per branch) */
export const ScheduleC = new t.Type<Schedule, unknown, unknown>(
  `a schedule {name: ${SCHEDULES.join(' | ')}, …}`,
  (u): u is Schedule => DiscreteC.is(u) || LinearC.is(u) || MeanRevertingC.is(u),
  (u, c) => {
    if (!U.isRecord(u)) return t.failure(u, c, `got ${U.show(u)}; expected a schedule object {name: ${SCHEDULES.join(' | ')}, …}`)
    const name = u['name']
    if (name === 'discrete') return DiscreteC.validate(u, c)
    if (name === 'linear') return LinearC.validate(u, c)
    if (name === 'mean_reverting') return MeanRevertingC.validate(u, c)
    const ctx = t.appendContext(c, 'name', t.string, name)
    const near = typeof name === 'string' ? U.suggest(name, SCHEDULES) : undefined
    return t.failure(name, ctx, `${name === undefined ? 'missing' : `got ${U.show(name)}`}; expected one of ${SCHEDULES.join(', ')}${near === undefined ? '' : ` (did you mean '${near}'?)`}`)
  },
  (s) => s,
)

/** what `sample` and `search` need (other keys ignored): the mixture, its noise schedule and, for mean_reverting, the condition μ (D numbers, or rows of D) */
export const ProblemFileC = t.intersection([t.type({ problem: MixtureC, schedule: ScheduleC }), t.partial({ mu: t.union([t.array(U.finiteNumber), Matrix(U.finiteNumber, 'finite numbers')]) })])

/** a decoded problem file */
export type ProblemFile = t.TypeOf<typeof ProblemFileC>

// -------------------------------------------------------------------------------------------------
// cross-field checks
// -------------------------------------------------------------------------------------------------

const when = U.when
const plural = U.plural

/** K rows of D numbers: one issue per row count or row width mismatch */
const rowsOf = (path: string, rows: ReadonlyArray<ReadonlyArray<number>>, K: number, D: number, what: string): Issues => [
  ...when(rows.length !== K, `problem.${path}`, () => `${plural(rows.length, 'row')} for K = ${K} components; give one row of ${what} per component`),
  ...rows.flatMap((r, k) => when(r.length !== D, `problem.${path}[${k}]`, () => `${plural(r.length, 'number')}; expected D = ${D} (one per dimension)`)),
]

/** the mixture: K weights summing to 1, K rows of D means and variances */
const checkMixture = (m: t.TypeOf<typeof MixtureC>): Issues => {
  const sum = m.weights.reduce((a, w) => a + w, 0)
  return [
    ...when(m.weights.length !== m.K, 'problem.weights', () => `${plural(m.weights.length, 'weight')} for K = ${m.K} components; give one weight per component (or set K to ${m.weights.length})`),
    ...when(
      m.weights.length > 0 && !(Math.abs(sum - 1) <= WEIGHT_TOLERANCE),
      'problem.weights',
      () => `the weights sum to ${sum}; they are the components' probabilities and must sum to 1 (within ${WEIGHT_TOLERANCE}): divide each by ${sum}`,
    ),
    ...rowsOf('means', m.means, m.K, m.D, 'D means'),
    ...rowsOf('variances', m.variances, m.K, m.D, 'D variances'),
  ]
}

/** where the schedule is defined: [lo, hi] (discrete: its table, no extrapolation; mean-reverting: (0, 1]) */
export const domainOf = (s: Schedule): { readonly lo: number; readonly hi: number; readonly why: string } => {
  switch (s.name) {
    case 'discrete': {
      const ts = s.t_array ?? s.betas.map((_, i) => (i + 1) / s.betas.length)
      return { lo: Math.min(...ts), hi: Math.max(...ts), why: `the discrete schedule's table (${s.t_array === undefined ? `t = i/N for N = ${s.betas.length} betas` : 't_array'}; no extrapolation)` }
    }
    case 'linear':
      return { lo: 0, hi: Infinity, why: 'the linear schedule (t > 0)' }
    case 'mean_reverting':
      return { lo: 0, hi: 1, why: 'the mean-reverting schedule (t ∈ (0, 1])' }
  }
}

/** the schedule: table lengths and order, β_1 ≥ β_0, t_0 < T inside the domain */
export const checkSchedule = (s: Schedule): Issues => {
  const table: Issues =
    s.name !== 'discrete'
      ? []
      : [
          ...when(s.betas.length < 2, 'schedule.betas', () => `${plural(s.betas.length, 'beta')}; a discrete schedule needs at least 2`),
          ...(s.t_array === undefined
            ? []
            : [
                ...when(
                  s.t_array.length !== (s.log_alpha_array?.length ?? s.betas.length),
                  'schedule.t_array',
                  () => `${plural(s.t_array!.length, 'time')}; expected one per ${s.log_alpha_array === undefined ? 'beta' : 'log_alpha_array entry'} (${s.log_alpha_array?.length ?? s.betas.length})`,
                ),
                ...s.t_array.flatMap((x, k) => when(k > 0 && !(x > s.t_array![k - 1]!), `schedule.t_array[${k}]`, () => `${x} is not above the previous time ${s.t_array![k - 1]}; t_array increases`)),
              ]),
          ...(s.log_alpha_array === undefined
            ? []
            : s.log_alpha_array.flatMap((x, k) =>
                when(k > 0 && !(x < s.log_alpha_array![k - 1]!), `schedule.log_alpha_array[${k}]`, () => `${x} is not below the previous value ${s.log_alpha_array![k - 1]}; log α decreases with t`),
              )),
        ]
  const betas =
    s.name === 'linear'
      ? when((s.beta_1 ?? 20) < (s.beta_0 ?? 0.1), 'schedule.beta_1', () => `beta_1 = ${s.beta_1 ?? 20} is below beta_0 = ${s.beta_0 ?? 0.1}; β(t) grows from beta_0 to beta_1: swap them`)
      : []
  const T = s.T ?? 1
  const t0 = s.t_0 ?? 1e-3
  const d = domainOf(s)
  return [
    ...table,
    ...betas,
    ...when(!(t0 < T), 'schedule.t_0', () => `t_0 = ${t0} is not below T = ${T}; sampling runs from T (noise) down to t_0 (data): use a t_0 below ${T}`),
    ...when(T > d.hi, 'schedule.T', () => `T = ${T} is above ${d.hi}, the last time of ${d.why}; use T ≤ ${d.hi}`),
    ...when(!(t0 >= d.lo) || (d.lo === 0 && !(t0 > 0)), 'schedule.t_0', () => `t_0 = ${t0} is below ${d.lo}, the first time of ${d.why}; use t_0 ≥ ${d.lo}`),
  ]
}

/** μ: only (and required) with mean_reverting; D numbers or rows of D */
const checkMu = (f: ProblemFile): Issues => {
  const mr = f.schedule.name === 'mean_reverting'
  const D = f.problem.D
  if (f.mu === undefined) return when(mr, 'mu', () => 'missing; a mean_reverting schedule needs the condition μ: D numbers for every row, or one row of D per row of x_T')
  if (!mr) return [U.issue('mu', `"mu" is the condition of a mean_reverting schedule (schedule.name is ${f.schedule.name}); remove it`)]
  const mu = f.mu
  if (mu.length === 0) return [U.issue('mu', `empty; give D = ${D} numbers, or rows of D`)]
  if (mu.every((v): v is number => typeof v === 'number')) return when(mu.length !== D, 'mu', () => `${plural(mu.length, 'number')}; expected D = ${D} (one condition for every row) or rows of D`)
  return (mu as ReadonlyArray<ReadonlyArray<number>>).flatMap((r, k) => when(r.length !== D, `mu[${k}]`, () => `${plural(r.length, 'number')}; expected D = ${D}`))
}

/** every cross-field check of a structurally valid problem file */
export const check = (f: ProblemFile): Issues => [...checkMixture(f.problem), ...checkSchedule(f.schedule), ...checkMu(f)]

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** u ↦ structure, then `check`: the problem file (as given, other keys kept), or every issue with its path */
export const decode = (u: unknown): E.Either<Issues, ProblemFile> =>
  pipe(
    ProblemFileC.decode(u),
    E.mapLeft(U.issuesOf),
    E.chain((f) => {
      const is = check(f)
      return is.length === 0 ? E.right(f) : E.left(is)
    }),
  )

/** `decode` or throw an Error naming the file and listing every issue */
export const decodeOrThrow = (u: unknown, file = 'the problem file'): ProblemFile => {
  const d = decode(u)
  if (E.isLeft(d)) throw new Error(`${file} is not a valid problem file (${plural(d.left.length, 'issue')}):\n${U.formatIssues(d.left)}`)
  return d.right
}

/** the noise schedule of a problem file, over its [t_0, T] */
export const noiseSchedule = (f: ProblemFile): NS.NoiseSchedule => noiseScheduleOf(f.schedule)

/** the noise schedule of a schedule spec (a problem file's `schedule`, a model card's), over its [t_0, T] (defaults 1, 1e-3) */
export const noiseScheduleOf = (s: Schedule): NS.NoiseSchedule => {
  const ns =
    s.name === 'discrete'
      ? NS.vpDiscrete({
          betas: s.betas,
          ...(s.t_array === undefined ? {} : { tArray: s.t_array }),
          ...(s.log_alpha_array === undefined ? {} : { logAlphaArray: s.log_alpha_array }),
        })
      : s.name === 'linear'
        ? NS.vpLinear(s.beta_0 ?? 0.1, s.beta_1 ?? 20)
        : MR.schedule({ lambdaInf: s.lambda_inf, ...(s.theta === undefined ? {} : { theta: s.theta }), ...(s.alpha_T === undefined ? {} : { alphaT: s.alpha_T }) })
  return NS.withRange(s.T ?? 1, s.t_0 ?? 1e-3)(ns)
}

/** the condition μ of a mean-reverting problem for N rows (row-major N·D), undefined for the other schedules; throws on a mismatch */
export const muOf = (f: ProblemFile, N: number): Float64Array | undefined => {
  const mr = f.schedule.name === 'mean_reverting'
  if (f.mu === undefined) {
    if (mr) throw new Error('a mean_reverting schedule needs the condition: add "mu" (D numbers for every row, or N rows of D like x_T)')
    return undefined
  }
  if (!mr) throw new Error(`"mu" is the condition of a mean_reverting schedule (schedule is ${f.schedule.name}); remove it`)
  const flat = f.mu.flat()
  const D = f.problem.D
  if (!(flat.length === D || flat.length === N * D))
    throw new Error(`"mu" has ${flat.length / D} rows; expected 1 (one condition for every row) or one per row of x_T (${N}): give ${D} numbers or ${N} rows of ${D}`)
  return MR.rowsOf(flat, N, D)
}

/** the mixture of a problem file */
export const gmm = (f: ProblemFile): Gmm.Gmm => f.problem

/** |values| above which the mixture's squared distances overflow: float64 (1e308) and float32 (3.4e38) */
export const OVERFLOW = { float64: 1e150, float32: 1e18 } as const

/**
 * the likely bad field when a model output is not finite although every field is finite: the first value whose
 * magnitude overflows the mixture's density ((x − α·m)²/(α²s² + σ²)) in this precision, named by its JSON path
 */
export const suspect = (g: Gmm.Gmm, xT: ArrayLike<number>, mu: ArrayLike<number> | undefined, precision: keyof typeof OVERFLOW): string | undefined => {
  const big = OVERFLOW[precision]
  const D = g.D
  const why = `|values| above ~${big.toExponential(0)} overflow the mixture's squared distances in ${precision}`
  for (let k = 0; k < g.K; k++)
    for (let d = 0; d < D; d++) {
      const v = g.variances[k]?.[d] ?? 1
      if (v > big * big || v < 1 / (big * big)) return `problem.variances[${k}][${d}] = ${v} (variances this ${v > 1 ? 'large' : 'small'} overflow the density in ${precision}; rescale the problem)`
      const m = g.means[k]?.[d] ?? 0
      if (Math.abs(m) > big) return `problem.means[${k}][${d}] = ${m} (${why}; rescale the problem)`
    }
  for (let i = 0; i < (mu?.length ?? 0); i++) if (Math.abs(mu![i]!) > big) return `mu (row ${Math.floor(i / D)}, column ${i % D}) = ${mu![i]} (${why}; rescale the condition)`
  for (let i = 0; i < xT.length; i++) if (Math.abs(xT[i]!) > big) return `x_T data[${Math.floor(i / D)}][${i % D}] = ${xT[i]} (${why}; start points are standard normal at T)`
  return undefined
}

/** the issues of start points `{"data": number[][]}` for rows of width D: non-empty, every row D finite numbers */
export const startIssues = (u: unknown, D: number): Issues => {
  const data = U.isRecord(u) ? u['data'] : undefined
  if (!Array.isArray(data))
    return [U.issue(U.isRecord(u) ? 'data' : '(root)', `${data === undefined ? 'missing' : `got ${U.show(data)}`}; expected {"data": [[x_1, …, x_D], …]}: one row of D = ${D} numbers per sample`)]
  if (data.length === 0) return [U.issue('data', 'no rows; give at least one start point')]
  return data.flatMap((row: unknown, n): Issues => {
    if (!Array.isArray(row)) return [U.issue(`data[${n}]`, `got ${U.show(row)}; expected a row of D = ${D} numbers`)]
    const bad = row.findIndex((v: unknown) => !(typeof v === 'number' && Number.isFinite(v)))
    return [
      ...when(row.length !== D, `data[${n}]`, () => `${plural(row.length, 'number')}; expected D = ${D} (the problem's dimension)`),
      ...when(bad >= 0, `data[${n}][${bad}]`, () => `got ${U.show(row[bad])}; expected a finite number`),
    ]
  })
}

/** the start points as rows, or throw naming `file` and the first issues; a golden file (no `data`, an `x_T`) gives its x_T */
export const startsOrThrow = (u: unknown, D: number, file: string): ReadonlyArray<ReadonlyArray<number>> => {
  const v = U.isRecord(u) && !('data' in u) && U.isRecord(u['x_T']) ? u['x_T'] : u
  const is = startIssues(v, D).map((i) => (v === u ? i : { ...i, path: `x_T.${i.path}` }))
  if (is.length > 0) throw new Error(`${file} holds no valid start points (${plural(is.length, 'issue')}):\n${U.formatIssues(is.slice(0, 8))}${is.length > 8 ? `\n… and ${is.length - 8} more` : ''}`)
  return (v as { readonly data: ReadonlyArray<ReadonlyArray<number>> }).data
}
