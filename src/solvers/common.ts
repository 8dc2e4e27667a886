/**
 * Shared pieces of the named solvers: grid choice and the per-step decision builders.
 */
import type * as G from '../core/Grid.ts'
import type { Prediction } from '../core/Parameterization.ts'
import type { StepDecision } from '../schedule/SolverSchedule.ts'

/** the grid kinds a named solver accepts */
export type GridKind = G.Spacing

/** options every named solver takes */
export interface Common {
  readonly nfe: number
  readonly grid?: GridKind
}

/** `steps` intervals of a spacing, optionally split (in λ) into sub-steps */
export const gridOf = (kind: GridKind, steps: number, split?: ReadonlyArray<number>): G.Grid => (split === undefined ? { spacing: kind, steps } : { spacing: kind, steps, split, splitIn: 'lambda' })

/** a first-order step (DDIM / Euler in λ): x_t = A·x_s + c·m_s */
export const first = (prediction: Prediction): StepDecision => ({ prediction, order: 1 })

/** assert an NFE budget is a positive integer */
export const checkNfe = (nfe: number, min = 1): void => {
  if (!Number.isInteger(nfe) || nfe < min) throw new Error(`nfe must be an integer ≥ ${min}; got ${nfe}`)
}
