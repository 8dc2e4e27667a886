/**
 * The Float64 interpreter: values are row-major Float64Array batches; exact to float64 rounding.
 * Every combined value and every model output is checked: a non-finite value stops the run with
 * the step index and the cause.
 */
import * as L from '../Linear.ts'
import * as Noise from '../Noise.ts'
import type { Point } from '../NoiseSchedule.ts'
import * as Prog from '../Program.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a model on Float64Array batches (native parameterization of the compiled program) */
export type Model = (x: Float64Array, at: Point) => Float64Array

/** a run's result */
export interface Result {
  readonly x: Float64Array
  readonly nfe: number
}

/** run options: D (row length; needed by noise and per-row steps), the noise seed and the index of the first row, μ (mean-reverting) */
export interface Options {
  readonly D?: number
  readonly seed?: number
  readonly rowOffset?: number
  readonly mu?: Float64Array
}

/** the error a run stops with when a value turns non-finite */
export interface StepError extends Error {
  readonly step: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** an Error carrying the step index */
export const stepError = (step: number, cause: string): StepError =>
  Object.assign(new Error(`step ${step}: ${cause}`), { step })

const firstBad = (v: Float64Array): number => {
  for (let k = 0; k < v.length; k++) if (!Number.isFinite(v[k]!)) return k
  return -1
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** per-row mean, unbiased variance and norm of a row-major batch with rows of length D */
export const rowStats = (D: number) => (v: Float64Array): Prog.RowStats => {
  const B = v.length / D
  const mean = new Float64Array(B)
  const variance = new Float64Array(B)
  const norm = new Float64Array(B)
  for (let b = 0; b < B; b++) {
    let s = 0
    let q = 0
    for (let d = 0; d < D; d++) {
      s += v[b * D + d]!
      q += v[b * D + d]! ** 2
    }
    const m = s / D
    let ss = 0
    for (let d = 0; d < D; d++) ss += (v[b * D + d]! - m) ** 2
    mean[b] = m
    variance[b] = D > 1 ? ss / (D - 1) : 0
    norm[b] = Math.sqrt(q)
  }
  return { mean, variance, norm }
}

/** Σ cᵢ·vᵢ with per-row ({rows}) or per-column ({cols}) coefficients on rows of length D */
export const lincombWide = (D: number) => (terms: ReadonlyArray<readonly [Prog.Coef, Float64Array]>): Float64Array => {
  const n = terms[0]?.[1].length ?? 0
  const out = new Float64Array(n)
  for (const [c, v] of terms) {
    if (typeof c === 'number') for (let k = 0; k < n; k++) out[k]! += c * v[k]!
    else if ('rows' in c) for (let k = 0; k < n; k++) out[k]! += c.rows[Math.floor(k / D)]! * v[k]!
    else for (let k = 0; k < n; k++) out[k]! += c.cols[k % D]! * v[k]!
  }
  return out
}

const needD = (o: Options, what: string): number => {
  if (o.D === undefined) throw new Error(`Float64.run: ${what} needs the row length: pass { D } in the run options`)
  return o.D
}

/** the Float64 environment over a model */
export const env = (model: Model, o: Options = {}): Prog.Env<Float64Array> => ({
  ...L.float64,
  normal: (key, like) => {
    const D = needD(o, 'a stochastic step')
    return Noise.normals(o.seed ?? 0, key, like.length / D, D, o.rowOffset ?? 0)
  },
  stats: (v) => rowStats(needD(o, 'a per-sample step'))(v),
  lincombWide: (terms) => lincombWide(needD(o, 'a per-sample step'))(terms),
  ...(o.mu === undefined ? {} : { mu: o.mu }),
  model: (x, at) => {
    const out = model(x, at)
    const k = firstBad(out)
    if (k >= 0) throw Object.assign(new Error(`model output is ${out[k]} at element ${k} (t = ${at.t})`), { step: -1 })
    return out
  },
  check: (x, step, role) => {
    const k = firstBad(x)
    if (k >= 0) throw stepError(step, `the ${role} produced ${x[k]} at element ${k}; the model or the step coefficients are not finite here (try a lower order or a grid that avoids this time)`)
  },
})

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** run a compiled program on x_T */
export const run = (p: Prog.Program, model: Model, o: Options = {}) => (xT: Float64Array): Result => {
  let step = 0
  const e = env(model, o)
  const guarded: Prog.Env<Float64Array> = {
    ...e,
    model: (x, at) => {
      try {
        return e.model(x, at)
      } catch (err) {
        throw stepError(step, err instanceof Error ? err.message : String(err))
      }
    },
  }
  const s = p.instrs.reduce((st, ins) => {
    if (ins.op !== 'drop') step = ins.step
    return Prog.exec(guarded)(st, ins)
  }, Prog.initial(xT))
  return { x: s.x, nfe: s.nfe }
}
