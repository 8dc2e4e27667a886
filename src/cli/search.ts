/**
 * `stepwise search --problem P.json --nfe N [--seed S] [--budget-evals M] [--minutes T] [--out S.json]`:
 * search the best solver schedule for a problem and an NFE budget (USF decision space, evolutionary
 * search or S³), write it as a schedule document, and compare it with the named solvers at the same
 * NFE on held-out start points (a fresh seed, not the calibration batch).
 */
import * as os from 'node:os'
import * as path from 'node:path'
import * as Golden from '../interop/Golden.ts'
import type * as NS from '../core/NoiseSchedule.ts'
import * as Problem from '../interop/Problem.ts'
import * as Prog from '../run/Program.ts'
import * as S from '../schedule/SolverSchedule.ts'
import * as Codec from '../schedule/Codec.ts'
import * as Solvers from '../solvers/index.ts'
import * as Ck from '../search/Checkpoint.ts'
import * as Ev from '../search/Evolution.ts'
import * as O from '../search/Objective.ts'
import * as Pool from '../search/Pool.ts'
import * as Sp from '../search/Space.ts'
import * as Docs from './documents.ts'
import * as IO from './io.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the command's options after parsing */
export interface Options {
  readonly problem: string
  readonly nfe: number
  readonly seed: number
  readonly budgetEvals: number
  readonly minutes: number
  readonly out: string
  readonly strategy: Ev.Strategy
  readonly threads: number
  readonly rows: number
  readonly holdoutRows: number
  readonly holdoutSeed: number
  /** validation rows for the final choice among the finalists (0 = none) */
  readonly validationRows: number
  readonly metric: O.Metric
  readonly checkpoint: string
  /** 'required' (--resume), 'if-exists' (an explicit --checkpoint) or 'no' (start afresh, overwrite) */
  readonly resume: 'required' | 'if-exists' | 'no'
  readonly quiet: boolean
}

/** one row of the held-out comparison */
export interface Row {
  readonly id: string
  readonly label: string
  readonly nfe: number
  readonly error: number
}

/** how many of the best distinct schedules are re-scored on the validation rows */
export const FINALISTS = 16

/** the NFE budgets the command accepts */
export const NFE_RANGE = [2, 50] as const

/** the command's help text */
export const usage = `usage: stepwise search --problem P.json --nfe N [--seed S] [--budget-evals M] [--minutes T] [--out S.json]
                      [--strategy s3|evolution] [--threads K] [--rows R] [--holdout-rows H] [--holdout-seed S2]
                      [--metric teacher|swd] [--checkpoint PATH] [--resume] [--quiet]
       stepwise search --model CARD.json --nfe N (--budget-evals E | --minutes T) --out S.json [--rows 32]
                      [--validation-rows 64] [--holdout-rows 64] [--guidance W] [--class K] [--strategy s3|evolution]
                      [--teacher-steps 200] [--seed S]
  (on a trained network: RMS to the cached teacher of the same network; evaluations run in this process)

Searches the best solver schedule for the problem's model at exactly N model evaluations: per-step
times, prediction type, order, nodes, relaxation, corrector (none / pseudo / implicit = reeval),
start point; analytical first step and final-step policy (USF's decision space). The objective is the
mean L2 distance to the teacher (the exact PF-ODE endpoint of the same model, computed once) on a
calibration batch; --metric swd uses the sliced Wasserstein distance to data samples instead.

  --problem P.json   the golden format's {problem, schedule} (other keys ignored)
  --nfe N            the exact budget of model evaluations (${NFE_RANGE[0]}–${NFE_RANGE[1]})
  --seed S           seed of the search and of the calibration batch (default 0); same seed ⇒ same schedule
  --budget-evals M   stop after M evaluated schedules (default: no limit)
  --minutes T        stop after T minutes of search (default 8 when --budget-evals is not given); the time
                     is kept in the checkpoint, so --resume continues what is left
  --out S.json       the searched schedule document (default out/search-nfe<N>.json); runs with 'stepwise sample'
  --strategy         s3 (default: predictor-screened evolution) or evolution (USF's released loop)
  --threads K        evaluation worker threads (default: the number of cores, at most 2; 0 = inline)
  --rows R           calibration start points (default 256)
  --validation-rows V  start points (seed 500009 + S) on which the ${FINALISTS} best distinct schedules are re-scored
                     to choose the output (default 512; 0 = take the best calibration score); these
                     evaluations are part of --budget-evals
  --holdout-rows H   held-out start points for the final comparison (default 1024)
  --holdout-seed S2  their seed (default 1000003 + S)
  --checkpoint PATH  checkpoint file (default <out>.checkpoint.json); resumed if it exists when given explicitly
  --resume           resume from the checkpoint (default path unless --checkpoint)
  --quiet            no progress bar

Same seed and --budget-evals ⇒ the same schedule (any --threads). --minutes stops at a batch
boundary, so a time-limited result depends on the machine's speed. Ctrl-C (SIGINT) stops at the next
batch boundary, writes the checkpoint and prints the command that resumes (exit 130).`

