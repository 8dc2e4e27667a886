/**
 * A compiled program: the schedule resolved against a noise schedule and a model parameterization,
 * with every coefficient computed as a float64 number. Values are touched only through the
 * `Linear` algebra, the model and a few optional capabilities (noise, per-row statistics, per-row
 * coefficients, the mean-reverting condition μ), so one generic fold (`run`) serves every interpreter.
 */
import * as DpmV3 from './DpmV3.ts'
import * as Grid from './Grid.ts'
import * as NS from './NoiseSchedule.ts'
import type * as Noise from './Noise.ts'
import * as P from './Parameterization.ts'
import * as R from './Rule.ts'
import * as S from './SolverSchedule.ts'
import type { Linear } from './Linear.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * a value an instruction reads: entry `id`'s state x (the committed x after a pseudo corrector),
 * the x at which the model was evaluated (`xe`), the model output (`out`), the entry's momentum
 * value (`vel`, GHVB); a register (`reg`, heavy-ball velocity); a fresh Gaussian draw keyed by
 * (seed, sample, step, stream) (`noise`); the mean-reverting condition μ (`mu`)
 */
export type Ref =
  | { readonly kind: 'x' | 'xe' | 'out' | 'vel'; readonly id: number }
  | { readonly kind: 'cur' }
  | { readonly kind: 'reg'; readonly name: string }
  | { readonly kind: 'noise'; readonly stream: number }
  | { readonly kind: 'mu' }
  /** the all-ones value (DPM-Solver-v3's per-dimension constant term, with a per-column coefficient) */
  | { readonly kind: 'one' }

/** c·value */
export type Term = readonly [number, Ref]

/** where a combine writes: the current x (default), a register, or an entry's momentum value */
export type Target = { readonly kind: 'x' } | { readonly kind: 'reg'; readonly name: string } | { readonly kind: 'vel'; readonly id: number }

/** a coefficient: one number, one per row (per-sample times), or one per column (per-dimension, DPM-Solver-v3) */
export type Coef = number | { readonly rows: Float64Array } | { readonly cols: Float64Array }

/** per-row statistics of a [B, D] value: mean, unbiased variance and Euclidean norm of each row */
export interface RowStats {
  readonly mean: Float64Array
  readonly variance: Float64Array
  readonly norm: Float64Array
}

/** the per-row points of grid point g where a kept time shift moved its samples (undefined: every row at the nominal point) */
export type RowPoints = (g: number) => ReadonlyArray<NS.Point> | undefined

/**
 * data-dependent coefficients: measure some values, then compute one coefficient per term (given the
 * per-row points of moved grid points); `place` stores per-row points for grid point `point` (a time
 * shift that keeps its times: the next evaluation and λ-differences use them)
 */
export interface Adapt {
  readonly measure: ReadonlyArray<Ref>
  readonly coefs: (stats: ReadonlyArray<RowStats>, rows: RowPoints) => ReadonlyArray<Coef>
  readonly place?: { readonly point: number; readonly at: (stats: ReadonlyArray<RowStats>, rows: RowPoints) => ReadonlyArray<NS.Point> }
  /** how the coefficients adapt (for explanations) */
  readonly describe: string
}

/** a symbolic term for explanations: c·x_k, c·ε_k, c·x0_k at grid point k, or a named value (z, μ, v) */
export type SymTerm = readonly [number, { readonly value: 'x' | 'eps' | 'x0'; readonly point: number } | { readonly value: 'named'; readonly name: string }]

/** what a combine does: advance x (predictor/corrector), denoise at the end, raise the noise level (churn), update a momentum value, a Langevin move (langevin) */
export type Role = 'predictor' | 'corrector' | 'denoise' | 'churn' | 'momentum' | 'langevin'

/** one instruction of a compiled program */
export type Instr =
  /** out = model(x, at) (or out = analytic·x for USF's zero-x0 first step); a new history entry {x, xe: x, out} */
  | { readonly op: 'eval'; readonly step: number; readonly id: number; readonly point: number; readonly at: NS.Point; readonly analytic?: number }
  /** target ← Σ c·v (coefficients from `adapt` when present); with `commit`, entry `commit` takes the new x (pseudo corrector) */
  | {
      readonly op: 'combine'
      readonly step: number
      readonly role: Role
      readonly terms: ReadonlyArray<Term>
      readonly symbolic: ReadonlyArray<SymTerm>
      readonly into?: Target
      readonly commit?: number
      readonly adapt?: Adapt
    }
  /** entries no longer needed */
  | { readonly op: 'drop'; readonly ids: ReadonlyArray<number> }

/** per-step facts: what the laws check */
export interface StepInfo {
  readonly index: number
  readonly from: NS.Point
  readonly to: NS.Point
  readonly decision: S.StepDecision
  readonly order: number
}

/** a compiled program: resolved points, instructions with float64 coefficients, per-step facts, NFE and history depth */
export interface Program {
  readonly schedule: S.SolverSchedule
  readonly points: ReadonlyArray<NS.Point>
  readonly instrs: ReadonlyArray<Instr>
  readonly steps: ReadonlyArray<StepInfo>
  readonly nfe: number
  /** most entries alive at once */
  readonly historyDepth: number
  /** whether the program draws noise (needs `Env.normal`) */
  readonly usesNoise: boolean
}

/**
 * which rows of the B-row batch a model call holds: at per-sample times (a kept time shift) one evaluation
 * calls the model once per distinct time, on the rows at that time (`rows`, increasing, of `of` = B)
 */
export interface Subset {
  readonly rows: ReadonlyArray<number>
  readonly of: number
}

/** what a program needs from a value type: the linear algebra, the model, and the capabilities it uses */
export interface Env<V> extends Linear<V> {
  /**
   * the model on the batch at one point; `subset`: x holds only those rows of the batch (per-sample times). A model
   * conditioned per row (mean-reverting μ, a CFG condition, labels) must take the same rows of its condition, or throw
   */
  readonly model: (x: V, at: NS.Point, subset?: Subset) => V
  /** called for values the program no longer holds (tfjs disposes them) */
  readonly release?: (v: V) => void
  /** called after every combine with the step index; throws to stop on a bad value */
  readonly check?: (x: V, step: number, role: string) => void
  /** counter-based N(0, I) draw shaped like `like` (stochastic steps) */
  readonly normal?: (key: Noise.Key, like: V) => V
  /** per-row statistics (time-shift, Langevin) */
  readonly stats?: (v: V) => RowStats
  /** Σ cᵢ·vᵢ with per-row or per-column coefficients */
  readonly lincombWide?: (terms: ReadonlyArray<readonly [Coef, V]>) => V
  /** the mean-reverting condition μ (mean-reverting schedules) */
  readonly mu?: V
  /** rows `rows` of a B-row value, and the value assembled from (rows, part) pairs (the model at per-sample times) */
  readonly rows?: {
    readonly take: (v: V, rows: ReadonlyArray<number>, B: number) => V
    readonly put: (parts: ReadonlyArray<readonly [ReadonlyArray<number>, V]>) => V
  }
  /** the all-ones value shaped like `like` (DPM-Solver-v3 steps) */
  readonly ones?: (like: V) => V
}

