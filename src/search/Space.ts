/**
 * The search space of solver schedules (USF, docs/math.md#search-space) as data. A `Candidate` is a genome:
 * the step sizes as fractions of the logSNR range (continuous, searched), one `Gene` per step
 * (prediction type, order, start point, nodes, basis, relaxation, corrector) and the global
 * options (analytical first step, denoise-to-zero). `toSchedule` turns it into a schedule
 * document on an explicit grid from the problem's T down to its t_0.
 *
 * Validity by construction: every constructor and operator ends with `repair`, which enforces the
 * space's limits, the history each decision may use (order ≤ i + 1, indices within reach) and the
 * exact NFE budget, so every candidate decodes with no issues and compiles to `nfe` evaluations:
 *   NFE = [firstStep = evaluate] + (n − 1) + #{i < n−1 : reeval corrector} + [corrector at step n−1] + [denoiseToZero].
 */
import * as G from '../core/Grid.ts'
import type { Prediction } from '../core/Parameterization.ts'
import type { Relaxation } from '../core/Rule.ts'
import * as Codec from '../schedule/Codec.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as S from '../schedule/SolverSchedule.ts'
import * as Reg from '../steps/Registry.ts'
import * as R from './Rng.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the interpolation bases the search may use (the fixed-weight 'ab' basis assumes equal steps: left out) */
export type Basis = 'lambda' | 't' | 'rho'

/** the corrector of a step: none, or USF pseudo (0 NFE) / implicit = 'reeval' (+1 NFE) */
export type CorrectorGene = { readonly mode: 'none' } | { readonly mode: 'pseudo' | 'reeval'; readonly order: number | 'default'; readonly relaxation: Relaxation }

/** the decisions of one step (history index −1 = the step's own start point when start = −1) */
export interface Gene {
  readonly prediction: Prediction
  readonly order: number
  readonly start: number
  readonly nodes: 'default' | ReadonlyArray<number>
  readonly basis: Basis
  readonly relaxation: Relaxation
  readonly corrector: CorrectorGene
  /** the behaviours carried from a seed schedule (noise, momentum, time shift; steps/Registry.ts CARRIED), kept while valid */
  readonly carried?: Reg.Carried
}

/** a point of the space: n = gaps.length = steps.length steps; gaps are λ-fractions (positive, Σ = 1) */
export interface Candidate {
  readonly nfe: number
  readonly firstStep: 'evaluate' | 'zero_x0'
  readonly denoiseToZero: boolean
  readonly gaps: ReadonlyArray<number>
  readonly steps: ReadonlyArray<Gene>
}

/** the limits of the space (restricting them gives the ablations of docs/search.md) */
export interface Space {
  /** the exact NFE budget of every candidate */
  readonly nfe: number
  /** highest predictor order (1–4) */
  readonly maxOrder: number
  /** deepest start point (1 = multistep only; 3 allows restarts two points back) */
  readonly maxStart: number
  readonly predictions: ReadonlyArray<Prediction>
  readonly correctors: ReadonlyArray<'none' | 'pseudo' | 'reeval'>
  readonly bases: ReadonlyArray<Basis>
  readonly firstSteps: ReadonlyArray<'evaluate' | 'zero_x0'>
  /** search relaxations (named rules and the linear coefficient) */
  readonly relaxations: boolean
  /** search explicit node lists (else the default nodes) */
  readonly nodes: boolean
  /** allow the final denoise-to-zero step (+1 NFE) */
  readonly denoise: boolean
  /** search the times (else logSNR-uniform steps) */
  readonly times: boolean
}

/** a noise schedule for structural checks of candidate documents (the checks do not depend on it) */
const UNIT: NS.NoiseSchedule = NS.vpLinear()

/** the smallest step as a fraction of the logSNR range */
export const MIN_GAP = 1e-3
/** linear relaxation coefficients stay in [−LINEAR_MAX, LINEAR_MAX] */
export const LINEAR_MAX = 2
/** the named relaxations */
export const NAMED_RELAXATIONS: ReadonlyArray<Relaxation> = ['dpmsolver-2', 'unipc-bh1', '0.5exp', '-0.5exp']

