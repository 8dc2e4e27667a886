/**
 * Laws of the stochastic samplers (docs/math.md#stochastic, #equivalences, #laws). Neutral elements: η = 0 /
 * sChurn = 0 / snr = 0 compile to exactly the deterministic base (bitwise). Equivalences, each against
 * a loop written out here from the reference code with the same z: SDE-DPM-Solver++(1, η = 1) = DDIM(η = 1)
 * = DDPM ancestral = diffusers' DDPM posterior step (fixed_small and fixed_large); Euler-ancestral(η) =
 * DDIM(η) while σ_up < σ̄_t, = k-diffusion's sample_euler_ancestral always; SDE-DPM-Solver++(2M, 3M) =
 * k-diffusion's sample_dpmpp_{2m,3m}_sde; EDM churn = k-diffusion's sample_euler; Score-SDE PC =
 * score_sde's reverse-diffusion / Euler–Maruyama predictor + Langevin corrector. Noise: same seed ⇒
 * bit-identical (Float64 and Tfjs), another seed ⇒ different; rows run alone with their rowOffset are
 * bit-identical (batch-averaged Langevin norms are the documented exception); noise matters iff
 * `Program.usesNoise`. Distribution: at 500 steps the terminal samples of every family match the exact
 * mixture per component within 4 standard errors. Tfjs agrees with Float64 within float32 tolerance.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as Noise from '../src/core/Noise.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Codec from '../src/schedule/Codec.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'
import * as Dpm from '../src/solvers/Dpm.ts'
import * as K from '../src/solvers/K.ts'
import * as _ from '../src/solvers/Stochastic.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// setup
// -------------------------------------------------------------------------------------------------

const SEED = 20250214
const byId = (id: string): Solvers.Named => {
  const n = Solvers.byId(id)
  if (n === undefined) throw new Error(`no solver ${id}`)
  return n
}
const build = (id: string, nfe: number, grid?: Grid.Spacing, set: Readonly<Record<string, string>> = {}): S.SolverSchedule => byId(id).build({ nfe, ...(grid === undefined ? {} : { grid }), set })

/** a random problem: noise schedule (flow too), mixture, B rows of x_T, a noise seed, steps and a spacing */
interface Case {
  readonly ns: NS.NoiseSchedule
  readonly g: Gmm.Gmm
  readonly xT: Float64Array
  readonly seed: number
  readonly n: number
  readonly kind: Grid.Spacing
}
const arbCase = (minN = 2, maxN = 12, B = 4, withFlow = true): fc.Arbitrary<Case> =>
  fc
    .record({ ns: O.arbSchedule(withFlow), g: O.arbGmm, seed: fc.integer({ min: 0, max: 2 ** 40 }), n: fc.integer({ min: minN, max: maxN }), kind: O.arbSpacing })
    .map((r) => ({ ...r, xT: O.startFor(r.g, r.ns, (r.seed % 100_000) + 1, B) }))

/** Float64 run of a schedule with noise seed `seed` (rows from rowOffset) */
const run = (c: Pick<Case, 'ns' | 'g'>, s: S.SolverSchedule, xT: Float64Array, seed: number, rowOffset = 0): Float64Array =>
  F.run(Prog.compileOrThrow(c.ns, 'eps')(s), Gmm.eps(c.g), { D: c.g.D, seed, rowOffset })(xT).x

/** the draw z[step, stream] for the case's rows (what `Env.normal` returns) */
const zOf =
  (c: Case) =>
  (step: number, stream: number): Float64Array =>
    Noise.normals(c.seed, { step, stream }, c.xT.length / c.g.D, c.g.D)

/** the model's ε̂ and x̂0 at a point */
const predict = (g: Gmm.Gmm, x: Float64Array, p: NS.Point) => {
  const eps = Gmm.eps(g)(x, p)
  return { eps, x0: eps.map((e, k) => (x[k]! - p.sigma * e) / p.alpha) }
}

/** fold a hand-written step over a grid's points: step(x, s, t, i) */
const loop = (c: Case, grid: Grid.Grid, step: (x: Float64Array, s: NS.Point, t: NS.Point, i: number) => Float64Array): Float64Array => {
  const pts = Grid.points(c.ns)(grid)
  return pts.slice(0, -1).reduce((x, s, i) => step(x, s, pts[i + 1]!, i), c.xT)
}

const params = { seed: SEED, numRuns: 60 } as const
/** relative tolerance of hand loops vs programs: float64 rounding of different but equal formulas */
const TOL = 1e-10

before(() => Tfjs.init('wasm'))
after(() => Tfjs.init('wasm'))

// -------------------------------------------------------------------------------------------------
// neutral elements
// -------------------------------------------------------------------------------------------------

