/**
 * The Float64 interpreter: values are row-major Float64Array batches; exact to float64 rounding.
 * Every combined value and every model output is checked: a non-finite value stops the run with
 * the step index and the cause.
 */
import * as L from '../Linear.ts'
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

/** the Float64 environment over a model */
export const env = (model: Model): Prog.Env<Float64Array> => ({
  ...L.float64,
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
export const run = (p: Prog.Program, model: Model) => (xT: Float64Array): Result => {
  let step = 0
  const e = env(model)
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
  }, { x: xT, entries: new Map(), nfe: 0 } as Prog.State<Float64Array>)
  return { x: s.x, nfe: s.nfe }
}
