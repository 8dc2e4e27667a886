/**
 * diffusers interop: a `scheduler_config.json` (decoded with io-ts at the boundary) becomes a stepwise
 * noise schedule, a schedule document and a parameterization, reproducing what the diffusers scheduler
 * computes for `num_inference_steps` (its timesteps, σ's, orders, final step). Unsupported values are
 * issues naming the key and the supported values.
 *
 * The VP schedules put diffusers' integer timestep n at the knot tₙ = (n+1)/N of DPM-Solver's
 * piecewise-linear log α (`Betas.discrete`), so α, σ, λ at every timestep are diffusers' exactly; σ̄'s
 * between timesteps (Karras, exponential) map to t through λ. A final σ = 0 (`final_sigmas_type: zero`)
 * is the first-order step into σ = 0, i.e. x ← x̂0 at the last point: the document's `denoiseToZero`.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import * as B from '../core/Betas.ts'
import * as Grid from '../core/Grid.ts'
import type * as G from '../core/Grid.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as OP from '../core/OrderPolicy.ts'
import type * as P from '../core/Parameterization.ts'
import * as S from '../schedule/SolverSchedule.ts'
import * as U from '../core/Codec.ts'
import * as Deis from '../solvers/Deis.ts'
import * as Dpm from '../solvers/Dpm.ts'
import * as K from '../solvers/K.ts'
import * as Stochastic from '../solvers/Stochastic.ts'
import * as UniPC from '../solvers/UniPC.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the diffusers scheduler classes `convert` reproduces */
export const CLASSES = [
  'DPMSolverMultistepScheduler',
  'DPMSolverSinglestepScheduler',
  'UniPCMultistepScheduler',
  'DEISMultistepScheduler',
  'DDIMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'HeunDiscreteScheduler',
  'KDPM2DiscreteScheduler',
  'LMSDiscreteScheduler',
  'PNDMScheduler',
  'FlowMatchEulerDiscreteScheduler',
] as const

