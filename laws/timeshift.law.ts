/**
 * Time-shift laws (docs/math.md#time-shift, TS-DPM): the three released variants.
 * (a) window 1, or a cutoff at or above 1000·T, is exactly the base solver (bitwise, same program);
 * (b) independent reference loops: TS-DDIM and TS-PLMS (model at nominal times, per-sample shifted
 *     targets, next step from the nominal time), TS-DPM-Solver++(2M) with kept per-sample times (one
 *     row at a time: its own time list, model calls and λ-differences), with Var(x) (default) and the
 *     reference's Var(model output) (parity);
 * (c) every kept time minimises |Var(x_b) − σ²(t̂)| over its window (lattice 1/1000 around the nominal
 *     target, cleaner than the row's start, noisier than the next grid point); kept times stay strictly
 *     ordered and runs stay finite on every schedule and grid (regression: VE, NaN at the last step);
 * (d) the codec rejects steps that need one time per step after a kept shift;
 * (e) Tfjs agrees with Float64 (per-row coefficients, per-row model calls) where every decision is
 *     separated by a margin float32 cannot cross, and leaks nothing.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import fc from 'fast-check'
import * as C from '../src/schedule/Codec.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as Grid from '../src/core/Grid.ts'
import * as G from '../src/models/Guidance.ts'
import * as MR from '../src/models/MeanReverting.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as F from '../src/run/Float64.ts'
import * as T from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'
import * as Trace from '../src/run/Trace.ts'
import * as Dpm from '../src/solvers/Dpm.ts'
import * as Pndm from '../src/solvers/Pndm.ts'
import * as _ from '../src/solvers/Momentum.ts'
import * as O from './oracle.ts'

// -------------------------------------------------------------------------------------------------
// setup
// -------------------------------------------------------------------------------------------------

const SEED = 20240719
const params = { seed: SEED, numRuns: 60 } as const
const N = 1000

type Vec = Float64Array

/** a run: VP schedule (the TS-DPM setting), mixture, rows, steps, grid kind, window and cutoff */
interface Run {
  readonly ns: NS.NoiseSchedule
  readonly gmm: Gmm.Gmm
  readonly B: number
  readonly seed: number
  readonly n: number
  readonly grid: Grid.Grid
  readonly window: number
  readonly cutoff: number
}

const arbRun: fc.Arbitrary<Run> = fc
  .record({
    ns: fc.constantFrom(O.schedules.vpLinear, O.schedules.vpCosine, O.schedules.vpDiscrete),
    K: fc.integer({ min: 1, max: 3 }),
    D: fc.integer({ min: 2, max: 16 }),
    gseed: fc.integer({ min: 1, max: 1e6 }),
    B: fc.integer({ min: 1, max: 8 }),
    seed: fc.integer({ min: 1, max: 1e6 }),
    n: fc.integer({ min: 2, max: 14 }),
    spacing: O.arbSpacing,
    window: fc.integer({ min: 1, max: 40 }),
    cutoff: fc.integer({ min: 0, max: 900 }),
  })
  .map((r) => ({ ns: r.ns, gmm: Gmm.random(r.K, r.D, r.gseed), B: r.B, seed: r.seed, n: r.n, grid: { spacing: r.spacing, steps: r.n }, window: r.window, cutoff: r.cutoff }))

const xTOf = (r: Run): Vec => O.startFor(r.gmm, r.ns, r.seed, r.B)
const pointsOf = (r: Run): ReadonlyArray<NS.Point> => Grid.resolve(r.ns)(r.grid).map(NS.point(r.ns))
const run =
  (r: Run) =>
  (s: S.SolverSchedule): Vec =>
    O.runOn(r.ns, r.gmm)({ ...s, grid: r.grid })(xTOf(r)).x

/** unbiased variance of a row (two passes, as Float64.rowStats) */
const variance = (row: Vec): number => {
  const m = row.reduce((a, v) => a + v, 0) / row.length
  return row.length > 1 ? row.reduce((a, v) => a + (v - m) ** 2, 0) / (row.length - 1) : 0
}

/**
 * docs/math.md#time-shift (the selection rule): the window's candidates (the nominal target itself at k = round(t·N)), cleaner than `start`, by increasing t;
 * kept times (`next`: the grid point after the target) also strictly noisier than `next`, the next step's nominal target
 */
const candidates = (ns: NS.NoiseSchedule, w: number, to: NS.Point, start: NS.Point, next?: NS.Point): ReadonlyArray<NS.Point> => {
  const j = Math.round(to.t * N)
  const half = Math.floor(w / 2)
  const out: NS.Point[] = []
  for (let k = j - half; k <= j + half; k++) {
    if (k !== j && (k < 1 || k > Math.round(ns.T * N))) continue
    const q = k === j ? to : NS.point(ns)(k / N)
    if (q.lambda > start.lambda && (next === undefined || q.lambda < next.lambda)) out.push(q)
  }
  return out
}

