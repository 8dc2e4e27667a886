/**
 * A compiled program and the one generic fold that runs it. A program is resolved against a noise
 * schedule and a model parameterization by `compile` (Compile.ts: a fold of step combinators over
 * the grid), with every coefficient a float64 number. Values are touched only through the `Linear`
 * algebra, the model and a few optional capabilities (noise, per-row statistics, per-row
 * coefficients, the mean-reverting condition μ), so `exec` serves every interpreter; the stepping
 * API (`init`, `advance`, `runFrom`, `gatherRows`) runs a program a step at a time.
 */
import * as C from '../schedule/Compile.ts'
import * as I from '../ir/Instr.ts'
import type { Linear } from '../core/Linear.ts'
import type * as NS from '../core/NoiseSchedule.ts'
import type * as Noise from '../core/Noise.ts'
import * as PZ from '../core/Parameterization.ts'
import type * as M from '../models/Model.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a value an instruction reads (ir/Instr.ts) */
export type Ref = I.Ref
/** c·value */
export type Term = I.Term
/** where a combine writes */
export type Target = I.Target
/** a coefficient: one number, one per row, or one per column */
export type Coef = I.Coef
/** per-row mean, variance and norm */
export type RowStats = I.RowStats
/** per-row points of moved grid points */
export type RowPoints = I.RowPoints
/** data-dependent coefficients */
export type Adapt = I.Adapt
/** what a combine does */
export type Role = I.Role
/** one instruction */
export type Instr = I.Instr
/** per-step facts */
export type StepInfo = I.StepInfo
/** a compiled program */
export type Program = I.Program
/** an Env capability a program may need */
export type Capability = I.Capability
/** what a compile may need besides the noise schedule (the model's EMS) */
export type CompileOptions = C.Options

/** which rows of the batch a model call holds (defined with the model type) */
export type Subset = M.Subset

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
  /** rows `idx` of a B-row value (repeats allowed: particle resampling, `gatherRows`) */
  readonly gather?: (v: V, idx: ReadonlyArray<number>) => V
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
  /** the next instruction to run (the stepping API); absent: 0 */
  readonly pc?: number
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** compile a schedule into a program, or the issues why this noise schedule / model cannot run it (Compile.ts) */
export const compile = C.compile

/** `compile`, throwing the issues (for documents built in code) */
export const compileOrThrow = C.compileOrThrow

/** the Env field each capability needs */
const CAPABILITY_FIELD: Readonly<Record<I.Capability, string>> = { normal: 'normal', stats: 'stats', lincombWide: 'lincombWide', rows: 'rows', mu: 'mu', ones: 'ones' }

/** the capabilities of `p` that `env` lacks, [] when it can run the program */
export const missing = <V>(env: Env<V>, p: Program): ReadonlyArray<I.Capability> => p.needs.filter((c) => env[CAPABILITY_FIELD[c] as keyof Env<V>] === undefined)

