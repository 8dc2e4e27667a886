/**
 * Equivalence laws (docs/math.md#equivalences): exact equalities between solvers, rules and parameterizations,
 * checked on random Gaussian mixtures, noise schedules and grids against formulas written out here
 * independently of `Rule` (DDIM, Euler in σ̄, flow Euler, the 2M updates of docs/math.md#dpm-solver, the reference 3M update (#reference-3m),
 * the UniPC linear system (#unipc), the integral form of φ_k).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import type * as P from '../src/core/Parameterization.ts'
import * as _ from '../src/core/Rule.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Dpm from '../src/solvers/Dpm.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as U from '../src/solvers/UniPC.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// random configurations
// -------------------------------------------------------------------------------------------------

/** a run: schedule, mixture, start seed, steps and a grid of that many intervals */
interface Run {
  readonly ns: NS.NoiseSchedule
  readonly gmm: Gmm.Gmm
  readonly seed: number
  readonly n: number
  readonly grid: Grid.Grid
}

/** a random run with n ∈ [minN, maxN] steps */
const arbRun = (withFlow: boolean, minN = 2, maxN = 12): fc.Arbitrary<Run> =>
  fc
    .record({
      ns: O.arbSchedule(withFlow),
      gmm: O.arbGmm,
      seed: fc.integer({ min: 1, max: 1e6 }),
      n: fc.integer({ min: minN, max: maxN }),
    })
    .chain((r) => O.arbGrid(r.ns, r.n).map((grid) => ({ ...r, grid })))

const xTOf = (r: Run): Float64Array => O.startFor(r.gmm, r.ns, r.seed)
const pointsOf = (r: Run): ReadonlyArray<NS.Point> => Grid.resolve(r.ns)(r.grid).map(NS.point(r.ns))
/** Float64 run of a schedule on the run's grid (the schedule's own grid is replaced) */
const solve =
  (r: Run, param: P.Parameterization = 'eps') =>
  (s: S.SolverSchedule): Float64Array =>
    O.runOn(r.ns, r.gmm, param)({ ...s, grid: r.grid })(xTOf(r)).x
const constant = (r: Run, d: S.StepDecision): S.SolverSchedule =>
  S.make(
    r.grid,
    Array.from({ length: r.n }, () => d),
  )
const stripCorrectors = (s: S.SolverSchedule): S.SolverSchedule => ({
  ...s,
  steps: s.steps.map(({ corrector: _c, ...d }) => d),
})

const params = { seed: 20240611, numRuns: 150 } as const

// -------------------------------------------------------------------------------------------------
// hand-written reference loops
// -------------------------------------------------------------------------------------------------

/** ε and x0 of the exact model at a point */
const predictions = (gmm: Gmm.Gmm, x: Float64Array, p: NS.Point) => {
  const eps = Gmm.eps(gmm)(x, p)
  return { eps, x0: eps.map((e, k) => (x[k]! - p.sigma * e) / p.alpha) }
}

/** DDIM: x_t = (α_t/α_s)·x_s − σ_t·expm1(h)·ε_s */
const ddim = (r: Run): Float64Array =>
  pointsOf(r).reduce((x, s, i, pts) => {
    const t = pts[i + 1]
    if (t === undefined) return x
    const { eps } = predictions(r.gmm, x, s)
    const c = -t.sigma * Math.expm1(t.lambda - s.lambda)
    return x.map((v, k) => (t.alpha / s.alpha) * v + c * eps[k]!)
  }, xTOf(r))

/** k-diffusion Euler in σ̄ on x̃ = x/α: x̃_{i+1} = x̃_i + (σ̄_{i+1} − σ̄_i)·ε_i */
const eulerSigmaBar = (r: Run): Float64Array =>
  pointsOf(r).reduce((x, s, i, pts) => {
    const t = pts[i + 1]
    if (t === undefined) return x
    const { eps } = predictions(r.gmm, x, s)
    const d = t.sigma / t.alpha - s.sigma / s.alpha
    return x.map((v, k) => t.alpha * (v / s.alpha + d * eps[k]!))
  }, xTOf(r))

/** flow Euler (α = 1 − t, σ = t): x_{t'} = x_t + (t' − t)·u, u = ε − x0 */
const flowEuler = (r: Run): Float64Array =>
  pointsOf(r).reduce((x, s, i, pts) => {
    const t = pts[i + 1]
    if (t === undefined) return x
    const { eps, x0 } = predictions(r.gmm, x, s)
    return x.map((v, k) => v + (t.t - s.t) * (eps[k]! - x0[k]!))
  }, xTOf(r))