// -------------------------------------------------------------------------------------------------
// constructors: spaces
// -------------------------------------------------------------------------------------------------

/** the full space at a budget: orders 1–4, starts −1..−3, both predictions, none/pseudo/reeval correctors, all options */
export const full = (nfe: number): Space => ({
  nfe,
  maxOrder: 4,
  maxStart: 3,
  predictions: ['noise', 'data'],
  correctors: ['none', 'pseudo', 'reeval'],
  bases: ['lambda', 't', 'rho'],
  firstSteps: ['evaluate', 'zero_x0'],
  relaxations: true,
  nodes: true,
  denoise: true,
  times: true,
})

/** the first step of every ablation: the times of an exact-Lagrange multistep (data, order ≤ 3) with zero_x0 */
export const timesOnly = (nfe: number): Space => ({
  ...full(nfe),
  maxOrder: 3,
  maxStart: 1,
  predictions: ['data'],
  correctors: ['none'],
  bases: ['lambda'],
  firstSteps: ['zero_x0'],
  relaxations: false,
  nodes: false,
  denoise: false,
})

// -------------------------------------------------------------------------------------------------
// destructors: cost, documents, keys
// -------------------------------------------------------------------------------------------------

/** NFE = [evaluate] + (n − 1) + #reeval before the last step + [corrector at the last step] + [denoiseToZero] */
export const nfeOf = (c: Candidate): number => {
  const n = c.steps.length
  if (n === 0) return 0
  const reeval = c.steps.slice(0, n - 1).filter((g) => g.corrector.mode === 'reeval').length
  return (c.firstStep === 'evaluate' ? 1 : 0) + (n - 1) + reeval + (c.steps[n - 1]!.corrector.mode === 'none' ? 0 : 1) + (c.denoiseToZero ? 1 : 0)
}

/** U_k = Σ_{j<k} gaps_j: the λ-fractions of the grid points, U_0 = 0, U_n = 1 */
export const fractions = (c: Candidate): ReadonlyArray<number> => {
  const out = [0]
  let acc = 0
  c.gaps.forEach((g, k) => {
    acc += g
    out.push(k === c.gaps.length - 1 ? 1 : acc)
  })
  return out
}

/** t_k = t(λ_T + U_k·(λ_{t0} − λ_T)), t_0 = T and t_n = t0 exactly */
export const timesOf =
  (ns: NS.NoiseSchedule) =>
  (c: Candidate): ReadonlyArray<number> => {
    const lT = ns.lambda(ns.T)
    const l0 = ns.lambda(ns.t0)
    const u = fractions(c)
    return u.map((f, k) => (k === 0 ? ns.T : k === u.length - 1 ? ns.t0 : ns.tOfLambda(lT + f * (l0 - lT))))
  }

/** a gene as a step decision (defaults omitted) */
export const decisionOf = (g: Gene): S.StepDecision => ({
  prediction: g.prediction,
  order: g.order,
  ...(g.start === -1 ? {} : { start: g.start }),
  ...(g.nodes === 'default' ? {} : { nodes: g.nodes }),
  ...(g.basis === 'lambda' ? {} : { basis: g.basis }),
  ...(g.relaxation === 'none' ? {} : { relaxation: g.relaxation }),
  ...(g.corrector.mode === 'none'
    ? {}
    : {
        corrector: {
          mode: g.corrector.mode,
          ...(g.corrector.order === 'default' ? {} : { order: g.corrector.order }),
          ...(g.corrector.relaxation === 'none' ? {} : { relaxation: g.corrector.relaxation }),
        },
      }),
  ...(g.carried ?? {}),
})

/** the schedule document of a candidate on an explicit grid from ns.T to ns.t0 */
export const toSchedule =
  (ns: NS.NoiseSchedule, name?: string) =>
  (c: Candidate): S.SolverSchedule =>
    S.make(G.explicit(timesOf(ns)(c)), c.steps.map(decisionOf), name, {
      ...(c.firstStep === 'zero_x0' ? { firstStep: 'zero_x0' as const } : {}),
      ...(c.denoiseToZero ? { denoiseToZero: true } : {}),
    })

