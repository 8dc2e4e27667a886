/**
 * `stepwise compare`, the default job: named solvers against the exact PF-ODE endpoint on built-in
 * Gaussian-mixture problems (exact score, VP linear schedule), one mean-L2 error per solver × NFE,
 * printed as a table and drawn as a log-log chart of error against NFE per problem.
 */
import * as Objective from '../search/Objective.ts'
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as Gmm from '../core/Gmm.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as Plot from '../interop/Plot.ts'
import * as Prog from '../run/Program.ts'
import * as Reference from '../models/Reference.ts'
import * as F from '../run/Float64.ts'
import * as Solvers from '../solvers/index.ts'
import * as Docs from './documents.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a comparison problem: a mixture under a schedule, start points x_T and their exact endpoints */
export interface Problem {
  readonly name: string
  readonly description: string
  readonly gmm: Gmm.Gmm
  readonly ns: NS.NoiseSchedule
  readonly rows: number
  readonly xT: Float64Array
  readonly exact: Float64Array
}

/** one solver at one NFE budget: its mean L2 error, or why there is none */
export type Cell =
  | { readonly _tag: 'ok'; readonly solver: string; readonly nfe: number; readonly actualNfe: number; readonly error: number }
  /** the solver does not exist at this budget (e.g. Heun below 2 evaluations) */
  | { readonly _tag: 'invalid'; readonly solver: string; readonly nfe: number; readonly reason: string }
  /** the run produced a non-finite value */
  | { readonly _tag: 'diverged'; readonly solver: string; readonly nfe: number; readonly reason: string }

/** the command's options */
export interface Options {
  readonly out: string
  readonly rows: number
  readonly nfes: ReadonlyArray<number>
  readonly solvers: ReadonlyArray<Solvers.Named>
}

/** where the command writes text */
export interface Io {
  readonly out: (s: string) => void
  readonly err: (s: string) => void
}

/** the default solvers: first and higher order, singlestep, multistep, predictor–corrector, σ̄-space */
export const defaultSolverIds: ReadonlyArray<string> = ['ddim', 'dpm-2s', 'dpm-3s', 'dpmpp-2m', 'dpmpp-3m', 'dpmpp-3m-ref', 'unipc-bh2-3', 'euler', 'heun', 'lms', 'ipndm', 'deis-tab3', 'plms']