/** the second-order 2M corrections of docs/math.md#dpm-solver / #unipc (data: γ = α_t, noise: γ = σ_t) */
type TwoM = 'dpmsolver' | 'taylor' | 'bh1'

/** multistep 2M by the formulas of docs/math.md#dpm-solver, orders per step (1 or 2) */
const twoM = (r: Run, pred: P.Prediction, kind: TwoM, orders: ReadonlyArray<number>): Float64Array => {
  const pts = pointsOf(r)
  let x = xTOf(r)
  let prev: Float64Array | undefined
  for (let i = 0; i < r.n; i++) {
    const s = pts[i]!
    const t = pts[i + 1]!
    const pr = predictions(r.gmm, x, s)
    const m = pred === 'data' ? pr.x0 : pr.eps
    const h = t.lambda - s.lambda
    const data = pred === 'data'
    const A = data ? t.sigma / s.sigma : t.alpha / s.alpha
    const c0 = data ? -t.alpha * Math.expm1(-h) : -t.sigma * Math.expm1(h)
    let cD = 0
    if (orders[i] === 2) {
      if (kind === 'dpmsolver') cD = 0.5 * c0
      else if (kind === 'taylor') cD = data ? t.alpha * (Math.expm1(-h) / h + 1) : -t.sigma * (Math.expm1(h) / h - 1)
      else cD = data ? 0.5 * t.alpha * h : -0.5 * t.sigma * h
    }
    const p = prev
    const r0 = i > 0 ? (s.lambda - pts[i - 1]!.lambda) / h : 1
    x = x.map((v, k) => A * v + c0 * m[k]! + (cD === 0 || p === undefined ? 0 : (cD * (m[k]! - p[k]!)) / r0))
    prev = m
  }
  return x
}

// -------------------------------------------------------------------------------------------------
// coefficient-level references
// -------------------------------------------------------------------------------------------------

/** a start, a target and older points at λ_s + u·h (u < 0) of a schedule */
interface Step {
  readonly ns: NS.NoiseSchedule
  readonly prediction: P.Prediction
  readonly start: NS.Point
  readonly target: NS.Point
  readonly older: ReadonlyArray<NS.Point>
}

/** a random step with `k` older points, h ∈ [0.1, 1.5], older gaps ∈ [0.3, 1.5]·h, all inside the schedule's range */
const arbStep = (k: number, withFlow = true): fc.Arbitrary<Step> =>
  fc
    .record({
      ns: O.arbSchedule(withFlow),
      prediction: fc.constantFrom<P.Prediction>('data', 'noise'),
      h: fc.double({ min: 0.1, max: 1.5, noNaN: true }),
      gaps: fc.array(fc.double({ min: 0.3, max: 1.5, noNaN: true }), { minLength: k, maxLength: k }),
      pos: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ ns, prediction, h, gaps, pos }) => {
      const lo = ns.lambda(ns.T)
      const hi = ns.lambda(ns.t0)
      const back = gaps.reduce((a, b) => a + b, 0) * h
      const scale = Math.min(1, (hi - lo) / (back + h))
      const hs = h * scale
      const ls = lo + back * scale + pos * (hi - lo - (back + h) * scale)
      const at = (l: number) => NS.point(ns)(ns.tOfLambda(l))
      const cum = gaps.reduce<ReadonlyArray<number>>((acc, g) => [...acc, (acc[acc.length - 1] ?? 0) + g], [])
      return { ns, prediction, start: at(ls), target: at(ls + hs), older: cum.map((c) => at(ls - c * hs)) }
    })

const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1))

/** hh·φ_{k+1}(hh), k = 1…p, by UniPC's recursion a₁ = expm1(hh)/hh − 1, a_{k+1} = a_k/hh − 1/(k+1)! */
const hPhis = (hh: number, p: number): ReadonlyArray<number> =>
  Array.from({ length: p }).reduce<ReadonlyArray<number>>((acc, _u, i) => [...acc, i === 0 ? Math.expm1(hh) / hh - 1 : acc[i - 1]! / hh - 1 / factorial(i + 1)], [])

/**
 * UniPC (docs/math.md#unipc) as coefficients on [m_s, m_older…, (m_t)]: ρ solves R·ρ = g with
 * g_k = k!·hh·φ_{k+1}(hh)/B(h), except the fixed ρ = ½ of UniP-2 and UniC-1; x = x̄ − γ·B·Σ ρ_i D_i
 */
