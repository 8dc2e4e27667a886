/**
 * Oracles for the numerical laws: the closed-form Gaussian PF-ODE flow (docs/math.md#gaussian-oracle), Gaussian
 * mixtures with a fine-solve reference endpoint, native-output model wrappers written independently
 * of `Parameterization`, a runner returning the max error, the convergence-slope fitter (float floor
 * dropped, as diffrax does) and the fast-check generators of problems, schedules and grids.
 */
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import type * as P from '../src/core/Parameterization.ts'
import * as Prog from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'
import type * as S from '../src/schedule/SolverSchedule.ts'
import * as Dpm from '../src/solvers/Dpm.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a PF-ODE problem: the data distribution, a batch of start points and the endpoint from tFrom to tTo */
export interface Problem {
  readonly name: string
  readonly gmm: Gmm.Gmm
  readonly xT: Float64Array
  readonly endpoint: (ns: NS.NoiseSchedule, tFrom: number, tTo: number) => Float64Array
}

/** one convergence sample: NFE and the max abs error of the endpoint */
export interface Sample {
  readonly nfe: number
  readonly err: number
}

/** a fitted convergence order (−slope of log err vs log NFE) and the samples it used */
export interface Fit {
  readonly order: number
  readonly used: ReadonlyArray<Sample>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** max_k |a_k − b_k| */
export const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!))
  return m
}

/** max_k |b_k| */
export const maxNorm = (a: ArrayLike<number>): number => {
  let m = 0
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]!))
  return m
}

/** max |a − b| / max(1, max |b|): the relative distance the laws bound */
export const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => maxAbs(a, b) / Math.max(1, maxNorm(b))

/** exact Gaussian PF-ODE flow: x_t − α_t μ0 = (x_s − α_s μ0)·sqrt((α_t² s0² + σ_t²)/(α_s² s0² + σ_s²)) */
export const gaussianFlow =
  (mu0: number, s0sq: number) =>
  (ns: NS.NoiseSchedule) =>
  (s: number, t: number) =>
  (x: Float64Array): Float64Array => {
    const as = ns.alpha(s)
    const ss = ns.sigma(s)
    const at = ns.alpha(t)
    const st = ns.sigma(t)
    const k = Math.sqrt((at * at * s0sq + st * st) / (as * as * s0sq + ss * ss))
    return x.map((v) => at * mu0 + (v - as * mu0) * k)
  }

/** start points x_T ~ N(α_T μ, (α_T² s² + σ_T²)) drawn from standard normals (B·D of them) */
const startPoints = (B: number, D: number, seed: number, ns: NS.NoiseSchedule, mu: number, s2: number): Float64Array => {
  const a = ns.alpha(ns.T)
  const sd = Math.sqrt(a * a * s2 + ns.sigma(ns.T) ** 2)
  return Gmm.normals(B * D, seed).map((z) => a * mu + sd * z)
}

/** n-point Gauss–Legendre nodes and weights on [−1, 1] (Newton on the Legendre recurrence) */
export const gaussLegendre = (n: number): { readonly x: ReadonlyArray<number>; readonly w: ReadonlyArray<number> } => {
  const legendre = (x: number): readonly [number, number] => {
    let p0 = 1
    let p1 = x
    for (let j = 2; j <= n; j++) [p0, p1] = [p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j]
    return [p1, (n * (x * p1 - p0)) / (x * x - 1)]
  }
  const nodes = Array.from({ length: n }, (_, i) => {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5))
    for (let it = 0; it < 100; it++) {
      const [p, dp] = legendre(x)
      const dx = p / dp
      x -= dx
      if (Math.abs(dx) < 1e-16) break
    }
    const dp = legendre(x)[1]
    return { x, w: 2 / ((1 - x * x) * dp * dp) }
  })
  return { x: nodes.map((q) => q.x), w: nodes.map((q) => q.w) }
}

const GL20 = gaussLegendre(20)

/** ∫_a^b f by composite 20-point Gauss–Legendre over `panels` equal panels (independent of Rule.integrate) */
export const quad = (f: (x: number) => number, a: number, b: number, panels = 8): number => {
  const w = (b - a) / panels
  let sum = 0
  for (let p = 0; p < panels; p++) {
    const mid = a + w * (p + 0.5)
    for (let i = 0; i < 20; i++) sum += GL20.w[i]! * f(mid + (w / 2) * GL20.x[i]!)
  }
  return (sum * w) / 2
}

// -------------------------------------------------------------------------------------------------
// constructors: problems and models
// -------------------------------------------------------------------------------------------------