/** each stochastic solver with its noise switched off, and its deterministic base (same NFE and grid kind) */
const neutral: ReadonlyArray<{ readonly id: string; readonly set: Readonly<Record<string, string>>; readonly base: (nfe: number, grid: Grid.Spacing) => S.SolverSchedule }> = [
  { id: 'ddim-eta', set: { eta: '0' }, base: (nfe, grid) => build('ddim', nfe, grid) },
  { id: 'euler-ancestral', set: { eta: '0' }, base: (nfe, grid) => build('euler', nfe, grid) },
  { id: 'sde-dpmpp-1', set: { eta: '0' }, base: (nfe, grid) => Dpm.ddim({ nfe, grid, prediction: 'data' }) },
  { id: 'sde-dpmpp-2m', set: { eta: '0' }, base: (nfe, grid) => build('k-dpmpp-2m', nfe, grid) },
  { id: 'sde-dpmpp-2m', set: { eta: '0', solverType: 'heun' }, base: (nfe, grid) => ({ ...K.dpmpp2m({ nfe, grid }), steps: K.dpmpp2m({ nfe, grid }).steps.map(({ relaxation: _r, ...d }) => d) }) },
  { id: 'sde-dpmpp-3m', set: { eta: '0' }, base: (nfe, grid) => build('k-dpmpp-3m', nfe, grid) },
  { id: 'sde-dpmpp-3m', set: { eta: '0', parity: 'reference' }, base: (nfe, grid) => build('k-dpmpp-3m-ref', nfe, grid) },
  { id: 'euler-churn', set: { sChurn: '0' }, base: (nfe, grid) => build('euler', nfe, grid) },
  { id: 'heun-churn', set: { sChurn: '0' }, base: (nfe, grid) => build('heun', nfe, grid) },
  { id: 'euler-churn', set: { sTmin: '1e9', sTmax: 'inf' }, base: (nfe, grid) => build('euler', nfe, grid) }, // no σ̄ in range
  { id: 'score-sde-pc', set: { predictor: 'ancestral', eta: '0', steps: '0' }, base: (nfe, grid) => build('ddim', nfe, grid) },
  { id: 'score-sde-pc', set: { predictor: 'ancestral', eta: '0', snr: '0' }, base: (nfe, grid) => build('ddim', Math.floor(nfe / 2), grid) }, // ε_L = 0: evaluations wasted, x unchanged
]

test('η = 0 (sChurn = 0, snr = 0) is the deterministic base: no noise drawn, bit-identical output', () => {
  fc.assert(
    fc.property(arbCase(2, 16), fc.constantFrom(...neutral), (c, nt) => {
      const s = build(nt.id, c.n, c.kind, nt.set)
      const p = Prog.compileOrThrow(c.ns, 'eps')(s)
      assert.equal(p.usesNoise, false, `${nt.id} ${JSON.stringify(nt.set)} draws noise`)
      const y = run(c, s, c.xT, c.seed)
      const base = run(c, nt.base(c.n, c.kind), c.xT, c.seed)
      assert.equal(O.maxAbs(y, base), 0, `${nt.id} ${JSON.stringify(nt.set)} on ${c.ns.name}/${c.kind} n ${c.n}`) // bitwise
    }),
    { seed: SEED, numRuns: 120 },
  )
})

// -------------------------------------------------------------------------------------------------
// equivalences with the reference loops
// -------------------------------------------------------------------------------------------------

/** diffusers DDPMScheduler.step on the respaced grid (VP): posterior mean from x̂0, std sqrt(β̃) (fixed_small) or sqrt(β) (fixed_large) */
const ddpmLoop = (c: Case, grid: Grid.Grid, large: boolean): Float64Array =>
  loop(c, grid, (x, s, t, i) => {
    const [abS, abT] = [s.alpha ** 2, t.alpha ** 2]
    const beta = 1 - abS / abT
    const { x0 } = predict(c.g, x, s)
    const z = zOf(c)(i, 0)
    const cx0 = (Math.sqrt(abT) * beta) / (1 - abS)
    const cx = (Math.sqrt(1 - beta) * (1 - abT)) / (1 - abS)
    const sd = Math.sqrt(large ? beta : ((1 - abT) / (1 - abS)) * beta)
    return x.map((v, k) => cx0 * x0[k]! + cx * v + sd * z[k]!)
  })

test('SDE-DPM-Solver++(1, η = 1) = DDIM(η = 1) = DDPM ancestral = diffusers DDPM posterior step (VP; fixed_small and fixed_large), same z', () => {
  fc.assert(
    fc.property(arbCase(2, 16), (c) => {
      const grid = { spacing: c.kind, steps: c.n }
      const ddpm = run(c, build('ddpm', c.n, c.kind), c.xT, c.seed)
      const sde1 = run(c, build('sde-dpmpp-1', c.n, c.kind), c.xT, c.seed)
      const ddim1 = run(c, build('ddim-eta', c.n, c.kind), c.xT, c.seed)
      assert.ok(O.relErr(sde1, ddpm) <= TOL, `sde-dpmpp-1 vs ddpm on ${c.ns.name}: ${O.relErr(sde1, ddpm)}`) // 1e-10 relative
      assert.ok(O.relErr(ddim1, ddpm) <= TOL, `ddim-eta vs ddpm on ${c.ns.name}: ${O.relErr(ddim1, ddpm)}`) // 1e-10 relative
      if (c.ns.name.startsWith('vp')) {
        const hand = ddpmLoop(c, grid, false)
        assert.ok(O.relErr(ddpm, hand) <= TOL, `ddpm vs the DDPM posterior step on ${c.ns.name}: ${O.relErr(ddpm, hand)}`) // 1e-10 relative
        const large = run(c, build('ddpm', c.n, c.kind, { variance: 'fixed_large' }), c.xT, c.seed)
        const handLarge = ddpmLoop(c, grid, true)
        assert.ok(O.relErr(large, handLarge) <= TOL, `ddpm fixed_large on ${c.ns.name}: ${O.relErr(large, handLarge)}`) // 1e-10 relative
      }
    }),
    params,
  )
})

