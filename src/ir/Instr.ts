/**
 * The instruction language of a compiled program: model evaluations (`eval`), linear combinations
 * of held values with float64 coefficients (`combine`) and releases (`drop`), folded by one generic
 * `exec` (Program.ts). Values are named by `Ref`s; a `Form` is a linear combination of refs.
 */
import type * as NS from '../core/NoiseSchedule.ts'
import type { Parameterization } from '../core/Parameterization.ts'
import type { SolverSchedule, StepDecision } from '../schedule/SolverSchedule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * a value an instruction reads: entry `id`'s state x (the committed x after a pseudo corrector),
 * the x at which the model was evaluated (`xe`), the model output (`out`), the entry's momentum
 * value (`vel`, GHVB); the current x (`cur`); a register (`reg`, heavy-ball velocity); a fresh Gaussian
 * draw keyed by (seed, sample, step, stream) (`noise`); the mean-reverting condition μ (`mu`); the all-ones value (`one`)
 */
export type Ref =
  | { readonly kind: 'x' | 'xe' | 'out' | 'vel'; readonly id: number }
  | { readonly kind: 'cur' }
  | { readonly kind: 'reg'; readonly name: string }
  | { readonly kind: 'noise'; readonly stream: number }
  | { readonly kind: 'mu' }
  | { readonly kind: 'one' }

/** c·value */
export type Term = readonly [number, Ref]

/** Σ cᵢ·refᵢ: what a combine writes, built at compile time */
export type Form = ReadonlyArray<Term>

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
  /** the coefficients at the nominal points (or their means over rows / columns), from the same builder as `coefs` (explanations) */
  readonly nominal: Form
}

/** what a combine does: advance x (predictor/corrector), denoise at the end, raise the noise level (churn), update a momentum value, a Langevin move, or a user role */
export type Role = 'predictor' | 'corrector' | 'denoise' | 'churn' | 'momentum' | 'langevin' | (string & {})

/** one instruction of a compiled program */
export type Instr =
  /** out = model(x, at) (or out = analytic·x for USF's zero-x0 first step); a new history entry {x, xe: x, out} */
  | { readonly op: 'eval'; readonly step: number; readonly id: number; readonly point: number; readonly at: NS.Point; readonly analytic?: number }
  /** target ← Σ c·v (coefficients from `adapt` when present); with `commit`, entry `commit` takes the new x (pseudo corrector) */
  | {
      readonly op: 'combine'
      readonly step: number
      readonly role: Role
      readonly terms: Form
      readonly into?: Target
      readonly commit?: number
      readonly adapt?: Adapt
    }
  /** entries no longer needed */
  | { readonly op: 'drop'; readonly ids: ReadonlyArray<number> }

/** what an interpreter must offer beyond `lincomb` and `model`: the `Env` fields a program reads */
export type Capability = 'normal' | 'stats' | 'lincombWide' | 'rows' | 'mu' | 'ones'

/** per-step facts: what the laws check */
export interface StepInfo {
  readonly index: number
  readonly from: NS.Point
  readonly to: NS.Point
  readonly decision: StepDecision
  /** the declared local order: nodes of the step's last update */
  readonly order: number
  /** explanation fragments of the step's behaviours (one per combinator that changed it) */
  readonly labels: ReadonlyArray<string>
}

/** a compiled program: resolved points, instructions with float64 coefficients, per-step facts, NFE, history depth and the capabilities it needs */
export interface Program {
  readonly schedule: SolverSchedule
  /** the model's native output the coefficients are folded into */
  readonly param: Parameterization
  /** the v-parameterization's scale (mean-reverting schedules) and whether predictions live in y = x − μ */
  readonly vScale?: number
  readonly meanReverting: boolean
  readonly points: ReadonlyArray<NS.Point>
  readonly instrs: ReadonlyArray<Instr>
  readonly steps: ReadonlyArray<StepInfo>
  readonly nfe: number
  /** most entries alive at once */
  readonly historyDepth: number
  /** whether the program draws noise (needs `Env.normal`) */
  readonly usesNoise: boolean
  /** the Env capabilities the program reads; an interpreter without one of them rejects the program before running */
  readonly needs: ReadonlyArray<Capability>
}

// -------------------------------------------------------------------------------------------------
// utils: linear forms over refs
// -------------------------------------------------------------------------------------------------

/** c·f */
export const scale = (c: number, f: Form): Form => f.map(([k, r]) => [c * k, r] as const)

/** f₁ + f₂ + … (terms concatenated) */
export const plus = (...fs: ReadonlyArray<Form>): Form => fs.flat()

/** a ref's identity: equal keys, equal values */
export const refKey = (r: Ref): string => ('id' in r ? `${r.kind}${r.id}` : r.kind === 'reg' ? `reg:${r.name}` : r.kind === 'noise' ? `z${r.stream}` : r.kind)

/** the distinct refs of a form (coefficient 1, zeros kept: every ref some row may need) */
export const refsOf = (f: Form): Form => [...new Map(f.map(([, r]) => [refKey(r), r] as const)).values()].map((r) => [1, r] as const)

/** ref key → summed coefficient */
export const coefMap = (f: Form): ReadonlyMap<string, number> => {
  const m = new Map<string, number>()
  for (const [c, r] of f) m.set(refKey(r), (m.get(refKey(r)) ?? 0) + c)
  return m
}

/** equal refs merged (coefficients summed), zeros dropped, first-appearance order */
export const tidy = (f: Form): Form => {
  const by = new Map<string, [number, Ref]>()
  for (const [c, r] of f) {
    const k = refKey(r)
    const prev = by.get(k)
    by.set(k, [(prev?.[0] ?? 0) + c, r])
  }
  return [...by.values()].filter(([c]) => c !== 0).map(([c, r]) => [c, r] as const)
}

/** per-row coefficients of `terms`: row b's form comes from formOf(b) = [key, build], built once per distinct key */
export const perRow = (terms: Form, B: number, formOf: (b: number) => readonly [string, () => Form]): ReadonlyArray<Coef> => {
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

/** the refs an instruction reads */
export const readsOf = (ins: Instr): ReadonlyArray<Ref> => (ins.op === 'combine' ? [...ins.terms.map(([, r]) => r), ...(ins.adapt?.measure ?? [])] : [])
