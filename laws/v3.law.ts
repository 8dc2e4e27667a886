/**
 * Laws of DPM-Solver-v3 (docs/math.md#dpm-solver-v3): (a) degenerate EMS (l = 1, s = b = 0) reproduce the same
 * schedule without `ems` — DPM-Solver++ of the same order, UniC-style correctors included — in Float64
 * to 1e-10; (b) the exact EMS of a Gaussian make the first-order v3 step exact up to the EMS grid's
 * interpolation error (both the (s, b = 0) and the (s = 0, b) forms), and `estimate` recovers them from
 * the model alone; (c) a model without EMS is refused with a message that says what to do; (d) on the
 * shipped learned model: v3 vs DPM-Solver++ against a fine solve of the same ODE (NFE 5–10), and the
 * Tfjs interpreter agrees with Float64 without leaking tensors.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as _ from '../src/core/DpmV3.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as L from '../src/models/Learned.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Codec from '../src/schedule/Codec.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TL from '../src/run/TfjsLearned.ts'
import * as Dpm from '../src/solvers/Dpm.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as V3 from '../src/solvers/Learned.ts'
import { arbScheduleOn } from './arbitraries.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const SEED = 20231016
const ns = NS.vpLinear()

/** the same schedule without `ems` */
const strip = (s: S.SolverSchedule): S.SolverSchedule => ({ ...s, steps: s.steps.map(({ ems: _e, ...d }) => d) })

/** a decision made a valid v3 step: data prediction, basis λ, no relaxation or halving (corrector likewise) */
const asV3 = (d: S.StepDecision): S.StepDecision => {
  const { basis: _b, relaxation: _r, halveSecondDerivative: _h, corrector, ...rest } = d
  const c = corrector === undefined ? undefined : (({ basis: _cb, relaxation: _cr, ...k }) => k)(corrector)
  return { ...rest, prediction: 'data', ems: true, ...(c === undefined ? {} : { corrector: c }) }
}

/** the schedule restricted to the times a grid resolves to (EMS must cover every point) */
const coverOf = (sched: NS.NoiseSchedule, g: Grid.Grid): NS.NoiseSchedule => {
  const ts = Grid.resolve(sched)(g)
  return NS.withRange(ts[0]!, ts[ts.length - 1]!)(sched)
}

/** a Gaussian N(μ_d, s_d²) per dimension: ε̂ = σ(x − αμ)/(α²s² + σ²) */
const gaussian = (mu: ReadonlyArray<number>, s2: ReadonlyArray<number>): Gmm.Gmm => ({ K: 1, D: mu.length, weights: [1], means: [mu], variances: [s2] })

/**
 * its exact EMS on an M-interval grid: l = σ²/(α²s² + σ²) and f = −l·μ is a function of λ alone, so
 * g is constant if s = d log l/dλ, b = 0 ('s') or s = 0, b = f' = −l'μ ('b')
 */
const exactEms = (mu: ReadonlyArray<number>, s2: ReadonlyArray<number>, M: number, form: 's' | 'b'): _.Ems => {
  const D = mu.length
  const base = _.degenerate(ns, D, M)
  const l = new Float64Array(base.l.length)
  const s = new Float64Array(base.l.length)
  const b = new Float64Array(base.l.length)
  for (let i = 0; i <= M; i++) {
    const lam = _.lambdaAt(base, i)
    const a2 = 1 / (1 + Math.exp(-2 * lam))
    const q2 = 1 / (1 + Math.exp(2 * lam))
    for (let d = 0; d < D; d++) {
      const v = a2 * s2[d]! + q2
      const k = i * D + d
      l[k] = q2 / v
      const dlogl = -2 * a2 - (2 * a2 * q2 * (s2[d]! - 1)) / v
      if (form === 's') s[k] = dlogl
      else b[k] = -l[k]! * dlogl * mu[d]!
    }
  }
  return { ...base, model: 'gaussian', l, s, b }
}

/** x_t − α_t·μ = (x_s − α_s·μ)·sqrt((α_t²s² + σ_t²)/(α_s²s² + σ_s²)), per dimension */
const exactFlow =
  (mu: ReadonlyArray<number>, s2: ReadonlyArray<number>, from: NS.Point, to: NS.Point) =>
  (x: Float64Array): Float64Array =>
    x.map((v, k) => {
      const d = k % mu.length
      return to.alpha * mu[d]! + (v - from.alpha * mu[d]!) * Math.sqrt((to.alpha ** 2 * s2[d]! + to.sigma ** 2) / (from.alpha ** 2 * s2[d]! + from.sigma ** 2))
    })