/** k-diffusion sample_euler_ancestral in σ̄, x̄ = x/α: σ_up = min(σ̄_t, η·sqrt(σ̄_t²(σ̄_s² − σ̄_t²)/σ̄_s²)), x̄ ← x̄ + (σ_down − σ̄_s)·d + σ_up·s_noise·z */
const eulerAncestralLoop = (c: Case, grid: Grid.Grid, eta: number, sNoise: number): Float64Array =>
  loop(c, grid, (x, s, t, i) => {
    const { x0 } = predict(c.g, x, s)
    const [sbS, sbT] = [s.sigma / s.alpha, t.sigma / t.alpha]
    const up = Math.min(sbT, eta * Math.sqrt((sbT ** 2 * (sbS ** 2 - sbT ** 2)) / sbS ** 2))
    const down = Math.sqrt(sbT ** 2 - up ** 2)
    const z = zOf(c)(i, 0)
    return x.map((v, k) => {
      const xb = v / s.alpha
      return t.alpha * (xb + (down - sbS) * ((xb - x0[k]!) / sbS) + up * sNoise * z[k]!)
    })
  })

test('Euler-ancestral(η) = k-diffusion sample_euler_ancestral; = DDIM(η) iff σ_up < σ̄_t at every step', () => {
  fc.assert(
    fc.property(arbCase(2, 12), fc.double({ min: 0, max: 3, noNaN: true }), fc.double({ min: 0.5, max: 1.5, noNaN: true }), (c, eta, sNoise) => {
      const grid = { spacing: c.kind, steps: c.n }
      const anc = run(c, build('euler-ancestral', c.n, c.kind, { eta: String(eta), sNoise: String(sNoise) }), c.xT, c.seed)
      const hand = eulerAncestralLoop(c, grid, eta, sNoise)
      assert.ok(O.relErr(anc, hand) <= TOL, `euler-ancestral η ${eta} on ${c.ns.name}: ${O.relErr(anc, hand)}`) // 1e-10 relative
      const pts = Grid.points(c.ns)(grid)
      const capped = pts.slice(0, -1).some((s, i) => eta ** 2 * -Math.expm1(-2 * (pts[i + 1]!.lambda - s.lambda)) >= 1)
      const ddim = run(c, build('ddim-eta', c.n, c.kind, { eta: String(eta) }), c.xT, c.seed)
      if (sNoise === 1 && !capped) assert.ok(O.relErr(anc, ddim) <= TOL, `euler-ancestral vs ddim-eta, η ${eta} uncapped: ${O.relErr(anc, ddim)}`) // 1e-10 relative
      if (capped) assert.ok(O.maxAbs(anc, ddim) > 0, `η ${eta} capped at some step but euler-ancestral = ddim-eta`)
    }),
    params,
  )
})

/** k-diffusion sample_dpmpp_2m_sde (order 2, 'midpoint' | 'heun') and sample_dpmpp_3m_sde (order 3) in σ̄, with iid z */
const kSdeLoop = (c: Case, grid: Grid.Grid, order: 2 | 3, eta: number, sNoise: number, heun: boolean): Float64Array => {
  const pts = Grid.points(c.ns)(grid)
  let xb = c.xT.map((v) => v / pts[0]!.alpha)
  const den: Float64Array[] = []
  const hs: number[] = []
  pts.slice(0, -1).forEach((s, i) => {
    const t = pts[i + 1]!
    const { x0 } = predict(
      c.g,
      xb.map((v) => v * s.alpha),
      s,
    )
    const h = t.lambda - s.lambda
    const he = h * (eta + 1)
    const [d1, d2] = [den[0], den[1]]
    const [h1, h2] = [hs[0], hs[1]]
    const next = xb.map((v, k) => Math.exp(-he) * v - Math.expm1(-he) * x0[k]!)
    if (order === 3 && d1 !== undefined && d2 !== undefined && h1 !== undefined && h2 !== undefined) {
      const [r0, r1] = [h1 / h, h2 / h]
      const phi2 = Math.expm1(-he) / he + 1
      const phi3 = phi2 / he - 0.5
      next.forEach((v, k) => {
        const d10 = (x0[k]! - d1[k]!) / r0
        const d11 = (d1[k]! - d2[k]!) / r1
        next[k] = v + phi2 * (d10 + ((d10 - d11) * r0) / (r0 + r1)) - phi3 * ((d10 - d11) / (r0 + r1))
      })
    } else if (d1 !== undefined && h1 !== undefined) {
      const r = h1 / h
      const w = order === 3 || heun ? Math.expm1(-he) / he + 1 : -0.5 * Math.expm1(-he)
      next.forEach((v, k) => (next[k] = v + w * (1 / r) * (x0[k]! - d1[k]!)))
    }
    const z = zOf(c)(i, 0)
    const sbT = t.sigma / t.alpha
    xb = next.map((v, k) => v + z[k]! * sbT * Math.sqrt(-Math.expm1(-2 * h * eta)) * sNoise)
    den.unshift(x0)
    hs.unshift(h)
  })
  const last = pts[pts.length - 1]!
  return xb.map((v) => v * last.alpha)
}

