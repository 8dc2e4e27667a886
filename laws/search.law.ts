/**
 * Laws of the schedule search (src/search): every point the search can reach is a valid schedule
 * document with exactly the budgeted NFE (random draws, mutations, crossovers, coordinates, named
 * solvers brought into the space; on VP linear and discrete schedules); `repair` is idempotent;
 * the search is reproducible (same seed ⇒ identical result, for any number of threads, and a run
 * resumed from a checkpoint ends exactly where the uninterrupted one does); the evaluation budget is
 * never exceeded; Nelder–Mead (ask/tell) minimises a quadratic. Seeds are fixed (fast-check `seed`).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as Gmm from '../src/core/Gmm.ts'
import type * as Golden from '../src/interop/Golden.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Codec from '../src/schedule/Codec.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as Ck from '../src/search/Checkpoint.ts'
import * as Ev from '../src/search/Evolution.ts'
import * as NM from '../src/search/NelderMead.ts'
import * as O from '../src/search/Objective.ts'
import * as Pool from '../src/search/Pool.ts'
import * as R from '../src/search/Rng.ts'
import * as _ from '../src/search/Space.ts'

// -------------------------------------------------------------------------------------------------
// fixtures
// -------------------------------------------------------------------------------------------------

const SCHEDULES: ReadonlyArray<NS.NoiseSchedule> = [NS.vpLinear(), NS.vpDiscrete({ betas: NS.linearBetas() })]

/** a small problem file (2-D, K = 3, VP linear) */
const problem: Golden.ProblemFile = (() => {
  const g = Gmm.random(3, 2, 5)
  return { problem: { K: g.K, D: g.D, weights: [...g.weights], means: g.means.map((r) => [...r]), variances: g.variances.map((r) => [...r]) }, schedule: { name: 'linear' } }
})()

/** the spaces the laws draw from: the full one and the times-only ablation */
const arbSpace: fc.Arbitrary<_.Space> = fc.tuple(fc.integer({ min: 2, max: 12 }), fc.boolean()).map(([nfe, full]) => (full ? _.full(nfe) : _.timesOnly(nfe)))

/** a candidate reached by the search's own moves: a random draw, then k mutations / crossovers with another draw */
const arbReached = (sp: _.Space): fc.Arbitrary<_.Candidate> =>
  fc.tuple(fc.integer(), fc.integer({ min: 0, max: 6 })).map(([seed, k]) => {
    const r = R.make(seed)
    let c = _.random(sp)(r)
    for (let j = 0; j < k; j++) c = R.chance(r, 0.5) ? _.mutate(sp)(r, c) : _.crossover(sp)(r, c, _.random(sp)(r))
    return c
  })

/** the issues of a candidate's document after a JSON round trip, its compiled NFE and its declared NFE */
const audit = (ns: NS.NoiseSchedule, c: _.Candidate) => {
  const s = _.toSchedule(ns)(c)
  const d = Codec.decode(JSON.parse(JSON.stringify(Codec.encode(s))))
  return { issues: E.isLeft(d) ? Codec.format(d.left) : '', compiled: Prog.compileOrThrow(ns, 'eps')(s).nfe, declared: S.nfe(s), own: _.nfeOf(c) }
}

const assertValid = (ns: NS.NoiseSchedule, sp: _.Space, c: _.Candidate): void => {
  const a = audit(ns, c)
  assert.equal(a.issues, '', `invalid document: ${JSON.stringify(c)}`)
  assert.equal(a.compiled, sp.nfe, `compiled NFE ${a.compiled} ≠ budget ${sp.nfe}`)
  assert.equal(a.declared, sp.nfe)
  assert.equal(a.own, sp.nfe)
}

/** a state as text without its wall-clock time (what reproducibility compares) */
const text = (s: Ev.State): string => Ck.encode({}, { ...s, elapsed: 0 })

/** equal texts, or a failure naming the first differing position (not the whole state) */
const sameText = (a: string, b: string, what: string): void => {
  if (a === b) return
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  assert.fail(`${what}: states differ at character ${i}: …${a.slice(Math.max(0, i - 80), i + 40)}… vs …${b.slice(Math.max(0, i - 80), i + 40)}…`)
}

/** an evaluator counting what it scores */
const counting = (ev: Pool.Evaluator) => {
  let n = 0
  return {
    count: () => n,
    ev: { ...ev, evaluate: async (cs: ReadonlyArray<_.Candidate>) => ((n += cs.length), ev.evaluate(cs)) } satisfies Pool.Evaluator,
  }
}

