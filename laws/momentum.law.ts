/**
 * Momentum laws (docs/math.md#momentum, #ghvb): heavy ball (HB), Nesterov (NT) and GHVB over PLMS/ρ-Euler,
 * DPM-Solver++(2M) and UniPC (data form).
 * (a) neutral elements: β = 1, and GHVB of integer order k, are the base solver of order k;
 * (b) independent reference loops written from docs/math.md#momentum and the reference code (momentum-diffusion's
 *     AdamBmixer schedulers, its diffusers 2M wrapper, its UniPC wrapper with and without its quirks),
 *     GHVB on 2M as the 2M update with the EMA difference v_n − v_{n−1};
 * (c) orders on the closed-form Gaussian oracle: GHVB-2 (o ∈ (1, 2)) at 2, HB/NT with β < 1 at 1;
 * (d) divergence: on a stiff (guided) Gaussian at low NFE PLMS-4 blows up, GHVB-1.5 stays bounded;
 * (e) any mix of momentum kinds, gaps and correctors the codec accepts compiles and runs;
 * (f) Tfjs agrees with Float64 and leaks nothing.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as C from '../src/schedule/Codec.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as F from '../src/run/Float64.ts'
import * as T from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'
import * as _ from '../src/solvers/Momentum.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// setup
// -------------------------------------------------------------------------------------------------

const SEED = 20240718
const params = { seed: SEED, numRuns: 60 } as const

/** a run: noise schedule, mixture, start seed, steps and grid */
interface Run {
  readonly ns: NS.NoiseSchedule
  readonly gmm: Gmm.Gmm
  readonly seed: number
  readonly n: number
  readonly grid: Grid.Grid
}

const arbRun = (minN = 2, maxN = 14): fc.Arbitrary<Run> =>
  fc
    .record({ ns: O.arbSchedule(true), gmm: O.arbGmm, seed: fc.integer({ min: 1, max: 1e6 }), n: fc.integer({ min: minN, max: maxN }) })
    .chain((r) => O.arbGrid(r.ns, r.n).map((grid) => ({ ...r, grid })))

const xTOf = (r: Run): Float64Array => O.startFor(r.gmm, r.ns, r.seed)
const pointsOf = (r: Run): ReadonlyArray<NS.Point> => Grid.resolve(r.ns)(r.grid).map(NS.point(r.ns))
/** Float64 run of a schedule on the run's grid */
const solve =
  (r: Run) =>
  (s: S.SolverSchedule): Float64Array =>
    O.runOn(r.ns, r.gmm)({ ...s, grid: r.grid })(xTOf(r)).x

/** the exact model's ε and x0 at a point */
const predictions = (gmm: Gmm.Gmm, x: Float64Array, p: NS.Point) => {
  const eps = Gmm.eps(gmm)(x, p)
  return { eps, x0: eps.map((e, k) => (x[k]! - p.sigma * e) / p.alpha) }
}

type Vec = Float64Array
const axpy = (a: number, x: Vec, b: number, y: Vec): Vec => x.map((v, k) => a * v + b * y[k]!)

// -------------------------------------------------------------------------------------------------
// reference loops, written from docs/math.md#momentum and the reference code (not from Program / Rule)
// -------------------------------------------------------------------------------------------------

/** momentum-diffusion's AdamBmixer: cur = min(order, #ets), [P_cur weights on ets, newest first]/b */
const mixer = (order: number, ets: ReadonlyArray<Vec>, b: number): Vec => {
  const e = (j: number) => ets[ets.length - j]!
  const k = Math.min(order, ets.length)
  const w =
    k === 1
      ? [b]
      : k === 2
        ? [(2 + b) / 2, -(2 - b) / 2]
        : k === 3
          ? [(18 + 5 * b) / 12, -(24 - 8 * b) / 12, (6 - b) / 12]
          : k === 4
            ? [(46 + 9 * b) / 24, -(78 - 19 * b) / 24, (42 - 5 * b) / 24, -(10 - b) / 24]
            : [(1650 + 251 * b) / 720, -(3420 - 646 * b) / 720, (2880 - 264 * b) / 720, -(1380 - 106 * b) / 720, (270 - 19 * b) / 720]
  return e(1).map((_v, q) => w.reduce((s, c, j) => s + c * e(j + 1)[q]!, 0) / b)
}