/** a stable text of the structure (every decision but the times and linear coefficients) */
export const structureKey = (c: Candidate): string =>
  JSON.stringify([
    c.firstStep,
    c.denoiseToZero,
    c.steps.map((g) => [
      g.prediction,
      g.order,
      g.start,
      g.nodes,
      g.basis,
      typeof g.relaxation === 'object' ? 'linear' : g.relaxation,
      g.corrector.mode === 'none' ? 'none' : [g.corrector.mode, g.corrector.order, typeof g.corrector.relaxation === 'object' ? 'linear' : g.corrector.relaxation],
      ...(g.carried === undefined ? [] : [g.carried]),
    ]),
  ])

/** a 64-bit FNV-1a hash of the candidate (times rounded to 1e-12), as 16 hex digits: the evaluated-set key */
export const key = (c: Candidate): string => {
  const text = JSON.stringify([structureKey(c), c.gaps.map((g) => Math.round(g * 1e12)), c.steps.map((g) => linearOf(g))])
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ ch, 0x5bd1e995) >>> 0
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')
}

/** the linear coefficients of a gene (predictor, corrector), NaN when not linear */
const linearOf = (g: Gene): readonly [number, number] => [
  typeof g.relaxation === 'object' ? g.relaxation.linear : Number.NaN,
  g.corrector.mode !== 'none' && typeof g.corrector.relaxation === 'object' ? g.corrector.relaxation.linear : Number.NaN,
]

// -------------------------------------------------------------------------------------------------
// repair: the validity-by-construction map
// -------------------------------------------------------------------------------------------------

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v))

/** gaps positive, ≥ MIN_GAP, Σ = 1 (uniform when the space does not search times or the input is degenerate) */
export const normalizeGaps = (sp: Space, gaps: ReadonlyArray<number>): ReadonlyArray<number> => {
  const n = gaps.length
  if (!sp.times || n === 0 || !gaps.every((g) => Number.isFinite(g) && g > 0)) return Array.from({ length: n }, () => 1 / n)
  if (Math.abs(gaps.reduce((a, b) => a + b, 0) - 1) < 1e-12 && gaps.every((v) => v >= MIN_GAP * 0.5)) return gaps
  let g = gaps.map((v) => v / gaps.reduce((a, b) => a + b, 0))
  for (let pass = 0; pass < 3 && g.some((v) => v < MIN_GAP); pass++) {
    const floored = g.map((v) => Math.max(v, MIN_GAP))
    const total = floored.reduce((a, b) => a + b, 0)
    g = floored.map((v) => v / total)
  }
  return g.map((v) => Math.max(v, MIN_GAP * 0.5))
}

/** a relaxation inside the space's limits: linear c clamped to ±LINEAR_MAX (−0 → 0) */
const cleanRelaxation = (r: Relaxation): Relaxation => (typeof r === 'object' ? { linear: Number.isFinite(r.linear) ? clamp(r.linear, -LINEAR_MAX, LINEAR_MAX) + 0 : 0 } : r)

/** a gene valid at step i: order ≤ min(maxOrder, i + 1), start and nodes within the i + 1 history points, options per basis */
export const repairGene =
  (sp: Space, i: number) =>
  (g: Gene): Gene => {
    const avail = i + 1
    const prediction = sp.predictions.includes(g.prediction) ? g.prediction : sp.predictions[0]!
    const order = clamp(Math.round(g.order), 1, Math.min(sp.maxOrder, avail))
    const start = clamp(Math.round(g.start), -Math.min(sp.maxStart, avail), -1)
    const given = g.nodes
    const nodes = given !== 'default' && sp.nodes && given.length === order && given.every((k, j) => Number.isInteger(k) && k <= -1 && k >= -avail && given.indexOf(k) === j) ? given : 'default'
    const basis = sp.bases.includes(g.basis) ? g.basis : 'lambda'
    const relaxation = basis === 'lambda' && order >= 2 && sp.relaxations ? cleanRelaxation(g.relaxation) : 'none'
    const c = g.corrector
    const corrector: CorrectorGene =
      c.mode === 'none' || !sp.correctors.includes(c.mode)
        ? { mode: 'none' }
        : (() => {
            const k = c.order === 'default' ? 'default' : clamp(Math.round(c.order), 1, Math.min(5, avail + 1))
            const effective = k === 'default' ? order + 1 : k
            return {
              mode: c.mode,
              order: k,
              relaxation: basis === 'lambda' && effective >= 2 && sp.relaxations ? cleanRelaxation(c.relaxation) : 'none',
            }
          })()
    const base: Gene = { prediction, order, start, nodes, basis, relaxation, corrector }
    // carried behaviours stay while the step with them passes every field's checks
    return g.carried !== undefined && Reg.checks(decisionOf({ ...base, carried: g.carried }), i).length === 0 ? { ...base, carried: g.carried } : base
  }