test('SDE-DPM-Solver++(2M midpoint/heun, 3M reference) = k-diffusion sample_dpmpp_{2m,3m}_sde with the same z', () => {
  fc.assert(
    fc.property(arbCase(3, 12), fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0.5, max: 1.5, noNaN: true }), fc.constantFrom('midpoint', 'heun', '3m'), (c, eta, sNoise, kind) => {
      const grid = { spacing: c.kind, steps: c.n }
      const set = { eta: String(eta), sNoise: String(sNoise) }
      const y =
        kind === '3m'
          ? run(c, build('sde-dpmpp-3m', c.n, c.kind, { ...set, parity: 'reference' }), c.xT, c.seed)
          : run(c, build('sde-dpmpp-2m', c.n, c.kind, { ...set, solverType: kind }), c.xT, c.seed)
      const hand = kSdeLoop(c, grid, kind === '3m' ? 3 : 2, eta, sNoise, kind === 'heun')
      assert.ok(O.relErr(y, hand) <= 1e-9, `${kind} η ${eta} on ${c.ns.name}/${c.kind}: ${O.relErr(y, hand)}`) // 1e-9 relative (3M divides by step ratios)
    }),
    params,
  )
})

test('sde-dpmpp-3m (exact) ≠ its reference parity when η > 0 (the halved second derivative stays behind the flag)', () => {
  const c: Case = { ns: NS.vpLinear(), g: Gmm.random(3, 2, 11), xT: O.startFor(Gmm.random(3, 2, 11), NS.vpLinear(), 5, 4), seed: 9, n: 8, kind: 'karras' }
  const exact = run(c, build('sde-dpmpp-3m', 8), c.xT, 9)
  const ref = run(c, build('sde-dpmpp-3m', 8, undefined, { parity: 'reference' }), c.xT, 9)
  assert.ok(O.maxAbs(exact, ref) > 1e-6, `differ by ${O.maxAbs(exact, ref)}`) // the D2 term is O(h³)·D2, visibly nonzero at 8 steps
})

/** k-diffusion sample_euler with churn in σ̄: γ_i = min(S_churn/N, √2 − 1) where S_tmin ≤ σ̄_i ≤ S_tmax, σ̂ = σ̄_i(1+γ), x̄ += sqrt(σ̂² − σ̄_i²)·s_noise·z, Euler from σ̂ */
const churnLoop = (c: Case, grid: Grid.Grid, sChurn: number, sTmin: number, sTmax: number, sNoise: number): Float64Array =>
  loop(c, grid, (x, s, t, i) => {
    const N = Grid.intervals(grid)
    const sb = s.sigma / s.alpha
    const gamma = sTmin <= sb && sb <= sTmax ? Math.min(sChurn / N, Math.SQRT2 - 1) : 0
    const sHat = sb * (1 + gamma)
    const z = zOf(c)(i, 1)
    const xb = x.map((v, k) => v / s.alpha + (gamma > 0 ? z[k]! * sNoise * Math.sqrt(sHat ** 2 - sb ** 2) : 0))
    const q = gamma > 0 ? NS.point(c.ns)(c.ns.tOfLambda(-Math.log(sHat))) : s
    const { x0 } = predict(
      c.g,
      xb.map((v) => v * q.alpha),
      q,
    )
    const sbT = t.sigma / t.alpha
    return xb.map((v, k) => t.alpha * (v + ((v - x0[k]!) / sHat) * (sbT - sHat)))
  })

test('EDM churn (euler-churn) = k-diffusion sample_euler with s_churn, s_tmin, s_tmax, s_noise', () => {
  fc.assert(
    fc.property(
      arbCase(2, 12, 4, false),
      fc.double({ min: 0, max: 80, noNaN: true }),
      fc.constantFrom(0, 0.05, 0.5),
      fc.constantFrom(Infinity, 50, 2),
      fc.double({ min: 0.5, max: 1.5, noNaN: true }),
      (c, sChurn, sTmin, sTmax, sNoise) => {
        const grid = { spacing: c.kind, steps: c.n }
        const set = { sChurn: String(sChurn), sTmin: String(sTmin), sTmax: sTmax === Infinity ? 'inf' : String(sTmax), sNoise: String(sNoise) }
        const y = run(c, build('euler-churn', c.n, c.kind, set), c.xT, c.seed)
        const hand = churnLoop(c, grid, sChurn, sTmin, sTmax, sNoise)
        assert.ok(O.relErr(y, hand) <= 1e-9, `euler-churn ${JSON.stringify(set)} on ${c.ns.name}: ${O.relErr(y, hand)}`) // 1e-9 relative (t(λ(σ̂)) round trip)
      },
    ),
    params,
  )
})