/** data N(μ0, s0² I) in D dims, B start points drawn for `ns`; the endpoint is the closed-form flow */
export const gaussianProblem = (o: { readonly D: number; readonly B: number; readonly mu0: number; readonly s0sq: number; readonly seed: number; readonly ns: NS.NoiseSchedule }): Problem => {
  const xT = startPoints(o.B, o.D, o.seed, o.ns, o.mu0, o.s0sq)
  return {
    name: `gaussian(μ0=${o.mu0}, s0²=${o.s0sq})`,
    gmm: Gmm.gaussian(o.D, o.mu0, o.s0sq),
    xT,
    endpoint: (ns, tFrom, tTo) => gaussianFlow(o.mu0, o.s0sq)(ns)(tFrom, tTo)(xT),
  }
}

/** the fine-solve reference: exact (non-halved) DPM-Solver++(3M) with `steps` logSNR-uniform steps from tFrom to tTo */
export const fineSolve =
  (gmm: Gmm.Gmm, steps = 4000) =>
  (ns: NS.NoiseSchedule, tFrom: number, tTo: number) =>
  (xT: Float64Array): Float64Array => {
    const s = Dpm.multistep({ nfe: steps, prediction: 'data', order: 3 })
    const grid: Grid.Grid = { spacing: 'logSNR', steps, T: tFrom, t0: tTo }
    return F.run(Prog.compileOrThrow(ns, 'eps')({ ...s, grid }), Gmm.eps(gmm))(xT).x
  }

/** a random GMM (Gmm.random, component std in `std`) with B start points; the endpoint is a fine exact-3M solve, cached per (ns, range) */
export const gmmProblem = (o: {
  readonly K: number
  readonly D: number
  readonly B: number
  readonly seed: number
  readonly ns: NS.NoiseSchedule
  readonly steps?: number
  readonly std?: readonly [number, number]
}): Problem => {
  const gmm = Gmm.random(o.K, o.D, o.seed, ...(o.std ?? [0.05, 0.3]))
  const xT = startPoints(o.B, o.D, o.seed + 1, o.ns, 0, 0.5)
  const cache = new WeakMap<NS.NoiseSchedule, Map<string, Float64Array>>()
  return {
    name: `gmm(K=${o.K}, D=${o.D}, seed=${o.seed})`,
    gmm,
    xT,
    endpoint: (ns, tFrom, tTo) => {
      const m = cache.get(ns) ?? new Map<string, Float64Array>()
      cache.set(ns, m)
      const key = `${tFrom}|${tTo}`
      const hit = m.get(key)
      if (hit !== undefined) return hit
      const x = fineSolve(gmm, o.steps ?? 4000)(ns, tFrom, tTo)(xT)
      m.set(key, x)
      return x
    },
  }
}

/**
 * the model's native output from the exact ε (written independently of Parameterization):
 * eps → ε; x0 → (x − σε)/α; v → α·ε − σ·x0; flow → ε − x0
 */
export const nativeModel = (gmm: Gmm.Gmm, param: P.Parameterization): F.Model => {
  const eps = Gmm.eps(gmm)
  return (x, at) => {
    const e = eps(x, at)
    const { alpha: a, sigma: s } = at
    switch (param) {
      case 'eps':
        return e
      case 'x0':
        return e.map((ek, k) => (x[k]! - s * ek) / a)
      case 'v':
        return e.map((ek, k) => a * ek - s * ((x[k]! - s * ek) / a))
      case 'flow':
        return e.map((ek, k) => ek - (x[k]! - s * ek) / a)
    }
  }
}

/** a Float64 run of a schedule on `ns` with the model in its native parameterization */
export const runOn =
  (ns: NS.NoiseSchedule, gmm: Gmm.Gmm, param: P.Parameterization = 'eps') =>
  (s: S.SolverSchedule) =>
  (xT: Float64Array): F.Result =>
    F.run(Prog.compileOrThrow(ns, param)(s), nativeModel(gmm, param), { D: gmm.D })(xT)

// -------------------------------------------------------------------------------------------------
// destructors: errors and slopes
// -------------------------------------------------------------------------------------------------

/** the NFE counted by the Float64 interpreter and the max abs error of its endpoint vs the problem's endpoint */
export const sampleOf = (schedule: S.SolverSchedule, problem: Problem, ns: NS.NoiseSchedule, param: P.Parameterization = 'eps'): Sample => {
  const prog = Prog.compileOrThrow(ns, param)(schedule)
  const r = F.run(prog, nativeModel(problem.gmm, param), { D: problem.gmm.D })(problem.xT)
  const exact = problem.endpoint(ns, prog.points[0]!.t, prog.points[prog.points.length - 1]!.t)
  return { nfe: r.nfe, err: maxAbs(r.x, exact) }
}

/** max abs error of the Float64 endpoint vs the problem's exact (Gaussian) or fine-solve (mixture) endpoint */
export const errorOf = (schedule: S.SolverSchedule, problem: Problem, ns: NS.NoiseSchedule, param: P.Parameterization = 'eps'): number => sampleOf(schedule, problem, ns, param).err

/**
 * least-squares order = −slope of log err against log NFE over the samples with err ≥ `floor`
 * (the float error floor, dropped as diffrax does); Left when fewer than `minPoints` remain
 */