const uniPc = (st: Step, variant: U.Variant, corrector: boolean): _.Coefficients => {
  const data = st.prediction === 'data'
  const h = st.target.lambda - st.start.lambda
  const hh = data ? -h : h
  const B = variant === 'bh1' ? hh : Math.expm1(hh)
  const gamma = data ? st.target.alpha : st.target.sigma
  const rks = [...st.older.map((p) => (p.lambda - st.start.lambda) / h), ...(corrector ? [1] : [])]
  const K = rks.length
  const g = hPhis(hh, K).map((a, k) => (a * factorial(k + 1)) / B)
  const R = Array.from({ length: K }, (_r, k) => rks.map((r) => r ** k))
  const rho = K === 0 ? [] : K === 1 ? [0.5] : _.solve(R, g)
  const onD = rho.map((rh, i) => (-gamma * B * rh) / rks[i]!)
  const onS = -gamma * Math.expm1(hh) - onD.reduce((a, b) => a + b, 0)
  return {
    onStart: data ? st.target.sigma / st.start.sigma : st.target.alpha / st.start.alpha,
    onNodes: [onS, ...onD],
  }
}

/**
 * the reference 3M (docs/math.md#reference-3m) on [m_{-1}, m_{-2}, m_{-3}] (start = m_{-1}); `d2` = 1 is the reference
 * (D2 ≈ h²m''/2), `d2` = 2 restores h²m''
 */
const threeM = (st: Step, d2: number): _.Coefficients => {
  const data = st.prediction === 'data'
  const [p2, p3] = st.older as readonly [NS.Point, NS.Point]
  const s = st.start
  const t = st.target
  const h = t.lambda - s.lambda
  const r0 = (s.lambda - p2.lambda) / h
  const r1 = (p2.lambda - p3.lambda) / h
  const phi1 = data ? Math.expm1(-h) : Math.expm1(h)
  const phi2 = data ? phi1 / h + 1 : phi1 / h - 1
  const phi3 = phi2 / h - 0.5
  const coef = (m1: number, m2: number, m3: number): number => {
    const D10 = (m1 - m2) / r0
    const D11 = (m2 - m3) / r1
    const D1 = D10 + (r0 / (r0 + r1)) * (D10 - D11)
    const D2 = (d2 * (D10 - D11)) / (r0 + r1)
    return data ? -t.alpha * phi1 * m1 + t.alpha * phi2 * D1 - t.alpha * phi3 * D2 : -t.sigma * phi1 * m1 - t.sigma * phi2 * D1 - t.sigma * phi3 * D2
  }
  return {
    onStart: data ? t.sigma / s.sigma : t.alpha / s.alpha,
    onNodes: [coef(1, 0, 0), coef(0, 1, 0), coef(0, 0, 1)],
  }
}

/** max |a − b| over the coefficients, relative to the largest coefficient */
const coefDistance = (a: _.Coefficients, b: _.Coefficients): number => {
  const all = [a.onStart, ...a.onNodes, b.onStart, ...b.onNodes]
  const scale = Math.max(...all.map(Math.abs))
  return Math.max(Math.abs(a.onStart - b.onStart), ...a.onNodes.map((c, j) => Math.abs(c - b.onNodes[j]!))) / scale
}

const rule = (prediction: P.Prediction, over: Partial<_.Rule> = {}): _.Rule => ({ ..._.lagrange(prediction), ...over })

// -------------------------------------------------------------------------------------------------
// laws: trajectories
// -------------------------------------------------------------------------------------------------

test('first order: DDIM(noise) = data form = ρ (Euler in σ̄) = t = ab, = hand DDIM, Euler in σ̄ and (flow) flow Euler', () => {
  fc.assert(
    fc.property(arbRun(true), (r) => {
      const ref = ddim(r)
      const variants: ReadonlyArray<readonly [string, Float64Array]> = [
        ['hand Euler in σ̄', eulerSigmaBar(r)],
        ...(r.ns.name === 'flow' ? [['hand flow Euler', flowEuler(r)] as const] : []),
        ...(['noise', 'data'] as const).flatMap((prediction) =>
          (['lambda', 'rho', 't', 'ab'] as const).map((basis) => [`${prediction}/${basis}`, solve(r)(constant(r, { prediction, order: 1, basis }))] as const),
        ),
      ]
      for (const [name, x] of variants) assert.ok(O.relErr(x, ref) <= 1e-10, `${name} vs DDIM on ${r.ns.name}: ${O.relErr(x, ref)}`) // 1e-10 relative
    }),
    params,
  )
})