/** VP-linear's β(t) = β0 + t(β1 − β0): drift f = −½β, g² = β (for the Euler–Maruyama loop) */
const beta = (t: number): number => 0.1 + t * (20 - 0.1)

/**
 * score_sde's PC sampler, literally: per step `steps` LangevinCorrector iterations (ε_L = 2a(r·‖z‖/‖ŝ‖)², norms per row,
 * batch-averaged, or expected), then ReverseDiffusionPredictor / EulerMaruyamaPredictor (η-generalized)
 */
const pcLoop = (
  c: Case,
  grid: Grid.Grid,
  o: { readonly predictor: 'reverse-diffusion' | 'euler-maruyama'; readonly eta: number; readonly snr: number; readonly steps: number; readonly norms: 'expected' | 'sample' | 'batch' },
): Float64Array => {
  const D = c.g.D
  const B = c.xT.length / D
  const rowNorms = (v: Float64Array): ReadonlyArray<number> => Array.from({ length: B }, (_, b) => Math.hypot(...v.subarray(b * D, (b + 1) * D)))
  const mean = (v: ReadonlyArray<number>): number => v.reduce((a, b) => a + b, 0) / v.length
  return loop(c, grid, (x0, s, t, i) => {
    let x = x0
    const a = (s.alpha / t.alpha) ** 2
    for (let k = 0; k < o.steps; k++) {
      const score = Gmm.eps(c.g)(x, s).map((e) => -e / s.sigma)
      const z = zOf(c)(i, 2 + k)
      const [gn, zn] = [rowNorms(score), rowNorms(z)]
      const step = (b: number): number =>
        o.norms === 'expected' ? 2 * a * (o.snr * s.sigma) ** 2 : o.norms === 'batch' ? 2 * a * ((o.snr * mean(zn)) / mean(gn)) ** 2 : 2 * a * ((o.snr * zn[b]!) / gn[b]!) ** 2
      const xi = x
      x = xi.map((v, k2) => v + step(Math.floor(k2 / D)) * score[k2]! + Math.sqrt(2 * step(Math.floor(k2 / D))) * z[k2]!)
    }
    const score = Gmm.eps(c.g)(x, s).map((e) => -e / s.sigma)
    const z = zOf(c)(i, 0)
    const w = 0.5 * (1 + o.eta ** 2)
    if (o.predictor === 'reverse-diffusion') {
      const r = s.alpha / t.alpha
      const G2 = s.sigma ** 2 - r ** 2 * t.sigma ** 2
      return x.map((v, k) => (2 - r) * v + w * G2 * score[k]! + o.eta * Math.sqrt(G2) * z[k]!)
    }
    const dt = s.t - t.t
    const [f, g2] = [-0.5 * beta(s.t), beta(s.t)]
    return x.map((v, k) => v - (f * v - w * g2 * score[k]!) * dt + o.eta * Math.sqrt(g2 * dt) * z[k]!)
  })
}

test('score-sde-pc = score_sde PC sampler (reverse diffusion on any schedule, Euler–Maruyama on VP-linear) with the Langevin corrector, every norm choice', () => {
  fc.assert(
    fc.property(
      arbCase(1, 8, 5),
      fc.constantFrom<'reverse-diffusion' | 'euler-maruyama'>('reverse-diffusion', 'euler-maruyama'),
      fc.constantFrom<'expected' | 'sample' | 'batch'>('expected', 'sample', 'batch'),
      fc.double({ min: 0, max: 1.2, noNaN: true }),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.integer({ min: 1, max: 2 }),
      (c0, predictor, norms, eta, snr, steps) => {
        const c = predictor === 'euler-maruyama' ? { ...c0, ns: O.schedules.vpLinear, xT: O.startFor(c0.g, O.schedules.vpLinear, 3, 5) } : c0
        const set = { predictor, norms, eta: String(eta), snr: String(snr), steps: String(steps) }
        const s = build('score-sde-pc', c.n * (steps + 1), 'time_uniform', set)
        const y = run(c, s, c.xT, c.seed)
        const hand = pcLoop(c, s.grid, { predictor, eta, snr, steps, norms })
        // 1e-9 relative; Euler–Maruyama: 1e-7 (the program differentiates α, λ numerically, the loop uses β(t))
        const tol = predictor === 'euler-maruyama' ? 1e-7 : 1e-9
        assert.ok(O.relErr(y, hand) <= tol, `${JSON.stringify(set)} on ${c.ns.name} n ${c.n}: ${O.relErr(y, hand)}`)
      },
    ),
    { seed: SEED, numRuns: 80 },
  )
})

