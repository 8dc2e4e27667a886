/**
 * Noise injection (docs/math.md#stochastic). 'sde' is the SDE-DPM-Solver++ family (data prediction, any order):
 *   x_t = (σ_t/σ_s)e^{−ηh}x_s + α_t(1+η)∫e^{−(1+η)(λ_t−λ)}x̂0 dλ + σ_t·sqrt(1 − e^{−2ηh})·z;
 * 'ddim' (Song's η) and 'ancestral' (σ_up capped at σ_t) are first-order:
 *   x_t = α_t·x̂0 + sqrt(σ_t² − s²)·ε̂ + s·z,  s = η·σ_t·sqrt(1 − e^{−2h});
 * 'reverse-diffusion' and 'euler-maruyama' are the Score-SDE predictors of dx = [f·x − ½(1+η²)g²·ŝ]dt + η·g·dw̄.
 * η = 0 is the ODE step (the neutral element).
 */
import * as U from '../core/Codec.ts'
import * as I from '../ir/Instr.ts'
import * as NS from '../core/NoiseSchedule.ts'
import type * as P from '../core/Parameterization.ts'
import type { StepDecision } from './Registry.ts'
import * as MR from './MeanReverting.ts'
import * as St from './Step.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

const nonNeg = U.guard<number>('a non-negative number', (n): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0)

/** the noise codec: { level, eta, sNoise?, variance? } */
export const codec = (closed: U.Closed) =>
  closed(
    'noise injection',
    { level: U.oneOf<'sde' | 'ddim' | 'ancestral' | 'reverse-diffusion' | 'euler-maruyama'>(['sde', 'ddim', 'ancestral', 'reverse-diffusion', 'euler-maruyama']), eta: nonNeg },
    { sNoise: nonNeg, variance: U.oneOf<'small' | 'large'>(['small', 'large']) },
  )

/** a noise decision */
export type Noise = NonNullable<StepDecision['noise']>

// -------------------------------------------------------------------------------------------------
// coefficients (plain numbers)
// -------------------------------------------------------------------------------------------------

/** the noise level s of the first-order family x_t = α_t·x0 + sqrt(σ_t² − s²)·ε̂ + s·z */
export const level = (n: Noise, from: NS.Point, to: NS.Point): number => {
  const h = to.lambda - from.lambda
  const base = to.sigma * Math.sqrt(-Math.expm1(-2 * h))
  switch (n.level) {
    case 'ddim':
      return n.eta * base
    case 'ancestral':
      return Math.min(to.sigma, n.eta * base)
    case 'sde':
      return to.sigma * Math.sqrt(-Math.expm1(-2 * n.eta * h))
    case 'reverse-diffusion':
    case 'euler-maruyama':
      throw new Error(`internal: noise level ${n.level} is not of the form α_t·x0 + sqrt(σ_t² − s²)·ε̂ + s·z`)
  }
}

/**
 * the SDE step's noise std: data σ_t·sqrt(1 − e^{−2ηh}); noise form (SDE-DPM-Solver, MRS) σ_t·sqrt(η·expm1(2h)),
 * written α_t·e^{−λ_s}·sqrt(η·(1 − e^{−2h})) so it stays finite into σ_t = 0
 */
export const sdeStd = (prediction: P.Prediction, eta: number, from: NS.Point, to: NS.Point): number => {
  const h = to.lambda - from.lambda
  return prediction === 'data' ? to.sigma * Math.sqrt(-Math.expm1(-2 * eta * h)) : to.alpha * Math.exp(-from.lambda) * Math.sqrt(-eta * Math.expm1(-2 * h))
}

/** DDPM 'fixed_large' multiplies the injected noise by σ_s/σ_t (= sqrt(β/β̃) on VP; none into σ_t = 0); 'small' (default) by 1 */
export const varianceFactor = (n: Noise | undefined, from: NS.Point, to: NS.Point): number => (n?.variance !== 'large' ? 1 : to.sigma > 0 ? from.sigma / to.sigma : 0)

/**
 * the reverse SDE's drift and squared diffusion at t: f = d log α/dt, g² = dσ²/dt − 2fσ² = −2σ²·dλ/dt (central differences,
 * δ = 1e-5·t; forward differences when t − δ lies past the σ = 0 point, where λ is not defined: a grid ending within δ of it)
 */
const driftDiffusion = (ns: NS.NoiseSchedule, t: number): { readonly f: number; readonly g2: number } => {
  const dt = 1e-5 * t
  const central = Number.isFinite(ns.lambda(t - dt))
  const lo = central ? t - dt : t
  const span = central ? 2 * dt : dt
  const f = (Math.log(ns.alpha(t + dt)) - Math.log(ns.alpha(lo))) / span
  const dl = (ns.lambda(t + dt) - ns.lambda(lo)) / span
  return { f, g2: -2 * ns.sigma(t) ** 2 * dl }
}

/**
 * Score-SDE predictors on ε̂: x_t = A·x_s − ½(1+η²)(G²/σ_s)·ε̂_s + η·G·z with reverse diffusion A = 2 − α_s/α_t,
 * G² = α_s²(σ̄_s² − σ̄_t²); Euler–Maruyama A = 1 − f_sΔ, G² = g_s²Δ, Δ = s − t
 */
