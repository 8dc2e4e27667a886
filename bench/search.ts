/**
 * Benchmark of `stepwise search` (bench/RESULTS.search.md): for each problem × NFE, a search with a
 * wall-clock budget, then the searched schedule's mean L2 error vs the exact PF-ODE endpoint on
 * held-out start points beside the best named stepwise solver on the same rows (and, for golden
 * files, the best reference run's err.mean_l2); then transfer: each searched schedule applied to
 * the other problems of the same noise-schedule family, against DPM-Solver++(2M) on their rows.
 *
 *   node --import tsx bench/search.ts [--minutes 4] [--nfe 5,6,8,10] [--problems d16_k4.linear,own-d8-k6,…]
 *                                     [--seed 0] [--out out/search-bench] [--svg docs/search.svg] [--strategy s3]
 *   node --import tsx bench/search.ts --report [--out out/search-bench]      # decisions of the searched schedules
 *   node --import tsx bench/search.ts --ablation [--evals 20000] [--nfe 5,10] [--problems d16_k4.linear] [--seeds 0,1]
 *
 * --ablation: which decisions matter. The same search (fixed evaluation budget, 2 threads) in the
 * full space and with one decision removed at a time; held-out error per space.
 *
 * Problems: the golden files (test/golden/*.json) and "own" mixtures drawn like the golden ones
 * (w ~ Dirichlet(2), μ ~ U(−1,1), s ~ U(0.05, 0.3)) with D from 2 to 64 and K up to 8, under VP
 * linear and DDPM discrete schedules. Searched schedules and problem files are written to --out.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as Gmm from '../src/core/Gmm.ts'
import * as Golden from '../src/interop/Golden.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Plot from '../src/interop/Plot.ts'
import type * as S from '../src/schedule/SolverSchedule.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as Search from '../src/cli/search.ts'
import * as IO from '../src/cli/io.ts'
import * as Ev from '../src/search/Evolution.ts'
import * as O from '../src/search/Objective.ts'
import * as Pool from '../src/search/Pool.ts'
import * as Sp from '../src/search/Space.ts'

// -------------------------------------------------------------------------------------------------
// problems
// -------------------------------------------------------------------------------------------------

interface Problem {
  readonly id: string
  readonly file: string
  readonly family: 'linear' | 'discrete'
  readonly golden: boolean
}

const root = path.join(import.meta.dirname, '..')
const fmt = (v: number): string => v.toExponential(2)
const log = (s: string) => process.stdout.write(`${s}\n`)
const arg = (k: string, d: string): string => {
  const i = process.argv.indexOf(`--${k}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : d
}
const outDir = arg('out', 'out/search-bench')
fs.mkdirSync(path.join(outDir, 'problems'), { recursive: true })

/** an own problem file: a golden-like random mixture under VP linear or DDPM discrete */
const own = (D: number, K: number, seed: number, family: 'linear' | 'discrete'): Problem => {
  const g = Gmm.random(K, D, seed)
  const id = `own-d${D}-k${K}-${family}`
  const file = path.join(outDir, 'problems', `${id}.json`)
  const schedule = family === 'linear' ? { name: 'linear' as const, beta_0: 0.1, beta_1: 20, T: 1, t_0: 1e-3 } : { name: 'discrete' as const, betas: [...NS.linearBetas()], T: 1, t_0: 1e-3 }
  IO.writeAtomic(file, JSON.stringify({ problem: { id, ...g, generation: { generator: 'stepwise Gmm.random (mulberry32)', seed } }, schedule }))
  return { id, file, family, golden: false }
}

const goldenProblem = (name: string): Problem => ({
  id: name,
  file: path.join(root, 'test/golden', `${name}.json`),
  family: name.endsWith('discrete') ? 'discrete' : 'linear',
  golden: true,
})

const ALL: ReadonlyArray<Problem> = [
  goldenProblem('d16_k4.linear'),
  goldenProblem('d16_k4.discrete'),
  goldenProblem('d2_k3.linear'),
  own(2, 2, 101, 'linear'),
  own(8, 6, 103, 'discrete'),
  own(32, 8, 104, 'linear'),
  own(64, 8, 105, 'discrete'),
]