/** the classes whose samples live in σ̄ units (x/α: `scale_model_input` divides by sqrt(σ̄² + 1)); the others work on x itself */
export const SIGMA_BAR_SAMPLES: ReadonlyArray<ClassName> = ['EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'HeunDiscreteScheduler', 'KDPM2DiscreteScheduler', 'LMSDiscreteScheduler']

/** the classes that evaluate the model twice per interval (2n − 1 evaluations for n inference steps) */
const TWO_EVALS: ReadonlyArray<ClassName> = ['HeunDiscreteScheduler', 'KDPM2DiscreteScheduler']

/** a supported scheduler class */
export type ClassName = (typeof CLASSES)[number]

/** a decoding or conversion problem: the config key and what to do */
export type Issue = U.Issue

const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const
const PREDICTION_TYPES = ['epsilon', 'sample', 'v_prediction', 'flow_prediction'] as const
const SPACINGS = ['linspace', 'leading', 'trailing'] as const
const FINAL_SIGMAS = ['zero', 'sigma_min'] as const

/** Python's json writes ±Infinity and NaN as bare tokens; decoded to numbers */
const extendedNumber = new t.Type<number, number, unknown>(
  'a number (or -Infinity / Infinity as Python writes them)',
  (u): u is number => typeof u === 'number',
  (u, c) => (typeof u === 'number' && !Number.isNaN(u) ? t.success(u) : u === '-Infinity' ? t.success(-Infinity) : u === 'Infinity' ? t.success(Infinity) : t.failure(u, c)),
  (n) => n,
)
const nonNegativeInt = U.guard('a non-negative integer', (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0)
const nullable = <A>(c: t.Type<A, A, unknown>): t.Type<A | null, A | null, unknown> => U.guard(`${c.name} or null`, (u): u is A | null => u === null || c.is(u))
const betaValue = U.guard('a list of β in (0, 1)', (u): u is ReadonlyArray<number> => Array.isArray(u) && u.length >= 2 && u.every((b) => typeof b === 'number' && b > 0 && b < 1))

/** the keys `convert` reads, with their codecs */
const KNOWN = {
  _class_name: U.string,
  num_train_timesteps: U.positiveInt,
  beta_start: U.positiveNumber,
  beta_end: U.positiveNumber,
  beta_schedule: U.oneOf(BETA_SCHEDULES),
  trained_betas: nullable(betaValue),
  prediction_type: U.oneOf(PREDICTION_TYPES),
  timestep_spacing: U.oneOf(SPACINGS),
  steps_offset: nonNegativeInt,
  rescale_betas_zero_snr: U.bool,
  use_karras_sigmas: nullable(U.bool),
  use_exponential_sigmas: nullable(U.bool),
  use_beta_sigmas: nullable(U.bool),
  use_lu_lambdas: nullable(U.bool),
  use_flow_sigmas: nullable(U.bool),
  flow_shift: nullable(U.positiveNumber),
  shift: U.positiveNumber,
  use_dynamic_shifting: U.bool,
  shift_terminal: nullable(U.positiveNumber),
  invert_sigmas: U.bool,
  stochastic_sampling: U.bool,
  solver_order: U.positiveInt,
  algorithm_type: U.string,
  solver_type: U.string,
  lower_order_final: U.bool,
  euler_at_final: U.bool,
  final_sigmas_type: nullable(U.oneOf(FINAL_SIGMAS)),
  lambda_min_clipped: extendedNumber,
  thresholding: U.bool,
  clip_sample: U.bool,
  set_alpha_to_one: U.bool,
  skip_prk_steps: U.bool,
  variance_type: nullable(U.string),
  predict_x0: U.bool,
  disable_corrector: t.readonlyArray(nonNegativeInt, 'a list of step indices'),
  solver_p: U.guard('null (a solver object cannot be stored in a config)', (u): u is null => u === null),
  interpolation_type: U.oneOf(['linear', 'log_linear'] as const),
  timestep_type: U.oneOf(['discrete', 'continuous'] as const),
  sigma_min: nullable(U.positiveNumber),
  sigma_max: nullable(U.positiveNumber),
}

/** keys that do not change a deterministic run with the values `convert` accepts (read by diffusers only when another option is on) */
const INERT = [
  '_diffusers_version',
  '_use_default_values',
  'dynamic_thresholding_ratio',
  'sample_max_value',
  'clip_sample_range',
  'base_shift',
  'max_shift',
  'base_image_seq_len',
  'max_image_seq_len',
  'time_shift_type',
  'sigma_data',
  'timestep_scaling',
  'use_beta_sigmas_alpha',
] as const

type Known = typeof KNOWN
/** a decoded scheduler config: the keys `convert` reads (each optional; class defaults fill the gaps) */
export type Config = { readonly [K in keyof Known]?: t.TypeOf<Known[K]> } & { readonly _class_name: string }

/** what a network reads as time, in diffusers' terms: its `timesteps` entry for the evaluation point */
export interface TimeConvention {
  /** 'vp': the timestep of σ̄ = e^{−λ} through the training σ̄ table; 'flow': N·σ */
  readonly kind: 'vp' | 'flow'
  /** how diffusers turns the fractional timestep into the model input: round (np.round), trunc (int64 cast) or as is */
  readonly rounding: 'round' | 'trunc' | 'none'
  /** 'vp': interpolate the σ̄ table in log σ̄ (`_sigma_to_t`) or linearly in σ̄ (Euler's `np.interp`) */
  readonly interpolation?: 'log' | 'linear'
  /** diffusers' own timesteps at grid times t, where they follow no single rule (KDPM2: spacing timesteps, log-interpolated midpoints); [t, τ] pairs */
  readonly at?: ReadonlyArray<readonly [number, number]>
}

/** the noise schedule in a form a problem file holds */
export type NoiseSpec =
  | { readonly kind: 'discrete'; readonly betas: ReadonlyArray<number>; readonly alphasCumprod: ReadonlyArray<number>; readonly rescaled: boolean }
  | { readonly kind: 'flow'; readonly T: number; readonly t0: number }

/** a converted config: everything needed to run it in stepwise */
export interface Conversion {
  readonly className: ClassName
  /** the config with the class defaults filled in */
  readonly config: Config
  /** num_inference_steps as diffusers counts them */
  readonly inferenceSteps: number
  readonly noiseSchedule: NS.NoiseSchedule
  readonly noise: NoiseSpec
  /** the model's output (diffusers prediction_type) */
  readonly parameterization: P.Parameterization
  readonly schedule: S.SolverSchedule
  /** the model time input: diffusers' timestep at an evaluation point */
  readonly time: TimeConvention
  /** the closest named stepwise solver (for `stepwise solvers --show`) */
  readonly solver: string
  /** the scheduler draws noise every step (Euler ancestral, SDE-DPM-Solver++): stepwise draws its own, or takes diffusers' draws (`Float64.Options.normal`) */
  readonly stochastic: boolean
  /** samples in σ̄ units (x/α, the Euler/Heun/LMS/KDPM2 classes) or x itself (what diffusers' `step` takes and returns) */
  readonly samples: 'sigmaBar' | 'x'
  /** what differs from diffusers and why (empty when nothing does) */
  readonly notes: ReadonlyArray<string>
}

/** conversion options */
export interface Options {
  /**
   * the model-evaluation budget: num_inference_steps = nfe (PNDM: nfe − 1, its first step costs two; Heun, KDPM2:
   * ⌊(nfe + 1)/2⌋, whose n steps cost 2n − 1); `steps` overrides it
   */
  readonly nfe: number
  /** num_inference_steps itself (what `set_timesteps` takes), instead of deriving it from `nfe` */
  readonly steps?: number
  /** 'exact' (default): the exact third-order multistep step; 'reference': diffusers' halved second-derivative term */
  readonly parity?: 'exact' | 'reference'
}

// -------------------------------------------------------------------------------------------------
// decoding
// -------------------------------------------------------------------------------------------------

/**
 * JSON as Python's `json` writes it: bare `Infinity`, `-Infinity` and `NaN` (outside strings) become
 * the strings "Infinity", "-Infinity", "NaN", then JSON.parse
 */
export const parseJson = (text: string): unknown => {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      out += c
      if (c === '\\') out += text[++i] ?? ''
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') {
      inString = true
      out += c
      continue
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((w) => text.startsWith(w, i))
    if (token !== undefined) {
      out += `"${token}"`
      i += token.length - 1
    } else out += c
  }
  return JSON.parse(out)
}

type Decoded = { readonly config: Config; readonly unknown: ReadonlyArray<string> }

/** known keys checked one by one (path = key), inert keys skipped, unknown keys kept (diffusers adds keys across versions) */
const validateConfig = (u: unknown, c: t.Context): t.Validation<Decoded> => {
  if (!U.isRecord(u)) return t.failure(u, c, `got ${U.show(u)}; expected a JSON object (a diffusers scheduler_config.json)`)
  const errors: t.ValidationError[] = []
  const out: Record<string, unknown> = {}
  const unknown: string[] = []
  for (const [k, v] of Object.entries(u)) {
    const codec: t.Mixed | undefined = k in KNOWN ? KNOWN[k as keyof Known] : undefined
    if (codec === undefined) {
      if (!(INERT as ReadonlyArray<string>).includes(k)) unknown.push(k)
      continue
    }
    if (v === null && k !== '_class_name' && !codec.is(null)) continue // diffusers writes null for "the default"
    const r = codec.validate(v, t.appendContext(c, k, codec, v))
    if (E.isLeft(r)) errors.push(...r.left)
    else out[k] = r.right
  }
  if (typeof u['_class_name'] !== 'string')
    errors.push({
      value: u['_class_name'],
      context: t.appendContext(c, '_class_name', U.string, u['_class_name']),
      message: `missing the scheduler class; expected one of ${CLASSES.join(', ')}`,
    })
  // every key was checked by its own codec above
  return errors.length > 0 ? t.failures(errors) : t.success({ config: out as Config, unknown })
}

/** the config codec (decode only: a config is never written back) */
const ConfigC = new t.Type<Decoded, unknown, unknown>(
  'a diffusers scheduler config',
  (u): u is Decoded => U.isRecord(u) && U.isRecord(u['config']) && Array.isArray(u['unknown']),
  validateConfig,
  (a) => a.config,
)

/** decode a parsed config: the known keys (each checked), and the keys diffusers has but `convert` does not read */
export const decode = (u: unknown): E.Either<ReadonlyArray<Issue>, Decoded> => E.mapLeft(U.issuesOf)(ConfigC.decode(u))

// -------------------------------------------------------------------------------------------------
// utils: numpy's rounding, linspace and arange
// -------------------------------------------------------------------------------------------------

/** np.round: half to even */
export const roundHalfEven = (x: number): number => {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** np.linspace(a, b, n): a + i·((b − a)/(n − 1)), last entry exactly b */
const linspace = (a: number, b: number, n: number): ReadonlyArray<number> => {
  const step = n > 1 ? (b - a) / (n - 1) : 0
  return Array.from({ length: n }, (_, i) => (i === n - 1 && n > 1 ? b : i * step + a))
}

/** np.arange(a, b, step), step < 0: a + k·step while > b */
const arangeDown = (a: number, b: number, step: number): ReadonlyArray<number> => Array.from({ length: Math.max(0, Math.ceil((b - a) / step)) }, (_, k) => a + k * step)

/** Karras: σᵢ = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, i = 0 … n−1 */
const karras = (sMin: number, sMax: number, n: number, rho = 7): ReadonlyArray<number> => linspace(0, 1, n).map((r) => (sMax ** (1 / rho) + r * (sMin ** (1 / rho) - sMax ** (1 / rho))) ** rho)

/** resolution shift σ' = kσ/(1 + (k − 1)σ) */
export const shiftSigma =
  (k: number) =>
  (s: number): number =>
    (k * s) / (1 + (k - 1) * s)

// -------------------------------------------------------------------------------------------------
// the training tables
// -------------------------------------------------------------------------------------------------

/** β's of a config: trained_betas, or the named schedule over num_train_timesteps */
const betasOf = (c: Config): ReadonlyArray<number> => {
  const N = c.num_train_timesteps ?? 1000
  if (c.trained_betas !== undefined && c.trained_betas !== null) return c.trained_betas
  switch (c.beta_schedule ?? 'linear') {
    case 'linear':
      return B.linear(c.beta_start ?? 1e-4, c.beta_end ?? 0.02, N)
    case 'scaled_linear':
      return B.scaledLinear(c.beta_start ?? 1e-4, c.beta_end ?? 0.02, N)
    case 'squaredcos_cap_v2':
      return B.squaredCosCapV2(N)
  }
}

interface Tables {
  readonly N: number
  readonly betas: ReadonlyArray<number>
  readonly alphaBar: ReadonlyArray<number>
  readonly sigmaBar: ReadonlyArray<number>
  readonly ns: NS.NoiseSchedule
}

const tablesOf = (c: Config): Tables => {
  const betas = betasOf(c)
  const ab0 = B.alphasCumprod(betas)
  const alphaBar = c.rescale_betas_zero_snr === true ? B.rescaleZeroTerminalSnr(ab0) : ab0
  return { N: betas.length, betas, alphaBar, sigmaBar: B.sigmaBars(alphaBar), ns: B.discrete(alphaBar) }
}

/** t of integer timestep n: (n+1)/N */
const tOfStep =
  (N: number) =>
  (n: number): number =>
    (n + 1) / N
/** t of a σ̄ on a VP schedule: t(λ = −log σ̄) */
const tOfSigmaBar =
  (ns: NS.NoiseSchedule) =>
  (s: number): number =>
    ns.tOfLambda(-Math.log(s))
/** σ̄ at a fractional timestep, linear in σ̄ between integers (np.interp) */
const sigmaBarAt =
  (sb: ReadonlyArray<number>) =>
  (tau: number): number =>
    NS.interpolate(
      sb.map((_, n) => n),
      sb,
    )(tau)

// -------------------------------------------------------------------------------------------------
// spacings
// -------------------------------------------------------------------------------------------------

/** DPMSolverMultistep / UniPC timesteps (n+1 points, last dropped): linspace, leading ((n+1)-ratio + steps_offset), trailing */
const multistepTimesteps = (spacing: (typeof SPACINGS)[number], n: number, N: number, last: number, offset: number): ReadonlyArray<number> => {
  switch (spacing) {
    case 'linspace':
      return linspace(0, last - 1, n + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, n)
    case 'leading': {
      const ratio = Math.floor(last / (n + 1))
      return Array.from({ length: n + 1 }, (_, i) => i * ratio)
        .reverse()
        .slice(0, n)
        .map((v) => v + offset)
    }
    case 'trailing':
      return arangeDown(last, 0, -N / n).map((v) => roundHalfEven(v) - 1)
  }
}

/** DDIM / PNDM / Euler timesteps (n points): linspace(0, N−1, n), leading (N//n-ratio + steps_offset), trailing */
const ddimTimesteps = (spacing: (typeof SPACINGS)[number], n: number, N: number, offset: number, round: boolean): ReadonlyArray<number> => {
  switch (spacing) {
    case 'linspace':
      return linspace(0, N - 1, n)
        .map((v) => (round ? roundHalfEven(v) : v))
        .reverse()
    case 'leading': {
      const ratio = Math.floor(N / n)
      return Array.from({ length: n }, (_, i) => i * ratio + offset).reverse()
    }
    case 'trailing':
      return arangeDown(N, 0, -N / n).map((v) => roundHalfEven(v) - 1)
  }
}

// -------------------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------------------

type Check = ReadonlyArray<Issue>
const issue = (path: string, message: string): Check => [{ path, message }]
const when = (cond: boolean, path: string, message: () => string): Check => (cond ? issue(path, message()) : [])
const oneOf = <A extends string>(path: string, v: string, allowed: ReadonlyArray<A>, hint = ''): Check =>
  when(!allowed.some((a) => a === v), path, () => `got ${JSON.stringify(v)}; supported: ${allowed.join(', ')}${hint}`)

const STOCHASTIC = "stochastic and not converted yet (stepwise solvers --from NAME names stepwise's stochastic solvers)"

/** checks every class shares: thresholding, variance_type, dynamic shifting, timestep_type */
const commonChecks = (c: Config): Check => [
  ...when(c.thresholding === true, 'thresholding', () => 'dynamic thresholding clips x̂0 per sample (nonlinear); not supported: set thresholding: false'),
  ...when(
    c.variance_type !== undefined && c.variance_type !== null && c.variance_type !== 'fixed_small' && c.variance_type !== 'fixed_small_log',
    'variance_type',
    () => `got ${JSON.stringify(c.variance_type)}: the model also outputs a variance; supported: null (prediction only)`,
  ),
  ...when(c.use_dynamic_shifting === true, 'use_dynamic_shifting', () => 'the shift depends on the image size (mu); not supported: set use_dynamic_shifting: false and give shift / flow_shift'),
  ...when(c.timestep_type === 'continuous', 'timestep_type', () => 'got "continuous" (EDM-style 0.25·log σ inputs); supported: discrete'),
  ...when(c.use_beta_sigmas === true, 'use_beta_sigmas', () => 'beta-distributed σ’s are not supported; supported: use_karras_sigmas, use_exponential_sigmas, use_lu_lambdas, or none'),
]

/** the parameterization of prediction_type */
const paramOf = (c: Config): P.Parameterization => {
  switch (c.prediction_type ?? 'epsilon') {
    case 'epsilon':
      return 'eps'
    case 'sample':
      return 'x0'
    case 'v_prediction':
      return 'v'
    case 'flow_prediction':
      return 'flow'
  }
}

// -------------------------------------------------------------------------------------------------
// grids: the evaluation points and the final step
// -------------------------------------------------------------------------------------------------

/** points (times, decreasing) where the model is evaluated, and how the run ends */
interface Points {
  /** the grid of the document (diffusers' σ's as times, without a final σ = 0) */
  readonly grid: G.Grid
  /** number of grid points (= diffusers steps, + 1 when the last step is a real step to σ_min) */
  readonly count: number
  /** the last diffusers step goes to σ = 0 (the document ends with denoiseToZero) */
  readonly toZero: boolean
  readonly time: TimeConvention
  readonly ns: NS.NoiseSchedule
  readonly noise: NoiseSpec
  readonly notes: ReadonlyArray<string>
}

const explicit = (ts: ReadonlyArray<number>): G.Grid => ({ spacing: 'explicit', t: ts })

const discreteSpec = (tb: Tables, c: Config): NoiseSpec => ({ kind: 'discrete', betas: tb.betas, alphasCumprod: tb.alphaBar, rescaled: c.rescale_betas_zero_snr === true })

const zeroLength = (what: string): string => `diffusers' last step goes from ${what} to the same σ (a zero-length step that changes nothing but costs one model evaluation); stepwise omits it`

/** append the final σ (or mark the step into σ = 0); drops a zero-length last step */
const finish = (ts: ReadonlyArray<number>, final: number | 'zero', what: string): { readonly ts: ReadonlyArray<number>; readonly toZero: boolean; readonly notes: ReadonlyArray<string> } => {
  if (final === 'zero') return { ts, toZero: true, notes: [] }
  const last = ts[ts.length - 1]!
  if (Math.abs(final - last) <= 1e-12 * last) return { ts, toZero: false, notes: [zeroLength(what)] }
  return { ts: [...ts, final], toZero: false, notes: [] }
}

/** the σ's of DPMSolverMultistep / UniPC (shared set_timesteps) */
const multistepPoints = (c: Config, n: number): E.Either<ReadonlyArray<Issue>, Points> => {
  const final = c.final_sigmas_type ?? 'zero'
  if (c.use_flow_sigmas === true) {
    const N = c.num_train_timesteps ?? 1000
    const k = c.flow_shift ?? 1
    const sig = linspace(1, 1 / N, n + 1)
      .map((a) => shiftSigma(k)(1 - a))
      .reverse()
      .slice(0, n)
    const tb = tablesOf(c)
    const f = finish(sig, final === 'zero' ? 'zero' : tb.sigmaBar[0]!, 'σ_min')
    const T = sig[0]!
    const t0 = f.ts[f.ts.length - 1]!
    return E.right({
      grid: explicit(f.ts),
      count: f.ts.length,
      toZero: f.toZero,
      time: { kind: 'flow', rounding: 'trunc' },
      ns: { ...NS.withRange(T, t0)(NS.flow(T, t0)), name: `flow (shift ${k})` },
      noise: { kind: 'flow', T, t0 },
      notes: [...f.notes, ...(final === 'sigma_min' ? [`final_sigmas_type sigma_min with flow σ's ends at the VP table's σ̄(0) = ${tb.sigmaBar[0]!.toPrecision(6)}, as diffusers does`] : [])],
    })
  }
  const tb = tablesOf(c)
  const { N, ns, sigmaBar } = tb
  const sMin = sigmaBar[0]!
  const finalSigma = final === 'zero' ? 'zero' : sMin
  const noise = discreteSpec(tb, c)
  // Karras / Lu / exponential σ's run from σ̄(N−1) down to σ̄(0) = σ_min: a final σ_min repeats the last one
  const declarative = (key: string, grid: G.Grid, rounding: TimeConvention['rounding']): E.Either<ReadonlyArray<Issue>, Points> =>
    n < 2
      ? E.left(issue(key, `needs at least 2 inference steps (got ${n})`))
      : E.right({ grid, count: n, toZero: finalSigma === 'zero', time: { kind: 'vp', rounding, interpolation: 'log' }, ns, noise, notes: finalSigma === 'zero' ? [] : [zeroLength('σ_min')] })
  if (c.use_karras_sigmas === true) return declarative('use_karras_sigmas', { spacing: 'karras', steps: n - 1, rho: 7, T: 1, t0: 1 / N }, 'round')
  if (c.use_lu_lambdas === true) return declarative('use_lu_lambdas', { spacing: 'logSNR', steps: n - 1, T: 1, t0: 1 / N }, 'round')
  if (c.use_exponential_sigmas === true) return declarative('use_exponential_sigmas', { spacing: 'logSNR', steps: n - 1, T: 1, t0: 1 / N }, 'trunc')
  const clip = c.lambda_min_clipped ?? -Infinity
  const clipped = B.lambdas(tb.alphaBar).filter((l) => l < clip).length
  const steps = multistepTimesteps(c.timestep_spacing ?? 'linspace', n, N, N - clipped, c.steps_offset ?? 0)
  const bad = steps.find((s) => s < 0 || s > N - 1)
  if (bad !== undefined) return E.left(issue('timestep_spacing', `timestep ${bad} is outside 0 … ${N - 1} for ${n} steps; use fewer steps or another spacing`))
  const f = finish(steps.map(tOfStep(N)), finalSigma === 'zero' ? 'zero' : tOfStep(N)(0), 'timestep 0')
  return E.right({
    grid: explicit(f.ts),
    count: f.ts.length,
    toZero: f.toZero,
    time: { kind: 'vp', rounding: 'round', interpolation: 'log' },
    ns,
    noise,
    notes: [...f.notes, ...(clipped > 0 ? [`lambda_min_clipped ${clip} leaves timesteps 0 … ${N - clipped - 1}`] : [])],
  })
}

/** DDIM / PNDM: the step from timestep τ goes to τ − N//n (or to the final ᾱ below 0); stepwise steps to the next timestep */
const ddimPoints = (c: Config, n: number, what: 'DDIMScheduler' | 'PNDMScheduler'): E.Either<ReadonlyArray<Issue>, Points> => {
  const tb = tablesOf(c)
  const { N } = tb
  const steps = ddimTimesteps(c.timestep_spacing ?? 'leading', n, N, c.steps_offset ?? 0, true)
  const bad = steps.find((s) => s < 0 || s > N - 1)
  if (bad !== undefined) return E.left(issue('steps_offset', `timestep ${bad} is outside 0 … ${N - 1}; lower steps_offset or use another timestep_spacing`))
  const ratio = Math.floor(N / n)
  const prevOf = (k: number) => steps[k]! - ratio
  const mismatch = steps.slice(0, -1).filter((_, k) => prevOf(k) !== steps[k + 1]).length
  const lastPrev = prevOf(steps.length - 1)
  const toOne = c.set_alpha_to_one ?? what === 'DDIMScheduler'
  const notes: string[] = []
  if (mismatch > 0)
    notes.push(
      `${what} steps from timestep τ to τ − ${ratio} (N//n) but evaluates the model at the next listed timestep; they differ at ${mismatch} of ${steps.length - 1} steps with timestep_spacing ${JSON.stringify(c.timestep_spacing ?? 'leading')}: stepwise steps to the next timestep (self-consistent)`,
    )
  const ts = steps.map(tOfStep(N))
  if (lastPrev >= 0)
    return E.right({
      grid: explicit([...ts, tOfStep(N)(lastPrev)]),
      count: ts.length + 1,
      toZero: false,
      time: { kind: 'vp', rounding: 'round', interpolation: 'log' },
      ns: tb.ns,
      noise: discreteSpec(tb, c),
      notes,
    })
  if (toOne) return E.right({ grid: explicit(ts), count: ts.length, toZero: true, time: { kind: 'vp', rounding: 'round', interpolation: 'log' }, ns: tb.ns, noise: discreteSpec(tb, c), notes })
  const f = finish(ts, tOfStep(N)(0), 'timestep 0')
  return E.right({
    grid: explicit(f.ts),
    count: f.ts.length,
    toZero: false,
    time: { kind: 'vp', rounding: 'round', interpolation: 'log' },
    ns: tb.ns,
    noise: discreteSpec(tb, c),
    notes: [...notes, ...f.notes],
  })
}

/** EulerDiscrete: σ̄ interpolated at (possibly fractional) timesteps, Karras/exponential between σ̄(τ₀) and σ̄(τ_last), final σ = 0 */
const eulerPoints = (c: Config, n: number): E.Either<ReadonlyArray<Issue>, Points> => {
  const tb = tablesOf(c)
  const { N, ns, sigmaBar } = tb
  const steps = ddimTimesteps(c.timestep_spacing ?? 'linspace', n, N, c.steps_offset ?? 0, false)
  const base = steps.map(sigmaBarAt(sigmaBar))
  const sMax = c.sigma_max ?? base[0]!
  const sMin = c.sigma_min ?? base[base.length - 1]!
  const sig = c.use_karras_sigmas === true ? karras(sMin, sMax, n) : c.use_exponential_sigmas === true ? linspace(Math.log(sMax), Math.log(sMin), n).map(Math.exp) : base
  const final = c.final_sigmas_type ?? 'zero'
  const f = finish(sig.map(tOfSigmaBar(ns)), final === 'zero' ? 'zero' : tOfStep(N)(0), 'σ̄(0)')
  const fractional = c.use_karras_sigmas === true || c.use_exponential_sigmas === true
  return E.right({
    grid: explicit(f.ts),
    count: f.ts.length,
    toZero: f.toZero,
    // the spacing's timesteps themselves where σ̄ was interpolated at them (the linear inverse would come back within rounding)
    time: fractional ? { kind: 'vp', rounding: 'none', interpolation: 'log' } : { kind: 'vp', rounding: 'none', interpolation: 'linear', at: steps.map((tau, i) => [f.ts[i]!, tau] as const) },
    ns,
    noise: discreteSpec(tb, c),
    notes: f.notes,
  })
}

/** how far below σ = 1 a flow grid starts */
const FLOW_TOP = 1e-6

/** FlowMatchEulerDiscrete: σ = shift(linspace(1, shift(1/N), n)) (σ_min is shifted twice, as diffusers does), final σ = 0 */
const flowMatchPoints = (c: Config, n: number): E.Either<ReadonlyArray<Issue>, Points> => {
  const N = c.num_train_timesteps ?? 1000
  const k = c.shift ?? 1
  const sh = shiftSigma(k)
  const raw = linspace(sh(1) * N, sh(1 / N) * N, n).map((v) => sh(v / N))
  const term = c.shift_terminal
  const sig =
    term === undefined || term === null
      ? raw
      : (() => {
          const scale = (1 - raw[raw.length - 1]!) / (1 - term)
          return raw.map((s) => 1 - (1 - s) / scale)
        })()
  // σ = 1 has α = 0 and λ = −∞, where the step coefficients are 0·∞: start 1e-6 below (diffusers' DPMSolverMultistep does the same)
  const top = sig[0]! > 1 - FLOW_TOP ? [1 - FLOW_TOP, ...sig.slice(1)] : sig
  const T = top[0]!
  const t0 = top[top.length - 1]!
  return E.right({
    grid: explicit(top),
    count: top.length,
    toZero: true,
    time: { kind: 'flow', rounding: 'none' },
    ns: { ...NS.withRange(T, t0)(NS.flow(T, t0)), name: `flow (shift ${k})` },
    noise: { kind: 'flow', T, t0 },
    notes:
      top === sig
        ? []
        : [`the first σ is 1 (α = 0, λ = −∞): stepwise starts at σ = 1 − ${FLOW_TOP.toExponential()} (the model still reads timestep ${N}); the result moves by O(${FLOW_TOP.toExponential()})`],
  })
}

// -------------------------------------------------------------------------------------------------
// steps
// -------------------------------------------------------------------------------------------------

/** a document from points and per-step decisions of the diffusers steps that are real steps */
const documentOf = (pts: Points, decisions: ReadonlyArray<S.StepDecision>, name: string): S.SolverSchedule =>
  S.make(pts.grid, decisions.slice(0, pts.count - 1), name, pts.toZero ? { denoiseToZero: true } : undefined)

// -------------------------------------------------------------------------------------------------
// per class
// -------------------------------------------------------------------------------------------------

interface Converted {
  readonly points: Points
  readonly schedule: S.SolverSchedule
  readonly solver: string
  readonly notes: ReadonlyArray<string>
  readonly stochastic?: boolean
}

type Converter = (c: Config, n: number, o: Options) => E.Either<ReadonlyArray<Issue>, Converted>

const dpmMultistep: Converter = (c, n, o) => {
  const algo = c.algorithm_type ?? 'dpmsolver++'
  const st = c.solver_type ?? 'midpoint'
  const order = c.solver_order ?? 2
  const final = c.final_sigmas_type ?? 'zero'
  const sde = algo === 'sde-dpmsolver++'
  const issues: Check = [
    ...(algo === 'sde-dpmsolver'
      ? issue('algorithm_type', `got "sde-dpmsolver" (the noise-form SDE solver): ${STOCHASTIC}; supported: dpmsolver++, dpmsolver, sde-dpmsolver++`)
      : oneOf('algorithm_type', algo, ['dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'deis'])),
    ...oneOf('solver_type', st, ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']),
    ...when(order > 3, 'solver_order', () => `got ${order}; supported: 1, 2, 3`),
    ...when(sde && order > 2, 'solver_order', () => `got ${order} with algorithm_type sde-dpmsolver++; supported there: 1, 2`),
    ...when(
      algo === 'dpmsolver' && final === 'zero',
      'final_sigmas_type',
      () => 'got "zero" with algorithm_type dpmsolver (noise prediction cannot step into σ = 0; diffusers rejects it too); use "sigma_min"',
    ),
    ...when(c.prediction_type === 'flow_prediction' && c.use_flow_sigmas !== true, 'prediction_type', () => 'flow_prediction needs use_flow_sigmas: true'),
  ]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => {
    const p: P.Prediction = algo === 'dpmsolver' ? 'noise' : 'data'
    const solverType = st === 'heun' ? 'heun' : 'midpoint'
    const lof = c.lower_order_final ?? true
    const eulerAtFinal = (c.euler_at_final ?? false) || final === 'zero'
    // diffusers: order 1 at step 0 and (euler_at_final | lower_order_final & n < 15 | final zero) at the last; ≤ 2 at step 1 and (lower_order_final & n < 15) at n − 2
    const policy = ((q: OP.OrderPolicy) => (eulerAtFinal ? OP.eulerAtFinal(q) : q))(OP.lowerOrderFinal(lof ? 15 : 0)(OP.warmup(order)))
    const orders = OP.orders(n)(policy)
    const parity = o.parity ?? 'exact'
    const name = `diffusers-${sde ? 'sde-' : ''}${p === 'data' ? 'dpmpp' : 'dpm'}-${order}m`
    const steps = orders.map((k) => Dpm.step(p, k, solverType === 'heun' ? 'taylor' : 'dpmsolver', parity))
    return {
      points: pts,
      schedule: documentOf(pts, sde ? steps.map(Stochastic.withSde({ eta: 1 })) : steps, name),
      solver: sde ? (order === 1 ? 'sde-dpmpp-1' : 'sde-dpmpp-2m') : order === 1 ? 'ddim' : `${p === 'data' ? 'dpmpp' : 'dpm'}-${order}m${order === 3 && parity === 'reference' ? '-ref' : ''}`,
      stochastic: sde,
      notes: [
        ...(sde
          ? [
              'sde-dpmsolver++: x_t = (σ_t/σ_s)e^{−h}x_s + α_t(1 − e^{−2h})·(x̂0 terms) + σ_t·sqrt(1 − e^{−2h})·z (the noise field level sde, η = 1); z is stepwise’s counter-based draw (--seed), not torch’s',
            ]
          : []),
        ...(algo === 'deis' ? ['algorithm_type "deis" is read as "dpmsolver++", as diffusers does'] : []),
        ...(st !== 'midpoint' && st !== 'heun' ? [`solver_type ${JSON.stringify(st)} is read as "midpoint", as diffusers does`] : []),
        ...(orders.includes(3) && parity === 'exact'
          ? [
              'solver_order 3: stepwise takes the exact third-order multistep step; diffusers halves the second-derivative term (order ≈ 2, docs/math.md#reference-3m): --parity reference reproduces it',
            ]
          : []),
      ],
    }
  })(multistepPoints(c, n))
}

const unipcMultistep: Converter = (c, n) => {
  const st = c.solver_type ?? 'bh2'
  const order = c.solver_order ?? 2
  const issues: Check = [
    ...oneOf('solver_type', st, ['bh1', 'bh2']),
    ...when(c.prediction_type === 'flow_prediction' && c.use_flow_sigmas !== true, 'prediction_type', () => 'flow_prediction needs use_flow_sigmas: true'),
    ...when(
      c.predict_x0 === false && (c.final_sigmas_type ?? 'zero') === 'zero',
      'final_sigmas_type',
      () => 'got "zero" with predict_x0: false (noise prediction cannot step into σ = 0); use "sigma_min"',
    ),
  ]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => {
    const p: P.Prediction = c.predict_x0 === false ? 'noise' : 'data'
    const variant = st === 'bh1' ? 'bh1' : 'bh2'
    const orders = OP.orders(n)(OP.lowerOrderFinal((c.lower_order_final ?? true) ? Infinity : 0)(OP.warmup(order)))
    const off = new Set(c.disable_corrector ?? [])
    // UniC corrects step i when the model is evaluated at its target: every step but the last; with a final σ = 0,
    // diffusers' last real step feeds x̂0 of its *uncorrected* point to the step into σ = 0, so that corrector is dropped
    const real = pts.count - 1
    const decisions = orders.map((k, i) => UniPC.step(p, k, variant, i < real - (pts.toZero ? 1 : 0) && i < n - 1 && !off.has(i)))
    return {
      points: pts,
      schedule: documentOf(pts, decisions, `diffusers-unipc-${variant}-${order}`),
      solver: `unipc-${variant}-${Math.min(order, 3)}`,
      notes: pts.toZero ? ['with final σ = 0 the corrector of the last real step has no effect in diffusers (the step into σ = 0 uses x̂0 at the uncorrected point); stepwise leaves it out'] : [],
    }
  })(multistepPoints(c, n))
}

const ddim: Converter = (c, n) => {
  const issues: Check = [
    ...when(c.clip_sample ?? true, 'clip_sample', () => 'clip_sample (default true for DDIMScheduler) clamps x̂0 to ±clip_sample_range (nonlinear); not supported: set clip_sample: false'),
    ...when(c.prediction_type === 'flow_prediction', 'prediction_type', () => 'got "flow_prediction"; supported for DDIMScheduler: epsilon, sample, v_prediction'),
  ]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => ({
    points: pts,
    schedule: documentOf(
      pts,
      Array.from({ length: n + 1 }, (): S.StepDecision => ({ prediction: 'noise', order: 1 })),
      'diffusers-ddim',
    ),
    solver: 'ddim',
    notes: ['DDIMScheduler with eta = 0 (the pipeline default); eta > 0 is stochastic'],
  }))(ddimPoints(c, n, 'DDIMScheduler'))
}

const euler: Converter = (c, n) => {
  const issues: Check = [
    ...when(c.prediction_type === 'flow_prediction', 'prediction_type', () => 'got "flow_prediction"; supported for EulerDiscreteScheduler: epsilon, sample, v_prediction'),
    ...when(c.interpolation_type === 'log_linear', 'interpolation_type', () => 'got "log_linear"; supported: linear'),
    ...when(
      c.use_lu_lambdas === true || c.use_flow_sigmas === true,
      'use_flow_sigmas',
      () => 'not an EulerDiscreteScheduler option that stepwise reads; supported: use_karras_sigmas, use_exponential_sigmas',
    ),
  ]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => ({
    points: pts,
    schedule: documentOf(
      pts,
      Array.from({ length: n + 1 }, (): S.StepDecision => ({ prediction: 'noise', order: 1, basis: 'rho' })),
      'diffusers-euler',
    ),
    solver: 'euler',
    notes: ['EulerDiscreteScheduler with s_churn = 0 (the pipeline default); churn is stochastic'],
  }))(eulerPoints(c, n))
}

const pndm: Converter = (c, n) => {
  const issues: Check = [
    ...when(
      !(c.skip_prk_steps ?? false),
      'skip_prk_steps',
      () => 'the Runge–Kutta warm-up (skip_prk_steps: false, the class default) is not supported; set skip_prk_steps: true (PLMS, as Stable Diffusion does)',
    ),
    ...when(c.set_alpha_to_one === true, 'set_alpha_to_one', () => 'true makes the last PLMS step (an AB4 combination) end at σ = 0, which a stepwise grid cannot hold; set it false'),
    ...when(
      c.prediction_type === 'flow_prediction' || c.prediction_type === 'sample',
      'prediction_type',
      () => `got ${JSON.stringify(c.prediction_type)}; supported for PNDMScheduler: epsilon, v_prediction`,
    ),
  ]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => {
    const orders = OP.orders(n)(OP.warmup(4))
    const decisions = orders.map((k, i): S.StepDecision =>
      i === 0 ? { prediction: 'noise', order: 1, basis: 'ab', corrector: { mode: 'reeval', order: 2, basis: 'ab' } } : { prediction: 'noise', order: k, basis: 'ab' },
    )
    return { points: pts, schedule: documentOf(pts, decisions, 'diffusers-plms'), solver: 'plms', notes: [] }
  })(ddimPoints(c, n, 'PNDMScheduler'))
}

const flowMatchEuler: Converter = (c, n) => {
  const issues: Check = [
    ...when(c.stochastic_sampling === true, 'stochastic_sampling', () => `true is ${STOCHASTIC}; set it false`),
    ...when(c.invert_sigmas === true, 'invert_sigmas', () => 'inverted σ’s (inversion) are not supported; set invert_sigmas: false'),
    ...when(
      c.use_karras_sigmas === true || c.use_exponential_sigmas === true,
      'use_karras_sigmas',
      () => 'Karras/exponential σ’s on FlowMatchEulerDiscreteScheduler are not supported; supported: shift, shift_terminal',
    ),
  ]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => ({
    points: pts,
    schedule: documentOf(
      pts,
      Array.from({ length: n + 1 }, (): S.StepDecision => ({ prediction: 'data', order: 1 })),
      'diffusers-flow-euler',
    ),
    solver: 'ddim',
    notes: ['flow Euler x ← x + (σ′ − σ)·u is the first-order exponential-integrator step (DDIM) on α = 1 − σ (docs/math.md#flow)'],
  }))(flowMatchPoints(c, n))
}

