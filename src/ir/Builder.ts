/**
 * The compile-time builder: what a step emits into while a schedule is compiled. It owns the grid
 * points (churn may move one before it is evaluated), the history entries (grid point → entry id),
 * the instruction list, NFE (counted here only: one evaluation, one NFE), the grid points a kept
 * time shift moves per sample, and typed slots where a step behaviour keeps compile-time state of its
 * own (GHVB's momentum chain, heavy-ball registers). A builder is used by one compile and then
 * `finish`ed: drops planned, history depth and the capabilities the program needs derived from the
 * instructions themselves.
 */
import type { Ems } from '../core/DpmV3.ts'
import type * as NS from '../core/NoiseSchedule.ts'
import * as P from '../core/Parameterization.ts'
import type { SolverSchedule } from '../schedule/SolverSchedule.ts'
import * as I from './Instr.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** grid point → the point a form is built at (nominal, or one row's per-sample point) */
export type At = (g: number) => NS.Point

/** a named piece of compile-time state owned by one step behaviour; `init` is its value before any step wrote it */
export interface Slot<A> {
  readonly name: string
  readonly init: () => A
}

/** extra fields of a combine */
export interface Extra {
  readonly into?: I.Target
  readonly commit?: number
}

/** what a compile may need besides the noise schedule: the model's EMS (steps with `ems`, DPM-Solver-v3) */
export interface Options {
  readonly ems?: Ems
}

