/**
 * Laws of the final-step options (docs/math.md#final-step): `options.finalStep` ('lower_order', 'euler'),
 * `options.denoiseToZero` and `grid.final: 'sigma0'` (the last point at σ = 0, λ = +∞). (a) No composition
 * produces NaN/Inf: any named solver × grid (spacing or λ-jittered explicit, default or extreme range:
 * t0 down to λ(t0) + 8) × NFE 1–50 × final policy × noise schedule (VP linear/cosine/discrete, VE, EDM,
 * flow, mean-reverting) on Gaussian mixtures gives finite outputs, or the codec rejects the document
 * with a path. (b) Into σ = 0 the last step returns x̂0 of the point before it (a noise step in basis ρ keeps
 * its order there: LMS integrates its σ̄-polynomial to σ̄ = 0, checked against the exact integral). (c) The policies are
 * data: the orders they produce, NFE accounting, neutral cases, codec fields and messages.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as Codec from '../src/schedule/Codec.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as MR from '../src/models/MeanReverting.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as _ from '../src/schedule/SolverSchedule.ts'
import * as F from '../src/run/Float64.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// random compositions
// -------------------------------------------------------------------------------------------------

/** the final policies: none, lower order at the end, Euler at the end, denoise to zero, σ = 0 at the end (and with lower order) */
type Policy = 'none' | 'lower_order' | 'euler' | 'denoise' | 'sigma0' | 'sigma0+lower_order' | 'sigma0+denoise'
const POLICIES: ReadonlyArray<Policy> = ['none', 'lower_order', 'euler', 'denoise', 'sigma0', 'sigma0+lower_order', 'sigma0+denoise']

/** the schedule without its own final-step policy (the MRS solvers carry finalStep 'euler') */
const bare = (s: _.SolverSchedule): _.SolverSchedule => {
  const { finalStep: _f, ...options } = s.options ?? {}
  return { ...s, options }
}

const withPolicy = (s: _.SolverSchedule, p: Policy): _.SolverSchedule => {
  const grid: Grid.Grid = p.startsWith('sigma0') ? { ...s.grid, final: 'sigma0' } : s.grid
  const options: _.Options = {
    ...s.options,
    ...(p === 'lower_order' || p === 'sigma0+lower_order' ? { finalStep: 'lower_order' as const } : {}),
    ...(p === 'euler' ? { finalStep: 'euler' as const } : {}),
    ...(p === 'denoise' || p === 'sigma0+denoise' ? { denoiseToZero: true } : {}),
  }
  return { ...s, grid, options }
}

const mr = MR.schedule({ lambdaInf: 0.3 })
const SCHEDULES: ReadonlyArray<NS.NoiseSchedule> = [...O.nonFlow, O.schedules.flow, mr]

/** solvers that run on any ε model (not DPM-Solver-v3, which needs the model's EMS) */
const runnable = Solvers.all.filter((n) => n.needs === undefined)

/** the finiteness pool: every runnable solver (the time-shift family included: kept times stay strictly inside each step) */
const pool = runnable

/** the schedule at the smallest NFE ≥ nfe the solver accepts with these parameters (two-NFE steps, a final corrector: 2) */
const buildAt = (sv: Solvers.Named, nfe: number, o: { readonly grid?: Grid.Spacing; readonly set?: Readonly<Record<string, string>> } = {}): _.SolverSchedule => {
  for (let n = nfe; ; n++)
    try {
      return sv.build({ nfe: n, ...o })
    } catch (e) {
      if (n > nfe + 3) throw e // not a budget problem
    }
}

interface Case {
  readonly id: string
  readonly ns: NS.NoiseSchedule
  readonly gmm: Gmm.Gmm
  readonly seed: number
  readonly schedule: _.SolverSchedule
  readonly policy: Policy
}

/** t0 at λ(t0) + 8 where that is a positive time inside the schedule's domain (VE's σ_min = 0.01 at t = 0 stops it; a discrete table is not extrapolated) */
const extremeT0 = (ns: NS.NoiseSchedule): number | undefined => {
  const t = ns.tOfLambda(ns.lambda(ns.t0) + 8)
  return t > 0 && t < ns.t0 && t >= (ns.domain?.[0] ?? 0) ? t : undefined
}