/** argmin_q |v − σ_q²| (the first on ties), or the nominal target when the window is empty */
const pick = (cs: ReadonlyArray<NS.Point>, v: number, to: NS.Point): NS.Point =>
  cs.reduce<NS.Point | undefined>((b, q) => (b === undefined || Math.abs(v - q.sigma ** 2) < Math.abs(v - b.sigma ** 2) ? q : b), undefined) ?? to

const active = (r: Run, i: number, to: NS.Point): boolean => i > 0 && r.window > 1 && to.t * N > r.cutoff

const rowsOf = (x: Vec, D: number): ReadonlyArray<Vec> => Array.from({ length: x.length / D }, (_v, b) => x.subarray(b * D, b * D + D))
const eps = (r: Run, x: Vec, p: NS.Point): Vec => Gmm.eps(r.gmm)(x, p)
/** DDIM to a per-row target: x_t = (α_t/α_s)·x_s − σ_t·expm1(h)·ε */
const ddimRow = (x: Vec, e: Vec, s: NS.Point, t: NS.Point): Vec => x.map((v, q) => (t.alpha / s.alpha) * v - t.sigma * Math.expm1(t.lambda - s.lambda) * e[q]!)

// -------------------------------------------------------------------------------------------------
// reference loops (docs/math.md#time-shift, TS-DPM pnm_solver / dpm_solver_utils; not from Program)
// -------------------------------------------------------------------------------------------------

/** TS-DDIM: model at the nominal t_i on the whole batch; each row's DDIM target shifted; next step from nominal t_{i+1} */
const tsDdim = (r: Run): Vec => {
  const pts = pointsOf(r)
  const D = r.gmm.D
  let x = xTOf(r)
  for (let i = 0; i + 1 < pts.length; i++) {
    const [s, t] = [pts[i]!, pts[i + 1]!]
    const e = eps(r, x, s)
    x = Float64Array.from(
      rowsOf(x, D).flatMap((row, b) => {
        const q = active(r, i, t) ? pick(candidates(r.ns, r.window, t, s), variance(row), t) : t
        return [...ddimRow(row, e.subarray(b * D, b * D + D), s, q)]
      }),
    )
  }
  return x
}

/** TS-PLMS (diffusers PLMS): DDIM + re-evaluated trapezoid at step 0, then AB_{min(i+1, 4)} on ε at nominal times, DDIM to the shifted target */
const tsPlms = (r: Run): Vec => {
  const pts = pointsOf(r)
  const D = r.gmm.D
  const ab = [[1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]]
  let x = xTOf(r)
  const es: Vec[] = []
  for (let i = 0; i + 1 < pts.length; i++) {
    const [s, t] = [pts[i]!, pts[i + 1]!]
    const e = eps(r, x, s)
    es.unshift(e)
    if (i === 0) {
      const e1 = eps(r, ddimRow(x, e, s, t), t)
      x = ddimRow(
        x,
        e.map((v, q) => (v + e1[q]!) / 2),
        s,
        t,
      )
      continue
    }
    const w = ab[Math.min(i + 1, 4) - 1]!
    const ep = e.map((_v, q) => w.reduce((a, c, j) => a + c * es[j]![q]!, 0))
    x = Float64Array.from(
      rowsOf(x, D).flatMap((row, b) => {
        const q = active(r, i, t) ? pick(candidates(r.ns, r.window, t, s), variance(row), t) : t
        return [...ddimRow(row, ep.subarray(b * D, b * D + D), s, q)]
      }),
    )
  }
  return x
}

/**
 * TS-DPM-Solver++(2M) ('dpmsolver' ½-rule, lower order at the end below `lof` steps), one row at a time:
 * the row keeps its own times; the model is called at them; shifted targets are stored (docs/math.md#time-shift, the DPM-Solver variant)
 */