/** the default options: out/compare.svg, 256 rows, NFE 5, 10, 20, the default solvers */
export const defaults: Options = {
  out: 'out/compare.svg',
  rows: 256,
  nfes: [5, 10, 20],
  solvers: defaultSolverIds.map((id) => Solvers.byId(id)).filter((n): n is Solvers.Named => n !== undefined),
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a problem: x_T = `rows` standard normal rows (seeded), exact = Reference endpoint from λ(T) to λ(t_0) */
export const problem = (name: string, description: string, gmm: Gmm.Gmm, ns: NS.NoiseSchedule, rows: number, seed: number): Problem => {
  const xT = Gmm.normals(rows * gmm.D, seed)
  return { name, description, gmm, ns, rows, xT, exact: Reference.endpointOf(ns)(gmm, xT) }
}

/** the built-in problems: 2-D K = 3 (seed 1) and 16-D K = 4 (seed 2) mixtures under VP linear β 0.1–20, T = 1 → t_0 = 1e-3 */
export const defaultProblems = (rows: number = defaults.rows): ReadonlyArray<Problem> => {
  const ns = NS.vpLinear(0.1, 20)
  const sched = `VP linear β 0.1–20, t ${ns.T} → ${ns.t0}`
  return [
    problem('d2_k3', `2-D mixture, K = 3 (seed 1), ${sched}`, Gmm.random(3, 2, 1), ns, rows, 101),
    problem('d16_k4', `16-D mixture, K = 4 (seed 2), ${sched}`, Gmm.random(4, 16, 2), ns, rows, 102),
  ]
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const fmt = (v: number): string => {
  const [m, e] = v.toExponential(2).split('e')
  return `${m}e${e!.replace('+', '')}`
}

const positiveInt = (flag: string, s: string): E.Either<string, number> => (/^\d+$/.test(s) && Number(s) > 0 ? E.right(Number(s)) : E.left(`${flag}: expected a positive integer, got '${s}'`))

/** the usage text */
export const usage = [
  'usage: stepwise compare [--out PATH] [--rows N] [--nfe 5,10,20] [--solvers a,b,c]',
  '',
  'Runs named solvers on built-in exact-score Gaussian mixtures (2-D K=3, 16-D K=4; VP linear schedule)',
  'and reports the mean L2 error against the exact probability-flow ODE endpoint.',
  '',
  `  --out PATH       SVG log-log chart of error vs NFE (default ${defaults.out}); written atomically`,
  `  --rows N         start points per problem (default ${defaults.rows})`,
  `  --nfe LIST       NFE budgets, comma-separated (default ${defaults.nfes.join(',')})`,
  `  --solvers LIST   solver ids, comma-separated (default ${defaultSolverIds.join(',')}); 'all' for every one`,
  '  --help           this text',
  '',
  `solvers: ${Solvers.all.map((n) => n.id).join(', ')}`,
].join('\n')

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** parse the command's flags: the options, 'help', or an error message */
export const parse = (args: ReadonlyArray<string>): E.Either<string, Options | 'help'> => {
  const go = (i: number, o: Options): E.Either<string, Options | 'help'> => {
    if (i >= args.length) return E.right(o)
    const arg = args[i]!
    if (arg === '--help' || arg === '-h') return E.right('help')
    const eq = arg.indexOf('=')
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined
    const known = ['--out', '--rows', '--nfe', '--solvers']
    if (!known.includes(flag)) return E.left(arg.startsWith('-') ? `unknown flag '${flag}' (known: ${known.join(', ')}, --help)` : `unexpected argument '${arg}'`)
    const value = inline ?? args[i + 1]
    if (value === undefined || (inline === undefined && value.startsWith('--'))) return E.left(`${flag}: missing value`)
    const next = inline === undefined ? i + 2 : i + 1
    const cont = (r: E.Either<string, Options>) => (E.isLeft(r) ? r : go(next, r.right))
    switch (flag) {
      case '--out':
        return value === '' ? E.left('--out: empty path') : cont(E.right({ ...o, out: value }))
      case '--rows':
        return cont(E.map((rows: number) => ({ ...o, rows }))(positiveInt(flag, value)))
      case '--nfe': {
        const parts = value.split(',').map((s) => positiveInt(flag, s.trim()))
        const bad = parts.find(E.isLeft)
        if (bad !== undefined) return bad
        const nfes = [...new Set(parts.flatMap((p) => (E.isRight(p) ? [p.right] : [])))].sort((a, b) => a - b)
        return cont(E.right({ ...o, nfes }))
      }
      default: {
        const ids =
          value === 'all'
            ? Solvers.all.map((n) => n.id)
            : value
                .split(',')
                .map((s) => s.trim())
                .filter((s) => s !== '')
        const unknown = ids.filter((id) => Solvers.byId(id) === undefined)
        if (unknown.length > 0)
          return E.left(`--solvers: unknown solver${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')} (known: ${Solvers.all.map((n) => n.id).join(', ')})`)
        if (ids.length === 0) return E.left('--solvers: empty list')
        const solvers = [...new Set(ids)].map((id) => Solvers.byId(id)).filter((n): n is Solvers.Named => n !== undefined)
        return cont(E.right({ ...o, solvers }))
      }
    }
  }
  return go(0, defaults)
}

/** one solver at one budget on its default grid, Float64 interpreter, eps model */
export const evaluate =
  (p: Problem) =>
  (n: Solvers.Named, nfe: number): Cell => {
    const compiled = E.tryCatch(() => Prog.compileOrThrow(p.ns, 'eps')(Docs.checked(n.build({ nfe, grid: n.defaultGrid }), `${n.id} at NFE ${nfe}`)), message)
    if (E.isLeft(compiled)) return { _tag: 'invalid', solver: n.id, nfe, reason: compiled.left }
    const ran = E.tryCatch(() => F.run(compiled.right, Gmm.eps(p.gmm), { D: p.gmm.D })(p.xT), message)
    if (E.isLeft(ran)) return { _tag: 'diverged', solver: n.id, nfe, reason: ran.left }
    const error = Objective.meanL2(p.gmm.D, ran.right.x, p.exact)
    return Number.isFinite(error) ? { _tag: 'ok', solver: n.id, nfe, actualNfe: ran.right.nfe, error } : { _tag: 'diverged', solver: n.id, nfe, reason: `mean L2 error is ${error}` }
  }

/** every solver at every budget */
export const compare = (p: Problem, solvers: ReadonlyArray<Solvers.Named>, nfes: ReadonlyArray<number>): ReadonlyArray<Cell> => solvers.flatMap((n) => nfes.map((nfe) => evaluate(p)(n, nfe)))

/** the text table: solver × NFE, mean L2 error; notes for other actual NFEs, invalid and diverged cells */
export const table = (p: Problem, solvers: ReadonlyArray<Solvers.Named>, nfes: ReadonlyArray<number>, cells: ReadonlyArray<Cell>): string => {
  const cellOf = (id: string, nfe: number) => cells.find((c) => c.solver === id && c.nfe === nfe)
  const text = (c: Cell | undefined): string => (c === undefined ? '' : c._tag === 'ok' ? `${fmt(c.error)}${c.actualNfe !== c.nfe ? '†' : ''}` : c._tag === 'invalid' ? 'n/a' : 'diverged')
  const w0 = Math.max(6, ...solvers.map((n) => n.id.length))
  const w1 = Math.max(5, ...solvers.map((n) => n.defaultGrid.length))
  const wc = 10
  const head = `${'solver'.padEnd(w0)}  ${'grid'.padEnd(w1)}${nfes.map((k) => `NFE ${k}`.padStart(wc + 2)).join('')}`
  const body = solvers.map((n) => `${n.id.padEnd(w0)}  ${n.defaultGrid.padEnd(w1)}${nfes.map((k) => text(cellOf(n.id, k)).padStart(wc + 2)).join('')}`)
  const notes = cells.flatMap((c) =>
    c._tag === 'ok'
      ? c.actualNfe !== c.nfe
        ? [`† ${c.solver} at NFE ${c.nfe} uses ${c.actualNfe} evaluations`]
        : []
      : [`${c._tag === 'invalid' ? 'n/a' : 'diverged'}: ${c.solver} at NFE ${c.nfe}: ${c.reason}`],
  )
  return [`${p.name}: ${p.description}, ${p.rows} rows — mean L2 error vs the exact PF-ODE endpoint`, head, '-'.repeat(head.length), ...body, ...notes].join('\n')
}

/** the log-log chart of one problem: error against the NFE actually used, one line per solver */
export const chart = (p: Problem, solvers: ReadonlyArray<Solvers.Named>, nfes: ReadonlyArray<number>, cells: ReadonlyArray<Cell>): Plot.Spec => ({
  title: `${p.name}: ${p.description}, ${p.rows} rows`,
  xLabel: 'NFE (model evaluations)',
  yLabel: 'mean L2 error vs exact PF-ODE endpoint',
  xTicks: nfes,
  series: solvers.map((n) => ({
    label: n.id,
    note: n.label,
    points: cells.filter((c) => c.solver === n.id && c._tag !== 'invalid').map((c): readonly [number, number] => (c._tag === 'ok' ? [c.actualNfe, c.error] : [c.nfe, Number.NaN])),
  })),
})

/** write `text` to `file` atomically: a temp file in the same directory, then rename */
export const writeAtomic = async (file: string, text: string): Promise<void> => {
  const dir = path.dirname(path.resolve(file))
  await fs.mkdir(dir, { recursive: true })
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`)
  try {
    await fs.writeFile(tmp, text, 'utf8')
    await fs.rename(tmp, file)
  } catch (e) {
    await fs.rm(tmp, { force: true })
    throw e
  }
}

const stdio: Io = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) }

/** `stepwise compare [flags]`: print the tables, write the chart; exit code 0, 1 (failure) or 2 (usage) */
export const main = async (args: ReadonlyArray<string>, io: Io = stdio): Promise<number> => {
  const parsed = parse(args)
  if (E.isLeft(parsed)) {
    io.err(`stepwise compare: ${parsed.left}\n\n${usage}`)
    return 2
  }
  if (parsed.right === 'help') {
    io.out(usage)
    return 0
  }
  const o = parsed.right
  try {
    const start = performance.now()
    const problems = defaultProblems(o.rows)
    const reference = performance.now() - start
    const results = problems.map((p) => ({ p, cells: compare(p, o.solvers, o.nfes) }))
    for (const { p, cells } of results) io.out(`${table(p, o.solvers, o.nfes, cells)}\n`)
    await writeAtomic(o.out, Plot.stack(results.map(({ p, cells }) => chart(p, o.solvers, o.nfes, cells))))
    const total = performance.now() - start
    io.out(`wrote ${o.out} (${o.solvers.length} solvers × ${o.nfes.length} budgets × ${problems.length} problems; reference ${(reference / 1000).toFixed(2)} s, total ${(total / 1000).toFixed(2)} s)`)
    return 0
  } catch (e) {
    io.err(`stepwise compare: ${message(e)}`)
    return 1
  }
}