/** one evaluation: the point's state x, the x the model saw, the model's output, and its momentum value */
export interface Entry<V> {
  readonly x: V
  readonly xe: V
  readonly out: V
  readonly vel?: V
}

/** the interpreter state: current x, live history entries, registers (momentum), NFE so far */
export interface State<V> {
  readonly x: V
  readonly entries: ReadonlyMap<number, Entry<V>>
  readonly regs?: ReadonlyMap<string, V>
  readonly nfe: number
  /** per-row points of the grid points a kept time shift moved (grid point → one point per row) */
  readonly times?: ReadonlyMap<number, ReadonlyArray<NS.Point>>
}

// -------------------------------------------------------------------------------------------------
// utils: linear forms over refs
// -------------------------------------------------------------------------------------------------

type Form = ReadonlyArray<Term>

const scale = (c: number, f: Form): Form => f.map(([k, r]) => [c * k, r] as const)
const plus = (...fs: ReadonlyArray<Form>): Form => fs.flat()
const refKey = (r: Ref): string => ('id' in r ? `${r.kind}${r.id}` : r.kind === 'reg' ? `reg:${r.name}` : r.kind === 'noise' ? `z${r.stream}` : r.kind)

/** grid point → the point a form is built at (nominal, or one row's per-sample point) */
type At = (g: number) => NS.Point

/** the distinct refs of a form (coefficient 1, zeros kept: every ref some row may need) */
const refsOf = (f: Form): ReadonlyArray<Term> => [...new Map(f.map(([, r]) => [refKey(r), r] as const)).values()].map((r) => [1, r] as const)

/** ref key → summed coefficient */
const coefMap = (f: Form): ReadonlyMap<string, number> => {
  const m = new Map<string, number>()
  for (const [c, r] of f) m.set(refKey(r), (m.get(refKey(r)) ?? 0) + c)
  return m
}

