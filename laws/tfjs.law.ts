/**
 * Laws of the Tfjs interpreter: (a) no tensor leaks, (b) it agrees with Float64 within float32
 * tolerance, (c) the cpu backend agrees with wasm, (d) a non-finite value stops the run at the step
 * Float64 names, with nothing left allocated. Random named solvers × NFE 2–30 × grid kinds on random
 * Gaussian mixtures (K 1–4, D 1–8, 16 rows).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import fc from 'fast-check'
import * as Gmm from '../src/core/Gmm.ts'
import * as L from '../src/core/Linear.ts'
import * as Noise from '../src/core/Noise.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as F from '../src/run/Float64.ts'
import * as _ from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'
import { arbSpacing } from './arbitraries.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const SEED = 20240611
const ROWS = 16
const ns = NS.vpLinear()

/** a random case: a named solver's program and a mixture with float32-exact start points */
interface Case {
  readonly id: string
  readonly p: Prog.Program
  readonly g: Gmm.Gmm
  readonly xT: Float64Array
}

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    // time-shift decisions (a per-sample argmin) flip under float32 rounding near ties: laws/timeshift.law.ts checks them with a decision margin
    solver: fc.constantFrom(...Solvers.all.filter((n) => n.needs === undefined && !n.build({ nfe: 8 }).steps.some((d) => d.timeShift !== undefined))),
    nfe: fc.integer({ min: 2, max: 30 }),
    grid: arbSpacing,
    K: fc.integer({ min: 1, max: 4 }),
    D: fc.integer({ min: 1, max: 8 }),
    seed: fc.nat(),
  })
  .map(({ solver, nfe, grid, K, D, seed }) => ({
    id: `${solver.id} nfe ${nfe} ${grid} K ${K} D ${D} seed ${seed}`,
    p: Prog.compileOrThrow(ns, 'eps')(solver.build({ nfe, grid })),
    g: Gmm.random(K, D, seed),
    xT: Gmm.normals(ROWS * D, seed + 1).map(Math.fround),
  }))

/** Float64 run, and the same run on the active tfjs backend (everything it allocated disposed) */
const float64 = (c: Case): Float64Array => F.run(c.p, Gmm.eps(c.g), { D: c.g.D })(c.xT).x
const tfjs = (c: Case, opts: _.Options = {}): Float64Array => {
  const model = TfjsGmm.eps(c.g)
  const xT = _.fromFloat64(c.xT, c.g.D)
  try {
    const r = _.run(c.p, model, opts)(xT)
    const y = _.toFloat64(r.x)
    r.x.dispose()
    return y
  } finally {
    xT.dispose()
    model.dispose()
  }
}

const maxAbsDiff = (a: Float64Array, b: Float64Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0)

/**
 * the float32 yardstick of a case, as the golden files' f32_dev: the Float64 program with every
 * combination and model output rounded to float32 and ε perturbed by ±8u relative (u = 2⁻²⁴, standing
 * for the model's internal float32 error), max |Δ| from exact Float64. It measures how much this
 * solver at this NFE amplifies float32 rounding (from ~1e-7 to ~1e-2 for DPM-2 at NFE 2).
 */
const f32Dev = (c: Case, exact: Float64Array): number => {
  const eps = Gmm.eps(c.g)
  const noise = Gmm.mulberry32(c.p.nfe * 7919 + c.xT.length)
  const u = 2 ** -24
  const env: Prog.Env<Float64Array> = {
    lincomb: (t) => L.float64.lincomb(t).map(Math.fround),
    model: (x, at) => eps(x, at).map((v) => Math.fround(v * (1 + 8 * u * (2 * noise() - 1)))),
    // stochastic steps: the same counter-based draws, rounded to float32 as the Tfjs interpreter uploads them
    normal: (key, like) => Noise.normals(0, key, like.length / c.g.D, c.g.D).map(Math.fround),
    stats: F.rowStats(c.g.D),
    lincombWide: (t) => F.lincombWide(c.g.D)(t).map(Math.fround),
  }
  return maxAbsDiff(Prog.run(env)(c.p)(c.xT).x, exact)
}

/** the golden rule (10 × the float32 deviation of the same algorithm) plus 1e-5 for cases that amplify nothing */
const f32Tolerance = (dev: number): number => 10 * dev + 1e-5

before(() => _.init('wasm'))
after(() => _.init('wasm'))

// -------------------------------------------------------------------------------------------------
// (a) memory
// -------------------------------------------------------------------------------------------------

test('no leaks: numTensors ≤ baseline + 3·historyDepth + 1 after every instruction, baseline + 1 after the run', () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const model = TfjsGmm.eps(c.g)
      const xT = _.fromFloat64(c.xT, c.g.D)
      const baseline = tf.memory().numTensors
      // each live entry holds ≤ 3 tensors (x, xe after a pseudo-corrector commit, out), plus the state's x;
      // historyDepth is the program's declared depth, independent of the number of steps
      const bound = 3 * c.p.historyDepth + 1
      let most = 0
      const r = _.run(c.p, model, { observe: () => (most = Math.max(most, tf.memory().numTensors - baseline)) })(xT)
      assert.ok(most <= bound, `${c.id}: ${most} tensors above baseline during the run > ${bound}`)
      assert.equal(tf.memory().numTensors, baseline + 1, `${c.id}: after the run`)
      tf.dispose([r.x, xT])
      model.dispose()
    }),
    { seed: SEED, numRuns: 150 },
  )
})

// -------------------------------------------------------------------------------------------------
// (b), (c) agreement
// -------------------------------------------------------------------------------------------------

