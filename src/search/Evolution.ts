/**
 * The search: USF's evolutionary search over solver schedules (docs/math.md#evolution) with local
 * refinement of the continuous decisions, and the S³ multi-stage variant where a predictor trained
 * on the evaluated schedules screens many mutated candidates so that only the most promising are
 * evaluated. The population is split into `islands` evolving apart (the landscape has rare good
 * basins: independent islands make finding one far more likely than one converging population),
 * with ring migration of each island's best every `migrate` generations. One generation:
 *   1. children, per island: parents uniform among its top `parents`, crossover (p ½), mutation;
 *      unseen only (S³: `screen`× as many, ranked by the predictor; ¾ of the evaluated ones are its
 *      best, ¼ random);
 *   2. evaluation of all islands' children in one batch (spread over the evaluator's threads);
 *      each island keeps its best `population`, ≤ 4 per structure;
 *   3. refinement: Nelder–Mead on the times and linear coefficients of the overall best candidate and
 *      of the best structures never refined yet (in the last 15% of the budget: the best structures),
 *      in lockstep so their evaluations are batched;
 *   4. S³: every `stage` generations the predictor is retrained on the most recent evaluations.
 * The budget (`budgetEvals` evaluations, `deadline`) is checked before every batch and never exceeded.
 * Same settings and seed ⇒ same result (scores are pure; work assignment never changes them); a
 * deadline stops at a batch boundary, so a time-limited result depends on the machine's speed.
 */
import * as NM from './NelderMead.ts'
import type * as Pool from './Pool.ts'
import * as P from './Predictor.ts'
import * as R from './Rng.ts'
import * as Sp from './Space.ts'
import type * as S from '../schedule/SolverSchedule.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** 'evolution': USF's released loop (+ refinement); 's3': predictor-screened children */
export type Strategy = 'evolution' | 's3'

/** an evaluated candidate */
export type Scored = P.Scored

/** everything that decides the result (the deadline only decides when to stop) */
export interface Settings {
  readonly space: Sp.Space
  readonly seed: number
  readonly strategy: Strategy
  /** hard cap on the number of evaluations */
  readonly budgetEvals: number
  /** stop at the first batch boundary after this time (ms since the epoch; ∞ = none) */
  readonly deadline: number
  /** stop at the first batch boundary after this much search time (ms, counted in `State.elapsed`, so a resumed run continues the remaining time) */
  readonly searchMs?: number
  /** stop at the next batch boundary when this turns true (an interrupt: the caller checkpoints the state `run` returns) */
  readonly stop?: () => boolean
  /** islands (independent sub-populations) */
  readonly islands: number
  /** generations between ring migrations */
  readonly migrate: number
  /** size of each island's population */
  readonly population: number
  /** children per generation (all islands) */
  readonly children: number
  readonly parents: number
  /** Nelder–Mead searches per generation */
  readonly refine: number
  /** evaluations of one Nelder–Mead search per generation, per continuous coordinate (+1) */
  readonly refinePerDim: number
  /** S³: candidates ranked per evaluated child */
  readonly screen: number
  /** S³: generations per predictor stage */
  readonly stage: number
  /** starting points besides the random ones (e.g. named solvers as candidates) */
  readonly seeds: ReadonlyArray<Sp.Candidate>
}

/** one point of the best-so-far curve */
export interface TracePoint {
  readonly generation: number
  readonly evals: number
  readonly best: number
}

/** the search state (what a checkpoint stores) */
export interface State {
  readonly generation: number
  readonly rng: number
  readonly evals: number
  /** each island's population, best first */
  readonly islands: ReadonlyArray<ReadonlyArray<Scored>>
  /** the most recent evaluated children (predictor data) */
  readonly archive: ReadonlyArray<Scored>
  /** keys of every evaluated child (the evaluated set) */
  readonly seen: ReadonlySet<string>
  /** refinement count per structure key */
  readonly refined: ReadonlyMap<string, number>
  readonly best: Scored
  readonly trace: ReadonlyArray<TracePoint>
  /** S³: Kendall's τ of the last predictor on held-out evaluations */
  readonly tau: number | undefined
  /** milliseconds spent searching (summed over resumed runs) */
  readonly elapsed: number
}

/** what the caller observes */
export interface Hooks {
  /** after every generation (and after the initial population); `elapsed` includes predictor training */
  readonly onGeneration?: (s: State) => void | Promise<void>
  /** progress within a generation: evaluations so far */
  readonly onEvals?: (evals: number, best: number) => void
}

