/**
 * Laws of the guidance adapters (docs/math.md#guidance, #thresholding): CFG with w = 1 is the conditional model (with
 * and without the batched call); CFG commutes with the parameterization conversions (pointwise and over a
 * whole sampler run); one batched network call per evaluation; rescale φ = 0 is CFG, φ = 1 restores the
 * conditional std; dynamic thresholding is per sample, bounds |x̂0| by 1, is the identity when s = 1,
 * commutes with the conversions and uses torch.quantile's interpolation; the Tfjs instance agrees with
 * the Float64 one and leaks nothing. The conditional network: the exact ε of the mixture shifted by c.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import fc from 'fast-check'
import * as _ from '../src/models/Guidance.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as M from '../src/models/Model.ts'
import * as L from '../src/core/Linear.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as P from '../src/core/Parameterization.ts'
import * as Prog from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'
import * as TG from '../src/run/TfjsGuidance.ts'
import * as Dpm from '../src/solvers/Dpm.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// random problems
// -------------------------------------------------------------------------------------------------

interface Case {
  readonly ns: NS.NoiseSchedule
  readonly gmm: Gmm.Gmm
  readonly B: number
  readonly x: Float64Array
  readonly cond: Float64Array
  readonly t: number
  readonly w: number
}

const arbCase = (withFlow = true): fc.Arbitrary<Case> =>
  fc
    .record({
      ns: O.arbSchedule(withFlow),
      gmm: O.arbGmm,
      B: fc.integer({ min: 1, max: 5 }),
      seed: fc.integer({ min: 1, max: 1e6 }),
      u: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      w: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 12, noNaN: true })),
    })
    .map((r) => ({
      ns: r.ns,
      gmm: r.gmm,
      B: r.B,
      x: O.startFor(r.gmm, r.ns, r.seed, r.B),
      cond: Gmm.normals(r.B * r.gmm.D, r.seed + 1).map((v) => 0.5 * v),
      t: r.ns.t0 + r.u * (r.ns.T - r.ns.t0),
      w: r.w,
    }))

const pointOf = (c: Case): NS.Point => NS.point(c.ns)(c.t)

/** the exact ε of the data shifted by c (per row): ε(x − α·c); c = 0 is the unconditional model */
const shiftedNet = (g: Gmm.Gmm): _.Conditional<Float64Array> => {
  const eps = Gmm.eps(g)
  return {
    param: 'eps',
    call: (x, at, c) =>
      eps(
        x.map((v, k) => v - at.alpha * c[k]!),
        at,
      ),
  }
}

/** the same conditional network with native output `p` (Model.as applied at fixed c) */
const asParam =
  (p: P.Parameterization) =>
  (net: _.Conditional<Float64Array>): _.Conditional<Float64Array> => ({
    param: p,
    call: (x, at, c) => M.as(L.float64, p)(M.make(net.param, (y, q) => net.call(y, q, c))).call(x, at),
  })

/** a network that counts its calls and the rows it saw */
const counting = (net: _.Conditional<Float64Array>, D: number) => {
  const calls: number[] = []
  return { calls, net: { ...net, call: (x: Float64Array, at: NS.Point, c: Float64Array) => (calls.push(x.length / D), net.call(x, at, c)) } }
}

const params = { seed: 20250313, numRuns: 200 } as const

// -------------------------------------------------------------------------------------------------
// classifier-free guidance
// -------------------------------------------------------------------------------------------------

test('CFG w = 1 equals the conditional model (skipping the unconditional call, and through the batched call), bitwise', () => {
  fc.assert(
    fc.property(arbCase(), (c) => {
      const I = _.float64(c.gmm.D)
      const net = shiftedNet(c.gmm)
      const uncond = new Float64Array(c.cond.length)
      const want = net.call(c.x, pointOf(c), c.cond)
      for (const skipAtOne of [true, false]) {
        const m = _.cfg(I)({ w: 1, cond: c.cond, uncond, skipAtOne })(net)
        assert.equal(O.maxAbs(m.call(c.x, pointOf(c)), want), 0, `skipAtOne ${skipAtOne}`) // exact: 0·u + 1·c
      }
    }),
    params,
  )
})