const tsDpm2m = (r: Run, stat: 'x' | 'output', lof: number): Vec => {
  const pts = pointsOf(r)
  const n = pts.length - 1
  const D = r.gmm.D
  return Float64Array.from(
    rowsOf(xTOf(r), D).flatMap((row0) => {
      let x: Vec = Float64Array.from(row0)
      const at: NS.Point[] = [pts[0]!]
      const ms: Vec[] = []
      for (let i = 0; i < n; i++) {
        const s = at[i]!
        const e = eps(r, x, s)
        const m = x.map((v, q) => (v - s.sigma * e[q]!) / s.alpha)
        ms.push(m)
        const nominal = pts[i + 1]!
        const t = active(r, i, nominal) ? pick(candidates(r.ns, r.window, nominal, s, pts[i + 2]), variance(stat === 'x' ? x : m), nominal) : nominal
        const h = t.lambda - s.lambda
        const order = i === 0 || (n < lof && i === n - 1) ? 1 : 2
        const r0 = order === 1 ? 1 : (s.lambda - at[i - 1]!.lambda) / h
        const dir = order === 1 ? m : m.map((v, q) => v + (0.5 * (v - ms[i - 1]![q]!)) / r0)
        x = x.map((v, q) => (t.sigma / s.sigma) * v - t.alpha * Math.expm1(-h) * dir[q]!)
        at.push(t)
      }
      return [...x]
    }),
  )
}

// -------------------------------------------------------------------------------------------------
// (a) neutral elements
// -------------------------------------------------------------------------------------------------

const variants = [
  { id: 'time-shift-ddim', base: (n: number) => Dpm.ddim({ nfe: n }) },
  { id: 'time-shift-pndm', base: (n: number) => Pndm.plms({ nfe: n }) },
  { id: 'time-shift-dpmpp-2m', base: (n: number) => Dpm.multistep({ nfe: n, prediction: 'data', order: 2 }) },
] as const

const named = (id: string) => _.named.find((n) => n.id === id)!

test('window 1, or cutoff ≥ 1000·T, is exactly the base solver: the same program, bitwise the same x', () => {
  fc.assert(
    fc.property(arbRun, fc.constantFrom(...variants), fc.boolean(), (r, v, byWindow) => {
      const nfe = v.id === 'time-shift-pndm' ? r.n + 1 : r.n
      const set = byWindow ? { window: '1', cutoff: String(r.cutoff) } : { window: String(r.window), cutoff: String(Math.ceil(N * r.ns.T)) }
      const shifted = { ...named(v.id).build({ nfe, set }), grid: r.grid }
      const base = { ...v.base(nfe), grid: r.grid }
      const p = Prog.compileOrThrow(r.ns, 'eps')(shifted)
      assert.ok(
        p.instrs.every((ins) => ins.op !== 'combine' || ins.adapt === undefined),
        `${v.id}: no data-dependent instruction`,
      )
      assert.equal(O.maxAbs(run(r)(shifted), run(r)(base)), 0, `${v.id} ${JSON.stringify(set)} on ${r.ns.name}`) // bitwise
    }),
    params,
  )
})

// -------------------------------------------------------------------------------------------------
// (b) reference loops
// -------------------------------------------------------------------------------------------------

test('TS-DDIM and TS-PLMS (DDIM/PNDM variant) = the TS-DPM loops (docs/math.md#time-shift): nominal model times and start, per-sample shifted targets', () => {
  let shifted = 0
  fc.assert(
    fc.property(arbRun, (r) => {
      const set = { window: String(r.window), cutoff: String(r.cutoff) }
      const ddim = O.relErr(run(r)(named('time-shift-ddim').build({ nfe: r.n, set })), tsDdim(r))
      const plms = O.relErr(run(r)(named('time-shift-pndm').build({ nfe: r.n + 1, set })), tsPlms(r)) // PLMS: n steps cost n + 1 NFE
      if (O.relErr(tsDdim(r), tsDdim({ ...r, window: 1 })) > 0) shifted++
      assert.ok(ddim <= 1e-10, `TS-DDIM on ${r.ns.name}, ${r.grid.spacing} n ${r.n}, w ${r.window}, cutoff ${r.cutoff}: ${ddim}`) // 1e-10 relative
      assert.ok(plms <= 1e-10, `TS-PLMS on ${r.ns.name}, ${r.grid.spacing} n ${r.n}, w ${r.window}, cutoff ${r.cutoff}: ${plms}`) // 1e-10 relative
    }),
    params,
  )
  assert.ok(shifted >= params.numRuns / 3, `only ${shifted} of ${params.numRuns} runs shifted any sample`) // the law is not vacuous
})

test('TS-DPM-Solver++(2M) (kept times) = the per-row loop: Var(x) by default, Var(model output) and lower order below 15 with parity=reference', () => {
  fc.assert(
    fc.property(arbRun, fc.boolean(), (r, ref) => {
      const set = { window: String(r.window), cutoff: String(r.cutoff), ...(ref ? { parity: 'reference' } : {}) }
      const d = O.relErr(run(r)(named('time-shift-dpmpp-2m').build({ nfe: r.n, set })), tsDpm2m(r, ref ? 'output' : 'x', ref ? 15 : 10))
      assert.ok(d <= 1e-10, `TS-2M ${ref ? 'reference' : 'exact'} on ${r.ns.name}, ${r.grid.spacing} n ${r.n}, w ${r.window}, cutoff ${r.cutoff}: ${d}`) // 1e-10 relative
    }),
    params,
  )
})

