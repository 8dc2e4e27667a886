/**
 * Named solvers of the Stochastic family (docs/math.md#stochastic): DDIM-η, DDPM ancestral, Euler-ancestral,
 * SDE-DPM-Solver++ 1/2M/3M, EDM churn (Euler, Heun) and the Score-SDE predictor–corrector sampler.
 * Each is a schedule constructor: its deterministic base with `noise`, `churn` or `langevin` fields on
 * the steps. Noise is counter-based (seed, sample index, step, stream), so runs are bit-reproducible
 * and batch-invariant (the one exception, score-sde-pc with norms=batch, is marked). η = 0 / sChurn = 0
 * compile to exactly the base solver's program (laws/stochastic.law.ts).
 */
import * as S from '../schedule/SolverSchedule.ts'
import * as Dpm from './Dpm.ts'
import * as K from './K.ts'
import { checkNfe, gridOf, type Common } from './common.ts'
import type { Named } from './index.ts'
import * as P from './Params.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the Score-SDE predictor: reverse diffusion (VE NCSN++ config), Euler–Maruyama (VP DDPM++ config), or ancestral (= DDPM, DDIM η) */
export type Predictor = 'reverse-diffusion' | 'euler-maruyama' | 'ancestral'

/** the predictor SDE's η (1 = the reverse SDE, 0 = its probability flow) and the noise multiplier */
interface Eta {
  readonly eta?: number
  readonly sNoise?: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the noise field of level `level`: η, sNoise only when not 1 */
const noiseOf = (level: S.Noise['level'], o: Eta, variance?: 'small' | 'large'): S.Noise => ({
  level,
  eta: o.eta ?? 1,
  ...(o.sNoise === undefined || o.sNoise === 1 ? {} : { sNoise: o.sNoise }),
  ...(variance === undefined || variance === 'small' ? {} : { variance }),
})

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a step with SDE-DPM-Solver++ noise (level sde): its rule's exponent (1+η)h and damping e^{−ηh}, plus σ_t·sqrt(1 − e^{−2ηh})·sNoise·z */
export const withSde =
  (o: Eta) =>
  (d: S.StepDecision): S.StepDecision => ({ ...d, noise: noiseOf('sde', o) })

/** the Euler-ancestral step (k-diffusion, diffusers EulerAncestralDiscreteScheduler): first order in σ̄ with noise level ancestral */
export const eulerAncestralStep = (o: Eta): S.StepDecision => ({ ...K.rhoStep(1), noise: noiseOf('ancestral', o) })

/** DDIM(η): x_t = α_t·x̂0 + sqrt(σ_t² − s²)·ε̂ + s·z, s = η·σ_t·sqrt(1 − e^{−2h}) (η = 0: DDIM; 'large': s·σ_s/σ_t) */
export const ddimEta = (o: Common & Eta & { readonly variance?: 'small' | 'large' }): S.SolverSchedule => S.mapSteps(Dpm.ddim(o), (d) => ({ ...d, noise: noiseOf('ddim', o, o.variance) }), 'ddim-eta')

/** DDPM ancestral on the (respaced) grid: posterior mean, std sqrt(β̃) ('fixed_small') or sqrt(β) ('fixed_large') = DDIM(η = 1) */
export const ddpm = (o: Common & { readonly variance?: 'fixed_small' | 'fixed_large' }): S.SolverSchedule => ({
  ...ddimEta({ nfe: o.nfe, ...(o.grid === undefined ? {} : { grid: o.grid }), eta: 1, variance: o.variance === 'fixed_large' ? 'large' : 'small' }),
  name: 'ddpm',
})

/** Euler-ancestral (k-diffusion): σ_up = min(σ̄_t, η·sqrt(σ̄_t²(σ̄_s² − σ̄_t²)/σ̄_s²)), x̄ ← x̄ + (σ_down − σ̄_s)·d + σ_up·sNoise·z */
export const eulerAncestral = (o: Common & Eta): S.SolverSchedule => S.mapSteps(K.euler(o), () => eulerAncestralStep(o), 'euler-ancestral')

/**
 * SDE-DPM-Solver++(1/2M/3M) (k-diffusion sample_dpmpp_{2m,3m}_sde): the data-form multistep step with kernel
 * e^{−(1+η)h}, x_s damped by e^{−ηh}, plus σ_t·sqrt(1 − e^{−2ηh})·sNoise·z; 2M 'midpoint' (½-rule) or 'heun' (exact linear)
 */
export const sdeDpmpp = (o: Common & Eta & { readonly order: 1 | 2 | 3; readonly solverType?: 'midpoint' | 'heun'; readonly parity?: 'exact' | 'reference' }): S.SolverSchedule => {
  const grid = o.grid === undefined ? {} : { grid: o.grid }
  const base =
    o.order === 1
      ? Dpm.ddim({ nfe: o.nfe, prediction: 'data', ...grid })
      : o.order === 2
        ? S.mapSteps(K.dpmpp2m({ nfe: o.nfe, ...grid }), ({ relaxation: _r, ...d }) => (o.solverType === 'heun' || d.order === 1 ? d : { ...d, relaxation: 'dpmsolver-2' }), '')
        : K.dpmpp3m({ nfe: o.nfe, ...grid, ...(o.parity === undefined ? {} : { parity: o.parity }) })
  const name = o.order === 1 ? 'sde-dpmpp-1' : `sde-dpmpp-${o.order}m${o.order === 3 && o.parity === 'reference' ? '-ref' : ''}`
  return S.mapSteps(base, withSde(o), name)
}

/**
 * EDM churn on k-diffusion's Euler or Heun: where sTmin ≤ σ̄_i ≤ sTmax, γ = min(sChurn/N, √2 − 1),
 * σ̂ = σ̄_i(1 + γ), x̄ ← x̄ + sqrt(σ̂² − σ̄_i²)·sNoise·z, then the deterministic step from σ̂ (N = number of steps)
 */
export const churn = (o: Common & { readonly method: 'euler' | 'heun'; readonly sChurn: number; readonly sTmin?: number; readonly sTmax?: number; readonly sNoise?: number }): S.SolverSchedule => {
  const base = o.method === 'euler' ? K.euler(o) : K.heun(o)
  const gamma = Math.min(o.sChurn / base.steps.length, Math.SQRT2 - 1)
  const c: S.Churn = {
    gamma,
    ...(o.sNoise === undefined || o.sNoise === 1 ? {} : { sNoise: o.sNoise }),
    ...(o.sTmin === undefined || o.sTmin === 0 ? {} : { sTmin: o.sTmin }),
    ...(o.sTmax === undefined || o.sTmax === Infinity ? {} : { sTmax: o.sTmax }),
  }
  return S.mapSteps(base, (d) => (gamma > 0 ? { ...d, churn: c } : d), `${o.method}-churn`)
}

/**
 * Score-SDE predictor–corrector (docs/math.md#langevin): per step `steps` Langevin iterations x ← x + ε_L·ŝ + sqrt(2ε_L)·z at t_i,
 * then the predictor t_i → t_{i+1}; ⌊nfe/(steps + 1)⌋ steps on the time-uniform grid (nfe < steps + 1 is an error)
 */
export const scoreSdePc = (
  o: Common & Eta & { readonly predictor?: Predictor; readonly snr?: number; readonly steps?: number; readonly norms?: 'expected' | 'sample' | 'batch' },
): S.SolverSchedule => {
  const k = o.steps ?? 1
  if (!Number.isInteger(k) || k < 0) throw new Error(`Langevin steps must be an integer ≥ 0; got ${k}`)
  checkNfe(o.nfe)
  if (o.nfe < k + 1)
    throw new Error(`score-sde-pc: each step costs ${k + 1} evaluations (${k} Langevin + the predictor), so nfe ${o.nfe} is too small; use nfe ≥ ${k + 1}${k > 0 ? ' or steps = 0' : ''}`)
  const n = Math.floor(o.nfe / (k + 1))
  const predictor = o.predictor ?? 'reverse-diffusion'
  const noise = noiseOf(predictor === 'ancestral' ? 'ddim' : predictor, o)
  const lv: S.Langevin = { snr: o.snr ?? 0.16, steps: k, ...(o.norms === undefined || o.norms === 'expected' ? {} : { norms: o.norms }) }
  const step: S.StepDecision = { prediction: 'noise', order: 1, noise, ...(k > 0 ? { langevin: lv } : {}) }
  return S.make(
    gridOf(o.grid ?? 'time_uniform', n),
    Array.from({ length: n }, () => step),
    'score-sde-pc',
  )
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

const num = P.num
const choice = <A extends string>(set: P.Sets | undefined, key: string, values: ReadonlyArray<A>, d: A): A => P.word(set, key, values, d)

const g = (o: { readonly grid?: Common['grid'] }) => (o.grid === undefined ? {} : { grid: o.grid })

const eta = P.number('noise level η ≥ 0 (1 = full SDE / ancestral; 0 = the ODE base)', { min: 0 })
const sNoise = P.number('multiplies the injected noise (k-diffusion s_noise, default 1)', { min: 0 })
const parity = P.choice("'exact' (default, exact 3rd order) or 'reference' (halved second derivative, as k-diffusion)", ['exact', 'reference'])

/** the named solvers of this family, in display order */
export const named: ReadonlyArray<Named> = [
  {
    id: 'ddim-eta',
    label: 'DDIM(η) (stochastic, η = 1: DDPM posterior)',
    order: 1,
    defaultGrid: 'time_uniform',
    params: { eta },
    build: (o) => ddimEta({ nfe: o.nfe, ...g(o), eta: num(o.set, 'eta', 1) }),
  },
  {
    id: 'ddpm',
    label: 'DDPM ancestral (respaced grid; = SDE-DPM-Solver++1 η = 1)',
    order: 1,
    defaultGrid: 'time_uniform',
    params: { variance: P.choice("'fixed_small' (default, posterior β̃) or 'fixed_large' (β)", ['fixed_small', 'fixed_large']) },
    build: (o) => ddpm({ nfe: o.nfe, ...g(o), variance: choice(o.set, 'variance', ['fixed_small', 'fixed_large'], 'fixed_small') }),
  },
  {
    id: 'euler-ancestral',
    label: 'Euler-ancestral (k-diffusion, σ̄)',
    order: 1,
    defaultGrid: 'karras',
    params: { eta, sNoise },
    build: (o) => eulerAncestral({ nfe: o.nfe, ...g(o), eta: num(o.set, 'eta', 1), sNoise: num(o.set, 'sNoise', 1) }),
  },
  {
    id: 'sde-dpmpp-1',
    label: 'SDE-DPM-Solver++(1)',
    order: 1,
    defaultGrid: 'time_uniform',
    params: { eta, sNoise },
    build: (o) => sdeDpmpp({ nfe: o.nfe, ...g(o), order: 1, eta: num(o.set, 'eta', 1), sNoise: num(o.set, 'sNoise', 1) }),
  },
  {
    id: 'sde-dpmpp-2m',
    label: 'SDE-DPM-Solver++(2M) (k-diffusion)',
    order: 1,
    defaultGrid: 'karras',
    params: { eta, sNoise, solverType: P.choice("'midpoint' (default, ½-rule) or 'heun' (exact linear)", ['midpoint', 'heun']) },
    build: (o) =>
      sdeDpmpp({
        nfe: o.nfe,
        ...g(o),
        order: 2,
        eta: num(o.set, 'eta', 1),
        sNoise: num(o.set, 'sNoise', 1),
        solverType: choice(o.set, 'solverType', ['midpoint', 'heun'], 'midpoint'),
      }),
  },
  {
    id: 'sde-dpmpp-3m',
    label: 'SDE-DPM-Solver++(3M) (k-diffusion, exact 3rd-order rule)',
    order: 1,
    defaultGrid: 'karras',
    params: { eta, sNoise, parity },
    build: (o) => sdeDpmpp({ nfe: o.nfe, ...g(o), order: 3, eta: num(o.set, 'eta', 1), sNoise: num(o.set, 'sNoise', 1), parity: choice(o.set, 'parity', ['exact', 'reference'], 'exact') }),
  },
  ...(['euler', 'heun'] as const).map((method): Named => ({
    id: `${method}-churn`,
    label: `${method === 'euler' ? 'Euler' : 'Heun'} + EDM churn (k-diffusion)`,
    order: 1,
    defaultGrid: 'karras',
    params: {
      sChurn: P.number('S_churn: γ = min(S_churn/N, √2 − 1) (default 40; 0 = the ODE base)', { min: 0 }),
      sTmin: P.number('churn only where σ̄ ≥ S_tmin (default 0.05)', { min: 0 }),
      sTmax: P.number("churn only where σ̄ ≤ S_tmax (default 50; 'inf' = everywhere)", { min: 0, inf: true }),
      sNoise,
    },
    build: (o) =>
      churn({
        nfe: o.nfe,
        ...g(o),
        method,
        sChurn: num(o.set, 'sChurn', 40),
        sTmin: num(o.set, 'sTmin', 0.05),
        sTmax: num(o.set, 'sTmax', 50),
        sNoise: num(o.set, 'sNoise', 1),
      }),
  })),
  {
    id: 'score-sde-pc',
    label: 'Score-SDE predictor–corrector (Langevin)',
    order: 1,
    defaultGrid: 'time_uniform',
    params: {
      predictor: P.choice("'reverse-diffusion' (default), 'euler-maruyama' or 'ancestral'", ['reverse-diffusion', 'euler-maruyama', 'ancestral']),
      eta,
      snr: P.number('Langevin signal-to-noise ratio r (default 0.16)', { min: 0 }),
      steps: P.number('Langevin iterations per step, n_steps_each (default 1; 0 = predictor only); each step costs steps + 1 evaluations', { min: 0, integer: true, examples: ['0', '1', '2'] }),
      norms: P.choice("ε_L's norms: 'expected' (default, ε_L = 2a(r·σ)², batch-invariant), 'sample' (per row), 'batch' (score_sde: batch-averaged, NOT batch-invariant)", [
        'expected',
        'sample',
        'batch',
      ]),
      parity: P.choice("'reference' = norms batch (score_sde's batch-averaged ε_L); 'exact' (default)", ['exact', 'reference']),
    },
    build: (o) => {
      const ref = choice(o.set, 'parity', ['exact', 'reference'], 'exact') === 'reference'
      return scoreSdePc({
        nfe: o.nfe,
        ...g(o),
        predictor: choice(o.set, 'predictor', ['reverse-diffusion', 'euler-maruyama', 'ancestral'], 'reverse-diffusion'),
        eta: num(o.set, 'eta', 1),
        snr: num(o.set, 'snr', 0.16),
        steps: num(o.set, 'steps', 1),
        norms: choice(o.set, 'norms', ['expected', 'sample', 'batch'], ref ? 'batch' : 'expected'),
      })
    },
  },
]