/** first-order steps on a logSNR grid of n steps, with or without ems */
const firstOrder = (n: number, ems: boolean): S.SolverSchedule =>
  S.make(
    Grid.logSNR(n),
    Array.from({ length: n }, (): S.StepDecision => ({ prediction: 'data', order: 1, ...(ems ? { ems: true } : {}) })),
  )

/** a Float64 probe of an exact mixture: Jᵀv and dε̂/dλ by central differences (δ = 1e-5) */
const fdProbe =
  (g: Gmm.Gmm): _.Probe =>
  (x, at, v) => {
    const eps = Gmm.eps(g)
    const e = eps(x, at)
    const h = 1e-5
    const minus = eps(
      x.map((y, k) => y - h * v[k]!),
      at,
    )
    const jtv = eps(
      x.map((y, k) => y + h * v[k]!),
      at,
    ).map((p, k) => (p - minus[k]!) / (2 * h))
    const dx = x.map((y, k) => at.sigma ** 2 * y - at.sigma * e[k]!)
    const pt = (lam: number): NS.Point => {
      const t = ns.tOfLambda(lam)
      return { t, alpha: ns.alpha(t), sigma: ns.sigma(t), lambda: lam }
    }
    const up = eps(
      x.map((y, k) => y + h * dx[k]!),
      pt(at.lambda + h),
    )
    const down = eps(
      x.map((y, k) => y - h * dx[k]!),
      pt(at.lambda - h),
    )
    return { eps: e, jtv, deps: up.map((u, k) => (u - down[k]!) / (2 * h)) }
  }

// -------------------------------------------------------------------------------------------------
// (a) degenerate EMS = DPM-Solver++ of the same order
// -------------------------------------------------------------------------------------------------

test('degenerate EMS: v3-p without corrector = DPM-Solver++(pM) (exact λ-Lagrange), Float64 to 1e-10', () => {
  fc.assert(
    fc.property(
      O.arbGmm,
      fc.integer({ min: 1, max: 1e6 }),
      fc.integer({ min: 2, max: 20 }),
      fc.constantFrom<2 | 3>(2, 3),
      O.arbSpacing,
      fc.constantFrom(O.schedules.vpLinear, O.schedules.vpCosine, O.schedules.vpDiscrete),
      (g, seed, nfe, order, grid, sched) => {
        const v3 = V3.v3({ nfe, order, grid, corrector: false })
        const ems = _.degenerate(coverOf(sched, v3.grid), g.D)
        const xT = O.startFor(g, sched, seed)
        const a = F.run(Prog.compileOrThrow(sched, 'eps', { ems })(v3), Gmm.eps(g))(xT).x
        const b = F.run(Prog.compileOrThrow(sched, 'eps')(Dpm.multistep({ nfe, order, grid, prediction: 'data', solverType: 'taylor' })), Gmm.eps(g))(xT).x
        assert.ok(O.relErr(a, b) <= 1e-10, `v3-${order} nfe ${nfe} ${grid} on ${sched.name}: ${O.relErr(a, b)}`) // 1e-10 relative
      },
    ),
    { seed: SEED, numRuns: 60 },
  )
})

test('degenerate EMS: any schedule with ems = the same schedule without it (starts, nodes, correctors, options), Float64 to 1e-10', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 8 }).chain((n) => arbScheduleOn(Grid.logSNR(n))),
      O.arbGmm,
      fc.integer({ min: 1, max: 1e6 }),
      fc.constantFrom(...O.nonFlow),
      (doc, g, seed, sched) => {
        const s = { ...doc, steps: doc.steps.map(asV3) }
        assert.deepEqual(Codec.check(s), [])
        const ems = _.degenerate(coverOf(sched, s.grid), g.D)
        const xT = O.startFor(g, sched, seed)
        const a = F.run(Prog.compileOrThrow(sched, 'eps', { ems })(s), Gmm.eps(g))(xT).x
        const b = F.run(Prog.compileOrThrow(sched, 'eps')(strip(s)), Gmm.eps(g))(xT).x
        assert.ok(O.relErr(a, b) <= 1e-10, `${JSON.stringify(Codec.encode(s))} on ${sched.name}: ${O.relErr(a, b)}`) // 1e-10 relative
      },
    ),
    { seed: SEED, numRuns: 80 },
  )
})