/**
 * PLMSWithHBScheduler / PLMSWithNTScheduler / GHVBScheduler ('scale' output): vel ← ε₀ at the first call;
 * x_{n+1} = (x_n/α_n + (ρ_{n+1} − ρ_n)·u_n)·α_{n+1}, ρ = σ/α (docs/math.md#momentum)
 */
const plmsRef =
  (kind: 'plms' | 'hb' | 'nt' | 'ghvb', k: number, beta: number) =>
  (r: Run): Vec => {
    const pts = pointsOf(r)
    let x = xTOf(r)
    let vel: Vec | undefined
    const ets: Vec[] = []
    const push = (v: Vec) => {
      ets.push(v)
      if (ets.length > k) ets.shift()
    }
    for (let i = 0; i + 1 < pts.length; i++) {
      const [s, t] = [pts[i]!, pts[i + 1]!]
      const eps = predictions(r.gmm, x, s).eps
      vel ??= eps
      let u: Vec
      if (kind === 'ghvb') {
        vel = axpy(1 - beta, vel, beta, eps)
        push(vel)
        u = mixer(k, ets, beta)
      } else {
        push(eps)
        const prime = mixer(k, ets, 1)
        if (kind === 'plms') u = prime
        else {
          vel = axpy(1 - beta, vel, beta, prime)
          u = kind === 'hb' ? vel : axpy(1 - beta, vel, beta, prime)
        }
      }
      const d = t.sigma / t.alpha - s.sigma / s.alpha
      x = x.map((v, q) => (v / s.alpha + d * u[q]!) * t.alpha)
    }
    return x
  }

/**
 * DPM-Solver++(2M) 'midpoint' with lower_order_final (< 10 steps): diffusers' MomentumDPMSolverMultistepScheduler
 * (vel ← d = m₀ + ½D₁ at the first 2M step, order-1 steps plain) when `hb`; GHVB: vₙ = (1−β)vₙ₋₁ + β·mₙ from step 0,
 * the 2M update with D = (vₙ − vₙ₋₁)/r₀, order-1 steps on vₙ (P_1)
 */
const dpm2mRef =
  (kind: 'hb' | 'ghvb', beta: number) =>
  (r: Run): Vec => {
    const pts = pointsOf(r)
    const n = pts.length - 1
    let x = xTOf(r)
    let vel: Vec | undefined
    const ms: Vec[] = []
    const vs: Vec[] = []
    for (let i = 0; i < n; i++) {
      const [s, t] = [pts[i]!, pts[i + 1]!]
      const m = predictions(r.gmm, x, s).x0
      ms.push(m)
      vs.push(i === 0 ? m : axpy(1 - beta, vs[i - 1]!, beta, m))
      const h = t.lambda - s.lambda
      const A = t.sigma / s.sigma
      const B = -t.alpha * Math.expm1(-h)
      const order = i === 0 || (n < 10 && i === n - 1) ? 1 : 2
      if (order === 1) {
        x = axpy(A, x, B, kind === 'ghvb' ? vs[i]! : m)
        continue
      }
      const r0 = (s.lambda - pts[i - 1]!.lambda) / h
      if (kind === 'ghvb')
        x = axpy(
          A,
          x,
          B,
          m.map((v, q) => v + (0.5 * (vs[i]![q]! - vs[i - 1]![q]!)) / r0),
        )
      else {
        const diff = m.map((v, q) => v + (0.5 * (v - ms[i - 1]![q]!)) / r0)
        vel = vel === undefined ? diff : axpy(1 - beta, vel, beta, diff)
        x = axpy(A, x, B, vel)
      }
    }
    return x
  }

/** solve a small system (for the UniPC reference; partial pivoting) */
const linsolve = (A: number[][], b: number[]): number[] => {
  const n = b.length
  const M = A.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    const p = M.slice(c).reduce((best, row, k) => (Math.abs(row[c]!) > Math.abs(M[best]![c]!) ? c + k : best), c)
    ;[M[c], M[p]] = [M[p]!, M[c]!]
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!
    }
  }
  const out = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) out[r] = (M[r]![n]! - M[r]!.slice(r + 1, n).reduce((s, v, k) => s + v * out[r + 1 + k]!, 0)) / M[r]![r]!
  return out
}

