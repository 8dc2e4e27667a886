/**
 * A compiled program: the schedule resolved against a noise schedule and a model parameterization,
 * with every coefficient computed as a float64 number. Values are touched only through the
 * `Linear` algebra and the model, so one generic fold (`run`) serves every interpreter.
 */
import * as Grid from './Grid.ts'
import * as NS from './NoiseSchedule.ts'
import * as P from './Parameterization.ts'
import * as R from './Rule.ts'
import * as S from './SolverSchedule.ts'
import type { Linear } from './Linear.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * a value an instruction reads from entry `id`: its state x (the committed x after a pseudo corrector),
 * the x at which the model was evaluated (`xe`, for converting the output), or the model output
 */
export type Ref = { readonly kind: 'x' | 'xe' | 'out'; readonly id: number }
/** c·value */
export type Term = readonly [number, Ref]

/** a symbolic term for explanations: c·x_k, c·ε_k or c·x0_k at grid point k */
export type SymTerm = readonly [number, { readonly value: 'x' | 'eps' | 'x0'; readonly point: number }]

export type Instr =
  /** out = model(x, at) (or out = analytic·x for USF's zero-x0 first step); a new history entry {x, out} */
  | { readonly op: 'eval'; readonly step: number; readonly id: number; readonly point: number; readonly at: NS.Point; readonly analytic?: number }
  /** x ← Σ c·v; with `commit`, entry `commit` takes the new x (pseudo corrector) */
  | {
      readonly op: 'combine'
      readonly step: number
      readonly role: 'predictor' | 'corrector' | 'denoise'
      readonly terms: ReadonlyArray<Term>
      readonly symbolic: ReadonlyArray<SymTerm>
      readonly commit?: number
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
}

/** what a program needs from a value type: the linear algebra and the model */
export interface Env<V> extends Linear<V> {
  readonly model: (x: V, at: NS.Point) => V
  /** called for values the program no longer holds (tfjs disposes them) */
  readonly release?: (v: V) => void
  /** called after every combine with the step index; throws to stop on a bad value */
  readonly check?: (x: V, step: number, role: string) => void
}

/** one evaluation: the point's state x, the x the model saw, and the model's output */
export interface Entry<V> {
  readonly x: V
  readonly xe: V
  readonly out: V
}

export interface State<V> {
  readonly x: V
  readonly entries: ReadonlyMap<number, Entry<V>>
  readonly nfe: number
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
): R.Rule => ({
  prediction,
  basis: basis ?? 'lambda',
  relaxation: relaxation ?? 'none',
  halveSecondDerivative: halve,
  implicit,
})

/**
 * compile a schedule: resolve the grid on `ns`, compute every coefficient, fold the prediction
 * conversions into the model's native output `param`, and plan when entries are released.
 */