/** the builder a compile threads through its steps */
export interface Builder {
  readonly ns: NS.NoiseSchedule
  readonly options: Options
  /** the model's native output */
  readonly param: P.Parameterization
  /** the noise schedule is mean-reverting: predictions live in y = x − μ */
  readonly mr: boolean
  /** grid point g as compiled so far */
  readonly point: (g: number) => NS.Point
  /** the number of grid points */
  readonly size: number
  /** churn: grid point g moves to q before it is evaluated */
  readonly move: (g: number, q: NS.Point) => void
  /** a model evaluation at grid point g (analytic: out = analytic·x, no NFE); returns the new entry id */
  readonly evaluate: (step: number, g: number, analytic?: number) => number
  /** the entry id of grid point g's latest evaluation */
  readonly entry: (g: number) => number
  /** the grid point of an entry */
  readonly pointOf: (id: number) => number
  /** whether the current x was already evaluated (a pseudo corrector's evaluation serves the next step) */
  readonly fresh: () => boolean
  readonly setFresh: (fresh: boolean) => void
  /** the prediction m (y-space when mean-reverting) at grid point g, at point q (default: g's), as a form over the entry's (xe, out, μ) */
  readonly pred: (p: P.Prediction, g: number, q?: NS.Point) => I.Form
  /** the nominal points */
  readonly nominal: At
  /** row b's points: its own where a kept time shift moved the grid point, else the nominal ones */
  readonly rowAt: (rows: I.RowPoints, b: number) => At
  /** the moved grid points a form reads (through its entries) */
  readonly movedIn: (f: I.Form) => ReadonlyArray<number>
  /** memo key of row b's points of the moved grid points `gs` */
  readonly keyOf: (rows: I.RowPoints, b: number, gs: ReadonlyArray<number>) => string
  /** a kept time shift gives grid point g per-sample times */
  readonly markMoved: (g: number) => void
  readonly isMoved: (g: number) => boolean
  /** append an instruction as it is */
  readonly push: (ins: I.Instr) => void
  /** target ← f with float64 coefficients (terms tidied) */
  readonly combine: (step: number, role: I.Role, f: I.Form, extra?: Extra) => void
  /**
   * target ← build(at): one combine with float64 coefficients when no point the form reads was moved per sample,
   * else per-row coefficients, each row's form built at its own points
   */
  readonly emit: (step: number, role: I.Role, build: (at: At) => I.Form, extra?: Extra) => void
  /** a step behaviour's compile-time state */
  readonly get: <A>(slot: Slot<A>) => A
  readonly set: <A>(slot: Slot<A>, a: A) => void
  /** the instructions so far (for steps that look back, e.g. laws) */
  readonly count: () => { readonly instrs: number; readonly nfe: number }
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * the prediction p at an entry, as a form over the entry's refs: p = a.x·xe + a.out·out (+ the μ term of a
 * mean-reverting problem: −(a.x + κ·a.out)·μ, κ = the native output's μ content)
 */
const predictionAt =
  (ns: NS.NoiseSchedule, param: P.Parameterization, mr: boolean) =>
  (p: P.Prediction, id: number, q: NS.Point): I.Form => {
    const a = P.toPrediction(param, p, ns.vScale)(q)
    // the x the model saw (the entry's x until a pseudo corrector commits there; kept apart so the
    // coefficients are summed in the same order as the reference implementations)
    const xe: I.Ref = { kind: 'xe', id }
    return I.plus(
      [
        [a.x, xe],
        [a.out, { kind: 'out', id }],
      ],
      mr ? [[-(a.x + P.muContent(param) * a.out), { kind: 'mu' }]] : [],
    )
  }

/** a combine whose coefficients are rebuilt per row (rows at per-sample times of the moved points `gs`), keyed by those rows' times */
const perRowCombine = (
  step: number,
  role: I.Role,
  f: I.Form,
  gs: ReadonlyArray<number>,
  build: (at: At) => I.Form,
  rowAt: (rows: I.RowPoints, b: number) => At,
  keyOf: (rows: I.RowPoints, b: number, gs: ReadonlyArray<number>) => string,
  extra: Extra,
): I.Instr => {
  const terms = I.refsOf(f)
  const coefs = (_: ReadonlyArray<I.RowStats>, rows: I.RowPoints): ReadonlyArray<I.Coef> => {
    const B = rows(gs[0]!)?.length ?? 0
    return I.perRow(terms, B, (b) => [keyOf(rows, b, gs), () => build(rowAt(rows, b))])
  }
  return {
    op: 'combine',
    step,
    role,
    terms,
    ...extra,
    adapt: { measure: [], coefs, describe: `per-sample coefficients (points ${gs.join(', ')} at per-sample times)`, nominal: I.tidy(f) },
  }
}

/** a fresh builder over the resolved grid points */
export const make = (
  ns: NS.NoiseSchedule,
  param: P.Parameterization,
  nominalPoints: ReadonlyArray<NS.Point>,
  options: Options = {},
): Builder & { readonly finish: (s: SolverSchedule, steps: ReadonlyArray<I.StepInfo>) => I.Program } => {
  const points: NS.Point[] = [...nominalPoints]
  const mr = ns.meanReverting === true
  const instrs: I.Instr[] = []
  const entryOf = new Map<number, number>()
  const pointOfEntry: number[] = []
  const moved = new Set<number>()
  const slots = new Map<string, unknown>()
  let nfe = 0
  let fresh = false
  const entry = (g: number): number => {
    const id = entryOf.get(g)
    if (id === undefined) throw new Error(`internal: grid point ${g} has no evaluation`)
    return id
  }
  const nominal: At = (g) => points[g]!
  const rowAt =
    (rows: I.RowPoints, b: number): At =>
    (g) =>
      rows(g)?.[b] ?? points[g]!
  const movedIn = (f: I.Form): ReadonlyArray<number> => (moved.size === 0 ? [] : [...new Set(f.flatMap(([, r]) => ('id' in r ? [pointOfEntry[r.id]!] : [])))].filter((g) => moved.has(g)))
  const keyOf = (rows: I.RowPoints, b: number, gs: ReadonlyArray<number>): string => gs.map((g) => rowAt(rows, b)(g).t).join('|')
  const push = (ins: I.Instr) => {
    instrs.push(ins)
  }
  const combine = (step: number, role: I.Role, f: I.Form, extra: Extra = {}) => push({ op: 'combine', step, role, terms: I.tidy(f), ...extra })
  return {
    ns,
    options,
    param,
    mr,
    point: nominal,
    size: points.length,
    move: (g, q) => {
      points[g] = q
    },
    evaluate: (step, g, analytic) => {
      const id = pointOfEntry.length
      entryOf.set(g, id)
      pointOfEntry.push(g)
      if (analytic === undefined) nfe++
      instrs.push({ op: 'eval', step, id, point: g, at: points[g]!, ...(analytic === undefined ? {} : { analytic }) })
      return id
    },
    entry,
    pointOf: (id) => pointOfEntry[id]!,
    fresh: () => fresh,
    setFresh: (f) => {
      fresh = f
    },
    pred: (p, g, q = points[g]!) => predictionAt(ns, param, mr)(p, entry(g), q),
    nominal,
    rowAt,
    movedIn,
    keyOf,
    markMoved: (g) => {
      moved.add(g)
    },
    isMoved: (g) => moved.has(g),
    push,
    combine,
    emit: (step, role, build, extra = {}) => {
      const f = build(nominal)
      const gs = movedIn(f)
      if (gs.length === 0) combine(step, role, f, extra)
      else push(perRowCombine(step, role, f, gs, build, rowAt, keyOf, extra))
    },
    get: <A>(slot: Slot<A>): A => {
      // a slot's value is created once per compile and owned by its step behaviour
      if (!slots.has(slot.name)) slots.set(slot.name, slot.init())
      return slots.get(slot.name) as A
    },
    set: (slot, a) => {
      slots.set(slot.name, a)
    },
    count: () => ({ instrs: instrs.length, nfe }),
    finish: (schedule, steps) => {
      const planned = planDrops(instrs)
      return {
        schedule,
        param,
        ...(ns.vScale === undefined ? {} : { vScale: ns.vScale }),
        meanReverting: mr,
        points,
        instrs: planned,
        steps,
        nfe,
        historyDepth: depth(planned),
        usesNoise: usesNoise(planned),
        needs: needsOf(planned),
      }
    },
  }
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** insert `drop` after the last instruction that reads each entry (one pass, linear in the instructions) */
export const planDrops = (instrs: ReadonlyArray<I.Instr>): ReadonlyArray<I.Instr> => {
  const last = new Map<number, number>()
  instrs.forEach((ins, k) => {
    if (ins.op === 'eval') last.set(ins.id, Math.max(last.get(ins.id) ?? k, k))
    if (ins.op === 'combine') {
      for (const r of I.readsOf(ins)) if ('id' in r) last.set(r.id, k)
      if (ins.commit !== undefined) last.set(ins.commit, k)
      if (ins.into?.kind === 'vel') last.set(ins.into.id, k)
    }
  })
  const dropsAt = new Map<number, number[]>()
  for (const [id, k] of last) {
    const at = dropsAt.get(k)
    if (at === undefined) dropsAt.set(k, [id])
    else at.push(id)
  }
  const out: I.Instr[] = []
  instrs.forEach((ins, k) => {
    out.push(ins)
    const ids = dropsAt.get(k)
    if (ids !== undefined && k < instrs.length - 1) out.push({ op: 'drop', ids })
  })
  return out
}

/** the largest number of entries alive at once */
export const depth = (instrs: ReadonlyArray<I.Instr>): number => {
  let alive = 0
  let most = 0
  for (const ins of instrs) {
    if (ins.op === 'eval') most = Math.max(most, ++alive)
    if (ins.op === 'drop') alive -= ins.ids.length
  }
  return most
}

/** whether a noise draw enters some combine with a non-zero coefficient (sNoise = 0 draws nothing that matters) */
const usesNoise = (instrs: ReadonlyArray<I.Instr>): boolean => instrs.some((ins) => ins.op === 'combine' && (ins.adapt?.nominal ?? ins.terms).some(([c, r]) => r.kind === 'noise' && c !== 0))

/** the Env capabilities the instructions read, derived from the refs and coefficient kinds */
export const needsOf = (instrs: ReadonlyArray<I.Instr>): ReadonlyArray<I.Capability> => {
  const caps = new Set<I.Capability>()
  for (const ins of instrs) {
    if (ins.op !== 'combine') continue
    for (const [, r] of ins.terms) {
      if (r.kind === 'noise') caps.add('normal')
      if (r.kind === 'mu') caps.add('mu')
      if (r.kind === 'one') caps.add('ones')
    }
    if (ins.adapt !== undefined) caps.add('lincombWide')
    if ((ins.adapt?.measure.length ?? 0) > 0) caps.add('stats')
    if (ins.adapt?.place !== undefined) caps.add('rows')
  }
  return [...caps].sort()
}