/** 4 islands of 24 (migration every 8 generations), 48 children, parents among an island's top 8, 2 refinements of 12 evaluations per coordinate, S³ screens 16×, stages of 24 generations */
export const defaults = (space: Sp.Space, seed: number): Settings => ({
  space,
  seed,
  strategy: 's3',
  budgetEvals: Number.POSITIVE_INFINITY,
  deadline: Number.POSITIVE_INFINITY,
  islands: 4,
  migrate: 8,
  population: 24,
  children: 48,
  parents: 8,
  refine: 2,
  refinePerDim: 12,
  screen: 16,
  stage: 24,
  seeds: [],
})

/** the archive keeps this many recent evaluations */
export const ARCHIVE = 2500
/** at most this many members of the population share a structure */
export const PER_STRUCTURE = 4

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const byScore = (a: Scored, b: Scored): number => a.score - b.score

/** the best `size` unique candidates, at most PER_STRUCTURE per structure (stable for equal scores) */
export const select = (size: number, xs: ReadonlyArray<Scored>): ReadonlyArray<Scored> => {
  const sorted = xs
    .map((x, i) => [x, i] as const)
    .sort((a, b) => byScore(a[0], b[0]) || a[1] - b[1])
    .map(([x]) => x)
  const keys = new Set<string>()
  const per = new Map<string, number>()
  const out: Scored[] = []
  for (const x of sorted) {
    if (out.length >= size) break
    const k = Sp.key(x.candidate)
    const sk = Sp.structureKey(x.candidate)
    if (keys.has(k) || (per.get(sk) ?? 0) >= PER_STRUCTURE) continue
    keys.add(k)
    per.set(sk, (per.get(sk) ?? 0) + 1)
    out.push(x)
  }
  return out
}

/** the deadline has passed or the caller asked to stop */
const stopped = (st: Settings): boolean => Date.now() >= st.deadline || st.stop?.() === true
const remaining = (st: Settings, s: { readonly evals: number }): number => (stopped(st) ? 0 : Math.max(0, st.budgetEvals - s.evals))

/** the fraction of the budget used: the larger of evaluations and time (time only with a deadline) */
const progress = (st: Settings, s: { readonly evals: number }, started: number): number =>
  Math.max(Number.isFinite(st.budgetEvals) ? s.evals / st.budgetEvals : 0, Number.isFinite(st.deadline) ? (Date.now() - started) / Math.max(1, st.deadline - started) : 0)

/** the best of all islands */
const bestOf = (islands: ReadonlyArray<ReadonlyArray<Scored>>, fallback: Scored): Scored => islands.reduce((b, isl) => (isl[0] !== undefined && isl[0].score < b.score ? isl[0] : b), fallback)

/** a child: crossover of two top parents with probability ½, then mutation */
const child = (st: Settings, r: R.Rng, pop: ReadonlyArray<Scored>): Sp.Candidate => {
  const top = pop.slice(0, Math.max(1, Math.min(st.parents, pop.length)))
  const a = R.pick(r, top).candidate
  const base = R.chance(r, 0.5) && top.length > 1 ? Sp.crossover(st.space)(r, a, R.pick(r, top).candidate) : a
  return Sp.mutate(st.space)(r, base)
}

/** up to `count` children whose keys are neither in `seen` nor repeated */
const children = (st: Settings, r: R.Rng, pop: ReadonlyArray<Scored>, seen: ReadonlySet<string>, count: number): ReadonlyArray<Sp.Candidate> => {
  const out: Sp.Candidate[] = []
  const keys = new Set<string>()
  for (let tries = 0; out.length < count && tries < 20 * count; tries++) {
    const c = child(st, r, pop)
    const k = Sp.key(c)
    if (seen.has(k) || keys.has(k)) continue
    keys.add(k)
    out.push(c)
  }
  return out
}

/** the initial candidates: the seeds, 24 multistep families (data/noise × order 2–4 × pseudo correctors × first step), random draws */
export const initial = (st: Settings, r: R.Rng): ReadonlyArray<Sp.Candidate> => {
  const sp = st.space
  const families = sp.predictions.flatMap((prediction) =>
    [2, 3, 4]
      .filter((k) => k <= sp.maxOrder)
      .flatMap((order) =>
        [false, true].filter((p) => !p || sp.correctors.includes('pseudo')).flatMap((pseudo) => sp.firstSteps.map((firstStep) => Sp.multistep(sp, { prediction, order, pseudo, firstStep }))),
      ),
  )
  const fixed = [...st.seeds.map(Sp.repair(sp)), ...families]
  const randoms = Array.from({ length: Math.max(0, 2 * st.islands * st.population - fixed.length) }, () => Sp.random(sp)(r))
  const keys = new Set<string>()
  return [...fixed, ...randoms].filter((c) => {
    const k = Sp.key(c)
    if (keys.has(k)) return false
    keys.add(k)
    return true
  })
}