// -------------------------------------------------------------------------------------------------
// parsing
// -------------------------------------------------------------------------------------------------

const FLAGS = ['problem', 'nfe', 'seed', 'budget-evals', 'minutes', 'out', 'strategy', 'threads', 'rows', 'holdout-rows', 'holdout-seed', 'validation-rows', 'metric', 'checkpoint']
const SWITCHES = ['resume', 'quiet']

const intFlag = (a: IO.Args, key: string, dflt: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER, hint = ''): number => {
  const v = IO.get(a, key)
  if (v === undefined) {
    if (dflt === undefined) throw IO.usage(`--${key} is required${hint}`)
    return dflt
  }
  const n = Number(v)
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw IO.usage(`--${key}: expected an integer in ${min}–${max === Number.MAX_SAFE_INTEGER ? '∞' : max}, got '${v}'${hint}`)
  return n
}

/** the options of an argument list (usage errors name the flag and what it expects) */
export const parse = (argv: ReadonlyArray<string>): Options => {
  const a = IO.parse(argv, FLAGS, SWITCHES)
  if (a.positional.length > 0) throw IO.usage(`unexpected argument '${a.positional[0]}'; the problem file goes after --problem`)
  const nfe = intFlag(a, 'nfe', undefined, NFE_RANGE[0], NFE_RANGE[1], ' (a search needs at least 2 model evaluations to have decisions to make)')
  const seed = intFlag(a, 'seed', 0, 0)
  const budgetEvals = IO.get(a, 'budget-evals') === undefined ? Number.POSITIVE_INFINITY : intFlag(a, 'budget-evals', undefined, 1)
  const m = IO.get(a, 'minutes')
  const minutes = m === undefined ? (Number.isFinite(budgetEvals) ? Number.POSITIVE_INFINITY : 8) : Number(m)
  if (!(minutes > 0)) throw IO.usage(`--minutes: expected a positive number of minutes, got '${m}'`)
  const strategy = IO.get(a, 'strategy') ?? 's3'
  if (strategy !== 's3' && strategy !== 'evolution') throw IO.usage(`--strategy: expected s3 or evolution, got '${strategy}'`)
  const metric = IO.get(a, 'metric') ?? 'teacher'
  if (metric !== 'teacher' && metric !== 'swd') throw IO.usage(`--metric: expected teacher or swd, got '${metric}'`)
  const out = IO.get(a, 'out') ?? `out/search-nfe${nfe}.json`
  const ck = IO.get(a, 'checkpoint')
  return {
    problem: IO.need(a, 'problem'),
    nfe,
    seed,
    budgetEvals,
    minutes,
    out,
    strategy,
    threads: intFlag(a, 'threads', Math.min(2, os.availableParallelism()), 0, 64),
    rows: intFlag(a, 'rows', 256, 8, 100_000),
    holdoutRows: intFlag(a, 'holdout-rows', 1024, 8, 1_000_000),
    holdoutSeed: intFlag(a, 'holdout-seed', 1_000_003 + seed, 0),
    validationRows: intFlag(a, 'validation-rows', 512, 0, 1_000_000),
    metric,
    checkpoint: ck ?? `${out}.checkpoint.json`,
    resume: IO.get(a, 'resume') === 'true' ? 'required' : ck !== undefined ? 'if-exists' : 'no',
    quiet: IO.get(a, 'quiet') === 'true',
  }
}