test('the kept-times variant differs from the DDIM-type one (x moved to t̂ is at t̂, not at the nominal time)', () => {
  const r: Run = { ns: O.schedules.vpLinear, gmm: Gmm.random(2, 8, 3), B: 6, seed: 9, n: 8, grid: Grid.timeUniform(8), window: 30, cutoff: 0 }
  const keep = run(r)(named('time-shift-dpmpp-2m').build({ nfe: 8, set: { window: '30', cutoff: '0' } }))
  const s = named('time-shift-dpmpp-2m').build({ nfe: 8, set: { window: '30', cutoff: '0' } })
  const nominal = run(r)({ ...s, steps: s.steps.map((d) => (d.timeShift === undefined ? d : { ...d, timeShift: { window: 30, cutoff: 0 } })) })
  assert.ok(O.relErr(keep, nominal) > 1e-6) // different methods
})

// -------------------------------------------------------------------------------------------------
// (c) the choice
// -------------------------------------------------------------------------------------------------

/** run a program instruction by instruction, calling `see(state, instr)` before each */
const trace = (p: Prog.Program, env: Prog.Env<Vec>, xT: Vec, see: (s: Prog.State<Vec>, ins: Prog.Instr) => void): Prog.State<Vec> =>
  p.instrs.reduce((s, ins) => {
    see(s, ins)
    return Prog.exec(env)(s, ins)
  }, Prog.initial(xT))

test("every kept time minimises |Var(x_b) − σ²(t̂)| over its window (brute force over the 1/1000 lattice, strictly between the row's start and the next point)", () => {
  let checked = 0
  fc.assert(
    fc.property(arbRun, (r) => {
      const s = { ...named('time-shift-dpmpp-2m').build({ nfe: r.n, set: { window: String(r.window), cutoff: String(r.cutoff) } }), grid: r.grid }
      const p = Prog.compileOrThrow(r.ns, 'eps')(s)
      const D = r.gmm.D
      const want = new Map<number, ReadonlyArray<NS.Point>>()
      const final = trace(p, F.env(Gmm.eps(r.gmm), { D }), xTOf(r), (st, ins) => {
        if (ins.op !== 'combine' || ins.adapt?.place === undefined) return
        const g = ins.adapt.place.point
        const to = p.points[g]!
        const starts = st.times?.get(g - 1)
        want.set(
          g,
          rowsOf(st.x, D).map((row, b) => pick(candidates(r.ns, r.window, to, starts?.[b] ?? p.points[g - 1]!, p.points[g + 1]), variance(row), to)),
        )
      })
      for (const [g, qs] of want) {
        const got = final.times?.get(g)
        assert.ok(got !== undefined, `point ${g} has no per-sample times`)
        qs.forEach((q, b) => {
          assert.equal(got[b]!.t, q.t, `point ${g}, row ${b}`) // exact: the same candidate
          checked++
        })
      }
    }),
    params,
  )
  assert.ok(checked > 100, `only ${checked} decisions checked`)
})

// -------------------------------------------------------------------------------------------------
// (c′) kept times stay inside the step: strictly cleaner than the row's start, strictly noisier than the next point
// -------------------------------------------------------------------------------------------------

/** the per-row points a kept shift placed, by grid point, at the end of a run (and the run's x) */
const keptTimes = (p: Prog.Program, m: Gmm.Gmm, xT: Vec): { readonly x: Vec; readonly times: ReadonlyMap<number, ReadonlyArray<NS.Point>> } => {
  const s = p.instrs.reduce(Prog.exec(F.env(Gmm.eps(m), { D: m.D })), Prog.initial(xT))
  return { x: s.x, times: s.times ?? new Map() }
}