const batch = O.teacher(problem, 16, 3)
const tiny = (space: _.Space, seed: number, budget: number, strategy: Ev.Strategy = 'evolution'): Ev.Settings => ({
  ...Ev.defaults(space, seed),
  strategy,
  budgetEvals: budget,
  islands: 2,
  migrate: 2,
  population: 8,
  children: 12,
  parents: 4,
  refinePerDim: 4,
  stage: 3,
})

// -------------------------------------------------------------------------------------------------
// validity by construction
// -------------------------------------------------------------------------------------------------

test('every random, mutated or crossed candidate is a valid document with exactly the budgeted NFE (VP linear and discrete)', () => {
  fc.assert(
    fc.property(
      arbSpace.chain((sp) => fc.tuple(fc.constant(sp), arbReached(sp), fc.constantFrom(...SCHEDULES))),
      ([sp, c, ns]) => assertValid(ns, sp, c),
    ),
    { seed: 20251127, numRuns: 300 },
  )
})

test('repair is idempotent and leaves reached candidates unchanged', () => {
  fc.assert(
    fc.property(
      arbSpace.chain((sp) => fc.tuple(fc.constant(sp), arbReached(sp))),
      ([sp, c]) => {
        assert.deepEqual(_.repair(sp)(c), c)
      },
    ),
    { seed: 7, numRuns: 200 },
  )
})

test('any coordinates give a valid candidate of the same structure (refinement stays in the space)', () => {
  fc.assert(
    fc.property(
      arbSpace.chain((sp) => fc.tuple(fc.constant(sp), arbReached(sp), fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 30, maxLength: 30 }))),
      ([sp, c, theta]) => {
        const moved = _.withCoordinates(sp, c)(theta.slice(0, _.coordinates(c).length))
        assertValid(NS.vpLinear(), sp, moved)
        assert.equal(_.structureKey(moved), _.structureKey(c))
      },
    ),
    { seed: 11, numRuns: 150 },
  )
})

test('arbitrary genomes (out-of-range orders, starts, nodes, gaps, correctors) are repaired into valid candidates', () => {
  const arbGene = fc.record({
    prediction: fc.constantFrom<'noise' | 'data'>('noise', 'data'),
    order: fc.integer({ min: -2, max: 9 }),
    start: fc.integer({ min: -9, max: 2 }),
    nodes: fc.oneof(fc.constant<'default'>('default'), fc.array(fc.integer({ min: -9, max: 2 }), { maxLength: 6 })),
    basis: fc.constantFrom<_.Basis>('lambda', 't', 'rho'),
    relaxation: fc.oneof(
      fc.constantFrom(..._.NAMED_RELAXATIONS, 'none' as const),
      fc.double({ noNaN: false }).map((linear) => ({ linear })),
    ),
    corrector: fc.oneof(
      fc.constant<_.CorrectorGene>({ mode: 'none' }),
      fc.record({
        mode: fc.constantFrom<'pseudo' | 'reeval'>('pseudo', 'reeval'),
        order: fc.oneof(fc.constant<'default'>('default'), fc.integer({ min: -1, max: 9 })),
        relaxation: fc.constant('none' as const),
      }),
    ),
  })
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 10 }),
      fc.array(arbGene, { minLength: 0, maxLength: 14 }),
      fc.array(fc.double({ min: -1, max: 2 }), { minLength: 0, maxLength: 14 }),
      fc.constantFrom<'evaluate' | 'zero_x0'>('evaluate', 'zero_x0'),
      fc.boolean(),
      (nfe, steps, gaps, firstStep, denoiseToZero) => {
        const sp = _.full(nfe)
        assertValid(NS.vpLinear(), sp, _.repair(sp)({ nfe, firstStep, denoiseToZero, gaps, steps }))
      },
    ),
    { seed: 3, numRuns: 200 },
  )
})

test('named solvers brought into the space are valid candidates; lambda-basis ones keep their coefficients exactly', () => {
  const ns = NS.vpLinear()
  for (const nfe of [3, 5, 8]) {
    const sp = _.full(nfe)
    for (const named of Solvers.all.filter((n) => n.needs === undefined)) {
      let doc: S.SolverSchedule
      try {
        doc = named.build({ nfe })
      } catch {
        continue
      }
      if (Prog.compileOrThrow(ns, 'eps')(doc).nfe !== nfe) continue
      const c = _.fromSchedule(ns, sp)(doc)
      assertValid(ns, sp, c)
    }
    // DPM-Solver++(2M) round trip: same outputs on a batch
    const doc = Solvers.byId('dpmpp-2m')!.build({ nfe })
    const back = _.toSchedule(ns)(_.fromSchedule(ns, sp)(doc))
    const score = O.score(problem, batch)
    assert.ok(Math.abs(score(back) - score(doc)) <= 1e-9 * score(doc), `dpmpp-2m nfe ${nfe}`)
  }
})