test('interpreters agree: Tfjs (wasm) vs Float64 within 10 × the case’s float32 deviation + 1e-5', () => {
  let worst = 0
  fc.assert(
    fc.property(arbCase, (c) => {
      const exact = float64(c)
      const tol = f32Tolerance(f32Dev(c, exact))
      const d = maxAbsDiff(tfjs(c), exact)
      worst = Math.max(worst, d / tol)
      assert.ok(d <= tol, `${c.id}: max |Tfjs − Float64| = ${d} > ${tol}`)
    }),
    { seed: SEED, numRuns: 150 },
  )
  console.log(`  Tfjs vs Float64: worst |Δ|/tol = ${worst.toFixed(3)}`)
})

test('backends agree: cpu vs wasm within the same float32 tolerance (lincombs are bit-identical; models differ in exp/log/sum)', async () => {
  let worst = 0
  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      await _.init('wasm')
      const wasm = tfjs(c)
      await _.init('cpu')
      const cpu = tfjs(c)
      const tol = f32Tolerance(f32Dev(c, float64(c)))
      const d = maxAbsDiff(cpu, wasm)
      worst = Math.max(worst, d / tol)
      assert.ok(d <= tol, `${c.id}: max |cpu − wasm| = ${d} > ${tol}`)
    }),
    { seed: SEED, numRuns: 40 },
  )
  await _.init('wasm')
  console.log(`  cpu vs wasm: worst |Δ|/tol = ${worst.toFixed(3)}`)
})

test('the fused lincomb is bit-identical on wasm (SIMD) and cpu (JS) and to a float64-accumulating loop', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 14 }).chain((m) =>
        fc.record({
          n: fc.integer({ min: 1, max: 67 }),
          cs: fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: m, maxLength: m }),
          seed: fc.nat(),
        }),
      ),
      async ({ n, cs, seed }) => {
        const vs = cs.map((_c, i) => Gmm.normals(n, seed + i).map(Math.fround))
        const expected = Float32Array.from({ length: n }, (_k, k) => cs.reduce((s, c, i) => s + c * vs[i]![k]!, 0))
        for (const backend of ['wasm', 'cpu'] as const) {
          await _.init(backend)
          const ts = vs.map((v) => _.fromFloat64(v, n))
          const y = _.lincomb('fused')(cs.map((c, i) => [c, ts[i]!] as const))
          // zero cᵢ are skipped (adding ±0 changes nothing); all zero gives zeros
          assert.deepEqual(y.dataSync(), cs.every((c) => c === 0) ? new Float32Array(n) : expected, `${backend}: n ${n}, ${cs.length} terms`)
          tf.dispose([y, ...ts])
        }
      },
    ),
    { seed: SEED, numRuns: 60 },
  )
  await _.init('wasm')
})

// -------------------------------------------------------------------------------------------------
// (d) non-finite values
// -------------------------------------------------------------------------------------------------

test('a model turning NaN at call j stops the run at the step Float64 names, leaving no tensor', () => {
  fc.assert(
    fc.property(arbCase, fc.nat(), (c, j0) => {
      const j = j0 % c.p.nfe
      const nanFrom = <V>(f: (x: V, at: NS.Point) => V, poison: (v: V) => V) => {
        let calls = 0
        return (x: V, at: NS.Point): V => (calls++ >= j ? poison(f(x, at)) : f(x, at))
      }
      const stepOf = (f: () => unknown): number => {
        try {
          f()
        } catch (e) {
          if (e instanceof Error && 'step' in e && typeof e.step === 'number') return e.step
          throw e
        }
        return -2
      }
      const expected = stepOf(() =>
        F.run(
          c.p,
          nanFrom(Gmm.eps(c.g), (v) => v.fill(NaN)),
          { D: c.g.D },
        )(c.xT),
      )
      assert.ok(expected >= 0, `${c.id}: Float64 did not stop`)
      const model = TfjsGmm.eps(c.g)
      const xT = _.fromFloat64(c.xT, c.g.D)
      const baseline = tf.memory().numTensors
      const got = stepOf(() =>
        _.run(
          c.p,
          nanFrom(model, (v) => tf.tidy(() => tf.mul(v, NaN))),
        )(xT),
      )
      assert.equal(got, expected, `${c.id}: NaN from call ${j}`)
      assert.equal(tf.memory().numTensors, baseline, `${c.id}: tensors left after the error`)
      tf.dispose([xT])
      model.dispose()
    }),
    { seed: SEED, numRuns: 60 },
  )
})

test('a finite x whose Σ overflows float32 passes the check (the scan clears it); one ∞ element does not', async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    await _.init(backend)
    const check = _.env(() => tf.zeros([1, 1])).check!
    const big = tf.fill<tf.Rank.R2>([4, 5], 1.5e38)
    const fused = _.lincomb('fused')([[2, big]]) // 3e38 each: finite, Σ = ∞ in float32
    const summed = _.lincomb('addN')([[2, big]]) // no checksum: tf.sum read back
    assert.doesNotThrow(() => check(fused, 3, 'predictor'), backend)
    assert.doesNotThrow(() => check(summed, 3, 'predictor'), backend)
    const inf = _.lincomb('fused')([[3, big]]) // 4.5e38 rounds to ∞
    assert.throws(
      () => check(inf, 3, 'predictor'),
      (e: unknown) => e instanceof Error && 'step' in e && e.step === 3 && /Infinity at element 0/.test(e.message),
      backend,
    )
    tf.dispose([big, fused, summed, inf])
  }
  await _.init('wasm')
})