test('regression: VE, 29-step λ-jittered explicit grid ending within the window of t0, cutoff 0, D = 1: finite (was NaN at step 28)', () => {
  // D = 1: Var(x_b) = 0, so every row takes its window's cleanest candidate; point 28 (t ≈ 0.0148) has t0 = 0.001 in its window
  const ns = O.schedules.ve
  const t = [
    1, 0.986352199013856, 0.972704398027712, 0.9044653930969924, 0.8908175921108483, 0.8771697911247043, 0.8089307861939846, 0.7952829852078407, 0.7816351842216966, 0.7242841292320601,
    0.6560451243013404, 0.6423973233151964, 0.6287495223290525, 0.5605105173983328, 0.5468627164121888, 0.5165627235424055, 0.4483237186116857, 0.4336318580611655, 0.36539285313044584,
    0.34689147183680835, 0.3332436708506643, 0.31591415812353374, 0.2946116489366832, 0.22637264400596346, 0.20760357501070534, 0.1929366092617526, 0.12577817833876306, 0.0830775120409891,
    0.014838507110269444, 0.001,
  ]
  const p = Prog.compileOrThrow(ns, 'eps')({ ...named('time-shift-dpmpp-2m').build({ nfe: 29, set: { cutoff: '0' } }), grid: Grid.explicit(t) })
  const g = Gmm.random(2, 1, 1)
  const r = keptTimes(p, g, O.startFor(g, ns, 1, 3))
  assert.ok(r.x.every(Number.isFinite))
  assert.ok(
    r.times.get(28)!.every((q) => q.lambda < p.points[29]!.lambda),
    'point 28 kept strictly noisier than t0',
  )
})

test("kept times: each row's time at point g is strictly cleaner than its time at g − 1 and strictly noisier than point g + 1, t > 0; runs are finite", () => {
  let placed = 0
  const arb = fc
    .record({
      ns: fc.constantFrom(...O.nonFlow, O.schedules.flow),
      n: fc.integer({ min: 2, max: 30 }),
      D: fc.integer({ min: 1, max: 3 }), // D = 1: Var ≡ 0, every row takes its window's cleanest candidate
      seed: fc.integer({ min: 1, max: 1e6 }),
      window: fc.integer({ min: 2, max: 40 }),
      cutoff: fc.constantFrom(0, 0, 100, 300),
      parity: fc.constantFrom('exact', 'reference'),
      explicit: fc.boolean(),
    })
    .chain((r) => (r.explicit ? O.arbExplicit(r.ns, r.n) : O.arbSpacing.map((spacing): Grid.Grid => ({ spacing, steps: r.n }))).map((grid) => ({ ...r, grid })))
  fc.assert(
    fc.property(arb, (r) => {
      const id = `${r.ns.name} ${r.grid.spacing} n ${r.n} D ${r.D} w ${r.window} cutoff ${r.cutoff} ${r.parity}`
      const p = Prog.compileOrThrow(r.ns, 'eps')({ ...named('time-shift-dpmpp-2m').build({ nfe: r.n, set: { window: String(r.window), cutoff: String(r.cutoff), parity: r.parity } }), grid: r.grid })
      const g = Gmm.random(2, r.D, r.seed)
      const { x, times } = keptTimes(p, g, O.startFor(g, r.ns, r.seed, 4))
      assert.ok(x.every(Number.isFinite), id)
      for (const [k, qs] of times)
        qs.forEach((q, b) => {
          const before = times.get(k - 1)?.[b] ?? p.points[k - 1]!
          assert.ok(q.t > 0 && q.lambda > before.lambda, `${id}: point ${k}, row ${b}: t ${q.t} not cleaner than ${before.t}`)
          if (k + 1 < p.points.length) assert.ok(q.lambda < p.points[k + 1]!.lambda, `${id}: point ${k}, row ${b}: t ${q.t} not noisier than point ${k + 1} (t ${p.points[k + 1]!.t})`)
          placed++
        })
    }),
    { seed: SEED, numRuns: 200 },
  )
  assert.ok(placed > 1000, `only ${placed} kept times checked`)
})

// -------------------------------------------------------------------------------------------------
// (c″) the model at per-sample times: one evaluation, row subsets, conditional models
// -------------------------------------------------------------------------------------------------

/** one model call: the batch rows it evaluated (Subset, or all) and its point */
interface Call {
  readonly rows: ReadonlyArray<number>
  readonly t: number
  readonly told: boolean
}

/** run instruction by instruction, recording each evaluation's model calls and the per-row points it should use */
const evaluations = (p: Prog.Program, model: F.Model, xT: Vec, D: number, o: F.Options = {}) => {
  const B = xT.length / D
  let calls: Call[] = []
  const env = F.env((x, at, subset) => (calls.push({ rows: subset?.rows ?? Array.from({ length: B }, (_v, b) => b), t: at.t, told: subset !== undefined }), model(x, at, subset)), { D, ...o })
  const evals: { readonly calls: ReadonlyArray<Call>; readonly want: ReadonlyArray<number> }[] = []
  const final = p.instrs.reduce((s, ins) => {
    calls = []
    const next = Prog.exec(env)(s, ins)
    if (ins.op === 'eval' && ins.analytic === undefined) evals.push({ calls, want: Array.from({ length: B }, (_v, b) => s.times?.get(ins.point)?.[b]?.t ?? ins.at.t) })
    return next
  }, Prog.initial(xT))
  return { evals, nfe: final.nfe, x: final.x }
}