/** read a problem file: the golden format's {problem, schedule}, with a clear message when either is missing */
export const readProblem = (file: string): Golden.ProblemFile => {
  const u = IO.readJson(file)
  const rec = typeof u === 'object' && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined
  const missing = ['problem', 'schedule'].filter((k) => rec?.[k] === undefined)
  if (missing.length > 0)
    throw new Error(
      `${file} has no ${missing.map((k) => `'${k}'`).join(' or ')} key; expected the golden format's {"problem": {K, D, weights, means, variances}, "schedule": {"name": "linear" | "discrete" | "mean_reverting", …}} (other keys are ignored)`,
    )
  return Golden.decodeProblem(u, file)
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : String(v))
const clock = (ms: number): string => {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** what decides the search's result (a checkpoint of another search is refused) */
export const fingerprint = (o: Options, pf: Golden.ProblemFile, st: Ev.Settings): Ck.Fingerprint => ({
  problem: hash(JSON.stringify([pf.problem, pf.schedule])),
  nfe: o.nfe,
  seed: o.seed,
  strategy: o.strategy,
  rows: o.rows,
  metric: o.metric,
  space: JSON.stringify(st.space),
  settings: JSON.stringify([st.islands, st.migrate, st.population, st.children, st.parents, st.refine, st.refinePerDim, st.screen, st.stage, st.seeds.length]),
})

/** FNV-1a 32-bit of a text, as 8 hex digits */
const hash = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h.toString(16).padStart(8, '0')
}

/** every named solver at this NFE (default grid) that compiles to exactly `nfe` evaluations on ns */
export const namedAt = (ns: NS.NoiseSchedule, nfe: number): ReadonlyArray<{ readonly named: Solvers.Named; readonly schedule: S.SolverSchedule }> =>
  Solvers.all.flatMap((named) => {
    try {
      const schedule = Docs.checked(named.build({ nfe }), named.id)
      return Prog.compileOrThrow(ns, 'eps')(schedule).nfe === nfe ? [{ named, schedule }] : []
    } catch {
      return []
    }
  })

/** the named solvers as starting points of the search (those that convert into the space) */
export const seedsOf = (ns: NS.NoiseSchedule, sp: Sp.Space): ReadonlyArray<Sp.Candidate> => {
  return namedAt(ns, sp.nfe).flatMap(({ schedule }) => {
    try {
      return [Sp.fromSchedule(ns, sp)(schedule)]
    } catch {
      return []
    }
  })
}

/** the searched schedule and every named solver on a batch, best first */
export const compareOn = (pf: Golden.ProblemFile, b: O.Batch, searched: S.SolverSchedule, nfe: number): ReadonlyArray<Row> => {
  const score = O.score(pf, b)
  const rows: Row[] = [
    { id: 'searched', label: searched.name ?? 'searched schedule', nfe, error: score(searched) },
    ...namedAt(Golden.noiseSchedule(pf), nfe).map(({ named, schedule }) => ({ id: named.id, label: `${named.label}, ${named.defaultGrid}`, nfe, error: score(schedule) })),
  ]
  return rows.sort((x, y) => x.error - y.error)
}

/** the golden runs of the file at this NFE (best reference error) and its x_T / ground truth, when present */
const goldenOf = (file: string, nfe: number) => {
  const u = IO.readJson(file) as Record<string, unknown>
  const runs = Array.isArray(u['runs']) ? (u['runs'] as ReadonlyArray<Record<string, unknown>>) : []
  const at = runs.flatMap((r) => {
    const err = r['err'] as { mean_l2?: unknown } | undefined
    return r['nfe'] === nfe && typeof err?.mean_l2 === 'number' ? [{ id: String(r['id']), error: err.mean_l2 }] : []
  })
  const best = at.sort((a, b) => a.error - b.error)[0]
  const xT = (u['x_T'] as { data?: unknown } | undefined)?.data
  const gt = (u['ground_truth'] as { x_0?: unknown } | undefined)?.x_0
  const rows = Array.isArray(xT) && Array.isArray(gt) && xT.length === gt.length ? { xT: xT as number[][], x0: gt as number[][] } : undefined
  return { best, rows }
}

