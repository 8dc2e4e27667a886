/**
 * Declared needs of a compiled program (docs/math.md#laws): the history depth it declares is enough (a run
 * that keeps only the `historyDepth` most recent entries gives the identical output), it never reads
 * an entry it released, dropping entries changes nothing, and the NFE the interpreter counts equals
 * `Program.nfe` and `SolverSchedule.nfe`. Schedules: every named solver at random NFE, grids, noise
 * schedules, parameters and options (USF zero-x0 first step, denoise-to-zero).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import type * as NS from '../src/core/NoiseSchedule.ts'
import * as _ from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// random schedules
// -------------------------------------------------------------------------------------------------

/** a concrete value for each of a named solver's parameters (or none) */
const arbSet = (sv: Solvers.Named): fc.Arbitrary<Readonly<Record<string, string>>> =>
  fc
    .tuple(
      ...Object.entries(sv.params).map(([k, p]) =>
        fc.option(fc.constantFrom(...p.values.map((v) => (v === '<number>' ? '10' : v)), ...(p.values.includes('<number>') ? ['0', '3'] : [])), { nil: undefined }).map((v) => [k, v] as const),
      ),
    )
    .map((kvs) => Object.fromEntries(kvs.filter((kv): kv is readonly [string, string] => kv[1] !== undefined)))

/** a case: a named solver's schedule (maybe on an explicit grid, maybe with options) on a schedule and mixture */
interface Case {
  readonly id: string
  readonly ns: NS.NoiseSchedule
  readonly gmm: Gmm.Gmm
  readonly seed: number
  readonly schedule: S.SolverSchedule
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    sv: fc.constantFrom(...Solvers.all.filter((n) => n.needs === undefined)),
    nfe: fc.integer({ min: 2, max: 24 }),
    kind: O.arbSpacing,
    ns: O.arbSchedule(true),
    gmm: O.arbGmm,
    seed: fc.integer({ min: 1, max: 1e6 }),
    firstStep: fc.constantFrom<'evaluate' | 'zero_x0' | undefined>('evaluate', 'zero_x0', undefined),
    denoiseToZero: fc.option(fc.boolean(), { nil: undefined }),
    explicit: fc.boolean(),
  })
  .chain((r) =>
    arbSet(r.sv).chain((set) => {
      const base = r.sv.build({ nfe: r.nfe, grid: r.kind, set })
      const options: S.Options = {
        ...(r.firstStep === undefined ? {} : { firstStep: r.firstStep }),
        ...(r.denoiseToZero === undefined ? {} : { denoiseToZero: r.denoiseToZero }),
      }
      const withOptions: S.SolverSchedule = { ...base, options }
      // an explicit λ-jittered grid with the same number of intervals, where the grid is not split
      const grid: fc.Arbitrary<Grid.Grid> = r.explicit && base.grid.split === undefined ? O.arbExplicit(r.ns, Grid.outerSteps(base.grid)) : fc.constant(base.grid)
      return grid.map((g): Case => ({ id: r.sv.id, ns: r.ns, gmm: r.gmm, seed: r.seed, schedule: { ...withOptions, grid: g } }))
    }),
  )

const params = { seed: 4242, numRuns: 300 } as const

// -------------------------------------------------------------------------------------------------
// runs
// -------------------------------------------------------------------------------------------------

/** keep only the `d` most recent entries (largest ids: entries are numbered in evaluation order) */
const truncate =
  (d: number) =>
  <V>(s: _.State<V>): _.State<V> =>
    s.entries.size <= d ? s : { ...s, entries: new Map([...s.entries].sort((a, b) => a[0] - b[0]).slice(-d)) }

/** fold the program with an instruction filter and a state map after each instruction */
const fold =
  <V>(env: _.Env<V>, keep: (i: _.Instr) => boolean, after: (s: _.State<V>) => _.State<V>) =>
  (p: _.Program) =>
  (xT: V): _.State<V> =>
    p.instrs.filter(keep).reduce((s, ins) => after(_.exec(env)(s, ins)), { x: xT, entries: new Map(), nfe: 0 } as _.State<V>)