/** a step at the gene's place without a corrector (what `repair` inserts) */
const plain = (g: Gene): Gene => ({ ...g, corrector: { mode: 'none' } })

/**
 * repair(sp)(c): options inside the space, gaps normalized, exactly `sp.nfe` evaluations (remove the
 * step with the smallest gap while over budget, split the largest gap while under), then every gene
 * repaired against its history. Idempotent; deterministic (no randomness).
 */
export const repair =
  (sp: Space) =>
  (c: Candidate): Candidate => {
    let firstStep = sp.firstSteps.includes(c.firstStep) ? c.firstStep : sp.firstSteps[0]!
    let denoiseToZero = sp.denoise && c.denoiseToZero
    const n0 = Math.min(c.gaps.length, c.steps.length)
    let gaps = [...normalizeGaps(sp, c.gaps.slice(0, n0))]
    let steps = c.steps.slice(0, n0).map((g) => ({ ...g, corrector: sp.correctors.includes(g.corrector.mode) ? g.corrector : { mode: 'none' as const } }))
    if (steps.length === 0) {
      steps = [defaultGene(sp.predictions[0]!)]
      gaps = [1]
    }
    const cost = () => nfeOf({ nfe: sp.nfe, firstStep, denoiseToZero, gaps, steps })
    for (let guard = 0; cost() !== sp.nfe && guard < 4 * sp.nfe + 16; guard++) {
      if (cost() > sp.nfe) {
        if (steps.length >= 2) {
          // merge the smallest gap among the non-last steps into the next step
          let j = 0
          for (let k = 1; k < steps.length - 1; k++) if (gaps[k]! < gaps[j]!) j = k
          gaps = [...gaps.slice(0, j), gaps[j]! + gaps[j + 1]!, ...gaps.slice(j + 2)]
          steps = [...steps.slice(0, j), ...steps.slice(j + 1)]
        } else if (denoiseToZero) denoiseToZero = false
        else if (steps[0]!.corrector.mode !== 'none') steps = [plain(steps[0]!)]
        else firstStep = 'zero_x0'
      } else {
        // split the largest gap; the new first half is a plain copy of the step (exactly +1 NFE)
        let j = 0
        for (let k = 1; k < gaps.length; k++) if (gaps[k]! > gaps[j]!) j = k
        gaps = [...gaps.slice(0, j), gaps[j]! / 2, gaps[j]! / 2, ...gaps.slice(j + 1)]
        steps = [...steps.slice(0, j), plain(steps[j]!), ...steps.slice(j)]
      }
    }
    gaps = [...normalizeGaps(sp, gaps)]
    const genes = steps.map((g, i) => repairGene(sp, i)(g))
    const out0: Candidate = { nfe: sp.nfe, firstStep, denoiseToZero, gaps, steps: genes }
    // schedule-level checks (a kept time shift constrains the next steps): drop the carried behaviours if they fail
    const out: Candidate = genes.some((g) => g.carried !== undefined) && Codec.check(toSchedule(UNIT)(out0)).length > 0 ? { ...out0, steps: genes.map(({ carried: _c, ...g }) => g) } : out0
    if (nfeOf(out) !== sp.nfe) throw new Error(`internal: repair reached NFE ${nfeOf(out)}, not ${sp.nfe}`)
    return out
  }