test('UniP-2/bh2 = DPM-Solver(++)(2M) = "dpmsolver" 2M (docs/math.md#dpm-solver); UniP-2/bh1 = x̄ − ½·γ·hh·D₁ (data and noise form)', () => {
  fc.assert(
    fc.property(arbRun(true, 2, 12), fc.constantFrom<P.Prediction>('data', 'noise'), (r, prediction) => {
      const orders = Array.from({ length: r.n }, (_u, i) => Math.min(2, i + 1, r.n - i)) // UniPC: warm-up + lower order final
      const hand = twoM(r, prediction, 'dpmsolver', orders)
      const uniP2 = solve(r)(stripCorrectors(U.unipc({ nfe: r.n, variant: 'bh2', order: 2, prediction })))
      const dpm2M = solve(r)(Dpm.multistep({ nfe: r.n, prediction, order: 2, lowerOrderFinalBelow: Infinity }))
      assert.ok(O.relErr(uniP2, hand) <= 1e-10, `UniP-2/bh2 vs hand 2M: ${O.relErr(uniP2, hand)}`) // 1e-10 relative
      assert.ok(O.relErr(dpm2M, hand) <= 1e-10, `2M vs hand 2M: ${O.relErr(dpm2M, hand)}`) // 1e-10 relative
      const bh1 = solve(r)(stripCorrectors(U.unipc({ nfe: r.n, variant: 'bh1', order: 2, prediction })))
      const handBh1 = twoM(r, prediction, 'bh1', orders)
      assert.ok(O.relErr(bh1, handBh1) <= 1e-10, `UniP-2/bh1 vs hand: ${O.relErr(bh1, handBh1)}`) // 1e-10 relative
    }),
    params,
  )
})

test("order-2 λ-Lagrange without relaxation = 'taylor' 2M (docs/math.md#dpm-solver) (data and noise form)", () => {
  fc.assert(
    fc.property(arbRun(true, 2, 12), fc.constantFrom<P.Prediction>('data', 'noise'), (r, prediction) => {
      const s = Dpm.multistep({ nfe: r.n, prediction, order: 2, solverType: 'taylor' })
      const hand = twoM(
        r,
        prediction,
        'taylor',
        s.steps.map((d) => d.order),
      )
      const x = solve(r)(s)
      assert.ok(O.relErr(x, hand) <= 1e-10, `taylor 2M vs hand: ${O.relErr(x, hand)}`) // 1e-10 relative
    }),
    params,
  )
})

test('a corrector that ignores the new evaluation changes nothing (pseudo and reeval, λ/t/ρ bases)', () => {
  const arbDecision = (i: number) =>
    fc.record({
      prediction: fc.constantFrom<P.Prediction>('data', 'noise'),
      order: fc.integer({ min: 1, max: Math.min(3, i + 1) }),
      basis: fc.constantFrom<_.Basis>('lambda', 't', 'rho'),
      relaxation: fc.constantFrom<_.Relaxation>('none', 'dpmsolver-2', 'unipc-bh1', '0.5exp', '-0.5exp'),
      corrector: fc.option(fc.constantFrom<'pseudo' | 'reeval'>('pseudo', 'reeval'), { nil: undefined }),
    })
  const arb = arbRun(true, 2, 10).chain((r) => fc.tuple(...Array.from({ length: r.n }, (_u, i) => arbDecision(i))).map((ds) => ({ r, ds })))
  fc.assert(
    fc.property(arb, ({ r, ds }) => {
      const plain = ds.map(({ prediction, order, basis, relaxation }): S.StepDecision => ({ prediction, order, basis, relaxation }))
      const neutral = ds.map((d, i): S.StepDecision => {
        const p = plain[i]!
        if (d.corrector === undefined) return p
        const nodes = S.defaultNodes(-1, d.order, i + 1).map((k) => k - 1) // the predictor's nodes, seen from the new point
        return { ...p, corrector: { mode: d.corrector, order: d.order, nodes, basis: d.basis, relaxation: d.relaxation } }
      })
      const a = solve(r)(S.make(r.grid, plain))
      const b = solve(r)(S.make(r.grid, neutral))
      assert.equal(O.maxAbs(a, b), 0, 'bitwise: the corrector repeats the predictor’s float operations') // exact
    }),
    params,
  )
})