/**
 * counts evaluations of the whole batch of `size` values as values evaluated / size: at per-sample times (a kept time
 * shift) one evaluation calls the model once per distinct time on those rows (laws/timeshift.law.ts: they partition the batch)
 */
const counting = (m: F.Model, size: number): { readonly model: F.Model; readonly calls: () => number } => {
  let n = 0
  return {
    model: (x, at) => {
      n += x.length
      return m(x, at)
    },
    calls: () => n / size,
  }
}

// -------------------------------------------------------------------------------------------------
// laws
// -------------------------------------------------------------------------------------------------

test('history: keeping only the historyDepth most recent entries gives the identical output; no released entry is read', () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const p = _.compileOrThrow(c.ns, 'eps')(c.schedule)
      const xT = O.startFor(c.gmm, c.ns, c.seed)
      const env = F.env(Gmm.eps(c.gmm), { D: c.gmm.D }) // D: stochastic steps draw per-row noise
      const full = F.run(p, Gmm.eps(c.gmm), { D: c.gmm.D })(xT) // throws if a released entry is read
      const ring = fold(env, () => true, truncate(p.historyDepth))(p)(xT) // throws if an entry older than the depth is read
      const hoard = fold(
        env,
        (i) => i.op !== 'drop',
        (s) => s,
      )(p)(xT) // drops ignored: nothing released
      assert.ok(p.historyDepth >= 1, 'historyDepth ≥ 1')
      assert.equal(O.maxAbs(ring.x, full.x), 0, `${c.id}: depth ${p.historyDepth} is not enough`) // bitwise
      assert.equal(O.maxAbs(hoard.x, full.x), 0, `${c.id}: dropping entries changed the output`) // bitwise
    }),
    params,
  )
})

test('history: at most historyDepth entries are alive after every instruction', () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const p = _.compileOrThrow(c.ns, 'eps')(c.schedule)
      const env = F.env(Gmm.eps(c.gmm), { D: c.gmm.D })
      let most = 0
      fold(
        env,
        () => true,
        (s) => ((most = Math.max(most, s.entries.size)), s),
      )(p)(O.startFor(c.gmm, c.ns, c.seed))
      assert.equal(most, p.historyDepth, `${c.id}: ${most} entries alive, historyDepth ${p.historyDepth}`)
    }),
    params,
  )
})

test('NFE: model calls = interpreter count = Program.nfe = SolverSchedule.nfe', () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const p = _.compileOrThrow(c.ns, 'eps')(c.schedule)
      const xT = O.startFor(c.gmm, c.ns, c.seed)
      const m = counting(Gmm.eps(c.gmm), xT.length)
      const r = F.run(p, m.model, { D: c.gmm.D })(xT)
      assert.equal(r.nfe, m.calls(), `${c.id}: interpreter count vs model calls`)
      assert.equal(p.nfe, m.calls(), `${c.id}: Program.nfe vs model calls`)
      assert.equal(S.nfe(c.schedule), p.nfe, `${c.id}: SolverSchedule.nfe vs Program.nfe`)
    }),
    params,
  )
})

test('NFE: named solvers spend their budget (exactly, or one less for two-NFE steps on an odd budget)', () => {
  for (const sv of Solvers.all)
    for (let nfe = 2; nfe <= 24; nfe++) {
      const k = S.nfe(sv.build({ nfe }))
      assert.ok(k === nfe || k === nfe - 1, `${sv.id} at NFE ${nfe} spends ${k}`)
    }
})

test('NFE: a final pseudo corrector followed by denoise-to-zero', () => {
  const s = Solvers.byId('unipc-bh2-2')!.build({ nfe: 6, set: { finalCorrector: 'true' } })
  const d: S.SolverSchedule = { ...s, options: { denoiseToZero: true } }
  assert.equal(S.nfe(d), _.compileOrThrow(O.schedules.vpLinear, 'eps')(d).nfe)
})
