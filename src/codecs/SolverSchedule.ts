/**
 * The schedule document `stepwise-schedule/v1` at the boundary: an io-ts codec with closed structs
 * at every level, then the cross-field checks (step count, available history, node ranges, basis
 * limits, monotone times). Every problem is an `Issue` naming its JSON path and the fix:
 * `steps[0].order: order 2 needs 1 earlier evaluation and step 0 has none; use 1`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import * as G from '../Grid.ts'
import type { Basis, Relaxation } from '../Rule.ts'
import * as S from '../SolverSchedule.ts'
import * as U from './util.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a problem in a document: JSON path and what to do */
export type Issue = U.Issue

/** the highest order a step (or corrector) may use */
export const MAX_ORDER = 6
/** the highest Adams–Bashforth order (basis 'ab' predictor) */
export const MAX_AB = 5
/** the highest Adams–Moulton order (basis 'ab' corrector) */
export const MAX_AM = 4

const SPACINGS: ReadonlyArray<G.Spacing> = ['time_uniform', 'logSNR', 'time_quadratic', 'karras']
const RELAXATIONS = ['none', 'dpmsolver-2', 'unipc-bh1', '0.5exp', '-0.5exp'] as const
const ALL_SPACINGS = `one of ${[...SPACINGS, 'explicit'].join(', ')}`

// -------------------------------------------------------------------------------------------------
// codecs
// -------------------------------------------------------------------------------------------------

const Basis: t.Type<Basis, Basis, unknown> = U.oneOf<Basis>(['lambda', 't', 'rho', 'ab'])
const SplitIn = U.oneOf<'lambda' | 't'>(['lambda', 't'])
const Split = t.readonlyArray(U.positiveInt, 'a list of positive integers')
const Indices = t.readonlyArray(U.negativeInt, 'a list of negative integers (history indices, −1 = newest)')

const RELAXATION_EXPECTED = `one of ${RELAXATIONS.join(', ')} or {"linear": number}`
const isRelaxationName = (u: unknown): u is (typeof RELAXATIONS)[number] => RELAXATIONS.some((r) => r === u)