/** prediction_type for the σ̄-sample classes whose `step` converts epsilon and v_prediction only */
const epsOrV = (cls: string, c: Config): Check =>
  when(c.prediction_type === 'flow_prediction' || c.prediction_type === 'sample', 'prediction_type', () => `got ${JSON.stringify(c.prediction_type)}; supported for ${cls}: epsilon, v_prediction`)

/** the σ̄ options the Euler-family classes read (Karras, exponential), and the ones they do not */
const sigmaOptions = (cls: string, c: Config, karras: boolean): Check => [
  ...when(c.interpolation_type === 'log_linear', 'interpolation_type', () => 'got "log_linear"; supported: linear'),
  ...when(
    c.use_lu_lambdas === true || c.use_flow_sigmas === true,
    c.use_lu_lambdas === true ? 'use_lu_lambdas' : 'use_flow_sigmas',
    () => `not an option of ${cls}; supported: ${karras ? 'use_karras_sigmas, use_exponential_sigmas' : 'none (the σ̄’s of the timesteps)'}`,
  ),
  ...when(
    !karras && (c.use_karras_sigmas === true || c.use_exponential_sigmas === true),
    c.use_karras_sigmas === true ? 'use_karras_sigmas' : 'use_exponential_sigmas',
    () => `${cls} does not read this option (its σ̄’s are those of its timesteps); remove it`,
  ),
]