/** equal refs merged (coefficients summed), zeros dropped, first-appearance order */
const tidy = (f: Form): Form => {
  const by = new Map<string, [number, Ref]>()
  for (const [c, r] of f) {
    const k = refKey(r)
    const prev = by.get(k)
    by.set(k, [(prev?.[0] ?? 0) + c, r])
  }
  return [...by.values()].filter(([c]) => c !== 0).map(([c, r]) => [c, r] as const)
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the rule of a step (or of its corrector) */
const ruleOf = (
  prediction: P.Prediction,
  basis: R.Basis | undefined,
  relaxation: R.Relaxation | undefined,
  halve: boolean,
  implicit: boolean,
  eta = 0,
  abBeta = 1,
): R.Rule => ({
  prediction,
  basis: basis ?? 'lambda',
  relaxation: relaxation ?? 'none',
  halveSecondDerivative: halve,
  implicit,
  eta,
  abBeta,
})

/** the noise level s of the first-order stochastic family x_t = α_t·x0 + sqrt(σ_t² − s²)·ε̂ + s·z (§11.1) */
const noiseLevel = (n: S.Noise, from: NS.Point, to: NS.Point): number => {
  const h = to.lambda - from.lambda
  const base = to.sigma * Math.sqrt(-Math.expm1(-2 * h))
  switch (n.level) {
    case 'ddim':
      return n.eta * base
    case 'ancestral':
      return Math.min(to.sigma, n.eta * base)
    case 'sde':
      return to.sigma * Math.sqrt(-Math.expm1(-2 * n.eta * h))
    case 'reverse-diffusion':
    case 'euler-maruyama':
      throw new Error(`internal: noise level ${n.level} is not of the form α_t·x0 + sqrt(σ_t² − s²)·ε̂ + s·z`)
  }
}

/**
 * the SDE step's noise std: data σ_t·sqrt(1 − e^{−2ηh}); noise form (SDE-DPM-Solver, MRS) σ_t·sqrt(η·expm1(2h)),
 * written α_t·e^{−λ_s}·sqrt(η·(1 − e^{−2h})) so it stays finite into σ_t = 0
 */
const sdeNoise = (prediction: P.Prediction, eta: number, from: NS.Point, to: NS.Point): number => {
  const h = to.lambda - from.lambda
  return prediction === 'data' ? to.sigma * Math.sqrt(-Math.expm1(-2 * eta * h)) : to.alpha * Math.exp(-from.lambda) * Math.sqrt(-eta * Math.expm1(-2 * h))
}

/** DDPM 'fixed_large' multiplies the injected noise by σ_s/σ_t (= sqrt(β/β̃) on VP; none into σ_t = 0); 'small' (default) by 1 */
const varianceFactor = (n: S.Noise | undefined, from: NS.Point, to: NS.Point): number =>
  n?.variance !== 'large' ? 1 : to.sigma > 0 ? from.sigma / to.sigma : 0

/** the reverse SDE's drift and squared diffusion at t: f = d log α/dt, g² = dσ²/dt − 2fσ² = −2σ²·dλ/dt (central differences, δ = 1e-5·t) */
const driftDiffusion = (ns: NS.NoiseSchedule, t: number): { readonly f: number; readonly g2: number } => {
  const dt = 1e-5 * t
  const f = (Math.log(ns.alpha(t + dt)) - Math.log(ns.alpha(t - dt))) / (2 * dt)
  const dl = (ns.lambda(t + dt) - ns.lambda(t - dt)) / (2 * dt)
  return { f, g2: -2 * ns.sigma(t) ** 2 * dl }
}

/**
 * Score-SDE predictors (§11.3) on ε̂, for the reverse SDE dx = [f·x − ½(1+η²)g²·ŝ]dt + η·g·dw̄, ŝ = −ε̂/σ:
 * x_t = A·x_s − ½(1+η²)(G²/σ_s)·ε̂_s + η·G·z with reverse diffusion A = 2 − α_s/α_t, G² = α_s²(σ̄_s² − σ̄_t²)
 * (VP: A = 2 − sqrt(1 − β), G² = β; VE: A = 1, G² = σ_s² − σ_t²), Euler–Maruyama A = 1 − f_sΔ, G² = g_s²Δ, Δ = s − t
 */
const sdePredictor = (ns: NS.NoiseSchedule, n: S.Noise, from: NS.Point, to: NS.Point): { readonly onStart: number; readonly onEps: number; readonly onZ: number } => {
  const em = n.level === 'euler-maruyama' ? driftDiffusion(ns, from.t) : undefined
  const dt = from.t - to.t
  const A = em === undefined ? 2 - from.alpha / to.alpha : 1 - em.f * dt
  const G2 = em === undefined ? from.alpha ** 2 * (Math.exp(-2 * from.lambda) - Math.exp(-2 * to.lambda)) : em.g2 * dt
  return { onStart: A, onEps: (-0.5 * (1 + n.eta ** 2) * G2) / from.sigma, onZ: n.eta * Math.sqrt(G2) * (n.sNoise ?? 1) }
}

/** what a compile may need besides the noise schedule: the model's EMS (steps with `ems`, DPM-Solver-v3) */
export interface CompileOptions {
  readonly ems?: DpmV3.Ems
}

/**
 * compile a schedule: resolve the grid on `ns`, compute every coefficient, fold the prediction
 * conversions into the model's native output `param`, and plan when entries are released.
 */
export const compile = (ns: NS.NoiseSchedule, param: P.Parameterization = 'eps', opts: CompileOptions = {}) => (s: S.SolverSchedule): Program => {
  const nominal = Grid.points(ns)(s.grid) // grid.final sigma0: the last point is exactly σ = 0, λ = ∞
  if (nominal.length !== s.steps.length + 1)
    throw new Error(`grid has ${nominal.length - 1} intervals but the schedule has ${s.steps.length} steps`)
  const points: NS.Point[] = [...nominal] // churn may move a point before it is evaluated
  const mr = ns.meanReverting === true
  const instrs: Instr[] = []
  const infos: StepInfo[] = []
  const entryOf = new Map<number, number>() // grid point → entry id
  const predOfEntry = new Map<number, P.Prediction>()
  let nextId = 0
  let fresh = false
  let nfe = 0
  let usesNoise = false
  const velAt = new Map<number, P.Prediction>() // entry id → prediction type of its GHVB momentum value
  const regs = new Map<string, { readonly prediction: P.Prediction; readonly sigma: number }>() // HB/NT registers: prediction, σ of the last update
  const pointOfEntry = new Map<number, number>() // entry id → grid point
  const movable = new Set<number>() // grid points a kept time shift moves per sample

  const evalAt = (step: number, g: number, analytic?: number) => {
    const id = nextId++
    entryOf.set(g, id)
    pointOfEntry.set(id, g)
    if (analytic === undefined) nfe++
    instrs.push({ op: 'eval', step, id, point: g, at: points[g]!, ...(analytic === undefined ? {} : { analytic }) })
    return id
  }
  const entry = (g: number): number => {
    const id = entryOf.get(g)
    if (id === undefined) throw new Error(`grid point ${g} has no evaluation`)
    return id
  }
  /** the prediction m (y-space for mean-reverting schedules) at grid point g (at point q: per-sample times) as a form over the entry's (xe, out, μ) */
  const pred = (p: P.Prediction, g: number, q: NS.Point = points[g]!): Form => {
    const id = entry(g)
    const a = P.toPrediction(param, p, ns.vScale)(q)
    // mean-reverting: m_y = a.x·(x − μ) + a.out·(out − κ·μ), κ = the native output's μ content (the clean x0: 1)
    return plus([[a.x, { kind: 'xe', id }], [a.out, { kind: 'out', id }]], mr ? [[-(a.x + P.muContent(param) * a.out), { kind: 'mu' }]] : [])
  }
  const sym = (c: number, p: P.Prediction, g: number): SymTerm => [c, { value: p === 'data' ? 'x0' : 'eps', point: g }]
  const muShift = (A: number): Form => (mr ? [[1 - A, { kind: 'mu' }]] : [])
  const combine = (step: number, role: Role, f: Form, symbolic: ReadonlyArray<SymTerm>, extra: { into?: Target; commit?: number; adapt?: Adapt } = {}) =>
    instrs.push({ op: 'combine', step, role, terms: tidy(f), symbolic, ...extra })
  // --- per-sample points (time shift that keeps its times), momentum registers: see solver-math §5, §6 ---
  const nominalAt: At = (g) => points[g]!
  /** row b's points: its own where a kept time shift moved the grid point, else the nominal ones */
  const rowAt = (rows: RowPoints, b: number): At => (g) => rows(g)?.[b] ?? points[g]!
  /** the moved grid points a form reads (through its entries) */
  const movedIn = (f: Form): ReadonlyArray<number> => [...new Set(f.flatMap(([, r]) => ('id' in r ? [pointOfEntry.get(r.id)!] : [])))].filter((g) => movable.has(g))
  /** memo key of row b's points of the moved grid points `gs` */
  const keyOf = (rows: RowPoints, b: number, gs: ReadonlyArray<number>): string => gs.map((g) => rowAt(rows, b)(g).t).join('|')
  /**
   * target ← build(at): one combine with float64 coefficients when no point the form reads was moved per sample,
   * else per-row coefficients, each row's form built at its own points
   */
  const emit = (step: number, role: Role, build: (at: At) => Form, symbolic: ReadonlyArray<SymTerm>, extra: { into?: Target; commit?: number } = {}) => {
    const f = build(nominalAt)
    const moved = movedIn(f)
    if (moved.length === 0) {
      combine(step, role, f, symbolic, extra)
      return
    }
    const terms = refsOf(f)
    const coefs = (_: ReadonlyArray<RowStats>, rows: RowPoints): ReadonlyArray<Coef> => {
      const B = rows(moved[0]!)?.length ?? 0
      return perRow(terms, B, (b) => [keyOf(rows, b, moved), () => build(rowAt(rows, b))])
    }
    instrs.push({ op: 'combine', step, role, terms, symbolic, ...extra, adapt: { measure: [], coefs, describe: `per-sample coefficients (points ${moved.join(', ')} at per-sample times)` } })
  }
  /**
   * the time-shifted predictor (§6.2): per sample b the target is the candidate t̂ (`shiftCandidates`) cleaner than the row's
   * start minimising |Var_b − σ²(t̂)| (the first on ties), Var_b measured on `measure`; coefficients become per-row vectors;
   * with `keep` the chosen t̂ become grid point g's per-sample times (the next evaluation and λ-differences use them), so t̂
   * must also stay strictly noisier than grid point g + 1, the next step's nominal target: λ_start < λ(t̂) < λ_{g+1}. No
   * candidate inside: the nominal point g, which is inside by induction (the row's start is noisier than g). Every step
   * of a row then has h > 0 (without the bound a kept t̂ at or past point g + 1 gave h ≤ 0: NaN, or a step backwards)
   */
  const emitShifted = (step: number, shift: S.TimeShift, startG: number, g: number, build: (at: At, target: NS.Point) => Form, symbolic: ReadonlyArray<SymTerm>, measure: Ref) => {
    const to = points[g]! // the nominal target and, with keep, the next one, as compiled (a later churn may move points)
    const keep = shift.keep === true
    const hi = keep && g + 1 < points.length ? points[g + 1]!.lambda : Infinity
    const cands = shiftCandidates(ns, shift, to).filter((q) => q.lambda < hi)
    const all = plus(...cands.map((q) => build(nominalAt, q)))
    const terms = refsOf(all)
    const moved = movedIn(all)
    const choose = ([st]: ReadonlyArray<RowStats>, rows: RowPoints): ReadonlyArray<NS.Point> =>
      Array.from(st!.variance, (v, b) => {
        const lo = rowAt(rows, b)(startG).lambda
        return cands.reduce<NS.Point | undefined>((best, q) => (q.lambda > lo && (best === undefined || Math.abs(v - q.sigma ** 2) < Math.abs(v - best.sigma ** 2)) ? q : best), undefined) ?? to
      })
    const coefs = (stats: ReadonlyArray<RowStats>, rows: RowPoints): ReadonlyArray<Coef> => {
      const qs = choose(stats, rows)
      return perRow(terms, qs.length, (b) => [`${qs[b]!.t}|${keyOf(rows, b, moved)}`, () => build(rowAt(rows, b), qs[b]!)])
    }
    const describe = `time-shift: per-sample target in a window of ${shift.window} around t = ${points[g]!.t.toPrecision(4)} (Var(${shift.stat === 'output' ? 'model output' : 'x'}) ≈ σ²)${keep ? ', times kept' : ''}`
    instrs.push({ op: 'combine', step, role: 'predictor', terms, symbolic, adapt: { measure: [measure], coefs, describe, ...(keep ? { place: { point: g, at: choose } } : {}) } })
    if (keep) movable.add(g)
  }
  /**
   * heavy ball / Nesterov velocity in register `name`: v ← d the first time (or after a change of prediction), else
   * v ← (1 − β)·k·v + β·d; k = 1, or σ_t/σ_t′ (previous update) with parity 'reference' (momentum-diffusion's UniPC EMA of d/σ_t)
   */
  const velocity = (step: number, name: string, m: S.Momentum, prediction: P.Prediction, sigma: number, dir: (at: At) => Form) => {
    const prev = regs.get(name)
    const first = prev?.prediction !== prediction
    const k = m.parity === 'reference' && prev !== undefined ? sigma / prev.sigma : 1
    const v: Ref = { kind: 'reg', name }
    emit(step, 'momentum', (at) => (first ? dir(at) : plus(scale(m.beta, dir(at)), [[(1 - m.beta) * k, v]])), first
      ? [[1, { value: 'named', name: 'direction' }]]
      : [[m.beta, { value: 'named', name: 'direction' }], [(1 - m.beta) * k, { value: 'named', name }]], { into: { kind: 'reg', name } })
    regs.set(name, { prediction, sigma })
  }
  /**
   * Langevin corrector at grid point i (§11.3): per iteration k one evaluation, then x ← x − (ε_L/σ)·ε̂ + sqrt(2ε_L)·z
   * (z on stream 2 + k), ε_L = 2a·(snr·‖z‖/‖ŝ‖)², a = (α_i/α_{i+1})²; 'expected' norms: ε_L = 2a·(snr·σ)², else per-row coefficients
   */
  const langevin = (i: number, lv: S.Langevin) => {
    const p = points[i]!
    const a = (p.alpha / points[i + 1]!.alpha) ** 2
    const norms = lv.norms ?? 'expected'
    usesNoise = usesNoise || lv.snr > 0
    for (let k = 0; k < lv.steps; k++) {
      evalAt(i, i)
      const z: Ref = { kind: 'noise', stream: 2 + k }
      const eps = tidy(pred('noise', i))
      const zSym = { value: 'named', name: `z[${i},langevin ${k}]` } as const
      if (norms === 'expected') {
        const eL = 2 * a * (lv.snr * p.sigma) ** 2
        combine(i, 'langevin', plus([[1, { kind: 'cur' }]], scale(-eL / p.sigma, eps), [[Math.sqrt(2 * eL), z]]), [
          [1, { value: 'x', point: i }],
          [-eL / p.sigma, { value: 'eps', point: i }],
          [Math.sqrt(2 * eL), zSym],
        ])
        continue
      }
      // ‖ε̂‖ is measured on the one ref ε̂ is a multiple of (the native output for 'eps'), else on a register
      const single = eps.length === 1 ? eps[0]! : undefined
      if (single === undefined) combine(i, 'langevin', eps, [[1, { value: 'eps', point: i }]], { into: { kind: 'reg', name: 'ε̂' } })
      const epsRef: Ref = single?.[1] ?? { kind: 'reg', name: 'ε̂' }
      const epsScale = single === undefined ? 1 : Math.abs(single[0])
      const unit = plus([[1, { kind: 'cur' }]], single === undefined ? [[-1 / p.sigma, epsRef]] : scale(-1 / p.sigma, eps), [[1, z]])
      const terms = unit.map(([, r]) => [1, r] as const)
      const mean = (v: Float64Array) => v.reduce((x, y) => x + y, 0) / v.length
      instrs.push({
        op: 'combine',
        step: i,
        role: 'langevin',
        terms,
        symbolic: [[1, { value: 'x', point: i }], [-1 / p.sigma, { value: 'named', name: `ε_L·ε[${i}]` }], [1, { value: 'named', name: `sqrt(2ε_L)·z[${i},langevin ${k}]` }]],
        adapt: {
          measure: [epsRef, z],
          describe: `Langevin: ε_L = 2a·(snr·‖z‖/‖ŝ‖)² with ${norms === 'batch' ? 'batch-averaged' : 'per-sample'} norms (snr ${lv.snr}, a = ${a.toPrecision(6)})`,
          coefs: ([se, sz]) => {
            const step = (zn: number, en: number) => (en === 0 ? 0 : 2 * a * ((lv.snr * zn * p.sigma) / (epsScale * en)) ** 2)
            const eL = norms === 'batch' ? step(mean(sz!.norm), mean(se!.norm)) : Float64Array.from(se!.norm, (en, b) => step(sz!.norm[b]!, en))
            const by = (f: (e: number) => number): Coef => (typeof eL === 'number' ? f(eL) : { rows: eL.map(f) })
            return unit.map(([c, r]) => (r.kind === 'cur' ? 1 : r.kind === 'noise' ? by((e) => Math.sqrt(2 * e)) : by((e) => c * e)))
          },
        },
      })
    }
  }

  S.effectiveSteps(s).forEach((d, i) => {
    // EDM churn: raise the noise level of the current point before evaluating there
    const sbar = Math.exp(-points[i]!.lambda)
    if (d.churn !== undefined && d.churn.gamma > 0 && (d.churn.sTmin ?? 0) <= sbar && sbar <= (d.churn.sTmax ?? Infinity)) {
      const p = points[i]!
      const sb = Math.exp(-p.lambda)
      const sHat = sb * (1 + d.churn.gamma)
      const q = NS.point(ns)(ns.tOfLambda(-Math.log(sHat)))
      const A = q.alpha / p.alpha
      const cz = q.alpha * Math.sqrt(sHat * sHat - sb * sb) * (d.churn.sNoise ?? 1)
      points[i] = q
      usesNoise = usesNoise || cz !== 0
      combine(i, 'churn', plus([[A, { kind: 'cur' }]], muShift(A), [[cz, { kind: 'noise', stream: 1 }]]), [
        [A, { value: 'x', point: i }],
        [cz, { value: 'named', name: `z[${i},churn]` }],
      ])
      fresh = false
    }
    if (d.langevin !== undefined) {
      langevin(i, d.langevin)
      fresh = false
    }
    if (!fresh) {
      if (i === 0 && s.options?.firstStep === 'zero_x0') {
        // ε(x_T) := x_T, so out = (native output of ε = x, x0 = (1 − σ)x/α)·x
        const pt = points[0]!
        const f = P.fromPredictions(param)(pt)
        evalAt(i, 0, f.eps + (f.x0 * (1 - pt.sigma)) / pt.alpha)
      } else evalAt(i, i)
    }
    const available = i + 1
    const startG = i + 1 + S.startOf(d)
    const nodeGs = S.nodesOf(d, available).map((k) => i + 1 + k)
    const from = points[startG]!
    const to = points[i + 1]!
    const startX: Form = [[1, { kind: 'x', id: entry(startG) }]]
    if ([i, startG].some((g) => movable.has(g)) && (d.churn !== undefined || d.langevin !== undefined || d.ems === true || (d.noise !== undefined && d.noise.level !== 'sde')))
      throw new Error(`step ${i}: its start point has per-sample times (a kept time shift); churn, Langevin, EMS and first-order noise steps need one time per step`)
    if (d.ems === true) {
      // DPM-Solver-v3 (§8): x_t = A⊙x_s + Σⱼ(aⱼ⊙xeⱼ + bⱼ⊙outⱼ) + c⊙1, per-dimension coefficients from the model's EMS
      const ems = opts.ems
      if (ems === undefined)
        throw new Error(`steps[${i}].ems: DPM-Solver-v3 needs the model's empirical model statistics (l, s, b) and this model has none; compile with { ems } (Learned.loadEms(name), or DpmV3.estimate), or remove ems to run the plain data-prediction step`)
      if (mr) throw new Error(`steps[${i}].ems: DPM-Solver-v3 is not defined for mean-reverting schedules; remove ems`)
      const v3 = (role: Role, gs: ReadonlyArray<number>, commit?: number) => {
        const c = DpmV3.coefficients(ems, ns, param)(from, to, gs.map((g) => points[g]!))
        const wide: ReadonlyArray<readonly [Float64Array, Ref]> = [
          [c.onStart, { kind: 'x', id: entry(startG) }],
          ...gs.flatMap((g, j) => [[c.onNodes[j]!.x, { kind: 'xe', id: entry(g) }] as const, [c.onNodes[j]!.out, { kind: 'out', id: entry(g) }] as const]),
          [c.bias, { kind: 'one' }],
        ]
        const mean = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length
        instrs.push({
          op: 'combine',
          step: i,
          role,
          terms: wide.map(([v, r]) => [mean(v), r] as const),
          symbolic: [
            [mean(c.onStart), { value: 'x', point: startG }],
            ...gs.flatMap((g, j): ReadonlyArray<SymTerm> => [[mean(c.onNodes[j]!.x), { value: 'named', name: `x[${g}]` }], sym(mean(c.onNodes[j]!.out), 'noise', g)]),
            [mean(c.bias), { value: 'named', name: '1' }],
          ],
          adapt: { measure: [], coefs: () => wide.map(([v]) => ({ cols: v })), describe: 'DPM-Solver-v3: per-dimension EMS coefficients (shown: their means over dimensions)' },
          ...(commit === undefined ? {} : { commit }),
        })
      }
      v3('predictor', nodeGs)
      fresh = false
      let order = d.order
      if (d.corrector !== undefined) {
        const id = evalAt(i, i + 1)
        const cGs = S.correctorNodes(d, d.corrector, available + 1).map((k) => i + 2 + k)
        if (d.corrector.mode === 'pseudo') {
          v3('corrector', cGs, id)
          fresh = true
        } else v3('corrector', cGs)
        order = cGs.length
      }
      predOfEntry.set(i, d.prediction)
      infos.push({ index: i, from: points[i]!, to: points[i + 1]!, decision: d, order })
      return
    }
    const m = d.momentum
    const ghvb = m?.kind === 'ghvb'
    const beta = m?.beta ?? 1
    /** GHVB's v_g: the entry's momentum value where the chain reached g with this prediction, else m_g (v = m before the chain starts) */
    const velOf = (g: number, at: At): Form => (velAt.get(entry(g)) === d.prediction ? [[1, { kind: 'vel', id: entry(g) }]] : pred(d.prediction, g, at(g)))
    /** GHVB off basis 'ab' with ≥ 2 nodes: the rule interpolates m̃_g = m_s − v_s + v_g (m̃_s = m_s), i.e. differences of the EMA (= P_2(·; β) on 'ab'); one node: v_s (= P_1) */
    const tilde = (g: number, at: At, vel: (g: number, at: At) => Form): Form =>
      g === startG ? pred(d.prediction, g, at(g)) : plus(pred(d.prediction, startG, at(startG)), scale(-1, vel(startG, at)), vel(g, at))
    // GHVB: the entry's momentum value v_i = (1 − β)·v_{i−1} + β·m_i (v_i = m_i where the chain starts)
    if (ghvb) {
      const chained = i > 0 && velAt.get(entry(i - 1)) === d.prediction
      const vPrev: Form = chained ? [[1 - beta, { kind: 'vel', id: entry(i - 1) }]] : []
      emit(i, 'momentum', (at) => (chained ? plus(scale(beta, pred(d.prediction, i, at(i))), vPrev) : pred(d.prediction, i, at(i))),
        chained ? [sym(beta, d.prediction, i), [1 - beta, { value: 'named', name: `v[${i - 1}]` }]] : [sym(1, d.prediction, i)], { into: { kind: 'vel', id: entry(i) } })
      velAt.set(entry(i), d.prediction)
    }
    let order = d.order
    const noise = d.noise
    // η = 0 in the first-order family is the ODE step: compiled by the step's rule (bit-identical to its base)
    const firstOrderFamily = noise !== undefined && (noise.level === 'ddim' || noise.level === 'ancestral') && noise.eta > 0
    const sdePred = noise !== undefined && (noise.level === 'reverse-diffusion' || noise.level === 'euler-maruyama') ? sdePredictor(ns, noise, from, to) : undefined
    if (sdePred !== undefined) {
      // Score-SDE predictor: x_t = A·x_s + c·ε̂_s + η·G·z
      usesNoise = usesNoise || sdePred.onZ !== 0
      combine(i, 'predictor', plus(scale(sdePred.onStart, startX), scale(sdePred.onEps, pred('noise', startG)), muShift(sdePred.onStart), [[sdePred.onZ, { kind: 'noise', stream: 0 }]]), [
        [sdePred.onStart, { value: 'x', point: startG }],
        sym(sdePred.onEps, 'noise', startG),
        [sdePred.onZ, { value: 'named', name: `z[${i}]` }],
      ])
    } else if (firstOrderFamily) {
      // x_t = α_t·x0_s + c·ε̂_s + s·z, c = sqrt(σ_t² − s²), on the step's prediction m_s
      const sLevel = noiseLevel(noise, from, to) * (noise.sNoise ?? 1) * varianceFactor(noise, from, to)
      const c = Math.sqrt(Math.max(0, to.sigma ** 2 - noiseLevel(noise, from, to) ** 2))
      const onStart = d.prediction === 'data' ? c / from.sigma : to.alpha / from.alpha
      const onNode = d.prediction === 'data' ? to.alpha - (c * from.alpha) / from.sigma : c - (to.alpha * from.sigma) / from.alpha
      usesNoise = usesNoise || sLevel !== 0
      combine(
        i,
        'predictor',
        plus(scale(onStart, startX), scale(onNode, pred(d.prediction, startG)), muShift(onStart), [[sLevel, { kind: 'noise', stream: 0 }]]),
        [[onStart, { value: 'x', point: startG }], sym(onNode, d.prediction, startG), [sLevel, { value: 'named', name: `z[${i}]` }]],
      )
    } else {
      const eta = noise?.level === 'sde' ? noise.eta : 0
      const rule = ruleOf(d.prediction, d.basis, d.relaxation, d.halveSecondDerivative === true, false, eta, ghvb ? beta : 1)
      const ab = (d.basis ?? 'lambda') === 'ab'
      /** the value interpolated at node g: m_g; GHVB: v_g with the P_k(·; β) weights on basis 'ab' (or a single node), else m̃_g */
      const value = (g: number, at: At): Form => (!ghvb ? pred(d.prediction, g, at(g)) : ab || nodeGs.length === 1 ? velOf(g, at) : tilde(g, at, velOf))
      /** the step to `target` at points `at`: coefficients, B = Σcⱼ (the weight of a constant output), Σcⱼ·valueⱼ, A·x_s (+ μ, noise) */
      const parts = (at: At, target: NS.Point) => {
        const s0 = at(startG)
        const c = R.coefficients(ns, rule)(s0, target, nodeGs.map(at))
        const zc = eta > 0 ? sdeNoise(d.prediction, eta, s0, target) * (noise?.sNoise ?? 1) * varianceFactor(noise, s0, target) : 0
        const z: Form = eta > 0 ? [[zc, { kind: 'noise', stream: 0 }]] : []
        const B = c.onNodes.reduce((a, b) => a + b, 0)
        return { c, B, zc, nodes: plus(...nodeGs.map((g, j) => scale(c.onNodes[j]!, value(g, at)))), fixed: plus(scale(c.onStart, startX), muShift(c.onStart), z) }
      }
      const q0 = parts(nominalAt, to)
      usesNoise = usesNoise || q0.zc !== 0 // sNoise = 0 draws nothing that matters
      const zSym: ReadonlyArray<SymTerm> = eta > 0 ? [[q0.zc, { value: 'named', name: `z[${i}]` }]] : []
      const named = (c: number, g: number, single: boolean): SymTerm => [c, { value: 'named', name: `${single ? 'v' : 'm̃'}[${g}]` }]
      const nodeSym = (c: number, g: number): SymTerm => (ghvb ? named(c, g, ab || nodeGs.length === 1) : sym(c, d.prediction, g))
      const symbolic: ReadonlyArray<SymTerm> = [[q0.c.onStart, { value: 'x', point: startG }], ...nodeGs.map((g, j) => nodeSym(q0.c.onNodes[j]!, g)), ...zSym]
      const shift = d.timeShift
      if (m !== undefined && !ghvb && m.parity !== 'reference') {
        // heavy ball / Nesterov on the direction d = Σ cⱼ·mⱼ / B: x = A·x_s + B·u, u = v (HB) or (1 − β)·v + β·d (NT)
        const v: Ref = { kind: 'reg', name: 'v' }
        velocity(i, 'v', m, d.prediction, to.sigma, (at) => {
          const q = parts(at, to)
          return scale(1 / q.B, q.nodes)
        })
        emit(i, 'predictor', (at) => {
          const q = parts(at, to)
          return plus(q.fixed, m.kind === 'hb' ? [[q.B, v]] : plus([[(1 - beta) * q.B, v]], scale(beta, q.nodes)))
        }, [[q0.c.onStart, { value: 'x', point: startG }], [q0.B, { value: 'named', name: m.kind === 'hb' ? 'v' : '(1−β)v + β·direction' }], ...zSym])
      } else if (shift !== undefined && shift.window > 1 && i > 0 && to.t * (shift.scale ?? 1000) > shift.cutoff) {
        // the statistic: Var(x) at the start, or (parity) Var of the latest model output m_s (a register unless m_s is the native output)
        const ms = tidy(pred(d.prediction, startG))
        const native = ms.length === 1 && ms[0]![0] === 1 ? ms[0]![1] : undefined
        if (shift.stat === 'output' && native === undefined)
          emit(i, 'predictor', (at) => pred(d.prediction, startG, at(startG)), [sym(1, d.prediction, startG)], { into: { kind: 'reg', name: 'm̂' } })
        const measure: Ref = shift.stat !== 'output' ? { kind: 'x', id: entry(startG) } : native ?? { kind: 'reg', name: 'm̂' }
        emitShifted(i, shift, startG, i + 1, (at, target) => {
          const q = parts(at, target)
          return plus(q.fixed, q.nodes)
        }, symbolic, measure)
      } else
        emit(i, 'predictor', (at) => {
          const q = parts(at, to)
          return plus(q.fixed, q.nodes)
        }, symbolic)
    }
    fresh = false
    const cor = d.corrector
    if (cor !== undefined) {
      const id = evalAt(i, i + 1)
      const cGs = S.correctorNodes(d, cor, available + 1).map((k) => i + 2 + k)
      const crule = ruleOf(d.prediction, cor.basis ?? d.basis, cor.relaxation, false, true)
      // GHVB: the new point's momentum value (1 − β)·v_i + β·m_new (what the next step stores for it)
      const velNew = (g: number, at: At): Form => (g === i + 1 ? plus(scale(1 - beta, velOf(i, at)), scale(beta, pred(d.prediction, g, at(g)))) : velOf(g, at))
      const cparts = (at: At) => {
        const c = R.coefficients(ns, crule)(at(startG), at(i + 1), cGs.map(at))
        const nodes = plus(...cGs.map((g, j) => scale(c.onNodes[j]!, !ghvb ? pred(d.prediction, g, at(g)) : cGs.length === 1 ? velNew(g, at) : tilde(g, at, velNew))))
        return { c, B: c.onNodes.reduce((a, b) => a + b, 0), nodes, fixed: plus(scale(c.onStart, startX), muShift(c.onStart)) }
      }
      const q0 = cparts(nominalAt)
      const symbolic: SymTerm[] = [
        [q0.c.onStart, { value: 'x', point: startG }],
        ...cGs.map((g, j): SymTerm => (ghvb ? [q0.c.onNodes[j]!, { value: 'named', name: `${cGs.length === 1 ? 'v' : 'm̃'}[${g}]` }] : sym(q0.c.onNodes[j]!, d.prediction, g))),
      ]
      const extra = cor.mode === 'pseudo' ? { commit: id } : {}
      if (m !== undefined && !ghvb) {
        // heavy ball / Nesterov on the corrector's direction, in its own register (parity 'reference': σ-scaled EMA)
        const v: Ref = { kind: 'reg', name: 'vc' }
        velocity(i, 'vc', m, d.prediction, to.sigma, (at) => {
          const q = cparts(at)
          return scale(1 / q.B, q.nodes)
        })
        emit(i, 'corrector', (at) => {
          const q = cparts(at)
          return plus(q.fixed, m.kind === 'hb' ? [[q.B, v]] : plus([[(1 - beta) * q.B, v]], scale(beta, q.nodes)))
        }, [[q0.c.onStart, { value: 'x', point: startG }], [q0.B, { value: 'named', name: m.kind === 'hb' ? 'vc' : '(1−β)vc + β·direction' }]], extra)
      } else
        emit(i, 'corrector', (at) => {
          const q = cparts(at)
          return plus(q.fixed, q.nodes)
        }, symbolic, extra)
      if (cor.mode === 'pseudo') fresh = true
      order = cGs.length
    }
    predOfEntry.set(i, d.prediction)
    infos.push({ index: i, from: points[i]!, to: points[i + 1]!, decision: d, order })
  })
  if (s.options?.denoiseToZero === true) {
    const last = points.length - 1
    // always a fresh evaluation: after a pseudo corrector the stored output belongs to the uncorrected x
    evalAt(s.steps.length, last)
    emit(s.steps.length, 'denoise', (at) => plus(pred('data', last, at(last)), mr ? [[1, { kind: 'mu' }]] : []), [[1, { value: 'x0', point: last }]])
  }
  const planned = planDrops(instrs)
  return { schedule: s, points, instrs: planned, steps: infos, nfe, historyDepth: depth(planned), usesNoise }
}

/**
 * time-shift candidates (§6.2): the nominal target and the points k/N with |k − round(t·N)| ≤ ⌊w/2⌋,
 * 1 ≤ k ≤ round(T·N) (N = scale, default 1000: the integer DDPM time), by increasing t
 */
const shiftCandidates = (ns: NS.NoiseSchedule, shift: S.TimeShift, to: NS.Point): ReadonlyArray<NS.Point> => {
  const N = shift.scale ?? 1000
  const half = Math.floor(shift.window / 2)
  const j = Math.round(to.t * N)
  const ks = Array.from({ length: 2 * half + 1 }, (_, k) => j - half + k).filter((k) => k === j || (k >= 1 && k <= Math.round(ns.T * N)))
  return ks.map((k) => (k === j ? to : NS.point(ns)(k / N)))
}

/** per-row coefficients of `terms`: row b's form comes from formOf(b) = [key, build], built once per distinct key */
const perRow = (terms: ReadonlyArray<Term>, B: number, formOf: (b: number) => readonly [string, () => Form]): ReadonlyArray<Coef> => {
  const built = new Map<string, ReadonlyMap<string, number>>()
  const cols = terms.map(() => new Float64Array(B))
  for (let b = 0; b < B; b++) {
    const [key, build] = formOf(b)
    const m = built.get(key) ?? coefMap(build())
    built.set(key, m)
    terms.forEach(([, r], k) => (cols[k]![b] = m.get(refKey(r)) ?? 0))
  }
  return cols.map((rows) => ({ rows }))
}

/** insert `drop` after the last instruction that reads each entry */
const planDrops = (instrs: ReadonlyArray<Instr>): ReadonlyArray<Instr> => {
  const last = new Map<number, number>()
  instrs.forEach((ins, k) => {
    if (ins.op === 'eval') last.set(ins.id, Math.max(last.get(ins.id) ?? k, k))
    if (ins.op === 'combine') {
      for (const [, r] of ins.terms) if ('id' in r) last.set(r.id, k)
      for (const r of ins.adapt?.measure ?? []) if ('id' in r) last.set(r.id, k)
      if (ins.commit !== undefined) last.set(ins.commit, k)
      if (ins.into?.kind === 'vel') last.set(ins.into.id, k)
    }
  })
  const dropsAt = new Map<number, number[]>()
  for (const [id, k] of last) dropsAt.set(k, [...(dropsAt.get(k) ?? []), id])
  const out: Instr[] = []
  instrs.forEach((ins, k) => {
    out.push(ins)
    const ids = dropsAt.get(k)
    if (ids !== undefined && k < instrs.length - 1) out.push({ op: 'drop', ids })
  })
  return out
}

/** the largest number of entries alive at once */
const depth = (instrs: ReadonlyArray<Instr>): number => {
  let alive = 0
  let most = 0
  for (const ins of instrs) {
    if (ins.op === 'eval') most = Math.max(most, ++alive)
    if (ins.op === 'drop') alive -= ins.ids.length
  }
  return most
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the initial state of a run from x_T */
export const initial = <V>(xT: V): State<V> => ({ x: xT, entries: new Map(), regs: new Map(), nfe: 0 })

/** one instruction over any value type */
export const exec = <V>(env: Env<V>) => (s: State<V>, ins: Instr): State<V> => {
  switch (ins.op) {
    case 'eval': {
      const rows = ins.analytic === undefined ? s.times?.get(ins.point) : undefined
      const out = ins.analytic !== undefined ? env.lincomb([[ins.analytic, s.x]]) : rows === undefined ? env.model(s.x, ins.at) : modelAtRows(env, ins.step)(s.x, rows)
      const entries = new Map(s.entries)
      entries.set(ins.id, { x: s.x, xe: s.x, out })
      return { ...s, entries, nfe: s.nfe + (ins.analytic === undefined ? 1 : 0) }
    }
    case 'combine': {
      const read = (r: Ref): V => {
        switch (r.kind) {
          case 'noise': {
            if (env.normal === undefined) throw new Error(`step ${ins.step} draws noise but this interpreter has no noise generator`)
            return env.normal({ step: ins.step, stream: r.stream }, s.x)
          }
          case 'cur':
            return s.x
          case 'one':
            if (env.ones === undefined) throw new Error(`step ${ins.step}: a DPM-Solver-v3 step needs the all-ones value (Env.ones)`)
            return env.ones(s.x)
          case 'mu':
            if (env.mu === undefined) throw new Error(`step ${ins.step}: a mean-reverting schedule needs the condition μ (Env.mu)`)
            return env.mu
          case 'reg': {
            const v = s.regs?.get(r.name)
            if (v === undefined) throw new Error(`internal: register ${r.name} read before it was written (step ${ins.step})`)
            return v
          }
          default: {
            const e = s.entries.get(r.id)
            if (e === undefined) throw new Error(`internal: entry ${r.id} was released before step ${ins.step}`)
            const v = e[r.kind]
            if (v === undefined) throw new Error(`internal: entry ${r.id} has no ${r.kind} (step ${ins.step})`)
            return v
          }
        }
      }
      const values = ins.terms.map(([, r]) => read(r))
      let x: V
      let t = s // with the per-row points a kept time shift places
      if (ins.adapt === undefined) x = env.lincomb(ins.terms.map(([c], k) => [c, values[k]!] as const))
      else {
        if ((ins.adapt.measure.length > 0 && env.stats === undefined) || env.lincombWide === undefined)
          throw new Error(`step ${ins.step} adapts its coefficients to the data (${ins.adapt.describe}) but this interpreter cannot`)
        const stats = ins.adapt.measure.map((r) => env.stats!(read(r)))
        const rows: RowPoints = (g) => s.times?.get(g)
        const coefs = ins.adapt.coefs(stats, rows)
        x = env.lincombWide(coefs.map((c, k) => [c, values[k]!] as const))
        const place = ins.adapt.place
        if (place !== undefined) t = { ...s, times: new Map([...(s.times ?? []), [place.point, place.at(stats, rows)]]) }
      }
      // noise draws are transient: release them (tfjs)
      ins.terms.forEach(([, r], k) => {
        if (r.kind === 'noise' || r.kind === 'one') env.release?.(values[k]!)
      })
      env.check?.(x, ins.step, ins.role)
      const into = ins.into ?? { kind: 'x' }
      if (into.kind === 'reg') return { ...t, regs: new Map([...(s.regs ?? []), [into.name, x]]) }
      if (into.kind === 'vel') {
        const entries = new Map(s.entries)
        entries.set(into.id, { ...entries.get(into.id)!, vel: x })
        return { ...t, entries }
      }
      if (ins.commit === undefined) return { ...t, x }
      const entries = new Map(s.entries)
      const e = entries.get(ins.commit)!
      entries.set(ins.commit, { ...e, x })
      return { ...t, x, entries }
    }
    case 'drop': {
      const entries = new Map(s.entries)
      for (const id of ins.ids) entries.delete(id)
      return { ...s, entries }
    }
  }
}

/**
 * the model at per-row points: called once per distinct point on the rows there (`Env.rows`), told which rows
 * (`Subset`: a per-row conditional model selects its condition's rows), the parts reassembled in row order. One
 * evaluation of the batch, so one NFE: the calls together evaluate every row exactly once
 */
const modelAtRows = <V>(env: Env<V>, step: number) => (x: V, at: ReadonlyArray<NS.Point>): V => {
  const groups = new Map<number, { readonly at: NS.Point; readonly rows: number[] }>()
  at.forEach((q, b) => {
    const g = groups.get(q.t) ?? { at: q, rows: [] }
    g.rows.push(b)
    groups.set(q.t, g)
  })
  const gs = [...groups.values()]
  if (gs.length === 1) return env.model(x, gs[0]!.at)
  const rows = env.rows
  if (rows === undefined) throw new Error(`step ${step}: the model is needed at per-sample times (a time shift that keeps its times) but this interpreter cannot select rows`)
  return rows.put(gs.map((g) => [g.rows, env.model(rows.take(x, g.rows, at.length), g.at, { rows: g.rows, of: at.length })] as const))
}

/** run a program from x_T: fold `exec` over the instructions; returns the final state */
export const run = <V>(env: Env<V>) => (p: Program) => (xT: V): State<V> => p.instrs.reduce(exec(env), initial(xT))