export const scoreSde = (ns: NS.NoiseSchedule, n: Noise, from: NS.Point, to: NS.Point): { readonly onStart: number; readonly onEps: number; readonly onZ: number } => {
  const em = n.level === 'euler-maruyama' ? driftDiffusion(ns, from.t) : undefined
  const dt = from.t - to.t
  const A = em === undefined ? 2 - from.alpha / to.alpha : 1 - em.f * dt
  const G2 = em === undefined ? from.alpha ** 2 * (Math.exp(-2 * from.lambda) - Math.exp(-2 * to.lambda)) : em.g2 * dt
  return { onStart: A, onEps: (-0.5 * (1 + n.eta ** 2) * G2) / from.sigma, onZ: n.eta * Math.sqrt(G2) * (n.sNoise ?? 1) }
}

// -------------------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------------------

/** sde needs basis λ; the first-order levels need order 1 and no corrector; variance only where the noise is s·z */
export const checks = (d: StepDecision, i: number): ReadonlyArray<U.Issue> => {
  const n = d.noise
  if (n === undefined) return []
  const p = `steps[${i}]`
  const basis = d.basis ?? 'lambda'
  return [
    ...(n.level === 'sde'
      ? U.when(basis !== 'lambda', `${p}.noise.level`, () => `noise level sde needs basis lambda (basis is ${basis}); remove basis or use level ddim with order 1`)
      : [
          ...U.when(d.order !== 1, `${p}.noise.level`, () => `noise level ${n.level} is a first-order step (order is ${d.order}); set order to 1 or use level sde (data prediction)`),
          ...U.when(d.corrector !== undefined, `${p}.corrector`, () => `a corrector cannot follow a ${n.level} noise step; remove the corrector`),
        ]),
    ...U.when(
      n.variance !== undefined && (n.level === 'reverse-diffusion' || n.level === 'euler-maruyama'),
      `${p}.noise.variance`,
      () => `variance applies to noise levels sde, ddim and ancestral (level is ${n.level}); remove it`,
    ),
  ]
}

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

const z0: I.Ref = { kind: 'noise', stream: 0 }

/** the predictor's terms replaced by a one-node formula x_t = A·x_s + onNode·m_s (+ μ shift, + zc·z) */
const oneNode = (f: (c: St.Ctx, from: NS.Point, to: NS.Point) => { readonly A: number; readonly onNode: number; readonly p: P.Prediction; readonly zc: number }): St.Combinator =>
  St.mapIntegrate((base) => (c, u, value) => {
    if (u.role !== 'predictor') return base(c, u, value)
    return (at, target) => {
      const q = f(c, at(c.startG), target)
      return {
        A: q.A,
        fixed: I.plus([[q.A, { kind: 'x', id: c.b.entry(c.startG) }]], I.scale(q.onNode, c.b.pred(q.p, c.startG, at(c.startG))), MR.shift(c.b, q.A), [[q.zc, z0]]),
        nodes: [],
        B: q.onNode,
      }
    }
  })

/** SDE-DPM-Solver++ (level sde): the rule's exponent (1+η)h and damping e^{−ηh}, plus σ_t·sqrt(1 − e^{−2ηh})·sNoise·z */
export const sde =
  (n: Noise): St.Combinator =>
  (s) =>
    St.declare(`noise sde η = ${n.eta}`, { noise: n.eta > 0 && (n.sNoise ?? 1) > 0, capabilities: n.eta > 0 ? ['normal'] : [] })(
      St.mapIntegrate((base) => (c, u, value) => {
        const inner = base(c, u, value)
        if (u.role !== 'predictor' || n.eta === 0) return inner
        return (at, target) => {
          const p = inner(at, target)
          const s0 = at(c.startG)
          const zc = sdeStd(c.decision.prediction, n.eta, s0, target) * (n.sNoise ?? 1) * varianceFactor(n, s0, target)
          return { ...p, fixed: I.plus(p.fixed, [[zc, z0]]) }
        }
      })(St.mapUpdates((u) => (u.role === 'predictor' ? { ...u, rule: { ...u.rule, eta: n.eta } } : u))(s)),
    )

/** the first-order family on the step's prediction: x_t = α_t·x̂0_s + sqrt(σ_t² − s²)·ε̂_s + s·z (η = 0: the ODE step, unchanged) */
export const firstOrder =
  (n: Noise): St.Combinator =>
  (s) =>
    n.eta === 0
      ? St.declare(`noise ${n.level} η = 0`, {})(s)
      : St.declare(`noise ${n.level} η = ${n.eta}`, { noise: (n.sNoise ?? 1) > 0, capabilities: ['normal'] })(
          oneNode((c, from, to) => {
            const lv = level(n, from, to)
            const cc = Math.sqrt(Math.max(0, to.sigma ** 2 - lv ** 2))
            const data = c.decision.prediction === 'data'
            return {
              A: data ? cc / from.sigma : to.alpha / from.alpha,
              onNode: data ? to.alpha - (cc * from.alpha) / from.sigma : cc - (to.alpha * from.sigma) / from.alpha,
              p: c.decision.prediction,
              zc: lv * (n.sNoise ?? 1) * varianceFactor(n, from, to),
            }
          })(s),
        )

/** a Score-SDE predictor on ε̂: x_t = A·x_s + c·ε̂_s + η·G·z */
export const scoreSdePredictor =
  (n: Noise): St.Combinator =>
  (s) =>
    St.declare(`noise ${n.level} η = ${n.eta}`, { noise: n.eta > 0 && (n.sNoise ?? 1) > 0, capabilities: ['normal'] })(
      oneNode((c, from, to) => {
        const q = scoreSde(c.b.ns, n, from, to)
        return { A: q.onStart, onNode: q.onEps, p: 'noise', zc: q.onZ }
      })(s),
    )

/** the noise field's combinator by level */
export const noise = (n: Noise): St.Combinator => (n.level === 'sde' ? sde(n) : n.level === 'ddim' || n.level === 'ancestral' ? firstOrder(n) : scoreSdePredictor(n))