/**
 * momentum-diffusion's MomentumUniPCMultistepScheduler (bh2, predict_x0) in the diffusers UniPC driver
 * (order_i = min(p, i+1, n−i), UniC with the previous order before each step but the first, none after the
 * last). quirk: the predictor's EMA is overwritten by the raw value and the corrector's EMA is of d/σ_t;
 * clean (stepwise's default): both keep an EMA of d
 */
const unipcRef =
  (p: number, beta: number, quirk: boolean) =>
  (r: Run): Vec => {
    const pts = pointsOf(r)
    const n = pts.length - 1
    const ms: Vec[] = []
    let vp: Vec | undefined
    let vc: Vec | undefined
    /** B(h)-weighted update s → t on m₀ = ms[last] with `k` past points (+ the new output `mt` for UniC) */
    const update = (x: Vec, si: number, t: NS.Point, k: number, mt: Vec | undefined): Vec => {
      const s = pts[si]!
      const m0 = ms[ms.length - 1]!
      const h = t.lambda - s.lambda
      const hh = -h
      const hphi1 = Math.expm1(hh)
      const Bh = Math.expm1(hh)
      const rks: number[] = []
      const D1s: Vec[] = []
      for (let j = 1; j < k; j++) {
        const rk = (pts[si - j]!.lambda - s.lambda) / h
        rks.push(rk)
        D1s.push(ms[ms.length - 1 - j]!.map((v, q) => (v - m0[q]!) / rk))
      }
      rks.push(1)
      const R: number[][] = []
      const b: number[] = []
      let hphik = hphi1 / hh - 1
      let fact = 1
      for (let i = 1; i <= k; i++) {
        R.push(rks.map((rk) => rk ** (i - 1)))
        b.push((hphik * fact) / Bh)
        fact *= i + 1
        hphik = hphik / hh - 1 / fact
      }
      let res: Vec
      if (mt === undefined) {
        const rhos =
          k === 1
            ? []
            : k === 2
              ? [0.5]
              : linsolve(
                  R.slice(0, -1).map((row) => row.slice(0, -1)),
                  b.slice(0, -1),
                )
        res = m0.map((_v, q) => D1s.reduce((a, D, j) => a + rhos[j]! * D[q]!, 0))
      } else {
        const rhos = k === 1 ? [0.5] : linsolve(R, b)
        res = m0.map((v, q) => D1s.reduce((a, D, j) => a + rhos[j]! * D[q]!, 0) + rhos[rhos.length - 1]! * (mt[q]! - v))
      }
      const val = m0.map((v, q) => (hphi1 * v + Bh * res[q]!) / t.sigma / hphi1) // d/σ_t
      const ema = (prev: Vec | undefined, d: Vec): Vec => (prev === undefined ? d : axpy(1 - beta, prev, beta, d))
      if (mt === undefined)
        vp = quirk
          ? val
          : ema(
              vp,
              val.map((v) => v * t.sigma),
            )
      else
        vc = quirk
          ? ema(vc, val)
          : ema(
              vc,
              val.map((v) => v * t.sigma),
            )
      const vel = mt === undefined ? vp! : vc!
      return x.map((v, q) => (t.sigma / s.sigma) * v - t.alpha * hphi1 * vel[q]! * (quirk ? t.sigma : 1))
    }
    let x = xTOf(r)
    let last: { readonly x: Vec; readonly order: number } | undefined
    for (let i = 0; i < n; i++) {
      const m = predictions(r.gmm, x, pts[i]!).x0
      if (last !== undefined) x = update(last.x, i - 1, pts[i]!, last.order, m)
      ms.push(m)
      const order = Math.min(p, i + 1, n - i)
      last = { x, order }
      x = update(x, i, pts[i + 1]!, order, undefined)
    }
    return x
  }

// -------------------------------------------------------------------------------------------------
// (a) neutral elements
// -------------------------------------------------------------------------------------------------