// -------------------------------------------------------------------------------------------------
// the noise: reproducible, keyed by seed, batch-invariant, needed iff declared
// -------------------------------------------------------------------------------------------------

/** every stochastic named solver at its defaults, and score-sde-pc with per-sample norms */
const stochastic: ReadonlyArray<readonly [string, Readonly<Record<string, string>>]> = [
  ..._.named.map((n) => [n.id, {}] as const),
  ['score-sde-pc', { norms: 'sample' }],
  ['score-sde-pc', { predictor: 'euler-maruyama' }],
  ['ddpm', { variance: 'fixed_large' }],
]

test('same seed ⇒ bit-identical output; another seed ⇒ a different one (Float64, every stochastic solver)', () => {
  fc.assert(
    fc.property(arbCase(4, 10), fc.constantFrom(...stochastic), (c, [id, set]) => {
      const s = build(id, c.n, c.kind, set)
      const a = run(c, s, c.xT, c.seed)
      const b = run(c, s, c.xT, c.seed)
      const other = run(c, s, c.xT, c.seed + 1)
      assert.equal(O.maxAbs(a, b), 0, `${id}: two runs with seed ${c.seed} differ`) // bitwise
      // churn only where S_tmin ≤ σ̄ ≤ S_tmax: a short grid may have no such point (then nothing is drawn)
      if (Prog.compileOrThrow(c.ns, 'eps')(s).usesNoise) assert.ok(O.maxAbs(a, other) > 0, `${id}: seeds ${c.seed} and ${c.seed + 1} give the same output`)
      else assert.ok(id.endsWith('-churn'), `${id} draws no noise at its defaults`)
    }),
    params,
  )
})

test('batch invariance: rows [a, b) run alone with rowOffset a are bit-identical to the same rows of the full batch', () => {
  fc.assert(
    fc.property(arbCase(2, 10, 7), fc.constantFrom(...stochastic), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 7 }), (c, [id, set], a0, len) => {
      const D = c.g.D
      const [a, b] = [a0, Math.min(7, a0 + len)]
      const s = build(id, Math.max(2, c.n), c.kind, set)
      const full = run(c, s, c.xT, c.seed)
      const part = run(c, s, c.xT.slice(a * D, b * D), c.seed, a)
      assert.equal(O.maxAbs(part, full.subarray(a * D, b * D)), 0, `${id} ${JSON.stringify(set)}: rows [${a}, ${b}) alone differ`) // bitwise
    }),
    params,
  )
})

test('score-sde-pc with norms=batch (score_sde parity) couples the rows: documented as NOT batch-invariant', () => {
  const g = Gmm.random(3, 2, 4)
  const c: Case = { ns: NS.vpLinear(), g, xT: O.startFor(g, NS.vpLinear(), 2, 8), seed: 1, n: 4, kind: 'time_uniform' }
  const s = build('score-sde-pc', 8, undefined, { parity: 'reference' })
  const full = run(c, s, c.xT, 1)
  const part = run(c, s, c.xT.slice(0, 4), 1)
  assert.ok(O.maxAbs(part, full.subarray(0, 4)) > 0, 'two rows alone gave the same output as within the batch of eight')
})

/** a concrete value per parameter ('<number>' → 0, ½ or 1) */
const arbSet = (sv: Solvers.Named): fc.Arbitrary<Readonly<Record<string, string>>> =>
  fc
    .tuple(
      ...Object.entries(sv.params).map(([k, p]) =>
        fc.option(fc.constantFrom(...p.values.flatMap((v) => (v === '<number>' ? ['0', '0.5', '1'] : [v]))), { nil: undefined }).map((v) => [k, v] as const),
      ),
    )
    .map((kvs) => Object.fromEntries(kvs.filter((kv): kv is readonly [string, string] => kv[1] !== undefined)))

test('noise matters iff Program.usesNoise (random parameters, including the neutral ones)', () => {
  fc.assert(
    fc.property(
      arbCase(2, 8),
      fc.constantFrom(..._.named).chain((sv) => arbSet(sv).map((set) => [sv, set] as const)),
      (c, [sv, set]) => {
        const s = sv.build({ nfe: Math.max(2, c.n), grid: c.kind, set })
        const p = Prog.compileOrThrow(c.ns, 'eps')(s)
        const differs = O.maxAbs(run(c, s, c.xT, c.seed), run(c, s, c.xT, c.seed + 1)) > 0
        assert.equal(differs, p.usesNoise, `${sv.id} ${JSON.stringify(set)}: usesNoise ${p.usesNoise} but the seed ${differs ? 'matters' : 'does not matter'}`)
      },
    ),
    { seed: SEED, numRuns: 150 },
  )
})

// -------------------------------------------------------------------------------------------------
// interpreters
// -------------------------------------------------------------------------------------------------