// -------------------------------------------------------------------------------------------------
// refinement: lockstep Nelder–Mead on the continuous coordinates
// -------------------------------------------------------------------------------------------------

interface Local {
  readonly base: Sp.Candidate
  readonly nm: NM.State
  readonly budget: number
}

/** NM step per coordinate: 0.3/2^k on log-gaps, 0.1/2^k on linear coefficients (k = times refined, ≤ 3) */
const steps = (c: Sp.Candidate, times: number): ReadonlyArray<number> => {
  const f = 2 ** -Math.min(times, 3)
  return Sp.coordinates(c).map((_, j) => (j < c.gaps.length - 1 ? 0.3 : 0.1) * f)
}

/**
 * refine `starts` by Nelder–Mead in lockstep within `budget` evaluations in total; returns the best
 * point of each search and the evaluations used (batches stop early at the deadline)
 */
export const refine = async (
  st: Settings,
  ev: Pool.Evaluator,
  starts: ReadonlyArray<{ readonly start: Scored; readonly times: number }>,
  budget: number,
  onEvals?: (used: number) => void,
): Promise<{ readonly results: ReadonlyArray<Scored>; readonly used: number }> => {
  const withDims = starts.filter((s) => Sp.coordinates(s.start.candidate).length > 0 && Number.isFinite(s.start.score))
  if (withDims.length === 0 || budget <= 0) return { results: [], used: 0 }
  const want = withDims.map((s) => st.refinePerDim * (Sp.coordinates(s.start.candidate).length + 1))
  const scale = Math.min(1, budget / want.reduce((a, b) => a + b, 0))
  let locals: ReadonlyArray<Local> = withDims.map((s, i) => ({
    base: s.start.candidate,
    nm: NM.start(Sp.coordinates(s.start.candidate), s.start.score, steps(s.start.candidate, s.times)),
    budget: Math.floor(want[i]! * scale),
  }))
  let used = 0
  const live = (l: Local) => l.nm.evals + NM.ask(l.nm).length <= l.budget && (l.nm.simplex.length === 1 || NM.size(l.nm) > 1e-6)
  for (;;) {
    const active = locals.filter(live)
    if (active.length === 0 || stopped(st)) break
    const asks = active.map((l) => NM.ask(l.nm).map(Sp.withCoordinates(st.space, l.base)))
    const scores = await ev.evaluate(asks.flat())
    used += scores.length
    let k = 0
    const told = new Map(
      active.map((l, i) => {
        const fs = scores.slice(k, k + asks[i]!.length)
        k += asks[i]!.length
        return [l, NM.tell(l.nm, fs)] as const
      }),
    )
    locals = locals.map((l) => {
      const nm = told.get(l)
      return nm === undefined ? l : { ...l, nm }
    })
    onEvals?.(used)
  }
  return { results: locals.map((l) => ({ candidate: Sp.withCoordinates(st.space, l.base)(NM.best(l.nm).x), score: NM.best(l.nm).f })), used }
}

// -------------------------------------------------------------------------------------------------
// the loop
// -------------------------------------------------------------------------------------------------

/** evaluate candidates (at most what the budget allows), in order */
const evaluate = async (st: Settings, ev: Pool.Evaluator, s: { readonly evals: number }, cs: ReadonlyArray<Sp.Candidate>): Promise<ReadonlyArray<Scored>> => {
  const take = cs.slice(0, remaining(st, s))
  if (take.length === 0) return []
  const scores = await ev.evaluate(take)
  return take.map((candidate, i) => ({ candidate, score: scores[i]! }))
}