// -------------------------------------------------------------------------------------------------
// constructors: candidates
// -------------------------------------------------------------------------------------------------

/** the plain exact-Lagrange first-order step */
const defaultGene = (prediction: Prediction): Gene => ({
  prediction,
  order: 1,
  start: -1,
  nodes: 'default',
  basis: 'lambda',
  relaxation: 'none',
  corrector: { mode: 'none' },
})

/** a multistep schedule: logSNR-uniform steps, order min(i + 1, k), optional pseudo correctors before the last step */
export const multistep = (sp: Space, o: { readonly prediction: Prediction; readonly order: number; readonly pseudo: boolean; readonly firstStep: 'evaluate' | 'zero_x0' }): Candidate => {
  const n = sp.nfe + (o.firstStep === 'zero_x0' ? 1 : 0)
  return repair(sp)({
    nfe: sp.nfe,
    firstStep: o.firstStep,
    denoiseToZero: false,
    gaps: Array.from({ length: n }, () => 1 / n),
    steps: Array.from({ length: n }, (_, i): Gene => ({
      ...defaultGene(o.prediction),
      order: Math.min(i + 1, o.order),
      corrector: o.pseudo && i < n - 1 ? { mode: 'pseudo', order: 'default', relaxation: 'none' } : { mode: 'none' },
    })),
  })
}

/** the relaxation of a decision as a gene field */
const relaxationOf = (r: Relaxation | undefined): Relaxation => r ?? 'none'

/**
 * a schedule document (e.g. a named solver) as a candidate, then repaired into the space: the grid's
 * times become λ-fractions (the grid must run from ns.T to ns.t0); 'ab' bases become 'lambda'
 */
export const fromSchedule =
  (ns: NS.NoiseSchedule, sp: Space) =>
  (s: S.SolverSchedule): Candidate => {
    const t = G.resolve(ns)(s.grid)
    const lT = ns.lambda(ns.T)
    const l0 = ns.lambda(ns.t0)
    if (Math.abs(t[0]! - ns.T) > 1e-12 * ns.T || Math.abs(t[t.length - 1]! - ns.t0) > 1e-12 * ns.t0)
      throw new Error(`the schedule's grid runs from ${t[0]} to ${t[t.length - 1]}; the search needs ${ns.T} → ${ns.t0}`)
    const lam = t.map((v) => ns.lambda(v))
    const gaps = lam.slice(1).map((l, k) => (l - lam[k]!) / (l0 - lT))
    const steps = s.steps.map((d): Gene => ({
      prediction: d.prediction,
      order: d.order,
      start: S.startOf(d),
      nodes: d.nodes ?? 'default',
      basis: d.basis === 't' || d.basis === 'rho' ? d.basis : 'lambda',
      relaxation: relaxationOf(d.relaxation),
      corrector: d.corrector === undefined ? { mode: 'none' } : { mode: d.corrector.mode, order: d.corrector.order ?? 'default', relaxation: relaxationOf(d.corrector.relaxation) },
      ...(Reg.carriedOf(d) === undefined ? {} : { carried: Reg.carriedOf(d)! }),
    }))
    return repair(sp)({
      nfe: sp.nfe,
      firstStep: s.options?.firstStep ?? 'evaluate',
      denoiseToZero: s.options?.denoiseToZero === true,
      gaps,
      steps,
    })
  }

// -------------------------------------------------------------------------------------------------
// random draws (the priors of USF's evolutionary search, docs/math.md#evolution, adapted)
// -------------------------------------------------------------------------------------------------

const ORDER_PRIOR: ReadonlyArray<readonly [number, number]> = [
  [1, 0.15],
  [2, 0.35],
  [3, 0.35],
  [4, 0.15],
]

/** a random relaxation: none ½, linear c ~ N(0, 0.2²) ⅓, a named rule ⅙ */
const randomRelaxation = (r: R.Rng): Relaxation => {
  const u = R.next(r)
  return u < 0.5 ? 'none' : u < 0.83 ? { linear: Math.round(0.2 * R.normal(r) * 1e6) / 1e6 } : R.pick(r, NAMED_RELAXATIONS)
}