test('parameterizations eps / x0 / v (and flow on the flow schedule) give the same trajectory', () => {
  fc.assert(
    fc.property(
      arbRun(true, 2, 12),
      fc.constantFrom(...Solvers.all.filter((n) => n.needs === undefined)),
      fc.constantFrom<Grid.Spacing>('time_uniform', 'logSNR', 'time_quadratic', 'karras'),
      (r, sv, kind) => {
        const s = sv.build({ nfe: Math.max(4, r.n), grid: kind })
        const run = (param: P.Parameterization) => O.runOn(r.ns, r.gmm, param)(s)(xTOf(r)).x
        const ref = run('eps')
        const others: ReadonlyArray<P.Parameterization> = r.ns.name === 'flow' ? ['x0', 'v', 'flow'] : ['x0', 'v']
        for (const p of others) assert.ok(O.relErr(run(p), ref) <= 1e-10, `${sv.id} on ${r.ns.name}, ${p} vs eps: ${O.relErr(run(p), ref)}`) // 1e-10 relative
      },
    ),
    params,
  )
})

test('reference 3M ≠ exact 3M (trajectories differ, data and noise form)', () => {
  fc.assert(
    fc.property(arbRun(true, 5, 12), fc.constantFrom<P.Prediction>('data', 'noise'), (r, prediction) => {
      const exact = solve(r)(Dpm.multistep({ nfe: r.n, prediction, order: 3 }))
      const ref = solve(r)(Dpm.multistep({ nfe: r.n, prediction, order: 3, parity: 'reference' }))
      assert.ok(O.relErr(ref, exact) > 1e-9, `reference and exact 3M agree to ${O.relErr(ref, exact)}`) // differ by > 1e-9 relative
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// laws: coefficients
// -------------------------------------------------------------------------------------------------

test('reference 3M = its own formula (docs/math.md#reference-3m) = exact λ-Lagrange with the second-derivative term halved', () => {
  fc.assert(
    fc.property(arbStep(2), (st) => {
      const nodes = [st.start, ...st.older]
      const coef = (halve: boolean) => _.coefficients(st.ns, rule(st.prediction, { halveSecondDerivative: halve }))(st.start, st.target, nodes)
      const ref = coef(true)
      const exact = coef(false)
      assert.ok(coefDistance(ref, threeM(st, 1)) <= 1e-10, `halved rule vs the reference formula: ${coefDistance(ref, threeM(st, 1))}`) // 1e-10 relative
      assert.ok(coefDistance(exact, threeM(st, 2)) <= 1e-10, `exact rule vs the reference formula with D2 doubled: ${coefDistance(exact, threeM(st, 2))}`) // 1e-10 relative
      assert.ok(coefDistance(ref, exact) > 1e-6, 'halving must change the coefficients') // differ by > 1e-6 relative
    }),
    params,
  )
})

test('UniPC: solved orders (UniP-p, p ≥ 3; UniC-p, p ≥ 2) are independent of bh1/bh2 and equal exact λ-Lagrange; fixed-½ cases equal the relaxations', () => {
  const arb = fc.record({ p: fc.integer({ min: 1, max: 4 }), corrector: fc.boolean() }).chain(({ p, corrector }) => {
    const predictorP = corrector ? p : Math.max(2, p) // UniP-1 has no residual; UniC-p after UniP-p
    return arbStep(predictorP - 1).map((st) => ({ st, p: predictorP, corrector }))
  })
  fc.assert(
    fc.property(arb, ({ st, p, corrector }) => {
      const nodes = [st.start, ...st.older, ...(corrector ? [st.target] : [])]
      const solved = corrector ? p >= 2 : p >= 3
      for (const variant of ['bh1', 'bh2'] as const) {
        const relaxation: _.Relaxation = solved ? 'none' : variant === 'bh1' ? 'unipc-bh1' : 'dpmsolver-2'
        const ours = _.coefficients(st.ns, rule(st.prediction, { relaxation, implicit: corrector }))(st.start, st.target, nodes)
        const theirs = uniPc(st, variant, corrector)
        assert.ok(coefDistance(ours, theirs) <= 1e-10, `${corrector ? 'UniC' : 'UniP'}-${p}/${variant}: ${coefDistance(ours, theirs)}`) // 1e-10 relative
      }
      if (solved) {
        const d = coefDistance(uniPc(st, 'bh1', corrector), uniPc(st, 'bh2', corrector))
        assert.ok(d <= 1e-10, `bh1 vs bh2: ${d}`) // 1e-10 relative: B(h) cancels
      }
    }),
    params,
  )
})

test('Rule.phi: series (|z| < 1) and recursion (|z| ≥ 1) agree with φ_k(z) = ∫₀¹ e^{(1−θ)z} θ^{k−1} dθ/(k−1)!, across |z| = 1', () => {
  const boundary = [1, -1].flatMap((z) => [0, 1e-12, 1e-8, 1e-4].flatMap((d) => [z - d, z + d]))
  const arbZ = fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(...boundary))
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), arbZ, (k, z) => {
      const exact = O.quad((th) => Math.exp((1 - th) * z) * th ** (k - 1), 0, 1, 2) / factorial(k - 1)
      const got = _.phi(k, z)
      assert.ok(Math.abs(got - exact) <= 1e-12 * Math.abs(exact), `φ_${k}(${z}) = ${got}, integral ${exact}`) // 1e-12 relative
    }),
    { ...params, numRuns: 600 },
  )
})

test('Rule.coefficients (λ, t and ρ bases) integrate polynomials of degree < order exactly: Σ c_j P(u_j) = ∫ w(λ)·P(u(λ)) dλ', () => {
  const arb = fc
    .record({
      n: fc.integer({ min: 1, max: 5 }),
      basis: fc.constantFrom<_.Basis>('lambda', 't', 'rho'),
      withTarget: fc.boolean(),
    })
    .chain(({ n, basis, withTarget }) => {
      const target = withTarget && n > 1 // multistep nodes (start and older points) or corrector nodes (… and the target)
      return fc.record({
        st: arbStep(target ? n - 2 : n - 1),
        a: fc.array(
          fc.integer({ min: -1000, max: 1000 }).map((k) => k / 1000),
          { minLength: n, maxLength: n },
        ),
        basis: fc.constant(basis),
        withTarget: fc.constant(target),
      })
    })
  fc.assert(
    fc.property(arb, ({ st, a, basis, withTarget }) => {
      // vpDiscrete's t(λ) is piecewise linear, so its 't'-basis integrand has kinks: compared on smooth schedules only
      fc.pre(!(basis === 't' && st.ns.name === 'vp-discrete'))
      const nodes = [st.start, ...st.older, ...(withTarget ? [st.target] : [])]
      const u = (p: { readonly t: number; readonly lambda: number }): number =>
        basis === 'lambda'
          ? (p.lambda - st.start.lambda) / (st.target.lambda - st.start.lambda)
          : basis === 't'
            ? (p.t - st.start.t) / (st.target.t - st.start.t)
            : (Math.exp(-p.lambda) - Math.exp(-st.start.lambda)) / (Math.exp(-st.target.lambda) - Math.exp(-st.start.lambda))
      const P = (v: number) => a.reduce((acc, ai, i) => acc + ai * v ** i, 0)
      const c = _.coefficients(st.ns, rule(st.prediction, { basis }))(st.start, st.target, nodes)
      const lhs = c.onNodes.reduce((acc, cj, j) => acc + cj * P(u(nodes[j]!)), 0)
      const scale = c.onNodes.reduce((acc, cj, j) => acc + Math.abs(cj * P(u(nodes[j]!))), 0)
      const lt = st.target.lambda
      const w = st.prediction === 'data' ? (l: number) => st.target.alpha * Math.exp(l - lt) : (l: number) => -st.target.sigma * Math.exp(lt - l)
      const rhs = O.quad((l) => w(l) * P(u({ t: st.ns.tOfLambda(l), lambda: l })), st.start.lambda, lt, 8)
      assert.ok(Math.abs(lhs - rhs) <= 1e-10 * (scale + Math.abs(rhs)), `${basis}, ${nodes.length} nodes on ${st.ns.name}: ${lhs} vs ${rhs}`) // 1e-10 relative
      const A = st.prediction === 'data' ? st.target.sigma / st.start.sigma : st.target.alpha / st.start.alpha
      assert.ok(Math.abs(c.onStart - A) <= 1e-14 * A, 'onStart = σ_t/σ_s (data) or α_t/α_s (noise)') // 1e-14 relative
    }),
    { ...params, numRuns: 500 },
  )
})