test('CFG is one batched call per evaluation: [x; x] with [∅; c] (2B rows), none unconditional at w = 1', () => {
  fc.assert(
    fc.property(arbCase(), (c) => {
      const { calls, net } = counting(shiftedNet(c.gmm), c.gmm.D)
      const m = _.cfg(_.float64(c.gmm.D))({ w: c.w, cond: c.cond, uncond: new Float64Array(c.cond.length) })(net)
      m.call(c.x, pointOf(c))
      assert.deepEqual(calls, [c.w === 1 ? c.B : 2 * c.B])
    }),
    params,
  )
})

test('CFG commutes with the parameterization conversions: cfg(as p (net)) = as p (cfg(net)) for x0, v (and flow on flow), 1e-12', () => {
  fc.assert(
    fc.property(arbCase(), (c) => {
      const I = _.float64(c.gmm.D)
      const o = { w: c.w, cond: c.cond, uncond: new Float64Array(c.cond.length) }
      const net = shiftedNet(c.gmm)
      const at = pointOf(c)
      const ps: ReadonlyArray<P.Parameterization> = c.ns.name === 'flow' ? ['x0', 'v', 'flow'] : ['x0', 'v']
      for (const p of ps) {
        const a = _.cfg(I)(o)(asParam(p)(net)).call(c.x, at)
        const b = M.as(L.float64, p)(_.cfg(I)(o)(net)).call(c.x, at)
        assert.ok(O.relErr(a, b) <= 1e-12, `${p}: ${O.relErr(a, b)}`) // affine maps: rounding only
      }
    }),
    params,
  )
})

test('a guided DPM-Solver++(2M) run gives the same samples whichever parameterization the network outputs (1e-10)', () => {
  fc.assert(
    fc.property(arbCase(false), fc.integer({ min: 3, max: 15 }), (c, nfe) => {
      const I = _.float64(c.gmm.D)
      const o = { w: c.w, cond: c.cond, uncond: new Float64Array(c.cond.length) }
      const s = Dpm.multistep({ nfe, prediction: 'data', order: 2 })
      const run = (p: P.Parameterization) => F.run(Prog.compileOrThrow(c.ns, p)(s), _.cfg(I)(o)(asParam(p)(shiftedNet(c.gmm))).call)(c.x).x
      const ref = run('eps')
      for (const p of ['x0', 'v'] as const) assert.ok(O.relErr(run(p), ref) <= 1e-10, `${p}: ${O.relErr(run(p), ref)}`) // 1e-10 relative
    }),
    { seed: 20250314, numRuns: 60 },
  )
})