const eulerAncestral: Converter = (c, n) => {
  const cls = 'EulerAncestralDiscreteScheduler'
  const issues: Check = [...epsOrV(cls, c), ...sigmaOptions(cls, c, false)]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => ({
    points: pts,
    schedule: documentOf(
      pts,
      Array.from({ length: n + 1 }, () => Stochastic.eulerAncestralStep({ eta: 1 })),
      'diffusers-euler-ancestral',
    ),
    solver: 'euler-ancestral',
    stochastic: true,
    notes: ['ancestral Euler: σ_up = sqrt(σ̄′²(σ̄² − σ̄′²)/σ̄²), x̄ ← x̄ + (σ_down − σ̄)·ε̂ + σ_up·z (the noise field level ancestral, η = 1); z is stepwise’s counter-based draw (--seed), not torch’s'],
  }))(eulerPoints(c, n))
}

const heun: Converter = (c, n) => {
  const cls = 'HeunDiscreteScheduler'
  const issues: Check = [...epsOrV(cls, c), ...sigmaOptions(cls, c, true)]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => ({
    points: pts,
    schedule: documentOf(
      pts,
      Array.from({ length: n + 1 }, () => K.heunStep),
      'diffusers-heun',
    ),
    solver: 'heun',
    notes: [`Heun in σ̄ on ${n - 1} intervals (2 evaluations each), then the Euler step into σ = 0 (x̂0 at the last point): ${2 * n - 1} model evaluations`],
  }))(eulerPoints(c, n))
}