/** a progress line: bar, fraction of the budget, search time, evaluations, generation, best so far */
const progressLine = (o: Options, elapsed: number, evals: number, gen: number, best: number, tau: number | undefined): string => {
  const frac = Math.min(1, Math.max(Number.isFinite(o.budgetEvals) ? evals / o.budgetEvals : 0, Number.isFinite(o.minutes) ? elapsed / (o.minutes * 60_000) : 0))
  const w = 24
  const fill = Math.round(frac * w)
  return `search nfe ${o.nfe} [${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${String(Math.round(100 * frac)).padStart(3)}% ${clock(elapsed)} evals ${evals} gen ${gen} best ${fmt(best)}${tau === undefined ? '' : ` τ ${tau.toFixed(2)}`}`
}

/** a ratio for the tables, '—' when either side is not finite (or the divisor is 0) */
const ratio = (a: number, b: number, digits = 3): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(digits) : '—')

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

/** a search stopped by SIGINT: its state is in the checkpoint (exit code 130) */
export class Interrupted extends Error {
  constructor(
    readonly checkpoint: string,
    readonly state: Ev.State,
  ) {
    super(`interrupted at generation ${state.generation} after ${state.evals} evaluations (${clock(state.elapsed)} of search); checkpoint written to ${checkpoint}`)
  }
}

/** the exit code of an interrupted process (128 + SIGINT) */
export const INTERRUPTED = 130

/** an argument as a shell word */
const shellWord = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)