export const compile = (ns: NS.NoiseSchedule, param: P.Parameterization = 'eps') => (s: S.SolverSchedule): Program => {
  const ts = Grid.resolve(ns)(s.grid)
  const points = ts.map(NS.point(ns))
  if (points.length !== s.steps.length + 1)
    throw new Error(`grid has ${points.length - 1} intervals but the schedule has ${s.steps.length} steps`)
  const instrs: Instr[] = []
  const infos: StepInfo[] = []
  const entryOf = new Map<number, number>() // grid point → entry id
  const entryPoint = new Map<number, number>() // entry id → grid point
  let nextId = 0
  let fresh = false
  let nfe = 0

  const evalAt = (step: number, g: number, analytic?: number) => {
    const id = nextId++
    entryOf.set(g, id)
    entryPoint.set(id, g)
    if (analytic === undefined) nfe++
    instrs.push({ op: 'eval', step, id, point: g, at: points[g]!, ...(analytic === undefined ? {} : { analytic }) })
    return id
  }
  const entry = (g: number): number => {
    const id = entryOf.get(g)
    if (id === undefined) throw new Error(`grid point ${g} has no evaluation`)
    return id
  }
  /** terms of x_t = A·x_start + Σ cⱼ·mⱼ with m folded into (x, out) of each entry */
  const termsOf = (pred: P.Prediction, startG: number, nodeGs: ReadonlyArray<number>, c: R.Coefficients) => {
    const terms: Term[] = [[c.onStart, { kind: 'x', id: entry(startG) }]]
    const symbolic: SymTerm[] = [[c.onStart, { value: 'x', point: startG }]]
    nodeGs.forEach((g, j) => {
      const cj = c.onNodes[j]!
      const a = P.toPrediction(param, pred)(points[g]!)
      if (a.x !== 0) terms.push([cj * a.x, { kind: 'xe', id: entry(g) }])
      if (a.out !== 0) terms.push([cj * a.out, { kind: 'out', id: entry(g) }])
      symbolic.push([cj, { value: pred === 'data' ? 'x0' : 'eps', point: g }])
    })
    return { terms, symbolic }
  }

  s.steps.forEach((d, i) => {
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
    const rule = ruleOf(d.prediction, d.basis, d.relaxation, d.halveSecondDerivative === true, false)
    const pc = R.coefficients(ns, rule)(points[startG]!, points[i + 1]!, nodeGs.map((g) => points[g]!))
    const pt = termsOf(d.prediction, startG, nodeGs, pc)
    instrs.push({ op: 'combine', step: i, role: 'predictor', ...pt })
    fresh = false
    let order = d.order
    const c = d.corrector
    if (c !== undefined) {
      const id = evalAt(i, i + 1)
      const cGs = S.correctorNodes(d, c, available + 1).map((k) => i + 2 + k)
      const crule = ruleOf(d.prediction, c.basis ?? d.basis, c.relaxation, false, true)
      const cc = R.coefficients(ns, crule)(points[startG]!, points[i + 1]!, cGs.map((g) => points[g]!))
      const ct = termsOf(d.prediction, startG, cGs, cc)
      if (c.mode === 'pseudo') {
        instrs.push({ op: 'combine', step: i, role: 'corrector', ...ct, commit: id })
        fresh = true
      } else instrs.push({ op: 'combine', step: i, role: 'corrector', ...ct })
      order = cGs.length
    }
    infos.push({ index: i, from: points[i]!, to: points[i + 1]!, decision: d, order })
  })
  if (s.options?.denoiseToZero === true) {
    const last = points.length - 1
    // always a fresh evaluation: after a pseudo corrector the stored output belongs to the uncorrected x
    evalAt(s.steps.length, last)
    const a = P.toPrediction(param, 'data')(points[last]!)
    const id = entry(last)
    const terms: Term[] = []
    if (a.x !== 0) terms.push([a.x, { kind: 'xe', id }])
    if (a.out !== 0) terms.push([a.out, { kind: 'out', id }])
    instrs.push({ op: 'combine', step: s.steps.length, role: 'denoise', terms, symbolic: [[1, { value: 'x0', point: last }]] })
  }
  return { schedule: s, points, instrs: planDrops(instrs), steps: infos, nfe, historyDepth: depth(planDrops(instrs)) }
}

/** insert `drop` after the last instruction that reads each entry */
const planDrops = (instrs: ReadonlyArray<Instr>): ReadonlyArray<Instr> => {
  const last = new Map<number, number>()
  instrs.forEach((ins, k) => {
    if (ins.op === 'eval') last.set(ins.id, Math.max(last.get(ins.id) ?? k, k))
    if (ins.op === 'combine') {
      for (const [, r] of ins.terms) last.set(r.id, k)
      if (ins.commit !== undefined) last.set(ins.commit, k)
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

/** one instruction over any value type */
export const exec = <V>(env: Env<V>) => (s: State<V>, ins: Instr): State<V> => {
  switch (ins.op) {
    case 'eval': {
      const out = ins.analytic === undefined ? env.model(s.x, ins.at) : env.lincomb([[ins.analytic, s.x]])
      const entries = new Map(s.entries)
      entries.set(ins.id, { x: s.x, xe: s.x, out })
      return { x: s.x, entries, nfe: s.nfe + (ins.analytic === undefined ? 1 : 0) }
    }
    case 'combine': {
      const read = (r: Ref): V => {
        const e = s.entries.get(r.id)
        if (e === undefined) throw new Error(`internal: entry ${r.id} was released before step ${ins.step}`)
        return e[r.kind]
      }
      const x = env.lincomb(ins.terms.map(([c, r]) => [c, read(r)] as const))
      env.check?.(x, ins.step, ins.role)
      if (ins.commit === undefined) return { ...s, x }
      const entries = new Map(s.entries)
      const e = entries.get(ins.commit)!
      entries.set(ins.commit, { ...e, x })
      return { x, entries, nfe: s.nfe }
    }
    case 'drop': {
      const entries = new Map(s.entries)
      for (const id of ins.ids) entries.delete(id)
      return { ...s, entries }
    }
  }
}

/** run a program from x_T: fold `exec` over the instructions; returns the final state */
export const run = <V>(env: Env<V>) => (p: Program) => (xT: V): State<V> =>
  p.instrs.reduce(exec(env), { x: xT, entries: new Map(), nfe: 0 } as State<V>)
