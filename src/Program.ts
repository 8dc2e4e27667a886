/**
 * A compiled program: the schedule resolved against a noise schedule and a model parameterization,
 * with every coefficient computed as a float64 number. Values are touched only through the
 * `Linear` algebra, the model and a few optional capabilities (noise, per-row statistics, per-row
 * coefficients, the mean-reverting condition μ), so one generic fold (`run`) serves every interpreter.
 */
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

/** data-dependent coefficients: measure some values, then compute one coefficient per term */
export interface Adapt {
  readonly measure: ReadonlyArray<Ref>
  readonly coefs: (stats: ReadonlyArray<RowStats>) => ReadonlyArray<Coef>
  /** how the coefficients adapt (for explanations) */
  readonly describe: string
}

/** a symbolic term for explanations: c·x_k, c·ε_k, c·x0_k at grid point k, or a named value (z, μ, v) */
export type SymTerm = readonly [number, { readonly value: 'x' | 'eps' | 'x0'; readonly point: number } | { readonly value: 'named'; readonly name: string }]

export type Role = 'predictor' | 'corrector' | 'denoise' | 'churn' | 'momentum'

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

/** what a program needs from a value type: the linear algebra, the model, and the capabilities it uses */
export interface Env<V> extends Linear<V> {
  readonly model: (x: V, at: NS.Point) => V
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
}

/** one evaluation: the point's state x, the x the model saw, the model's output, and its momentum value */
export interface Entry<V> {
  readonly x: V
  readonly xe: V
  readonly out: V
  readonly vel?: V
}

export interface State<V> {
  readonly x: V
  readonly entries: ReadonlyMap<number, Entry<V>>
  readonly regs?: ReadonlyMap<string, V>
  readonly nfe: number
}

// -------------------------------------------------------------------------------------------------
// utils: linear forms over refs
// -------------------------------------------------------------------------------------------------

type Form = ReadonlyArray<Term>

const scale = (c: number, f: Form): Form => f.map(([k, r]) => [c * k, r] as const)
const plus = (...fs: ReadonlyArray<Form>): Form => fs.flat()
const refKey = (r: Ref): string => ('id' in r ? `${r.kind}${r.id}` : r.kind === 'reg' ? `reg:${r.name}` : r.kind === 'noise' ? `z${r.stream}` : r.kind)

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
  }
}

/**
 * compile a schedule: resolve the grid on `ns`, compute every coefficient, fold the prediction
 * conversions into the model's native output `param`, and plan when entries are released.
 */