/** throw before running when the interpreter lacks a capability the program needs */
export const assertRunnable = <V>(env: Env<V>, p: Program): void => {
  const m = missing(env, p)
  if (m.length > 0)
    throw new Error(
      `${p.schedule.name ?? 'this program'} needs ${m.map((c) => CAPABILITY_FIELD[c]).join(', ')} from the interpreter, which does not provide ${m.length === 1 ? 'it' : 'them'}${m.includes('mu') ? ' (pass the mean-reverting condition μ in the run options)' : ''}`,
    )
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the initial state of a run from x_T */
export const initial = <V>(xT: V): State<V> => ({ x: xT, entries: new Map(), regs: new Map(), nfe: 0 })

/** one instruction over any value type */
export const exec =
  <V>(env: Env<V>) =>
  (s: State<V>, ins: Instr): State<V> => {
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
const modelAtRows =
  <V>(env: Env<V>, step: number) =>
  (x: V, at: ReadonlyArray<NS.Point>): V => {
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
export const run =
  <V>(env: Env<V>) =>
  (p: Program) =>
  (xT: V): State<V> => {
    assertRunnable(env, p)
    return p.instrs.reduce(exec(env), initial(xT))
  }

// -------------------------------------------------------------------------------------------------
// stepping API
// -------------------------------------------------------------------------------------------------

/** how one instruction runs: `exec(env)` by default; the tfjs interpreter wraps it in tf.tidy and releases what the new state dropped */
export type Execute<V> = (s: State<V>, ins: Instr, index: number) => State<V>

/** what a run reports after each step: its index, the state, and a preview of x̂0 from the step's latest evaluation (no NFE) */
export interface StepEvent<V> {
  readonly step: number
  readonly state: State<V>
  /** x̂0 at the latest evaluation (computed on demand; the caller releases it) */
  readonly preview: () => V | undefined
}

/** per-step callbacks: return 'stop' to end the run after this step (early stop) */
export interface Callbacks<V> {
  readonly onStep?: (e: StepEvent<V>) => 'stop' | void
}

/** a program run a step at a time (diffrax-style manual stepping) */
export interface Stepper<V> {
  readonly program: Program
  /** the number of steps (the denoise-to-zero step counts as step `steps.length` when present) */
  readonly steps: number
  /** the state before step 0 */
  readonly init: (xT: V) => State<V>
  /** run steps from..to−1 from a state at step `from` */
  readonly advance: (from: number, to: number) => (s: State<V>) => State<V>
  /** run from a state to the end (or until a callback stops), calling back after each step */
  readonly runFrom: (s: State<V>, cb?: Callbacks<V>) => State<V>
  /** the step a state is at */
  readonly stepOf: (s: State<V>) => number
  /**
   * run instructions from the state's next one up to (not including) instruction `pc`, finer than whole steps: a
   * diffusers-style scheduler (interop/Scheduler.ts) stops before each model evaluation (`modelEvaluations`)
   */
  readonly runTo: (pc: number) => (s: State<V>) => State<V>
}

/** the instruction indices of the program's model evaluations (analytic evaluations, which call no model, excluded), in order */
export const modelEvaluations = (p: Program): ReadonlyArray<number> => p.instrs.flatMap((ins, k) => (ins.op === 'eval' && ins.analytic === undefined ? [k] : []))

/** the instruction index where each step begins (drops belong to the step before them); bounds[n] = instrs.length */
export const stepBounds = (p: Program): ReadonlyArray<number> => {
  const n = Math.max(0, ...p.instrs.map((ins) => (ins.op === 'drop' ? 0 : ins.step + 1)))
  const bounds: number[] = []
  let k = 0
  for (let i = 0; i <= n; i++) {
    while (k < p.instrs.length) {
      const ins = p.instrs[k]!
      if (ins.op !== 'drop' && ins.step >= i) break
      k++
    }
    bounds.push(i === n ? p.instrs.length : k)
  }
  return bounds
}

/** x̂0 from the state's latest evaluation: a.x·xe + a.out·out at its point (+ μ on mean-reverting schedules) */
export const preview =
  <V>(env: Env<V>, p: Program) =>
  (s: State<V>): V | undefined => {
    const evals = p.instrs.slice(0, s.pc ?? 0).filter((ins): ins is Extract<Instr, { op: 'eval' }> => ins.op === 'eval')
    for (let k = evals.length - 1; k >= 0; k--) {
      const ev = evals[k]!
      const e = s.entries.get(ev.id)
      if (e === undefined) continue
      const a = toData(p, ev.at)
      return env.lincomb([[a.x, e.xe], [a.out, e.out], ...(a.mu !== 0 && env.mu !== undefined ? [[a.mu, env.mu] as const] : [])])
    }
    return undefined
  }

/** the data-prediction coefficients of the native output at a point (x̂0 = x·x + out·out + mu·μ) */
const toData = (p: Program, at: NS.Point): { readonly x: number; readonly out: number; readonly mu: number } => {
  const q = PZ.toPrediction(p.param, 'data', p.vScale)(at)
  // mean-reverting: x̂0 = μ + a.x·(x − μ) + a.out·(out − κμ)
  return { x: q.x, out: q.out, mu: p.meanReverting ? 1 - q.x - PZ.muContent(p.param) * q.out : 0 }
}

/** the stepping API over a program; `execute` defaults to `exec(env)` */
export const stepper = <V>(env: Env<V>, p: Program, execute: Execute<V> = (s, ins) => exec(env)(s, ins)): Stepper<V> => {
  assertRunnable(env, p)
  const bounds = stepBounds(p)
  const steps = bounds.length - 1
  const stepOf = (s: State<V>): number => {
    const pc = s.pc ?? 0
    let i = 0
    while (i < steps && bounds[i + 1]! <= pc) i++
    return pc >= p.instrs.length ? steps : i
  }
  const advance =
    (from: number, to: number) =>
    (s: State<V>): State<V> => {
      if ((s.pc ?? 0) !== bounds[from]) throw new Error(`advance(${from}, ${to}): the state is at instruction ${s.pc ?? 0}, step ${from} begins at ${bounds[from]}`)
      let st = s
      for (let k = bounds[from]!; k < bounds[Math.min(to, steps)]!; k++) st = { ...execute(st, p.instrs[k]!, k), pc: k + 1 }
      return st
    }
  const runTo =
    (pc: number) =>
    (s: State<V>): State<V> => {
      const from = s.pc ?? 0
      if (!(Number.isInteger(pc) && pc >= from && pc <= p.instrs.length)) throw new Error(`runTo(${pc}): the state is at instruction ${from}; expected ${from} … ${p.instrs.length}`)
      let st = s
      for (let k = from; k < pc; k++) st = { ...execute(st, p.instrs[k]!, k), pc: k + 1 }
      return st
    }
  return {
    program: p,
    steps,
    init: (xT) => ({ ...initial(xT), pc: 0 }),
    advance,
    stepOf,
    runTo,
    runFrom: (s, cb = {}) => {
      let st = s
      for (let i = stepOf(s); i < steps; i++) {
        st = advance(i, i + 1)(st)
        const now = st
        if (cb.onStep?.({ step: i, state: now, preview: () => preview(env, p)(now) }) === 'stop') break
      }
      return st
    },
  }
}

/**
 * every slot of a state through a row gather (particle resampling): x, each entry's x / xe / out / vel, the registers and the
 * per-row times; values shared between slots are gathered once, and the old values are released (tfjs: disposed)
 */
export const gatherRows =
  <V>(env: Env<V>) =>
  (s: State<V>, idx: ReadonlyArray<number>): State<V> => {
    const gather = env.gather
    if (gather === undefined) throw new Error('gatherRows: this interpreter cannot gather rows (Env.gather)')
    const done = new Map<V, V>()
    const g = (v: V): V => {
      const hit = done.get(v)
      if (hit !== undefined) return hit
      const out = gather(v, idx)
      done.set(v, out)
      return out
    }
    const entries = new Map([...s.entries].map(([id, e]) => [id, { x: g(e.x), xe: g(e.xe), out: g(e.out), ...(e.vel === undefined ? {} : { vel: g(e.vel) }) }] as const))
    const next: State<V> = {
      ...s,
      x: g(s.x),
      entries,
      ...(s.regs === undefined ? {} : { regs: new Map([...s.regs].map(([k, v]) => [k, g(v)] as const)) }),
      ...(s.times === undefined ? {} : { times: new Map([...s.times].map(([k, pts]) => [k, idx.map((r) => pts[r]!)] as const)) }),
    }
    for (const v of done.keys()) env.release?.(v)
    return next
  }
