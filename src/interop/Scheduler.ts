/**
 * A diffusers-style scheduler over any schedule document, so that a JavaScript pipeline written against diffusers'
 * scheduler API runs stepwise's samplers unchanged:
 *
 *   scheduler.setTimesteps(n)
 *   let x = noise.map((v) => v * scheduler.initNoiseSigma)
 *   for (const t of scheduler.timesteps) {
 *     const out = unet(scheduler.scaleModelInput(x, t), t)
 *     x = scheduler.step(out, t, x).prevSample
 *   }
 *
 * It is the stepping API (`Program.stepper`) on the Float64 interpreter, paused before each model evaluation: `step`
 * hands the network's output to the paused evaluation and runs the program up to the next one. Every instruction is
 * the compiled program's own, so the loop gives exactly what `Float64.run` gives (test/interop.test.ts). `timesteps`
 * holds one entry per model evaluation (Heun, DPM-2, PLMS and corrector re-evaluations included, as diffusers' Heun
 * and KDPM2 list theirs). Samples are x (DDIM, DPM-Solver, UniPC, DEIS: `initNoiseSigma` 1, `scaleModelInput` the
 * identity) or x/α in σ̄ units (Euler, Heun, LMS, KDPM2: `scaleModelInput` divides by sqrt(σ̄² + 1)).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as Noise from '../core/Noise.ts'
import type * as NS from '../core/NoiseSchedule.ts'
import type * as P from '../core/Parameterization.ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as F from '../run/Float64.ts'
import * as Prog from '../run/Program.ts'
import * as D from './Diffusers.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** how samples are scaled: x itself, or x/α (σ̄ units, the k-diffusion convention of diffusers' Euler family) */
export type Samples = 'x' | 'sigmaBar'

/** a scheduler over stepwise documents */
export interface Options {
  readonly noiseSchedule: NS.NoiseSchedule
  /** what the network outputs (diffusers prediction_type: eps = epsilon, x0 = sample, v = v_prediction, flow) */
  readonly parameterization: P.Parameterization
  /** the document for num_inference_steps n (e.g. `(n) => Solvers.byId('dpmpp-2m')!.build({ nfe: n })`), or one fixed document (then n must be its NFE) */
  readonly schedule: S.SolverSchedule | ((n: number) => S.SolverSchedule)
  /** the network's timestep input at an evaluation point (default: the schedule's own time t) */
  readonly timestep?: (at: NS.Point) => number
  /** sample scaling (default 'x') */
  readonly samples?: Samples
  /** the std of the initial noise (default: 1 for 'x', sqrt(σ̄_max² + 1) for 'sigmaBar') */
  readonly initNoiseSigma?: (first: NS.Point) => number
  /** row length for noise and per-row steps (default: the sample's length, one row) */
  readonly D?: number
  /** noise seed of stochastic steps (stepwise's counter-based generator) */
  readonly seed?: number
  /** a noise source replacing the generator: the draw for (step, stream), shaped like `like` (Float64.Options.normal) */
  readonly normal?: (key: Noise.Key, like: Float64Array) => Float64Array
}

/** what `step` returns (diffusers' SchedulerOutput) */
export interface StepOutput {
  /** the sample to give the network next (or the result, after the last step) */
  readonly prevSample: Float64Array
  /** x̂0 from this step's model output (no model call) */
  readonly predOriginalSample: Float64Array
}

/** per-call options of `step` */
export interface StepOptions {
  /** the draw this call's stochastic update uses (diffusers' `generator` draw; one draw per call), instead of the generator */
  readonly noise?: ArrayLike<number>
}

/** a diffusers-style scheduler (state: the timesteps of the last `setTimesteps` and the position in them) */
export interface Scheduler {
  /** build the program for num_inference_steps = n and rewind */
  readonly setTimesteps: (n: number) => void
  /** the network's timestep at each model evaluation, in order (one `step` per entry) */
  readonly timesteps: ReadonlyArray<number>
  /** σ̄ = σ/α at each evaluation, then the final σ̄ */
  readonly sigmas: ReadonlyArray<number>
  /** the noise-schedule point of each evaluation (for analytic models that want α, σ, λ rather than a timestep) */
  readonly evaluationPoints: ReadonlyArray<NS.Point>
  /** the std of the initial noise: x_T = initNoiseSigma·z */
  readonly initNoiseSigma: number
  /** model evaluations per solver step, rounded (diffusers' `order`: 2 for Heun) */
  readonly order: number
  /** how many `step` calls have been made since `setTimesteps` */
  readonly stepIndex: number
  /** the compiled program of the current timesteps */
  readonly program: Prog.Program
  /** the network's input at timestep t: the sample (x samples) or sample·α = sample/sqrt(σ̄² + 1) (σ̄ samples) */
  readonly scaleModelInput: (sample: ArrayLike<number>, t: number) => Float64Array
  /** one model output → the next sample; t must be `timesteps[stepIndex]` */
  readonly step: (modelOutput: ArrayLike<number>, t: number, sample: ArrayLike<number>, o?: StepOptions) => StepOutput
}