const bases: ReadonlyArray<_.Base> = ['plms', 'dpmpp-2m', 'unipc']
const maxK: Readonly<Record<_.Base, number>> = { plms: 5, 'dpmpp-2m': 2, unipc: 5 }

test('β = 1 is the base solver: hb, nt (and hb parity=reference) over plms, dpmpp-2m, unipc', () => {
  let worst = 0
  fc.assert(
    fc.property(arbRun(), fc.constantFrom(...bases), fc.constantFrom<'hb' | 'nt'>('hb', 'nt'), fc.boolean(), (r, base, kind, ref) => {
      const o = { nfe: r.n, kind, beta: 1, base, ...(ref && kind === 'hb' ? { parity: 'reference' as const } : {}) }
      const k = base === 'plms' ? 4 : 2
      const d = O.relErr(solve(r)(_.heavyBall(o)), solve(r)(_.baseOf(base, k, { nfe: r.n })))
      worst = Math.max(worst, d)
      assert.ok(d <= 1e-12, `${kind} β = 1 over ${base} on ${r.ns.name}, n ${r.n}: ${d}`) // 1e-12 relative: rounding of B·(Σcm/B)
    }),
    params,
  )
  console.log(`  β = 1 vs base: worst relative distance ${worst.toExponential(2)}`)
})

test('GHVB of integer order k is the base of order k (k ≤ 5 plms/unipc, ≤ 2 dpmpp-2m)', () => {
  fc.assert(
    fc.property(arbRun(), fc.constantFrom(...bases), fc.integer({ min: 1, max: 5 }), (r, base, k0) => {
      const k = Math.min(k0, maxK[base])
      const d = O.relErr(solve(r)(_.ghvb({ nfe: r.n, order: k, base })), solve(r)(_.baseOf(base, k, { nfe: r.n })))
      assert.ok(d <= 1e-12, `ghvb ${k} over ${base} on ${r.ns.name}, n ${r.n}: ${d}`) // 1e-12 relative
    }),
    params,
  )
})

test('ghvbOrder: fractional o ↦ (⌊o⌋+1, o − ⌊o⌋), integer o ↦ (o, 1)', () => {
  assert.deepEqual(_.ghvbOrder(1.5), { k: 2, beta: 0.5 })
  assert.deepEqual(_.ghvbOrder(2), { k: 2, beta: 1 })
  const { k, beta } = _.ghvbOrder(3.8)
  assert.equal(k, 4)
  assert.ok(Math.abs(beta - 0.8) <= 1e-15) // 3.8 − 3 in float64
  assert.throws(() => _.ghvbOrder(0))
})

// -------------------------------------------------------------------------------------------------
// (b) reference loops
// -------------------------------------------------------------------------------------------------

test('PLMS/ρ-Euler: plms, hb, nt, ghvb = momentum-diffusion’s AdamBmixer schedulers (k 1–5, β ∈ (0, 1])', () => {
  let worst = 0
  fc.assert(
    fc.property(
      arbRun(),
      fc.constantFrom<'plms' | 'hb' | 'nt' | 'ghvb'>('plms', 'hb', 'nt', 'ghvb'),
      fc.integer({ min: 1, max: 5 }),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      (r, kind, k, beta) => {
        const s =
          kind === 'plms'
            ? _.plmsK({ nfe: r.n, k })
            : kind === 'ghvb'
              ? _.ghvb({ nfe: r.n, order: beta === 1 ? k : k - 1 + beta, base: 'plms' })
              : _.heavyBall({ nfe: r.n, kind, beta, base: 'plms', k })
        const b = kind === 'ghvb' ? _.ghvbOrder(beta === 1 ? k : k - 1 + beta).beta : beta // k − 1 + β rounds
        const d = O.relErr(solve(r)(s), plmsRef(kind, k, b)(r))
        worst = Math.max(worst, d)
        assert.ok(d <= 1e-10, `${kind} k ${k} β ${beta} on ${r.ns.name}, n ${r.n}: ${d}`) // 1e-10 relative
      },
    ),
    params,
  )
  console.log(`  PLMS family vs AdamBmixer loops: worst ${worst.toExponential(2)}`)
})