// -------------------------------------------------------------------------------------------------
// budget and reproducibility
// -------------------------------------------------------------------------------------------------

test('the evaluation budget is never exceeded and every evaluation is counted', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 160 }), fc.integer({ min: 0, max: 1000 }), fc.constantFrom<Ev.Strategy>('evolution', 's3'), async (budget, seed, strategy) => {
      const c = counting(Pool.inline(problem, batch))
      const s = await Ev.run(tiny(_.full(4), seed, budget, strategy), c.ev)
      assert.ok(c.count() <= budget, `${c.count()} evaluations > budget ${budget}`)
      assert.equal(s.evals, c.count())
      assert.equal(_.nfeOf(s.best.candidate), 4)
    }),
    { seed: 42, numRuns: 12 },
  )
})

test('same seed ⇒ identical search (evolution and S³), inline or on 2 worker threads', async () => {
  const pool = await Pool.pool(problem, batch, 2)
  try {
    for (const strategy of ['evolution', 's3'] as const) {
      const st = tiny(_.full(5), 9, 260, strategy)
      const a = await Ev.run(st, Pool.inline(problem, batch))
      const b = await Ev.run(st, Pool.inline(problem, batch))
      const c = await Ev.run(st, pool)
      sameText(text(a), text(b), `${strategy}: two runs`)
      sameText(text(a), text(c), `${strategy}: inline vs 2 threads`)
      const other = await Ev.run({ ...st, seed: 10 }, Pool.inline(problem, batch))
      assert.ok(text(other) !== text(a), `${strategy}: the seed changed nothing`)
    }
  } finally {
    await pool.close()
  }
})

test('a run resumed from a stage-boundary checkpoint ends exactly where the uninterrupted run ends', async () => {
  const st = tiny(_.full(4), 5, 300, 's3')
  const fp = { test: 'resume' }
  let saved: string | undefined
  const full = await Ev.run(st, Pool.inline(problem, batch), {
    onGeneration: (s) => {
      if (s.generation === st.stage) saved = Ck.encode(fp, s)
    },
  })
  assert.ok(saved !== undefined, 'no checkpoint at the first stage boundary')
  const from = Ck.decode(st.space, fp)(JSON.parse(saved))
  assert.ok(E.isRight(from))
  const resumed = await Ev.run(st, Pool.inline(problem, batch), {}, from.right)
  sameText(text(resumed), text(full), 'resumed vs uninterrupted')
  // a checkpoint of another search is refused, naming the difference
  const other = Ck.decode(st.space, { test: 'other' })(JSON.parse(saved))
  assert.ok(E.isLeft(other) && /test is "resume" in the checkpoint but "other" now/.test(other.left))
})

// -------------------------------------------------------------------------------------------------
// local refinement
// -------------------------------------------------------------------------------------------------

test('Nelder–Mead (ask/tell) minimises a shifted quadratic in 4 dimensions', () => {
  const f = (x: ReadonlyArray<number>) => x.reduce((a, v, j) => a + (j + 1) * (v - 0.3 * j) ** 2, 0)
  const x0 = [1, 1, 1, 1]
  let s = NM.start(x0, f(x0), 0.5)
  while (s.evals < 800) s = NM.tell(s, NM.ask(s).map(f))
  assert.ok(NM.best(s).f < 1e-8, `f = ${NM.best(s).f}`)
  NM.best(s).x.forEach((v, j) => assert.ok(Math.abs(v - 0.3 * j) < 1e-3))
})

test('seeds keep their behaviours: fromSchedule carries noise, momentum and time shift into the genes (decisionOf gives them back)', () => {
  const ns = NS.vpLinear()
  for (const [id, key] of [
    ['hb', 'momentum'],
    ['ghvb', 'momentum'],
    ['ddim-eta', 'noise'],
    ['sde-dpmpp-2m', 'noise'],
  ] as const) {
    const s = Solvers.byId(id)!.build({ nfe: 6, grid: 'logSNR' })
    const c = _.fromSchedule(ns, _.full(6))(s)
    const want = s.steps.filter((d) => d[key] !== undefined).length
    assert.ok(want > 0, `${id} has ${key}`)
    assert.equal(c.steps.filter((g) => _.decisionOf(g)[key] !== undefined).length, want, `${id}: steps with ${key} after fromSchedule`)
    assert.deepEqual(Codec.check(_.toSchedule(ns)(c)), [], `${id}: the seeded candidate is a valid document`)
  }
})