/** the document codec; `unknownKeys: 'strip'` ignores unknown keys (to run the cross-field checks despite them) */
const build = (unknownKeys: 'reject' | 'strip'): t.Type<S.SolverSchedule, unknown, unknown> => {
  const closed = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) => U.closed(name, required, optional, unknownKeys)
  const Linear = closed('a linear relaxation', { linear: U.finiteNumber }, {})

  /** 'none' | 'dpmsolver-2' | 'unipc-bh1' | '0.5exp' | '-0.5exp' | { linear: number } */
  const RelaxationC = new t.Type<Relaxation, unknown, unknown>(
    RELAXATION_EXPECTED,
    (u): u is Relaxation => isRelaxationName(u) || Linear.is(u),
    (u, c) => (isRelaxationName(u) ? t.success(u) : U.isRecord(u) ? Linear.validate(u, c) : t.failure(u, c, `got ${U.show(u)}; expected ${RELAXATION_EXPECTED}`)),
    (r) => (typeof r === 'object' ? Linear.encode(r) : r),
  )

  const gridOptional = { split: Split, splitIn: SplitIn }
  const SpacingGrid = closed(
    'a spacing grid',
    { spacing: U.oneOf(SPACINGS), steps: U.positiveInt },
    { rho: U.positiveNumber, T: U.positiveNumber, t0: U.positiveNumber, ...gridOptional },
  )
  const ExplicitGrid = closed(
    'an explicit grid',
    { spacing: t.literal('explicit'), t: t.readonlyArray(U.positiveNumber, 'a list of positive times') },
    gridOptional,
  )

  /** a spacing grid or an explicit one, told apart by `spacing` (one message, not one per branch) */
  const GridC = new t.Type<G.Grid, unknown, unknown>(
    `a grid {spacing: ${ALL_SPACINGS}, …}`,
    (u): u is G.Grid => SpacingGrid.is(u) || ExplicitGrid.is(u),
    (u, c) => {
      if (!U.isRecord(u)) return t.failure(u, c, `got ${U.show(u)}; expected a grid object {spacing: ${ALL_SPACINGS}, …}`)
      const sp = u['spacing']
      if (sp === 'explicit') return ExplicitGrid.validate(u, c)
      if (SPACINGS.some((s) => s === sp)) return SpacingGrid.validate(u, c)
      const ctx = t.appendContext(c, 'spacing', t.string, sp)
      return sp === undefined
        ? t.failure(sp, ctx, `missing required key 'spacing'; expected ${ALL_SPACINGS}`)
        : t.failure(sp, ctx, `got ${U.show(sp)}; expected ${ALL_SPACINGS}`)
    },
    (g) => (g.spacing === 'explicit' ? ExplicitGrid.encode(g) : SpacingGrid.encode(g)),
  )

  const CorrectorC = closed(
    'a corrector',
    { mode: U.oneOf<'pseudo' | 'reeval'>(['pseudo', 'reeval']) },
    { order: U.positiveInt, nodes: Indices, basis: Basis, relaxation: RelaxationC },
  )

  const nonNeg = U.guard<number>('a non-negative number', (n): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0)
  const NoiseC = closed(
    'noise injection',
    { level: U.oneOf<'sde' | 'ddim' | 'ancestral'>(['sde', 'ddim', 'ancestral']), eta: nonNeg },
    { sNoise: nonNeg },
  )
  const ChurnC = closed('EDM churn', { gamma: nonNeg }, { sNoise: nonNeg })
  const MomentumC = closed(
    'momentum',
    { kind: U.oneOf<'hb' | 'nt' | 'ghvb'>(['hb', 'nt', 'ghvb']), beta: U.positiveNumber },
    {},
  )
  const TimeShiftC = closed('a time shift', { window: U.positiveInt, cutoff: nonNeg }, { scale: U.positiveNumber })

  const StepC = closed(
    'a step',
    { prediction: U.oneOf<'noise' | 'data'>(['noise', 'data']), order: U.positiveInt },
    {
      start: U.negativeInt,
      nodes: Indices,
      basis: Basis,
      relaxation: RelaxationC,
      halveSecondDerivative: U.bool,
      corrector: CorrectorC,
      noise: NoiseC,
      churn: ChurnC,
      momentum: MomentumC,
      timeShift: TimeShiftC,
    },
  )

  const OptionsC = closed(
    'options',
    {},
    { firstStep: U.oneOf<'evaluate' | 'zero_x0'>(['evaluate', 'zero_x0']), denoiseToZero: U.bool },
  )

  return closed(
    'a schedule document',
    { format: t.literal(S.FORMAT), grid: GridC, steps: t.readonlyArray(StepC, 'a list of steps') },
    { name: U.string, options: OptionsC },
  )
}

/** the structural codec of a schedule document (closed structs; no cross-field checks: see `decode`) */
export const codec: t.Type<S.SolverSchedule, unknown, unknown> = build('reject')
const lenient = build('strip')

// -------------------------------------------------------------------------------------------------
// cross-field checks
// -------------------------------------------------------------------------------------------------

type Issues = ReadonlyArray<Issue>