test('2M: hb = the diffusers momentum 2M wrapper; ghvb = 2M with D₁ from the EMA difference (vₙ − vₙ₋₁)/r₀', () => {
  fc.assert(
    fc.property(arbRun(2, 14), fc.double({ min: 0.05, max: 1, noNaN: true }), (r, beta) => {
      const hb = O.relErr(solve(r)(_.heavyBall({ nfe: r.n, kind: 'hb', beta, base: 'dpmpp-2m' })), dpm2mRef('hb', beta)(r))
      const o = 1 + beta
      const b = _.ghvbOrder(o).beta
      const gh = O.relErr(solve(r)(_.ghvb({ nfe: r.n, order: o, base: 'dpmpp-2m' })), dpm2mRef('ghvb', Number.isInteger(o) ? 1 : b)(r))
      assert.ok(hb <= 1e-10, `hb 2M β ${beta} on ${r.ns.name}: ${hb}`) // 1e-10 relative
      assert.ok(gh <= 1e-10, `ghvb 2M o ${o} on ${r.ns.name}: ${gh}`) // 1e-10 relative
    }),
    params,
  )
})

test('UniPC: hb parity=reference = momentum-diffusion’s MomentumUniPCMultistepScheduler (quirks); default = both EMAs of d', () => {
  fc.assert(
    fc.property(arbRun(2, 12), fc.integer({ min: 1, max: 3 }), fc.double({ min: 0.05, max: 1, noNaN: true }), fc.boolean(), (r, p, beta, ref) => {
      const s = _.heavyBall({ nfe: r.n, kind: 'hb', beta, base: 'unipc', k: p, parity: ref ? 'reference' : 'exact' })
      const d = O.relErr(solve(r)(s), unipcRef(p, beta, ref)(r))
      assert.ok(d <= 1e-10, `hb UniPC-${p} β ${beta} ${ref ? 'reference' : 'exact'} on ${r.ns.name}, n ${r.n}: ${d}`) // 1e-10 relative
    }),
    params,
  )
})

test('the parity quirk matters: hb on UniPC with parity=reference differs from the default for β < 1', () => {
  const r: Run = { ns: O.schedules.vpLinear, gmm: Gmm.random(3, 2, 5), seed: 3, n: 8, grid: Grid.logSNR(8) }
  const run = (parity: 'exact' | 'reference') => solve(r)(_.heavyBall({ nfe: 8, kind: 'hb', beta: 0.6, base: 'unipc', parity }))
  assert.ok(O.relErr(run('reference'), run('exact')) > 1e-6) // the EMAs differ by far more than rounding
})

// -------------------------------------------------------------------------------------------------
// (c) orders on the Gaussian oracle
// -------------------------------------------------------------------------------------------------

/** VP-linear on λ ∈ [−7, 3], N(0.3, 0.25·I) in 2-D (the convergence law's setup), logSNR grids, NFE 64…1024 */
const cns = O.lambdaRange(-7, 3)(O.schedules.vpLinear)
const gaussian = O.gaussianProblem({ D: 2, B: 4, mu0: 0.3, s0sq: 0.25, seed: 7, ns: cns })
const slope = (build: (nfe: number) => S.SolverSchedule): number => {
  const f = O.fitOrder(O.ladder(64, 1024, 5).map((n) => O.sampleOf({ ...build(n), grid: { spacing: 'logSNR', steps: n } }, gaussian, cns)))
  assert.ok(E.isRight(f), E.isLeft(f) ? f.left : '')
  return f.right.order
}

test('orders: GHVB-2 (o = 1.5, 1.8) converges at 2 over every base; HB and NT with β ∈ {0.5, 0.8} at 1', () => {
  const rows: string[] = []
  for (const base of bases) {
    for (const o of [1.5, 1.8]) {
      const k = slope((nfe) => _.ghvb({ nfe, order: o, base }))
      rows.push(`ghvb ${o}/${base} ${k.toFixed(2)}`)
      assert.ok(k >= 1.8, `ghvb ${o} over ${base}: order ${k}`) // tolerance 0.2 below 2
    }
    for (const kind of ['hb', 'nt'] as const)
      for (const beta of [0.5, 0.8]) {
        const k = slope((nfe) => _.heavyBall({ nfe, kind, beta, base }))
        rows.push(`${kind} ${beta}/${base} ${k.toFixed(2)}`)
        assert.ok(k >= 0.8 && k <= 1.25, `${kind} β ${beta} over ${base}: order ${k}`) // first order: 1 ± 0.2 (not 2)
      }
  }
  console.log(`  ${rows.join(', ')}`)
})