/** no parameters, or one enumerated `--set` value */
const arbSet = (sv: Solvers.Named): fc.Arbitrary<Readonly<Record<string, string>>> =>
  fc.constantFrom<Readonly<Record<string, string>>>({}, ...Object.entries(sv.params).flatMap(([k, p]) => p.values.filter((v) => !v.startsWith('<')).map((v) => ({ [k]: v }))))

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    sv: fc.constantFrom(...pool),
    nfe: fc.integer({ min: 1, max: 50 }),
    kind: O.arbSpacing,
    ns: fc.constantFrom(...SCHEDULES),
    gmm: O.arbGmm,
    seed: fc.integer({ min: 1, max: 1e6 }),
    policy: fc.constantFrom(...POLICIES),
    extreme: fc.boolean(),
    explicit: fc.boolean(),
  })
  .chain((r) => arbSet(r.sv).map((set) => ({ ...r, set })))
  .chain((r) => {
    const base = buildAt(r.sv, r.nfe, { grid: r.kind, set: r.set })
    const nfe = _.nfe(base)
    // mean-reverting with a kept time shift too: called on some rows, the MR model takes the same rows of μ (Prog.Subset)
    const t0 = r.extreme ? extremeT0(r.ns) : undefined
    const ns = t0 === undefined ? r.ns : NS.withRange(r.ns.T, t0)(r.ns)
    const grid: fc.Arbitrary<Grid.Grid> =
      r.explicit && base.grid.split === undefined
        ? O.arbExplicit(ns, Grid.outerSteps(base.grid))
        : fc.constant({ ...base.grid, ...(t0 === undefined || base.grid.spacing === 'explicit' ? {} : { t0 }) })
    return grid.map((g): Case => ({
      id: `${r.sv.id} ${JSON.stringify(r.set)} nfe ${nfe} ${g.spacing} on ${ns.name}${t0 === undefined ? '' : ` t0 ${t0.toExponential(2)}`}, ${r.policy}`,
      ns,
      gmm: r.gmm,
      seed: r.seed,
      schedule: withPolicy({ ...base, grid: g }, r.policy),
      policy: r.policy,
    }))
  })

/** run on the exact mixture model (mean-reverting: μ per row, the MR model) */
const runCase = (c: Case): F.Result => {
  const D = c.gmm.D
  const xT = O.startFor(c.gmm, c.ns, c.seed, 3)
  const p = Prog.compileOrThrow(c.ns, 'eps')(c.schedule)
  if (c.ns.meanReverting !== true) return F.run(p, Gmm.eps(c.gmm), { D, seed: c.seed })(xT)
  const mu = Gmm.normals(xT.length, c.seed + 2).map((v) => 0.5 * v)
  return F.run(p, MR.eps(c.gmm, mu), { D, seed: c.seed, mu })(xT.map((v, k) => v + mu[k]!))
}

// -------------------------------------------------------------------------------------------------
// (a) finiteness
// -------------------------------------------------------------------------------------------------

test('no NaN/Inf: any named solver × grid × NFE 1–50 × final policy × noise schedule (extreme t0 too) on mixtures, or a codec issue with a path', () => {
  let ran = 0
  fc.assert(
    fc.property(arbCase, (c) => {
      const issues = Codec.check(c.schedule)
      if (c.policy === 'sigma0+denoise') {
        assert.deepEqual(
          issues.map((i) => i.path),
          ['options.denoiseToZero'],
          c.id,
        )
        return
      }
      assert.deepEqual(issues, [], c.id)
      const r = runCase(c) // Float64 stops with a StepError at the first non-finite value
      assert.ok(r.x.every(Number.isFinite), c.id)
      ran++
    }),
    { seed: 20250315, numRuns: 1500 },
  )
  assert.ok(ran > 1100, `only ${ran} compositions ran`)
})

// -------------------------------------------------------------------------------------------------
// (b) into σ = 0
// -------------------------------------------------------------------------------------------------

test('grid.final sigma0: the last step (first order, data or noise form) returns x̂0(x, t) of the point before it, 1e-12', () => {
  const plain = runnable.filter((n) => {
    const s = n.build({ nfe: 6 })
    // x̂0 of the point before: a plain step from it on its own output (no corrector, noise, momentum EMA, time shift, restart)
    return s.steps.every(
      (d) =>
        d.corrector === undefined &&
        d.noise === undefined &&
        d.churn === undefined &&
        d.start === undefined &&
        d.momentum === undefined &&
        d.timeShift === undefined &&
        d.langevin === undefined &&
        !(d.order > 1 && d.prediction === 'noise' && d.basis === 'rho'), // keeps its order into σ = 0 (the LMS law below)
    )
  })
  fc.assert(
    fc.property(fc.constantFrom(...plain), fc.integer({ min: 2, max: 20 }), O.arbSpacing, fc.constantFrom(...SCHEDULES), O.arbGmm, fc.integer({ min: 1, max: 1e6 }), (sv, nfe, kind, ns, gmm, seed) => {
      const s = withPolicy(bare(sv.build({ nfe, grid: kind })), 'sigma0')
      const pts = Grid.points(ns)(s.grid)
      assert.equal(pts.at(-1)!.sigma, 0)
      assert.equal(pts.at(-1)!.lambda, Infinity)
      // the run up to the point before: the first n − 1 steps on the first n points
      const head: _.SolverSchedule = { ...s, grid: Grid.explicit(pts.slice(0, -1).map((p) => p.t)), steps: s.steps.slice(0, -1) }
      const c: Case = { id: sv.id, ns, gmm, seed, schedule: head, policy: 'none' }
      const before = runCase(c).x
      const full = runCase({ ...c, schedule: s }).x
      const at = pts.at(-2)!
      const mu = ns.meanReverting === true ? Gmm.normals(before.length, seed + 2).map((v) => 0.5 * v) : new Float64Array(before.length)
      const eps = ns.meanReverting === true ? MR.eps(gmm, mu)(before, at) : Gmm.eps(gmm)(before, at)
      const x0 = before.map((v, k) => (v - mu[k]! - at.sigma * eps[k]!) / at.alpha + mu[k]!) // x̂0 (MR: of y = x − μ, plus μ)
      const last = Prog.compileOrThrow(ns, 'eps')(s).steps.at(-1)!
      assert.equal(last.order, 1)
      assert.ok(O.relErr(full, x0) <= 1e-12, `${sv.id} on ${ns.name}: ${O.relErr(full, x0)}`) // rounding
    }),
    { seed: 20250316, numRuns: 200 },
  )
})