/** the state after evaluating the initial candidates (generation 0): island k gets candidates k, k + I, k + 2I, … */
export const init = async (st: Settings, ev: Pool.Evaluator): Promise<State> => {
  const r = R.make(st.seed)
  const scored = await evaluate(st, ev, { evals: 0 }, initial(st, r))
  const fallback: Scored = {
    candidate: Sp.multistep(st.space, { prediction: st.space.predictions[0]!, order: 2, pseudo: false, firstStep: st.space.firstSteps[0]! }),
    score: Number.POSITIVE_INFINITY,
  }
  const islands = Array.from({ length: st.islands }, (_, k) =>
    select(
      st.population,
      scored.filter((_, i) => i % st.islands === k),
    ),
  )
  const best = bestOf(islands, fallback)
  return {
    generation: 0,
    rng: r.state,
    evals: scored.length,
    islands,
    archive: scored.slice(-ARCHIVE),
    seen: new Set(scored.map((x) => Sp.key(x.candidate))),
    refined: new Map(),
    best,
    trace: [{ generation: 0, evals: scored.length, best: best.score }],
    tau: undefined,
    elapsed: 0,
  }
}

/** `want` children of one island (S³: screened by the ranker) */
const islandChildren = (st: Settings, r: R.Rng, pop: ReadonlyArray<Scored>, seen: ReadonlySet<string>, want: number, ranker: P.Ranker | undefined): ReadonlyArray<Sp.Candidate> => {
  if (want <= 0 || pop.length === 0) return []
  if (st.strategy !== 's3' || ranker === undefined) return children(st, r, pop, seen, want)
  const pool = children(st, r, pop, seen, st.screen * want)
  const predicted = ranker.rank(pool)
  const order = pool.map((_, i) => i).sort((a, b) => predicted[a]! - predicted[b]! || a - b)
  const exploit = Math.min(order.length, Math.ceil(0.75 * want))
  const rest = order.slice(exploit)
  const explore = R.permutation(r, rest.length)
    .slice(0, want - exploit)
    .map((k) => rest[k]!)
  return [...order.slice(0, exploit), ...explore].map((i) => pool[i]!)
}

/**
 * one generation: children of every island (S³: screened by `ranker`), one evaluation batch, island
 * populations, refinement (the best and never-refined structures; the best structures in the last 15%
 * of the budget), ring migration every `migrate` generations
 */
export const generation = async (st: Settings, ev: Pool.Evaluator, s: State, ranker: P.Ranker | undefined, hooks: Hooks = {}, started = Date.now()): Promise<State> => {
  const r = R.fromState(s.rng)
  const I = s.islands.length
  const want = Math.min(st.children, remaining(st, s))
  const seen = new Set(s.seen)
  const kids = s.islands.map((pop, k) => {
    const cs = islandChildren(st, r, pop, seen, Math.floor(want / I) + (k < want % I ? 1 : 0), ranker)
    cs.forEach((c) => seen.add(Sp.key(c)))
    return cs
  })
  const scored = await evaluate(st, ev, s, kids.flat())
  let evals = s.evals + scored.length
  hooks.onEvals?.(evals, Math.min(s.best.score, ...scored.map((x) => x.score)))
  let at = 0
  let islands = s.islands.map((pop, k) => {
    const mine = scored.slice(at, at + kids[k]!.length)
    at += kids[k]!.length
    return select(st.population, [...pop, ...mine])
  })

  // refinement
  const refined = new Map(s.refined)
  const timesOf = (x: Scored) => refined.get(Sp.structureKey(x.candidate)) ?? 0
  const polish = progress(st, { evals }, started) >= 0.85
  const ranked = islands.flatMap((pop, k) => pop.map((x) => ({ x, k }))).sort((a, b) => byScore(a.x, b.x))
  const starts: { start: Scored; times: number; island: number }[] = []
  const add = (x: Scored, k: number) => {
    const sk = Sp.structureKey(x.candidate)
    if (starts.length < st.refine && Number.isFinite(x.score) && !starts.some((y) => Sp.structureKey(y.start.candidate) === sk)) starts.push({ start: x, times: timesOf(x), island: k })
  }
  if (polish) ranked.forEach(({ x, k }) => add(x, k))
  else {
    // the overall best, then the best structures never refined, then the least refined ones
    if (ranked[0] !== undefined) add(ranked[0].x, ranked[0].k)
    ranked.filter(({ x }) => timesOf(x) === 0).forEach(({ x, k }) => add(x, k))
    ranked
      .map((y, i) => ({ ...y, i }))
      .sort((a, b) => timesOf(a.x) - timesOf(b.x) || a.i - b.i)
      .forEach(({ x, k }) => add(x, k))
  }
  const budget = Math.min(
    remaining(st, { evals }),
    starts.reduce((a, x) => a + st.refinePerDim * (Sp.coordinates(x.start.candidate).length + 1), 0),
  )
  const { results, used } = await refine(st, ev, starts, budget, (u) => hooks.onEvals?.(evals + u, s.best.score))
  evals += used
  starts.forEach((x) => refined.set(Sp.structureKey(x.start.candidate), x.times + 1))
  islands = islands.map((pop, k) => select(st.population, [...pop, ...results.filter((_, i) => starts[i]!.island === k)]))

  // ring migration: island k receives the best of island k − 1
  if (I > 1 && (s.generation + 1) % st.migrate === 0) {
    const bests = islands.map((pop) => pop[0])
    islands = islands.map((pop, k) => {
      const incoming = bests[(k + I - 1) % I]
      return incoming === undefined ? pop : select(st.population, [...pop, incoming])
    })
  }
  const best = bestOf(islands, s.best)
  return {
    generation: s.generation + 1,
    rng: r.state,
    evals,
    islands,
    archive: [...s.archive, ...scored].slice(-ARCHIVE),
    seen,
    refined,
    best,
    trace: [...s.trace, { generation: s.generation + 1, evals, best: best.score }],
    tau: ranker?.tau ?? s.tau,
    elapsed: s.elapsed,
  }
}

