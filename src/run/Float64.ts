/**
 * The Float64 interpreter: values are row-major Float64Array batches; exact to float64 rounding.
 * Every combined value and every model output is checked: a non-finite value stops the run with
 * the step index and the cause.
 */
import * as L from '../core/Linear.ts'
import * as Noise from '../core/Noise.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import * as Prog from './Program.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * a model on Float64Array batches (native parameterization of the compiled program); `subset`: x holds only
 * those rows of the batch (per-sample times, `Prog.Subset`): a model conditioned per row takes the same rows of its condition
 */
export type Model = (x: Float64Array, at: Point, subset?: Prog.Subset) => Float64Array

/** a run's result */
export interface Result {
  readonly x: Float64Array
  readonly nfe: number
}

/**
 * run options: D (row length; needed by noise and per-row steps), the noise seed and the index of the first row, μ (mean-reverting);
 * `normal` replaces the counter-based generator: the draw for (step, stream), shaped like `like` (feed another sampler's noise
 * tensors, e.g. to reproduce a diffusers scheduler's `randn` draws; `seed` and `rowOffset` are then unused)
 */
export interface Options {
  readonly D?: number
  readonly seed?: number
  readonly rowOffset?: number
  readonly mu?: Float64Array
  readonly normal?: (key: Noise.Key, like: Float64Array) => Float64Array
}

/** the error a run stops with when a value turns non-finite */
export interface StepError extends Error {
  readonly step: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** an Error carrying the step index */
export const stepError = (step: number, cause: string): StepError => Object.assign(new Error(`step ${step}: ${cause}`), { step })

const firstBad = (v: Float64Array): number => {
  for (let k = 0; k < v.length; k++) if (!Number.isFinite(v[k]!)) return k
  return -1
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** per-row mean, unbiased variance and norm of a row-major batch with rows of length D */
export const rowStats =
  (D: number) =>
  (v: Float64Array): Prog.RowStats => {
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
export const lincombWide =
  (D: number) =>
  (terms: ReadonlyArray<readonly [Prog.Coef, Float64Array]>): Float64Array => {
    const n = terms[0]?.[1].length ?? 0
    const out = new Float64Array(n)
    for (const [c, v] of terms) {
      if (typeof c === 'number') for (let k = 0; k < n; k++) out[k]! += c * v[k]!
      else if ('rows' in c) for (let k = 0; k < n; k++) out[k]! += c.rows[Math.floor(k / D)]! * v[k]!
      else for (let k = 0; k < n; k++) out[k]! += c.cols[k % D]! * v[k]!
    }
    return out
  }

/** rows `rows` of a row-major batch of B rows */
export const takeRows = (v: Float64Array, rows: ReadonlyArray<number>, B: number): Float64Array => {
  const D = v.length / B
  const out = new Float64Array(rows.length * D)
  rows.forEach((r, k) => out.set(v.subarray(r * D, r * D + D), k * D))
  return out
}

/** the batch whose rows `rows` are `part`'s rows, for each (rows, part) */
export const putRows = (parts: ReadonlyArray<readonly [ReadonlyArray<number>, Float64Array]>): Float64Array => {
  const B = parts.reduce((n, [rows]) => n + rows.length, 0)
  const D = (parts[0]?.[1].length ?? 0) / (parts[0]?.[0].length || 1)
  const out = new Float64Array(B * D)
  for (const [rows, part] of parts) rows.forEach((r, k) => out.set(part.subarray(k * D, k * D + D), r * D))
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
    if (o.normal !== undefined) {
      const z = o.normal(key, like)
      if (z.length !== like.length) throw new Error(`Float64: the noise for step ${key.step} (stream ${key.stream}) has ${z.length} values; expected ${like.length}`)
      return z
    }
    const D = needD(o, 'a stochastic step')
    return Noise.normals(o.seed ?? 0, key, like.length / D, D, o.rowOffset ?? 0)
  },
  stats: (v) => rowStats(needD(o, 'a per-sample step'))(v),
  // per-column coefficients carry D themselves (DPM-Solver-v3)
  lincombWide: (terms) => lincombWide(o.D ?? terms.map(([c]) => (typeof c === 'object' && 'cols' in c ? c.cols.length : 0)).find((n) => n > 0) ?? needD(o, 'a per-sample step'))(terms),
  ones: (like) => new Float64Array(like.length).fill(1),
  rows: { take: takeRows, put: putRows },
  gather: (v, idx) => takeRows(v, idx, v.length / needD(o, 'gathering rows')),
  ...(o.mu === undefined ? {} : { mu: o.mu }),
  model: (x, at, subset) => {
    const out = model(x, at, subset)
    const k = firstBad(out)
    if (k >= 0)
      throw Object.assign(
        new Error(`model output is ${out[k]} at element ${k}${o.D === undefined ? '' : ` (row ${Math.floor(k / o.D)}, column ${k % o.D})`} at t = ${at.t} (α = ${at.alpha}, σ = ${at.sigma})`),
        { step: -1 },
      )
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

/** the env whose model calls rethrow any failure as a StepError of the current step (`step()`) */
export const guard = <V>(e: Prog.Env<V>, step: () => number): Prog.Env<V> => ({
  ...e,
  model: (x, at, subset) => {
    try {
      return e.model(x, at, subset)
    } catch (err) {
      throw stepError(step(), err instanceof Error ? err.message : String(err))
    }
  },
})

/** run a compiled program on x_T */
export const run =
  (p: Prog.Program, model: Model, o: Options = {}) =>
  (xT: Float64Array): Result => {
    let step = 0
    const guarded = guard(env(model, o), () => step)
    const s = p.instrs.reduce((st, ins) => {
      if (ins.op !== 'drop') step = ins.step
      return Prog.exec(guarded)(st, ins)
    }, Prog.initial(xT))
    return { x: s.x, nfe: s.nfe }
  }
