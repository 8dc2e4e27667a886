/**
 * `stepwise search --model CARD`: the schedule search on a user's trained network. The objective is the RMS distance
 * to the teacher (a cached high-accuracy solve of the same network from the same x_T, labels and guidance) on a
 * calibration batch; candidates are evaluated in this process (a network is one tfjs model: worker threads would each
 * load it), so every evaluation costs NFE model calls on the calibration rows and the report counts them. The
 * finalists are re-scored on fresh validation rows (their own teacher) to choose the output, and the chosen schedule
 * is compared with every named solver at the same NFE on held-out rows.
 */
import * as Card from '../interop/Card.ts'
import * as CardModel from '../interop/CardModel.ts'
import * as Teacher from '../interop/Teacher.ts'
import * as Prog from '../run/Program.ts'
import * as Codec from '../schedule/Codec.ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as Ev from '../search/Evolution.ts'
import type * as Pool from '../search/Pool.ts'
import * as Sp from '../search/Space.ts'
import * as IO from './io.ts'
import * as Search from './search.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the flags of `search --model` */
export const FLAGS = [
  'model',
  'nfe',
  'rows',
  'validation-rows',
  'holdout-rows',
  'labels',
  'class',
  'guidance',
  'seed',
  'budget-evals',
  'minutes',
  'strategy',
  'teacher-steps',
  'batch',
  'out',
  'backend',
] as const

/** what a model search returns */
export interface Report {
  readonly doc: S.SolverSchedule
  readonly evals: number
  /** model calls spent by the search (evaluations × NFE × calibration rows, + validation) */
  readonly modelCalls: number
  readonly heldOut: ReadonlyArray<{ readonly id: string; readonly rms: number }>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(3) : String(v))

/** labels cycling through the classes (conditional cards), or none */
const cycle = (c: Card.Card, n: number, a: IO.Args): ReadonlyArray<number> | undefined => {
  const k = c.conditioning?.classes
  if (k === undefined) return undefined
  const one = IO.get(a, 'class')
  return Array.from({ length: n }, (_, i) => (one === undefined ? i % k : Number(one)))
}

/** a scorer of schedules on rows: RMS to their teacher; a failing or non-finite run scores +∞ */
const scorer = (l: CardModel.Loaded, rows: number, seed: number, rowOffset: number, a: IO.Args, w: number | undefined, log: (s: string) => void) => {
  const c = l.card
  const xT = CardModel.noiseRows(seed, rows, l.D, rowOffset)
  const labels = cycle(c, rows, a)
  const o = { ...(labels === undefined ? {} : { labels }), ...(w === undefined ? {} : { w }), seed, rowOffset, batch: IO.int(a, 'batch', 256) }
  const t = Teacher.teacher(l, xT, { ...o, steps: IO.int(a, 'teacher-steps', 200) })
  log(`  teacher for ${rows} rows (offset ${rowOffset}): DPM-Solver++(3M) ${t.steps} steps${t.cached ? ', cached' : ''}, estimated RMS error ${fmt(t.errorEstimate)}`)
  const ns = Card.noiseSchedule(c)
  return (s: S.SolverSchedule): number => {
    try {
      const r = Teacher.distance(CardModel.sample(l, Prog.compileOrThrow(ns, c.parameterization)(s), xT, o), t.x0)
      return Number.isFinite(r) ? r : Number.POSITIVE_INFINITY
    } catch {
      return Number.POSITIVE_INFINITY
    }
  }
}

// -------------------------------------------------------------------------------------------------
// command
// -------------------------------------------------------------------------------------------------