/** a random corrector at step i of n: pseudo .45, reeval .05 (before the last step); at the last step any corrector .15 */
const randomCorrector = (sp: Space, r: R.Rng, last: boolean): CorrectorGene => {
  const u = R.next(r)
  const mode: 'none' | 'pseudo' | 'reeval' = last ? (u < 0.12 ? 'pseudo' : u < 0.15 ? 'reeval' : 'none') : u < 0.45 ? 'pseudo' : u < 0.5 ? 'reeval' : 'none'
  if (mode === 'none' || !sp.correctors.includes(mode)) return { mode: 'none' }
  return { mode, order: R.chance(r, 0.75) ? 'default' : 1 + R.int(r, 5), relaxation: R.chance(r, 0.7) ? 'none' : randomRelaxation(r) }
}

/** `order` distinct history indices among the newest min(avail, 6), −1 first with probability .8 */
const randomNodes = (r: R.Rng, avail: number, order: number): ReadonlyArray<number> => {
  const pool = Array.from({ length: Math.min(avail, 6) }, (_, k) => -1 - k)
  const perm = R.permutation(r, pool.length).map((k) => pool[k]!)
  const withNewest = R.chance(r, 0.8) ? [-1, ...perm.filter((k) => k !== -1)] : perm
  return withNewest.slice(0, order)
}

/** a random gene at step i of n */
export const randomGene = (sp: Space, r: R.Rng, i: number, n: number): Gene => {
  const avail = i + 1
  const order = Math.min(R.weighted(r, ORDER_PRIOR), avail, sp.maxOrder)
  const start = R.chance(r, 0.9) ? -1 : -Math.min(avail, 2 + R.int(r, 2))
  const basis: Basis = R.weighted(r, [
    ['lambda', 0.85],
    ['t', 0.1],
    ['rho', 0.05],
  ])
  return repairGene(
    sp,
    i,
  )({
    prediction: R.pick(r, sp.predictions),
    order,
    start,
    nodes: R.chance(r, 0.85) ? 'default' : randomNodes(r, avail, order),
    basis,
    relaxation: randomRelaxation(r),
    corrector: randomCorrector(sp, r, i === n - 1),
  })
}

/** random gaps: a power warp of the uniform λ-grid, times log-normal noise */
const randomGaps = (r: R.Rng, n: number): ReadonlyArray<number> => {
  const p = Math.exp(0.4 * R.normal(r))
  const u = Array.from({ length: n + 1 }, (_, k) => (k / n) ** p)
  return u.slice(1).map((v, k) => (v - u[k]!) * Math.exp(0.3 * R.normal(r)))
}

/** a random candidate from the priors, repaired to the budget */
export const random =
  (sp: Space) =>
  (r: R.Rng): Candidate => {
    const firstStep = R.pick(r, sp.firstSteps)
    const denoiseToZero = sp.denoise && R.chance(r, 0.08)
    const n = sp.nfe + (firstStep === 'zero_x0' ? 1 : 0)
    return repair(sp)({
      nfe: sp.nfe,
      firstStep,
      denoiseToZero,
      gaps: randomGaps(r, n),
      steps: Array.from({ length: n }, (_, i) => randomGene(sp, r, i, n)),
    })
  }

// -------------------------------------------------------------------------------------------------
// operators
// -------------------------------------------------------------------------------------------------

/** the same list with element i replaced */
const update = <A>(xs: ReadonlyArray<A>, i: number, f: (a: A) => A): ReadonlyArray<A> => xs.map((x, k) => (k === i ? f(x) : x))

type Op = (sp: Space, r: R.Rng, c: Candidate) => Candidate

const withGene = (c: Candidate, i: number, f: (g: Gene) => Gene): Candidate => ({ ...c, steps: update(c.steps, i, f) })
const anyStep = (r: R.Rng, c: Candidate): number => R.int(r, c.steps.length)

