/**
 * compile: a schedule document resolved against a noise schedule and the model's native output into a
 * `Program`. A fold of steps over the grid: each decision becomes a `Step` (steps/Registry.ts), which
 * emits its instructions into one builder (ir/Builder.ts); the builder plans the drops and derives NFE,
 * history depth and the capabilities the program needs. A decoded document never makes it throw: what
 * a noise schedule or model cannot provide comes back as issues with paths.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Issue } from '../core/Codec.ts'
import * as Grid from '../core/Grid.ts'
import * as B from '../ir/Builder.ts'
import * as I from '../ir/Instr.ts'
import type * as NS from '../core/NoiseSchedule.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import type * as P from '../core/Parameterization.ts'
import * as S from './SolverSchedule.ts'
import * as Ems from '../steps/Ems.ts'
import * as Reg from '../steps/Registry.ts'
import * as St from '../steps/Step.ts'

/**
 * what a compile may need besides the noise schedule: the model's EMS (steps with `ems`, DPM-Solver-v3), and `mapStep`,
 * a user's own step behaviours: each step's combinator chain is extended by mapStep(step, decision, index)
 */
export interface Options extends B.Options {
  readonly mapStep?: (step: St.Step, d: S.StepDecision, i: number) => St.Step
}

/** what the document asks of this noise schedule and model that they cannot give */
const preconditions = (ns: NS.NoiseSchedule, opts: Options, s: S.SolverSchedule, points: number): ReadonlyArray<Issue> => [
  ...(points === s.steps.length + 1 ? [] : [{ path: 'steps', message: `the grid has ${points - 1} intervals but the schedule has ${s.steps.length} steps; give one step per interval` }]),
  ...s.steps.flatMap((d, i) => (d.ems === true ? Ems.requires(i, { hasEms: opts.ems !== undefined, meanReverting: ns.meanReverting === true }) : [])),
]

const RTOL = 1e-12

/**
 * the grid's times inside the noise schedule's range: at most its T (where sampling starts: x_T is drawn there),
 * inside its domain (a discrete table is not extrapolated), and α, σ, λ finite with σ > 0 at every point
 * (but the σ = 0 point of grid.final sigma0)
 */
const gridRange = (ns: NS.NoiseSchedule, g: S.SolverSchedule['grid'], points: ReadonlyArray<Point>): ReadonlyArray<Issue> => {
  const [lo, hi] = ns.domain ?? [0, Infinity]
  const top = Math.min(ns.T, hi)
  const topWhy = top === ns.T ? `the noise schedule's T (${ns.name}: sampling starts there; a problem file's schedule.T)` : `the last time of the ${ns.name} schedule's table`
  const loWhy = `the first time where the ${ns.name} schedule is defined${ns.domain === undefined ? '' : ' (its table; no extrapolation)'}`
  const above = (t: number): boolean => t > top * (1 + RTOL)
  const below = (t: number): boolean => !(t > 0 && t >= lo * (1 - RTOL))
  const range: ReadonlyArray<Issue> =
    g.spacing === 'explicit'
      ? g.t.flatMap((t, k) =>
          // with final sigma0 the last listed time is replaced by the σ = 0 point (Grid.resolve): not a time of the schedule
          g.final === 'sigma0' && k === g.t.length - 1
            ? []
            : above(t)
              ? [{ path: `grid.t[${k}]`, message: `t = ${t} is above ${top}, ${topWhy}; use times ≤ ${top}` }]
              : below(t)
                ? [{ path: `grid.t[${k}]`, message: `t = ${t} is below ${lo}, ${loWhy}; use times ≥ ${lo}` }]
                : [],
        )
      : [
          ...(above(g.T ?? ns.T)
            ? [{ path: g.T === undefined ? 'grid' : 'grid.T', message: `T = ${g.T ?? ns.T} is above ${top}, ${topWhy}; use T ≤ ${top}${g.T === undefined ? '' : ' or remove grid.T'}` }]
            : []),
          ...(below(g.t0 ?? ns.t0)
            ? [{ path: g.t0 === undefined ? 'grid' : 'grid.t0', message: `t0 = ${g.t0 ?? ns.t0} is below ${lo}, ${loWhy}; use t0 ≥ ${lo}${g.t0 === undefined ? '' : ' or remove grid.t0'}` }]
            : []),
        ]
  if (range.length > 0) return range
  const inner = g.final === 'sigma0' ? points.slice(0, -1) : points
  const bad = inner.find((p) => !(Number.isFinite(p.alpha) && Number.isFinite(p.sigma) && Number.isFinite(p.lambda) && p.alpha > 0 && p.sigma > 0))
  return bad === undefined
    ? []
    : [
        {
          path: 'grid',
          message: `the ${ns.name} schedule is not defined at t = ${bad.t} (α = ${bad.alpha}, σ = ${bad.sigma}, λ = ${bad.lambda}); use times inside its range (default ${ns.T} → ${ns.t0})`,
        },
      ]
}