/** KDPM2: the σ̄'s of EulerDiscrete with each interval's λ-midpoint (geometric mean of the σ̄'s) inserted; the last interval, into σ = 0, is x̂0 */
const kdpm2Points = (c: Config, n: number): E.Either<ReadonlyArray<Issue>, Points> =>
  E.map((pts: Points): Points => {
    const ts = pts.grid.spacing === 'explicit' ? pts.grid.t : []
    const ns = pts.ns
    const tb = tablesOf(c)
    const logInterp = B.sigmaToTimestep(tb.sigmaBar)
    // the main points' timesteps: the spacing's own (σ̄ interpolated at them), or _sigma_to_t of Karras (rounded) / exponential σ̄'s
    const spaced = c.use_karras_sigmas !== true && c.use_exponential_sigmas !== true
    const steps = ddimTimesteps(c.timestep_spacing ?? 'linspace', n, tb.N, c.steps_offset ?? 0, false)
    const main = ts.map((t, i): number => {
      if (spaced) return steps[i]!
      const tau = logInterp(Math.exp(-ns.lambda(t)))
      return c.use_karras_sigmas === true ? roundHalfEven(tau) : tau
    })
    const out: number[] = []
    const at: Array<readonly [number, number]> = []
    ts.forEach((t, i) => {
      if (i > 0) {
        const lm = 0.5 * (ns.lambda(ts[i - 1]!) + ns.lambda(t))
        const tm = ns.tOfLambda(lm)
        out.push(tm)
        at.push([tm, logInterp(Math.exp(-ns.lambda(tm)))])
      }
      out.push(t)
      at.push([t, main[i]!])
    })
    return { ...pts, grid: explicit(out), count: out.length, time: { kind: 'vp', rounding: 'none', interpolation: 'log', at } }
  })(eulerPoints(c, n))