test('CFG rescale: φ = 0 is plain CFG (bitwise); φ = 1 gives each row the std of the conditional output (1e-12); w = 1 is the conditional model', () => {
  fc.assert(
    fc.property(arbCase(), (c) => {
      const I = _.float64(c.gmm.D)
      const net = shiftedNet(c.gmm)
      const at = pointOf(c)
      const o = { w: c.w, cond: c.cond, uncond: new Float64Array(c.cond.length) }
      const plainOut = _.cfg(I)(o)(net).call(c.x, at)
      assert.equal(O.maxAbs(_.cfgRescaled(I)({ ...o, rescale: 0 })(net).call(c.x, at), plainOut), 0) // exact: rows × 1
      const r1 = _.cfgRescaled(I)({ ...o, rescale: 1 })(net).call(c.x, at)
      const sc = I.std(net.call(c.x, at, c.cond))
      I.std(r1).forEach((s, b) => assert.ok(Math.abs(s - sc[b]!) <= 1e-12 * Math.max(1, sc[b]!), `row ${b}: ${s} vs ${sc[b]}`)) // rounding
      const one = _.cfgRescaled(I)({ ...o, w: 1, rescale: 0.7, skipAtOne: false })(net).call(c.x, at)
      assert.equal(O.maxAbs(one, net.call(c.x, at, c.cond)), 0) // exact: std ratio 1
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// dynamic thresholding
// -------------------------------------------------------------------------------------------------

/** a model whose x̂0 is `x0` scaled by k per call (to push |x̂0| past 1), native output eps */
const wide = (g: Gmm.Gmm, k: number): M.Model<Float64Array> => {
  const eps = Gmm.eps(g)
  return M.make('eps', (x, at) => {
    const e = eps(x, at)
    const x0 = e.map((v, j) => k * ((x[j]! - at.sigma * v) / at.alpha))
    return x0.map((v, j) => (x[j]! - at.alpha * v) / at.sigma)
  })
}

const x0Of =
  (m: M.Model<Float64Array>) =>
  (x: Float64Array, at: NS.Point): Float64Array =>
    M.as(L.float64, 'x0')(m).call(x, at)

test('thresholding: per sample (batch = rows one by one), |x̂0| ≤ 1, s = clamp(torch-style quantile, min, max), identity when s = 1; in the model’s own parameterization', () => {
  fc.assert(
    fc.property(arbCase(), fc.double({ min: 0.5, max: 8, noNaN: true }), fc.double({ min: 0.5, max: 1, noNaN: true }), fc.constantFrom(Infinity, 1.5), (c, k, ratio, max) => {
      const D = c.gmm.D
      const I = _.float64(D)
      const at = pointOf(c)
      const base = wide(c.gmm, k)
      const m = _.threshold(I)({ ratio, max })(base)
      assert.equal(m.param, 'eps')
      const x0 = x0Of(base)(c.x, at)
      const got = x0Of(m)(c.x, at)
      for (let b = 0; b < c.B; b++) {
        const row = x0.subarray(b * D, (b + 1) * D)
        const sorted = Array.from(row, Math.abs).sort((p, q) => p - q)
        const pos = ratio * (D - 1)
        const lo = Math.floor(pos)
        const q = sorted[lo]! + (pos - lo) * ((sorted[Math.min(lo + 1, D - 1)] ?? 0) - sorted[lo]!) // torch.quantile, linear
        const s = Math.min(max, Math.max(1, q))
        row.forEach((v, d) => {
          const want = Math.min(s, Math.max(-s, v)) / s
          assert.ok(Math.abs(got[b * D + d]! - want) <= 1e-9, `row ${b} dim ${d}: ${got[b * D + d]} vs ${want}`) // re-derived through ε: rounding
          assert.ok(Math.abs(got[b * D + d]!) <= 1 + 1e-9)
        })
        // per sample: the row alone gives the same
        const alone = x0Of(m)(c.x.slice(b * D, (b + 1) * D), at)
        assert.ok(O.maxAbs(alone, got.subarray(b * D, (b + 1) * D)) <= 1e-15, 'batch-invariant') // same arithmetic
      }
    }),
    params,
  )
})

test('thresholding commutes with the parameterization conversions (it acts on x̂0): threshold(as p m) = as p (threshold m), 1e-10', () => {
  fc.assert(
    fc.property(arbCase(), fc.double({ min: 0.5, max: 8, noNaN: true }), (c, k) => {
      const I = _.float64(c.gmm.D)
      const at = pointOf(c)
      const base = wide(c.gmm, k)
      const ps: ReadonlyArray<P.Parameterization> = c.ns.name === 'flow' ? ['x0', 'v', 'flow'] : ['x0', 'v']
      for (const p of ps) {
        const a = _.threshold(I)()(M.as(L.float64, p)(base)).call(c.x, at)
        const b = M.as(L.float64, p)(_.threshold(I)()(base)).call(c.x, at)
        assert.ok(O.relErr(a, b) <= 1e-10, `${p}: ${O.relErr(a, b)}`) // 1e-10 relative (ε re-derived through 1/σ)
      }
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// the Tfjs instance
// -------------------------------------------------------------------------------------------------

test('the Tfjs instance agrees with Float64 (CFG, rescale, thresholding; float32) and leaks nothing, also over a whole guided run', async () => {
  await Tfjs.init('wasm')
  const ns = NS.vpLinear()
  const g = Gmm.random(3, 6, 17)
  const D = g.D
  const Bn = 5
  const x = O.startFor(g, ns, 3, Bn).map(Math.fround)
  const cond = Gmm.normals(Bn * D, 4).map((v) => Math.fround(0.5 * v))
  const at = NS.point(ns)(0.3)
  const f64 = shiftedNet(g)
  const base = TfjsGmm.eps(g)
  const netT: _.Conditional<tf.Tensor2D> = { param: 'eps', call: (y, q, c) => tf.tidy(() => base(tf.sub(y, tf.mul(c, q.alpha)), q)) }
  const xT = Tfjs.fromFloat64(x, D)
  const cT = Tfjs.fromFloat64(cond, D)
  const uT = tf.zeros<tf.Rank.R2>([Bn, D])
  const before = tf.memory().numTensors
  for (const w of [1, 3.5]) {
    const F64 = _.float64(D)
    const pairs: ReadonlyArray<readonly [string, M.Model<Float64Array>, M.Model<tf.Tensor2D>]> = [
      ['cfg', _.cfg(F64)({ w, cond, uncond: new Float64Array(cond.length) })(f64), _.cfg(TG.instance)({ w, cond: cT, uncond: uT })(netT)],
      ['rescale', _.cfgRescaled(F64)({ w, cond, uncond: new Float64Array(cond.length), rescale: 0.7 })(f64), _.cfgRescaled(TG.instance)({ w, cond: cT, uncond: uT, rescale: 0.7 })(netT)],
      [
        'threshold',
        _.threshold(F64)({ ratio: 0.9 })(_.cfg(F64)({ w, cond, uncond: new Float64Array(cond.length) })(f64)),
        _.threshold(TG.instance)({ ratio: 0.9 })(_.cfg(TG.instance)({ w, cond: cT, uncond: uT })(netT)),
      ],
    ]
    for (const [what, a, b] of pairs) {
      const out = b.call(xT, at)
      const got = Tfjs.toFloat64(out)
      out.dispose()
      const want = a.call(x, at)
      assert.ok(O.relErr(got, want) <= 1e-4, `${what} w ${w}: ${O.relErr(got, want)}`) // float32
    }
  }
  // each guided model with w ≠ 1 holds its [∅; c] batch (3 models above); nothing else remains
  const held = tf.memory().numTensors - before
  assert.equal(held, 3, 'only the [∅; c] batches of the w ≠ 1 models remain')
  // a whole guided run: memory flat across steps
  const guided = TG.tidy(_.threshold(TG.instance)()(_.cfg(TG.instance)({ w: 4, cond: cT, uncond: uT })(netT)))
  const p = Prog.compileOrThrow(ns, 'eps')(Dpm.multistep({ nfe: 12, prediction: 'data', order: 2 }))
  const start = tf.memory().numTensors
  const counts: number[] = []
  const r = Tfjs.run(p, guided.call, { observe: () => counts.push(tf.memory().numTensors) })(xT)
  const want = F.run(p, _.threshold(_.float64(D))()(_.cfg(_.float64(D))({ w: 4, cond, uncond: new Float64Array(cond.length) })(f64)).call)(x).x
  assert.ok(O.relErr(Tfjs.toFloat64(r.x), want) <= 1e-3, `run: ${O.relErr(Tfjs.toFloat64(r.x), want)}`) // float32 over 12 steps
  r.x.dispose()
  assert.ok(Math.max(...counts) - start <= 8, `tensors alive during the run: at most ${Math.max(...counts) - start} above the start`) // history + x + [∅; c]
  tf.dispose([xT, cT, uT])
  base.dispose()
})