/** one resolved set of timesteps */
interface Resolved {
  readonly program: Prog.Program
  readonly timestep: (at: NS.Point) => number
  readonly samples: Samples
  readonly initNoiseSigma: number
  readonly inferenceSteps: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const fail = (msg: string): never => {
  throw new Error(`Scheduler: ${msg}`)
}

/** the evaluation points a diffusers-style loop can drive: a program that evaluates the model before changing x, at one time per call */
const checkDrivable = (p: Prog.Program): void => {
  const evals = Prog.modelEvaluations(p)
  if (evals.length === 0) fail(`${p.schedule.name ?? 'the program'} never evaluates the model`)
  if (p.instrs.slice(0, evals[0]).some((ins) => ins.op === 'combine'))
    fail(`${p.schedule.name ?? 'the program'} changes x before its first model evaluation (churn or Langevin at step 0); the diffusers API evaluates the model at x_T first`)
  if (p.needs.includes('rows')) fail(`${p.schedule.name ?? 'the program'} evaluates the model at per-sample times (a time shift that keeps its times), which one timestep per call cannot express`)
}

const sameTimestep = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a scheduler from a source of resolved timesteps */
const fromSource = (resolve: (n: number) => Resolved, o: Pick<Options, 'D' | 'seed' | 'normal'>): Scheduler => {
  let r: Resolved | undefined
  let evals: ReadonlyArray<number> = []
  let points: ReadonlyArray<NS.Point> = []
  let taus: ReadonlyArray<number> = []
  let k = 0
  let state: Prog.State<Float64Array> | undefined
  let stepper: Prog.Stepper<Float64Array> | undefined
  let env: Prog.Env<Float64Array> | undefined
  let pending: Float64Array | undefined
  let callNoise: Float64Array | undefined
  let noiseKey: string | undefined

  const current = (): Resolved => r ?? fail('call setTimesteps(n) first')
  const alphaAt = (i: number): number => {
    const res = current()
    if (i < points.length) return points[i]!.alpha
    // after the last instruction: x̂0 (denoise to zero, σ = 0) or the last grid point
    return res.program.schedule.options?.denoiseToZero === true ? 1 : res.program.points[res.program.points.length - 1]!.alpha
  }
  const expect = (t: number, what: string): void => {
    if (k >= taus.length) fail(`${what}: all ${taus.length} timesteps are done; call setTimesteps(n) to sample again`)
    if (!sameTimestep(t, taus[k]!)) fail(`${what}(…, t = ${t}): expected timesteps[${k}] = ${taus[k]} (one call per entry of timesteps, in order)`)
  }

  const setTimesteps = (n: number): void => {
    const res = resolve(n)
    checkDrivable(res.program)
    r = res
    evals = Prog.modelEvaluations(res.program)
    points = evals.map((i) => {
      const ins = res.program.instrs[i]!
      return ins.op === 'eval' ? ins.at : fail('internal: not an evaluation')
    })
    taus = points.map(res.timestep)
    k = 0
    state = undefined
    stepper = undefined
    env = undefined
  }

  const start = (length: number): void => {
    const res = current()
    const D = o.D ?? length
    if (length % D !== 0) fail(`the sample has ${length} values, not a multiple of the row length D = ${D}`)
    env = F.env(
      () => {
        const out = pending ?? fail('internal: the model was called twice in one step')
        pending = undefined
        return out
      },
      {
        D,
        normal: (key, like) => {
          if (callNoise !== undefined) {
            const id = `${key.step}:${key.stream}`
            if (noiseKey !== undefined && noiseKey !== id) fail(`step ${key.step} draws noise twice in one call; step(…, { noise }) supplies one draw`)
            noiseKey = id
            return callNoise
          }
          return o.normal !== undefined ? o.normal(key, like) : Noise.normals(o.seed ?? 0, key, like.length / D, D)
        },
      },
    )
    stepper = Prog.stepper(env, res.program)
  }

  const step = (modelOutput: ArrayLike<number>, t: number, sample: ArrayLike<number>, so: StepOptions = {}): StepOutput => {
    const res = current()
    expect(t, 'step')
    if (modelOutput.length !== sample.length) fail(`step: the model output has ${modelOutput.length} values, the sample ${sample.length}`)
    if (k === 0) start(sample.length)
    const st = stepper!
    const a = alphaAt(k)
    const x = res.samples === 'sigmaBar' ? Float64Array.from(sample, (v) => v * a) : Float64Array.from(sample)
    const at = state === undefined ? st.runTo(evals[0]!)(st.init(x)) : { ...state, x }
    pending = Float64Array.from(modelOutput)
    callNoise = so.noise === undefined ? undefined : Float64Array.from(so.noise)
    if (callNoise !== undefined && callNoise.length !== sample.length) fail(`step: the noise has ${callNoise.length} values, the sample ${sample.length}`)
    noiseKey = undefined
    let preview: Float64Array
    try {
      // the evaluation (x̂0 previewed while its entry is held), then up to the next evaluation
      const evaluated = st.runTo(evals[k]! + 1)(at)
      if (pending !== undefined) fail('internal: the model output was not used')
      preview = Prog.preview(env!, res.program)(evaluated) ?? fail('internal: no evaluation to preview')
      state = st.runTo(evals[k + 1] ?? res.program.instrs.length)(evaluated)
    } finally {
      callNoise = undefined
    }
    k++
    const an = alphaAt(k)
    return { prevSample: res.samples === 'sigmaBar' ? state.x.map((v) => v / an) : Float64Array.from(state.x), predOriginalSample: preview }
  }

  return {
    setTimesteps,
    get timesteps() {
      current()
      return taus
    },
    get sigmas() {
      const res = current()
      const last = res.program.schedule.options?.denoiseToZero === true ? 0 : res.program.points[res.program.points.length - 1]!
      return [...points.map((p) => p.sigma / p.alpha), typeof last === 'number' ? last : last.sigma / last.alpha]
    },
    get evaluationPoints() {
      current()
      return points
    },
    get initNoiseSigma() {
      return current().initNoiseSigma
    },
    get order() {
      const res = current()
      return Math.max(1, Math.round(evals.length / Math.max(1, res.inferenceSteps)))
    },
    get stepIndex() {
      return k
    },
    get program() {
      return current().program
    },
    scaleModelInput: (sample, t) => {
      const res = current()
      expect(t, 'scaleModelInput')
      const a = alphaAt(k)
      return res.samples === 'sigmaBar' ? Float64Array.from(sample, (v) => v * a) : Float64Array.from(sample)
    },
    step,
  }
}

/** a scheduler over stepwise documents (a named solver's constructor, a searched schedule, any document) */
export const make = (o: Options): Scheduler => {
  const samples = o.samples ?? 'x'
  const init = o.initNoiseSigma ?? ((p: NS.Point) => (samples === 'x' ? 1 : Math.sqrt((p.sigma / p.alpha) ** 2 + 1)))
  return fromSource((n) => {
    const doc = typeof o.schedule === 'function' ? o.schedule(n) : o.schedule
    const program = Prog.compileOrThrow(o.noiseSchedule, o.parameterization)(doc)
    if (typeof o.schedule !== 'function' && program.nfe !== n)
      fail(`setTimesteps(${n}): this scheduler runs one fixed document of NFE ${program.nfe}; call setTimesteps(${program.nfe}) or pass a function of n as \`schedule\``)
    return { program, timestep: o.timestep ?? ((at) => at.t), samples, initNoiseSigma: init(program.points[0]!), inferenceSteps: n }
  }, o)
}

/** scheduler options that apply to a diffusers config */
export interface DiffusersOptions extends Pick<Options, 'D' | 'seed' | 'normal'> {
  /** 'reference' reproduces diffusers' third-order multistep step (halved second derivative); default 'exact' */
  readonly parity?: 'exact' | 'reference'
}

/**
 * the scheduler a diffusers `scheduler_config.json` describes (`Diffusers.fromText` for each `setTimesteps(n)`): diffusers'
 * timesteps (rounded as diffusers does), samples and `initNoiseSigma` (σ̄ classes: σ̄_max for linspace/trailing spacing,
 * sqrt(σ̄_max² + 1) for leading, as diffusers); throws every conversion issue
 */
export const fromDiffusers = (configText: string, o: DiffusersOptions = {}): Scheduler =>
  fromSource((n) => {
    const r = D.fromText(configText, { nfe: n, steps: n, ...(o.parity === undefined ? {} : { parity: o.parity }) })
    if (E.isLeft(r)) return fail(`the config cannot be converted:\n${r.left.map((i) => `${i.path}: ${i.message}`).join('\n')}`)
    const cv = r.right
    const program = Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(cv.schedule)
    const first = program.points[0]!
    const sMax = first.sigma / first.alpha
    const spacing = cv.config.timestep_spacing ?? (cv.className === 'DDIMScheduler' || cv.className === 'PNDMScheduler' ? 'leading' : 'linspace')
    const samples: Samples = cv.samples === 'sigmaBar' ? 'sigmaBar' : 'x'
    const initNoiseSigma = samples === 'x' ? 1 : spacing === 'leading' ? Math.sqrt(sMax * sMax + 1) : sMax
    return { program, timestep: D.timestepOf(cv), samples, initNoiseSigma, inferenceSteps: cv.inferenceSteps }
  }, o)
