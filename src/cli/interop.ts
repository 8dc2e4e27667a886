/**
 * The interop commands: `from-diffusers CONFIG.json`, `solvers --from NAME` and `explain --diffusers CONFIG.json`.
 */
import * as fs from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import * as Gmm from '../core/Gmm.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as D from '../interop/Diffusers.ts'
import * as F from '../run/Float64.ts'
import * as Interop from '../interop/Interop.ts'
import * as Problem from '../interop/Problem.ts'
import * as Prog from '../run/Program.ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as Codec from '../schedule/Codec.ts'
import { formatIssues } from '../core/Codec.ts'
import * as Trace from '../run/Trace.ts'
import * as Docs from './documents.ts'
import * as IO from './io.ts'

// -------------------------------------------------------------------------------------------------
// help
// -------------------------------------------------------------------------------------------------

/** `stepwise from-diffusers --help` */
export const HELP_FROM_DIFFUSERS = `usage: stepwise from-diffusers CONFIG.json [--nfe N | --steps N] [--out S.json] [--problem-out P.json] [--parity exact|reference]

Reads a diffusers scheduler_config.json
(${D.CLASSES.join(', ')}) and writes the
stepwise schedule document that reproduces it for num_inference_steps = N (default 20; PNDM: N − 1, its
first step costs two evaluations; Heun, KDPM2: ⌊(N + 1)/2⌋, whose n steps cost 2n − 1; --steps N gives
num_inference_steps itself): diffusers' timesteps and σ's (timestep_spacing, use_karras_sigmas,
use_lu_lambdas, use_exponential_sigmas, use_flow_sigmas/flow_shift, lambda_min_clipped), orders
(solver_order, lower_order_final, euler_at_final), final step (final_sigmas_type) and solver
(algorithm_type, solver_type). Prints the parameterization (prediction_type), the model's timesteps and
every difference from diffusers. Without --out the document goes to stdout.
--problem-out writes a problem file (golden format: the noise schedule + a toy 2-D Gaussian mixture) that
'stepwise explain --problem' and 'stepwise sample --problem' read ('sample --timestep-input diffusers' then
evaluates the exact model at diffusers' rounded timesteps). Stochastic classes (EulerAncestral, sde-dpmsolver++)
become noise steps drawn by stepwise's generator (--seed). --parity reference reproduces diffusers'
third-order step (halved second derivative); the default is the exact third-order method.`

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const readText = (file: string): string => {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new Error(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

const parityOf = (s: string | undefined): 'exact' | 'reference' => {
  if (s === undefined || s === 'exact') return 'exact'
  if (s === 'reference') return 'reference'
  throw IO.usage(`--parity: expected exact or reference, got '${s}'`)
}

/** convert a config file or throw every issue (with the closest stepwise solver for classes it does not convert) */
export const convertFile = (file: string, nfe: number, parity: 'exact' | 'reference', steps?: number): D.Conversion => {
  const r = D.fromText(readText(file), { nfe, parity, ...(steps === undefined ? {} : { steps }) })
  // the converted document passes the same checks as 'stepwise validate' before it is used or written
  if (E.isRight(r)) return { ...r.right, schedule: Docs.checked(r.right.schedule, `the conversion of ${file} at ${steps === undefined ? `--nfe ${nfe}` : `--steps ${steps}`}`) }
  const cls = r.left.find((i) => i.path === '_class_name')
  const hint = (() => {
    if (cls === undefined) return ''
    try {
      const name = (D.parseJson(readText(file)) as { _class_name?: unknown })._class_name
      const m = typeof name === 'string' ? Interop.lookup(name) : undefined
      return m === undefined ? '' : `\n\n${Interop.describe(m, nfe)}`
    } catch {
      return ''
    }
  })()
  throw new Error(`${file} is not a scheduler config stepwise can convert:\n${formatIssues(r.left)}${hint}`)
}

const fmtT = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(3))

/** the summary lines of a conversion */
export const summary = (file: string, cv: D.Conversion): string => {
  const p = Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(cv.schedule)
  const tau = D.timestepOf(cv)
  const evals = p.instrs.flatMap((i) => (i.op === 'eval' && i.analytic === undefined ? [tau(i.at)] : []))
  return [
    `${file}: ${cv.className}, ${cv.inferenceSteps} inference steps → ${cv.schedule.steps.length} stepwise steps${cv.schedule.options?.denoiseToZero === true ? ' + x̂0 at the last point (the step into σ = 0)' : ''}, NFE ${p.nfe}`,
    `  noise schedule: ${cv.noiseSchedule.name}; model output: ${cv.parameterization} (prediction_type ${cv.config.prediction_type ?? 'epsilon'}); closest named solver: ${cv.solver}`,
    ...(cv.stochastic ? ['  stochastic: fresh noise every step (stepwise’s counter-based generator: sample --seed S)'] : []),
    `  model timesteps: ${evals.map(fmtT).join(', ')} (${cv.time.kind === 'flow' ? 'N·σ' : 'diffusers timestep of σ̄'}${cv.time.rounding === 'none' ? '' : `, ${cv.time.rounding === 'round' ? 'rounded' : 'truncated'}`})`,
    ...cv.notes.map((n) => `  note: ${n}`),
  ].join('\n')
}

/** the problem file of a conversion (golden format: `schedule` + a toy mixture) */
export const problemFile = (cv: D.Conversion): unknown => {
  const schedule = D.problemSchedule(cv)
  if (schedule === undefined)
    throw new Error(`${cv.className} with flow σ's: the problem-file format holds discrete and linear VP schedules only; use 'stepwise explain S.json --diffusers CONFIG.json'`)
  return {
    format: 'stepwise-problem/v1',
    // the config and step count let 'sample --timestep-input diffusers' rebuild diffusers' timesteps
    source: { diffusers: cv.className, parameterization: cv.parameterization, config: cv.config, steps: cv.inferenceSteps },
    schedule,
    problem: {
      K: 2,
      D: 2,
      weights: [0.5, 0.5],
      means: [
        [-1, 0.5],
        [1, -0.5],
      ],
      variances: [
        [0.05, 0.05],
        [0.1, 0.1],
      ],
    },
  }
}

// -------------------------------------------------------------------------------------------------
// commands
// -------------------------------------------------------------------------------------------------

/** stepwise from-diffusers CONFIG.json [--nfe N | --steps N] [--out S.json] [--problem-out P.json] [--parity exact|reference] */
export const fromDiffusers = async (argv: ReadonlyArray<string>): Promise<number> => {
  const a = IO.parse(argv, ['nfe', 'steps', 'out', 'problem-out', 'parity'])
  const file = a.positional[0]
  if (file === undefined) throw IO.usage('from-diffusers needs a CONFIG.json (a diffusers scheduler_config.json)')
  if (IO.get(a, 'nfe') !== undefined && IO.get(a, 'steps') !== undefined) throw IO.usage('give either --nfe or --steps, not both')
  const steps = IO.get(a, 'steps') === undefined ? undefined : IO.int(a, 'steps')
  const cv = convertFile(file, IO.int(a, 'nfe', 20), parityOf(IO.get(a, 'parity')), steps)
  const doc = JSON.stringify(Codec.encode(cv.schedule), null, 2)
  const out = IO.get(a, 'out')
  const pout = IO.get(a, 'problem-out')
  const text = summary(file, cv)
  if (out === undefined) {
    console.error(text)
    console.log(doc)
  } else {
    IO.writeAtomic(out, `${doc}\n`)
    console.log(`${text}\nwrote ${out}`)
  }
  if (pout !== undefined) {
    IO.writeAtomic(pout, `${JSON.stringify(Problem.decodeOrThrow(problemFile(cv), `the problem file of ${file}`))}\n`)
    ;(out === undefined ? console.error : console.log)(`wrote ${pout}`)
  }
  return 0
}

/** the explain text of a schedule (or of the config's own schedule) on a diffusers config's noise schedule and parameterization */
export const explainDiffusers = (configFile: string, schedule: S.SolverSchedule | undefined, nfe: number, parity: 'exact' | 'reference'): string => {
  const cv = convertFile(configFile, nfe, parity)
  const s = schedule ?? cv.schedule
  const p = Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(s)
  const tau = D.timestepOf(cv)
  return [
    `noise schedule: ${cv.noiseSchedule.name} from ${configFile} (${cv.className}), T = ${cv.noiseSchedule.T}, t_0 = ${cv.noiseSchedule.t0}; model output ${cv.parameterization}`,
    `model timesteps: ${p.instrs.flatMap((i) => (i.op === 'eval' && i.analytic === undefined ? [fmtT(tau(i.at))] : [])).join(', ')}`,
    Trace.explain(p),
  ].join('\n')
}

/** `explain --diffusers` flags: the parsed nfe and parity */
export const explainOptions = (a: IO.Args): { readonly nfe: number; readonly parity: 'exact' | 'reference' } => ({
  nfe: IO.int(a, 'nfe', 20),
  parity: parityOf(IO.get(a, 'parity')),
})

/** stepwise solvers --from NAME: the stepwise solver for a diffusers class / k-diffusion / A1111 / ComfyUI name; 1 if unknown */
export const solversFrom = (name: string, nfe: number): number => {
  const m = Interop.lookup(name)
  if (m === undefined) {
    const near = Interop.nearest(name)
    console.error(
      `unknown sampler '${name}'${near.length > 0 ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''}\n` +
        `known: ${Interop.entries.map((e) => e.name).join(', ')} (plus their diffusers / k-diffusion / ComfyUI spellings and a schedule suffix such as Karras)`,
    )
    return 1
  }
  console.log(Interop.describe(m, nfe))
  return 0
}

// -------------------------------------------------------------------------------------------------
// sample --timestep-input
// -------------------------------------------------------------------------------------------------

/** `sample --help` lines of the option */
export const HELP_TIMESTEP_INPUT = `--timestep-input sigma|diffusers: where the exact model is evaluated: at each point's σ (default), or, as a
network reads diffusers' timestep, at the point of diffusers' (rounded) timestep τ of that σ (t = (τ + 1)/N on the
discrete schedule). diffusers needs the diffusers config: the problem file from 'from-diffusers --problem-out'
carries it, or give --diffusers CONFIG.json [--steps N]. Float64 interpreter only.`

/**
 * the evaluation point of the exact model under \`--timestep-input\`: undefined for 'sigma' (the point itself); for
 * 'diffusers' the point of diffusers' timestep τ(σ) of the conversion (from --diffusers CONFIG.json, or the problem
 * file's source.config written by from-diffusers)
 */
export const timestepInput = (a: IO.Args, problem: unknown, ns: NS.NoiseSchedule): ((at: NS.Point) => NS.Point) | undefined => {
  const mode = IO.get(a, 'timestep-input')
  if (mode === undefined || mode === 'sigma') return undefined
  if (mode !== 'diffusers') throw IO.usage(`--timestep-input: expected sigma or diffusers, got '${mode}'`)
  const file = IO.get(a, 'diffusers')
  const src = typeof problem === 'object' && problem !== null ? (problem as { source?: { config?: unknown; steps?: unknown } }).source : undefined
  const steps = IO.get(a, 'steps') !== undefined ? IO.int(a, 'steps') : typeof src?.steps === 'number' ? src.steps : 20
  const fromProblem = (config: unknown): D.Conversion => {
    const d = D.decode(config)
    const r = E.isLeft(d) ? d : D.convert(d.right.config, { nfe: steps, steps })
    if (E.isLeft(r)) throw new Error(`the problem file's source.config cannot be converted:\n${formatIssues(r.left)}`)
    return r.right
  }
  if (file === undefined && src?.config === undefined)
    throw IO.usage("--timestep-input diffusers needs the diffusers config: --diffusers CONFIG.json, or a problem file written by 'from-diffusers --problem-out'")
  const cv = file !== undefined ? convertFile(file, steps, 'exact', steps) : fromProblem(src?.config)
  if (cv.noise.kind !== 'discrete') throw IO.usage('--timestep-input diffusers: flow configs have no problem file; use the Scheduler API')
  const N = cv.noise.alphasCumprod.length
  const tau = D.timestepOf(cv)
  const point = NS.point(ns)
  return (at) => point((tau(at) + 1) / N)
}

/** the exact-ε run of a mixture with the model evaluated at \`pointOf\` of each evaluation point (Float64) */
export const runAtTimesteps = (p: Prog.Program, g: Gmm.Gmm, xT: Float64Array, seed: number, pointOf: (at: NS.Point) => NS.Point): F.Result =>
  F.run(p, (x, at) => Gmm.eps(g)(x, pointOf(at)), { D: g.D, seed })(xT)