// -------------------------------------------------------------------------------------------------
// (d) divergence
// -------------------------------------------------------------------------------------------------

/**
 * a stiff Gaussian: classifier-free guidance w = 5 on data N(μ, s²·I), s² = 1e-3, against the unconditional
 * N(μ, I): ε̂ = (1 − w)·ε̂_u + w·ε̂_c. Its ρ-form ODE dx̄/dρ = a(ρ)(x̄ − μ), a = (1−w)ρ/(1+ρ²) + wρ/(s²+ρ²), is
 * stiff where ρ ≈ s (a ≈ w/2s; a plain Gaussian has a ≤ 1/ρ and never diverges); exact flow
 * x̄_t − μ = (x̄_s − μ)·((1+ρ_t²)/(1+ρ_s²))^{(1−w)/2}·((s²+ρ_t²)/(s²+ρ_s²))^{w/2}
 */
export const guided = (o: { readonly w: number; readonly s2: number; readonly mu: number; readonly D: number }) => {
  const u = Gmm.eps(Gmm.gaussian(o.D, o.mu, 1))
  const c = Gmm.eps(Gmm.gaussian(o.D, o.mu, o.s2))
  const model: F.Model = (x, at) => {
    const eu = u(x, at)
    const ec = c(x, at)
    return eu.map((v, q) => (1 - o.w) * v + o.w * ec[q]!)
  }
  const exact =
    (ns: NS.NoiseSchedule, t0: number, t1: number) =>
    (x: Vec): Vec => {
      const [a, b] = [NS.point(ns)(t0), NS.point(ns)(t1)]
      const [r0, r1] = [a.sigma / a.alpha, b.sigma / b.alpha]
      const k = ((1 + r1 * r1) / (1 + r0 * r0)) ** ((1 - o.w) / 2) * ((o.s2 + r1 * r1) / (o.s2 + r0 * r0)) ** (o.w / 2)
      return x.map((v) => b.alpha * (o.mu + (v / a.alpha - o.mu) * k))
    }
  return { model, exact }
}

test('divergence: guided stiff Gaussian (w 5, s² 1e-3), time-quadratic grid, NFE 12–20: PLMS-4 error > 10, GHVB-1.5 < 1', () => {
  const g = guided({ w: 5, s2: 1e-3, mu: 0.5, D: 4 })
  const ns = O.schedules.vpLinear
  const err = (s: S.SolverSchedule, xT: Vec): number => {
    const p = Prog.compileOrThrow(ns, 'eps')(s)
    const x = F.run(p, g.model, { D: 4 })(xT).x
    return O.maxAbs(x, g.exact(ns, p.points[0]!.t, p.points[p.points.length - 1]!.t)(xT))
  }
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(12, 15, 20), (seed, nfe) => {
      const xT = Gmm.normals(16 * 4, seed)
      const plms4 = err(_.plmsK({ nfe, k: 4, grid: 'time_quadratic' }), xT)
      const ghvb = err(_.ghvb({ nfe, order: 1.5, base: 'plms', grid: 'time_quadratic' }), xT)
      assert.ok(plms4 > 10, `PLMS-4 at NFE ${nfe}, seed ${seed}: error ${plms4} (expected a blow-up > 10; the data scale is 0.5)`)
      assert.ok(ghvb < 1, `GHVB-1.5 at NFE ${nfe}, seed ${seed}: error ${ghvb} (expected < 1)`) // bounded
    }),
    { seed: SEED, numRuns: 30 },
  )
})

// -------------------------------------------------------------------------------------------------
// (e) robustness
// -------------------------------------------------------------------------------------------------

