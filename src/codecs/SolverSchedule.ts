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

  const gridOptional = { split: Split, splitIn: SplitIn, final: U.oneOf<'sigma0'>(['sigma0']) }
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
    { level: U.oneOf<S.Noise['level']>(['sde', 'ddim', 'ancestral', 'reverse-diffusion', 'euler-maruyama']), eta: nonNeg },
    { sNoise: nonNeg, variance: U.oneOf<'small' | 'large'>(['small', 'large']) },
  )
  const ChurnC = closed('EDM churn', { gamma: nonNeg }, { sNoise: nonNeg, sTmin: nonNeg, sTmax: nonNeg })
  const LangevinC = closed(
    'a Langevin corrector',
    { snr: nonNeg, steps: U.positiveInt },
    { norms: U.oneOf<'expected' | 'sample' | 'batch'>(['expected', 'sample', 'batch']) },
  )
  const MomentumC = closed(
    'momentum',
    { kind: U.oneOf<'hb' | 'nt' | 'ghvb'>(['hb', 'nt', 'ghvb']), beta: U.positiveNumber },
    { parity: U.oneOf<'reference'>(['reference']) },
  )
  const TimeShiftC = closed(
    'a time shift',
    { window: U.positiveInt, cutoff: nonNeg },
    { scale: U.positiveNumber, keep: U.bool, stat: U.oneOf<'x' | 'output'>(['x', 'output']) },
  )

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
      ems: U.bool,
      noise: NoiseC,
      churn: ChurnC,
      langevin: LangevinC,
      momentum: MomentumC,
      timeShift: TimeShiftC,
    },
  )

  const OptionsC = closed(
    'options',
    {},
    { firstStep: U.oneOf<'evaluate' | 'zero_x0'>(['evaluate', 'zero_x0']), denoiseToZero: U.bool, finalStep: U.oneOf<'lower_order' | 'euler'>(['lower_order', 'euler']) },
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
    ...checkEms(d, i),
  ]
}

/** ems (DPM-Solver-v3): a data-prediction step in basis λ, without relaxation, halving, noise, churn, Langevin, momentum or time shift */
const checkEms = (d: S.StepDecision, i: number): Issues => {
  if (d.ems !== true) return []
  const p = `steps[${i}]`
  const basis = basisOf(d.basis)
  const cBasis = basisOf(d.corrector?.basis ?? d.basis)
  const without = (key: string, present: boolean): Issues =>
    when(present, `${p}.${key}`, () => `${key} cannot be combined with ems (DPM-Solver-v3 has its own coefficients); remove ${key} or ems`)
  return [
    ...when(d.prediction !== 'data', `${p}.prediction`, () => 'ems (DPM-Solver-v3) reparameterises the data-prediction step; set prediction to data'),
    ...when(basis !== 'lambda', `${p}.basis`, () => `ems (DPM-Solver-v3) interpolates in λ (basis is ${basis}); remove basis or ems`),
    ...when(d.corrector !== undefined && cBasis !== 'lambda', `${p}.corrector.basis`, () => `ems (DPM-Solver-v3) interpolates in λ (corrector basis is ${cBasis}); remove it`),
    ...without('relaxation', d.relaxation !== undefined && d.relaxation !== 'none'),
    ...without('corrector.relaxation', d.corrector?.relaxation !== undefined && d.corrector.relaxation !== 'none'),
    ...without('halveSecondDerivative', d.halveSecondDerivative === true),
    ...without('noise', d.noise !== undefined),
    ...without('churn', d.churn !== undefined),
    ...without('langevin', d.langevin !== undefined),
    ...without('momentum', d.momentum !== undefined),
    ...without('timeShift', d.timeShift !== undefined),
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
          ...when(m.parity !== undefined && m.kind !== 'hb', `${p}.momentum.parity`, () =>
            `parity reference reproduces momentum-diffusion's heavy ball on UniPC (kind is ${m.kind}); remove parity or use kind hb`,
          ),
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
  return [...noise, ...mom, ...shift, ...checkStochastic(d, i)]
}

/** DDPM variance only where the noise is s·z; Langevin only before a multistep step */
const checkStochastic = (d: S.StepDecision, i: number): Issues => {
  const p = `steps[${i}]`
  const n = d.noise
  return [
    ...when(n?.variance !== undefined && (n.level === 'reverse-diffusion' || n.level === 'euler-maruyama'), `${p}.noise.variance`, () =>
      `variance applies to noise levels sde, ddim and ancestral (level is ${n?.level}); remove it`,
    ),
    ...when(d.langevin !== undefined && S.startOf(d) !== -1, `${p}.langevin`, () =>
      'a Langevin corrector moves the current point, but this step restarts from an earlier one (start ≠ −1); remove start or the Langevin corrector',
    ),
  ]
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
  return [...checkGrid(s.grid), ...count, ...s.steps.flatMap(checkStep), ...checkFinal(s), ...checkKeptShifts(s)]
}

/** a time shift with keep gives its target per-sample times: a step starting there cannot churn, run Langevin, use EMS or a first-order noise level */
const checkKeptShifts = (s: S.SolverSchedule): Issues => {
  const by = new Map(s.steps.flatMap((d, i) => (d.timeShift?.keep === true && d.timeShift.window > 1 && i > 0 ? [[i + 1, i] as const] : [])))
  return s.steps.flatMap((d, j) => {
    const k = by.get(j) ?? by.get(j + 1 + S.startOf(d))
    if (k === undefined) return []
    const p = `steps[${j}]`
    const why = `its start point may have per-sample times (steps[${k}].timeShift.keep) and this needs one time per step; remove it or the keep`
    return [
      ...when(d.churn !== undefined, `${p}.churn`, () => `churn: ${why}`),
      ...when(d.langevin !== undefined, `${p}.langevin`, () => `a Langevin corrector: ${why}`),
      ...when(d.ems === true, `${p}.ems`, () => `DPM-Solver-v3 (ems): ${why}`),
      ...when(d.noise !== undefined && d.noise.level !== 'sde', `${p}.noise.level`, () => `noise level ${d.noise?.level}: ${why}`),
    ]
  })
}

/** grid.final sigma0: the last step becomes first order (S.effectiveSteps); what cannot follow it into σ = 0 */
const checkFinal = (s: S.SolverSchedule): Issues => {
  if (s.grid.final !== 'sigma0') return []
  const i = s.steps.length - 1
  const last = s.steps[i]
  return [
    ...when(s.options?.denoiseToZero === true, 'options.denoiseToZero', () =>
      'the grid already ends at σ = 0 (grid.final sigma0), where x̂0 = x: denoising costs one NFE and changes nothing; remove denoiseToZero or grid.final',
    ),
    ...when(last?.ems === true, `steps[${i}].ems`, () => "DPM-Solver-v3's EMS coefficients are not defined at σ = 0 (grid.final sigma0); remove ems from the last step or remove grid.final"),
  ]
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