/** a Tfjs run (float32) of a program on the mixture's exact ε with noise seed `seed` */
const tfjsRun = (p: Prog.Program, g: Gmm.Gmm, xT: Float64Array, seed: number, rowOffset = 0): Float64Array => {
  const model = TfjsGmm.eps(g)
  const x = Tfjs.fromFloat64(xT, g.D)
  try {
    const r = Tfjs.run(p, model, { seed, rowOffset })(x)
    const y = Tfjs.toFloat64(r.x)
    r.x.dispose()
    return y
  } finally {
    x.dispose()
    model.dispose()
  }
}

test('Tfjs: same seed ⇒ bit-identical, another seed ⇒ different; agrees with Float64 (same z) within float32 tolerance; no tensor leak', () => {
  const ns = NS.vpLinear()
  const g = Gmm.random(3, 2, 10)
  const xT = Gmm.normals(64 * 2, 21).map(Math.fround)
  const cases: ReadonlyArray<readonly [string, Readonly<Record<string, string>>]> = [
    ['sde-dpmpp-2m', {}],
    ['euler-ancestral', {}],
    ['heun-churn', {}],
    ['score-sde-pc', { norms: 'sample' }],
    ['score-sde-pc', { norms: 'batch' }],
  ]
  for (const [id, set] of cases) {
    const p = Prog.compileOrThrow(ns, 'eps')(build(id, 20, undefined, set))
    const before = tf.memory().numTensors
    const a = tfjsRun(p, g, xT, 7)
    assert.equal(tf.memory().numTensors, before, `${id}: tensors left`)
    const b = tfjsRun(p, g, xT, 7)
    const other = tfjsRun(p, g, xT, 8)
    assert.equal(O.maxAbs(a, b), 0, `${id}: two Tfjs runs with one seed differ`) // bitwise
    assert.ok(O.maxAbs(a, other) > 1e-3, `${id}: Tfjs ignores the seed`)
    const exact = F.run(p, Gmm.eps(g), { D: 2, seed: 7 })(xT).x
    // float32: 5e-5 relative to max(1, max |x|) — float32 rounding of x, z and the model over 20 stochastic steps (measured ≤ 2e-6)
    assert.ok(O.relErr(a, exact) <= 5e-5, `${id}: Tfjs vs Float64 ${O.relErr(a, exact)}`)
  }
})

// -------------------------------------------------------------------------------------------------
// distribution
// -------------------------------------------------------------------------------------------------

/**
 * The terminal distribution at 500 steps vs the exact mixture at t_0 (components α·μ_k, α²s_k² + σ²): a
 * 2-D, 3-component Gmm.random (seed 10: components ≥ 4.2 std apart, misassignment < 1e-4), N = 4000 samples
 * from seeded x_T and seeded noise, each assigned to its most probable component. Per component: mass
 * (SE sqrt(w(1−w)/N)), mean (SE sqrt(v/n_k)) and variance (SE v·sqrt(2/(n_k − 1))) per dimension, each
 * within 4 standard errors (15 statistics per solver; an exact sample of the mixture stays within 1.5 SE).
 */
const mixture = Gmm.random(3, 2, 10)
const N = 4000

/** z-scores of the 15 statistics of N samples (rows of x) against the exact mixture at t_0 of `ns` */
const zScores = (ns: NS.NoiseSchedule, x: Float64Array): ReadonlyArray<{ readonly what: string; readonly z: number }> => {
  const p0 = NS.point(ns)(ns.t0)
  const comps = mixture.means.map((m, k) => ({
    w: mixture.weights[k]!,
    mu: m.map((v) => p0.alpha * v),
    v: mixture.variances[k]!.map((s2) => p0.alpha ** 2 * s2 + p0.sigma ** 2),
  }))
  const logp = (b: number, k: number): number => Math.log(comps[k]!.w) - 0.5 * comps[k]!.mu.reduce((a, m, d) => a + (x[b * 2 + d]! - m) ** 2 / comps[k]!.v[d]! + Math.log(comps[k]!.v[d]!), 0)
  const groups = comps.map(() => [] as number[])
  for (let b = 0; b < N; b++) groups[[0, 1, 2].reduce((best, k) => (logp(b, k) > logp(b, best) ? k : best), 0)]!.push(b)
  return comps.flatMap((cp, k) => {
    const rows = groups[k]!
    const n = rows.length
    return [
      { what: `mass[${k}]`, z: (n / N - cp.w) / Math.sqrt((cp.w * (1 - cp.w)) / N) },
      ...[0, 1].flatMap((d) => {
        const m = rows.reduce((a, b) => a + x[b * 2 + d]!, 0) / n
        const v = rows.reduce((a, b) => a + (x[b * 2 + d]! - m) ** 2, 0) / (n - 1)
        return [
          { what: `mean[${k}][${d}]`, z: (m - cp.mu[d]!) / Math.sqrt(cp.v[d]! / n) },
          { what: `var[${k}][${d}]`, z: (v - cp.v[d]!) / (cp.v[d]! * Math.sqrt(2 / (n - 1))) },
        ]
      }),
    ]
  })
}