/** a random schedule mixing momentum kinds, β, gaps, bases, predictions and correctors (valid by construction) */
const arbMixed = (n: number): fc.Arbitrary<ReadonlyArray<S.StepDecision>> =>
  fc.tuple(
    ...Array.from({ length: n }, (_v, i) =>
      fc
        .record({
          prediction: fc.constantFrom<'noise' | 'data'>('noise', 'data'),
          ab: fc.boolean(),
          order: fc.integer({ min: 1, max: Math.min(i + 1, 3) }),
          momentum: fc.option(fc.record({ kind: fc.constantFrom<'hb' | 'nt' | 'ghvb'>('hb', 'nt', 'ghvb'), beta: fc.double({ min: 0.1, max: 1, noNaN: true }) }), { nil: undefined }),
          corrector: fc.boolean(),
        })
        .map((r): S.StepDecision => ({
          prediction: r.prediction,
          order: r.order,
          ...(r.ab ? { basis: 'ab' as const } : {}),
          ...(r.momentum === undefined ? {} : { momentum: r.momentum }),
          ...(r.corrector && !r.ab && i < n - 1 ? { corrector: { mode: 'pseudo' as const } } : {}),
        })),
    ),
  )

test('any mix of momentum kinds, gaps, predictions and correctors the codec accepts compiles and runs to a finite x', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 10 }).chain((n) => fc.tuple(arbMixed(n), fc.integer({ min: 1, max: 1e6 }))),
      O.arbGmm,
      ([steps, seed], gmm) => {
        const s = S.make(Grid.logSNR(steps.length), steps)
        assert.deepEqual(C.check(s), [])
        const ns = O.schedules.vpLinear
        const x = O.runOn(ns, gmm)(s)(O.startFor(gmm, ns, seed)).x // before the fix: 'internal: entry 0 has no vel' etc.
        assert.ok(x.every(Number.isFinite))
      },
    ),
    { seed: SEED, numRuns: 200 },
  )
})

// -------------------------------------------------------------------------------------------------
// (f) Tfjs
// -------------------------------------------------------------------------------------------------

before(() => T.init('wasm'))
after(() => T.init('wasm'))

test('Tfjs agrees with Float64 (≤ 2e-4 relative) and leaks nothing: ghvb over unipc, hb over dpmpp-2m, hb UniPC reference', () => {
  const ns = NS.vpLinear()
  const cases: ReadonlyArray<S.SolverSchedule> = [
    _.ghvb({ nfe: 12, order: 1.5, base: 'unipc' }),
    _.heavyBall({ nfe: 10, kind: 'hb', beta: 0.7, base: 'dpmpp-2m' }),
    _.heavyBall({ nfe: 10, kind: 'nt', beta: 0.7, base: 'plms' }),
    _.heavyBall({ nfe: 9, kind: 'hb', beta: 0.6, base: 'unipc', parity: 'reference' }),
  ]
  fc.assert(
    fc.property(fc.constantFrom(...cases), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 6 }), (s, seed, D) => {
      const g = Gmm.random(3, D, seed)
      const xT = Gmm.normals(16 * D, seed + 1).map(Math.fround)
      const p = Prog.compileOrThrow(ns, 'eps')(s)
      const exact = F.run(p, Gmm.eps(g), { D })(xT).x
      const model = TfjsGmm.eps(g)
      const x = T.fromFloat64(xT, D)
      const baseline = tf.memory().numTensors
      let most = 0
      const r = T.run(p, model, { observe: () => (most = Math.max(most, tf.memory().numTensors - baseline)) })(x)
      const got = T.toFloat64(r.x)
      r.x.dispose()
      assert.equal(tf.memory().numTensors, baseline, `${s.name}: tensors left after the run`)
      assert.ok(most <= 3 * p.historyDepth + 3, `${s.name}: ${most} tensors alive during the run`) // entries (≤ 3 each), x, two velocity registers
      x.dispose()
      model.dispose()
      const d = O.relErr(got, exact)
      assert.ok(d <= 2e-4, `${s.name} D ${D} seed ${seed}: relative |Tfjs − Float64| = ${d}`) // float32: 2e-4 relative
    }),
    { seed: SEED, numRuns: 24 },
  )
})