const kdpm2: Converter = (c, n) => {
  const cls = 'KDPM2DiscreteScheduler'
  const issues: Check = [...epsOrV(cls, c), ...sigmaOptions(cls, c, true)]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => ({
    points: pts,
    schedule: documentOf(pts, Array.from({ length: n }, () => K.dpm2Steps).flat(), 'diffusers-kdpm2'),
    solver: 'dpm2',
    notes: [
      `DPM-2 in σ̄ on ${n - 1} intervals (Euler to the λ-midpoint, then the full step with the midpoint’s ε), then the Euler step into σ = 0 (x̂0 at the last point): ${2 * n - 1} model evaluations`,
    ],
  }))(kdpm2Points(c, n))
}

const lms: Converter = (c, n) => {
  const cls = 'LMSDiscreteScheduler'
  const issues: Check = [...epsOrV(cls, c), ...sigmaOptions(cls, c, true)]
  if (issues.length > 0) return E.left(issues)
  return E.map((pts: Points): Converted => {
    const ts = pts.grid.spacing === 'explicit' ? pts.grid.t : []
    // the last LMS step integrates its σ̄-polynomial to σ̄ = 0 at full order: the grid ends at σ = 0 (final sigma0), no denoise
    const zero = Grid.sigmaZero(pts.ns).t
    const grid: G.Grid = { spacing: 'explicit', t: [...ts, Math.min(zero, ts[ts.length - 1]! / 2)], final: 'sigma0' }
    const orders = OP.orders(n)(OP.warmup(4))
    return {
      points: { ...pts, grid, count: ts.length + 1, toZero: false },
      schedule: S.make(grid, orders.map(K.rhoStep), 'diffusers-lms'),
      solver: 'lms',
      notes: ['LMS with step(…, order = 4), the default: ε interpolated in σ̄ through the last min(i + 1, 4) outputs and integrated exactly, the last step too (into σ̄ = 0)'],
    }
  })(eulerPoints(c, n))
}