test('distribution: at 500 steps every family’s samples match the exact mixture per component (mass, mean, variance) within 4 SE', (t) => {
  const ns = NS.vpLinear()
  const xT = Gmm.normals(N * 2, 99)
  // ddim-eta / sde-dpmpp-1 equal ddpm (law above); the time-uniform grid keeps a 9% variance deficit at 500 steps
  // (first-order error concentrated in the few coarse-in-λ last steps; bench/RESULTS.md), so those run on logSNR
  const runs: ReadonlyArray<readonly [string, number, Grid.Spacing | undefined]> = [
    ['ddpm', 500, 'logSNR'],
    ['euler-ancestral', 500, undefined],
    ['sde-dpmpp-2m', 500, undefined],
    ['sde-dpmpp-3m', 500, undefined],
    ['euler-churn', 500, undefined],
    ['heun-churn', 1000, undefined],
    ['score-sde-pc', 1000, undefined],
  ]
  const worst: string[] = []
  for (const [id, nfe, grid] of runs) {
    const x = F.run(Prog.compileOrThrow(ns, 'eps')(build(id, nfe, grid)), Gmm.eps(mixture), { D: 2, seed: 5 })(xT).x
    const zs = zScores(ns, x)
    const w = zs.reduce((a, b) => (Math.abs(b.z) > Math.abs(a.z) ? b : a))
    worst.push(`${id} ${w.what} ${w.z.toFixed(2)}`)
    for (const { what, z } of zs) assert.ok(Math.abs(z) <= 4, `${id} (NFE ${nfe}): ${what} is ${z.toFixed(2)} standard errors off`) // 4 SE
  }
  t.diagnostic(`largest |z| per solver: ${worst.join(', ')}`)
  // power: the same test rejects a sampler that is visibly off (DDPM at 10 steps)
  const coarse = zScores(ns, F.run(Prog.compileOrThrow(ns, 'eps')(build('ddpm', 10, 'logSNR')), Gmm.eps(mixture), { D: 2, seed: 5 })(xT).x)
  assert.ok(
    coarse.some(({ z }) => Math.abs(z) > 4),
    'DDPM at 10 steps passes the 4-SE test: the test has no power',
  )
})

// -------------------------------------------------------------------------------------------------
// the document
// -------------------------------------------------------------------------------------------------

test('codec: every stochastic named schedule round-trips; bad stochastic fields are rejected with their path', () => {
  for (const sv of _.named)
    for (const nfe of [2, 7, 20]) {
      const s = sv.build({ nfe })
      const d = Codec.decode(JSON.parse(JSON.stringify(Codec.encode(s))))
      assert.ok(E.isRight(d), `${sv.id} nfe ${nfe}: ${E.isLeft(d) ? Codec.format(d.left) : ''}`)
      assert.deepEqual(d.right, s)
      assert.equal(S.nfe(s), Prog.compileOrThrow(NS.vpLinear(), 'eps')(s).nfe, `${sv.id} nfe ${nfe}: SolverSchedule.nfe vs Program.nfe`)
    }
  const doc = (step: Record<string, unknown>, extra: ReadonlyArray<Record<string, unknown>> = []) => ({
    format: S.FORMAT,
    grid: { spacing: 'time_uniform', steps: 1 + extra.length },
    steps: [step, ...extra],
  })
  const pathsOf = (u: unknown): ReadonlyArray<string> => {
    const d = Codec.decode(u)
    return E.isLeft(d) ? d.left.map((i) => i.path) : []
  }
  const ok = { prediction: 'noise', order: 1 }
  assert.deepEqual(pathsOf(doc({ ...ok, langevin: { snr: 0.16, steps: 1, colour: 1 } })), ['steps[0].langevin.colour'])
  assert.deepEqual(pathsOf(doc({ ...ok, langevin: { snr: 0.16, steps: 0 } })), ['steps[0].langevin.steps'])
  assert.deepEqual(pathsOf(doc({ ...ok, langevin: { snr: -1, steps: 1 } })), ['steps[0].langevin.snr'])
  assert.deepEqual(pathsOf(doc({ ...ok, langevin: { snr: 0.1, steps: 1, norms: 'mean' } })), ['steps[0].langevin.norms'])
  assert.deepEqual(pathsOf(doc({ ...ok, noise: { level: 'reverse-diffusion', eta: 1, variance: 'large' } })), ['steps[0].noise.variance'])
  assert.deepEqual(pathsOf(doc({ ...ok, noise: { level: 'euler-maruyama', eta: 1 } }, [{ prediction: 'noise', order: 2, noise: { level: 'euler-maruyama', eta: 1 } }])), ['steps[1].noise.level'])
  assert.deepEqual(pathsOf(doc(ok, [{ prediction: 'noise', order: 1, start: -2, langevin: { snr: 0.1, steps: 1 } }])), ['steps[1].langevin'])
  assert.deepEqual(pathsOf(doc({ ...ok, churn: { gamma: 0.1, sTmax: -1 } })), ['steps[0].churn.sTmax'])
})
