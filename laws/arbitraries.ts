/**
 * Reusable fast-check arbitraries. Schedules are generated valid by construction: every per-step
 * decision only uses the history available at its step (i + 1 points; a corrector i + 2).
 */
import fc from 'fast-check'
import type * as G from '../src/core/Grid.ts'
import * as Grid from '../src/core/Grid.ts'
import type { Basis, Relaxation } from '../src/core/Rule.ts'
import * as S from '../src/schedule/SolverSchedule.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** `{ key: v }` or `{}`: an optional key, absent rather than undefined */
const opt = <K extends string, A>(key: K, arb: fc.Arbitrary<A>): fc.Arbitrary<{ readonly [k in K]?: A }> =>
  fc.option(arb, { nil: undefined }).map((v) => (v === undefined ? {} : ({ [key]: v } as { readonly [k in K]: A })))

/** −1, −2, …, −avail */
const history = (avail: number): ReadonlyArray<number> => Array.from({ length: avail }, (_, k) => -1 - k)

/** `order` distinct history indices out of the `avail` newest, in random order */
const arbNodes = (avail: number, order: number): fc.Arbitrary<ReadonlyArray<number>> => fc.shuffledSubarray([...history(avail)], { minLength: order, maxLength: order })

// -------------------------------------------------------------------------------------------------
// grids
// -------------------------------------------------------------------------------------------------

/** the spacing kinds */
export const arbSpacing: fc.Arbitrary<G.Spacing> = fc.constantFrom('time_uniform', 'logSNR', 'time_quadratic', 'karras')

/** a relaxation: a named one or { linear: c }, c ∈ [−1, 1] */
export const arbRelaxation: fc.Arbitrary<Relaxation> = fc.oneof(
  fc.constantFrom<Relaxation>('none', 'dpmsolver-2', 'unipc-bh1', '0.5exp', '-0.5exp'),
  // + 0 turns −0 into 0: JSON has no −0
  fc.double({ min: -1, max: 1, noNaN: true }).map((c): Relaxation => ({ linear: c + 0 })),
)

/** an optional split of `outer` intervals into 1–3 sub-intervals each, with an optional splitIn */
const arbSplit = (outer: number) =>
  fc
    .option(fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: outer, maxLength: outer }), fc.option(fc.constantFrom<'lambda' | 't'>('lambda', 't'), { nil: undefined })), {
      nil: undefined,
    })
    .map((o) => (o === undefined ? {} : { split: o[0], ...(o[1] === undefined ? {} : { splitIn: o[1] }) }))

/** the grid, or the grid ending at σ = 0 (final sigma0) */
const withFinal = (g: G.Grid): fc.Arbitrary<G.Grid> => fc.boolean().map((f): G.Grid => (f ? { ...g, final: 'sigma0' } : g))

/** a spacing grid: 1–maxSteps intervals, rho only for karras, T > t0 inside the VP range [1e-3, 1] */
export const arbSpacingGrid = (maxSteps = 10): fc.Arbitrary<G.Grid> =>
  fc
    .record({ spacing: arbSpacing, steps: fc.integer({ min: 1, max: maxSteps }) })
    .chain(({ spacing, steps }) =>
      fc
        .tuple(
          spacing === 'karras' ? opt('rho', fc.double({ min: 1, max: 10, noNaN: true })) : fc.constant({}),
          opt('T', fc.double({ min: 0.5, max: 1, noNaN: true })),
          opt('t0', fc.double({ min: 1e-3, max: 0.1, noNaN: true })),
          arbSplit(steps),
        )
        .map(([rho, T, t0, split]): G.Grid => ({ spacing, steps, ...rho, ...T, ...t0, ...split })),
    )
    .chain(withFinal)

/** an explicit grid: 2–(maxSteps+1) distinct times k/1000 ∈ [1e-3, 1], strictly decreasing */
export const arbExplicitGrid = (maxSteps = 10): fc.Arbitrary<G.Grid> =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: maxSteps + 1 })
    .map((ks) => [...ks].sort((a, b) => b - a).map((k) => k / 1000))
    .chain((t) => arbSplit(t.length - 1).map((split): G.Grid => ({ spacing: 'explicit', t, ...split })))
    .chain(withFinal)

/** any grid (spacing or explicit) */
export const arbGrid = (maxSteps = 10): fc.Arbitrary<G.Grid> => fc.oneof(arbSpacingGrid(maxSteps), arbExplicitGrid(maxSteps))