// -------------------------------------------------------------------------------------------------
// report: what the searched schedules chose (reads --out/cells.json of an earlier run)
// -------------------------------------------------------------------------------------------------

/** one row of decision statistics for a searched schedule document */
const decisions = (doc: S.SolverSchedule, ns: NS.NoiseSchedule): string => {
  const st = doc.steps
  const n = st.length
  const count = (f: (s: S.StepDecision) => boolean): number => st.filter(f).length
  const orders = [1, 2, 3, 4].map((o) => count((s) => s.order === o)).join('/')
  const ts = doc.grid.spacing === 'explicit' ? doc.grid.t : []
  const l = ts.map((t) => ns.lambda(t))
  const span = l.length > 1 ? l[l.length - 1]! - l[0]! : Number.NaN
  const fr = l.slice(1).map((v, i) => (v - l[i]!) / span)
  const pct = (v: number) => `${Math.round(100 * v)}%`
  return [
    doc.options?.firstStep ?? 'evaluate',
    `${count((s) => s.prediction === 'data')}/${n}`,
    orders,
    `${count((s) => s.relaxation !== undefined && typeof s.relaxation === 'object')} + ${count((s) => typeof s.relaxation === 'string' && s.relaxation !== 'none')}`,
    `${count((s) => s.corrector?.mode === 'pseudo')} / ${count((s) => s.corrector?.mode === 'reeval')}`,
    `${count((s) => s.nodes !== undefined)}`,
    `${count((s) => s.basis !== undefined && s.basis !== 'lambda')}`,
    `${count((s) => s.start !== undefined && s.start !== -1)}`,
    doc.options?.denoiseToZero === true ? 'yes' : '',
    fr.length === 0 ? '' : `${pct(fr[0]!)} … ${pct(fr[fr.length - 1]!)} (max ${pct(Math.max(...fr))})`,
  ].join(' | ')
}

if (process.argv.includes('--report')) {
  const saved = JSON.parse(fs.readFileSync(path.join(outDir, 'cells.json'), 'utf8')) as ReadonlyArray<{ readonly problem: Problem; readonly nfe: number; readonly doc: S.SolverSchedule }>
  log(
    '| problem | NFE | first step | data-pred steps | orders 1/2/3/4 | relaxations linear + named | correctors pseudo / reeval | explicit nodes | non-λ basis | restarts | denoise | λ-share of first … last step |',
  )
  log('|---|---:|---|---|---|---|---|---:|---:|---:|---|---|')
  for (const c of saved) {
    const ns = Golden.noiseSchedule(Golden.decodeProblem(IO.readJson(c.problem.file)))
    log(`| ${c.problem.id} | ${c.nfe} | ${decisions(c.doc, ns)} |`)
  }
  process.exit(0)
}

// -------------------------------------------------------------------------------------------------
// ablation
// -------------------------------------------------------------------------------------------------

/** the full space and one decision taken out at a time */
const ablations = (nfe: number): ReadonlyArray<readonly [string, Sp.Space]> => {
  const f = Sp.full(nfe)
  return [
    ['full space', f],
    ['no analytical first step (evaluate at T)', { ...f, firstSteps: ['evaluate'] }],
    ['data prediction only', { ...f, predictions: ['data'] }],
    ['noise prediction only', { ...f, predictions: ['noise'] }],
    ['orders ≤ 2', { ...f, maxOrder: 2 }],
    ['no correctors', { ...f, correctors: ['none'] }],
    ['no relaxations', { ...f, relaxations: false }],
    ['default nodes, multistep starts, λ basis only', { ...f, nodes: false, maxStart: 1, bases: ['lambda'] }],
    ['fixed logSNR-uniform times', { ...f, times: false }],
    ['times only (exact-Lagrange data multistep, order ≤ 3, zero_x0)', Sp.timesOnly(nfe)],
  ]
}

