/**
 * The schedule document `stepwise-schedule/v1` at the boundary: an io-ts codec with closed structs
 * at every level, then the cross-field checks (step count, available history, node ranges, basis
 * limits, monotone times). Every problem is an `Issue` naming its JSON path and the fix:
 * `steps[0].order: order 2 needs 1 earlier evaluation and step 0 has none; use 1`.
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import * as G from '../core/Grid.ts'
import * as S from './SolverSchedule.ts'
import * as C from '../steps/Corrector.ts'
import * as X from '../steps/ExpInt.ts'
import * as Reg from '../steps/Registry.ts'
import * as U from '../core/Codec.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a problem in a document: JSON path and what to do */
export type Issue = U.Issue

/** the highest order a step (or corrector) may use */
export const MAX_ORDER = X.MAX_ORDER
/** the highest Adams–Bashforth order (basis 'ab' predictor) */
export const MAX_AB = X.MAX_AB
/** the highest Adams–Moulton order (basis 'ab' corrector) */
export const MAX_AM = C.MAX_AM

const SPACINGS: ReadonlyArray<G.Spacing> = ['time_uniform', 'logSNR', 'time_quadratic', 'karras']
const ALL_SPACINGS = `one of ${[...SPACINGS, 'explicit'].join(', ')}`

// -------------------------------------------------------------------------------------------------
// codecs
// -------------------------------------------------------------------------------------------------

const SplitIn = U.oneOf<'lambda' | 't'>(['lambda', 't'])
const Split = t.readonlyArray(U.positiveInt, 'a list of positive integers')

/** the document codec; `unknownKeys: 'strip'` ignores unknown keys (to run the cross-field checks despite them) */
const build = (unknownKeys: 'reject' | 'strip'): t.Type<S.SolverSchedule, unknown, unknown> => {
  const closed = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) => U.closed(name, required, optional, unknownKeys)
  const gridOptional = { split: Split, splitIn: SplitIn, final: U.oneOf<'sigma0'>(['sigma0']) }
  const SpacingGrid = closed('a spacing grid', { spacing: U.oneOf(SPACINGS), steps: U.positiveInt }, { rho: U.positiveNumber, T: U.positiveNumber, t0: U.positiveNumber, ...gridOptional })
  const ExplicitGrid = closed('an explicit grid', { spacing: t.literal('explicit'), t: t.readonlyArray(U.positiveNumber, 'a list of positive times') }, gridOptional)

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
      return sp === undefined ? t.failure(sp, ctx, `missing required key 'spacing'; expected ${ALL_SPACINGS}`) : t.failure(sp, ctx, `got ${U.show(sp)}; expected ${ALL_SPACINGS}`)
    },
    (g) => (g.spacing === 'explicit' ? ExplicitGrid.encode(g) : SpacingGrid.encode(g)),
  )

  const StepC = Reg.stepCodec(closed)

  const OptionsC = closed(
    'options',
    {},
    { firstStep: U.oneOf<'evaluate' | 'zero_x0'>(['evaluate', 'zero_x0']), denoiseToZero: U.bool, finalStep: U.oneOf<'lower_order' | 'euler'>(['lower_order', 'euler']) },
  )

  return closed('a schedule document', { format: t.literal(S.FORMAT), grid: GridC, steps: t.readonlyArray(StepC, 'a list of steps') }, { name: U.string, options: OptionsC })
}

/** the structural codec of a schedule document (closed structs; no cross-field checks: see `decode`) */
export const codec: t.Type<S.SolverSchedule, unknown, unknown> = build('reject')
const lenient = build('strip')

// -------------------------------------------------------------------------------------------------
// cross-field checks
// -------------------------------------------------------------------------------------------------

type Issues = ReadonlyArray<Issue>

const issue = U.issue
const when = U.when
const plural = U.plural
const isPosInt = U.isPosInt

/** grid: T > t0, rho only for karras, explicit times positive and strictly decreasing, split per outer interval */
const checkGrid = (g: G.Grid): Issues => {
  const sp = g.split
  const outer = G.outerSteps(g)
  const split: Issues =
    sp === undefined
      ? when(g.splitIn !== undefined, 'grid.splitIn', () => 'splitIn has no effect without split; remove it or add split')
      : [
          ...when(
            sp.length !== outer,
            'grid.split',
            () => `split has ${plural(sp.length, 'entry', 'entries')} but the grid has ${plural(outer, 'outer interval')}; give one sub-interval count per outer interval`,
          ),
          ...sp.flatMap((k, j) => when(!isPosInt(k), `grid.split[${j}]`, () => `got ${U.show(k)}; expected a positive integer`)),
        ]
  if (g.spacing === 'explicit')
    return [
      ...when(g.t.length < 2, 'grid.t', () => `${plural(g.t.length, 'time')} given; an explicit grid needs at least 2 (add the start and end times)`),
      ...g.t.flatMap((x, k) =>
        !(Number.isFinite(x) && x > 0)
          ? [issue(`grid.t[${k}]`, `got ${U.show(x)}; expected a positive time`)]
          : when(
              k > 0 && !(x < g.t[k - 1]!),
              `grid.t[${k}]`,
              () => `${x} is not below the previous time ${g.t[k - 1]} (t[${k - 1}]); use a time below ${g.t[k - 1]}: explicit times strictly decrease from T to t0`,
            ),
      ),
      ...split,
    ]
  const pos = (key: 'rho' | 'T' | 't0', v: number | undefined): Issues => when(v !== undefined && !(Number.isFinite(v) && v > 0), `grid.${key}`, () => `got ${U.show(v)}; expected a positive number`)
  return [
    ...when(!isPosInt(g.steps), 'grid.steps', () => `got ${U.show(g.steps)}; expected a positive integer`),
    ...when(g.rho !== undefined && g.spacing !== 'karras', 'grid.rho', () => `rho applies only to spacing karras (spacing is ${g.spacing}); remove it`),
    ...pos('rho', g.rho),
    ...pos('T', g.T),
    ...pos('t0', g.t0),
    ...when(g.T !== undefined && g.t0 !== undefined && !(g.T > g.t0), 'grid.T', () => `T = ${g.T} must be greater than t0 = ${g.t0}; sampling runs from T (noise) down to t0 (data), swap them`),
    ...split,
  ]
}

/** every cross-field check of a structurally valid document; [] when it compiles on any noise schedule */
export const check = (s: S.SolverSchedule): Issues => {
  const n = G.intervals(s.grid)
  const count = when(s.steps.length !== n, 'steps', () => `the grid has ${plural(n, 'interval')} but ${s.steps.length} step${s.steps.length === 1 ? ' is' : 's are'} given; add or remove steps`)
  return [...checkGrid(s.grid), ...count, ...s.steps.flatMap(Reg.checks), ...checkFinal(s), ...checkKeptShifts(s)]
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
    ...when(
      s.options?.denoiseToZero === true,
      'options.denoiseToZero',
      () => 'the grid already ends at σ = 0 (grid.final sigma0), where x̂0 = x: denoising costs one NFE and changes nothing; remove denoiseToZero or grid.final',
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
      (errors) =>
        E.left([
          ...U.issuesOf(errors),
          ...pipe(
            lenient.decode(u),
            E.match(() => [], check),
          ),
        ]),
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