test('named dpm-v3-p with degenerate EMS = the same decisions as DPM-Solver++ with UniC-style correctors (parameterizations x0, v agree)', () => {
  const g = Gmm.random(3, 4, 11)
  const xT = O.startFor(g, ns, 5)
  const ems = _.degenerate(ns, g.D)
  for (const sv of V3.named)
    for (const nfe of [3, 6, 10]) {
      const s = sv.build({ nfe })
      const a = O.runOn(ns, g, 'eps')(strip(s))(xT).x
      for (const param of ['eps', 'x0', 'v'] as const) {
        const b = F.run(Prog.compileOrThrow(ns, param, { ems })(s), O.nativeModel(g, param))(xT).x
        assert.ok(O.relErr(b, a) <= 1e-10, `${sv.id} nfe ${nfe} (${param}): ${O.relErr(b, a)}`) // 1e-10 relative
      }
    }
})

// -------------------------------------------------------------------------------------------------
// (b) exact EMS of a Gaussian: the first-order v3 step is exact
// -------------------------------------------------------------------------------------------------

test('exact Gaussian EMS: v3 order 1 matches the closed-form flow to O(Δλ²) of the EMS grid (s-form and b-form), DPM-Solver++1 does not', () => {
  const mu = [0.7, -0.4, 0.1]
  const s2 = [0.09, 0.5, 1.6]
  const g = gaussian(mu, s2)
  const xT = Gmm.normals(3 * 8, 3)
  const pts = Grid.resolve(ns)(Grid.logSNR(5)).map(NS.point(ns))
  const exact = exactFlow(mu, s2, pts[0]!, pts[pts.length - 1]!)(xT)
  const ddim = O.maxAbs(F.run(Prog.compileOrThrow(ns, 'eps')(firstOrder(5, false)), Gmm.eps(g))(xT).x, exact)
  for (const form of ['s', 'b'] as const) {
    const errs = [50, 200, 800].map((M) => O.maxAbs(F.run(Prog.compileOrThrow(ns, 'eps', { ems: exactEms(mu, s2, M, form) })(firstOrder(5, true)), Gmm.eps(g))(xT).x, exact))
    assert.ok(errs[2]! < 1e-5 && errs[2]! < 1e-3 * ddim, `${form}-form: M = 800 error ${errs[2]} (DPM-Solver++1: ${ddim})`) // tolerance 1e-5 absolute
    assert.ok(errs[0]! / errs[1]! > 10 && errs[1]! / errs[2]! > 10, `${form}-form: errors ${errs.join(', ')} do not fall ~16× per 4× finer grid`) // O(Δλ²): > 10× per 4×
  }
})

test('estimate: EMS estimated from the exact ε of a Gaussian (Hutchinson + finite-difference JVP) make v3 order 1 exact to 1e-4', () => {
  const mu = [0.7, -0.4]
  const s2 = [0.09, 0.5]
  const g = gaussian(mu, s2)
  const data = Gmm.normals(2 * 512, 7).map((z, k) => mu[k % 2]! + Math.sqrt(s2[k % 2]!) * z)
  const ems = _.estimate(ns, fdProbe(g), data, 2, { model: 'gaussian', M: 400, samples: 1000, batch: 500, seed: 1, smooth: 0 })
  const xT = Gmm.normals(2 * 8, 3)
  const pts = Grid.resolve(ns)(Grid.logSNR(5)).map(NS.point(ns))
  const exact = exactFlow(mu, s2, pts[0]!, pts[pts.length - 1]!)(xT)
  const err = O.maxAbs(F.run(Prog.compileOrThrow(ns, 'eps', { ems })(firstOrder(5, true)), Gmm.eps(g))(xT).x, exact)
  assert.ok(err < 1e-4, `v3-1 with estimated EMS: error ${err}`) // tolerance 1e-4 absolute (finite differences, smoothing of l')
  const exactL = exactEms(mu, s2, 400, 's').l
  assert.ok(O.maxAbs(ems.l, exactL) < 1e-6, `l vs exact: ${O.maxAbs(ems.l, exactL)}`) // J ∝ I: Hutchinson is exact, FD error only
})

// -------------------------------------------------------------------------------------------------
// (c) the schedule field and the EMS requirement
// -------------------------------------------------------------------------------------------------

