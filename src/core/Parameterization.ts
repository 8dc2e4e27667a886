/**
 * Parameterizations: what a model outputs (ε, x0, v or flow velocity u) and the affine maps that
 * turn (x, output) into the noise and data predictions. All maps are linear in (x, out) at fixed t,
 * so the solver folds them into its one linear combination per step.
 */
import type { Point } from './NoiseSchedule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** what the model returns */
export type Parameterization = 'eps' | 'x0' | 'v' | 'flow'

/** the two prediction types a step can integrate */
export type Prediction = 'noise' | 'data'

/** coefficients (a, b) of a prediction p = a·x + b·out */
export interface Affine {
  readonly x: number
  readonly out: number
}

/** all parameterizations, for iteration */
export const all: ReadonlyArray<Parameterization> = ['eps', 'x0', 'v', 'flow']

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/**
 * ε and x0 from (x, out) at p:
 * eps: ε = out, x0 = (x − σ·out)/α;  x0: x0 = out, ε = (x − α·out)/σ;
 * v = c·α·ε − (σ/c)·x0 (c = vScale, default 1): ε = (cα·v + σ·x)/(c²α²+σ²), x0 = c(cα·x − σ·v)/(c²α²+σ²);
 * flow (α = 1−t, σ = t, u = ε − x0): ε = x + α·u, x0 = x − σ·u
 */
export const toPrediction =
  (param: Parameterization, pred: Prediction, vScale = 1) =>
  (p: Point): Affine => {
    const { alpha: a, sigma: s } = p
    switch (param) {
      case 'eps':
        return pred === 'noise' ? { x: 0, out: 1 } : { x: 1 / a, out: -s / a }
      case 'x0':
        return pred === 'data' ? { x: 0, out: 1 } : { x: 1 / s, out: -a / s }
      case 'v': {
        const ca = vScale * a
        const n = ca * ca + s * s
        return pred === 'noise' ? { x: s / n, out: ca / n } : { x: (vScale * ca) / n, out: (-vScale * s) / n }
      }
      case 'flow':
        return pred === 'noise' ? { x: 1, out: a } : { x: 1, out: -s }
    }
  }

/**
 * the native output from (ε, x0) at p: eps → ε; x0 → x0; v → c·α·ε − (σ/c)·x0 (c = vScale, default 1); flow → ε − x0.
 * Returned as coefficients on (ε, x0).
 */
export const fromPredictions =
  (param: Parameterization, vScale = 1) =>
  (p: Point): { readonly eps: number; readonly x0: number } => {
    switch (param) {
      case 'eps':
        return { eps: 1, x0: 0 }
      case 'x0':
        return { eps: 0, x0: 1 }
      case 'v':
        return { eps: vScale * p.alpha, x0: -p.sigma / vScale }
      case 'flow':
        return { eps: 1, x0: -1 }
    }
  }

/**
 * κ, the μ content of a native output under a mean-reverting schedule (docs/math.md#mean-reverting): out_y = out − κ·μ on y = x − μ.
 * The model's x0 is the clean x0 = x0_y + μ (κ = 1; flow u = ε − x0: −1); ε and v = c·α·ε − (σ/c)·(x0 − μ) live on y (κ = 0)
 */
export const muContent = (param: Parameterization): number => (param === 'x0' ? 1 : param === 'flow' ? -1 : 0)