test('grid.final sigma0: an LMS step (noise, basis ρ, order k) into σ = 0 keeps its order: x̄ ← x̄ + Σⱼ ∫_{σ̄_s}^{0} ℓⱼ dσ̄ · ε̂ⱼ, 1e-12', () => {
  const g = Gmm.random(3, 2, 4)
  const xT = Gmm.normals(8, 3)
  for (const [nfe, order] of [
    [5, 4],
    [8, 3],
    [3, 2],
  ] as const) {
    const s = withPolicy(Solvers.byId('lms')!.build({ nfe, set: { order: String(order) } }), 'sigma0')
    const ns = O.schedules.vpLinear
    const p = Prog.compileOrThrow(ns, 'eps')(s)
    assert.equal(p.steps.at(-1)!.order, Math.min(order, nfe))
    const head: _.SolverSchedule = { ...s, grid: Grid.explicit(p.points.slice(0, -1).map((q) => q.t)), steps: s.steps.slice(0, -1) }
    // the history of the last step, by the run up to its start point
    const seen: Array<{ readonly x: Float64Array; readonly eps: Float64Array; readonly at: NS.Point }> = []
    const before = F.run(Prog.compileOrThrow(ns, 'eps')(head), (x, at) => {
      const e = Gmm.eps(g)(x, at)
      seen.push({ x, eps: e, at })
      return e
    })(xT).x
    const at = p.points.at(-2)!
    const last = { x: before, eps: Gmm.eps(g)(before, at), at }
    const nodes = [last, ...[...seen].reverse()].slice(0, Math.min(order, nfe))
    const rs = nodes.map((q) => q.at.sigma / q.at.alpha)
    // ∫_{r0}^{0} ℓⱼ(ρ) dρ by 8-point Gauss–Legendre (exact for these degrees)
    const gl = [-0.9602898564975363, -0.7966664774136267, -0.525532409916329, -0.1834346424956498, 0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363]
    const gw = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.362683783378362, 0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763]
    const a = rs[0]!
    const coef = rs.map((_r, j) => gl.reduce((acc, u, q) => acc + gw[q]! * rs.reduce((l, rk, k) => (k === j ? l : (l * ((a / 2) * (1 - u) - rk)) / (rs[j]! - rk)), 1), 0) * (-a / 2))
    const want = before.map((v, k) => v / at.alpha + nodes.reduce((acc, q, j) => acc + coef[j]! * q.eps[k]!, 0))
    const got = F.run(p, Gmm.eps(g))(xT).x
    assert.ok(O.relErr(got, want) <= 1e-12, `lms order ${order} into σ = 0: ${O.relErr(got, want)}`)
  }
})

// -------------------------------------------------------------------------------------------------
// (c) the policies as data
// -------------------------------------------------------------------------------------------------