/** true when the budget or the deadline is exhausted */
export const done = (st: Settings, s: State): boolean => remaining(st, s) === 0

/**
 * run from `from` (a resumed state) or from scratch until the budget, the deadline or `searchMs` is exhausted or `stop` turns true;
 * S³ retrains its predictor at every stage boundary (generation ≡ 0 mod stage) once 64 evaluations exist
 */
export const run = async (settings: Settings, ev: Pool.Evaluator, hooks: Hooks = {}, from?: State): Promise<State> => {
  const t0 = Date.now()
  const base = from?.elapsed ?? 0
  // searchMs counts the search time of every run (State.elapsed): the deadline of this one is what is left
  const st = settings.searchMs === undefined ? settings : { ...settings, deadline: Math.min(settings.deadline, t0 + settings.searchMs - base) }
  const timed = (x: State): State => ({ ...x, elapsed: base + (Date.now() - t0) })
  let s = from ?? timed(await init(st, ev))
  if (from === undefined) await hooks.onGeneration?.(s)
  let ranker: P.Ranker | undefined
  const stageOf = (g: number) => Math.floor(g / st.stage)
  try {
    while (!done(st, s)) {
      if (st.strategy === 's3' && s.archive.length >= 64 && (ranker === undefined || s.generation % st.stage === 0)) {
        // retrain at stage boundaries (and once after a resume): seeded by (seed, stage), so resuming reproduces it
        ranker?.dispose()
        ranker = await P.train(st.space.nfe, s.archive, R.derive(st.seed, 1, stageOf(s.generation)).state)
      }
      s = timed(await generation(st, ev, s, ranker, hooks, t0 - base))
      await hooks.onGeneration?.(s)
    }
  } finally {
    ranker?.dispose()
  }
  return s
}

/** the searched schedule document: the best candidate on ns's grid, named */
export const result = (ns: Parameters<typeof Sp.toSchedule>[0], s: State, name: string): S.SolverSchedule => Sp.toSchedule(ns, name)(s.best.candidate)

/** the `k` best distinct candidates of all islands, at most 2 per structure, best first (candidates for a validation choice) */
export const finalists = (s: State, k: number): ReadonlyArray<Scored> => {
  const all = [s.best, ...s.islands.flat()].filter((x) => Number.isFinite(x.score))
  const keys = new Set<string>()
  const per = new Map<string, number>()
  return all
    .map((x, i) => [x, i] as const)
    .sort((a, b) => byScore(a[0], b[0]) || a[1] - b[1])
    .map(([x]) => x)
    .filter((x) => {
      const key = Sp.key(x.candidate)
      const sk = Sp.structureKey(x.candidate)
      if (keys.has(key) || (per.get(sk) ?? 0) >= 2) return false
      keys.add(key)
      per.set(sk, (per.get(sk) ?? 0) + 1)
      return true
    })
    .slice(0, k)
}

/**
 * the validation choice: score each finalist on another batch and keep the lowest validation score
 * (ties: the better calibration score); guards against schedules that fit the calibration rows only
 */
export const choose = (finals: ReadonlyArray<Scored>, validate: (c: Sp.Candidate) => number): { readonly chosen: Scored; readonly index: number; readonly validation: ReadonlyArray<number> } => {
  const validation = finals.map((x) => validate(x.candidate))
  let index = 0
  validation.forEach((v, i) => {
    if (v < validation[index]!) index = i
  })
  return { chosen: finals[index]!, index, validation }
}