const deis: Converter = (c, n) => {
  const algo = c.algorithm_type ?? 'deis'
  const st = c.solver_type ?? 'logrho'
  const order = c.solver_order ?? 2
  const issues: Check = [
    ...oneOf('algorithm_type', algo, ['deis', 'dpmsolver', 'dpmsolver++']),
    ...oneOf('solver_type', st, ['logrho', 'midpoint', 'heun', 'bh1', 'bh2']),
    ...when(order > 3, 'solver_order', () => `got ${order}; supported: 1, 2, 3`),
    ...when(c.prediction_type === 'flow_prediction', 'prediction_type', () => 'got "flow_prediction"; supported for DEISMultistepScheduler: epsilon, sample, v_prediction'),
  ]
  if (issues.length > 0) return E.left(issues)
  // DEIS always ends at σ̄(0) (sigma_last), as final_sigmas_type sigma_min
  return E.map((pts: Points): Converted => {
    const orders = OP.orders(n)(OP.lowerOrderFinal((c.lower_order_final ?? true) ? 15 : 0)(OP.warmup(order)))
    return {
      points: pts,
      schedule: documentOf(
        pts,
        orders.map((k) => Deis.rhoStep(k, 'logrho')),
        `diffusers-deis-${order}`,
      ),
      solver: order === 1 ? 'ddim' : `deis-logrho${order - 1}`,
      notes: [
        ...(algo !== 'deis' ? [`algorithm_type ${JSON.stringify(algo)} is read as "deis", as diffusers does`] : []),
        ...(st !== 'logrho' ? [`solver_type ${JSON.stringify(st)} is read as "logrho", as diffusers does`] : []),
        'DEIS ρAB: ε interpolated by a Lagrange polynomial in log ρ = −λ and integrated in ρ, i.e. the exact λ-Lagrange noise-form step (no halved term at order 3)',
      ],
    }
  })(multistepPoints({ ...c, final_sigmas_type: 'sigma_min' }, n))
}

/** diffusers' singlestep order list (`lower_order_final` forced on for an uneven split or a final σ = 0, as diffusers does); the last order 1 with a final σ = 0 */
export const singlestepOrders = (order: number, steps: number, lowerOrderFinal: boolean, finalZero: boolean): ReadonlyArray<number> => {
  const lof = lowerOrderFinal || steps % order !== 0 || finalZero
  const rep = (pattern: ReadonlyArray<number>, k: number): ReadonlyArray<number> => Array.from({ length: Math.max(0, k) }, () => pattern).flat()
  const head =
    order === 1
      ? rep([1], steps)
      : !lof
        ? rep(order === 2 ? [1, 2] : [1, 2, 3], Math.floor(steps / order))
        : order === 2
          ? steps % 2 === 0
            ? [...rep([1, 2], steps / 2 - 1), 1, 1]
            : [...rep([1, 2], Math.floor(steps / 2)), 1]
          : steps % 3 === 0
            ? [...rep([1, 2, 3], steps / 3 - 1), 1, 2, 1]
            : steps % 3 === 1
              ? [...rep([1, 2, 3], Math.floor(steps / 3)), 1]
              : [...rep([1, 2, 3], Math.floor(steps / 3)), 1, 2]
  return finalZero ? [...head.slice(0, -1), 1] : head
}