test('policies: lower_order gives min(order, n − i), euler a first-order last step without corrector; S.nfe = Program.nfe = model evaluations', () => {
  fc.assert(
    fc.property(fc.constantFrom(...runnable), fc.integer({ min: 2, max: 30 }), fc.constantFrom(...POLICIES.filter((p) => p !== 'sigma0+denoise')), (sv, nfe, policy) => {
      const base = bare(buildAt(sv, nfe))
      const s = withPolicy(base, policy)
      const p = Prog.compileOrThrow(O.schedules.vpLinear, 'eps')(s)
      const n = s.steps.length
      p.steps.forEach((info, i) => {
        const d = base.steps[i]!
        const lowered = policy.endsWith('lower_order') ? Math.min(d.order, n - i) : d.order
        const euler = policy === 'euler' || policy.startsWith('sigma0')
        const keeps = policy.startsWith('sigma0') && d.prediction === 'noise' && d.basis === 'rho' // the σ̄-polynomial integrates to σ̄ = 0 (LMS)
        if (i === n - 1 && euler) {
          assert.equal(info.decision.order, keeps ? lowered : 1, `${sv.id} ${policy}: last order`)
          assert.equal(info.decision.corrector, undefined, `${sv.id} ${policy}: last corrector`)
        } else assert.equal(info.decision.order, lowered, `${sv.id} ${policy}: step ${i}`)
      })
      // model evaluations of the batch: rows evaluated / B (at kept per-sample times one evaluation calls the model once per distinct time, on those rows)
      const evaluations = (q: Prog.Program) => {
        let rows = 0
        F.run(q, (x, at) => ((rows += x.length / 2), Gmm.eps(Gmm.random(2, 2, 1))(x, at)), { D: 2, seed: 1 })(Gmm.normals(4, 1))
        return rows / 2
      }
      assert.equal(evaluations(p), p.nfe, `${sv.id} ${policy}: Program.nfe vs model evaluations`)
      assert.equal(_.nfe(s), p.nfe, `${sv.id} ${policy}: SolverSchedule.nfe vs Program.nfe`)
    }),
    { seed: 20250317, numRuns: 300 },
  )
})

test('neutral: euler on a last step that is already first order without corrector, lower_order on UniPC (already lowered): the same program, bitwise', () => {
  const g = Gmm.random(3, 2, 9)
  const xT = Gmm.normals(8, 2)
  const run = (s: _.SolverSchedule) => F.run(Prog.compileOrThrow(O.schedules.vpLinear, 'eps')(s), Gmm.eps(g))(xT).x
  for (const nfe of [3, 8, 15]) {
    const ddim = Solvers.byId('ddim')!.build({ nfe })
    assert.equal(O.maxAbs(run(withPolicy(ddim, 'euler')), run(ddim)), 0)
    const dpm = Solvers.byId('dpmpp-2m')!.build({ nfe })
    if (nfe < 10) assert.equal(O.maxAbs(run(withPolicy(dpm, 'euler')), run(dpm)), 0) // lower order at the end below 10 steps
    const unipc = Solvers.byId('unipc-bh2-3')!.build({ nfe })
    assert.equal(O.maxAbs(run(withPolicy(unipc, 'lower_order')), run(unipc)), 0)
  }
})

test('codec: grid.final and options.finalStep round-trip; denoiseToZero with sigma0 and ems into σ = 0 are rejected with paths and fixes', () => {
  const s = Solvers.byId('dpmpp-3m')!.build({ nfe: 12 })
  for (const p of POLICIES.filter((q) => q !== 'sigma0+denoise')) {
    const d = withPolicy(s, p)
    assert.deepEqual(Codec.decode(Codec.encode(d)), E.right(d), p)
  }
  const bad = (u: unknown) => (E.isLeft(Codec.decode(u)) ? Codec.decode(u) : E.right(null))
  const issues = (u: unknown) => {
    const r = bad(u)
    return E.isLeft(r) ? r.left.map((i) => `${i.path}: ${i.message}`) : []
  }
  assert.deepEqual(issues(withPolicy(s, 'sigma0+denoise')), [
    'options.denoiseToZero: the grid already ends at σ = 0 (grid.final sigma0), where x̂0 = x: denoising costs one NFE and changes nothing; remove denoiseToZero or grid.final',
  ])
  assert.deepEqual(issues({ ...withPolicy(s, 'sigma0'), steps: [...s.steps.slice(0, -1), { ...s.steps.at(-1)!, ems: true }] }), [
    "steps[11].ems: DPM-Solver-v3's EMS coefficients are not defined at σ = 0 (grid.final sigma0); remove ems from the last step or remove grid.final",
  ])
  assert.deepEqual(issues({ ...s, grid: { ...s.grid, final: 'zero' } }), ['grid.final: got "zero"; expected one of sigma0'])
  assert.deepEqual(issues({ ...s, options: { finalStep: 'lower-order' } }), ['options.finalStep: got "lower-order"; expected one of lower_order, euler'])
})

test('Grid.sigmaZero: σ = 0, λ = +∞, α = 1 on every built-in schedule (t = 0 on VP linear/cosine, EDM, flow, MR)', () => {
  for (const ns of SCHEDULES) {
    const p = Grid.sigmaZero(ns)
    assert.equal(p.sigma, 0)
    assert.equal(p.lambda, Infinity)
    assert.ok(Math.abs(p.alpha - 1) <= 1e-12, `${ns.name}: α = ${p.alpha}`) // VP discrete extrapolates log α: rounding
  }
})
