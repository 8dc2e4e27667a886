/**
 * Models: a function of (x, t) with a declared parameterization. Adapters convert the output to
 * another parameterization (affine in (x, out) at fixed t) and map solver time to a network's
 * time input.
 */
import type { Linear } from '../core/Linear.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import * as P from '../core/Parameterization.ts'

/**
 * which rows of the B-row batch a model call holds: at per-sample times (a kept time shift) one evaluation
 * calls the model once per distinct time, on the rows at that time (`rows`, increasing, of `of` = B)
 */
export interface Subset {
  readonly rows: ReadonlyArray<number>
  readonly of: number
}

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * a model: native output `param` at (x, point); `subset`: x holds only those rows of the batch (per-sample
 * times of a kept time shift): a model conditioned per row must take the same rows of its condition, or throw
 */
export interface Model<V> {
  readonly param: P.Parameterization
  readonly call: (x: V, at: Point, subset?: Subset) => V
}

/** how a network reads time: the continuous t, DPM-Solver's discrete index 1000·(t − 1/N), 999·t, or σ̄ = σ/α */
export type TimeInput = 'continuous' | { readonly discrete: number } | 'scaled999' | 'sigmaBar'

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a model from its parameterization and function */
export const make = <V>(param: P.Parameterization, call: (x: V, at: Point, subset?: Subset) => V): Model<V> => ({ param, call })

/** τ(t) for a time-input convention: t | 1000·(t − 1/N) | 999·t | e^{−λ_t} */
export const timeOf =
  (ti: TimeInput) =>
  (at: Point): number => {
    if (typeof ti === 'object') return 1000 * (at.t - 1 / ti.discrete)
    switch (ti) {
      case 'continuous':
        return at.t
      case 'scaled999':
        return 999 * at.t
      case 'sigmaBar':
        return Math.exp(-at.lambda)
    }
  }

/** a model from a network net(x, τ) that reads time through a convention */
export const fromNetwork = <V>(param: P.Parameterization, ti: TimeInput, net: (x: V, tau: number) => V): Model<V> => make(param, (x, at) => net(x, timeOf(ti)(at)))

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

/**
 * the same model with output in another parameterization: from (ε, x0) = affine(x, out) to the
 * target's native output (ε; x0; v = α·ε − σ·x0; u = ε − x0)
 */
export const as =
  <V>(L: Linear<V>, to: P.Parameterization) =>
  (m: Model<V>): Model<V> => {
    if (m.param === to) return m
    return make(to, (x, at, subset) => {
      const out = m.call(x, at, subset)
      const e = P.toPrediction(m.param, 'noise')(at)
      const d = P.toPrediction(m.param, 'data')(at)
      const f = P.fromPredictions(to)(at)
      return L.lincomb([
        [f.eps * e.x + f.x0 * d.x, x],
        [f.eps * e.out + f.x0 * d.out, out],
      ])
    })
  }