export const compile = (ns: NS.NoiseSchedule, param: P.Parameterization = 'eps') => (s: S.SolverSchedule): Program => {
  const ts = Grid.resolve(ns)(s.grid)
  const nominal = ts.map(NS.point(ns))
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
  let velPrediction: P.Prediction | undefined // prediction type the momentum register holds

  const evalAt = (step: number, g: number, analytic?: number) => {
    const id = nextId++
    entryOf.set(g, id)
    if (analytic === undefined) nfe++
    instrs.push({ op: 'eval', step, id, point: g, at: points[g]!, ...(analytic === undefined ? {} : { analytic }) })
    return id
  }
  const entry = (g: number): number => {
    const id = entryOf.get(g)
    if (id === undefined) throw new Error(`grid point ${g} has no evaluation`)
    return id
  }
  /** the prediction m (y-space for mean-reverting schedules) at grid point g as a form over the entry's (xe, out, μ) */
  const pred = (p: P.Prediction, g: number, field: 'out' | 'vel' = 'out'): Form => {
    const id = entry(g)
    if (field === 'vel') return [[1, { kind: 'vel', id }]]
    const a = P.toPrediction(param, p)(points[g]!)
    return plus([[a.x, { kind: 'xe', id }], [a.out, { kind: 'out', id }]], mr ? [[-a.x, { kind: 'mu' }]] : [])
  }
  const sym = (c: number, p: P.Prediction, g: number): SymTerm => [c, { value: p === 'data' ? 'x0' : 'eps', point: g }]
  const muShift = (A: number): Form => (mr ? [[1 - A, { kind: 'mu' }]] : [])
  const combine = (step: number, role: Role, f: Form, symbolic: ReadonlyArray<SymTerm>, extra: { into?: Target; commit?: number; adapt?: Adapt } = {}) =>
    instrs.push({ op: 'combine', step, role, terms: tidy(f), symbolic, ...extra })

  s.steps.forEach((d, i) => {
    // EDM churn: raise the noise level of the current point before evaluating there
    if (d.churn !== undefined && d.churn.gamma > 0) {
      const p = points[i]!
      const sb = Math.exp(-p.lambda)
      const sHat = sb * (1 + d.churn.gamma)
      const q = NS.point(ns)(ns.tOfLambda(-Math.log(sHat)))
      const A = q.alpha / p.alpha
      const cz = q.alpha * Math.sqrt(sHat * sHat - sb * sb) * (d.churn.sNoise ?? 1)
      points[i] = q
      usesNoise = true
      combine(i, 'churn', plus([[A, { kind: 'cur' }]], muShift(A), [[cz, { kind: 'noise', stream: 1 }]]), [
        [A, { value: 'x', point: i }],
        [cz, { value: 'named', name: `z[${i},churn]` }],
      ])
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
    const m = d.momentum
    const ghvb = m?.kind === 'ghvb'
    // GHVB: the entry's momentum value v_n = (1 − β)·v_{n−1} + β·m_n (v_0 = m_0)
    if (ghvb) {
      const id = entry(i)
      const prev = i > 0 && velPrediction === d.prediction ? entryOf.get(i - 1) : undefined
      const mi = pred(d.prediction, i)
      const f = prev === undefined ? mi : plus(scale(m.beta, mi), [[1 - m.beta, { kind: 'vel', id: prev }]])
      combine(i, 'momentum', f, [[m.beta, { value: d.prediction === 'data' ? 'x0' : 'eps', point: i }]], { into: { kind: 'vel', id } })
      velPrediction = d.prediction
    }
    let order = d.order
    const noise = d.noise
    const firstOrderFamily = noise !== undefined && noise.level !== 'sde'
    if (firstOrderFamily) {
      // x_t = α_t·x0_s + c·ε̂_s + s·z, c = sqrt(σ_t² − s²), on the step's prediction m_s
      const sLevel = noiseLevel(noise, from, to) * (noise.sNoise ?? 1)
      const c = Math.sqrt(Math.max(0, to.sigma ** 2 - noiseLevel(noise, from, to) ** 2))
      const onStart = d.prediction === 'data' ? c / from.sigma : to.alpha / from.alpha
      const onNode = d.prediction === 'data' ? to.alpha - (c * from.alpha) / from.sigma : c - (to.alpha * from.sigma) / from.alpha
      usesNoise = usesNoise || sLevel !== 0
      combine(
        i,
        'predictor',
        plus(startX, scale(onNode, pred(d.prediction, startG)), muShift(onStart), [[sLevel, { kind: 'noise', stream: 0 }]]),
        [[onStart, { value: 'x', point: startG }], sym(onNode, d.prediction, startG), [sLevel, { value: 'named', name: `z[${i}]` }]],
      )
    } else {
      const eta = noise?.level === 'sde' ? noise.eta : 0
      const rule = ruleOf(d.prediction, d.basis, d.relaxation, d.halveSecondDerivative === true, false, eta, ghvb ? m.beta : 1)
      const c = R.coefficients(ns, rule)(from, to, nodeGs.map((g) => points[g]!))
      const noiseTerm: Form = eta > 0 ? [[to.sigma * Math.sqrt(-Math.expm1(-2 * eta * (to.lambda - from.lambda))) * (noise?.sNoise ?? 1), { kind: 'noise', stream: 0 }]] : []
      usesNoise = usesNoise || noiseTerm.length > 0
      /** the predictor's form for rule coefficients c (the time-shift recomputes it per candidate target) */
      const formOf = (c: R.Coefficients): Form => {
        const nodesForm = plus(...nodeGs.map((g, j) => scale(c.onNodes[j]!, pred(d.prediction, g, ghvb ? 'vel' : 'out'))))
        const B = c.onNodes.reduce((a, b) => a + b, 0) // the weight of a constant output: −γ·expm1(hh)
        // GHVB on λ rules: compensate the EMA lag with B·((1 − β)/β)·(v_n − v_{n−1}) (= the P_k(·; β) weights for 'ab')
        const lag: Form =
          ghvb && (d.basis ?? 'lambda') !== 'ab' && nodeGs.length >= 2
            ? scale((B * (1 - m.beta)) / m.beta, plus(pred(d.prediction, nodeGs[0]!, 'vel'), scale(-1, pred(d.prediction, nodeGs[1]!, 'vel'))))
            : []
        return plus(scale(c.onStart, startX), nodesForm, lag, muShift(c.onStart), noiseTerm)
      }
      const nodesForm = plus(...nodeGs.map((g, j) => scale(c.onNodes[j]!, pred(d.prediction, g, ghvb ? 'vel' : 'out'))))
      const B = c.onNodes.reduce((a, b) => a + b, 0)
      const symbolic: SymTerm[] = [[c.onStart, { value: 'x', point: startG }], ...nodeGs.map((g, j) => sym(c.onNodes[j]!, d.prediction, g))]
      const shift = d.timeShift
      const shifted =
        shift !== undefined && shift.window > 1 && i > 0 && to.t * (shift.scale ?? 1000) > shift.cutoff
          ? timeShift(ns, shift, from, to, (q) => formOf(R.coefficients(ns, rule)(from, q, nodeGs.map((g) => points[g]!))), entry(startG))
          : undefined
      if (m !== undefined && !ghvb) {
        // heavy ball / Nesterov on the direction d = Σ cⱼ·mⱼ / B: v ← (1 − β)·v + β·d (v ← d the first time)
        const dir = scale(1 / B, nodesForm)
        const first = velPrediction !== d.prediction
        combine(
          i,
          'momentum',
          first ? dir : plus(scale(m.beta, dir), [[1 - m.beta, { kind: 'reg', name: 'v' }]]),
          first ? [[1, { value: 'named', name: 'direction' }]] : [[m.beta, { value: 'named', name: 'direction' }], [1 - m.beta, { value: 'named', name: 'v' }]],
          { into: { kind: 'reg', name: 'v' } },
        )
        velPrediction = d.prediction
        const u: Form = m.kind === 'hb' ? [[1, { kind: 'reg', name: 'v' }]] : plus([[1 - m.beta, { kind: 'reg', name: 'v' }]], scale(m.beta, dir))
        combine(i, 'predictor', plus(scale(c.onStart, startX), scale(B, u), muShift(c.onStart), noiseTerm), [
          [c.onStart, { value: 'x', point: startG }],
          [B, { value: 'named', name: m.kind === 'hb' ? 'v' : '(1−β)v + β·direction' }],
          ...(noiseTerm.length > 0 ? [[noiseTerm[0]![0], { value: 'named', name: `z[${i}]` }] as const] : []),
        ])
      } else {
        const sy: ReadonlyArray<SymTerm> = noiseTerm.length > 0 ? [...symbolic, [noiseTerm[0]![0], { value: 'named', name: `z[${i}]` }]] : symbolic
        if (shifted === undefined) combine(i, 'predictor', formOf(c), sy)
        else instrs.push({ op: 'combine', step: i, role: 'predictor', terms: shifted.terms, symbolic: sy, adapt: shifted.adapt })
      }
    }
    fresh = false
    const cor = d.corrector
    if (cor !== undefined) {
      const id = evalAt(i, i + 1)
      const cGs = S.correctorNodes(d, cor, available + 1).map((k) => i + 2 + k)
      const crule = ruleOf(d.prediction, cor.basis ?? d.basis, cor.relaxation, false, true)
      const cc = R.coefficients(ns, crule)(from, to, cGs.map((g) => points[g]!))
      const f = plus(scale(cc.onStart, startX), ...cGs.map((g, j) => scale(cc.onNodes[j]!, pred(d.prediction, g))), muShift(cc.onStart))
      const symbolic: SymTerm[] = [[cc.onStart, { value: 'x', point: startG }], ...cGs.map((g, j) => sym(cc.onNodes[j]!, d.prediction, g))]
      if (cor.mode === 'pseudo') {
        combine(i, 'corrector', f, symbolic, { commit: id })
        fresh = true
      } else combine(i, 'corrector', f, symbolic)
      order = cGs.length
    }
    predOfEntry.set(i, d.prediction)
    infos.push({ index: i, from: points[i]!, to: points[i + 1]!, decision: d, order })
  })
  if (s.options?.denoiseToZero === true) {
    const last = points.length - 1
    // always a fresh evaluation: after a pseudo corrector the stored output belongs to the uncorrected x
    evalAt(s.steps.length, last)
    combine(s.steps.length, 'denoise', plus(pred('data', last), mr ? [[1, { kind: 'mu' }]] : []), [[1, { value: 'x0', point: last }]])
  }
  const planned = planDrops(instrs)
  return { schedule: s, points, instrs: planned, steps: infos, nfe, historyDepth: depth(planned), usesNoise }
}

/**
 * time-shift (TS-DPM, DDIM/PNDM variant): per sample b, the target time becomes the t̂ in the window
 * {t_j ± k/N, k ≤ ⌊w/2⌋} minimising (Var(x_b) − σ²(t̂))²; the coefficients become per-row vectors.
 * The program's terms are the union of the candidates' refs; each row takes its candidate's coefficients.
 */
const timeShift = (
  ns: NS.NoiseSchedule,
  shift: S.TimeShift,
  from: NS.Point,
  to: NS.Point,
  formAt: (target: NS.Point) => Form,
  startId: number,
): { readonly terms: ReadonlyArray<Term>; readonly adapt: Adapt } => {
  const N = shift.scale ?? 1000
  const half = Math.floor(shift.window / 2)
  const j = Math.round(to.t * N)
  const ks = Array.from({ length: 2 * half + 1 }, (_, k) => j - half + k).filter((k) => k >= 1 && k <= Math.round(ns.T * N))
  const candidates = ks.map((k) => (k === j ? to : NS.point(ns)(k / N))).filter((p) => p.lambda > from.lambda)
  const forms = candidates.map((p) => new Map(tidy(formAt(p)).map(([c, r]) => [refKey(r), c] as const)))
  const terms = tidy(plus(...candidates.map((p) => formAt(p)))).map(([, r]) => [1, r] as const)
  return {
    terms,
    adapt: {
      measure: [{ kind: 'x', id: startId }],
      describe: `time-shift: per-sample target in a window of ${shift.window} around t = ${to.t.toPrecision(4)} (Var(x) ≈ σ²)`,
      coefs: ([st]) => {
        const B = st!.variance.length
        const pick = Array.from({ length: B }, (_, b) => {
          let best = 0
          candidates.forEach((p, k) => {
            if (Math.abs(st!.variance[b]! - p.sigma ** 2) < Math.abs(st!.variance[b]! - candidates[best]!.sigma ** 2)) best = k
          })
          return best
        })
        return terms.map(([, r]) => ({ rows: Float64Array.from(pick, (k) => forms[k]!.get(refKey(r)) ?? 0) }))
      },
    },
  }
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
      const out = ins.analytic === undefined ? env.model(s.x, ins.at) : env.lincomb([[ins.analytic, s.x]])
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
      if (ins.adapt === undefined) x = env.lincomb(ins.terms.map(([c], k) => [c, values[k]!] as const))
      else {
        if (env.stats === undefined || env.lincombWide === undefined)
          throw new Error(`step ${ins.step} adapts its coefficients to the data (${ins.adapt.describe}) but this interpreter cannot`)
        const stats = ins.adapt.measure.map((r) => env.stats!(read(r)))
        const coefs = ins.adapt.coefs(stats)
        x = env.lincombWide(coefs.map((c, k) => [c, values[k]!] as const))
      }
      // noise draws are transient: release them (tfjs)
      ins.terms.forEach(([, r], k) => {
        if (r.kind === 'noise') env.release?.(values[k]!)
      })
      env.check?.(x, ins.step, ins.role)
      const into = ins.into ?? { kind: 'x' }
      if (into.kind === 'reg') return { ...s, regs: new Map([...(s.regs ?? []), [into.name, x]]) }
      if (into.kind === 'vel') {
        const entries = new Map(s.entries)
        entries.set(into.id, { ...entries.get(into.id)!, vel: x })
        return { ...s, entries }
      }
      if (ins.commit === undefined) return { ...s, x }
      const entries = new Map(s.entries)
      const e = entries.get(ins.commit)!
      entries.set(ins.commit, { ...e, x })
      return { ...s, x, entries }
    }
    case 'drop': {
      const entries = new Map(s.entries)
      for (const id of ins.ids) entries.delete(id)
      return { ...s, entries }
    }
  }
}

/** run a program from x_T: fold `exec` over the instructions; returns the final state */
export const run = <V>(env: Env<V>) => (p: Program) => (xT: V): State<V> => p.instrs.reduce(exec(env), initial(xT))
