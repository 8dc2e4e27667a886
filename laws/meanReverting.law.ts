/**
 * Laws of mean-reverting diffusion and the MR Sampler (docs/math.md#mean-reverting): (a) with μ = 0 and λ_∞ = 1
 * (α² + σ² = 1) MRS is DPM-Solver(++) bit for bit; (b) MRS reproduces the MRS update formulas (docs/math.md#mrs) (written
 * out here from the MRS reference code, with μ ≠ 0, λ_∞ ≠ 1, ODE orders 1–3, SDE orders 1–2, data and
 * noise form, the same z); (c) the exact mixture score under MR is −σ·∇log p_t of the shifted mixture;
 * (d) noise / data / velocity parameterizations give the same trajectory; (e) the exact endpoint
 * (MeanReverting.endpoint) matches a fine MRS solve and MRS-ODE converges to it at its order; (f) MRS
 * vs the IR-SDE samplers at equal NFE (the paper's speed-up claim, measured: bench/RESULTS.md);
 * (g) Tfjs agrees with Float64 on an MR program.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as _ from '../src/models/MeanReverting.ts'
import * as Noise from '../src/core/Noise.ts'
import type * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import { effectiveSteps, type SolverSchedule } from '../src/schedule/SolverSchedule.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'
import * as Dpm from '../src/solvers/Dpm.ts'
import * as MRS from '../src/solvers/MeanReverting.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// random problems
// -------------------------------------------------------------------------------------------------

/** an MR problem: schedule, mixture, per-row condition μ, prior start points, a grid */
interface Case {
  readonly ns: _.MeanRevertingSchedule
  readonly gmm: Gmm.Gmm
  readonly mu: Float64Array
  readonly xT: Float64Array
  readonly n: number
  readonly grid: Grid.Grid
}

const B = 4

const arbCase = (o: { readonly lambdaInf?: number; readonly minN?: number; readonly maxN?: number } = {}): fc.Arbitrary<Case> =>
  fc
    .record({
      lambdaInf: o.lambdaInf === undefined ? fc.double({ min: 0.03, max: 1.5, noNaN: true }) : fc.constant(o.lambdaInf),
      theta: fc.constantFrom<_.Theta>('cosine', 'linear', 'constant'),
      alphaT: fc.double({ min: 0.002, max: 0.05, noNaN: true }),
      gmm: O.arbGmm,
      seed: fc.integer({ min: 1, max: 1e6 }),
      n: fc.integer({ min: o.minN ?? 3, max: o.maxN ?? 12 }),
      spacing: O.arbSpacing,
    })
    .map((r) => {
      const ns = _.schedule({ lambdaInf: r.lambdaInf, theta: r.theta, alphaT: r.alphaT })
      const D = r.gmm.D
      const mu = Gmm.normals(B * D, r.seed).map((v) => 0.7 * v)
      return { ns, gmm: r.gmm, mu, xT: _.prior(ns, mu, Gmm.normals(B * D, r.seed + 1)), n: r.n, grid: { spacing: r.spacing, steps: r.n } }
    })

const runMR = (c: Case, s: SolverSchedule, param: 'eps' | 'x0' | 'v' = 'eps', seed = 7): Float64Array =>
  F.run(Prog.compileOrThrow(c.ns, param)({ ...s, grid: c.grid }), _.native(c.ns, c.gmm, c.mu, param), { mu: c.mu, D: c.gmm.D, seed })(c.xT).x

const params = { seed: 20250311, numRuns: 120 } as const

// -------------------------------------------------------------------------------------------------
// (a) reduction to DPM-Solver(++)
// -------------------------------------------------------------------------------------------------

/** the same α, σ, λ without the mean-reverting flag: a VP schedule when λ_∞ = 1 */
const plain = (ns: NS.NoiseSchedule): NS.NoiseSchedule => ({ name: 'vp-copy', T: ns.T, t0: ns.t0, alpha: ns.alpha, sigma: ns.sigma, lambda: ns.lambda, tOfLambda: ns.tOfLambda })