/** `stepwise search …`; resolves to the exit code (0 ok, 1 failure, 2 usage, 130 interrupted: checkpoint written) */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage)
    return 0
  }
  if (argv.includes('--model') || argv.some((x) => x.startsWith('--model='))) return (await import('./searchModel.ts')).main(argv)
  let o: Options
  try {
    o = parse(argv)
  } catch (e) {
    console.error(`stepwise search: ${e instanceof Error ? e.message : String(e)}\n\n${usage}`)
    return 2
  }
  try {
    return await search(o)
  } catch (e) {
    if (e instanceof Interrupted) {
      const again = [...argv.filter((x) => x !== '--resume'), ...(IO.get(IO.parse(argv, FLAGS, SWITCHES), 'checkpoint') === undefined ? ['--resume'] : [])]
      console.error(`stepwise search: ${e.message}\nresume with:\n  stepwise search ${again.map(shellWord).join(' ')}`)
      return INTERRUPTED
    }
    console.error(`stepwise search: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

/** what a search produced: the document, the final state, the held-out comparison, the golden comparison */
export interface Report {
  readonly doc: S.SolverSchedule
  readonly state: Ev.State
  /** held-out rows: the searched schedule and every named solver at the budget, best first */
  readonly heldOut: ReadonlyArray<Row>
  /** the best reference run of the problem file at this NFE (its own rows), and the searched schedule on those rows */
  readonly golden?: { readonly id: string; readonly error: number; readonly searchedOnItsRows?: number }
  /** milliseconds: the teacher, the search, everything */
  readonly teacherMs: number
  readonly searchMs: number
  readonly totalMs: number
}

/** what every stage of a search needs: the problem, its schedule and mixture, the space and the calibration batch */
interface Ctx {
  readonly o: Options
  readonly log: (line: string) => void
  readonly started: number
  readonly pf: Golden.ProblemFile
  readonly ns: ReturnType<typeof Golden.noiseSchedule>
  readonly space: Sp.Space
  readonly cal: O.Batch
  readonly teacherMs: number
}

/** read the problem, compute the calibration batch, print the header */
const prepare = (o: Options, log: (line: string) => void): Ctx => {
  const started = Date.now()
  const pf = readProblem(o.problem)
  const ns = Golden.noiseSchedule(pf)
  const g = Golden.gmm(pf)
  const t0 = Date.now()
  const cal = O.batch(o.metric)(pf, o.rows, o.seed)
  const teacherMs = Date.now() - t0
  const muRows = (pf.mu ?? []).flat().length / g.D
  const mr = ns.meanReverting !== true ? '' : `; mean-reverting: x_T = μ + λ∞·z with the problem's μ (${muRows === 1 ? 'one condition for every row' : `row b: μ's row b mod ${muRows}`})`
  log(`stepwise search: ${path.basename(o.problem)} (D ${g.D}, K ${g.K}, ${ns.name}, t ${ns.T} → ${ns.t0}), NFE ${o.nfe}, seed ${o.seed}, strategy ${o.strategy}`)
  log(
    `calibration: ${o.rows} start points (seed ${o.seed})${mr}; ${o.metric === 'teacher' ? `teacher = exact PF-ODE endpoint of the same model, computed once (${(teacherMs / 1000).toFixed(1)} s)` : `sliced Wasserstein distance to ${o.rows} data samples at t_0 (${O.PROJECTIONS} projections)`}`,
  )
  return { o, log, started, pf, ns, space: Sp.full(o.nfe), cal, teacherMs }
}

/** the evaluations kept for the validation choice among the finalists */
const reserveOf = (o: Options): number => (o.validationRows > 0 && o.metric === 'teacher' ? (Number.isFinite(o.budgetEvals) ? Math.min(FINALISTS, Math.floor(o.budgetEvals / 10)) : FINALISTS) : 0)

/** the search's settings: --minutes is search time, continued (not restarted) by --resume */
const settingsOf = (c: Ctx): Ev.Settings => ({
  ...Ev.defaults(c.space, c.o.seed),
  strategy: c.o.strategy,
  budgetEvals: c.o.budgetEvals - reserveOf(c.o),
  deadline: Number.POSITIVE_INFINITY,
  ...(Number.isFinite(c.o.minutes) ? { searchMs: c.o.minutes * 60_000 } : {}),
  seeds: seedsOf(c.ns, c.space),
})

/** the checkpoint to resume, if any (refused when it belongs to another search), with what it says */
const resumeFrom = (c: Ctx, fp: Ck.Fingerprint): Ev.State | undefined => {
  const { o, log } = c
  const resumed = o.resume === 'no' ? undefined : Ck.load(o.checkpoint, c.space, fp)
  if (o.resume === 'required' && resumed === undefined) throw new Error(`--resume: no checkpoint at ${o.checkpoint}; run without --resume to start a search`)
  if (resumed === undefined) return undefined
  const left = Number.isFinite(o.minutes) ? o.minutes * 60_000 - resumed.elapsed : Number.POSITIVE_INFINITY
  log(
    `resuming ${o.checkpoint}: generation ${resumed.generation}, ${resumed.evals} evaluations, ${clock(resumed.elapsed)} searched, best ${fmt(resumed.best.score)}` +
      (Number.isFinite(left) ? (left > 0 ? `; ${clock(left)} of --minutes ${o.minutes} left` : `; no search time left of --minutes ${o.minutes} (pass a larger --minutes to search longer)`) : ''),
  )
  return resumed
}

/** run the evolution with the progress bar and checkpoints; SIGINT stops at the next batch boundary and throws Interrupted after checkpointing */
const evolve = async (c: Ctx, settings: Ev.Settings, fp: Ck.Fingerprint, resumed: Ev.State | undefined): Promise<Ev.State> => {
  const { o } = c
  let interrupted = false
  const onInterrupt = () => {
    if (interrupted) process.exit(INTERRUPTED) // a second Ctrl-C: quit at once (the last checkpoint stays)
    interrupted = true
    process.stderr.write(`\nstepwise search: interrupt — stopping at the next batch and writing the checkpoint (Ctrl-C again to quit at once)\n`)
  }
  const ev = await Pool.evaluator(c.pf, c.cal, o.threads)
  const tty = process.stderr.isTTY === true && !o.quiet
  const loopStart = Date.now()
  const base = resumed?.elapsed ?? 0
  let lastDraw = 0
  let gen = resumed?.generation ?? 0
  let tau = resumed?.tau
  let best = resumed?.best.score ?? Number.POSITIVE_INFINITY
  const draw = (evals: number, force = false) => {
    const now = Date.now()
    if (o.quiet || (!force && now - lastDraw < (tty ? 200 : 30_000))) return
    lastDraw = now
    const line = progressLine(o, base + now - loopStart, evals, gen, best, tau)
    process.stderr.write(tty ? `\r${line}` : `${line}\n`)
  }
  const hooks: Ev.Hooks = {
    onEvals: (evals, b) => {
      best = Math.min(best, b)
      draw(evals)
    },
    onGeneration: (s) => {
      gen = s.generation
      tau = s.tau
      best = s.best.score
      draw(s.evals)
      // checkpoints at stage boundaries: a resumed S³ run retrains the same predictor
      if (s.generation % settings.stage === 0) Ck.save(o.checkpoint, fp, s)
    },
  }
  process.on('SIGINT', onInterrupt)
  let state: Ev.State
  try {
    state = await Ev.run({ ...settings, stop: () => interrupted }, ev, hooks, resumed)
  } finally {
    process.off('SIGINT', onInterrupt)
    await ev.close()
  }
  Ck.save(o.checkpoint, fp, state)
  draw(state.evals, true)
  if (tty) process.stderr.write('\n')
  if (interrupted) throw new Interrupted(o.checkpoint, state)
  return state
}

/** why no candidate scored a finite value: the first named solver's failure on the calibration batch */
const noFinite = (c: Ctx, state: Ev.State): Error => {
  const named = namedAt(c.ns, c.o.nfe)[0]
  const why = named === undefined ? undefined : O.failure(c.pf, c.cal)(named.schedule)
  const field = Problem.suspect(Golden.gmm(c.pf), c.cal.xT, c.cal.mu, 'float64')
  return new Error(
    `every one of the ${state.evals} schedules evaluated scored non-finite on the calibration batch (each run failed or produced NaN/∞), so there is no schedule to write` +
      (why === undefined ? '' : `; e.g. ${named!.named.id}: ${why}`) +
      (field === undefined ? '' : `\nlikely bad field: ${field}`) +
      `\ncheck the problem file ${c.o.problem} (its schedule and mixture: 'stepwise sample --problem ${c.o.problem} --solver ddim --nfe ${c.o.nfe} …' shows the first failure)`,
  )
}

/** the output document: the validation choice among the finalists (fresh rows; part of the evaluation budget), checked */
const choose = (c: Ctx, state: Ev.State) => {
  const { o, pf, ns } = c
  if (!Number.isFinite(state.best.score)) throw noFinite(c, state)
  const finals = Ev.finalists(state, reserveOf(o))
  const validate = reserveOf(o) > 0 && finals.length > 1 ? O.score(pf, O.teacher(pf, o.validationRows, 500_009 + o.seed)) : undefined
  const picked = validate === undefined ? { chosen: state.best, index: 0, validation: [] as ReadonlyArray<number> } : Ev.choose(finals, (x) => validate(Sp.toSchedule(ns)(x)))
  const doc = Sp.toSchedule(ns, `searched ${path.basename(o.problem, '.json')} nfe ${o.nfe} seed ${o.seed}`)(picked.chosen.candidate)
  const issues = Codec.check(doc)
  if (issues.length > 0) throw new Error(`internal: the searched schedule does not validate:\n${Codec.format(issues)}`)
  const compiled = Prog.compileOrThrow(ns, 'eps')(doc)
  if (compiled.nfe !== o.nfe || S.nfe(doc) !== o.nfe) throw new Error(`internal: the searched schedule uses ${compiled.nfe} evaluations, not ${o.nfe}`)
  return { doc, picked, finals }
}

/** the held-out comparison (a fresh seed, the exact endpoint as the truth) and the golden file's reference runs, printed */
const compareAll = (c: Ctx, doc: S.SolverSchedule) => {
  const { o, pf, log } = c
  const held = O.teacher(pf, o.holdoutRows, o.holdoutSeed)
  const rows = compareOn(pf, held, doc, o.nfe)
  const mine = rows.find((r) => r.id === 'searched')!.error
  log(`\nheld-out: ${o.holdoutRows} start points (seed ${o.holdoutSeed}), mean L2 vs the exact PF-ODE endpoint, NFE ${o.nfe}`)
  log(`  ${'schedule'.padEnd(16)} ${'mean L2'.padStart(9)}  ${'÷ searched'.padStart(10)}  label`)
  const shown = rows.filter((r, i) => i < 9 || r.id === 'dpmpp-2m' || r.id === 'searched')
  for (const r of shown) log(`  ${r.id.padEnd(16)} ${fmt(r.error).padStart(9)}  ${ratio(r.error, mine, 2).padStart(10)}  ${r.label}`)
  const bestNamed = rows.find((r) => r.id !== 'searched')
  if (bestNamed !== undefined) log(`searched / best named (${bestNamed.id}) = ${ratio(mine, bestNamed.error)}`)
  const gold = goldenOf(o.problem, o.nfe)
  const goldenRows = gold.rows === undefined ? undefined : O.score(pf, O.given(pf.problem.D, gold.rows.xT, gold.rows.x0))(doc)
  if (gold.best !== undefined)
    log(
      `reference runs in ${path.basename(o.problem)} at NFE ${o.nfe}: best ${gold.best.id} ${fmt(gold.best.error)} (its x_T rows)` +
        (goldenRows === undefined ? '' : `; searched on the same rows ${fmt(goldenRows)} → ratio ${ratio(goldenRows, gold.best.error)}`) +
        `; held-out ratio ${ratio(mine, gold.best.error)}`,
    )
  return { rows, ...(gold.best === undefined ? {} : { golden: { ...gold.best, ...(goldenRows === undefined ? {} : { searchedOnItsRows: goldenRows }) } }) }
}

/** the search with parsed options, printing through `log`; the progress bar goes to stderr; throws Interrupted on SIGINT (checkpoint written) */
export const execute = async (o: Options, log: (line: string) => void = console.log): Promise<Report> => {
  const c = prepare(o, log)
  const settings = settingsOf(c)
  const fp = fingerprint(o, c.pf, settings)
  const state = await evolve(c, settings, fp, resumeFrom(c, fp))
  const { doc, picked, finals } = choose(c, state)
  IO.writeAtomic(o.out, `${JSON.stringify(Codec.encode(doc), null, 2)}\n`)
  log(
    `searched ${state.evals + picked.validation.length} schedules in ${(state.elapsed / 1000).toFixed(1)} s (${state.generation} generations, ${o.threads <= 1 ? 'inline' : `${o.threads} worker threads`}${state.tau === undefined ? '' : `, predictor τ ${state.tau.toFixed(2)}`}); best calibration ${o.metric === 'teacher' ? 'mean L2' : 'SW₁'} ${fmt(state.best.score)}`,
  )
  if (picked.validation.length > 0)
    log(
      `validation (${o.validationRows} rows, seed ${500_009 + o.seed}) of the ${finals.length} best distinct schedules: chose #${picked.index + 1} (calibration ${fmt(picked.chosen.score)}, validation ${fmt(picked.validation[picked.index]!)}; the calibration best validates at ${fmt(picked.validation[0]!)})`,
    )
  log(`wrote ${o.out}: ${doc.steps.length} steps, NFE ${o.nfe}; checkpoint ${o.checkpoint}`)
  log(describe(picked.chosen.candidate))
  const { rows, golden } = compareAll(c, doc)
  const totalMs = Date.now() - c.started
  log(`total ${(totalMs / 1000).toFixed(1)} s`)
  return { doc, state, heldOut: rows, ...(golden === undefined ? {} : { golden }), teacherMs: c.teacherMs, searchMs: state.elapsed, totalMs }
}

/** the search with parsed options, printing to stdout; exit code 0 */
export const search = async (o: Options): Promise<number> => {
  await execute(o)
  return 0
}

/** a one-paragraph summary of a candidate's decisions */
export const describe = (c: Sp.Candidate): string => {
  const steps = c.steps.map((g, i) => {
    const corr = g.corrector.mode === 'none' ? '' : ` +${g.corrector.mode}${g.corrector.order === 'default' ? '' : `(${g.corrector.order})`}`
    const rel = g.relaxation === 'none' ? '' : typeof g.relaxation === 'object' ? ` lin${g.relaxation.linear >= 0 ? '+' : ''}${g.relaxation.linear.toFixed(3)}` : ` ${g.relaxation}`
    return `${i}:${g.prediction === 'data' ? 'x0' : 'ε'}${g.order}${g.start === -1 ? '' : `@${g.start}`}${g.basis === 'lambda' ? '' : `/${g.basis}`}${g.nodes === 'default' ? '' : `[${g.nodes.join(',')}]`}${rel}${corr}`
  })
  const u = Sp.fractions(c)
    .map((v) => v.toFixed(3))
    .join(' ')
  return `decisions: first step ${c.firstStep}${c.denoiseToZero ? ', denoise to zero' : ''}; steps ${steps.join('  ')}\nλ-fractions of the grid: ${u}`
}