// -------------------------------------------------------------------------------------------------
// steps and schedules
// -------------------------------------------------------------------------------------------------

/** a corrector at step i after a predictor of `order` in `basis`: history i + 2 points, AM ≤ 4 for 'ab' */
export const arbCorrector = (i: number, order: number, basis: Basis | undefined): fc.Arbitrary<S.Corrector> =>
  fc
    .record({ mode: fc.constantFrom<'pseudo' | 'reeval'>('pseudo', 'reeval'), basis: fc.option(fc.constantFrom<Basis>('lambda', 't', 'rho', 'ab'), { nil: undefined }) })
    .chain(({ mode, basis: own }) => {
      const eff = own ?? basis ?? 'lambda'
      const max = Math.min(i + 2, 6, eff === 'ab' ? 4 : 6)
      const dflt = order + 1
      // the default order (predictor + 1) must itself be valid, else the order is explicit
      const arbOrder = dflt <= max ? fc.option(fc.integer({ min: 1, max }), { nil: undefined }) : fc.integer({ min: 1, max })
      return arbOrder.chain((k) =>
        fc.tuple(fc.option(arbNodes(i + 2, k ?? dflt), { nil: undefined }), eff === 'lambda' ? opt('relaxation', arbRelaxation) : fc.constant({})).map(([nodes, relax]): S.Corrector => ({
          mode,
          ...(k === undefined ? {} : { order: k }),
          ...(nodes === undefined ? {} : { nodes }),
          ...(own === undefined ? {} : { basis: own }),
          ...relax,
        })),
      )
    })

/** a valid decision at step i (history i + 1 points): order ≤ i + 1, indices in range, options per basis */
export const arbStep = (i: number): fc.Arbitrary<S.StepDecision> =>
  fc
    .record({
      prediction: fc.constantFrom<'noise' | 'data'>('noise', 'data'),
      basis: fc.option(fc.constantFrom<Basis>('lambda', 't', 'rho', 'ab'), { nil: undefined }),
    })
    .chain(({ prediction, basis }) =>
      fc.integer({ min: 1, max: Math.min(i + 1, 6, basis === 'ab' ? 5 : 6) }).chain((order) => {
        const lambda = basis === undefined || basis === 'lambda'
        return fc
          .tuple(
            opt('start', fc.integer({ min: -(i + 1), max: -1 })),
            opt('nodes', arbNodes(i + 1, order)),
            lambda ? opt('relaxation', arbRelaxation) : fc.constant({}),
            lambda && order >= 3 ? opt('halveSecondDerivative', fc.boolean()) : fc.constant({}),
            opt('corrector', arbCorrector(i, order, basis)),
          )
          .map(([start, nodes, relax, halve, corrector]): S.StepDecision => ({
            prediction,
            order,
            ...start,
            ...nodes,
            ...(basis === undefined ? {} : { basis }),
            ...relax,
            ...halve,
            ...corrector,
          }))
      }),
    )

/** global options */
export const arbOptions: fc.Arbitrary<S.Options> = fc
  .tuple(
    opt('firstStep', fc.constantFrom<'evaluate' | 'zero_x0'>('evaluate', 'zero_x0')),
    opt('denoiseToZero', fc.boolean()),
    opt('finalStep', fc.constantFrom<'lower_order' | 'euler'>('lower_order', 'euler')),
  )
  .map(([a, b, c]): S.Options => ({ ...a, ...b, ...c }))

/** a valid schedule document on `grid`: one valid decision per interval */
export const arbScheduleOn = (grid: G.Grid): fc.Arbitrary<S.SolverSchedule> =>
  fc
    .tuple(fc.tuple(...Array.from({ length: Grid.intervals(grid) }, (_, i) => arbStep(i))), fc.option(fc.string({ maxLength: 12 }), { nil: undefined }), fc.option(arbOptions, { nil: undefined }))
    // a grid ending at σ = 0 already gives x̂0 = x: denoiseToZero is rejected there (codec checkFinal)
    .map(([steps, name, options]) => S.make(grid, steps, name, grid.final === 'sigma0' && options?.denoiseToZero === true ? { ...options, denoiseToZero: false } : options))

/** a valid schedule document: random grid (≤ 8 outer intervals), decisions respecting history, optional correctors */
export const arbSchedule: fc.Arbitrary<S.SolverSchedule> = arbGrid(8).chain(arbScheduleOn)