const dpmSinglestep: Converter = (c, n) => {
  const algo = c.algorithm_type ?? 'dpmsolver++'
  const st = c.solver_type ?? 'midpoint'
  const order = c.solver_order ?? 2
  const final = c.final_sigmas_type ?? 'zero'
  const issues: Check = [
    ...(algo.startsWith('sde-')
      ? issue('algorithm_type', `got ${JSON.stringify(algo)}: ${STOCHASTIC}; supported: dpmsolver++, dpmsolver`)
      : oneOf('algorithm_type', algo, ['dpmsolver++', 'dpmsolver', 'deis'])),
    ...oneOf('solver_type', st, ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']),
    ...when(order > 3, 'solver_order', () => `got ${order}; supported: 1, 2, 3`),
    ...when(
      algo === 'dpmsolver' && final === 'zero',
      'final_sigmas_type',
      () => 'got "zero" with algorithm_type dpmsolver (noise prediction cannot step into σ = 0; diffusers rejects it too); use "sigma_min"',
    ),
    ...when(c.prediction_type === 'flow_prediction' && c.use_flow_sigmas !== true, 'prediction_type', () => 'flow_prediction needs use_flow_sigmas: true'),
  ]
  if (issues.length > 0) return E.left(issues)
  const lof = c.lower_order_final ?? true
  const orders = singlestepOrders(order, n, lof, final === 'zero')
  const spacing = c.timestep_spacing
  return E.chain((pts: Points): E.Either<ReadonlyArray<Issue>, Converted> => {
    const real = pts.count - 1
    // a zero-length last step (Karras σ's with final σ_min) is the identity only at order 1
    if (real < n && orders[n - 1]! > 1)
      return E.left(
        issue(
          'final_sigmas_type',
          `"sigma_min" with these σ's ends with a zero-length step of order ${orders[n - 1]} from an earlier point, which a stepwise grid cannot hold; use "zero" or another number of steps`,
        ),
      )
    const p: P.Prediction = algo === 'dpmsolver' ? 'noise' : 'data'
    const kind = st === 'heun' ? 'taylor' : 'dpmsolver'
    return E.right({
      points: pts,
      schedule: documentOf(
        pts,
        orders.map((k) => Dpm.singlestepUpdate(p, k, kind)),
        `diffusers-${p === 'data' ? 'dpmpp' : 'dpm'}-${order}s`,
      ),
      solver: order === 1 ? 'ddim' : `${p === 'data' ? 'dpmpp' : 'dpm'}-${order}s`,
      notes: [
        `singlestep orders ${orders.join(', ')} (each group restarts from its first point; its inner points are the next grid points)`,
        ...(lof !== (lof || n % order !== 0 || final === 'zero') ? ['lower_order_final false is read as true here (an uneven split or a final σ = 0), as diffusers does'] : []),
        ...(algo === 'deis' ? ['algorithm_type "deis" is read as "dpmsolver++", as diffusers does'] : []),
        ...(st !== 'midpoint' && st !== 'heun' ? [`solver_type ${JSON.stringify(st)} is read as "midpoint", as diffusers does`] : []),
        ...(spacing !== undefined && spacing !== 'linspace' ? [`timestep_spacing ${JSON.stringify(spacing)} is not read by DPMSolverSinglestepScheduler (its timesteps are linspace)`] : []),
      ],
    })
  })(multistepPoints({ ...c, timestep_spacing: 'linspace' }, n))
}

const CONVERTERS: Readonly<Record<ClassName, Converter>> = {
  DPMSolverMultistepScheduler: dpmMultistep,
  DPMSolverSinglestepScheduler: dpmSinglestep,
  UniPCMultistepScheduler: unipcMultistep,
  DEISMultistepScheduler: deis,
  DDIMScheduler: ddim,
  EulerDiscreteScheduler: euler,
  EulerAncestralDiscreteScheduler: eulerAncestral,
  HeunDiscreteScheduler: heun,
  KDPM2DiscreteScheduler: kdpm2,
  LMSDiscreteScheduler: lms,
  PNDMScheduler: pndm,
  FlowMatchEulerDiscreteScheduler: flowMatchEuler,
}

/** the default prediction_type (FlowMatch models predict the flow velocity) */
const defaultPrediction = (cls: ClassName): (typeof PREDICTION_TYPES)[number] => (cls === 'FlowMatchEulerDiscreteScheduler' ? 'flow_prediction' : 'epsilon')

const isClass = (s: string): s is ClassName => CLASSES.some((c) => c === s)

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * convert a decoded config: the noise schedule, the schedule document with diffusers' σ's and orders for
 * num_inference_steps = nfe (PNDM: nfe − 1), the parameterization and the model time convention
 */
export const convert = (config: Config, o: Options): E.Either<ReadonlyArray<Issue>, Conversion> => {
  const cls = config._class_name
  if (!isClass(cls))
    return E.left(issue('_class_name', `${JSON.stringify(cls)} is not converted; supported: ${CLASSES.join(', ')} (stepwise solvers --from ${JSON.stringify(cls)} names the closest stepwise solver)`))
  if (o.steps !== undefined && !(Number.isInteger(o.steps) && o.steps >= 1)) return E.left(issue('steps', `expected an integer ≥ 1 (num_inference_steps); got ${o.steps}`))
  if (o.steps === undefined && (!Number.isInteger(o.nfe) || o.nfe < (cls === 'PNDMScheduler' ? 2 : 1)))
    return E.left(issue('nfe', `expected an integer ≥ ${cls === 'PNDMScheduler' ? 2 : 1}; got ${o.nfe}`))
  const c: Config = { ...config, prediction_type: config.prediction_type ?? defaultPrediction(cls) }
  const n = o.steps ?? (cls === 'PNDMScheduler' ? o.nfe - 1 : TWO_EVALS.includes(cls) ? Math.floor((o.nfe + 1) / 2) : o.nfe)
  const converted = CONVERTERS[cls](c, n, o)
  const common = commonChecks(c)
  if (common.length > 0) return E.left([...common, ...(E.isLeft(converted) ? converted.left : [])])
  return E.map((r: Converted): Conversion => ({
    className: cls,
    config: c,
    inferenceSteps: n,
    noiseSchedule: r.points.ns,
    noise: r.points.noise,
    parameterization: paramOf(c),
    schedule: r.schedule,
    time: r.points.time,
    solver: r.solver,
    stochastic: r.stochastic ?? false,
    samples: SIGMA_BAR_SAMPLES.includes(cls) ? 'sigmaBar' : 'x',
    notes: [...r.points.notes, ...r.notes],
  }))(converted)
}

/** parse (Python-flavoured JSON), decode and convert a scheduler_config.json text; unknown keys become notes */
export const fromText = (text: string, o: Options): E.Either<ReadonlyArray<Issue>, Conversion> => {
  let u: unknown
  try {
    u = parseJson(text)
  } catch (e) {
    return E.left(issue('(root)', `not valid JSON: ${e instanceof Error ? e.message : String(e)}`))
  }
  const d = decode(u)
  if (E.isLeft(d)) return d
  return E.map((cv: Conversion): Conversion => ({
    ...cv,
    notes: [...cv.notes, ...d.right.unknown.map((k) => `key ${JSON.stringify(k)} is not read by stepwise (ignored)`)],
  }))(convert(d.right.config, o))
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the model time input at a point: VP τ = timestep of σ̄ = e^{−λ} (log-σ̄ or σ̄-linear interpolation of the table), flow τ = N·σ; then diffusers' rounding */
export const timestepOf = (cv: Conversion) => {
  const tc = cv.time
  const table = new Map(tc.at ?? [])
  const rule = ruleTimestep(cv)
  return (at: NS.Point): number => table.get(at.t) ?? rule(at)
}

/** the timestep rule of a conversion's time convention (no explicit table) */
const ruleTimestep = (cv: Conversion) => {
  const tc = cv.time
  const N = cv.noise.kind === 'discrete' ? cv.noise.alphasCumprod.length : (cv.config.num_train_timesteps ?? 1000)
  const rounding = (x: number): number => (tc.rounding === 'round' ? roundHalfEven(x) : tc.rounding === 'trunc' ? Math.trunc(x) : x)
  if (cv.noise.kind === 'flow') return (at: NS.Point): number => rounding(N * (at.sigma >= 1 - FLOW_TOP ? 1 : at.sigma))
  const sb = B.sigmaBars(cv.noise.alphasCumprod)
  const logInterp = B.sigmaToTimestep(sb)
  const linInterp = NS.interpolate(
    sb,
    sb.map((_, n) => n),
  )
  return (at: NS.Point): number => {
    const s = Math.exp(-at.lambda)
    const tau = tc.interpolation === 'linear' ? Math.min(N - 1, Math.max(0, linInterp(s))) : logInterp(s)
    // integer timesteps come back within rounding error: snap them
    const snapped = Math.abs(tau - Math.round(tau)) < 1e-6 ? Math.round(tau) : tau
    return rounding(snapped)
  }
}

/** the problem-file `schedule` entry (golden format) of a VP conversion: betas, plus log_alpha_array when ᾱ was rescaled; undefined for flow */
export const problemSchedule = (cv: Conversion): Readonly<Record<string, unknown>> | undefined => {
  const nz = cv.noise
  if (nz.kind !== 'discrete') return undefined
  const N = nz.betas.length
  return {
    name: 'discrete',
    betas: nz.betas,
    ...(nz.rescaled ? { log_alpha_array: nz.alphasCumprod.map((a) => 0.5 * Math.log(a)) } : {}),
    T: 1,
    t_0: 1 / N,
  }
}

/** how a network converted from diffusers is called: its parameterization and diffusers' timestep τ(σ) (use with `TfjsModel.fromNetwork(net, modelInput(cv))`) */
export const modelInput = (cv: Conversion): { readonly param: Conversion['parameterization']; readonly time: (at: NS.Point) => number } => ({
  param: cv.parameterization,
  time: timestepOf(cv),
})