/** the mutation operators with their weights */
const OPS: ReadonlyArray<readonly [Op, number]> = [
  // times: one gap × e^{N(0, .3²)}, all gaps × e^{N(0, .1²)}, or a boundary moved between two neighbours
  [(_, r, c) => ({ ...c, gaps: update(c.gaps, anyStep(r, c), (g) => g * Math.exp(0.3 * R.normal(r))) }), 0.12],
  [(_, r, c) => ({ ...c, gaps: c.gaps.map((g) => g * Math.exp(0.1 * R.normal(r))) }), 0.08],
  [
    (_, r, c) => {
      if (c.gaps.length < 2) return c
      const j = R.int(r, c.gaps.length - 1)
      const total = c.gaps[j]! + c.gaps[j + 1]!
      const f = Math.min(0.95, Math.max(0.05, c.gaps[j]! / total + 0.15 * R.normal(r)))
      return { ...c, gaps: c.gaps.map((g, k) => (k === j ? f * total : k === j + 1 ? (1 - f) * total : g)) }
    },
    0.1,
  ],
  // prediction type: one step, or all steps
  [(sp, r, c) => withGene(c, anyStep(r, c), (g) => ({ ...g, prediction: R.pick(r, sp.predictions) })), 0.07],
  [
    (sp, r, c) => {
      const p = R.pick(r, sp.predictions)
      return { ...c, steps: c.steps.map((g) => ({ ...g, prediction: p })) }
    },
    0.03,
  ],
  // order: one step (resampled), or all steps capped at k (warm-up kept)
  [(_, r, c) => withGene(c, anyStep(r, c), (g) => ({ ...g, order: R.weighted(r, ORDER_PRIOR), nodes: 'default' })), 0.09],
  [
    (sp, r, c) => {
      const k = 1 + R.int(r, sp.maxOrder)
      return { ...c, steps: c.steps.map((g, i) => ({ ...g, order: Math.min(k, i + 1), nodes: 'default' })) }
    },
    0.03,
  ],
  // start point, nodes, basis
  [(sp, r, c) => withGene(c, anyStep(r, c), (g) => ({ ...g, start: -1 - R.int(r, sp.maxStart) })), 0.03],
  [
    (_, r, c) => {
      const i = anyStep(r, c)
      return withGene(c, i, (g) => ({ ...g, nodes: R.chance(r, 0.3) ? 'default' : randomNodes(r, i + 1, g.order) }))
    },
    0.04,
  ],
  [(sp, r, c) => withGene(c, anyStep(r, c), (g) => ({ ...g, basis: R.pick(r, sp.bases) })), 0.03],
  // relaxation: resampled, or the linear coefficient moved by N(0, .05²)
  [(_, r, c) => withGene(c, anyStep(r, c), (g) => ({ ...g, relaxation: randomRelaxation(r) })), 0.07],
  [(_, r, c) => withGene(c, anyStep(r, c), (g) => ({ ...g, relaxation: { linear: (typeof g.relaxation === 'object' ? g.relaxation.linear : 0) + 0.05 * R.normal(r) } })), 0.05],
  // corrector: one step resampled, one corrector's linear coefficient, or all non-final steps set alike
  [
    (sp, r, c) => {
      const i = anyStep(r, c)
      return withGene(c, i, (g) => ({ ...g, corrector: randomCorrector(sp, r, i === c.steps.length - 1) }))
    },
    0.1,
  ],
  [
    (_, r, c) =>
      withGene(c, anyStep(r, c), (g) =>
        g.corrector.mode === 'none'
          ? g
          : { ...g, corrector: { ...g.corrector, relaxation: { linear: (typeof g.corrector.relaxation === 'object' ? g.corrector.relaxation.linear : 0) + 0.05 * R.normal(r) } } },
      ),
    0.03,
  ],
  [
    (sp, r, c) => {
      const on = R.chance(r, 0.5) && sp.correctors.includes('pseudo')
      const n = c.steps.length
      return {
        ...c,
        steps: c.steps.map((g, i) => (i === n - 1 ? g : { ...g, corrector: on ? { mode: 'pseudo' as const, order: 'default' as const, relaxation: 'none' as const } : { mode: 'none' as const } })),
      }
    },
    0.03,
  ],
  // global options (repair restores the budget by adding or removing steps)
  [(sp, r, c) => ({ ...c, firstStep: R.pick(r, sp.firstSteps) }), 0.04],
  [(_, __, c) => ({ ...c, denoiseToZero: !c.denoiseToZero }), 0.02],
  // a grid point moved elsewhere: a random step removed and the largest gap split (by repair)
  [
    (_, r, c) => {
      if (c.steps.length < 2) return c
      const j = R.int(r, c.steps.length - 1)
      return { ...c, gaps: [...c.gaps.slice(0, j), c.gaps[j]! + c.gaps[j + 1]!, ...c.gaps.slice(j + 2)], steps: [...c.steps.slice(0, j), ...c.steps.slice(j + 1)] }
    },
    0.04,
  ],
]

