/**
 * k-diffusion's deterministic samplers in σ̄ = σ/α (docs/math.md#k-diffusion): Euler, Heun, DPM-2,
 * LMS and DPM++(2M)/(3M). In VP variables the σ̄-space updates are noise-form exponential
 * integrators with the output interpolated in ρ = σ̄ (Euler, Heun, DPM-2, LMS) or data-form λ rules (DPM++).
 */
import * as OP from '../core/OrderPolicy.ts'
import * as S from '../schedule/SolverSchedule.ts'
import { checkNfe, gridOf, type Common } from './common.ts'

/** an order-k noise step with ε interpolated in σ̄ (Euler, LMS) */
export const rhoStep = (order: number): S.StepDecision => ({ prediction: 'noise', order, basis: 'rho' })

/** the Heun step: Euler in σ̄, then the trapezoid corrector at the predicted point, re-evaluated */
export const heunStep: S.StepDecision = { ...rhoStep(1), corrector: { mode: 'reeval', order: 2, basis: 'rho' } }

/** DPM-2's two sub-steps: Euler in σ̄ to the λ-midpoint, then from the start with the midpoint's ε only */
export const dpm2Steps: ReadonlyArray<S.StepDecision> = [rhoStep(1), { ...rhoStep(1), start: -2, nodes: [-1] }]

/** Euler in σ̄: x̃_{i+1} = x̃_i + (σ̄_{i+1} − σ̄_i)·ε_i */
export const euler = (o: Common): S.SolverSchedule => {
  checkNfe(o.nfe)
  return S.make(
    gridOf(o.grid ?? 'karras', o.nfe),
    Array.from({ length: o.nfe }, () => rhoStep(1)),
    'euler',
  )
}

/** Heun in σ̄: Euler predictor, trapezoid corrector at the predicted point; ⌊nfe/2⌋ intervals */
export const heun = (o: Common): S.SolverSchedule => {
  checkNfe(o.nfe, 2)
  const n = Math.floor(o.nfe / 2)
  return S.make(
    gridOf(o.grid ?? 'karras', n),
    Array.from({ length: n }, () => heunStep),
    'heun',
  )
}

/** DPM-2: Euler in σ̄ to the λ-midpoint, then from the start with the midpoint's ε only; ⌊nfe/2⌋ intervals */
export const dpm2 = (o: Common): S.SolverSchedule => {
  checkNfe(o.nfe, 2)
  const n = Math.floor(o.nfe / 2)
  const split = Array.from({ length: n }, () => 2)
  const steps = split.flatMap(() => dpm2Steps)
  return S.make(gridOf(o.grid ?? 'karras', n, split), steps, 'dpm2')
}

/** LMS: Lagrange in σ̄ through the last min(i+1, order) ε's, integrated exactly over [σ̄_i, σ̄_{i+1}] */
export const lms = (o: Common & { readonly order?: number }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const orders = OP.orders(o.nfe)(OP.warmup(o.order ?? 4))
  return S.make(gridOf(o.grid ?? 'karras', o.nfe), orders.map(rhoStep), 'lms')
}

/** k-diffusion DPM++(2M): first step DDIM, then the 'dpmsolver' 2M (no lower-order final) */
export const dpmpp2m = (o: Common): S.SolverSchedule => {
  checkNfe(o.nfe)
  const steps = Array.from({ length: o.nfe }, (_, i): S.StepDecision => (i === 0 ? { prediction: 'data', order: 1 } : { prediction: 'data', order: 2, relaxation: 'dpmsolver-2' }))
  return S.make(gridOf(o.grid ?? 'karras', o.nfe), steps, 'k-dpmpp-2m')
}

/**
 * k-diffusion DPM++(3M) SDE with η = 0: DDIM, then the exact 2-node step, then 3-node steps (exact,
 * or halved second derivative with `parity: 'reference'`)
 */
export const dpmpp3m = (o: Common & { readonly parity?: 'exact' | 'reference' }): S.SolverSchedule => {
  checkNfe(o.nfe)
  const ref = o.parity === 'reference'
  const steps = Array.from({ length: o.nfe }, (_, i): S.StepDecision =>
    i === 0 ? { prediction: 'data', order: 1 } : i === 1 ? { prediction: 'data', order: 2 } : ref ? { prediction: 'data', order: 3, halveSecondDerivative: true } : { prediction: 'data', order: 3 },
  )
  return S.make(gridOf(o.grid ?? 'karras', o.nfe), steps, ref ? 'k-dpmpp-3m-ref' : 'k-dpmpp-3m')
}
