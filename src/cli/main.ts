/**
 * The `stepwise` command line: golden, sample, explain, validate, solvers, compare, from-diffusers.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as Card from '../interop/Card.ts'
import * as Golden from '../interop/Golden.ts'
import * as Problem from '../interop/Problem.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as Prog from '../run/Program.ts'
import * as S from '../schedule/SolverSchedule.ts'
import * as Codec from '../schedule/Codec.ts'
import * as Trace from '../run/Trace.ts'
import * as Solvers from '../solvers/index.ts'
import * as Params from '../solvers/Params.ts'
import type { GridKind } from '../solvers/common.ts'
import * as Docs from './documents.ts'
import * as Interop from './interop.ts'
import * as IO from './io.ts'
import * as Run from './runner.ts'
import * as Search from './search.ts'

// -------------------------------------------------------------------------------------------------
// help
// -------------------------------------------------------------------------------------------------

const HELP: Record<string, string> = {
  main: `stepwise — composable fast samplers for diffusion models

usage: stepwise <command> [options]     (stepwise <command> --help for details)

commands:
  compare    the main job: named solvers at NFE 5/10/20 on built-in Gaussian mixtures vs the exact ODE endpoint, table + SVG
  golden     run every run of a golden-format file with stepwise's own solvers and compare
  sample     run a schedule document on a problem and start points
  explain    print a schedule's steps as linear combinations with their coefficients
  validate   check a schedule document (errors name the JSON path and the fix)
  solvers    list the named solvers, or print one's schedule document, or name the one matching another tool's sampler (--from)
  from-diffusers  a diffusers scheduler_config.json → a schedule document (+ a problem file with its noise schedule)
  fid        FID and class accuracy of a model card's samples (classifier features vs held-out data), with a progress bar
  search     search the best solver schedule for a problem and an NFE budget (USF decision space, evolution / S³)`,
  golden: `usage: stepwise golden FILE [--interpreter float64|tfjs] [--backend wasm|cpu|webgl|webgpu|tensorflow] [--out OUT.json] [--only SUBSTRING]

Runs every run of a golden-format file (diffusion-sampler-golden/v1) with stepwise's own solvers
(family + params mapped to stepwise constructors; the reference x0 is only compared against), on all
N rows of x_T. Prints: id, NFE, max |Δ| vs the reference rows, mean L2 vs ground_truth.x_0 (and the
reference's own mean L2). --out writes {"format":"stepwise-golden-out/v1","runs":[{"id","nfe","x0"}]}.`,
  sample: `usage: stepwise sample --problem P.json (--schedule S.json | --solver ID --nfe N [--grid G]) --xT X.json --out OUT.json
                       [--interpreter float64|tfjs] [--backend wasm|cpu|webgl|webgpu|tensorflow] [--seed S]
                       [--timestep-input sigma|diffusers [--diffusers CONFIG.json [--steps N]]]

P.json: at least {"problem", "schedule"} in the golden format (other keys ignored); a mean-reverting problem has
  "schedule": {"name": "mean_reverting", "lambda_inf": λ∞, "theta"?: "cosine"|"linear"|"constant", "alpha_T"?, "T"?, "t_0"?}
  and "mu": the condition, D numbers for every row or one row of D per row of X.json.
--seed: the noise seed of stochastic steps (default 0); row i of X.json is sample index i, so a
row's output does not depend on the other rows (except Langevin with norms=batch).
S.json: a stepwise schedule document. X.json: {"data": number[][]}. OUT.json: {"x0": number[][], "nfe": n}.
${Interop.HELP_TIMESTEP_INPUT}

       stepwise sample --model CARD.json (--schedule S.json | --solver ID --nfe N [--grid G]) [--n 64] [--xT X.json]
                       [--labels 0,1,… | --class K] [--guidance W] [--seed S] [--batch 256] [--out OUT.json] [--png GRID.png]
A trained network from its model card (stepwise-model/v1): x_T are normals keyed by (seed, sample index) unless --xT;
labels cycle 0 … classes − 1 by default; --guidance W is classifier-free guidance with the card's null label.`,
  explain: `usage: stepwise explain S.json [--problem P.json | --model CARD.json]
       stepwise explain [S.json] --diffusers CONFIG.json [--nfe N] [--parity exact|reference]

Prints each step of the schedule as a linear combination with its coefficients, resolved against the
noise schedule of P.json (default: VP linear β 0.1–20, T = 1, t_0 = 1e-3), or of a diffusers
scheduler_config.json with its model parameterization (without S.json: the config's own schedule for
num_inference_steps = N, default 20; see 'stepwise from-diffusers --help').`,
  'from-diffusers': Interop.HELP_FROM_DIFFUSERS,
  search: Search.usage,
  validate: `usage: stepwise validate S.json

Checks a schedule document; prints every issue as 'path: message' and exits 1 if there is any.`,
  solvers: `usage: stepwise solvers                                  list the named solvers
       stepwise solvers --show ID --nfe N [--grid time_uniform|logSNR|time_quadratic|karras] [--set key=value …]
                                                         print that solver's schedule document
       stepwise solvers --from NAME [--nfe N]             the stepwise solver for a diffusers class, k-diffusion function,
                                                         A1111 or ComfyUI sampler name ("DPM++ 2M Karras", dpmpp_2m, "Euler a")`,
  compare: `usage: stepwise compare [--out out/compare.svg] [--rows N] [--nfe 5,10,20] [--solvers a,b,c]
       stepwise compare --model CARD.json [--solvers a,b,c] [--nfe 5,10,20] [--n 64] [--labels …] [--guidance W]
                        [--teacher-steps 200] [--out R.json]
On a model card: each solver's RMS distance to the teacher (DPM-Solver++(3M), --teacher-steps steps, its error
estimated from a half-step solve) from the same x_T; the teacher is cached under a content hash of model, x_T, labels, w.`,
  fid: `usage: stepwise fid --model CARD.json (--schedule S.json | --solver ID --nfe N [--grid G]) [--n 5000] [--labels …]
                    [--guidance W] [--seed S] [--batch 256] [--out R.json]
FID of n samples against the card's reference statistics, with the card's classifier's penultimate features (the
standard substitute for Inception on small datasets), and the classifier's accuracy on the samples' labels.`,
}

const helpFor = (cmd: string, args: ReadonlyArray<string>): boolean => {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP[cmd] ?? HELP['main'])
    return true
  }
  return false
}

// -------------------------------------------------------------------------------------------------
// shared
// -------------------------------------------------------------------------------------------------

const gridKindOf = (s: string | undefined): GridKind | undefined => {
  if (s === undefined) return undefined
  if (s === 'quadratic') return 'time_quadratic'
  if (s === 'time_uniform' || s === 'logSNR' || s === 'time_quadratic' || s === 'karras') return s
  throw IO.usage(`--grid: expected time_uniform, logSNR, quadratic (time_quadratic) or karras; got '${s}'`)
}

/** the `--set key=value` flags of a named solver, checked against its parameters (usage errors list the allowed keys or values) */
const setsOf = (a: IO.Args, named: Solvers.Named): Readonly<Record<string, string>> => {
  let set: Readonly<Record<string, string>>
  try {
    set = Params.parse(IO.all(a, 'set'))
  } catch (e) {
    throw IO.usage(e instanceof Error ? e.message : String(e))
  }
  const problems = Params.problems(named.id, named.params, set)
  if (problems.length > 0) throw IO.usage(problems.join('\n'))
  return set
}