test('μ = 0, λ_∞ = 1 (α² + σ² = 1): MRS-ODE-1/2/3 (data, noise; exact and reference 3M; reference driver) = DDIM / DPM-Solver(++) 2M taylor / 3M, bitwise', () => {
  fc.assert(
    fc.property(arbCase({ lambdaInf: 1 }), fc.constantFrom<'data' | 'noise'>('data', 'noise'), fc.constantFrom<'exact' | 'reference'>('exact', 'reference'), (c, prediction, parity) => {
      const zero = new Float64Array(c.mu.length)
      const vp = plain(c.ns)
      // α² + σ² = 1 on the copy: it is a VP schedule
      for (const t of Grid.resolve(vp)(c.grid)) assert.ok(Math.abs(vp.alpha(t) ** 2 + vp.sigma(t) ** 2 - 1) <= 1e-15) // float64 rounding
      for (const order of [1, 2, 3] as const) {
        const mrs = MRS.ode({ nfe: c.n, order, prediction, parity, eulerAtFinal: false })
        const dpm = order === 1 ? Dpm.ddim({ nfe: c.n, prediction }) : Dpm.multistep({ nfe: c.n, prediction, order, parity, lowerOrderFinalBelow: 10, solverType: 'taylor' })
        const a = F.run(Prog.compileOrThrow(c.ns, 'eps')({ ...mrs, grid: c.grid }), _.eps(c.gmm, zero), { mu: zero })(c.xT).x
        const b = F.run(Prog.compileOrThrow(vp, 'eps')({ ...dpm, grid: c.grid }), Gmm.eps(c.gmm))(c.xT).x
        assert.equal(O.maxAbs(a, b), 0, `order ${order} ${prediction} ${parity}: bitwise (the μ terms add c·0)`) // exact
      }
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// (b) the MRS formulas (docs/math.md#mrs), written out as the MRS reference computes them
// -------------------------------------------------------------------------------------------------

/** the MRS reference loop (universal-image-restoration/utils/sampler.py), fit_target noise, on the points of a grid, with `orders` per step */
const mrsLoop = (c: Case, orders: ReadonlyArray<number>, prediction: 'data' | 'noise', sde: boolean, seed: number): Float64Array => {
  const pts = Grid.points(c.ns)(c.grid)
  const eps = _.eps(c.gmm, c.mu)
  const D = c.gmm.D
  const q: Float64Array[] = [] // newest first
  let x = Float64Array.from(c.xT)
  for (let i = 0; i + 1 < pts.length; i++) {
    const s = pts[i]!
    const t = pts[i + 1]!
    const e = eps(x, s)
    // data: x0 = (x − σε)/α − ((1 − α)/α)μ; noise: ε
    q.unshift(prediction === 'data' ? e.map((v, k) => (x[k]! - s.sigma * v) / s.alpha - ((1 - s.alpha) / s.alpha) * c.mu[k]!) : e)
    const h = t.lambda - s.lambda
    const k = orders[i]!
    const r0 = k >= 2 ? (s.lambda - pts[i - 1]!.lambda) / h : 0
    const r1 = k >= 3 ? (pts[i - 1]!.lambda - pts[i - 2]!.lambda) / h : 0
    const D10 = k >= 2 ? q[0]!.map((v, j) => (v - q[1]![j]!) / r0) : undefined
    const D11 = k >= 3 ? q[1]!.map((v, j) => (v - q[2]![j]!) / r1) : undefined
    const D1 = k === 3 ? D10!.map((v, j) => v + ((v - D11![j]!) * r0) / (r0 + r1)) : D10
    const D2 = k === 3 ? D10!.map((v, j) => (v - D11![j]!) / (r0 + r1)) : undefined
    const z = sde ? Noise.normals(seed, { step: i, stream: 0 }, B, D) : undefined
    const m0 = q[0]!
    x = x.map((xv, j) => {
      const mu = c.mu[j]!
      if (!sde && prediction === 'data') {
        const phi1 = Math.expm1(-h)
        const phi2 = phi1 / h + 1
        const phi3 = phi2 / h - 0.5
        const Dd = phi1 * m0[j]! - (k >= 2 ? phi2 * D1![j]! : 0) + (k === 3 ? phi3 * D2![j]! : 0)
        return (t.sigma / s.sigma) * xv - t.alpha * Dd + mu * (1 - t.sigma / s.sigma + (t.sigma / s.sigma) * s.alpha - t.alpha)
      }
      if (!sde) {
        const phi1 = Math.expm1(h)
        const phi2 = phi1 / h - 1
        const phi3 = phi2 / h - 0.5
        const Dn = phi1 * m0[j]! + (k >= 2 ? phi2 * D1![j]! : 0) + (k === 3 ? phi3 * D2![j]! : 0)
        return (t.alpha / s.alpha) * xv - t.sigma * Dn + mu * (1 - t.alpha / s.alpha)
      }
      if (prediction === 'data') {
        const phi1 = 1 - Math.exp(-2 * h)
        const phi2 = 1 - phi1 / 2 / h
        return (
          (t.sigma / s.sigma) * Math.exp(-h) * xv +
          t.alpha * phi1 * m0[j]! +
          (k >= 2 ? t.alpha * phi2 * D1![j]! : 0) +
          t.sigma * Math.sqrt(phi1) * z![j]! +
          mu * (1 - (t.alpha / s.alpha) * Math.exp(-2 * h) - t.alpha * phi1)
        )
      }
      const phi1 = Math.expm1(h)
      const phi2 = phi1 / h - 1
      return (t.alpha / s.alpha) * xv - 2 * t.sigma * phi1 * m0[j]! - (k >= 2 ? 2 * t.sigma * phi2 * D1![j]! : 0) + t.sigma * Math.sqrt(Math.expm1(2 * h)) * z![j]! + mu * (1 - t.alpha / s.alpha)
    })
  }
  return x
}

test('MRS reproduces its reference updates (docs/math.md#mrs) with μ ≠ 0, λ_∞ ≠ 1: ODE orders 1–3 (3 = the reference halved 3M), SDE orders 1–2, data and noise, same z', () => {
  fc.assert(
    fc.property(arbCase(), fc.constantFrom<'data' | 'noise'>('data', 'noise'), (c, prediction) => {
      const seed = 11
      const cases: ReadonlyArray<readonly [string, SolverSchedule, boolean]> = [
        ...([1, 2, 3] as const).map((order) => [`ode-${order}`, MRS.ode({ nfe: c.n, order, prediction, parity: 'reference' }), false] as const),
        ...([1, 2] as const).map((order) => [`sde-${order}`, MRS.sde({ nfe: c.n, order, prediction }), true] as const),
      ]
      for (const [id, s, sde] of cases) {
        const mine = runMR(c, s, 'eps', seed)
        const ref = mrsLoop(
          c,
          effectiveSteps(s).map((d) => d.order),
          prediction,
          sde,
          seed,
        ) // Euler at the final step: order 1 there
        assert.ok(O.relErr(mine, ref) <= 1e-10, `${id} ${prediction} λ∞ ${c.ns.lambdaInf.toFixed(3)}: ${O.relErr(mine, ref)}`) // 1e-10 relative
      }
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// (c) the exact score
// -------------------------------------------------------------------------------------------------

/** log p_t(x) of one row: Σ_k w_k N(x; α m_k + (1 − α)μ, diag(α² s_k² + σ²)), written out directly */
const logDensity =
  (g: Gmm.Gmm, mu: ArrayLike<number>, at: NS.Point) =>
  (x: ArrayLike<number>): number => {
    const ls = g.weights.map((w, k) => {
      let l = Math.log(w)
      for (let d = 0; d < g.D; d++) {
        const v = at.alpha ** 2 * g.variances[k]![d]! + at.sigma ** 2
        l += -0.5 * Math.log(2 * Math.PI * v) - (x[d]! - at.alpha * g.means[k]![d]! - (1 - at.alpha) * mu[d]!) ** 2 / (2 * v)
      }
      return l
    })
    const m = Math.max(...ls)
    return m + Math.log(ls.reduce((a, l) => a + Math.exp(l - m), 0))
  }

test('exact mixture score under MR: ε̂ = −σ_t·∇log p_t(x) of the shifted mixture (central differences, 1e-6)', () => {
  fc.assert(
    fc.property(arbCase(), fc.double({ min: 0.02, max: 0.98, noNaN: true }), (c, t) => {
      const at = { t, alpha: c.ns.alpha(t), sigma: c.ns.sigma(t), lambda: c.ns.lambda(t) }
      const D = c.gmm.D
      const e = _.eps(c.gmm, c.mu)(c.xT, at)
      for (let b = 0; b < B; b++) {
        const row = Array.from(c.xT.subarray(b * D, (b + 1) * D))
        const lp = logDensity(c.gmm, c.mu.subarray(b * D, (b + 1) * D), at)
        for (let d = 0; d < D; d++) {
          const dx = 1e-5 * Math.max(at.sigma, 1e-3)
          const up = row.map((v, j) => (j === d ? v + dx : v))
          const dn = row.map((v, j) => (j === d ? v - dx : v))
          const fd = (-at.sigma * (lp(up) - lp(dn))) / (2 * dx)
          assert.ok(Math.abs(fd - e[b * D + d]!) <= 1e-6 * Math.max(1, Math.abs(fd)), `t ${t} row ${b} dim ${d}: ${e[b * D + d]} vs ${fd}`) // FD error ~1e-9
        }
      }
    }),
    { seed: 20250312, numRuns: 100 },
  )
})

// -------------------------------------------------------------------------------------------------
// (d) parameterizations
// -------------------------------------------------------------------------------------------------

test('noise / data / velocity (v = λ_∞·α·ε − (σ/λ_∞)·(x0 − μ)) models give the same MRS trajectory, ODE and SDE', () => {
  fc.assert(
    fc.property(arbCase(), fc.constantFrom<'data' | 'noise'>('data', 'noise'), fc.constantFrom<'ode-3' | 'sde-2'>('ode-3', 'sde-2'), (c, prediction, which) => {
      const s = which === 'ode-3' ? MRS.ode({ nfe: c.n, order: 3, prediction }) : MRS.sde({ nfe: c.n, order: 2, prediction })
      const ref = runMR(c, s, 'eps')
      for (const p of ['x0', 'v'] as const) assert.ok(O.relErr(runMR(c, s, p), ref) <= 1e-10, `${which} ${prediction} ${p} vs eps: ${O.relErr(runMR(c, s, p), ref)}`) // 1e-10 relative
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// (e) the exact endpoint and convergence
// -------------------------------------------------------------------------------------------------

/** K = 3 mixture in 2-D (std 0.1–0.3), λ_∞ = 0.2, cosine θ, 4 rows with their own μ */
const fixed = (() => {
  const ns = _.schedule({ lambdaInf: 0.2 })
  const gmm = Gmm.random(3, 2, 5, 0.1, 0.3)
  const mu = Gmm.normals(B * 2, 21).map((v) => 0.5 * v)
  const xT = _.prior(ns, mu, Gmm.normals(B * 2, 22))
  return { ns, gmm, mu, xT, exact: _.endpoint(ns)(gmm, mu, xT) }
})()

test('MeanReverting.endpoint = an 8000-step exact MRS-ODE-3 solve (logSNR) to 1e-9', () => {
  const s = MRS.ode({ nfe: 8000, order: 3, grid: 'logSNR', lowerOrderFinalBelow: 0 })
  const x = F.run(Prog.compileOrThrow(fixed.ns, 'eps')(s), _.eps(fixed.gmm, fixed.mu), { mu: fixed.mu })(fixed.xT).x
  assert.ok(O.maxAbs(x, fixed.exact) <= 1e-9, `${O.maxAbs(x, fixed.exact)}`) // Reference at 1e-12; the solve's own error: 2.6e-8, 4.1e-9, 7.4e-10, 1.7e-10 at 1000…8000 steps
})

test('MRS-ODE converges to the exact endpoint: fitted slope ≥ order − 0.3 (logSNR, no lowering at the end; data and noise)', (t) => {
  const rungs = O.ladder(20, 320, 6)
  const lines: string[] = []
  for (const prediction of ['data', 'noise'] as const)
    for (const order of [1, 2, 3] as const) {
      const samples = rungs.map((n) => {
        const s = MRS.ode({ nfe: n, order, prediction, grid: 'logSNR', lowerOrderFinalBelow: 0 })
        return { nfe: n, err: O.maxAbs(F.run(Prog.compileOrThrow(fixed.ns, 'eps')(s), _.eps(fixed.gmm, fixed.mu), { mu: fixed.mu })(fixed.xT).x, fixed.exact) }
      })
      const fit = O.fitOrder(samples)
      assert.ok(E.isRight(fit), E.isLeft(fit) ? fit.left : '')
      lines.push(`${prediction}-${order}: ${fit.right.order.toFixed(2)}`)
      assert.ok(fit.right.order >= order - 0.3, `${prediction} order ${order}: slope ${fit.right.order}`) // tolerance 0.3
    }
  t.diagnostic(lines.join('  '))
})

// -------------------------------------------------------------------------------------------------
// (f) MRS vs the IR-SDE samplers at equal NFE
// -------------------------------------------------------------------------------------------------

/** the fixed panel: K4 D2, K4 D8, K8 D16 × seeds 1–4 (component std 0.1–0.3), 16 rows, μ ~ N(0, 0.25), α_T = 0.005 (DA-CLIP/MRS config) */
export const panel = (lambdaInf: number) =>
  (
    [
      [4, 2],
      [4, 8],
      [8, 16],
    ] as const
  ).flatMap(([K, D]) =>
    [1, 2, 3, 4].map((seed) => {
      const ns = _.schedule({ lambdaInf, alphaT: 0.005 })
      const gmm = Gmm.random(K, D, seed, 0.1, 0.3)
      const rows = 16
      const mu = Gmm.normals(rows * D, seed + 5).map((v) => 0.5 * v)
      const xT = _.prior(ns, mu, Gmm.normals(rows * D, seed + 3))
      return { name: `K${K} D${D} seed ${seed}`, ns, gmm, mu, xT, D, rows, exact: _.endpoint(ns)(gmm, mu, xT) }
    }),
  )

/** mean over rows of ‖x − x_exact‖₂ */
export const meanL2 = (x: Float64Array, exact: Float64Array, D: number): number => {
  let s = 0
  for (let o = 0; o < x.length; o += D) {
    let q = 0
    for (let d = 0; d < D; d++) q += (x[o + d]! - exact[o + d]!) ** 2
    s += Math.sqrt(q)
  }
  return s / (x.length / D)
}

const gmean = (xs: ReadonlyArray<number>): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length)

/** Euler (IR-SDE reverse ODE) error ÷ MRS-ODE-p error at `nfe`, per panel problem (defaults: time-uniform grid, lower order at the end) */
const ratios = (lambdaInf: number, nfe: number, order: 1 | 2 | 3): ReadonlyArray<number> =>
  panel(lambdaInf).map((p) => {
    const euler = _.eulerMaruyama(p.ns, { steps: nfe, sde: false, D: p.D })(_.eps(p.gmm, p.mu), p.mu)(p.xT)
    const mrs = F.run(Prog.compileOrThrow(p.ns, 'eps')(MRS.ode({ nfe, order })), _.eps(p.gmm, p.mu), { mu: p.mu })(p.xT).x
    return meanL2(euler, p.exact, p.D) / meanL2(mrs, p.exact, p.D)
  })

test('MRS-ODE-3 at 10 NFE is ≥ 10× closer to the exact ODE endpoint than Euler at 10 NFE (λ_∞ = 10/255; geometric mean over 12 mixtures, each ≥ 5×)', (t) => {
  const r = ratios(10 / 255, 10, 3)
  t.diagnostic(`ratios ${r.map((x) => x.toFixed(1)).join(' ')}; geometric mean ${gmean(r).toFixed(1)}`)
  assert.ok(gmean(r) >= 10, `geometric mean ${gmean(r)}`) // measured 25.3
  assert.ok(Math.min(...r) >= 5, `min ${Math.min(...r)}`) // measured 7.9
})

test('at the paper’s λ_∞ = 50/255 the advantage is smaller: ≥ 2× at 10 NFE and ≥ 4× at 20 NFE (geometric means; bench/RESULTS.md)', (t) => {
  const r10 = ratios(50 / 255, 10, 3)
  const r20 = ratios(50 / 255, 20, 3)
  t.diagnostic(`10 NFE: ${gmean(r10).toFixed(1)} (min ${Math.min(...r10).toFixed(1)}), 20 NFE: ${gmean(r20).toFixed(1)} (min ${Math.min(...r20).toFixed(1)})`)
  assert.ok(gmean(r10) >= 2, `10 NFE: ${gmean(r10)}`) // measured 3.4
  assert.ok(gmean(r20) >= 4, `20 NFE: ${gmean(r20)}`) // measured 5.7
})

// -------------------------------------------------------------------------------------------------
// (g) Tfjs
// -------------------------------------------------------------------------------------------------

test('Tfjs (wasm) runs an MR program with μ and agrees with Float64 within float32 tolerance, nothing leaked', async () => {
  await Tfjs.init('wasm')
  const D = fixed.gmm.D
  const xT = fixed.xT.map(Math.fround)
  const mu = fixed.mu.map(Math.fround)
  for (const s of [MRS.ode({ nfe: 10, order: 3 }), MRS.sde({ nfe: 10, order: 2 }), MRS.ode({ nfe: 10, order: 2, prediction: 'noise' })]) {
    const p = Prog.compileOrThrow(fixed.ns, 'eps')(s)
    const want = F.run(p, _.eps(fixed.gmm, mu), { mu, D, seed: 3 })(xT).x
    const before = tf.memory().numTensors
    const muT = Tfjs.fromFloat64(mu, D)
    const x = Tfjs.fromFloat64(xT, D)
    const model = TfjsGmm.meanReverting(fixed.gmm, muT)
    const r = Tfjs.run(p, model, { mu: muT, seed: 3 })(x)
    const got = Tfjs.toFloat64(r.x)
    tf.dispose([r.x, x, muT])
    model.dispose()
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked')
    assert.ok(O.relErr(got, want) <= 1e-4, `${s.name}: ${O.relErr(got, want)}`) // float32: 10 steps, |x| ≤ 2
  }
})