export const fitOrder = (samples: ReadonlyArray<Sample>, floor = 1e-11, minPoints = 3): E.Either<string, Fit> => {
  const used = samples.filter((s) => s.err >= floor && Number.isFinite(s.err))
  if (used.length < minPoints) return E.left(`only ${used.length} of ${samples.length} samples above the floor ${floor}`)
  const xs = used.map((s) => Math.log(s.nfe))
  const ys = used.map((s) => Math.log(s.err))
  const n = used.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  const sxy = xs.reduce((acc, x, i) => acc + (x - mx) * (ys[i]! - my), 0)
  const sxx = xs.reduce((acc, x) => acc + (x - mx) ** 2, 0)
  return E.right({ order: -sxy / sxx, used })
}

/** geometric NFE ladder from lo to hi with `count` rungs (integers, distinct) */
export const ladder = (lo: number, hi: number, count: number): ReadonlyArray<number> => [...new Set(Array.from({ length: count }, (_, i) => Math.round(lo * (hi / lo) ** (i / (count - 1)))))]

// -------------------------------------------------------------------------------------------------
// instances: noise schedules
// -------------------------------------------------------------------------------------------------

/** a schedule restricted to λ ∈ [lo, hi] (T = t(lo), t0 = t(hi)) */
export const lambdaRange =
  (lo: number, hi: number) =>
  (ns: NS.NoiseSchedule): NS.NoiseSchedule =>
    NS.withRange(ns.tOfLambda(lo), ns.tOfLambda(hi))(ns)

/** the schedules the laws draw from, by name (flow only where the law allows it) */
export const schedules: Readonly<Record<'vpLinear' | 'vpCosine' | 'vpDiscrete' | 've' | 'edm' | 'flow', NS.NoiseSchedule>> = {
  vpLinear: NS.vpLinear(),
  vpCosine: NS.vpCosine(),
  vpDiscrete: NS.vpDiscrete({ betas: NS.linearBetas() }),
  ve: NS.ve(),
  edm: NS.edm(),
  flow: NS.flow(),
}

/** every schedule but flow */
export const nonFlow: ReadonlyArray<NS.NoiseSchedule> = [schedules.vpLinear, schedules.vpCosine, schedules.vpDiscrete, schedules.ve, schedules.edm]

// -------------------------------------------------------------------------------------------------
// instances: fast-check generators
// -------------------------------------------------------------------------------------------------

/** one of the noise schedules (flow included iff `withFlow`) */
export const arbSchedule = (withFlow = true): fc.Arbitrary<NS.NoiseSchedule> => fc.constantFrom(...(withFlow ? [...nonFlow, schedules.flow] : nonFlow))

/** a random GMM: K ∈ [1, 4], D ∈ [1, 3], seed */
export const arbGmm: fc.Arbitrary<Gmm.Gmm> = fc
  .record({ K: fc.integer({ min: 1, max: 4 }), D: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 1, max: 1e6 }) })
  .map(({ K, D, seed }) => Gmm.random(K, D, seed))

/** B start points for a GMM on `ns` (x_T ~ N(0, α_T²/2 + σ_T²)) */
export const startFor = (gmm: Gmm.Gmm, ns: NS.NoiseSchedule, seed: number, B = 3): Float64Array => startPoints(B, gmm.D, seed, ns, 0, 0.5)

/** a spacing kind */
export const arbSpacing: fc.Arbitrary<Grid.Spacing> = fc.constantFrom('time_uniform', 'logSNR', 'time_quadratic', 'karras')

/**
 * an explicit strictly decreasing grid of n intervals on [t0, T] of `ns`, spaced in λ by positive
 * weights in [0.2, 1] (neighbouring steps differ at most 5×, so high-order rules stay well conditioned)
 */
export const arbExplicit = (ns: NS.NoiseSchedule, n: number): fc.Arbitrary<Grid.Grid> =>
  fc.array(fc.double({ min: 0.2, max: 1, noNaN: true }), { minLength: n, maxLength: n }).map((w) => {
    const total = w.reduce((a, b) => a + b, 0)
    const lT = ns.lambda(ns.T)
    const l0 = ns.lambda(ns.t0)
    const cum = w.reduce<ReadonlyArray<number>>((acc, wi) => [...acc, acc[acc.length - 1]! + wi], [0])
    const ts = cum.map((c, i) => (i === 0 ? ns.T : i === n ? ns.t0 : ns.tOfLambda(lT + ((l0 - lT) * c) / total)))
    return Grid.explicit(ts)
  })

/** a grid of n intervals: one of the spacings or an explicit λ-jittered grid */
export const arbGrid = (ns: NS.NoiseSchedule, n: number): fc.Arbitrary<Grid.Grid> =>
  fc.oneof(
    arbSpacing.map((spacing): Grid.Grid => ({ spacing, steps: n })),
    arbExplicit(ns, n),
  )
