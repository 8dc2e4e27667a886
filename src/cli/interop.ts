/**
 * The interop commands: `from-diffusers CONFIG.json`, `solvers --from NAME` and `explain --diffusers CONFIG.json`.
 */
import * as fs from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import * as D from '../interop/Diffusers.ts'
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
export const HELP_FROM_DIFFUSERS = `usage: stepwise from-diffusers CONFIG.json [--nfe N] [--out S.json] [--problem-out P.json] [--parity exact|reference]

Reads a diffusers scheduler_config.json
(${D.CLASSES.join(', ')}) and writes the
stepwise schedule document that reproduces it for num_inference_steps = N (default 20; PNDM: N − 1, its
first step costs two evaluations): diffusers' timesteps and σ's (timestep_spacing, use_karras_sigmas,
use_lu_lambdas, use_exponential_sigmas, use_flow_sigmas/flow_shift, lambda_min_clipped), orders
(solver_order, lower_order_final, euler_at_final), final step (final_sigmas_type) and solver
(algorithm_type, solver_type). Prints the parameterization (prediction_type), the model's timesteps and
every difference from diffusers. Without --out the document goes to stdout.
--problem-out writes a problem file (golden format: the noise schedule + a toy 2-D Gaussian mixture) that
'stepwise explain --problem' and 'stepwise sample --problem' read. --parity reference reproduces diffusers'
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
export const convertFile = (file: string, nfe: number, parity: 'exact' | 'reference'): D.Conversion => {
  const r = D.fromText(readText(file), { nfe, parity })
  // the converted document passes the same checks as 'stepwise validate' before it is used or written
  if (E.isRight(r)) return { ...r.right, schedule: Docs.checked(r.right.schedule, `the conversion of ${file} at --nfe ${nfe}`) }
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
    source: { diffusers: cv.className, parameterization: cv.parameterization },
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

/** stepwise from-diffusers CONFIG.json [--nfe N] [--out S.json] [--problem-out P.json] [--parity exact|reference] */
export const fromDiffusers = async (argv: ReadonlyArray<string>): Promise<number> => {
  const a = IO.parse(argv, ['nfe', 'out', 'problem-out', 'parity'])
  const file = a.positional[0]
  if (file === undefined) throw IO.usage('from-diffusers needs a CONFIG.json (a diffusers scheduler_config.json)')
  const cv = convertFile(file, IO.int(a, 'nfe', 20), parityOf(IO.get(a, 'parity')))
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