test('one evaluation at per-sample times is one NFE: its calls partition the batch (told their rows), each row at its own time; Σ rows/B = interpreter = Program.nfe = S.nfe', () => {
  // the reported case: nfe 18 makes 19 model calls, 18 evaluations (one splits its 2 rows over 2 kept times)
  const s = named('time-shift-dpmpp-2m').build({ nfe: 18 })
  const p = Prog.compileOrThrow(O.schedules.vpLinear, 'eps')(s)
  const e = evaluations(p, Gmm.eps(Gmm.random(2, 2, 1)), Gmm.normals(4, 1), 2)
  assert.equal(e.evals.flatMap((v) => v.calls).length, 19)
  assert.deepEqual([e.evals.length, e.nfe, p.nfe, S.nfe(s)], [18, 18, 18, 18])
  let split = 0
  fc.assert(
    fc.property(arbRun, fc.constantFrom('time-shift-dpmpp-2m', 'time-shift-pndm', 'time-shift-ddim'), (r, id) => {
      const sr = { ...named(id).build({ nfe: id === 'time-shift-pndm' ? r.n + 1 : r.n, set: { window: String(r.window), cutoff: String(r.cutoff) } }), grid: r.grid }
      const pr = Prog.compileOrThrow(r.ns, 'eps')(sr)
      const ev = evaluations(pr, Gmm.eps(r.gmm), xTOf(r), r.gmm.D)
      for (const { calls, want } of ev.evals) {
        const rows = calls.flatMap((c) => c.rows).sort((a, b) => a - b)
        assert.deepEqual(
          rows,
          want.map((_v, b) => b),
          `${id}: the calls of one evaluation cover every row exactly once`,
        )
        for (const c of calls) for (const b of c.rows) assert.equal(c.t, want[b], `${id}: row ${b} evaluated at its own time`)
        assert.ok(calls.length === 1 || calls.every((c) => c.told), `${id}: calls on some rows are told which`)
        if (calls.length > 1) split++
      }
      const rowsPerB = ev.evals.reduce((a, v) => a + v.calls.reduce((k, c) => k + c.rows.length, 0), 0) / r.B
      assert.deepEqual([rowsPerB, ev.nfe, pr.nfe], [ev.evals.length, ev.evals.length, ev.evals.length], `${id}: NFE`)
      assert.equal(S.nfe(sr), pr.nfe, `${id}: SolverSchedule.nfe`)
    }),
    params,
  )
  assert.ok(split > 20, `only ${split} evaluations split over several times`)
})

/** a conditional network (Guidance.Conditional): ε of the mixture at x − α·c, c one row per sample */
const shiftedNet = (g: Gmm.Gmm): G.Conditional<Vec> => ({
  param: 'eps',
  call: (x, at, c) =>
    Gmm.eps(g)(
      x.map((v, k) => v - at.alpha * c[k]!),
      at,
    ),
})