test('a v3 schedule on a model without EMS is refused naming the step and the fix; the codec keeps ems and rejects bad combinations', () => {
  for (const sv of V3.named) {
    assert.deepEqual(sv.needs, ['ems'])
    const s = sv.build({ nfe: 6 })
    assert.throws(() => Prog.compileOrThrow(ns, 'eps')(s), /steps\[0\]\.ems: DPM-Solver-v3 needs the model's empirical model statistics .* compile with \{ ems \}/)
    assert.deepEqual(Codec.decode(Codec.encode(s)), E.right(s))
  }
  const bad = S.make(Grid.logSNR(2), [
    { prediction: 'noise', order: 1, ems: true },
    { prediction: 'data', order: 2, ems: true, relaxation: 'dpmsolver-2', corrector: { mode: 'pseudo', basis: 't' } },
  ])
  assert.deepEqual(
    Codec.check(bad).map((i) => i.path),
    ['steps[0].prediction', 'steps[1].corrector.basis', 'steps[1].relaxation'],
  )
  assert.throws(() => Prog.compileOrThrow(NS.edm(), 'eps', { ems: _.degenerate(ns, 2) })(Solvers.byId('dpm-v3-2')!.build({ nfe: 4 })), /computed under noise schedule 'vp-linear', not 'edm'/)
  const short = _.degenerate(NS.withRange(0.5, 0.01)(ns), 2)
  assert.throws(() => Prog.compileOrThrow(ns, 'eps', { ems: short })(Solvers.byId('dpm-v3-2')!.build({ nfe: 4 })), /outside the EMS range/)
})

// -------------------------------------------------------------------------------------------------
// (d) the shipped learned model
// -------------------------------------------------------------------------------------------------

before(async () => {
  await Tfjs.init('wasm')
})
after(() => {
  tf.disposeVariables()
})

/** mean L2 distance per row */
const meanL2 = (a: Float64Array, b: Float64Array, D: number): number => {
  let acc = 0
  for (let r = 0; r < a.length / D; r++) {
    let s = 0
    for (let d = 0; d < D; d++) s += (a[r * D + d]! - b[r * D + d]!) ** 2
    acc += Math.sqrt(s)
  }
  return acc / (a.length / D)
}

for (const name of L.shipped) {
  test(`learned ${name}: v3-p is at least as accurate as DPM-Solver++(pM) at NFE 5–10 against a fine solve of the same model (Float64)`, (t) => {
    const l = L.load(name)
    const ems = L.loadEms(name)
    const model = L.eps(l)
    const xT = Gmm.normals(32 * l.D, 2024)
    const run = (id: string, nfe: number) => F.run(Prog.compileOrThrow(ns, 'eps', { ems })(Solvers.byId(id)!.build({ nfe })), model)(xT).x
    const fine = run('dpmpp-3m', 200)
    const check = meanL2(fine, run('dpmpp-3m', 400), l.D)
    assert.ok(check < 1e-3, `reference not converged: ${check}`) // reference within 1e-3 (measured ~1.5e-4); the errors compared are ≥ 3e-2
    const lines = [`reference: dpmpp-3m NFE 200, distance to NFE 400 ${check.toExponential(2)}`]
    for (const nfe of [5, 6, 8, 10]) {
      const [v2, v3, pp2, pp3] = ['dpm-v3-2', 'dpm-v3-3', 'dpmpp-2m', 'dpmpp-3m'].map((id) => meanL2(run(id, nfe), fine, l.D))
      lines.push(`nfe ${nfe}: dpm-v3-2 ${v2!.toExponential(2)} dpm-v3-3 ${v3!.toExponential(2)} | dpmpp-2m ${pp2!.toExponential(2)} dpmpp-3m ${pp3!.toExponential(2)}`)
      assert.ok(v2! <= pp2!, `${name} nfe ${nfe}: dpm-v3-2 ${v2} > dpmpp-2m ${pp2}`) // measured margins ≥ 1.2×
      assert.ok(v3! <= pp3!, `${name} nfe ${nfe}: dpm-v3-3 ${v3} > dpmpp-3m ${pp3}`) // measured margins ≥ 2×
    }
    t.diagnostic(lines.join('\n'))
  })

  test(`learned ${name}: v3 on the Tfjs interpreter agrees with Float64 (float32 tolerance), no tensor leaks`, () => {
    const l = L.load(name)
    const ems = L.loadEms(name)
    const xT = Gmm.normals(32 * l.D, 3).map(Math.fround)
    const m = TL.model(l)
    try {
      for (const id of ['dpm-v3-2', 'dpm-v3-3'])
        for (const nfe of [5, 10]) {
          const p = Prog.compileOrThrow(ns, 'eps', { ems })(Solvers.byId(id)!.build({ nfe }))
          const exact = F.run(p, L.eps(l))(xT).x
          const before = tf.memory().numTensors
          const x = Tfjs.fromFloat64(xT, l.D)
          const r = Tfjs.run(p, m)(x)
          const got = Tfjs.toFloat64(r.x)
          tf.dispose([x, r.x])
          assert.equal(tf.memory().numTensors, before, `${id} nfe ${nfe}: tensors leaked`)
          assert.ok(O.relErr(got, exact) < 1e-4, `${id} nfe ${nfe}: Tfjs vs Float64 ${O.relErr(got, exact)}`) // float32: 1e-4 relative
        }
    } finally {
      m.dispose()
    }
  })
}