/** after the last step, x ← x̂0(x, t_end) (+ μ on a mean-reverting schedule): always a fresh evaluation (a pseudo corrector's belongs to the uncorrected x) */
const denoise = (b: B.Builder, n: number): void => {
  const last = b.size - 1
  b.evaluate(n, last)
  b.emit(n, 'denoise', (at) => I.plus(b.pred('data', last, at(last)), b.mr ? [[1, { kind: 'mu' }]] : []))
}

/** the context of step i of decision d */
const ctxOf = (b: B.Builder, d: S.StepDecision, i: number): St.Ctx => ({ b, index: i, decision: d, startG: i + 1 + S.startOf(d), targetG: i + 1 })

/**
 * compile a schedule: resolve the grid on `ns`, fold its (effective) steps into one builder, and finish:
 * every coefficient a float64 number, prediction conversions folded into the native output `param`, drops planned
 */
export const compile =
  (ns: NS.NoiseSchedule, param: P.Parameterization = 'eps', opts: Options = {}) =>
  (s: S.SolverSchedule): E.Either<ReadonlyArray<Issue>, I.Program> => {
    const nominal = E.tryCatch(
      () => Grid.points(ns)(s.grid),
      (e): ReadonlyArray<Issue> => [{ path: 'grid', message: `${e instanceof Error ? e.message : String(e)}; fix the grid for this noise schedule` }],
    )
    if (E.isLeft(nominal)) return nominal
    const issues = [...gridRange(ns, s.grid, nominal.right), ...preconditions(ns, opts, s, nominal.right.length)]
    if (issues.length > 0) return E.left(issues)
    const b = B.make(ns, param, nominal.right, opts)
    const zeroX0 = s.options?.firstStep === 'zero_x0'
    const stepOf = (d: S.StepDecision, i: number): St.Step => (opts.mapStep === undefined ? Reg.fromDecision(d) : opts.mapStep(Reg.fromDecision(d), d, i))
    const infos = S.effectiveSteps(s).map((d, i) => St.emit(stepOf(d, i), ctxOf(b, d, i), zeroX0))
    if (s.options?.denoiseToZero === true) denoise(b, s.steps.length)
    return E.right(b.finish(s, infos))
  }

/** `compile`, throwing an Error that lists the issues (scripts, tests and examples that build their documents in code) */
export const compileOrThrow =
  (ns: NS.NoiseSchedule, param: P.Parameterization = 'eps', opts: Options = {}) =>
  (s: S.SolverSchedule): I.Program => {
    const r = compile(ns, param, opts)(s)
    if (E.isLeft(r)) throw new Error(`cannot compile ${s.name ?? 'the schedule'}:\n${r.left.map((i) => `${i.path}: ${i.message}`).join('\n')}`)
    return r.right
  }