/** run the search on a card (parsed flags); prints through `log` */
export const execute = async (a: IO.Args, log: (line: string) => void = console.log): Promise<Report> => {
  const c = Card.readOrThrow(IO.need(a, 'model'))
  const backend = IO.get(a, 'backend') ?? 'wasm'
  if (backend !== 'wasm' && backend !== 'cpu') throw IO.usage(`--backend: expected wasm or cpu in Node; got '${backend}'`)
  const { init } = await import('../run/Tfjs.ts')
  await init(backend)
  const l = await CardModel.load(c)
  try {
    const nfe = IO.int(a, 'nfe')
    const seed = IO.int(a, 'seed', 0)
    const rows = IO.int(a, 'rows', 32)
    const vrows = IO.int(a, 'validation-rows', 64)
    const hrows = IO.int(a, 'holdout-rows', 64)
    const wS = IO.get(a, 'guidance')
    const w = wS === undefined ? undefined : Number(wS)
    if (w !== undefined && !(Number.isFinite(w) && w >= 0)) throw IO.usage(`--guidance: expected a number ≥ 0; got '${wS}'`)
    const strategy = IO.get(a, 'strategy') ?? 's3'
    if (strategy !== 's3' && strategy !== 'evolution') throw IO.usage(`--strategy: expected s3 or evolution; got '${strategy}'`)
    const budget = IO.get(a, 'budget-evals') === undefined ? Number.POSITIVE_INFINITY : IO.int(a, 'budget-evals')
    const minutes = IO.get(a, 'minutes') === undefined ? Number.POSITIVE_INFINITY : Number(IO.get(a, 'minutes'))
    if (!Number.isFinite(budget) && !Number.isFinite(minutes)) throw IO.usage('give --budget-evals E and/or --minutes M: every evaluation runs the network')
    const ns = Card.noiseSchedule(c)
    const space = Sp.full(nfe)
    log(`stepwise search --model ${c.name ?? IO.need(a, 'model')}: NFE ${nfe}, seed ${seed}, strategy ${strategy}, ${rows} calibration rows${w === undefined ? '' : `, guidance w = ${w}`}`)
    const calibrate = scorer(l, rows, seed, 0, a, w, log)
    const started = Date.now()
    let calls = 0
    const ev: Pool.Evaluator = {
      threads: 0,
      evaluate: async (cs) =>
        cs.map((cand) => {
          calls += nfe * rows
          return calibrate(Sp.toSchedule(ns)(cand))
        }),
      close: async () => {},
    }
    const reserve = vrows > 0 ? Math.min(Search.FINALISTS, Number.isFinite(budget) ? Math.max(2, Math.floor(budget / 10)) : Search.FINALISTS) : 0
    const settings: Ev.Settings = {
      ...Ev.defaults(space, seed),
      strategy,
      budgetEvals: budget - reserve,
      deadline: Number.isFinite(minutes) ? started + minutes * 60_000 : Number.POSITIVE_INFINITY,
      seeds: Search.seedsOf(ns, space),
    }
    const state = await Ev.run(settings, ev, {
      onGeneration: (s) => {
        if (process.stderr.isTTY) process.stderr.write(`\rgeneration ${s.generation}, ${s.evals} evaluations, best ${fmt(s.best.score)}   `)
      },
    })
    if (process.stderr.isTTY) process.stderr.write('\n')
    const finals = Ev.finalists(state, reserve)
    const validate = reserve > 0 && finals.length > 1 ? scorer(l, vrows, seed + 500_009, 1_000_000, a, w, log) : undefined
    const picked = validate === undefined ? { chosen: state.best, index: 0, validation: [] as ReadonlyArray<number> } : Ev.choose(finals, (cand) => validate(Sp.toSchedule(ns)(cand)))
    calls += picked.validation.length * nfe * vrows
    const doc = Sp.toSchedule(ns, `searched ${c.name ?? 'model'} nfe ${nfe} seed ${seed}`)(picked.chosen.candidate)
    const issues = Codec.check(doc)
    if (issues.length > 0) throw new Error(`internal: the searched schedule does not validate:\n${Codec.format(issues)}`)
    if (!Number.isFinite(picked.chosen.score))
      throw new Error('every candidate failed on this model (non-finite outputs): check the card (parameterization, time input, schedule) with `stepwise sample --model`')
    const out = IO.need(a, 'out')
    IO.writeAtomic(out, `${JSON.stringify(Codec.encode(doc), null, 2)}\n`)
    log(
      `searched ${state.evals + picked.validation.length} schedules in ${((Date.now() - started) / 1000).toFixed(0)} s (${state.generation} generations, ${calls} model calls); best calibration RMS ${fmt(state.best.score)}; wrote ${out}`,
    )
    log(Search.describe(picked.chosen.candidate))
    // held-out comparison with every named solver at this NFE
    const held = scorer(l, hrows, seed + 777_767, 2_000_000, a, w, log)
    const heldOut = [{ id: 'searched', rms: held(doc) }, ...Search.namedAt(ns, nfe).map(({ named, schedule }) => ({ id: named.id, rms: held(schedule) }))].sort((x, y) => x.rms - y.rms)
    const mine = heldOut.find((r) => r.id === 'searched')!.rms
    log(`held-out (${hrows} rows): RMS to the teacher at NFE ${nfe}`)
    for (const r of heldOut.slice(0, 10)) log(`  ${r.id.padEnd(18)} ${fmt(r.rms)}  ${(r.rms / mine).toFixed(2)}× searched`)
    return { doc, evals: state.evals + picked.validation.length, modelCalls: calls, heldOut }
  } finally {
    l.dispose()
  }
}

/** `stepwise search --model CARD --nfe N (--budget-evals E | --minutes M) --out S.json` */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  await execute(IO.parse(argv, [...FLAGS]))
  return 0
}
