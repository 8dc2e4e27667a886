/**
 * Named solvers of the Stochastic family (registered in solvers/index.ts).
 */
import type { Named } from './index.ts'

/** the named solvers of this family, in display order */
export const named: ReadonlyArray<Named> = []