/** mutate(sp)(r, c): 1 + Geometric(½) (at most 4) random operators, then `repair` */
export const mutate =
  (sp: Space) =>
  (r: R.Rng, c: Candidate): Candidate => {
    let out = c
    const k = 1 + (R.chance(r, 0.5) ? 0 : R.chance(r, 0.5) ? 1 : R.chance(r, 0.5) ? 2 : 3)
    for (let j = 0; j < k; j++) out = repair(sp)(R.weighted(r, OPS)(sp, r, out))
    return out
  }

/**
 * crossover(sp)(r, a, b): options from either parent; with equal step counts each gene from either
 * parent and the gaps from one parent or their geometric blend; otherwise a's grid with genes taken
 * from b at the same relative position (probability ½ each); then `repair`
 */
export const crossover =
  (sp: Space) =>
  (r: R.Rng, a: Candidate, b: Candidate): Candidate => {
    const firstStep = R.chance(r, 0.5) ? a.firstStep : b.firstStep
    const denoiseToZero = R.chance(r, 0.5) ? a.denoiseToZero : b.denoiseToZero
    const na = a.steps.length
    const nb = b.steps.length
    if (na === nb) {
      const w = R.next(r)
      const mode = R.int(r, 3)
      const gaps = mode === 0 ? a.gaps : mode === 1 ? b.gaps : a.gaps.map((g, k) => g ** w * b.gaps[k]! ** (1 - w))
      return repair(sp)({ nfe: sp.nfe, firstStep, denoiseToZero, gaps, steps: a.steps.map((g, i) => (R.chance(r, 0.5) ? g : b.steps[i]!)) })
    }
    const at = (i: number): number => (na === 1 ? 0 : Math.round((i * (nb - 1)) / (na - 1)))
    return repair(sp)({ nfe: sp.nfe, firstStep, denoiseToZero, gaps: a.gaps, steps: a.steps.map((g, i) => (R.chance(r, 0.5) ? g : b.steps[at(i)]!)) })
  }

// -------------------------------------------------------------------------------------------------
// continuous coordinates (for local refinement)
// -------------------------------------------------------------------------------------------------

/** the continuous coordinates of a candidate: θ = (log gaps_1..n−1 − log gaps_0, linear coefficients) */
export const coordinates = (c: Candidate): ReadonlyArray<number> => [...c.gaps.slice(1).map((g) => Math.log(g / c.gaps[0]!)), ...c.steps.flatMap((g) => linearOf(g).filter((v) => !Number.isNaN(v)))]

/** the candidate at coordinates θ (same structure as c; gaps ∝ (1, e^{θ_1}, …)), repaired */
export const withCoordinates =
  (sp: Space, c: Candidate) =>
  (theta: ReadonlyArray<number>): Candidate => {
    const n = c.gaps.length
    const gaps = [1, ...theta.slice(0, n - 1).map((v) => Math.exp(clamp(v, -30, 30)))]
    let k = n - 1
    const nextLinear = (): number => theta[k++] ?? 0
    const steps = c.steps.map((g): Gene => {
      const relaxation: Relaxation = typeof g.relaxation === 'object' ? { linear: nextLinear() } : g.relaxation
      const corrector: CorrectorGene = g.corrector.mode !== 'none' && typeof g.corrector.relaxation === 'object' ? { ...g.corrector, relaxation: { linear: nextLinear() } } : g.corrector
      return { ...g, relaxation, corrector }
    })
    return repair(sp)({ ...c, gaps, steps })
  }