if (process.argv.includes('--ablation')) {
  const evals = Number(arg('evals', '20000'))
  const seeds = arg('seeds', '0,1').split(',').map(Number)
  const abNfes = arg('nfe', '5,10').split(',').map(Number)
  const probs = ALL.filter((p) => arg('problems', 'd16_k4.linear').split(',').includes(p.id))
  log(`| problem | NFE | space | held-out mean L2 (per seed) | best / full | best decisions |`)
  log('|---|---:|---|---|---:|---|')
  for (const p of probs) {
    const pf = Golden.decodeProblem(IO.readJson(p.file))
    const ns = Golden.noiseSchedule(pf)
    const cal = O.teacher(pf, 128, 0)
    const held = O.score(pf, O.teacher(pf, 2048, 1_000_003))
    const ev = await Pool.evaluator(pf, cal, 2)
    for (const nfe of abNfes) {
      let fullBest = Number.NaN
      for (const [label, space] of ablations(nfe)) {
        const errs: number[] = []
        let bestDoc: Sp.Candidate | undefined
        for (const sd of seeds) {
          const st: Ev.Settings = { ...Ev.defaults(space, sd), budgetEvals: evals, seeds: Search.seedsOf(Golden.noiseSchedule(pf), space) }
          const s = await Ev.run(st, ev)
          const e = held(Sp.toSchedule(ns)(s.best.candidate))
          if (errs.every((x) => e < x)) bestDoc = s.best.candidate
          errs.push(e)
        }
        const best = Math.min(...errs)
        if (label === 'full space') fullBest = best
        log(
          `| ${p.id} | ${nfe} | ${label} | ${errs.map(fmt).join(', ')} | ${(best / fullBest).toFixed(2)} | ${bestDoc === undefined ? '' : Search.describe(bestDoc).split('\n')[0]!.replace('decisions: ', '')} |`,
        )
      }
    }
    await ev.close()
  }
  process.exit(0)
}

// -------------------------------------------------------------------------------------------------
// run
// -------------------------------------------------------------------------------------------------

const minutes = Number(arg('minutes', '4'))
const nfes = arg('nfe', '5,6,8,10').split(',').map(Number)
const seed = Number(arg('seed', '0'))
const strategy = arg('strategy', 's3') === 'evolution' ? 'evolution' : 's3'
const wanted = arg(
  'problems',
  ALL.filter((p) => p.id !== 'd2_k3.linear')
    .map((p) => p.id)
    .join(','),
).split(',')
const problems = ALL.filter((p) => wanted.includes(p.id))
const svg = arg('svg', '')

interface Cell {
  readonly problem: Problem
  readonly nfe: number
  readonly doc: S.SolverSchedule
  readonly searched: number
  readonly bestNamed: Search.Row
  readonly dpmpp2m: number
  readonly golden?: { readonly id: string; readonly error: number; readonly searchedOnItsRows?: number }
  readonly evals: number
  readonly generations: number
  readonly searchS: number
  readonly totalS: number
  readonly named: ReadonlyArray<Search.Row>
}

const cells: Cell[] = []
const load = () => (fs.existsSync('/proc/loadavg') ? fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'n/a')

for (const p of problems)
  for (const nfe of nfes) {
    const out = path.join(outDir, `${p.id}.nfe${nfe}.json`)
    const o = Search.parse(['--problem', p.file, '--nfe', String(nfe), '--seed', String(seed), '--minutes', String(minutes), '--out', out, '--strategy', strategy, '--quiet', '--holdout-rows', '2048'])
    log(`\n=== ${p.id} NFE ${nfe} (load ${load()})`)
    const r = await Search.execute(o, () => {})
    const mine = r.heldOut.find((x) => x.id === 'searched')!.error
    const bestNamed = r.heldOut.find((x) => x.id !== 'searched')!
    const dpmpp2m = r.heldOut.find((x) => x.id === 'dpmpp-2m')!.error
    const cell: Cell = {
      problem: p,
      nfe,
      doc: r.doc,
      searched: mine,
      bestNamed,
      dpmpp2m,
      ...(r.golden === undefined ? {} : { golden: r.golden }),
      evals: r.state.evals,
      generations: r.state.generation,
      searchS: r.searchMs / 1000,
      totalS: r.totalMs / 1000,
      named: r.heldOut.filter((x) => x.id !== 'searched'),
    }
    cells.push(cell)
    log(
      `${p.id} NFE ${nfe}: searched ${fmt(mine)} | best named ${bestNamed.id} ${fmt(bestNamed.error)} → ${(mine / bestNamed.error).toFixed(3)}` +
        (r.golden === undefined
          ? ''
          : ` | golden ${r.golden.id} ${fmt(r.golden.error)} → ${(mine / r.golden.error).toFixed(3)} (on its rows ${(r.golden.searchedOnItsRows! / r.golden.error).toFixed(3)})`) +
        ` | ${r.state.evals} evals, ${r.state.generation} gens, search ${(r.searchMs / 1000).toFixed(0)} s, total ${(r.totalMs / 1000).toFixed(0)} s`,
    )
  }