/** the named solver of --solver at --nfe (--grid, --set): a document that validates and uses at most --nfe evaluations */
const namedSchedule = (a: IO.Args): S.SolverSchedule => {
  const id = IO.need(a, 'solver')
  const named = Solvers.byId(id)
  if (named === undefined)
    throw IO.usage(
      `unknown solver '${id}'; see 'stepwise solvers' (e.g. ${Solvers.all
        .slice(0, 4)
        .map((n) => n.id)
        .join(', ')})`,
    )
  const grid = gridKindOf(IO.get(a, 'grid'))
  const nfe = IO.int(a, 'nfe')
  const set = setsOf(a, named)
  let doc: S.SolverSchedule
  try {
    doc = named.build({ nfe, ...(grid === undefined ? {} : { grid }), set })
  } catch (e) {
    throw IO.usage(`${id} --nfe ${nfe}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const used = S.nfe(
    Docs.checked(
      doc,
      `${id} at --nfe ${nfe}${
        Object.keys(set).length === 0
          ? ''
          : ` with ${Object.entries(set)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
      }`,
    ),
  )
  if (used > nfe) throw IO.usage(`${id} --nfe ${nfe}: the schedule needs ${used} model evaluations, more than --nfe ${nfe}; use --nfe ${used} or more`)
  return doc
}

/** read and decode a schedule document, or throw with every issue listed */
const readSchedule = (file: string): S.SolverSchedule => {
  const u = IO.readJson(file)
  const d = Codec.decode(u)
  if (E.isLeft(d)) throw new Error(`${file} is not a valid schedule document:\n${Codec.format(d.left)}`)
  return d.right
}

const fmtE = (v: number): string => v.toExponential(2)

// -------------------------------------------------------------------------------------------------
// commands
// -------------------------------------------------------------------------------------------------

const golden = async (argv: ReadonlyArray<string>): Promise<number> => {
  const a = IO.parse(argv, ['interpreter', 'backend', 'out', 'only'])
  const file = a.positional[0]
  if (file === undefined) throw IO.usage('golden needs a FILE (a diffusion-sampler-golden/v1 JSON)')
  const g = Golden.decodeGolden(IO.readJson(file), file)
  const ns = Golden.noiseSchedule(g)
  const interp = Run.interpreterOf(IO.get(a, 'interpreter'))
  const run = await Run.runner(interp, Run.backendOf(IO.get(a, 'backend')))
  const xT = Golden.flatten(g.x_T.data)
  const only = IO.get(a, 'only')
  const out: { id: string; nfe: number; x0: number[][] }[] = []
  let failures = 0
  let worst = 0
  console.log(`${'id'.padEnd(52)} ${'nfe'.padStart(3)} ${'max|Δ| ref'.padStart(10)} ${'meanL2 gt'.padStart(10)} ${'ref meanL2'.padStart(10)}`)
  for (const r of g.runs) {
    if (only !== undefined && !r.id.includes(only)) continue
    try {
      const p = Prog.compileOrThrow(ns, 'eps')(Docs.checked(Golden.scheduleOf(r), `run ${r.id}`))
      const res = await run(p, g.problem, xT)
      const y = Golden.rows(res.x, g.problem.D)
      const d = r.x0 === undefined ? NaN : Golden.maxAbs(y, r.x0)
      if (Number.isFinite(d)) worst = Math.max(worst, d)
      const ml2 = g.ground_truth === undefined ? NaN : Golden.meanL2(y, g.ground_truth.x_0)
      console.log(
        `${r.id.padEnd(52)} ${String(res.nfe).padStart(3)} ${fmtE(d).padStart(10)} ${fmtE(ml2).padStart(10)} ${(r.err === undefined ? '' : fmtE(r.err.mean_l2)).padStart(10)}${res.nfe !== r.nfe ? `  (reference nfe ${r.nfe})` : ''}`,
      )
      out.push({ id: r.id, nfe: res.nfe, x0: y })
    } catch (e) {
      failures++
      console.log(`${r.id.padEnd(52)} error: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  console.log(`${out.length} runs (${interp}), worst max|Δ| vs reference ${fmtE(worst)}${failures > 0 ? `, ${failures} failed` : ''}`)
  const o = IO.get(a, 'out')
  if (o !== undefined) IO.writeAtomic(o, JSON.stringify({ format: 'stepwise-golden-out/v1', runs: out }))
  return failures > 0 ? 1 : 0
}

/** --schedule S.json or --solver ID --nfe N [--grid G] [--set k=v] */
const scheduleOf = (a: IO.Args): S.SolverSchedule => {
  const sfile = IO.get(a, 'schedule')
  if (sfile !== undefined && IO.get(a, 'solver') !== undefined) throw IO.usage('give either --schedule or --solver, not both')
  return sfile !== undefined ? readSchedule(sfile) : namedSchedule(a)
}

const sample = async (argv: ReadonlyArray<string>): Promise<number> => {
  if (argv.includes('--model') || argv.some((x) => x.startsWith('--model='))) {
    const M = await import('./model.ts')
    return M.sample(IO.parse(argv, ['schedule', 'solver', 'nfe', 'grid', 'set', 'out', 'png', ...M.FLAGS]), scheduleOf)
  }
  const a = IO.parse(argv, ['problem', 'schedule', 'solver', 'nfe', 'grid', 'set', 'xT', 'out', 'interpreter', 'backend', 'seed', 'timestep-input', 'diffusers', 'steps'])
  const pfile = IO.need(a, 'problem')
  const pu = IO.readJson(pfile)
  const pf = Golden.decodeProblem(pu, pfile)
  const schedule = scheduleOf(a)
  const xfile = IO.need(a, 'xT')
  const data = Problem.startsOrThrow(IO.readJson(xfile), pf.problem.D, xfile)
  const D = pf.problem.D
  const ns = Golden.noiseSchedule(pf)
  const p = Prog.compileOrThrow(ns, 'eps')(schedule)
  const at = Interop.timestepInput(a, pu, ns)
  if (at !== undefined && Run.interpreterOf(IO.get(a, 'interpreter')) !== 'float64') throw IO.usage('--timestep-input diffusers runs on the float64 interpreter only')
  const run = await Run.runner(Run.interpreterOf(IO.get(a, 'interpreter')), Run.backendOf(IO.get(a, 'backend')))
  const xT = Golden.flatten(data)
  const res = at !== undefined ? Interop.runAtTimesteps(p, pf.problem, xT, IO.int(a, 'seed', 0), at) : await run(p, pf.problem, xT, IO.int(a, 'seed', 0), Golden.muOf(pf, data.length))
  const out = IO.need(a, 'out')
  IO.writeAtomic(out, JSON.stringify({ x0: Golden.rows(res.x, D), nfe: res.nfe }))
  console.log(`wrote ${out}: ${data.length} rows, NFE ${res.nfe}`)
  return 0
}

const explain = async (argv: ReadonlyArray<string>): Promise<number> => {
  const a = IO.parse(argv, ['problem', 'model', 'diffusers', 'nfe', 'parity'])
  const file = a.positional[0]
  const dfile = IO.get(a, 'diffusers')
  if (dfile !== undefined) {
    if (IO.get(a, 'problem') !== undefined) throw IO.usage('give either --problem or --diffusers, not both')
    const o = Interop.explainOptions(a)
    console.log(Interop.explainDiffusers(dfile, file === undefined ? undefined : readSchedule(file), o.nfe, o.parity))
    return 0
  }
  if (file === undefined) throw IO.usage('explain needs a schedule document S.json (or --diffusers CONFIG.json)')
  const s = readSchedule(file)
  const pfile = IO.get(a, 'problem')
  const mfile = IO.get(a, 'model')
  if (pfile !== undefined && mfile !== undefined) throw IO.usage('give either --problem or --model, not both')
  const card = mfile === undefined ? undefined : Card.readOrThrow(mfile)
  const ns = card !== undefined ? Card.noiseSchedule(card) : pfile === undefined ? NS.vpLinear() : Golden.noiseSchedule(Golden.decodeProblem(IO.readJson(pfile), pfile))
  const p = Prog.compileOrThrow(ns, card?.parameterization ?? 'eps')(s)
  console.log(`noise schedule: ${ns.name}, T = ${ns.T}, t_0 = ${ns.t0}`)
  console.log(Trace.explain(p))
  return 0
}

const validate = async (argv: ReadonlyArray<string>): Promise<number> => {
  const a = IO.parse(argv, [])
  const file = a.positional[0]
  if (file === undefined) throw IO.usage('validate needs a schedule document S.json')
  const u = IO.readJson(file)
  const d = Codec.decode(u)
  if (E.isLeft(d)) {
    console.log(`${file}: ${d.left.length} issue${d.left.length === 1 ? '' : 's'}\n${Codec.format(d.left)}`)
    return 1
  }
  console.log(`${file}: ok — ${d.right.name ?? 'schedule'}, ${d.right.steps.length} steps, NFE ${S.nfe(d.right)}`)
  return 0
}

const solvers = async (argv: ReadonlyArray<string>): Promise<number> => {
  const a = IO.parse(argv, ['show', 'nfe', 'grid', 'set', 'from'])
  const from = IO.get(a, 'from')
  if (from !== undefined) return Interop.solversFrom(from, IO.int(a, 'nfe', 20))
  const id = IO.get(a, 'show')
  if (id === undefined) {
    const w = Math.max(...Solvers.all.map((n) => n.label.length)) + 2
    const wi = Math.max(...Solvers.all.map((n) => n.id.length)) + 1
    console.log(`${'id'.padEnd(wi)} ${'order'.padStart(5)}  ${'grid'.padEnd(14)} ${'label'.padEnd(w)}parameters (--set key=value)`)
    for (const n of Solvers.all) console.log(`${n.id.padEnd(wi)} ${String(n.order).padStart(5)}  ${n.defaultGrid.padEnd(14)} ${n.label.padEnd(w)}${Object.keys(n.params).join(', ')}`)
    return 0
  }
  const withSolver: IO.Args = { ...a, flags: new Map([...a.flags, ['solver', [id]]]) }
  console.log(JSON.stringify(Codec.encode(namedSchedule(withSolver)), null, 2))
  return 0
}

const fid = async (argv: ReadonlyArray<string>): Promise<number> => {
  const M = await import('./model.ts')
  return M.fid(IO.parse(argv, ['schedule', 'solver', 'nfe', 'grid', 'set', 'out', ...M.FLAGS]), scheduleOf)
}

const compare = async (argv: ReadonlyArray<string>): Promise<number> => {
  if (argv.includes('--model') || argv.some((x) => x.startsWith('--model='))) {
    const M = await import('./model.ts')
    return M.compare(IO.parse(argv, ['solvers', 'nfe', 'out', 'teacher-steps', ...M.FLAGS]))
  }
  const C = await import('./compare.ts')
  return C.main(argv)
}

const COMMANDS: Record<string, (argv: ReadonlyArray<string>) => Promise<number>> = {
  golden,
  sample,
  explain,
  validate,
  solvers,
  compare,
  fid,
  'from-diffusers': Interop.fromDiffusers,
  search: Search.main,
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

/** run the CLI; resolves to the exit code (0 ok, 1 failure, 2 usage) */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [cmd, ...rest] = argv
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP['main'])
    return cmd === undefined ? 2 : 0
  }
  const f = COMMANDS[cmd]
  if (f === undefined) {
    console.error(`stepwise: unknown command '${cmd}'\n\n${HELP['main']}`)
    return 2
  }
  if (helpFor(cmd, rest)) return 0
  try {
    return await f(rest)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    console.error(`stepwise ${cmd}: ${msg}`)
    if (typeof e === 'object' && e !== null && 'usage' in e) {
      console.error(`\n${HELP[cmd]}`)
      return 2
    }
    return 1
  }
}