test('per-row conditional models follow the row subsets (MR μ, CFG conditions): the batch run = each row run alone; a model not told the rows fails clearly', () => {
  const mr = MR.schedule({ lambdaInf: 0.3 })
  let split = 0
  fc.assert(
    fc.property(arbRun, fc.boolean(), fc.integer({ min: 2, max: 6 }), (r0, cfg, B) => {
      const r = { ...r0, B, ns: cfg ? r0.ns : mr }
      const D = r.gmm.D
      const p = Prog.compileOrThrow(r.ns, 'eps')({ ...named('time-shift-dpmpp-2m').build({ nfe: r.n, set: { window: String(r.window), cutoff: String(r.cutoff) } }), grid: r.grid })
      const cond = Gmm.normals(B * D, r.seed + 2).map((v) => 0.5 * v)
      const xT = xTOf(r).map((v, k) => v + (cfg ? 0 : cond[k]!))
      /** rows `rows` of the batch, run alone */
      const runOn = (rows: ReadonlyArray<number>) => {
        const take = (v: Vec) => F.takeRows(v, rows, B)
        const c = take(cond)
        const model: F.Model = cfg ? G.cfg(G.float64(D))({ w: 3, cond: c, uncond: new Float64Array(c.length) })(shiftedNet(r.gmm)).call : MR.eps(r.gmm, c)
        return evaluations(p, model, take(xT), D, cfg ? {} : { mu: c })
      }
      const all = runOn(Array.from({ length: B }, (_v, b) => b))
      split += all.evals.filter((v) => v.calls.length > 1).length
      const alone = F.putRows(Array.from({ length: B }, (_v, b) => [[b], runOn([b]).x] as const))
      assert.ok(O.relErr(all.x, alone) <= 1e-12, `${cfg ? 'CFG' : 'MR'}: batch vs rows alone ${O.relErr(all.x, alone)}`) // rounding
    }),
    { seed: SEED, numRuns: 40 },
  )
  assert.ok(split > 10, `only ${split} evaluations split over several times`)
  // told nothing (a wrapper that drops the Subset), or an instance that cannot take rows: an error, never the first rows' conditions
  const g = Gmm.random(2, 3, 4)
  const p = Prog.compileOrThrow(mr, 'eps')(named('time-shift-dpmpp-2m').build({ nfe: 12, set: { cutoff: '0' } }))
  const mu = Gmm.normals(18, 5)
  const xT = O.startFor(g, mr, 6, 6).map((v, k) => v + mu[k]!)
  assert.throws(
    () => F.run(p, (x, at) => MR.eps(g, mu)(x, at), { D: 3, mu })(xT),
    /μ has 18 values, x has \d+ \(one condition row per sample; a model called on some rows must be told which: Subset\)/,
  )
  const { take: _t, ...noTake } = G.float64(3)
  const guided = G.cfg(noTake)({ w: 3, cond: mu, uncond: new Float64Array(18) })(shiftedNet(g)).call
  assert.throws(
    () => F.run(Prog.compileOrThrow(O.schedules.vpLinear, 'eps')(named('time-shift-dpmpp-2m').build({ nfe: 12, set: { cutoff: '0' } })), guided, { D: 3 })(O.startFor(g, O.schedules.vpLinear, 6, 6)),
    /classifier-free guidance: the model is called on \d of 6 rows .*Batch\.take/,
  )
})

// -------------------------------------------------------------------------------------------------
// (d) codec
// -------------------------------------------------------------------------------------------------

test('codec: after a kept shift, a step starting there cannot churn, run Langevin or use a first-order noise level (path named)', () => {
  const base = named('time-shift-dpmpp-2m').build({ nfe: 6 })
  const bad: ReadonlyArray<readonly [Partial<S.StepDecision>, string]> = [
    [{ noise: { level: 'ddim', eta: 1 } }, 'noise.level'],
    [{ churn: { gamma: 0.1 } }, 'churn'],
    [{ langevin: { snr: 0.1, steps: 1 } }, 'langevin'],
  ]
  for (const [extra, key] of bad) {
    const steps = base.steps.map((d, i) => (i === 3 ? { ...d, order: 1, ...extra } : d))
    const issues = C.check({ ...base, steps })
    assert.ok(
      issues.some((x) => x.path === `steps[3].${key}` && /steps\[2\]\.timeShift\.keep/.test(x.message)),
      JSON.stringify(issues),
    )
  }
  assert.deepEqual(C.check(base), [])
  assert.ok(C.check({ ...base, steps: base.steps.map((d, i) => (i === 2 ? { ...d, momentum: { kind: 'hb', beta: 0.5 } } : d)) }).some((x) => x.path === 'steps[2].momentum'))
})

test('explain describes the adaptation: shifted steps, and steps whose points have per-sample times', () => {
  const p = Prog.compileOrThrow(O.schedules.vpLinear, 'eps')(named('time-shift-dpmpp-2m').build({ nfe: 6, set: { cutoff: '0', parity: 'reference' } }))
  const text = Trace.explain(p)
  assert.match(text, /time-shift: per-sample target in a window of 30 around t = \S+ \(Var\(model output\) ≈ σ²\), times kept/)
  assert.match(text, /m̂ = /) // the measured model output, materialised (x̂0 from an ε model)
  const q = Prog.compileOrThrow(O.schedules.vpLinear, 'eps')(named('time-shift-dpmpp-2m').build({ nfe: 12, set: { cutoff: '500' } }))
  assert.match(Trace.explain(q), /per-sample coefficients \(points \d+(, \d+)* at per-sample times\)/) // steps after the last shift
})

// -------------------------------------------------------------------------------------------------
// (e) Tfjs
// -------------------------------------------------------------------------------------------------