const issue = (path: string, message: string): Issue => ({ path, message })
const when = (cond: boolean, path: string, message: () => string): Issues => (cond ? [issue(path, message())] : [])
const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`
const isPosInt = (n: number): boolean => Number.isInteger(n) && n >= 1
const range = (avail: number): string => (avail === 1 ? '-1' : `a value in -${avail}..-1`)

/** grid: T > t0, rho only for karras, explicit times positive and strictly decreasing, split per outer interval */
const checkGrid = (g: G.Grid): Issues => {
  const sp = g.split
  const outer = G.outerSteps(g)
  const split: Issues =
    sp === undefined
      ? when(g.splitIn !== undefined, 'grid.splitIn', () => 'splitIn has no effect without split; remove it or add split')
      : [
          ...when(sp.length !== outer, 'grid.split', () =>
            `split has ${plural(sp.length, 'entry', 'entries')} but the grid has ${plural(outer, 'outer interval')}; give one sub-interval count per outer interval`,
          ),
          ...sp.flatMap((k, j) => when(!isPosInt(k), `grid.split[${j}]`, () => `got ${U.show(k)}; expected a positive integer`)),
        ]
  if (g.spacing === 'explicit')
    return [
      ...when(g.t.length < 2, 'grid.t', () => `${plural(g.t.length, 'time')} given; an explicit grid needs at least 2 (add the start and end times)`),
      ...g.t.flatMap((x, k) =>
        !(Number.isFinite(x) && x > 0)
          ? [issue(`grid.t[${k}]`, `got ${U.show(x)}; expected a positive time`)]
          : when(k > 0 && !(x < g.t[k - 1]!), `grid.t[${k}]`, () =>
              `${x} is not below the previous time ${g.t[k - 1]} (t[${k - 1}]); use a time below ${g.t[k - 1]}: explicit times strictly decrease from T to t0`,
            ),
      ),
      ...split,
    ]
  const pos = (key: 'rho' | 'T' | 't0', v: number | undefined): Issues =>
    when(v !== undefined && !(Number.isFinite(v) && v > 0), `grid.${key}`, () => `got ${U.show(v)}; expected a positive number`)
  return [
    ...when(!isPosInt(g.steps), 'grid.steps', () => `got ${U.show(g.steps)}; expected a positive integer`),
    ...when(g.rho !== undefined && g.spacing !== 'karras', 'grid.rho', () => `rho applies only to spacing karras (spacing is ${g.spacing}); remove it`),
    ...pos('rho', g.rho),
    ...pos('T', g.T),
    ...pos('t0', g.t0),
    ...when(g.T !== undefined && g.t0 !== undefined && !(g.T > g.t0), 'grid.T', () =>
      `T = ${g.T} must be greater than t0 = ${g.t0}; sampling runs from T (noise) down to t0 (data), swap them`,
    ),
    ...split,
  ]
}

/** history indices: negative integers within the `avail` newest points, no duplicates, `order` of them */
const checkIndices = (
  path: string,
  nodes: ReadonlyArray<number>,
  avail: number,
  order: number,
  what: string,
  orderKey: string,
  i: number,
): Issues => [
  ...when(nodes.length !== order, path, () =>
    `${plural(nodes.length, 'node')} given but ${what} is ${order}; give ${order} node${order === 1 ? '' : 's'} or set ${orderKey} to ${nodes.length}`,
  ),
  ...nodes.flatMap((k, j) => {
    if (!(Number.isInteger(k) && k <= -1)) return [issue(`${path}[${j}]`, `got ${U.show(k)}; expected a negative integer (a history index, −1 = newest)`)]
    if (k < -avail)
      return [issue(`${path}[${j}]`, `history index ${k} is out of range: step ${i} has ${plural(avail, 'point')} of history; use ${range(avail)}`)]
    const first = nodes.indexOf(k)
    return when(first < j, `${path}[${j}]`, () => `${k} repeats nodes[${first}]; every node must be a different history point, remove or change it`)
  }),
]

/** the effective basis of a step ('lambda' by default) */
const basisOf = (b: Basis | undefined): Basis => b ?? 'lambda'

/** relaxation only where the first derivative is estimated in λ */
const checkRelaxation = (path: string, r: Relaxation | undefined, basis: Basis, basisKey: string): Issues =>
  when(basis !== 'lambda' && r !== undefined && r !== 'none', path, () => `relaxation applies only to basis lambda (${basisKey} is ${basis}); remove it or set ${basisKey} to lambda`)

/** one step at index i: history availability, order limits, nodes, basis-dependent options, corrector */
const checkStep = (d: S.StepDecision, i: number): Issues => {
  const p = `steps[${i}]`
  const avail = i + 1
  const basis = basisOf(d.basis)
  const start = S.startOf(d)
  const orderOk = isPosInt(d.order)
  const order: Issues = !orderOk
    ? [issue(`${p}.order`, `got ${U.show(d.order)}; expected a positive integer`)]
    : [
        ...when(d.order > MAX_ORDER, `${p}.order`, () => `order ${d.order} is above the maximum ${MAX_ORDER}; use at most ${MAX_ORDER}`),
        ...when(d.order > avail, `${p}.order`, () =>
          `order ${d.order} needs ${plural(d.order - 1, 'earlier evaluation')} and step ${i} has ${i === 0 ? 'none' : `only ${i}`}; use ${i === 0 ? '1' : `at most ${avail}`}`,
        ),
        ...when(basis === 'ab' && d.order > MAX_AB, `${p}.order`, () =>
          `basis ab has Adams–Bashforth weights up to order ${MAX_AB}; use at most ${MAX_AB} or another basis`,
        ),
      ]
  const startIssues: Issues =
    d.start === undefined
      ? []
      : !(Number.isInteger(start) && start <= -1)
        ? [issue(`${p}.start`, `got ${U.show(d.start)}; expected a negative integer (a history index, −1 = newest)`)]
        : when(start < -avail, `${p}.start`, () => `history index ${start} is out of range: step ${i} has ${plural(avail, 'point')} of history; use ${range(avail)}`)
  const nodes = d.nodes === undefined ? [] : checkIndices(`${p}.nodes`, d.nodes, avail, d.order, 'order', 'order', i)
  const halve: Issues =
    d.halveSecondDerivative === true
      ? [
          ...when(orderOk && d.order < 3, `${p}.halveSecondDerivative`, () =>
            `halving the second derivative needs order ≥ 3 (order is ${d.order}); remove it or raise the order`,
          ),
          ...when(basis !== 'lambda', `${p}.halveSecondDerivative`, () => `halving the second derivative needs basis lambda (basis is ${basis}); remove it`),
        ]
      : []
  return [
    ...order,
    ...startIssues,
    ...nodes,
    ...checkRelaxation(`${p}.relaxation`, d.relaxation, basis, 'basis'),
    ...halve,
    ...(d.corrector === undefined || !orderOk ? [] : checkCorrector(d, d.corrector, i)),
    ...checkExtensions(d, i),
  ]
}

/** noise, momentum and time-shift: where each is defined, and what it cannot be combined with */
const checkExtensions = (d: S.StepDecision, i: number): Issues => {
  const p = `steps[${i}]`
  const basis = basisOf(d.basis)
  const n = d.noise
  const m = d.momentum
  const ts = d.timeShift
  const noise: Issues =
    n === undefined
      ? []
      : n.level === 'sde'
        ? [
            ...when(d.prediction !== 'data', `${p}.noise.level`, () => `noise level sde is defined for data prediction (prediction is noise); set prediction to data or use level ddim`),
            ...when(basis !== 'lambda', `${p}.noise.level`, () => `noise level sde needs basis lambda (basis is ${basis}); remove basis or use level ddim with order 1`),
          ]
        : [
            ...when(d.order !== 1, `${p}.noise.level`, () => `noise level ${n.level} is a first-order step (order is ${d.order}); set order to 1 or use level sde (data prediction)`),
            ...when(d.corrector !== undefined, `${p}.corrector`, () => `a corrector cannot follow a ${n.level} noise step; remove the corrector`),
          ]
  const mom: Issues =
    m === undefined
      ? []
      : [
          ...when(!(m.beta > 0 && m.beta <= 1), `${p}.momentum.beta`, () => `β = ${m.beta} is outside (0, 1]; β = 1 is the base step, smaller β is more momentum`),
          ...when(m.kind === 'ghvb' && basis !== 'ab' && d.order > 2, `${p}.momentum`, () =>
            `GHVB on basis ${basis} is defined up to order 2 (order is ${d.order}); lower the order or use basis ab`,
          ),
          ...when(d.corrector !== undefined, `${p}.corrector`, () => 'a corrector cannot be combined with momentum; remove one of them'),
          ...when(d.start !== undefined && d.start !== -1, `${p}.start`, () => 'momentum needs a multistep step (start −1); remove start or the momentum'),
          ...when(n !== undefined && n.level !== 'sde', `${p}.noise`, () => `momentum cannot be combined with noise level ${n?.level}; use level sde or remove one of them`),
        ]
  const shift: Issues =
    ts === undefined
      ? []
      : [
          ...when(d.corrector !== undefined, `${p}.corrector`, () => 'a corrector cannot follow a time-shifted step (its target differs per sample); remove the corrector or the time shift'),
          ...when(m !== undefined, `${p}.momentum`, () => 'momentum cannot be combined with a time shift; remove one of them'),
          ...when(n !== undefined && n.level !== 'sde', `${p}.noise`, () => `a time shift cannot be combined with noise level ${n?.level}; use level sde or remove one of them`),
        ]
  return [...noise, ...mom, ...shift]
}

/** a corrector at step i: its history has i + 2 points (the new one is −1) */
const checkCorrector = (d: S.StepDecision, c: S.Corrector, i: number): Issues => {
  const p = `steps[${i}].corrector`
  const avail = i + 2
  const basis = basisOf(c.basis ?? d.basis)
  const k = S.correctorOrder(d, c)
  const dflt = c.order === undefined ? ' (default: predictor order + 1)' : ''
  const fix = c.order === undefined ? 'set corrector.order to' : 'use'
  const order: Issues =
    c.order !== undefined && !isPosInt(c.order)
      ? [issue(`${p}.order`, `got ${U.show(c.order)}; expected a positive integer`)]
      : [
          ...when(k > MAX_ORDER, `${p}.order`, () => `corrector order ${k}${dflt} is above the maximum ${MAX_ORDER}; ${fix} at most ${MAX_ORDER}`),
          ...when(c.order !== undefined && k > avail, `${p}.order`, () =>
            `corrector order ${k} needs ${plural(k - 1, 'earlier evaluation')} besides the new point and step ${i} has only ${i + 1}; use at most ${avail}`,
          ),
          ...when(basis === 'ab' && k > MAX_AM, `${p}.order`, () =>
            `basis ab has Adams–Moulton weights up to order ${MAX_AM}; corrector order is ${k}${dflt}, ${fix} at most ${MAX_AM} or use another basis`,
          ),
        ]
  return [
    ...order,
    ...(c.nodes === undefined ? [] : checkIndices(`${p}.nodes`, c.nodes, avail, k, `the corrector order${dflt}`, 'corrector.order', i)),
    ...checkRelaxation(`${p}.relaxation`, c.relaxation, basis, c.basis === undefined ? 'the step basis' : 'corrector.basis'),
  ]
}

/** every cross-field check of a structurally valid document; [] when it compiles on any noise schedule */
export const check = (s: S.SolverSchedule): Issues => {
  const n = G.intervals(s.grid)
  const count = when(s.steps.length !== n, 'steps', () =>
    `the grid has ${plural(n, 'interval')} but ${s.steps.length} step${s.steps.length === 1 ? ' is' : 's are'} given; add or remove steps`,
  )
  return [...checkGrid(s.grid), ...count, ...s.steps.flatMap(checkStep)]
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/**
 * u ↦ structure (closed codec), then `check`: a schedule, or every issue with its path and fix
 * (when the only structural issues are unknown keys, the cross-field issues are reported too)
 */
export const decode = (u: unknown): E.Either<Issues, S.SolverSchedule> =>
  pipe(
    codec.decode(u),
    E.matchW(
      (errors) => E.left([...U.issuesOf(errors), ...pipe(lenient.decode(u), E.match(() => [], check))]),
      (s) => {
        const issues = check(s)
        return issues.length === 0 ? E.right(s) : E.left(issues)
      },
    ),
  )

/** s ↦ plain JSON with only the known keys; decode(encode(s)) = s */
export const encode = (s: S.SolverSchedule): unknown => codec.encode(s)

/** JSON text ↦ `decode`; a syntax error is one issue at '(root)' */
export const parseJson = (text: string): E.Either<Issues, S.SolverSchedule> =>
  pipe(
    E.parseJSON(text, (e) => [issue('(root)', `invalid JSON (${e instanceof Error ? e.message : String(e)}); expected a JSON document, check commas, quotes and brackets`)]),
    E.chainW(decode),
  )

/** one line per issue: `path: message` */
export const format = (issues: Issues): string => U.formatIssues(issues)