// -------------------------------------------------------------------------------------------------
// tables
// -------------------------------------------------------------------------------------------------

log('\n## Searched vs best named solver (held-out 2048 rows, fresh seed)\n')
log('| problem | D | K | NFE | searched | best named (same rows) | ratio | best reference run (err.mean_l2) | ratio | ratio on its rows | evals | search s | total s |')
log('|---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|')
for (const c of cells) {
  const g = Golden.decodeProblem(IO.readJson(c.problem.file)).problem
  log(
    `| ${c.problem.id} | ${g.D} | ${g.K} | ${c.nfe} | ${fmt(c.searched)} | ${c.bestNamed.id} ${fmt(c.bestNamed.error)} | ${(c.searched / c.bestNamed.error).toFixed(3)} | ` +
      (c.golden === undefined
        ? '— | — | — '
        : `${c.golden.id.replace(/^dpm_solver\./, '')} ${fmt(c.golden.error)} | ${(c.searched / c.golden.error).toFixed(3)} | ${(c.golden.searchedOnItsRows! / c.golden.error).toFixed(3)} `) +
      `| ${c.evals} | ${c.searchS.toFixed(0)} | ${c.totalS.toFixed(0)} |`,
  )
}

// transfer: schedule of problem A on problem B (same family, same NFE), vs DPM-Solver++(2M) on B's held-out rows
log('\n## Transfer (schedule searched on A, run on B of the same schedule family; ratio to DPM-Solver++(2M) on B)\n')
log("| searched on | run on | NFE | transferred | B's own search | DPM-Solver++(2M) | transfer ratio |")
log('|---|---|---:|---:|---:|---:|---:|')
const heldOf = new Map<string, (s: S.SolverSchedule) => number>()
const scorer = (p: Problem) => {
  const hit = heldOf.get(p.id)
  if (hit !== undefined) return hit
  const pf = Golden.decodeProblem(IO.readJson(p.file))
  const f = O.score(pf, O.teacher(pf, 2048, 1_000_003 + seed))
  heldOf.set(p.id, f)
  return f
}
for (const a of cells)
  for (const b of cells) {
    if (a === b || a.nfe !== b.nfe || a.problem.family !== b.problem.family) continue
    const t = scorer(b.problem)(a.doc)
    log(`| ${a.problem.id} | ${b.problem.id} | ${a.nfe} | ${fmt(t)} | ${fmt(b.searched)} | ${fmt(b.dpmpp2m)} | ${(t / b.dpmpp2m).toFixed(3)} |`)
  }

// the chart: error vs NFE per problem, searched vs the named solvers
if (svg !== '') {
  const ids = ['searched', 'deis-tab3', 'dpm-3m', 'dpmpp-3m', 'unipc-bh2-3', 'dpmpp-2m', 'ddim']
  const specs = problems.map((p): Plot.Spec => {
    const mine = cells.filter((c) => c.problem === p)
    return {
      title: `${p.id}: mean L2 vs exact endpoint, held-out rows (search ${minutes} min per NFE)`,
      xLabel: 'NFE (model evaluations)',
      yLabel: 'mean L2 error',
      xTicks: nfes,
      series: ids.map((id) => ({
        label: id === 'searched' ? 'searched (this work)' : id,
        ...(id === 'searched' ? {} : { note: Solvers.byId(id)?.label ?? id }),
        points: mine.map((c): readonly [number, number] => [c.nfe, id === 'searched' ? c.searched : (c.named.find((n) => n.id === id)?.error ?? Number.NaN)]),
      })),
    }
  })
  IO.writeAtomic(svg, Plot.stack(specs))
  log(`\nwrote ${svg}`)
}
IO.writeAtomic(path.join(outDir, 'cells.json'), JSON.stringify(cells.map((c) => ({ ...c, doc: c.doc }))))