/** the smallest gap, over every shift decision of a Float64 run, between the best and the second-best |Var − σ²| */
const margin = (p: Prog.Program, g: Gmm.Gmm, xT: Vec, D: number, ns: NS.NoiseSchedule = O.schedules.vpLinear, model: F.Model = Gmm.eps(g), o: F.Options = {}): number => {
  let m = Infinity
  trace(p, F.env(model, { D, ...o }), xT, (st, ins) => {
    if (ins.op !== 'combine' || ins.adapt === undefined || ins.adapt.measure.length === 0) return
    const info = p.steps[ins.step]!
    const w = info.decision.timeShift!.window
    const measured = ins.adapt.measure[0]!
    const v = measured.kind === 'x' ? st.entries.get(measured.id)!.x : st.x
    const starts = st.times?.get(ins.step)
    rowsOf(v, D).forEach((row, b) => {
      const ds = candidates(ns, w, info.to, starts?.[b] ?? p.points[ins.step]!, info.decision.timeShift!.keep === true ? p.points[ins.step + 2] : undefined)
        .map((q) => Math.abs(variance(row) - q.sigma ** 2))
        .sort((a, c) => a - c)
      if (ds.length > 1) m = Math.min(m, ds[1]! - ds[0]!)
    })
  })
  return m
}

before(() => T.init('wasm'))
after(() => T.init('wasm'))

test('Tfjs agrees with Float64 (per-row coefficients and model calls) where decisions are separated by > 1e-4; no tensor leaks', () => {
  const ns = O.schedules.vpLinear
  let used = 0
  fc.assert(
    fc.property(
      fc.constantFrom('time-shift-dpmpp-2m', 'time-shift-pndm', 'time-shift-ddim'),
      fc.integer({ min: 4, max: 16 }),
      fc.integer({ min: 2, max: 12 }),
      fc.integer({ min: 1, max: 1e6 }),
      fc.constantFrom('5', '10', '30'),
      (id, nfe, D, seed, window) => {
        const g = Gmm.random(2, D, seed)
        const xT = Gmm.normals(12 * D, seed + 1).map(Math.fround)
        const p = Prog.compileOrThrow(ns, 'eps')(named(id).build({ nfe, set: { window, cutoff: '100' } }))
        fc.pre(margin(p, g, xT, D) > 1e-4) // float32 Var(x) differs by ~1e-6: a closer decision may legitimately flip
        used++
        const exact = F.run(p, Gmm.eps(g), { D })(xT).x
        const model = TfjsGmm.eps(g)
        const x = T.fromFloat64(xT, D)
        const baseline = tf.memory().numTensors
        const r = T.run(p, model)(x)
        const got = T.toFloat64(r.x)
        r.x.dispose()
        assert.equal(tf.memory().numTensors, baseline, `${id}: tensors left after the run`)
        x.dispose()
        model.dispose()
        const d = O.relErr(got, exact)
        assert.ok(d <= 1e-4, `${id} nfe ${nfe} D ${D} seed ${seed} w ${window}: relative |Tfjs − Float64| = ${d}`) // float32: 1e-4 relative
      },
    ),
    { seed: SEED, numRuns: 30 },
  )
  assert.ok(used >= 15, `only ${used} cases had separated decisions`)
})

test('Tfjs mean-reverting at kept per-sample times (μ rows gathered per call) agrees with Float64 where decisions are separated; no leaks', () => {
  const ns = MR.schedule({ lambdaInf: 0.3 })
  let used = 0
  fc.assert(
    fc.property(fc.integer({ min: 4, max: 16 }), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 1e6 }), fc.constantFrom('5', '10', '30'), (nfe, D, seed, window) => {
      const g = Gmm.random(2, D, seed)
      const mu = Gmm.normals(8 * D, seed + 2).map((v) => Math.fround(0.5 * v))
      const xT = Gmm.normals(8 * D, seed + 1).map((v, k) => Math.fround(v + mu[k]!))
      const p = Prog.compileOrThrow(ns, 'eps')(named('time-shift-dpmpp-2m').build({ nfe, set: { window, cutoff: '100' } }))
      fc.pre(margin(p, g, xT, D, ns, MR.eps(g, mu), { mu }) > 1e-4)
      used++
      const exact = F.run(p, MR.eps(g, mu), { D, mu })(xT).x
      const muT = T.fromFloat64(mu, D)
      const model = TfjsGmm.meanReverting(g, muT)
      const x = T.fromFloat64(xT, D)
      const baseline = tf.memory().numTensors
      const r = T.run(p, model, { mu: muT })(x)
      const got = T.toFloat64(r.x)
      r.x.dispose()
      assert.equal(tf.memory().numTensors, baseline, 'tensors left after the run')
      tf.dispose([x, muT])
      model.dispose()
      const d = O.relErr(got, exact)
      assert.ok(d <= 1e-4, `nfe ${nfe} D ${D} seed ${seed} w ${window}: relative |Tfjs − Float64| = ${d}`) // float32: 1e-4 relative
    }),
    { seed: SEED, numRuns: 20 },
  )
  assert.ok(used >= 10, `only ${used} cases had separated decisions`)
})
